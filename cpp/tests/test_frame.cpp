// EncryptFrame / DecryptFrame: round trips for every codec and size, the wire
// format checked field by field, and every failure status.
#include <cstring>

#include "framecryptor/frame.h"
#include "framecryptor/nalu.h"
#include "framecryptor/rbsp.h"
#include "harness.h"
#include "reference.h"

using namespace framecryptor;
using fctest::Bytes;
using fctest::FromHex;
using fctest::View;

namespace {

constexpr uint8_t kFill = 0xa5;  // output buffers start with this, to spot stray writes

std::shared_ptr<AesGcmKey> MakeKey(uint8_t seed, size_t size = 16) {
  Status st = Status::kInternal;
  auto key = AesGcmKey::Create(View(Bytes(size, seed)), &st);
  REQUIRE_OK(st);
  return key;
}

struct Enc {
  Status status;
  Bytes wire;
  FrameLayout layout;
};

Enc Encrypt(AesGcmKey& key, Codec codec, bool key_frame, const Bytes& in, uint8_t key_index = 0,
            bool normalize = true) {
  EncryptParams p;
  p.codec = codec;
  p.key_frame = key_frame;
  p.key_index = key_index;
  p.normalize_start_codes = normalize;
  Bytes out(EncryptedSizeBound(codec, in.size()), kFill);  // exact: ASan sees overruns
  FrameLayout l;
  const Result r = EncryptFrame(key, p, View(in), fctest::MutView(out), &l);
  if (r.ok()) {
    REQUIRE(r.size <= out.size());
    out.resize(r.size);
  }
  return {r.status, out, l};
}

struct Dec {
  Status status;
  Bytes plain;  // on failure: the whole output buffer, to check it was wiped
  FrameLayout layout;
};

Dec Decrypt(const AesGcmKey& key, Codec codec, int key_frame, const Bytes& wire) {
  DecryptParams p;
  p.codec = codec;
  p.key_frame = key_frame;
  Bytes out(DecryptedSizeBound(codec, wire.size()), kFill);
  FrameLayout l;
  const Result r = DecryptFrame(key, p, View(wire), fctest::MutView(out), &l);
  if (r.ok()) {
    REQUIRE(r.size <= out.size());
    out.resize(r.size);
  }
  return {r.status, out, l};
}

bool OnlyFillOrZero(const Bytes& b) {
  for (uint8_t x : b)
    if (x != 0 && x != kFill) return false;
  return true;
}

// What the receiver gets back for a frame: H.26x clear headers with 3-byte
// start codes come back normalized (as a depacketizer delivers them).
Bytes ExpectedPlain(const Bytes& in, const Enc& e, bool normalize) {
  if (!e.layout.nal || !normalize) return in;
  // The wire header is the sender's header plus one byte per 3-byte start code
  // in it; h + CountShortStartCodes(h) grows strictly, so one h matches.
  for (size_t h = 0; h <= in.size(); ++h) {
    if (h + CountShortStartCodes({in.data(), h}) == e.layout.header_len) {
      Bytes out = fcref::NormalizeStartCodes(in.data(), h);
      out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(h), in.end());
      return out;
    }
  }
  FCTEST_FAIL("no sender header length matches the wire header", true);
  return {};
}

// Parses the wire independently of DecryptFrame (reference unescaping, then
// the trailer fields) and opens it with the bare AES-GCM primitive.
void CheckWire(const AesGcmKey& key, const Bytes& wire, const FrameLayout& l, const Bytes& expected,
               uint8_t key_index) {
  REQUIRE(wire.size() >= l.header_len + kFrameOverhead);
  const Bytes header = fctest::Slice(wire, 0, l.header_len);
  Bytes tail = fctest::Slice(wire, l.header_len, wire.size() - l.header_len);
  if (l.nal) {
    // Escaped: no 00 00 00/01/02 inside the escaped part.
    for (size_t i = 0; i + 2 < tail.size(); ++i)
      CHECK(!(tail[i] == 0 && tail[i + 1] == 0 && tail[i + 2] <= 2));
    tail = fcref::UnescapeRbsp(tail.data(), tail.size());
  }
  REQUIRE(tail.size() >= kFrameOverhead);
  CHECK_EQ(tail[tail.size() - 1], key_index);
  CHECK_EQ(tail[tail.size() - 2], 12);
  const uint8_t* iv = tail.data() + tail.size() - kTrailerSize - kIvSize;
  const size_t ct = tail.size() - kTrailerSize - kIvSize;
  Bytes plain(ct - kTagSize);
  REQUIRE_OK(key.Open(iv, View(header), {tail.data(), ct}, plain.data()));
  CHECK_EQ(fctest::Cat(header, plain), expected);
}

// ---------------------------------------------------------------------------
// Frames per codec (the structure each clear-header rule looks at)

Bytes NalPayload(fctest::Rng& rng, size_t n) {
  Bytes out;
  int zeros = 0;
  while (out.size() < n) {
    uint8_t b = rng.Byte();
    if (zeros >= 2 && b <= 3) b = static_cast<uint8_t>(4 + rng.Below(252));
    out.push_back(b);
    zeros = b == 0 ? zeros + 1 : 0;
  }
  if (!out.empty() && out.back() == 0) out.back() = 0x80;
  return out;
}

Bytes MakeFrame(fctest::Rng& rng, Codec codec, size_t n, bool key, bool short_codes = false) {
  switch (codec) {
    case Codec::kOpus: {
      Bytes f = rng.RandomBytes(n);
      if (n) f[0] = 0x78;
      return f;
    }
    case Codec::kVP8: {
      Bytes f = rng.RandomBytes(n);
      if (n) f[0] = static_cast<uint8_t>((f[0] & 0xfe) | (key ? 0 : 1));
      if (key && n >= 6) {
        f[3] = 0x9d;
        f[4] = 0x01;
        f[5] = 0x2a;
      }
      return f;
    }
    case Codec::kVP9:
    case Codec::kAV1:
      return rng.RandomBytes(n);
    case Codec::kH264:
    case Codec::kH265: {
      const Bytes sc = short_codes ? Bytes{0, 0, 1} : Bytes{0, 0, 0, 1};
      Bytes f;
      if (codec == Codec::kH264) {
        if (key) f = fctest::Cat(fctest::Cat(sc, FromHex("6742e01f8d8d402802dd806d0a1350")),
                                 fctest::Cat(sc, FromHex("68ce3c80")));
        f = fctest::Cat(f, sc);
        f.push_back(key ? 0x65 : 0x41);
      } else {
        if (key) f = fctest::Cat(fctest::Cat(sc, FromHex("40010c01ffff016000000300900000030000030078959809")),
                                 fctest::Cat(sc, FromHex("4401c172b46240")));
        f = fctest::Cat(f, sc);
        f = fctest::Cat(f, key ? FromHex("2601") : FromHex("0201"));
      }
      return fctest::Cat(f, NalPayload(rng, n > f.size() ? n - f.size() : 1));
    }
  }
  return {};
}

const Codec kAllCodecs[] = {Codec::kOpus, Codec::kVP8, Codec::kVP9, Codec::kAV1, Codec::kH264, Codec::kH265};

void RoundTrip(AesGcmKey& key, Codec codec, bool kf, const Bytes& in, bool normalize = true, uint8_t index = 7) {
  const Enc e = Encrypt(key, codec, kf, in, index, normalize);
  REQUIRE_OK(e.status);
  if (in.empty()) {
    CHECK(e.wire.empty());
    return;
  }
  const Bytes expected = ExpectedPlain(in, e, normalize);
  CheckWire(key, e.wire, e.layout, expected, index);
  for (int hint : {kf ? 1 : 0, -1}) {
    const Dec d = Decrypt(key, codec, hint, e.wire);
    REQUIRE_OK(d.status);
    CHECK_EQ(d.plain, expected);
    CHECK_EQ(d.layout, e.layout);
  }
}

}  // namespace

TEST(frame, round_trip_every_codec_and_size) {
  auto key128 = MakeKey(1);
  auto key256 = MakeKey(2, 32);
  fctest::Rng rng(11);
  for (Codec codec : kAllCodecs) {
    for (bool kf : {false, true}) {
      const size_t header = JsLayout(codec, kf, {}).header_len;  // fixed rules; H.26x: the VP8 rule
      for (size_t n : {size_t{1}, header, header + 1, size_t{31}, size_t{100}, size_t{1500}, size_t{70000}}) {
        if (n == 0 || (!IsAnnexB(codec) && n < header)) continue;
        const Bytes in = MakeFrame(rng, codec, n, kf);
        RoundTrip(*key128, codec, kf, in);
        RoundTrip(*key256, codec, kf, in);
      }
    }
  }
}

TEST(frame, round_trip_large) {
  auto key = MakeKey(3);
  fctest::Rng rng(12);
  for (Codec codec : kAllCodecs) RoundTrip(*key, codec, true, MakeFrame(rng, codec, 1 << 20, true));
  // Worst case for escaping: a megabyte of zeros after the slice header.
  Bytes zeros = FromHex("0000000165");
  zeros.resize(1 << 20, 0);
  RoundTrip(*key, Codec::kH264, true, zeros);
}

TEST(frame, empty_frames_pass_through) {
  auto key = MakeKey(4);
  for (Codec codec : kAllCodecs) {
    const Enc e = Encrypt(*key, codec, true, {});
    CHECK_OK(e.status);
    CHECK(e.wire.empty());
    const Dec d = Decrypt(*key, codec, -1, {});
    CHECK_OK(d.status);
    CHECK(d.plain.empty());
  }
  CHECK_EQ(key->ivs_issued(), 0u);  // nothing was encrypted
}

TEST(frame, shorter_than_the_clear_header) {
  auto key = MakeKey(5);
  fctest::Rng rng(13);
  for (size_t n = 1; n < 10; ++n) {
    const Enc e = Encrypt(*key, Codec::kVP8, true, MakeFrame(rng, Codec::kVP8, n, true));
    CHECK_EQ(e.status, Status::kFrameTooShort);
    CHECK(OnlyFillOrZero(e.wire));
  }
  for (size_t n = 1; n < 3; ++n)
    CHECK_EQ(Encrypt(*key, Codec::kVP8, false, rng.RandomBytes(n)).status, Status::kFrameTooShort);
  // Opus: the TOC byte alone is a complete (empty-bodied) frame.
  RoundTrip(*key, Codec::kOpus, false, {0x78});
  // VP9/AV1 have no clear header: one byte is enough.
  RoundTrip(*key, Codec::kVP9, false, {0x42});
}

TEST(frame, h26x_start_code_normalization) {
  auto key = MakeKey(6);
  fctest::Rng rng(14);
  for (Codec codec : {Codec::kH264, Codec::kH265}) {
    const Bytes in = MakeFrame(rng, codec, 300, true, /*short_codes=*/true);
    const Enc e = Encrypt(*key, codec, true, in);
    REQUIRE_OK(e.status);
    const size_t h_in = JsLayout(codec, true, View(in)).header_len;
    const Bytes header_in = fctest::Slice(in, 0, h_in);
    const size_t short_codes = CountShortStartCodes(View(header_in));
    CHECK(short_codes >= 2);
    CHECK_EQ(e.layout, (FrameLayout{h_in + short_codes, true}));
    CHECK_EQ(fctest::Slice(e.wire, 0, e.layout.header_len), fcref::NormalizeStartCodes(header_in.data(), h_in));
    RoundTrip(*key, codec, true, in, true);
    RoundTrip(*key, codec, true, in, false);  // unnormalized: the header stays as it was
    const Enc raw = Encrypt(*key, codec, true, in, 0, false);
    REQUIRE_OK(raw.status);
    CHECK_EQ(raw.layout, (FrameLayout{h_in, true}));
  }
}

TEST(frame, h26x_without_slice_and_tiny_frames) {
  auto key = MakeKey(7);
  fctest::Rng rng(15);
  // No slice: the VP8 rule, not escaped; decryptable with the key-frame flag unknown.
  const Bytes sps = FromHex("000000016742e01f8d8d402802dd806d0a1350000000016800");
  for (bool kf : {false, true}) {
    const Enc e = Encrypt(*key, Codec::kH264, kf, sps);
    REQUIRE_OK(e.status);
    CHECK_EQ(e.layout, (FrameLayout{kf ? size_t{10} : size_t{3}, false}));
    RoundTrip(*key, Codec::kH264, kf, sps);
  }
  // Slices starting in the last three bytes (livekit-client's scan skips them).
  static const uint8_t kNal[] = {0x65, 0x41, 0x01, 0x26, 0x02, 0x09, 0x67};
  for (int i = 0; i < 300; ++i) {
    Bytes f = rng.Below(2) ? Bytes{0, 0, 1} : Bytes{0, 0, 0, 1};
    f.push_back(kNal[rng.Below(sizeof kNal)]);
    f = fctest::Cat(f, NalPayload(rng, rng.Below(6)));
    for (Codec codec : {Codec::kH264, Codec::kH265})
      for (bool kf : {false, true}) {
        const Enc e = Encrypt(*key, codec, kf, f);
        if (e.status == Status::kFrameTooShort) {
          CHECK(JsLayout(codec, kf, View(f)).header_len > f.size());
          continue;
        }
        RoundTrip(*key, codec, kf, f);
      }
  }
}

TEST(frame, arbitrary_bytes_round_trip_or_fail_cleanly) {
  auto key = MakeKey(8);
  fctest::Rng rng(16);
  int ok = 0;
  for (int i = 0; i < 600; ++i) {
    const Bytes in = rng.ZeroHeavy(1 + rng.Below(80));
    const Codec codec = kAllCodecs[rng.Below(6)];
    const bool kf = rng.Below(2) != 0;
    const Enc e = Encrypt(*key, codec, kf, in);
    if (e.status == Status::kOk) {
      ++ok;
      RoundTrip(*key, codec, kf, in);
    } else {
      CHECK(e.status == Status::kFrameTooShort || e.status == Status::kUnstableLayout);
      CHECK(OnlyFillOrZero(e.wire));  // fail closed: nothing of the frame in the output
    }
  }
  CHECK(ok > 500);
}

TEST(frame, vp8_key_frame_flag_mismatch) {
  auto key = MakeKey(9);
  fctest::Rng rng(17);
  const Bytes delta_tagged = MakeFrame(rng, Codec::kVP8, 200, false);
  const Enc e = Encrypt(*key, Codec::kVP8, true, delta_tagged);  // caller says key frame
  REQUIRE_OK(e.status);
  CHECK_EQ(e.layout, (FrameLayout{10, false}));
  for (int hint : {-1, 0, 1}) {
    const Dec d = Decrypt(*key, Codec::kVP8, hint, e.wire);
    CHECK_OK(d.status);
    CHECK_EQ(d.plain, delta_tagged);
  }
}

TEST(frame, output_too_small) {
  auto key = MakeKey(10);
  const Bytes in(100, 0x42);
  EncryptParams p;
  p.codec = Codec::kVP8;
  Bytes out(EncryptedSizeBound(Codec::kVP8, in.size()) - 1, kFill);
  CHECK_EQ(EncryptFrame(*key, p, View(in), fctest::MutView(out)).status, Status::kOutputTooSmall);
  CHECK_EQ(out, Bytes(out.size(), kFill));
  const Enc e = Encrypt(*key, Codec::kVP8, false, in);
  REQUIRE_OK(e.status);
  DecryptParams dp;
  dp.codec = Codec::kVP8;
  Bytes small(DecryptedSizeBound(Codec::kVP8, e.wire.size()) - 1);
  CHECK_EQ(DecryptFrame(*key, dp, View(e.wire), fctest::MutView(small)).status, Status::kOutputTooSmall);
}

TEST(frame, iv_exhaustion_fails_closed) {
  auto key = MakeKey(11);
  key->AdvanceIvCounterForTesting(AesGcmKey::kIvLimit - 1);
  fctest::Rng rng(18);
  const Bytes in = MakeFrame(rng, Codec::kH264, 200, true);
  const Enc last = Encrypt(*key, Codec::kH264, true, in);
  CHECK_OK(last.status);
  for (Codec codec : kAllCodecs) {
    const Enc e = Encrypt(*key, codec, true, MakeFrame(rng, codec, 200, true));
    CHECK_EQ(e.status, Status::kIvExhausted);
    CHECK(OnlyFillOrZero(e.wire));  // the clear header copied before the failure is wiped too
  }
  // Decryption does not need IVs.
  CHECK_OK(Decrypt(*key, Codec::kH264, 1, last.wire).status);
}

TEST(frame, read_trailer) {
  TrailerInfo t;
  for (size_t n = 0; n < kFrameOverhead; ++n) {
    Bytes f(n, 12);
    CHECK_EQ(ReadTrailer(View(f), &t), Status::kFrameTooShort);
  }
  Bytes f(kFrameOverhead, 0);
  f[28] = 12;
  f[29] = 200;
  CHECK_OK(ReadTrailer(View(f), &t));
  CHECK_EQ(t.key_index, 200);
  CHECK_EQ(t.iv_length, 12);
  f[28] = 16;
  CHECK_EQ(ReadTrailer(View(f), &t), Status::kBadTrailer);
  CHECK_EQ(t.iv_length, 16);
}

TEST(frame, decrypt_failures) {
  auto key = MakeKey(12);
  auto other = MakeKey(13);
  fctest::Rng rng(19);
  for (Codec codec : kAllCodecs) {
    const Bytes in = MakeFrame(rng, codec, 120, true);
    const Enc e = Encrypt(*key, codec, true, in, 3);
    REQUIRE_OK(e.status);
    // Too short for a trailer.
    for (size_t n = 1; n < kFrameOverhead; ++n)
      CHECK_EQ(Decrypt(*key, codec, -1, fctest::Slice(e.wire, 0, n)).status, Status::kFrameTooShort);
    // IV length byte.
    Bytes bad = e.wire;
    bad[bad.size() - 2] = 11;
    CHECK_EQ(Decrypt(*key, codec, -1, bad).status, Status::kBadTrailer);
    // Wrong key: authentication fails and the output is wiped.
    const Dec wrong = Decrypt(*other, codec, -1, e.wire);
    CHECK_EQ(wrong.status, Status::kAuthFailed);
    CHECK(OnlyFillOrZero(wrong.plain));
    // Every single flipped byte but the key index (unauthenticated, selects the key slot).
    for (size_t i = 0; i + 1 < e.wire.size(); ++i) {
      Bytes flipped = e.wire;
      flipped[i] ^= static_cast<uint8_t>(1 + rng.Below(255));
      const Dec d = Decrypt(*key, codec, -1, flipped);
      CHECK(d.status != Status::kOk);
      CHECK(OnlyFillOrZero(d.plain));
    }
    Bytes other_index = e.wire;
    other_index.back() = 9;
    CHECK_OK(Decrypt(*key, codec, -1, other_index).status);
    // Every truncation (from either end) fails.
    for (size_t cut = 1; cut < e.wire.size(); ++cut) {
      CHECK(Decrypt(*key, codec, -1, fctest::Slice(e.wire, 0, e.wire.size() - cut)).status != Status::kOk);
      CHECK(Decrypt(*key, codec, -1, fctest::Slice(e.wire, cut, e.wire.size() - cut)).status != Status::kOk);
    }
  }
}

TEST(frame, no_layout_fits) {
  auto key = MakeKey(14);
  // 30 bytes: a trailer, but no room for Opus's clear byte plus the overhead.
  Bytes f(kFrameOverhead, 0x11);
  f[28] = 12;
  CHECK_EQ(Decrypt(*key, Codec::kOpus, -1, f).status, Status::kFrameTooShort);
  // VP9 (no header) fits and fails authentication instead.
  CHECK_EQ(Decrypt(*key, Codec::kVP9, -1, f).status, Status::kAuthFailed);
}

TEST(frame, empty_encrypted_part) {
  // A sender that encrypts an empty VP9 payload produces tag || IV || trailer
  // only (30 bytes); it decrypts to an empty frame, into an empty output.
  auto key = MakeKey(15);
  uint8_t iv[kIvSize];
  REQUIRE_OK(key->NextIv(iv));
  Bytes wire(kTagSize);
  REQUIRE_OK(key->Seal(iv, {}, {}, wire.data()));
  wire.insert(wire.end(), iv, iv + kIvSize);
  wire.insert(wire.end(), {12, 0});
  const Dec d = Decrypt(*key, Codec::kVP9, -1, wire);  // output capacity 0
  CHECK_OK(d.status);
  CHECK(d.plain.empty());
}

TEST(frame, size_bounds) {
  for (Codec codec : kAllCodecs) {
    for (size_t n : {0, 1, 2, 29, 30, 31, 1000}) {
      CHECK(EncryptedSizeBound(codec, n) >= n + kFrameOverhead);
      CHECK(DecryptedSizeBound(codec, n) <= n);
    }
  }
}
