// Annex-B NAL unit scanning, start-code normalization, and the per-codec clear
// header layouts (sender: JsLayout; receiver: ReceiverLayouts).
#include "framecryptor/codec.h"
#include "framecryptor/frame.h"
#include "framecryptor/nalu.h"
#include "harness.h"
#include "reference.h"

using namespace framecryptor;
using fctest::Bytes;
using fctest::FromHex;
using fctest::View;

namespace {

std::vector<size_t> Units(const Bytes& b, bool* leading = nullptr) { return FindNalUnits(View(b), leading); }

// Frames built from start codes, NAL headers and filler: the shapes the
// scanner has to get right, plus random ones.
std::vector<Bytes> Corpus() {
  std::vector<Bytes> c;
  fctest::Rng rng(0x4a1);
  for (size_t n = 0; n < 24; ++n) c.push_back(rng.ZeroHeavy(n));
  for (int i = 0; i < 400; ++i) c.push_back(rng.ZeroHeavy(8 + rng.Below(60)));
  for (int i = 0; i < 200; ++i) {
    Bytes f;
    const int parts = 1 + static_cast<int>(rng.Below(5));
    if (rng.Below(4) == 0) f.push_back(static_cast<uint8_t>(rng.Below(3)));  // maybe leading data
    for (int p = 0; p < parts; ++p) {
      if (rng.Below(2)) f.push_back(0);
      f.insert(f.end(), {0, 0, 1});
      static const uint8_t kHeaders[] = {0x65, 0x41, 0x21, 0x01, 0x67, 0x68, 0x06, 0x09,
                                         0x26, 0x2a, 0x02, 0x40, 0x42, 0x44, 0x4e, 0x46};
      f.push_back(kHeaders[rng.Below(sizeof kHeaders)]);
      const Bytes body = rng.RandomBytes(rng.Below(6));
      f.insert(f.end(), body.begin(), body.end());
    }
    c.push_back(f);
  }
  return c;
}

bool SameLayout(const FrameLayout& a, const fcref::Layout& b) { return a.header_len == b.header_len && a.nal == b.nal; }

}  // namespace

TEST(nalu, basic_units) {
  bool leading = true;
  CHECK_EQ(Units(FromHex("00000001650011223344"), &leading), (std::vector<size_t>{4}));
  CHECK(!leading);
  CHECK_EQ(Units(FromHex("000001650011223344")), (std::vector<size_t>{3}));
  // Several units with 3- and 4-byte codes; zero padding before the first is fine.
  CHECK_EQ(Units(FromHex("0000000000016742aabb0000000168ceff0000016588aabbccdd")),
           (std::vector<size_t>{6, 14, 20}));
}

TEST(nalu, leading_data_and_no_start_code) {
  bool leading = false;
  CHECK(Units(FromHex("ff000001650011223344"), &leading).empty());
  CHECK(leading);
  CHECK(Units(FromHex("0102030405060708"), &leading).empty());
  CHECK(leading);
  // All zeros: no unit, but no leading data either.
  CHECK(Units(Bytes(16, 0), &leading).empty());
  CHECK(!leading);
}

TEST(nalu, units_in_the_last_three_bytes_are_not_reported) {
  CHECK(Units(FromHex("0000000165")).empty());          // unit starts at n-1
  CHECK(Units(FromHex("00000165aabb")).empty());        // unit starts at n-3
  CHECK_EQ(Units(FromHex("00000165aabbcc")), (std::vector<size_t>{3}));  // n-4: reported
  CHECK_EQ(Units(FromHex("000001650000000165aa")), (std::vector<size_t>{3}));
  // Three bytes or fewer: never any unit.
  CHECK(Units(FromHex("000001")).empty());
  CHECK(Units(Bytes{}).empty());
}

TEST(nalu, matches_reference) {
  for (const Bytes& f : Corpus()) {
    bool leading = false;
    const auto got = Units(f, &leading);
    const auto ref = fcref::FindNalUnits(f.data(), f.size());
    CHECK_EQ(leading, !ref.has_value());
    if (ref) {
      CHECK(got == *ref);
    } else {
      CHECK(got.empty());
    }
    // ScanAnnexB agrees with the unit list.
    const AnnexBScan scan = ScanAnnexB(View(f), false);
    CHECK_EQ(scan.leading_data, !ref.has_value());
    if (ref) CHECK_EQ(scan.units, ref->size());
  }
}

TEST(nalu, slice_types) {
  for (int t = 0; t < 32; ++t) {
    const uint8_t h264 = static_cast<uint8_t>(0x60 | t);
    CHECK_EQ(IsH264Slice(h264), t == 1 || t == 5);
  }
  for (int t = 0; t < 64; ++t) {
    const uint8_t h265 = static_cast<uint8_t>(t << 1);
    CHECK_EQ(IsH265Slice(h265), t <= 9 || (t >= 16 && t <= 21));
  }
}

TEST(nalu, normalize_start_codes) {
  auto norm = [](const Bytes& in) {
    Bytes out(in.size() + CountShortStartCodes(View(in)));
    CHECK_EQ(NormalizeStartCodes(View(in), out.data()), out.size());
    return out;
  };
  CHECK_EQ(norm(FromHex("000001670000000168000001")), FromHex("00000001670000000168" "00000001"));
  CHECK_EQ(norm(FromHex("ab000001")), FromHex("ab00000001"));
  CHECK_EQ(norm(FromHex("0001")), FromHex("0001"));
  CHECK_EQ(norm(Bytes{}), Bytes{});
  CHECK_EQ(CountShortStartCodes(View(FromHex("00000001"))), 0u);
  for (const Bytes& f : Corpus()) CHECK_EQ(norm(f), fcref::NormalizeStartCodes(f.data(), f.size()));
}

// ---------------------------------------------------------------------------
// Layouts

TEST(layout, fixed_rules) {
  const Bytes f = FromHex("00000001650011223344556677");
  CHECK_EQ(JsLayout(Codec::kOpus, false, View(f)), (FrameLayout{1, false}));
  CHECK_EQ(JsLayout(Codec::kOpus, true, View(f)), (FrameLayout{1, false}));
  CHECK_EQ(JsLayout(Codec::kVP8, true, View(f)), (FrameLayout{10, false}));
  CHECK_EQ(JsLayout(Codec::kVP8, false, View(f)), (FrameLayout{3, false}));
  CHECK_EQ(JsLayout(Codec::kVP9, true, View(f)), (FrameLayout{0, false}));
  CHECK_EQ(JsLayout(Codec::kAV1, false, View(f)), (FrameLayout{0, false}));
  // Layouts do not look at the frame's length.
  CHECK_EQ(JsLayout(Codec::kVP8, true, {nullptr, 0}), (FrameLayout{10, false}));
}

TEST(layout, h26x_slices) {
  // SPS, PPS, IDR: header ends two bytes into the IDR unit.
  const Bytes h264 = FromHex("000000016742e01f0000000168ce3c80000000016588840af2");
  CHECK_EQ(JsLayout(Codec::kH264, true, View(h264)), (FrameLayout{20 + 2, true}));
  // H.265 VPS, then an IDR_W_RADL slice (type 19).
  const Bytes h265 = FromHex("0000000140010c01ff0000000126010102030405");
  CHECK_EQ(JsLayout(Codec::kH265, true, View(h265)), (FrameLayout{13 + 2, true}));
  // An H.264 slice anywhere outranks an earlier H.265 slice: 0x26 is an H.265
  // slice (type 19) but not an H.264 one; 0x01 is an H.264 slice (type 1).
  const Bytes mixed = FromHex("000000012601aabbcc000000010101ddeeff");
  CHECK_EQ(JsLayout(Codec::kH265, true, View(mixed)), (FrameLayout{13 + 2, true}));
  CHECK_EQ(JsLayout(Codec::kH264, true, View(mixed)), (FrameLayout{13 + 2, true}));
  // No slice, or leading data: the VP8 rule, unescaped.
  const Bytes sps_only = FromHex("000000016742e01f8d8d402802dd806d");
  CHECK_EQ(JsLayout(Codec::kH264, true, View(sps_only)), (FrameLayout{10, false}));
  CHECK_EQ(JsLayout(Codec::kH264, false, View(sps_only)), (FrameLayout{3, false}));
  const Bytes leading = FromHex("ff000000016588840af2aabbcc");
  CHECK_EQ(JsLayout(Codec::kH264, false, View(leading)), (FrameLayout{3, false}));
}

TEST(layout, matches_reference) {
  for (const Bytes& f : Corpus()) {
    for (int codec = 0; codec < kCodecCount; ++codec) {
      for (bool kf : {false, true}) {
        const FrameLayout got = JsLayout(static_cast<Codec>(codec), kf, View(f));
        CHECK(SameLayout(got, fcref::JsLayout(codec, kf, f.data(), f.size())));
      }
    }
  }
}

TEST(layout, receiver_candidates) {
  FrameLayout out[6];
  const Bytes vp8_key = FromHex("5019009d012a0000000000000000000000000000000000000000000000000000000000");
  DecryptParams p;
  p.codec = Codec::kVP8;
  p.key_frame = -1;  // from the frame tag (bit 0 clear: key frame)
  size_t n = ReceiverLayouts(p, View(vp8_key), out);
  REQUIRE_EQ(n, 2u);
  CHECK_EQ(out[0], (FrameLayout{10, false}));
  CHECK_EQ(out[1], (FrameLayout{3, false}));
  p.key_frame = 0;  // an explicit hint is tried first
  n = ReceiverLayouts(p, View(vp8_key), out);
  REQUIRE_EQ(n, 2u);
  CHECK_EQ(out[0], (FrameLayout{3, false}));
  CHECK_EQ(out[1], (FrameLayout{10, false}));

  p.codec = Codec::kOpus;
  CHECK_EQ(ReceiverLayouts(p, View(vp8_key), out), 1u);
  CHECK_EQ(out[0], (FrameLayout{1, false}));
  p.codec = Codec::kVP9;
  CHECK_EQ(ReceiverLayouts(p, View(vp8_key), out), 1u);
  CHECK_EQ(out[0], (FrameLayout{0, false}));

  // H.26x without a slice, key frame unknown: both VP8 rules, then native's {0, escaped}.
  const Bytes sps_only = FromHex("000000016742e01f8d8d402802dd806d0a13500000000000000000000000000000000000");
  p.codec = Codec::kH264;
  p.key_frame = -1;
  n = ReceiverLayouts(p, View(sps_only), out);
  REQUIRE_EQ(n, 3u);
  CHECK_EQ(out[0], (FrameLayout{10, false}));
  CHECK_EQ(out[1], (FrameLayout{3, false}));
  CHECK_EQ(out[2], (FrameLayout{0, true}));

  // H.265 where an H.264-looking unit wins livekit-client's detection: its own
  // first slice is a candidate too.
  const Bytes mixed = FromHex("000000012601aabbcc000000010101ddeeff00000000000000000000000000000000000000");
  p.codec = Codec::kH265;
  p.key_frame = 1;
  n = ReceiverLayouts(p, View(mixed), out);
  REQUIRE(n >= 3);
  CHECK_EQ(out[0], (FrameLayout{15, true}));
  CHECK_EQ(out[n - 1], (FrameLayout{6, true}));
  // Never duplicates, never more than six.
  for (const Bytes& f : Corpus()) {
    for (int codec = 0; codec < kCodecCount; ++codec) {
      for (int kf = -1; kf <= 1; ++kf) {
        p.codec = static_cast<Codec>(codec);
        p.key_frame = kf;
        n = ReceiverLayouts(p, View(f), out);
        CHECK(n >= 1 && n <= 6);
        for (size_t i = 0; i < n; ++i)
          for (size_t j = i + 1; j < n; ++j) CHECK(out[i] != out[j]);
      }
    }
  }
}
