// Fuzz target: every parser of the core on arbitrary bytes, each compared with
// a naive restatement (reference.h) where one exists: trailer, NAL unit
// scanning, start-code normalization, layouts, RBSP escape/unescape (also in
// place, with the minimal gap the encrypt path relies on), SIF, LKTS.
#include <cstring>

#include "framecryptor/codec.h"
#include "framecryptor/cryptor.h"
#include "framecryptor/frame.h"
#include "framecryptor/nalu.h"
#include "framecryptor/packet_trailer.h"
#include "framecryptor/rbsp.h"
#include "framecryptor/sif.h"
#include "fuzz_util.h"
#include "reference.h"

using namespace framecryptor;
using fcfuzz::Bytes;

namespace {

void Trailer(ByteView in) {
  TrailerInfo t;
  const Status st = ReadTrailer(in, &t);
  if (in.size < kFrameOverhead) {
    FUZZ_CHECK(st == Status::kFrameTooShort);
    return;
  }
  FUZZ_CHECK(t.key_index == in[in.size - 1] && t.iv_length == in[in.size - 2]);
  FUZZ_CHECK((st == Status::kOk) == (t.iv_length == 12));
  FUZZ_CHECK(st == Status::kOk || st == Status::kBadTrailer);
}

void Nal(ByteView in) {
  bool leading = false;
  const std::vector<size_t> units = FindNalUnits(in, &leading);
  const auto ref = fcref::FindNalUnits(in.data, in.size);
  FUZZ_CHECK(leading == !ref.has_value());
  FUZZ_CHECK(ref ? units == *ref : units.empty());
  for (size_t u : units) FUZZ_CHECK(u + 3 < in.size);
  for (bool stop : {false, true}) {
    const AnnexBScan s = ScanAnnexB(in, stop);
    FUZZ_CHECK(s.leading_data == leading);
    if (!stop) FUZZ_CHECK(s.units == units.size());
    if (s.first_h264_slice != SIZE_MAX) FUZZ_CHECK(IsH264Slice(in[s.first_h264_slice]));
    if (s.first_h265_slice != SIZE_MAX) FUZZ_CHECK(IsH265Slice(in[s.first_h265_slice]));
  }
  // Start-code normalization.
  const size_t extra = CountShortStartCodes(in);
  Bytes norm(in.size + extra);
  FUZZ_CHECK(NormalizeStartCodes(in, norm.data()) == norm.size());
  FUZZ_CHECK(norm == fcref::NormalizeStartCodes(in.data, in.size));
  FUZZ_CHECK(CountShortStartCodes({norm.data(), norm.size()}) == 0);
}

void Layouts(ByteView in) {
  for (int c = 0; c < kCodecCount; ++c) {
    for (bool kf : {false, true}) {
      const FrameLayout l = JsLayout(static_cast<Codec>(c), kf, in);
      const fcref::Layout ref = fcref::JsLayout(c, kf, in.data, in.size);
      FUZZ_CHECK(l.header_len == ref.header_len && l.nal == ref.nal);
      if (l.nal) FUZZ_CHECK(l.header_len + 1 < in.size);
    }
    for (int kf = -1; kf <= 1; ++kf) {
      DecryptParams p;
      p.codec = static_cast<Codec>(c);
      p.key_frame = kf;
      FrameLayout out[6];
      const size_t n = ReceiverLayouts(p, in, out);
      FUZZ_CHECK(n >= 1 && n <= 6);
      for (size_t i = 0; i < n; ++i) {
        FUZZ_CHECK(!out[i].nal || IsAnnexB(p.codec));
        for (size_t j = i + 1; j < n; ++j) FUZZ_CHECK(out[i] != out[j]);
      }
    }
  }
}

void Rbsp(ByteView in) {
  const Bytes ref = fcref::EscapeRbsp(in.data, in.size);
  FUZZ_CHECK(RbspEscapedSize(in) == ref.size());
  FUZZ_CHECK(ref.size() <= RbspEscapedBound(in.size));
  Bytes esc(ref.size());
  FUZZ_CHECK(RbspEscape(in, esc.data()) == esc.size());
  FUZZ_CHECK(esc == ref);
  // In place, forward, with exactly the gap the inserted bytes need.
  const size_t gap = ref.size() - in.size;
  Bytes buf(ref.size());
  if (in.size) std::memcpy(buf.data() + gap, in.data, in.size);
  FUZZ_CHECK(RbspEscape({buf.data() + gap, in.size}, buf.data()) == ref.size());
  FUZZ_CHECK(buf == ref);
  // Unescape: reference, in place, and the round trip.
  const Bytes uref = fcref::UnescapeRbsp(in.data, in.size);
  Bytes un(in.size);
  un.resize(RbspUnescape(in, un.data()));
  FUZZ_CHECK(un == uref);
  Bytes inplace(in.data, in.data + in.size);
  inplace.resize(RbspUnescape({inplace.data(), inplace.size()}, inplace.data()));
  FUZZ_CHECK(inplace == uref);
  Bytes back(esc.size());
  back.resize(RbspUnescape({esc.data(), esc.size()}, back.data()));
  FUZZ_CHECK(back == Bytes(in.data, in.data + in.size));
  FUZZ_CHECK(RbspNeedsUnescape(in) == fcref::NeedsUnescape(in.data, in.size));
}

void Sif(ByteView in) {
  for (int c = 0; c < kCodecCount; ++c) {
    const char* name = IdentifySifPayload(static_cast<Codec>(c), in);
    if (name) FUZZ_CHECK(std::strlen(name) > 0);
  }
  // The input's first bytes as the room's SIF trailer.
  const size_t tlen = in.size ? 1 + in[0] % 16 : 0;
  if (tlen <= in.size) {
    const ByteView trailer = in.first(tlen);
    const bool ends = EndsWithSifTrailer(in, trailer);
    FUZZ_CHECK(ends == (tlen > 0 && std::memcmp(in.data + in.size - tlen, trailer.data, tlen) == 0));
    SifPolicy pol;
    pol.SetTrailer(trailer);
    size_t payload = SIZE_MAX;
    const char* name = nullptr;
    const auto v = pol.Check(Codec::kVP8, in, &payload, &name);
    FUZZ_CHECK((v == SifPolicy::Verdict::kNotSif) == !ends);
    if (v == SifPolicy::Verdict::kForward) FUZZ_CHECK(payload == in.size - tlen && name != nullptr);
  }
}

void Lkts(ByteView in) {
  PacketTrailer t;
  const bool found = ParsePacketTrailer(in, &t);
  if (!found) {
    FUZZ_CHECK(t.stripped_size == in.size && !t.has_timestamp && !t.has_frame_id && !t.has_user_data);
    return;
  }
  FUZZ_CHECK(t.has_timestamp || t.has_frame_id || t.has_user_data);
  FUZZ_CHECK(t.stripped_size + kPacketTrailerEnvelope <= in.size);
  FUZZ_CHECK(in.size - t.stripped_size <= kPacketTrailerMaxSize);
  if (t.has_user_data)
    FUZZ_CHECK(t.user_data_offset >= t.stripped_size + 2 &&
               t.user_data_offset + t.user_data_size <= in.size - kPacketTrailerEnvelope);
  // Rewriting what was parsed and parsing it again gives the same fields.
  Bytes ud;
  if (t.has_user_data)
    for (size_t i = 0; i < t.user_data_size; ++i) ud.push_back(in[t.user_data_offset + i] ^ 0xff);
  const size_t n = PacketTrailerSize(t.has_timestamp, t.has_frame_id, ud.size());
  if (n == 0 || n > kPacketTrailerMaxSize) return;
  Bytes w(n);
  FUZZ_CHECK(WritePacketTrailer(t.has_timestamp, t.user_timestamp, t.has_frame_id, t.frame_id,
                                {ud.data(), ud.size()}, w.data()) == n);
  PacketTrailer t2;
  FUZZ_CHECK(ParsePacketTrailer({w.data(), w.size()}, &t2));
  FUZZ_CHECK(t2.stripped_size == 0 && t2.has_timestamp == t.has_timestamp && t2.has_frame_id == t.has_frame_id);
  if (t.has_timestamp) FUZZ_CHECK(t2.user_timestamp == t.user_timestamp);
  if (t.has_frame_id) FUZZ_CHECK(t2.frame_id == t.frame_id);
  FUZZ_CHECK(t2.has_user_data == !ud.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Bytes copy(data, data + size);  // exact-size allocation
  const ByteView in(copy.data(), copy.size());
  Trailer(in);
  Nal(in);
  Layouts(in);
  Rbsp(in);
  Sif(in);
  Lkts(in);
  return 0;
}
