#include "framecryptor/rbsp.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace framecryptor {

namespace {

const uint8_t* find_zero_pair_scalar(const uint8_t* p, const uint8_t* end) {
  for (; end - p >= 2; ++p) {
    if (p[0] == 0 && p[1] == 0) return p;
  }
  return end;
}

#if defined(__SSE2__)
// Compare 16 bytes and the 16 bytes one further with zero; AND the masks:
// bit i is set when p[i] and p[i + 1] are both zero.
const uint8_t* find_zero_pair_sse2(const uint8_t* p, const uint8_t* end) {
  const __m128i zero = _mm_setzero_si128();
  while (end - p >= 17) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
    const int mask = _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, zero), _mm_cmpeq_epi8(b, zero)));
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
  return find_zero_pair_scalar(p, end);
}
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FRAMECRYPTOR_HAVE_AVX2_PATH 1
// The same with 32-byte vectors, compiled for AVX2 and chosen at run time.
// One load per 32 bytes: a 64-bit mask of the zero bytes of 64 bytes, ANDed
// with itself shifted by one, marks pairs inside the block; the pair across
// the block edge is checked on the byte after it.
__attribute__((target("avx2"))) const uint8_t* find_zero_pair_avx2(const uint8_t* p, const uint8_t* end) {
  const __m256i zero = _mm256_setzero_si256();
  while (end - p >= 65) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    const uint64_t lo = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, zero)));
    const uint64_t hi = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, zero)));
    const uint64_t m = lo | (hi << 32);
    const uint64_t pairs = m & ((m >> 1) | (static_cast<uint64_t>(p[64] == 0) << 63));
    if (pairs != 0) return p + __builtin_ctzll(pairs);
    p += 64;
  }
  return find_zero_pair_sse2(p, end);
}
#endif

#if defined(FRAMECRYPTOR_HAVE_AVX2_PATH)
// AVX-512BW compares 64 bytes into a mask register at once.
__attribute__((target("avx512bw"))) const uint8_t* find_zero_pair_avx512(const uint8_t* p, const uint8_t* end) {
  const __m512i zero = _mm512_setzero_si512();
  while (end - p >= 65) {
    const uint64_t m = _mm512_cmpeq_epi8_mask(_mm512_loadu_si512(p), zero);
    const uint64_t pairs = m & ((m >> 1) | (static_cast<uint64_t>(p[64] == 0) << 63));
    if (pairs != 0) return p + __builtin_ctzll(pairs);
    p += 64;
  }
  return find_zero_pair_sse2(p, end);
}
#endif

using FindFn = const uint8_t* (*)(const uint8_t*, const uint8_t*);

FindFn pick_find_zero_pair() {
#if defined(FRAMECRYPTOR_HAVE_AVX2_PATH)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bw")) return find_zero_pair_avx512;
  if (__builtin_cpu_supports("avx2")) return find_zero_pair_avx2;
#endif
#if defined(__SSE2__)
  return find_zero_pair_sse2;
#else
  return find_zero_pair_scalar;
#endif
}

}  // namespace

const uint8_t* FindZeroPair(const uint8_t* p, const uint8_t* end) {
  // Chosen on first use (a function-local static: safe whatever the order of
  // static initialization in other files).
  static const FindFn impl = pick_find_zero_pair();
  return impl(p, end);
}

namespace {

// The escaping state machine over data[0, n), calling point(i) for each
// insertion point. zeros carries the zero counter from a previous piece (0 at
// the start of a block) and is left for the next one. Non-zero stretches are
// skipped with FindZeroPair: a pair is the only place where the counter can
// reach 2, and after a non-zero byte it is back to 0.
template <typename OnPoint>
void escape_points(const uint8_t* data, size_t n, int& zeros, OnPoint&& point) {
  size_t i = 0;
  while (i < n) {
    if (zeros == 0) {
      // Skip to the next zero pair; a lone zero ending the piece may pair with the next piece.
      const size_t p = static_cast<size_t>(FindZeroPair(data + i, data + n) - data);
      if (p >= n) {
        zeros = data[n - 1] == 0 ? 1 : 0;
        return;
      }
      i = p;
    }
    // Byte at a time until a non-zero byte resets the counter.
    while (i < n) {
      const uint8_t b = data[i];
      if (zeros >= 2 && b <= 3) {
        point(i);
        zeros = 0;
      }
      ++i;
      if (b != 0) {
        zeros = 0;
        break;
      }
      ++zeros;
    }
  }
}

template <typename OnPoint>
void escape_points(ByteView in, OnPoint&& point) {
  int zeros = 0;
  escape_points(in.data, in.size, zeros, point);
}

}  // namespace

size_t RbspEscapePoints(ByteView in, uint32_t* points, size_t max) {
  size_t count = 0;
  escape_points(in, [&](size_t i) {
    if (count < max) points[count] = static_cast<uint32_t>(i);
    ++count;
  });
  return count;
}

void RbspEscapeScanner::Feed(const uint8_t* data, size_t n) {
  escape_points(data, n, zeros_, [&](size_t i) {
    if (count_ < max_) points_[count_] = static_cast<uint32_t>(offset_ + i);
    ++count_;
  });
  offset_ += n;
}

bool RbspPatternDetector::Feed(const uint8_t* data, size_t n) {
  if (n == 0) return true;
  // Patterns that start in earlier pieces.
  if (seen_ >= 2 && prev_[0] == 0 && prev_[1] == 0 && data[0] == 3) return false;
  if (seen_ >= 1 && n >= 2 && prev_[1] == 0 && data[0] == 0 && data[1] == 3) return false;
  uint32_t first;
  if (RbspUnescapePoints({data, n}, &first, 1) != 0) return false;
  if (n >= 2) {
    prev_[0] = data[n - 2];
    prev_[1] = data[n - 1];
  } else {
    prev_[0] = prev_[1];
    prev_[1] = data[0];
  }
  seen_ += n;
  return true;
}

size_t RbspEscapedSize(ByteView in) {
  size_t count = 0;
  escape_points(in, [&](size_t) { ++count; });
  return in.size + count;
}

size_t RbspEscape(ByteView in, uint8_t* out) {
  size_t o = 0;
  size_t copied = 0;
  escape_points(in, [&](size_t i) {
    std::memmove(out + o, in.data + copied, i - copied);  // memmove: out may sit below in
    o += i - copied;
    out[o++] = 3;
    copied = i;
  });
  if (in.size > copied) std::memmove(out + o, in.data + copied, in.size - copied);  // may be null when empty
  return o + in.size - copied;
}

void RbspEscapeInPlace(uint8_t* data, size_t n, const uint32_t* points, size_t count) {
  // Back to front: each segment moves right by the number of escapes before it.
  size_t end = n;
  for (size_t k = count; k-- > 0;) {
    const size_t at = points[k];
    std::memmove(data + at + k + 1, data + at, end - at);
    data[at + k] = 3;
    end = at;
  }
}

size_t RbspUnescapePoints(ByteView in, uint32_t* points, size_t max) {
  const uint8_t* const base = in.data;
  const size_t n = in.size;
  size_t count = 0;
  size_t i = 0;
  while (i + 2 < n) {
    const size_t p = static_cast<size_t>(FindZeroPair(base + i, base + n) - base);
    if (p + 2 >= n) break;
    if (base[p + 2] == 3) {
      // Every 03 after two zeros is an emulation byte; matches livekit-client's
      // left-to-right parseRbsp (patterns cannot overlap: a pair never starts at 03).
      if (count < max) points[count] = static_cast<uint32_t>(p + 2);
      ++count;
      i = p + 3;
    } else {
      i = p + 1;
    }
  }
  return count;
}

bool RbspNeedsUnescape(ByteView in) {
  if (in.size < 4) return false;
  // A pattern starting before the last three bytes, i.e. its 03 before the last byte.
  uint32_t first = 0;
  ByteView head = in.first(in.size - 1);
  return RbspUnescapePoints(head, &first, 1) != 0;
}

size_t RbspUnescape(ByteView in, uint8_t* out) {
  const uint8_t* const base = in.data;
  const size_t n = in.size;
  size_t o = 0;
  size_t copied = 0;
  size_t i = 0;
  while (i + 2 < n) {
    const size_t p = static_cast<size_t>(FindZeroPair(base + i, base + n) - base);
    if (p + 2 >= n) break;
    if (base[p + 2] == 3) {
      const size_t run = p + 2 - copied;
      if (out + o != base + copied) std::memmove(out + o, base + copied, run);
      o += run;
      copied = p + 3;
      i = p + 3;
    } else {
      i = p + 1;
    }
  }
  if (copied < n) {
    if (out + o != base + copied) std::memmove(out + o, base + copied, n - copied);
    o += n - copied;
  }
  return o;
}

}  // namespace framecryptor
