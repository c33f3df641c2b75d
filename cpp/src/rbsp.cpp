#include "framecryptor/rbsp.h"

#include <cstring>

namespace framecryptor {

namespace {

// Runs of non-zero bytes never need escaping, so the scanners jump between
// zero bytes with memchr and only step byte by byte inside zero runs.
inline const uint8_t* next_zero(const uint8_t* p, const uint8_t* end) {
  return p < end ? static_cast<const uint8_t*>(std::memchr(p, 0, static_cast<size_t>(end - p))) : nullptr;
}

// Shared escaping walk; Sink receives (run pointer, run length) for copies
// and Emit(byte) for single bytes.
template <typename CopyRun, typename EmitByte>
void escape_walk(ByteView in, CopyRun copy_run, EmitByte emit) {
  const uint8_t* p = in.data;
  const uint8_t* const end = in.data + in.size;
  int zeros = 0;
  while (p < end) {
    if (zeros == 0) {
      const uint8_t* z = next_zero(p, end);
      const uint8_t* stop = z ? z : end;
      if (stop > p) {
        copy_run(p, static_cast<size_t>(stop - p));
        p = stop;
      }
      if (p == end) break;
    }
    // Inside or at the start of a zero run: byte at a time until a non-zero byte.
    do {
      const uint8_t b = *p++;
      if (zeros >= 2 && b <= 3) {
        emit(uint8_t{3});
        zeros = 0;
      }
      emit(b);
      zeros = (b == 0) ? zeros + 1 : 0;
    } while (p < end && zeros > 0);
  }
}

}  // namespace

size_t RbspEscapedSize(ByteView in) {
  size_t n = 0;
  escape_walk(
      in, [&](const uint8_t*, size_t len) { n += len; }, [&](uint8_t) { ++n; });
  return n;
}

size_t RbspEscape(ByteView in, uint8_t* out) {
  size_t o = 0;
  escape_walk(
      in,
      [&](const uint8_t* src, size_t len) {
        std::memmove(out + o, src, len);  // memmove: out may sit below in
        o += len;
      },
      [&](uint8_t b) { out[o++] = b; });
  return o;
}

bool RbspNeedsUnescape(ByteView in) {
  if (in.size < 4) return false;
  const size_t limit = in.size - 3;  // start positions 0 .. size-4
  const uint8_t* p = in.data;
  const uint8_t* const end = in.data + limit;
  while ((p = next_zero(p, end)) != nullptr) {
    if (p[1] == 0 && p[2] == 3) return true;
    ++p;
  }
  return false;
}

size_t RbspUnescape(ByteView in, uint8_t* out) {
  const uint8_t* const base = in.data;
  const size_t n = in.size;
  size_t i = 0;  // next input byte not yet copied
  size_t o = 0;
  size_t scan = 0;
  while (scan + 2 < n) {
    const uint8_t* z = static_cast<const uint8_t*>(std::memchr(base + scan, 0, n - 2 - scan));
    if (z == nullptr) break;
    const size_t p = static_cast<size_t>(z - base);
    if (base[p + 1] == 0 && base[p + 2] == 3) {
      // Keep the two zeros, drop the 03, continue right after it.
      const size_t run = p + 2 - i;
      if (out + o != base + i) std::memmove(out + o, base + i, run);
      o += run;
      i = p + 3;
      scan = i;
    } else {
      scan = p + 1;
    }
  }
  if (i < n) {
    if (out + o != base + i) std::memmove(out + o, base + i, n - i);
    o += n - i;
  }
  return o;
}

}  // namespace framecryptor
