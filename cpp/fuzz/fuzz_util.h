// Shared bits of the fuzz targets: invariant checks that abort (libFuzzer and
// the replay driver report an abort as a finding), and key helpers.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "framecryptor/crypto.h"

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace fcfuzz {

using Bytes = std::vector<uint8_t>;
constexpr uint8_t kFill = 0xa5;  // output buffers start with this

inline Bytes FromHex(const char* hex) {
  Bytes out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (const char* p = hex; p[0] && p[1]; p += 2) out.push_back(static_cast<uint8_t>(nib(p[0]) << 4 | nib(p[1])));
  return out;
}

inline std::shared_ptr<framecryptor::AesGcmKey> MakeKey(const Bytes& k) {
  framecryptor::Status st = framecryptor::Status::kInternal;
  auto key = framecryptor::AesGcmKey::Create({k.data(), k.size()}, &st);
  FUZZ_CHECK(st == framecryptor::Status::kOk && key);
  return key;
}

// True when nothing but the fill pattern or wiped zeros is in b: what a failed
// operation may leave in its output.
inline bool OnlyFillOrZero(const uint8_t* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (b[i] != 0 && b[i] != kFill) return false;
  return true;
}

}  // namespace fcfuzz
