#include "framecryptor/codec.h"

#include "framecryptor/nalu.h"

namespace framecryptor {

bool IsValidCodec(int c) { return c >= 0 && c < kCodecCount; }

const char* CodecName(Codec c) {
  switch (c) {
    case Codec::kOpus:
      return "opus";
    case Codec::kVP8:
      return "vp8";
    case Codec::kVP9:
      return "vp9";
    case Codec::kAV1:
      return "av1";
    case Codec::kH264:
      return "h264";
    case Codec::kH265:
      return "h265";
  }
  return "unknown";
}

AnnexBScan ScanAnnexB(ByteView frame, bool stop_at_h264_slice) {
  AnnexBScan r;
  const bool ok = ForEachNalUnit(frame, [&](size_t off) {
    ++r.units;
    const uint8_t h = frame[off];
    if (r.first_h264_slice == SIZE_MAX && IsH264Slice(h)) {
      r.first_h264_slice = off;
      if (stop_at_h264_slice) return false;
    }
    if (r.first_h265_slice == SIZE_MAX && IsH265Slice(h)) r.first_h265_slice = off;
    return true;
  });
  r.leading_data = !ok;
  if (!ok) r = AnnexBScan{true, 0, SIZE_MAX, SIZE_MAX};
  return r;
}

FrameLayout JsLayout(Codec codec, bool key_frame, ByteView frame) {
  switch (codec) {
    case Codec::kOpus:
      return {1, false};
    case Codec::kVP8:
      return {Vp8HeaderLen(key_frame), false};
    case Codec::kVP9:
    case Codec::kAV1:
      return {0, false};
    case Codec::kH264:
    case Codec::kH265: {
      // An H.264 slice anywhere outranks an H.265 one (livekit-client detects
      // the codec from the bytes first), so the scan may stop at it.
      const AnnexBScan scan = ScanAnnexB(frame, /*stop_at_h264_slice=*/true);
      if (scan.first_h264_slice != SIZE_MAX) return {scan.first_h264_slice + 2, true};
      if (scan.first_h265_slice != SIZE_MAX) return {scan.first_h265_slice + 2, true};
      return {Vp8HeaderLen(key_frame), false};
    }
  }
  return {0, false};
}

}  // namespace framecryptor
