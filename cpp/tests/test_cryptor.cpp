// KeyRing, SifPolicy and FrameCryptorCore (the per-track cryptor).
#include <thread>

#include "framecryptor/cryptor.h"
#include "framecryptor/packet_trailer.h"
#include "harness.h"

using namespace framecryptor;
using fctest::Bytes;
using fctest::FromHex;
using fctest::View;

namespace {

constexpr uint8_t kFill = 0xa5;
const char* kSifTrailer = "4f27253ac674c3b2";
const char* kVp8Blank = "1002009d012a080008000047088585888584880202000c0d6000feffab5080";

std::shared_ptr<AesGcmKey> MakeKey(uint8_t seed) {
  Status st = Status::kInternal;
  auto key = AesGcmKey::Create(View(Bytes(16, seed)), &st);
  REQUIRE_OK(st);
  return key;
}

struct Track {
  std::shared_ptr<KeyRing> ring = std::make_shared<KeyRing>(16);
  std::shared_ptr<SifPolicy> sif = std::make_shared<SifPolicy>();
  FrameCryptorCore core;
  explicit Track(Codec c) : core(c, ring, sif) {}

  Result Encrypt(const Bytes& in, bool kf, Bytes* wire) const {
    wire->assign(core.EncryptBound(in.size()), kFill);
    const Result r = core.Encrypt(View(in), kf, fctest::MutView(*wire));
    if (r.ok()) wire->resize(r.size);
    return r;
  }
  DecryptOutcome Decrypt(const Bytes& in, int kf, Bytes* plain, const AesGcmKey* key = nullptr) const {
    plain->assign(core.DecryptCapacity(View(in)), kFill);  // exactly what the binding allocates
    const DecryptOutcome r = core.Decrypt(View(in), kf, fctest::MutView(*plain), key);
    if (r.status == Status::kOk) plain->resize(r.size);
    return r;
  }
};

bool OnlyFillOrZero(const Bytes& b) {
  for (uint8_t x : b)
    if (x != 0 && x != kFill) return false;
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// KeyRing

TEST(keyring, sizes_are_clamped) {
  CHECK_EQ(KeyRing(0).size(), 1u);
  CHECK_EQ(KeyRing(1).size(), 1u);
  CHECK_EQ(KeyRing(16).size(), 16u);
  CHECK_EQ(KeyRing(256).size(), 256u);
  CHECK_EQ(KeyRing(100000).size(), KeyRing::kMaxSize);
}

TEST(keyring, set_get_replace_clear) {
  KeyRing ring(4);
  auto a = MakeKey(1), b = MakeKey(2);
  CHECK(ring.Get(0) == nullptr);
  CHECK(ring.Set(3, a));
  CHECK(ring.Get(3) == a);
  CHECK(ring.Set(3, b));
  CHECK(ring.Get(3) == b);
  CHECK(!ring.Set(4, a));  // beyond the ring
  CHECK(ring.Get(4) == nullptr);
  CHECK(ring.Get(SIZE_MAX) == nullptr);
  CHECK(ring.Set(3, nullptr));
  CHECK(ring.Get(3) == nullptr);
  CHECK_EQ(a.use_count(), 1);  // the ring let go of replaced keys
}

TEST(keyring, concurrent_set_and_get) {
  auto ring = std::make_shared<KeyRing>(8);
  auto a = MakeKey(1), b = MakeKey(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        if (t % 2) {
          ring->Set(static_cast<size_t>(i % 8), (i & 1) ? a : b);
        } else {
          auto k = ring->Get(static_cast<size_t>(i % 8));
          if (k && k != a && k != b) std::abort();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(true);
}

// ---------------------------------------------------------------------------
// SifPolicy

TEST(sifpolicy, verdicts) {
  SifPolicy sif;
  const Bytes trailer = FromHex(kSifTrailer);
  const Bytes frame = fctest::Cat(FromHex(kVp8Blank), trailer);
  size_t payload = 0;
  const char* name = nullptr;
  CHECK(sif.Check(Codec::kVP8, View(frame), &payload, &name) == SifPolicy::Verdict::kNotSif);  // no trailer set
  sif.SetTrailer(View(trailer));
  CHECK_EQ(sif.Trailer(), trailer);
  CHECK(sif.Check(Codec::kVP8, View(frame), &payload, &name) == SifPolicy::Verdict::kForward);
  CHECK_EQ(payload, frame.size() - trailer.size());
  CHECK_EQ(std::string(name), std::string("vp8-key-frame-8x8"));
  CHECK(sif.Check(Codec::kH264, View(frame), &payload, &name) == SifPolicy::Verdict::kDrop);
  const Bytes unknown = fctest::Cat(FromHex("0102030405"), trailer);
  CHECK(sif.Check(Codec::kVP8, View(unknown), &payload, &name) == SifPolicy::Verdict::kDrop);
  CHECK(sif.Check(Codec::kVP8, View(trailer), &payload, &name) == SifPolicy::Verdict::kDrop);  // empty payload
  sif.SetForwarding(false);
  CHECK(!sif.forwarding());
  CHECK(sif.Check(Codec::kVP8, View(frame), &payload, &name) == SifPolicy::Verdict::kDrop);
  sif.SetTrailer({nullptr, 0});
  CHECK(sif.Check(Codec::kVP8, View(frame), &payload, &name) == SifPolicy::Verdict::kNotSif);
}

// ---------------------------------------------------------------------------
// FrameCryptorCore

TEST(core, round_trip_through_the_ring) {
  for (int c = 0; c < kCodecCount; ++c) {
    Track tx(static_cast<Codec>(c)), rx(static_cast<Codec>(c));
    auto key = MakeKey(3);
    tx.ring->Set(5, key);
    rx.ring->Set(5, key);
    CHECK_OK(tx.core.SetKeyIndex(5));
    CHECK_EQ(tx.core.key_index(), 5);
    const Bytes in = FromHex("00000001658811223344556677889900aabbccddeeff");
    Bytes wire, plain;
    REQUIRE_OK(tx.Encrypt(in, true, &wire).status);
    CHECK_EQ(wire.back(), 5);
    const DecryptOutcome r = rx.Decrypt(wire, -1, &plain);
    REQUIRE_OK(r.status);
    CHECK(r.kind == DecryptOutcome::Kind::kDecrypted);
    CHECK_EQ(r.key_index, 5);
    CHECK_EQ(plain, in);
    CHECK(!r.has_packet_trailer);
  }
}

TEST(core, key_index_bounds) {
  Track t(Codec::kVP8);
  CHECK_EQ(t.core.SetKeyIndex(15), Status::kOk);
  CHECK_EQ(t.core.SetKeyIndex(16), Status::kInvalidArgument);
  CHECK_EQ(t.core.SetKeyIndex(256), Status::kInvalidArgument);
  CHECK_EQ(t.core.key_index(), 15);  // unchanged by refused calls
  FrameCryptorCore no_ring(Codec::kVP8, nullptr, nullptr);
  CHECK_EQ(no_ring.SetKeyIndex(255), Status::kOk);
  CHECK_EQ(no_ring.SetKeyIndex(256), Status::kInvalidArgument);
}

TEST(core, missing_keys) {
  Track t(Codec::kVP8);
  Bytes wire, plain;
  CHECK_EQ(t.Encrypt(Bytes(40, 1), false, &wire).status, Status::kMissingKey);
  CHECK(OnlyFillOrZero(wire));
  // An empty frame needs no key.
  CHECK_OK(t.Encrypt({}, false, &wire).status);
  t.ring->Set(0, MakeKey(4));
  REQUIRE_OK(t.Encrypt(Bytes(40, 1), false, &wire).status);
  for (uint8_t index : std::initializer_list<uint8_t>{1, 15, 16, 255}) {
    Bytes w = wire;
    w.back() = index;
    const DecryptOutcome r = t.Decrypt(w, -1, &plain);
    CHECK_EQ(r.status, Status::kMissingKey);
    CHECK_EQ(r.key_index, index);
  }
  // No ring at all.
  FrameCryptorCore bare(Codec::kVP8, nullptr, nullptr);
  Bytes out(bare.DecryptCapacity(View(wire)));
  CHECK_EQ(bare.Decrypt(View(wire), -1, fctest::MutView(out)).status, Status::kMissingKey);
  Bytes eout(bare.EncryptBound(10));
  CHECK_EQ(bare.Encrypt(View(Bytes(10, 1)), false, fctest::MutView(eout)).status, Status::kMissingKey);
}

TEST(core, key_override_and_failures) {
  Track t(Codec::kOpus);
  auto key = MakeKey(5), other = MakeKey(6);
  t.ring->Set(0, key);
  Bytes wire, plain;
  REQUIRE_OK(t.Encrypt(FromHex("78aabbccdd"), false, &wire).status);
  CHECK_EQ(t.Decrypt(wire, -1, &plain, other.get()).status, Status::kAuthFailed);
  CHECK(OnlyFillOrZero(plain));
  CHECK_OK(t.Decrypt(wire, -1, &plain, key.get()).status);
  // Empty slot but an explicit key: the override wins.
  Bytes w = wire;
  w.back() = 9;
  CHECK_OK(t.Decrypt(w, -1, &plain, key.get()).status);
  // Short and malformed frames report the key index when one can be read.
  const DecryptOutcome shorty = t.Decrypt(fctest::Slice(wire, 0, 20), -1, &plain);
  CHECK_EQ(shorty.status, Status::kFrameTooShort);
  Bytes bad = wire;
  bad[bad.size() - 2] = 0;
  const DecryptOutcome badtrailer = t.Decrypt(bad, -1, &plain);
  CHECK_EQ(badtrailer.status, Status::kBadTrailer);
  CHECK_EQ(badtrailer.key_index, 0);
}

TEST(core, encrypt_with_explicit_key) {
  Track t(Codec::kVP9);
  auto key = MakeKey(7);
  Bytes wire(t.core.EncryptBound(50), kFill);
  const Result r = t.core.EncryptWith(*key, 200, View(Bytes(50, 9)), false, fctest::MutView(wire));
  REQUIRE_OK(r.status);
  wire.resize(r.size);
  CHECK_EQ(wire.back(), 200);
  Bytes plain;
  CHECK_EQ(t.Decrypt(wire, -1, &plain).status, Status::kMissingKey);  // ring of 16
  CHECK_OK(t.Decrypt(wire, -1, &plain, key.get()).status);
  CHECK_EQ(plain, Bytes(50, 9));
}

TEST(core, empty_frames) {
  Track t(Codec::kH264);
  Bytes plain;
  const DecryptOutcome r = t.Decrypt({}, -1, &plain);
  CHECK_OK(r.status);
  CHECK(r.kind == DecryptOutcome::Kind::kEmpty);
  CHECK_EQ(r.size, 0u);
}

TEST(core, sif_frames) {
  Track t(Codec::kVP8);
  t.ring->Set(0, MakeKey(8));
  t.sif->SetTrailer(View(FromHex(kSifTrailer)));
  const Bytes blank = FromHex(kVp8Blank);
  const Bytes sif_frame = fctest::Cat(blank, FromHex(kSifTrailer));
  CHECK_EQ(t.core.DecryptCapacity(View(sif_frame)), blank.size());  // larger than DecryptBound
  Bytes plain;
  DecryptOutcome r = t.Decrypt(sif_frame, -1, &plain);
  REQUIRE_OK(r.status);
  CHECK(r.kind == DecryptOutcome::Kind::kSif);
  CHECK_EQ(plain, blank);
  CHECK_EQ(std::string(r.sif_payload), std::string("vp8-key-frame-8x8"));
  // Not allow-listed: dropped, output untouched.
  r = t.Decrypt(fctest::Cat(FromHex("00112233"), FromHex(kSifTrailer)), -1, &plain);
  CHECK_EQ(r.status, Status::kSifDropped);
  CHECK(OnlyFillOrZero(plain));
  // Forwarding switched off: dropped.
  t.sif->SetForwarding(false);
  CHECK_EQ(t.Decrypt(sif_frame, -1, &plain).status, Status::kSifDropped);
  // A too-small output buffer is refused, not overrun.
  t.sif->SetForwarding(true);
  Bytes small(blank.size() - 1);
  CHECK_EQ(t.core.Decrypt(View(sif_frame), -1, fctest::MutView(small)).status, Status::kOutputTooSmall);
  // Encrypted frames still decrypt with a SIF trailer configured.
  Bytes wire;
  REQUIRE_OK(t.Encrypt(Bytes(64, 0x31), false, &wire).status);
  CHECK_OK(t.Decrypt(wire, -1, &plain).status);
}

TEST(core, packet_trailer) {
  Track t(Codec::kH264);
  t.ring->Set(0, MakeKey(9));
  t.core.SetPacketTrailer(true);
  const Bytes in = FromHex("0000000165aabbccddeeff00112233445566778899");
  Bytes wire, plain;
  REQUIRE_OK(t.Encrypt(in, true, &wire).status);
  const Bytes ud = fctest::Str("meta");
  Bytes lkts(PacketTrailerSize(true, true, ud.size()));
  WritePacketTrailer(true, 77, true, 88, View(ud), lkts.data());
  const Bytes with = fctest::Cat(wire, lkts);
  const DecryptOutcome r = t.Decrypt(with, -1, &plain);
  REQUIRE_OK(r.status);
  CHECK_EQ(plain, in);
  CHECK(r.has_packet_trailer);
  CHECK_EQ(r.packet_trailer.user_timestamp, 77u);
  CHECK_EQ(r.packet_trailer.frame_id, 88u);
  CHECK_EQ(r.packet_trailer.stripped_size, wire.size());
  // Without the trailer the frame decrypts as well.
  CHECK_OK(t.Decrypt(wire, -1, &plain).status);
  // A trailer alone is an empty frame.
  const DecryptOutcome only = t.Decrypt(lkts, -1, &plain);
  CHECK_OK(only.status);
  CHECK(only.kind == DecryptOutcome::Kind::kEmpty);
  CHECK(only.has_packet_trailer);
  // Trailer handling off: the LKTS bytes break authentication.
  t.core.SetPacketTrailer(false);
  CHECK(t.Decrypt(with, -1, &plain).status != Status::kOk);
}

TEST(core, concurrent_encrypt_decrypt) {
  Track t(Codec::kH264);
  t.ring->Set(0, MakeKey(10));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&, th] {
      fctest::Rng rng(static_cast<uint64_t>(th) + 100);
      for (int i = 0; i < 200; ++i) {
        Bytes in = FromHex("0000000165");
        in = fctest::Cat(in, rng.RandomBytes(1 + rng.Below(300)));  // 0 would cut the slice header
        for (auto& b : in)
          if (b == 0) b = 0x80;  // no start codes or escapes in the body
        in[0] = in[1] = in[2] = 0;
        Bytes wire, plain;
        if (t.Encrypt(in, true, &wire).status != Status::kOk || t.Decrypt(wire, 1, &plain).status != Status::kOk ||
            plain != in)
          bad.fetch_add(1);
        if (i % 50 == 0) t.ring->Set(1, MakeKey(static_cast<uint8_t>(i)));  // ring churn on the side
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(bad.load(), 0);
}
