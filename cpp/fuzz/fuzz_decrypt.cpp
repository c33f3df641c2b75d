// Fuzz target: the receive path. FrameCryptorCore::Decrypt (LKTS stripping, SIF
// handling, trailer, key ring lookup, every candidate layout, RBSP unescaping,
// AES-GCM) and DecryptFrame on arbitrary frames, for every codec, with the
// fixed AES keys of the reference vectors (so seeds from the vectors decrypt).
//
// Input: [flags][key selector][frame]
//   flags bits 0-2: codec (mod 6); bits 3-4: key-frame hint (0 unknown, 1 delta,
//   2 key, 3 unknown); bit 5: LKTS trailer handling on; bit 6: SIF trailer set;
//   bit 7: SIF forwarding off.
//
// Invariants: no memory error or UB; a success is genuine (re-sealing the
// returned plaintext under the frame's IV reproduces the frame); a failure
// leaves nothing but wiped zeros in the output; both entry points agree.
#include <cstring>

#include "framecryptor/cryptor.h"
#include "framecryptor/frame.h"
#include "framecryptor/packet_trailer.h"
#include "framecryptor/rbsp.h"
#include "fuzz_util.h"
#include "reference.h"

using namespace framecryptor;
using fcfuzz::Bytes;

namespace {

const char* const kKeyHex[] = {
#include "vector_keys.inc"
};
constexpr size_t kNumKeys = sizeof kKeyHex / sizeof kKeyHex[0];
const uint8_t kSifTrailer[] = {0x4f, 0x27, 0x25, 0x3a, 0xc6, 0x74, 0xc3, 0xb2};

struct Fixture {
  std::vector<std::shared_ptr<AesGcmKey>> keys;
  std::vector<std::shared_ptr<KeyRing>> rings;  // per key: every slot of a 16-slot ring holds it
  Fixture() {
    for (const char* hex : kKeyHex) {
      keys.push_back(fcfuzz::MakeKey(fcfuzz::FromHex(hex)));
      auto ring = std::make_shared<KeyRing>(16);
      for (size_t i = 0; i < ring->size(); ++i) ring->Set(i, keys.back());
      rings.push_back(ring);
    }
  }
};

const Fixture& fixture() {
  static const Fixture* f = new Fixture();
  return *f;
}

// A successful decryption must be reproducible: sealing the plaintext body
// under the frame's IV with the header as AAD gives the frame's ciphertext.
void CheckGenuine(const AesGcmKey& key, ByteView wire, const FrameLayout& l, const uint8_t* plain, size_t n) {
  const size_t h = l.header_len;
  FUZZ_CHECK(n >= h && wire.size >= h + kFrameOverhead);
  FUZZ_CHECK(std::memcmp(plain, wire.data, h) == 0);
  Bytes tail(wire.data + h, wire.data + wire.size);
  if (l.nal && fcref::NeedsUnescape(tail.data(), tail.size())) tail = fcref::UnescapeRbsp(tail.data(), tail.size());
  FUZZ_CHECK(tail.size() == (n - h) + kFrameOverhead);
  FUZZ_CHECK(tail[tail.size() - 2] == kIvLengthByte);
  const uint8_t* iv = tail.data() + tail.size() - kTrailerSize - kIvSize;
  Bytes sealed(n - h + kTagSize);
  FUZZ_CHECK(key.Seal(iv, {plain, h}, {plain + h, n - h}, sealed.data()) == Status::kOk);
  FUZZ_CHECK(std::memcmp(sealed.data(), tail.data(), sealed.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Fixture& fx = fixture();
  const uint8_t flags = data[0];
  const size_t sel = data[1] % kNumKeys;
  const Codec codec = static_cast<Codec>((flags & 7) % kCodecCount);
  static const int kHints[] = {-1, 0, 1, -1};
  const int hint = kHints[(flags >> 3) & 3];
  // The frame in its own exact-size allocation: any read past it is caught.
  const Bytes frame(data + 2, data + size);
  const ByteView in(frame.data(), frame.size());

  auto sif = std::make_shared<SifPolicy>();
  if (flags & 0x40) sif->SetTrailer({kSifTrailer, sizeof kSifTrailer});
  if (flags & 0x80) sif->SetForwarding(false);
  FrameCryptorCore core(codec, fx.rings[sel], sif);
  core.SetPacketTrailer((flags & 0x20) != 0);

  const size_t cap = core.DecryptCapacity(in);
  Bytes out(cap, fcfuzz::kFill);
  const DecryptOutcome r = core.Decrypt(in, hint, {out.data(), out.size()});
  const ByteView payload = r.has_packet_trailer ? in.first(r.packet_trailer.stripped_size) : in;
  if (r.has_packet_trailer) {
    const PacketTrailer& t = r.packet_trailer;
    FUZZ_CHECK(t.stripped_size + kPacketTrailerEnvelope <= in.size);
    if (t.has_user_data) FUZZ_CHECK(t.user_data_offset >= t.stripped_size &&
                                    t.user_data_offset + t.user_data_size <= in.size - kPacketTrailerEnvelope);
  }
  if (r.status == Status::kOk) {
    FUZZ_CHECK(r.size <= cap);
    switch (r.kind) {
      case DecryptOutcome::Kind::kEmpty:
        FUZZ_CHECK(payload.size == 0 && r.size == 0);
        break;
      case DecryptOutcome::Kind::kSif:
        FUZZ_CHECK((flags & 0x40) && !(flags & 0x80) && r.sif_payload != nullptr);
        FUZZ_CHECK(r.size + sizeof kSifTrailer == payload.size);
        FUZZ_CHECK(std::memcmp(out.data(), payload.data, r.size) == 0);
        break;
      case DecryptOutcome::Kind::kDecrypted:
        CheckGenuine(*fx.keys[sel], payload, r.layout, out.data(), r.size);
        FUZZ_CHECK(r.key_index == payload[payload.size - 1]);
        break;
    }
  } else {
    FUZZ_CHECK(r.status == Status::kFrameTooShort || r.status == Status::kBadTrailer ||
               r.status == Status::kMissingKey || r.status == Status::kAuthFailed || r.status == Status::kSifDropped);
    FUZZ_CHECK(fcfuzz::OnlyFillOrZero(out.data(), out.size()));
    if (r.status == Status::kMissingKey) FUZZ_CHECK(r.key_index >= 16);
  }

  // DecryptFrame directly (no LKTS/SIF layer) agrees with the cryptor.
  DecryptParams p;
  p.codec = codec;
  p.key_frame = hint;
  Bytes out2(DecryptedSizeBound(codec, in.size), fcfuzz::kFill);
  FrameLayout l2;
  const Result r2 = DecryptFrame(*fx.keys[sel], p, in, {out2.data(), out2.size()}, &l2);
  if (r2.ok()) {
    FUZZ_CHECK(r2.size <= out2.size());
    if (in.size) CheckGenuine(*fx.keys[sel], in, l2, out2.data(), r2.size);
  } else {
    FUZZ_CHECK(fcfuzz::OnlyFillOrZero(out2.data(), out2.size()));
  }
  const bool plain_path = !(flags & 0x60) && in.size > 0 && in[in.size - 1] < 16;
  if (plain_path) {
    FUZZ_CHECK(r.status == r2.status);
    if (r2.ok()) {
      FUZZ_CHECK(r.size == r2.size && r.layout == l2);
      FUZZ_CHECK(std::memcmp(out.data(), out2.data(), r.size) == 0);
    }
  }
  return 0;
}
