// A small self-contained unit test harness for the core (no third-party
// framework): TEST() registers a function, CHECK* records a failure and goes
// on, REQUIRE* records it and ends the test. The runner (harness.cpp) takes
// --suite NAME (repeatable), --vectors DIR and --list, and ends with the line
// "N passed, N failed".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "framecryptor/bytes.h"
#include "framecryptor/codec.h"
#include "framecryptor/status.h"

namespace fctest {

using Bytes = std::vector<uint8_t>;

// Thrown by REQUIRE* to end the current test (caught by the runner).
struct Abort {};

void Register(const char* suite, const char* name, void (*fn)());
void ReportFailure(const char* file, int line, const std::string& what);

// Directory of the reference vectors (tests/vectors), from --vectors or the build.
const std::string& VectorDir();
// Whole file as bytes; REQUIREs that it can be read.
Bytes ReadFile(const std::string& path);

// ---------------------------------------------------------------------------
// Byte helpers

Bytes FromHex(const std::string& hex);
std::string Hex(const uint8_t* p, size_t n);
inline std::string Hex(const Bytes& b) { return Hex(b.data(), b.size()); }
inline Bytes Str(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline Bytes Cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
inline framecryptor::ByteView View(const Bytes& b) { return {b.data(), b.size()}; }
inline framecryptor::MutByteView MutView(Bytes& b) { return {b.data(), b.size()}; }
inline Bytes Slice(const Bytes& b, size_t off, size_t len) {
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(off), b.begin() + static_cast<std::ptrdiff_t>(off + len));
}

// Deterministic PRNG (splitmix64): tests never depend on the clock or on luck.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) for test data (n > 0).
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  uint8_t Byte() { return static_cast<uint8_t>(Next()); }
  Bytes RandomBytes(size_t n) {
    Bytes b(n);
    for (auto& x : b) x = Byte();
    return b;
  }
  // Bytes drawn mostly from {00, 01, 03, ff}: dense in start codes and escapes.
  Bytes ZeroHeavy(size_t n) {
    static const uint8_t kAlphabet[] = {0, 0, 0, 0, 1, 3, 2, 0x65, 0x41, 0x26, 0xff};
    Bytes b(n);
    for (auto& x : b) x = kAlphabet[Below(sizeof kAlphabet)];
    return b;
  }

 private:
  uint64_t s_;
};

// ---------------------------------------------------------------------------
// Value printing and comparison for CHECK_EQ

std::string Show(const Bytes& b);
std::string Show(framecryptor::Status s);
std::string Show(const framecryptor::FrameLayout& l);
std::string Show(const std::string& s);
std::string Show(const std::vector<size_t>& v);
inline std::string Show(const char* s) { return s ? Show(std::string(s)) : std::string("(null)"); }
inline std::string Show(bool b) { return b ? "true" : "false"; }
template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
std::string Show(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::to_string(v);
  else if constexpr (std::is_signed_v<T>) return std::to_string(static_cast<long long>(v));
  else return std::to_string(static_cast<unsigned long long>(v));
}
template <typename E, typename = void, typename = std::enable_if_t<std::is_enum_v<E>>>
std::string Show(E e) {
  return "enum " + std::to_string(static_cast<long long>(static_cast<std::underlying_type_t<E>>(e)));
}

// Equality that compares integers of mixed signedness by value (no -Wsign-compare).
template <typename A, typename B>
bool Equal(const A& a, const B& b) {
  if constexpr (std::is_integral_v<A> && std::is_integral_v<B> && !std::is_same_v<A, bool> &&
                !std::is_same_v<B, bool>) {
    if constexpr (std::is_signed_v<A> == std::is_signed_v<B>) {
      return a == b;
    } else if constexpr (std::is_signed_v<A>) {
      return a >= 0 && static_cast<unsigned long long>(a) == static_cast<unsigned long long>(b);
    } else {
      return b >= 0 && static_cast<unsigned long long>(a) == static_cast<unsigned long long>(b);
    }
  } else {
    return a == b;
  }
}

}  // namespace fctest

#define FCTEST_CAT2(a, b) a##b
#define FCTEST_CAT(a, b) FCTEST_CAT2(a, b)

#define TEST(suite, name)                                                                        \
  static void fctest_##suite##_##name();                                                         \
  static const bool FCTEST_CAT(fctest_reg_##suite##_##name, __LINE__) =                          \
      (::fctest::Register(#suite, #name, &fctest_##suite##_##name), true);                       \
  static void fctest_##suite##_##name()

#define FCTEST_FAIL(what, fatal)                               \
  do {                                                         \
    ::fctest::ReportFailure(__FILE__, __LINE__, (what));       \
    if (fatal) throw ::fctest::Abort{};                        \
  } while (0)

#define CHECK(cond)                                                \
  do {                                                             \
    if (!(cond)) FCTEST_FAIL(std::string("CHECK(" #cond ")"), false); \
  } while (0)
#define REQUIRE(cond)                                                  \
  do {                                                                 \
    if (!(cond)) FCTEST_FAIL(std::string("REQUIRE(" #cond ")"), true); \
  } while (0)

#define FCTEST_EQ(kind, a, b, fatal)                                                                        \
  do {                                                                                                      \
    const auto& fctest_a = (a);                                                                             \
    const auto& fctest_b = (b);                                                                             \
    if (!::fctest::Equal(fctest_a, fctest_b))                                                               \
      FCTEST_FAIL(std::string(kind "(" #a ", " #b "): ") + ::fctest::Show(fctest_a) + " != " +              \
                      ::fctest::Show(fctest_b),                                                             \
                  fatal);                                                                                   \
  } while (0)
#define CHECK_EQ(a, b) FCTEST_EQ("CHECK_EQ", a, b, false)
#define REQUIRE_EQ(a, b) FCTEST_EQ("REQUIRE_EQ", a, b, true)
// A status check that names the status on failure.
#define CHECK_OK(st) CHECK_EQ((st), ::framecryptor::Status::kOk)
#define REQUIRE_OK(st) REQUIRE_EQ((st), ::framecryptor::Status::kOk)
