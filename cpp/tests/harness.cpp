// Runner of the C++ unit tests: registry, failure reporting, main().
#include "harness.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <set>

#ifndef FRAMECRYPTOR_VECTOR_DIR
#define FRAMECRYPTOR_VECTOR_DIR "tests/vectors"
#endif

namespace fctest {

namespace {

struct TestCase {
  const char* suite;
  const char* name;
  void (*fn)();
};

std::vector<TestCase>& registry() {
  static std::vector<TestCase> r;
  return r;
}

std::string& vector_dir() {
  static std::string d = FRAMECRYPTOR_VECTOR_DIR;
  return d;
}

int g_failures_in_test = 0;

}  // namespace

void Register(const char* suite, const char* name, void (*fn)()) { registry().push_back({suite, name, fn}); }

void ReportFailure(const char* file, int line, const std::string& what) {
  ++g_failures_in_test;
  std::fprintf(stderr, "%s:%d: failure: %s\n", file, line, what.c_str());
}

const std::string& VectorDir() { return vector_dir(); }

Bytes ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) FCTEST_FAIL("cannot read " + path, true);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

Bytes FromHex(const std::string& hex) {
  auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    FCTEST_FAIL("bad hex digit in " + hex.substr(0, 40), true);
    return 0;
  };
  if (hex.size() % 2 != 0) FCTEST_FAIL("odd-length hex " + hex.substr(0, 40), true);
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return out;
}

std::string Hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}

std::string Show(const Bytes& b) {
  constexpr size_t kMax = 48;
  std::string s = "[" + std::to_string(b.size()) + " bytes] " + Hex(b.data(), b.size() < kMax ? b.size() : kMax);
  if (b.size() > kMax) s += "...";
  return s;
}

std::string Show(framecryptor::Status s) { return std::string("Status(") + framecryptor::status_message(s) + ")"; }

std::string Show(const framecryptor::FrameLayout& l) {
  return "{header_len=" + std::to_string(l.header_len) + ", nal=" + (l.nal ? "true" : "false") + "}";
}

std::string Show(const std::string& s) { return "\"" + s + "\""; }

std::string Show(const std::vector<size_t>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

}  // namespace fctest

int main(int argc, char** argv) {
  using fctest::registry;
  std::set<std::string> suites;
  bool list = false;
  std::string check_suites;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--suite" && i + 1 < argc) {
      suites.insert(argv[++i]);
    } else if (a == "--vectors" && i + 1 < argc) {
      fctest::vector_dir() = argv[++i];
    } else if (a == "--check-suites" && i + 1 < argc) {
      check_suites = argv[++i];
    } else if (a == "--list") {
      list = true;
    } else {
      std::fprintf(stderr, "usage: %s [--suite NAME]... [--vectors DIR] [--list] [--check-suites A,B,...]\n",
                   argv[0]);
      return 2;
    }
  }
  if (!check_suites.empty()) {
    // The build registers one ctest per suite: a suite missing from its list would never run.
    std::set<std::string> listed, registered;
    size_t start = 0;
    while (start <= check_suites.size()) {
      const size_t end = std::min(check_suites.find(',', start), check_suites.size());
      if (end > start) listed.insert(check_suites.substr(start, end - start));
      start = end + 1;
    }
    for (const auto& t : registry()) registered.insert(t.suite);
    for (const auto& s : registered)
      if (!listed.count(s)) std::printf("suite %s is not registered with ctest\n", s.c_str());
    for (const auto& s : listed)
      if (!registered.count(s)) std::printf("ctest suite %s has no tests\n", s.c_str());
    const bool same = listed == registered;
    std::printf("%d passed, %d failed\n", same ? 1 : 0, same ? 0 : 1);
    return same ? 0 : 1;
  }
  int passed = 0;
  int failed = 0;
  for (const auto& t : registry()) {
    if (!suites.empty() && suites.count(t.suite) == 0) continue;
    if (list) {
      std::printf("%s.%s\n", t.suite, t.name);
      continue;
    }
    fctest::g_failures_in_test = 0;
    try {
      t.fn();
    } catch (const fctest::Abort&) {
      // already reported
    } catch (const std::exception& e) {
      fctest::ReportFailure(t.suite, 0, std::string("uncaught exception: ") + e.what());
    }
    if (fctest::g_failures_in_test == 0) {
      ++passed;
      std::printf("[  OK  ] %s.%s\n", t.suite, t.name);
    } else {
      ++failed;
      std::printf("[ FAIL ] %s.%s\n", t.suite, t.name);
    }
    std::fflush(stdout);
  }
  if (list) return 0;
  std::printf("%d passed, %d failed\n", passed, failed);
  // Selecting no test (a mistyped --suite) is an error, not a pass.
  return (failed == 0 && passed > 0) ? 0 : 1;
}
