// H.264/H.265 emulation prevention ("RBSP escaping") as LiveKit applies it to
// the encrypted part of a frame: after two 0x00 bytes, a byte <= 0x03 gets an
// 0x03 inserted before it. The zero counter starts at 0 at the first byte.
//
// Everything here is driven by FindZeroPair, a vectorized search for two
// consecutive zero bytes: in ciphertext they occur about once per 64 KiB, so
// scanning costs a fraction of the AES-GCM pass.
#pragma once

#include <cstddef>
#include <cstdint>

#include "framecryptor/bytes.h"

namespace framecryptor {

// First p in [begin, end - 1) with p[0] == 0 && p[1] == 0, or end.
const uint8_t* FindZeroPair(const uint8_t* begin, const uint8_t* end);

// Size of RbspEscape(in).
size_t RbspEscapedSize(ByteView in);

// Upper bound of the escaped size of any n bytes.
constexpr size_t RbspEscapedBound(size_t n) { return n + n / 2; }

// Writes the escaped form of in to out and returns its size.
// out may overlap in only from below: out <= in.data and
// in.data - out >= (escaped size - in.size). With that gap the forward pass
// never overwrites a byte before reading it.
size_t RbspEscape(ByteView in, uint8_t* out);

// Indices i of in before which escaping inserts 0x03, in order. Writes at most
// max of them to points and returns how many there are in total.
size_t RbspEscapePoints(ByteView in, uint32_t* points, size_t max);

// Escapes data[0, n) in place, growing it to n + count bytes, given its
// escape points (all count of them, from RbspEscapePoints). data must have room.
void RbspEscapeInPlace(uint8_t* data, size_t n, const uint32_t* points, size_t count);

// True when in contains 00 00 03 starting before its last three bytes (the
// receiver's test for "unescape needed", kept identical to livekit-client).
bool RbspNeedsUnescape(ByteView in);

// Indices of the emulation prevention bytes (every 03 preceded by 00 00),
// in order; same contract as RbspEscapePoints.
size_t RbspUnescapePoints(ByteView in, uint32_t* points, size_t max);

// Removes emulation prevention bytes (every 03 in 00 00 03) and returns the
// size written. out may equal in.data (in place) or not overlap it.
size_t RbspUnescape(ByteView in, uint8_t* out);

// Escape points of a stream fed in pieces (points are offsets from the first
// byte fed). Feeding a block in pieces gives the same points as
// RbspEscapePoints on the whole block.
class RbspEscapeScanner {
 public:
  RbspEscapeScanner(uint32_t* points, size_t max) : points_(points), max_(max) {}
  void Feed(const uint8_t* data, size_t n);
  size_t count() const { return count_; }

 private:
  uint32_t* points_;
  size_t max_;
  size_t count_ = 0;
  size_t offset_ = 0;
  int zeros_ = 0;
};

// Detects an emulation prevention byte (00 00 03) in a stream fed in pieces,
// patterns straddling pieces included. Feed returns false once one is seen.
class RbspPatternDetector {
 public:
  bool Feed(const uint8_t* data, size_t n);

 private:
  size_t seen_ = 0;  // bytes fed so far (up to 2 matter)
  uint8_t prev_[2] = {1, 1};
};

}  // namespace framecryptor
