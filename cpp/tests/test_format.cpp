// Server-injected frames (SIF) and the LKTS frame-metadata packet trailer.
#include "framecryptor/packet_trailer.h"
#include "framecryptor/sif.h"
#include "harness.h"

using namespace framecryptor;
using fctest::Bytes;
using fctest::FromHex;
using fctest::View;

namespace {

const char* kVp8Blank = "1002009d012a080008000047088585888584880202000c0d6000feffab5080";
const char* kSps = "6742c01f0fd91f888884000003000400000300c83c60c920";
const char* kPps = "6887cb83cb20";
const char* kIdr = "6588840af2628000a7be";

std::string Name(const char* p) { return p ? std::string(p) : std::string("(none)"); }

Bytes OpusSilence() {
  Bytes b(80, 0);
  b[0] = 0xf8;
  b[1] = 0xff;
  b[2] = 0xfe;
  return b;
}

Bytes Trailer(bool ts, uint64_t t, bool id, uint32_t fid, const Bytes& ud) {
  Bytes out(PacketTrailerSize(ts, id, ud.size()), 0xee);
  CHECK_EQ(WritePacketTrailer(ts, t, id, fid, View(ud), out.data()), out.size());
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// SIF

TEST(sif, allow_list) {
  CHECK_EQ(Name(IdentifySifPayload(Codec::kVP8, View(FromHex(kVp8Blank)))), std::string("vp8-key-frame-8x8"));
  CHECK_EQ(Name(IdentifySifPayload(Codec::kH264, View(FromHex(kSps)))), std::string("h264-sps-2x2"));
  CHECK_EQ(Name(IdentifySifPayload(Codec::kH264, View(FromHex(kPps)))), std::string("h264-pps-2x2"));
  CHECK_EQ(Name(IdentifySifPayload(Codec::kH264, View(FromHex(kIdr)))), std::string("h264-idr-2x2"));
  const Bytes sc = FromHex("00000001");
  const Bytes au = fctest::Cat(fctest::Cat(fctest::Cat(sc, FromHex(kSps)), fctest::Cat(sc, FromHex(kPps))),
                               fctest::Cat(sc, FromHex(kIdr)));
  CHECK_EQ(Name(IdentifySifPayload(Codec::kH264, View(au))), std::string("h264-access-unit-2x2"));
  CHECK_EQ(Name(IdentifySifPayload(Codec::kOpus, View(OpusSilence()))), std::string("opus-silence"));
  CHECK_EQ(Name(IdentifySifPayload(Codec::kOpus, View(Bytes(160, 0xff)))), std::string("pcmu-silence"));
  CHECK_EQ(Name(IdentifySifPayload(Codec::kOpus, View(Bytes(160, 0xd5)))), std::string("pcma-silence"));
}

TEST(sif, near_misses_are_not_allow_listed) {
  // Wrong codec, one byte changed, one byte more or less, empty.
  CHECK(IdentifySifPayload(Codec::kH264, View(FromHex(kVp8Blank))) == nullptr);
  CHECK(IdentifySifPayload(Codec::kVP9, View(FromHex(kVp8Blank))) == nullptr);
  CHECK(IdentifySifPayload(Codec::kH265, View(FromHex(kIdr))) == nullptr);
  CHECK(IdentifySifPayload(Codec::kAV1, {nullptr, 0}) == nullptr);
  const Bytes vp8 = FromHex(kVp8Blank);
  for (size_t i = 0; i < vp8.size(); ++i) {
    Bytes b = vp8;
    b[i] ^= 0x10;
    CHECK(IdentifySifPayload(Codec::kVP8, View(b)) == nullptr);
  }
  CHECK(IdentifySifPayload(Codec::kVP8, {vp8.data(), vp8.size() - 1}) == nullptr);
  CHECK(IdentifySifPayload(Codec::kVP8, View(fctest::Cat(vp8, {0}))) == nullptr);
  for (int c = 0; c < kCodecCount; ++c) CHECK(IdentifySifPayload(static_cast<Codec>(c), {nullptr, 0}) == nullptr);
}

TEST(sif, ends_with_trailer) {
  const Bytes t = FromHex("4f27253ac674c3b2");
  CHECK(EndsWithSifTrailer(View(fctest::Cat(FromHex("0102"), t)), View(t)));
  CHECK(EndsWithSifTrailer(View(t), View(t)));  // the trailer alone (empty payload)
  CHECK(!EndsWithSifTrailer({t.data(), t.size() - 1}, View(t)));
  CHECK(!EndsWithSifTrailer(View(fctest::Cat(t, {0})), View(t)));
  CHECK(!EndsWithSifTrailer(View(t), {nullptr, 0}));  // no trailer configured: nothing is SIF
  CHECK(!EndsWithSifTrailer({nullptr, 0}, View(t)));
}

// ---------------------------------------------------------------------------
// LKTS packet trailer

TEST(lkts, known_bytes) {
  // Timestamp 0x0102030405060708 and frame id 0x0a0b0c0d: every byte XOR ff,
  // then the length (10 + 6 + 5 = 21) XOR ff, then "LKTS".
  const Bytes t = Trailer(true, 0x0102030405060708ULL, true, 0x0a0b0c0d, {});
  CHECK_EQ(t, FromHex("fef7fefdfcfbfaf9f8f7fdfbf5f4f3f2ea4c4b5453"));
}

TEST(lkts, round_trip_all_combinations) {
  const Bytes frame = FromHex("aabbccddeeff00112233");
  for (int ts = 0; ts < 2; ++ts) {
    for (int id = 0; id < 2; ++id) {
      for (size_t ud_len : {0, 1, 7, 200}) {
        const Bytes ud(ud_len, 0x5c);
        if (PacketTrailerSize(ts != 0, id != 0, ud_len) > kPacketTrailerMaxSize) continue;
        const Bytes t = Trailer(ts != 0, 0xfedcba9876543210ULL, id != 0, 0xdeadbeef, ud);
        const Bytes wire = fctest::Cat(frame, t);
        PacketTrailer p;
        const bool found = ParsePacketTrailer(View(wire), &p);
        if (!ts && !id && ud_len == 0) {
          CHECK(t.empty());
          CHECK(!found);
          CHECK_EQ(p.stripped_size, wire.size());
          continue;
        }
        REQUIRE(found);
        CHECK_EQ(p.stripped_size, frame.size());
        CHECK_EQ(p.has_timestamp, ts != 0);
        if (ts) CHECK_EQ(p.user_timestamp, 0xfedcba9876543210ULL);
        CHECK_EQ(p.has_frame_id, id != 0);
        if (id) CHECK_EQ(p.frame_id, 0xdeadbeefu);
        CHECK_EQ(p.has_user_data, ud_len != 0);
        if (ud_len) {
          REQUIRE(p.user_data_offset + p.user_data_size <= wire.size() - kPacketTrailerEnvelope);
          Bytes got = fctest::Slice(wire, p.user_data_offset, p.user_data_size);
          for (auto& b : got) b ^= 0xff;
          CHECK_EQ(got, ud);
        }
      }
    }
  }
}

TEST(lkts, malformed_trailers_are_not_parsed) {
  const Bytes frame = FromHex("aabbccdd");
  const Bytes good = Trailer(true, 42, false, 0, {});
  PacketTrailer p;
  REQUIRE(ParsePacketTrailer(View(fctest::Cat(frame, good)), &p));
  auto rejected = [&](const Bytes& wire) {
    PacketTrailer q;
    q.stripped_size = 12345;
    const bool found = ParsePacketTrailer(View(wire), &q);
    CHECK(!found);
    CHECK_EQ(q.stripped_size, wire.size());
    CHECK(!q.has_timestamp && !q.has_frame_id && !q.has_user_data);
  };
  // Bad magic.
  Bytes bad = fctest::Cat(frame, good);
  bad.back() = 'X';
  rejected(bad);
  // Length larger than the frame, and smaller than the envelope.
  bad = good;
  bad[bad.size() - 5] = static_cast<uint8_t>(200 ^ 0xff);
  rejected(bad);
  for (uint8_t len = 0; len < 5; ++len) {
    bad = fctest::Cat(frame, good);
    bad[bad.size() - 5] = static_cast<uint8_t>(len ^ 0xff);
    rejected(bad);
  }
  // Only unknown tags, or a known tag with the wrong length.
  rejected(fctest::Cat(frame, FromHex("fbfd0000f64c4b5453")));  // tag 4, 2 bytes
  rejected(fctest::Cat(frame, FromHex("fefd0000f64c4b5453")));  // timestamp with 2 bytes
  // A TLV whose length runs past the envelope.
  rejected(fctest::Cat(frame, FromHex("fef0f84c4b5453")));
  // Just the envelope, no TLV; shorter than the envelope.
  rejected(FromHex("fa4c4b5453"));
  rejected(FromHex("4c4b5453"));
  rejected({});
}

TEST(lkts, unknown_tags_are_skipped) {
  // Unknown tag 0x09 with 3 bytes, then a frame id.
  const Bytes tlvs = FromHex("f6fc111111" "fdfb" "fffffffe");
  Bytes wire = fctest::Cat(FromHex("0102"), tlvs);
  wire.push_back(static_cast<uint8_t>((tlvs.size() + 5) ^ 0xff));
  wire = fctest::Cat(wire, fctest::Str("LKTS"));
  PacketTrailer p;
  REQUIRE(ParsePacketTrailer(View(wire), &p));
  CHECK(p.has_frame_id);
  CHECK_EQ(p.frame_id, 1u);
  CHECK_EQ(p.stripped_size, 2u);
}
