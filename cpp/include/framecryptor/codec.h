// Per-codec rules for the clear (unencrypted, authenticated) frame header.
#pragma once

#include <cstddef>
#include <cstdint>

#include "framecryptor/bytes.h"
#include "framecryptor/status.h"

namespace framecryptor {

enum class Codec : uint8_t { kOpus = 0, kVP8 = 1, kVP9 = 2, kAV1 = 3, kH264 = 4, kH265 = 5 };
constexpr int kCodecCount = 6;
bool IsValidCodec(int c);
const char* CodecName(Codec c);
inline bool IsAnnexB(Codec c) { return c == Codec::kH264 || c == Codec::kH265; }

// Where the clear header ends and whether the rest is RBSP-escaped.
struct FrameLayout {
  size_t header_len = 0;
  bool nal = false;  // H.264/H.265 with a slice found: escape after the header

  bool operator==(const FrameLayout& o) const { return header_len == o.header_len && nal == o.nal; }
  bool operator!=(const FrameLayout& o) const { return !(*this == o); }
};

// What the H.26x scan found (for inspection and for layout decisions).
struct AnnexBScan {
  bool leading_data = false;       // bytes before the first start code
  size_t units = 0;                // NAL units reported
  size_t first_h264_slice = SIZE_MAX;
  size_t first_h265_slice = SIZE_MAX;
};
AnnexBScan ScanAnnexB(ByteView frame, bool stop_at_h264_slice);

// VP8 rule: 10 clear bytes on key frames, 3 on delta frames.
inline size_t Vp8HeaderLen(bool key_frame) { return key_frame ? 10 : 3; }
// VP8 frame tag: bit 0 of byte 0 is 0 on key frames.
inline bool Vp8IsKeyFrame(ByteView frame) { return !frame.empty() && (frame[0] & 1) == 0; }

// The layout livekit-client derives for a frame (its getUnencryptedBytes):
// Opus 1; VP8 10/3; VP9 0; AV1 0 (native's rule; livekit-client refuses AV1);
// H.264/H.265: first H.264 slice anywhere, else first H.265 slice, at offset
// + 2 with escaping; no slice or leading data: the VP8 rule without escaping.
// Senders apply it to the plaintext, receivers to the received frame, so it
// does not check that the frame is long enough.
FrameLayout JsLayout(Codec codec, bool key_frame, ByteView frame);

}  // namespace framecryptor
