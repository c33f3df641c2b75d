// The LiveKit E2EE media frame format:
//
//   [clear header: N][AES-GCM(rest) ciphertext][tag: 16][IV: 12][0x0C][key index]
//
// AAD = the clear header. For H.264/H.265 with a slice found, everything after
// the header is RBSP-escaped and 3-byte start codes in the header are written
// as 4-byte ones (what a WebRTC depacketizer delivers to the receiver).
#pragma once

#include <cstddef>
#include <cstdint>

#include "framecryptor/bytes.h"
#include "framecryptor/codec.h"
#include "framecryptor/crypto.h"
#include "framecryptor/status.h"

namespace framecryptor {

constexpr size_t kTrailerSize = 2;                          // IV length, key index
constexpr size_t kFrameOverhead = kTagSize + kIvSize + kTrailerSize;  // 30
constexpr uint8_t kIvLengthByte = static_cast<uint8_t>(kIvSize);

struct EncryptParams {
  Codec codec = Codec::kVP8;
  bool key_frame = false;
  uint8_t key_index = 0;
  // Rewrite 3-byte start codes in an H.26x clear header to 4-byte ones, as
  // livekit-client does (the receiving depacketizer does the same).
  bool normalize_start_codes = true;
  // For frames without a slice (the VP8-rule fallback), how many IVs to try
  // before giving up on a frame that receivers would parse differently.
  int layout_attempts = 16;
};

// Output capacity that is always enough for EncryptFrame on an n-byte frame.
size_t EncryptedSizeBound(Codec codec, size_t n);
// Output capacity that is enough in practice (exact for non-H.26x codecs):
// EncryptFrame returns kOutputTooSmall in the rare case it is not, and the
// caller retries with EncryptedSizeBound (under a new IV). Allocating the bound
// for every H.26x frame costs page faults for memory that is never written.
size_t EncryptedSizeHint(Codec codec, size_t n);
// Output capacity that is always enough for DecryptFrame on an n-byte frame.
size_t DecryptedSizeBound(Codec codec, size_t n);

// Encrypts one frame into out (capacity >= EncryptedSizeBound, or the hint,
// see above) and returns the size written. Empty frames are not encrypted (size 0 is returned).
// Errors: kFrameTooShort (shorter than the clear header), kIvExhausted,
// kUnstableLayout, kOutputTooSmall, kTooLarge, kInternal. On error nothing in
// out may be used: it is wiped.
// If layout_used is given it receives the layout of the output frame.
Result EncryptFrame(AesGcmKey& key, const EncryptParams& p, ByteView in, MutByteView out,
                    FrameLayout* layout_used = nullptr);

// Trailer fields readable without a key.
struct TrailerInfo {
  uint8_t key_index = 0;
  uint8_t iv_length = 0;
};
// kFrameTooShort if frame.size < 2 + 12 + 16, kBadTrailer if the IV-length byte is not 12.
Status ReadTrailer(ByteView frame, TrailerInfo* out);

// key_frame for decryption: -1 = unknown (VP8: read from the frame tag;
// H.26x fallback: try both rules).
struct DecryptParams {
  Codec codec = Codec::kVP8;
  int key_frame = -1;
};

// Decrypts one received frame into out (capacity >= DecryptedSizeBound).
// Tries, in order, every layout a LiveKit sender could have used for this
// frame (livekit-client's, native's H.26x rules) and returns the first that
// authenticates. kAuthFailed when none does (out wiped).
// iv_out, if given, receives the IV of the frame that authenticated.
Result DecryptFrame(const AesGcmKey& key, const DecryptParams& p, ByteView in, MutByteView out,
                    FrameLayout* layout_used = nullptr, uint8_t* iv_out = nullptr);

// The candidate layouts DecryptFrame tries, most likely first; returns count.
size_t ReceiverLayouts(const DecryptParams& p, ByteView in, FrameLayout out[6]);

}  // namespace framecryptor
