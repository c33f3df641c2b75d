// Naive, obviously-correct restatements of the parsing rules the core
// implements with faster code (livekit-client 2.23.0's behaviour, as described
// in docs/livekit-e2ee-format.md and tests/helpers.py). The fuzz targets and
// the C++ unit tests compare the core against these byte by byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

// The references need no coverage feedback of their own: leaving them
// uninstrumented keeps libFuzzer's attention (and speed) on the core.
#if defined(__clang__)
#define FCREF_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define FCREF_NO_COVERAGE
#endif

namespace fcref {

using Bytes = std::vector<uint8_t>;

// Emulation prevention: after two zero bytes, a byte <= 3 gets an 03 before it;
// the zero count restarts after an inserted 03.
FCREF_NO_COVERAGE inline Bytes EscapeRbsp(const uint8_t* p, size_t n) {
  Bytes out;
  int zeros = 0;
  for (size_t i = 0; i < n; ++i) {
    if (zeros >= 2 && p[i] <= 3) {
      out.push_back(3);
      zeros = 0;
    }
    out.push_back(p[i]);
    zeros = p[i] == 0 ? zeros + 1 : 0;
  }
  return out;
}

// Drops the 03 of every 00 00 03, scanning left to right and continuing after it.
FCREF_NO_COVERAGE inline Bytes UnescapeRbsp(const uint8_t* p, size_t n) {
  Bytes out;
  size_t i = 0;
  while (i < n) {
    if (i + 3 <= n && p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 3) {
      out.push_back(0);
      out.push_back(0);
      i += 3;
    } else {
      out.push_back(p[i++]);
    }
  }
  return out;
}

// The receiver's test: 00 00 03 starting at an index i with i < n - 3.
FCREF_NO_COVERAGE inline bool NeedsUnescape(const uint8_t* p, size_t n) {
  for (size_t i = 0; i + 3 < n; ++i)
    if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 3) return true;
  return false;
}

// Start positions of NAL units (first byte after a start code), or nullopt
// when non-zero bytes precede the first start code ("leading data"). A unit is
// reported when the scan for the code that ends it runs, i.e. when it starts
// before n - 3.
FCREF_NO_COVERAGE inline std::optional<std::vector<size_t>> FindNalUnits(const uint8_t* s, size_t n) {
  std::vector<size_t> units;
  if (n <= 3) return units;
  const size_t search = n - 3;
  size_t pos = 0;
  size_t start = 0;
  while (pos < search) {
    while (pos < search) {
      if (pos + 1 < search && s[pos] == 0 && s[pos + 1] == 0 && s[pos + 2] == 0 && s[pos + 3] == 1) break;
      if (s[pos] == 0 && s[pos + 1] == 0 && s[pos + 2] == 1) break;
      ++pos;
    }
    if (pos >= search) pos = n;
    size_t end = pos;
    while (end > start && s[end - 1] == 0) --end;
    if (start == 0) {
      if (end != start) return std::nullopt;
    } else {
      units.push_back(start);
    }
    const bool four = pos + 3 < n && s[pos] == 0 && s[pos + 1] == 0 && s[pos + 2] == 0 && s[pos + 3] == 1;
    start = pos = pos + (four ? 4 : 3);
  }
  return units;
}

struct Layout {
  size_t header_len;
  bool nal;
};

// Codec ids as framecryptor::Codec: 0 opus, 1 vp8, 2 vp9, 3 av1, 4 h264, 5 h265.
FCREF_NO_COVERAGE inline Layout JsLayout(int codec, bool key_frame, const uint8_t* s, size_t n) {
  const size_t vp8 = key_frame ? 10 : 3;
  switch (codec) {
    case 0:
      return {1, false};
    case 1:
      return {vp8, false};
    case 2:
    case 3:
      return {0, false};
    default:
      break;
  }
  const auto units = FindNalUnits(s, n);
  if (!units) return {vp8, false};
  for (size_t u : *units)
    if ((s[u] & 0x1f) == 1 || (s[u] & 0x1f) == 5) return {u + 2, true};
  for (size_t u : *units) {
    const int t = (s[u] >> 1) & 0x3f;
    if (t <= 9 || (t >= 16 && t <= 21)) return {u + 2, true};
  }
  return {vp8, false};
}

// 00 00 01 not preceded by 00 becomes 00 00 00 01.
FCREF_NO_COVERAGE inline Bytes NormalizeStartCodes(const uint8_t* s, size_t n) {
  Bytes out;
  for (size_t i = 0; i < n; ++i) {
    if (i + 2 < n && s[i] == 0 && s[i + 1] == 0 && s[i + 2] == 1 && (i == 0 || s[i - 1] != 0)) out.push_back(0);
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace fcref
