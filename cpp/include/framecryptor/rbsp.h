// H.264/H.265 emulation prevention ("RBSP escaping") as LiveKit applies it to
// the encrypted part of a frame: after two 0x00 bytes, a byte <= 0x03 gets an
// 0x03 inserted before it. The zero counter starts at 0 at the first byte.
#pragma once

#include <cstddef>
#include <cstdint>

#include "framecryptor/bytes.h"

namespace framecryptor {

// Size of rbsp_escape(in).
size_t RbspEscapedSize(ByteView in);

// Upper bound of the escaped size of any n bytes.
constexpr size_t RbspEscapedBound(size_t n) { return n + n / 2; }

// Writes the escaped form of in to out and returns its size.
// out may overlap in only from below: out <= in.data and
// in.data - out >= (escaped size - in.size). With that gap the forward pass
// never overwrites a byte before reading it (the encrypt path escapes in place
// this way, into a single output allocation).
size_t RbspEscape(ByteView in, uint8_t* out);

// True when in contains 00 00 03 starting before its last three bytes (the
// receiver's test for "unescape needed", kept identical to livekit-client).
bool RbspNeedsUnescape(ByteView in);

// Removes emulation prevention bytes (every 03 in 00 00 03) and returns the
// size written. out may equal in.data (in place) or not overlap it.
size_t RbspUnescape(ByteView in, uint8_t* out);

}  // namespace framecryptor
