// Fuzz target: encrypt -> decrypt on arbitrary plaintext frames, every codec.
//
// Input: [flags][mutation][plaintext]
//   flags bits 0-2: codec (mod 6); bit 3: key frame; bit 4: start-code
//   normalization off; bit 5: AES-256; bit 6: append an LKTS trailer.
//   mutation: picks one byte of the wire to flip (and a truncation) for the
//   tamper checks.
//
// Invariants: encryption either succeeds or fails with kFrameTooShort (frame
// shorter than its clear header) / kUnstableLayout (H.26x only) leaving nothing
// in the output; the wire has the documented shape and carries no plaintext
// body; decrypt(encrypt(x)) == x, up to the 3- to 4-byte start-code rewrite in
// an H.26x clear header, with the key-frame flag given or unknown; a wrong key,
// a flipped byte (other than the unauthenticated key index) or a truncation
// never decrypts.
#include <algorithm>
#include <cstring>

#include "framecryptor/cryptor.h"
#include "framecryptor/frame.h"
#include "framecryptor/nalu.h"
#include "framecryptor/packet_trailer.h"
#include "fuzz_util.h"
#include "reference.h"

using namespace framecryptor;
using fcfuzz::Bytes;

namespace {

struct Fixture {
  std::shared_ptr<AesGcmKey> key128 = fcfuzz::MakeKey(Bytes(16, 0x42));
  std::shared_ptr<AesGcmKey> key256 = fcfuzz::MakeKey(Bytes(32, 0x43));
  std::shared_ptr<AesGcmKey> other = fcfuzz::MakeKey(Bytes(16, 0x44));
};

Fixture& fixture() {
  static Fixture* f = new Fixture();
  // Long runs: start over before the IV counter could run out.
  if (f->key128->ivs_issued() > (uint64_t{1} << 31) || f->key256->ivs_issued() > (uint64_t{1} << 31)) {
    delete f;
    f = new Fixture();
  }
  return *f;
}

Result Decrypt(const AesGcmKey& key, Codec codec, int hint, ByteView wire, Bytes* out, FrameLayout* l) {
  DecryptParams p;
  p.codec = codec;
  p.key_frame = hint;
  out->assign(DecryptedSizeBound(codec, wire.size), fcfuzz::kFill);
  const Result r = DecryptFrame(key, p, wire, {out->data(), out->size()}, l);
  if (r.ok()) {
    FUZZ_CHECK(r.size <= out->size());
    out->resize(r.size);
  } else {
    FUZZ_CHECK(fcfuzz::OnlyFillOrZero(out->data(), out->size()));
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Fixture& fx = fixture();
  const uint8_t flags = data[0];
  const uint8_t mutation = data[1];
  const Codec codec = static_cast<Codec>((flags & 7) % kCodecCount);
  const bool kf = (flags & 8) != 0;
  const bool normalize = (flags & 16) == 0;
  AesGcmKey& key = (flags & 32) ? *fx.key256 : *fx.key128;
  const Bytes plain(data + 2, data + size);
  const ByteView in(plain.data(), plain.size());

  EncryptParams ep;
  ep.codec = codec;
  ep.key_frame = kf;
  ep.key_index = 3;
  ep.normalize_start_codes = normalize;
  Bytes wire(EncryptedSizeBound(codec, in.size), fcfuzz::kFill);  // exact bound: overruns are caught
  FrameLayout built;
  const Result er = EncryptFrame(key, ep, in, {wire.data(), wire.size()}, &built);
  if (!er.ok()) {
    FUZZ_CHECK(er.status == Status::kFrameTooShort || er.status == Status::kUnstableLayout);
    if (er.status == Status::kFrameTooShort) FUZZ_CHECK(JsLayout(codec, kf, in).header_len > in.size);
    if (er.status == Status::kUnstableLayout) FUZZ_CHECK(IsAnnexB(codec));
    FUZZ_CHECK(fcfuzz::OnlyFillOrZero(wire.data(), wire.size()));
    return 0;
  }
  FUZZ_CHECK(er.size <= wire.size());
  wire.resize(er.size);
  if (in.size == 0) {
    FUZZ_CHECK(wire.empty());
    return 0;
  }

  // The sender's header length: the wire header is it plus one byte per
  // 3-byte start code when normalized (h + count(h) grows strictly).
  const size_t hout = built.header_len;
  size_t hin = hout;
  if (built.nal && normalize) {
    size_t lo = 0, hi = std::min(in.size, hout);  // binary search over the strictly growing map
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (mid + CountShortStartCodes(in.first(mid)) < hout) lo = mid + 1;
      else hi = mid;
    }
    hin = lo;
    FUZZ_CHECK(hin + CountShortStartCodes(in.first(hin)) == hout);
  }
  FUZZ_CHECK(!built.nal || IsAnnexB(codec));
  FUZZ_CHECK(hin <= in.size);
  Bytes expected = (built.nal && normalize) ? fcref::NormalizeStartCodes(plain.data(), hin)
                                            : Bytes(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(hin));
  expected.insert(expected.end(), plain.begin() + static_cast<std::ptrdiff_t>(hin), plain.end());

  // Wire shape: header, then (escaped) ciphertext || tag || IV || 12 || key index.
  FUZZ_CHECK(wire.size() >= hout + (in.size - hin) + kFrameOverhead);
  FUZZ_CHECK(std::memcmp(wire.data(), expected.data(), hout) == 0);
  FUZZ_CHECK(wire.back() == 3);
  if (!built.nal) FUZZ_CHECK(wire[wire.size() - 2] == kIvLengthByte && wire.size() == hout + (in.size - hin) + 30);
  // No plaintext body on the wire (16+ bytes: a chance match is 2^-128).
  const size_t body = in.size - hin;
  if (body >= 16 && !built.nal) FUZZ_CHECK(std::memcmp(wire.data() + hout, plain.data() + hin, body) != 0);
  if (body >= 16 && built.nal) {
    const Bytes tail = fcref::UnescapeRbsp(wire.data() + hout, wire.size() - hout);
    FUZZ_CHECK(std::memcmp(tail.data(), plain.data() + hin, body) != 0);
  }

  // decrypt(encrypt(x)) == x with the key-frame flag given and unknown.
  Bytes out;
  FrameLayout got;
  for (int hint : {kf ? 1 : 0, -1}) {
    const Result dr = Decrypt(key, codec, hint, {wire.data(), wire.size()}, &out, &got);
    FUZZ_CHECK(dr.ok());
    FUZZ_CHECK(out == expected);
    FUZZ_CHECK(got == built);
  }
  // Through the per-track cryptor, with an LKTS trailer appended.
  if (flags & 64) {
    auto ring = std::make_shared<KeyRing>(4);
    ring->Set(3, (flags & 32) ? fx.key256 : fx.key128);
    FrameCryptorCore core(codec, ring, nullptr);
    core.SetPacketTrailer(true);
    Bytes lkts(PacketTrailerSize(true, true, 0));
    WritePacketTrailer(true, size, true, mutation, {}, lkts.data());
    Bytes with = wire;
    with.insert(with.end(), lkts.begin(), lkts.end());
    Bytes o(core.DecryptCapacity({with.data(), with.size()}));
    const DecryptOutcome dr = core.Decrypt({with.data(), with.size()}, -1, {o.data(), o.size()});
    FUZZ_CHECK(dr.status == Status::kOk && dr.has_packet_trailer && dr.packet_trailer.frame_id == mutation);
    FUZZ_CHECK(dr.size == expected.size() && std::memcmp(o.data(), expected.data(), dr.size) == 0);
  }

  // Tampering never decrypts.
  FUZZ_CHECK(!Decrypt(*fx.other, codec, -1, {wire.data(), wire.size()}, &out, &got).ok());
  const size_t pos = (static_cast<size_t>(mutation) * 2654435761u) % (wire.size() - 1);  // not the key index
  Bytes bad = wire;
  bad[pos] ^= static_cast<uint8_t>(1u << (mutation & 7));
  FUZZ_CHECK(!Decrypt(key, codec, -1, {bad.data(), bad.size()}, &out, &got).ok());
  const size_t cut = 1 + mutation % (wire.size() - 1);
  FUZZ_CHECK(!Decrypt(key, codec, -1, {wire.data(), wire.size() - cut}, &out, &got).ok());
  FUZZ_CHECK(!Decrypt(key, codec, -1, {wire.data() + cut, wire.size() - cut}, &out, &got).ok());
  return 0;
}
