#include "framecryptor/nalu.h"

#include "framecryptor/rbsp.h"

#include <cstring>

namespace framecryptor {

namespace detail {

size_t FindStartCode3(ByteView s, size_t from, size_t limit) {
  // Every start code begins with a zero pair; pairs are rare in compressed and
  // encrypted payloads, so the vectorized pair search does most of the work.
  const uint8_t* const end = s.data + s.size;
  size_t q = from;
  while (q < limit) {
    q = static_cast<size_t>(FindZeroPair(s.data + q, end) - s.data);
    if (q >= limit || q + 2 >= s.size) return SIZE_MAX;
    if (s[q + 2] == 1) return q;
    ++q;
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
  if (s.size > copied) std::memcpy(out + o, s.data + copied, s.size - copied);  // may be null when empty
  return o + s.size - copied;
}

}  // namespace framecryptor
