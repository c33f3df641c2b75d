#include "framecryptor/nalu.h"

#include <cstring>

namespace framecryptor {

namespace detail {

size_t FindStartCode3(ByteView s, size_t from, size_t limit) {
  // Look for the 0x01 of 00 00 01 with memchr, then check the two zeros
  // before it: 0x01 is rare in compressed and encrypted payloads.
  if (limit <= from) return SIZE_MAX;
  size_t scan = from + 2;          // first possible position of the 0x01
  const size_t scan_end = limit + 2;  // q < limit  <=>  q + 2 < limit + 2
  while (scan < scan_end) {
    const void* hit = std::memchr(s.data + scan, 0x01, scan_end - scan);
    if (hit == nullptr) return SIZE_MAX;
    const size_t r = static_cast<size_t>(static_cast<const uint8_t*>(hit) - s.data);
    if (s[r - 1] == 0 && s[r - 2] == 0) return r - 2;
    scan = r + 1;
  }
  return SIZE_MAX;
}

}  // namespace detail

std::vector<size_t> FindNalUnits(ByteView s, bool* leading_data) {
  std::vector<size_t> out;
  const bool ok = ForEachNalUnit(s, [&](size_t off) {
    out.push_back(off);
    return true;
  });
  if (leading_data) *leading_data = !ok;
  if (!ok) out.clear();
  return out;
}

size_t CountShortStartCodes(ByteView s) {
  size_t count = 0;
  for (size_t q = 0; (q = detail::FindStartCode3(s, q, s.size >= 2 ? s.size - 2 : 0)) != SIZE_MAX; q += 3) {
    if (q == 0 || s[q - 1] != 0) ++count;
  }
  return count;
}

size_t NormalizeStartCodes(ByteView s, uint8_t* out) {
  size_t o = 0;
  size_t copied = 0;
  const size_t limit = s.size >= 2 ? s.size - 2 : 0;
  for (size_t q = 0; (q = detail::FindStartCode3(s, q, limit)) != SIZE_MAX; q += 3) {
    if (q == 0 || s[q - 1] != 0) {
      std::memcpy(out + o, s.data + copied, q - copied);
      o += q - copied;
      out[o++] = 0;  // the extra leading zero of a 4-byte start code
      copied = q;
    }
  }
  std::memcpy(out + o, s.data + copied, s.size - copied);
  return o + s.size - copied;
}

}  // namespace framecryptor
