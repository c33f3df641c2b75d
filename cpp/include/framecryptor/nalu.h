// Annex-B NAL unit scanning with the exact semantics of livekit-client's
// findNALUIndices, so sender and receiver agree on where the clear header ends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "framecryptor/bytes.h"

namespace framecryptor {

// Calls visit(offset) for each NAL unit, offset being the first byte after its
// start code, in order; visit returns false to stop early.
// Rules (as livekit-client): 3- and 4-byte start codes; a NAL unit starting in
// the last 3 bytes is not reported; returns false ("leading data") when a
// non-zero byte precedes the first start code, or when there is no start code
// and the data is not all zeros. Frames of 3 bytes or fewer have no units.
template <typename Visit>
bool ForEachNalUnit(ByteView s, Visit&& visit);

// Convenience: all unit offsets (empty on leading data).
std::vector<size_t> FindNalUnits(ByteView s, bool* leading_data = nullptr);

inline bool IsH264Slice(uint8_t nal_header) {
  const uint8_t t = nal_header & 0x1f;
  return t == 1 || t == 5;  // non-IDR slice, IDR slice
}
inline bool IsH265Slice(uint8_t nal_header) {
  const uint8_t t = (nal_header >> 1) & 0x3f;
  return t <= 9 || (t >= 16 && t <= 21);  // VCL: TRAIL..RASL_R, BLA..CRA
}

// Number of 3-byte start codes (00 00 01 not preceded by 00) in s.
size_t CountShortStartCodes(ByteView s);
// Copies s to out rewriting each 3-byte start code to 00 00 00 01; returns the
// size written (s.size + CountShortStartCodes(s)). out must not overlap s.
size_t NormalizeStartCodes(ByteView s, uint8_t* out);

// ---------------------------------------------------------------------------

namespace detail {
// Smallest q in [from, limit) with s[q..q+2] == 00 00 01, or SIZE_MAX.
size_t FindStartCode3(ByteView s, size_t from, size_t limit);
}  // namespace detail

template <typename Visit>
bool ForEachNalUnit(ByteView s, Visit&& visit) {
  const size_t n = s.size;
  if (n <= 3) return true;
  const size_t search_end = n - 3;
  size_t pos = 0;
  size_t start = 0;
  bool first = true;
  while (pos < search_end) {
    const size_t q = detail::FindStartCode3(s, pos, search_end);
    size_t code_at = n;  // where the next start code begins (n: none)
    if (q != SIZE_MAX) {
      // A 4-byte code 00 00 00 01 is seen one byte earlier, if it fits.
      code_at = (q > pos && s[q - 1] == 0 && q - 1 + 4 < n) ? q - 1 : q;
    }
    if (first) {
      // Everything before the first start code must be zero padding.
      for (size_t i = 0; i < code_at; ++i)
        if (s[i] != 0) return false;
      first = false;
    } else if (!visit(start)) {
      return true;
    }
    if (q == SIZE_MAX) break;
    start = pos = q + 3;
  }
  return true;
}

}  // namespace framecryptor
