// RBSP escaping as LiveKit applies it to the encrypted part of H.26x frames.
#include <cstring>

#include "framecryptor/rbsp.h"
#include "harness.h"
#include "reference.h"

using namespace framecryptor;
using fctest::Bytes;
using fctest::FromHex;
using fctest::View;

namespace {

Bytes Escape(const Bytes& in) {
  Bytes out(RbspEscapedBound(in.size()) + 1);
  out.resize(RbspEscape(View(in), out.data()));
  return out;
}

Bytes Unescape(const Bytes& in) {
  Bytes out(in.size());
  out.resize(RbspUnescape(View(in), out.data()));
  return out;
}

// Inputs that stress escaping: random, zero-heavy, all zeros, runs of 00 00 0x.
std::vector<Bytes> Corpus() {
  std::vector<Bytes> c;
  fctest::Rng rng(0x7b5b);
  for (size_t n = 0; n < 40; ++n) {
    c.push_back(rng.ZeroHeavy(n));
    c.push_back(rng.RandomBytes(n));
  }
  for (size_t n : {100, 257, 1000, 4096}) {
    c.push_back(rng.ZeroHeavy(n));
    c.push_back(Bytes(n, 0));
  }
  for (uint8_t x = 0; x < 6; ++x) {
    Bytes b;
    for (int i = 0; i < 50; ++i) b.insert(b.end(), {0, 0, x});
    c.push_back(b);
  }
  return c;
}

}  // namespace

TEST(rbsp, escape_examples) {
  CHECK_EQ(Escape(Bytes{}), Bytes{});
  CHECK_EQ(Escape(FromHex("000000")), FromHex("00000300"));
  CHECK_EQ(Escape(FromHex("000001")), FromHex("00000301"));
  CHECK_EQ(Escape(FromHex("000002")), FromHex("00000302"));
  CHECK_EQ(Escape(FromHex("000003")), FromHex("00000303"));
  CHECK_EQ(Escape(FromHex("000004")), FromHex("000004"));
  CHECK_EQ(Escape(FromHex("0000")), FromHex("0000"));
  CHECK_EQ(Escape(FromHex("00ff0001")), FromHex("00ff0001"));
  // The zero count restarts after an inserted 03: six zeros get two escapes.
  CHECK_EQ(Escape(FromHex("000000000000")), FromHex("0000030000030000"));
  CHECK_EQ(Escape(FromHex("0000000001")), FromHex("00000300000301"));
}

TEST(rbsp, unescape_examples) {
  CHECK_EQ(Unescape(FromHex("00000300")), FromHex("000000"));
  CHECK_EQ(Unescape(FromHex("000003")), FromHex("0000"));  // a trailing 00 00 03 is removed too
  CHECK_EQ(Unescape(FromHex("0000030303")), FromHex("00000303"));
  CHECK_EQ(Unescape(FromHex("00000003")), FromHex("000000"));
  CHECK_EQ(Unescape(FromHex("0003")), FromHex("0003"));
  CHECK_EQ(Unescape(FromHex("00")), FromHex("00"));
  CHECK_EQ(Unescape(Bytes{}), Bytes{});
}

TEST(rbsp, needs_unescape_ignores_the_last_three_bytes) {
  CHECK(!RbspNeedsUnescape(View(FromHex("000003"))));
  CHECK(RbspNeedsUnescape(View(FromHex("00000301"))));
  CHECK(!RbspNeedsUnescape(View(FromHex("ff000003"))));
  CHECK(RbspNeedsUnescape(View(FromHex("ff00000301"))));
  CHECK(!RbspNeedsUnescape(View(FromHex("00000203"))));
  CHECK(!RbspNeedsUnescape({nullptr, 0}));
}

TEST(rbsp, matches_reference) {
  for (const Bytes& in : Corpus()) {
    const Bytes ref = fcref::EscapeRbsp(in.data(), in.size());
    CHECK_EQ(Escape(in), ref);
    CHECK_EQ(RbspEscapedSize(View(in)), ref.size());
    CHECK(ref.size() <= RbspEscapedBound(in.size()));
    CHECK_EQ(Unescape(in), fcref::UnescapeRbsp(in.data(), in.size()));
    CHECK_EQ(RbspNeedsUnescape(View(in)), fcref::NeedsUnescape(in.data(), in.size()));
    CHECK_EQ(Unescape(ref), in);  // unescape(escape(x)) == x
  }
}

TEST(rbsp, escape_in_place_forward_with_minimal_gap) {
  // The encrypt path writes the unescaped bytes at the end of one allocation
  // and escapes them forward to a lower address; the gap needs to be only the
  // number of bytes escaping inserts.
  for (const Bytes& in : Corpus()) {
    const Bytes ref = fcref::EscapeRbsp(in.data(), in.size());
    const size_t gap = ref.size() - in.size();
    Bytes buf(ref.size());  // exactly: the sanitizer catches any write past it
    if (!in.empty()) std::memcpy(buf.data() + gap, in.data(), in.size());
    const size_t n = RbspEscape({buf.data() + gap, in.size()}, buf.data());
    CHECK_EQ(n, ref.size());
    CHECK_EQ(buf, ref);
  }
}

TEST(rbsp, unescape_in_place) {
  for (const Bytes& in : Corpus()) {
    Bytes buf = in;
    buf.resize(RbspUnescape(View(buf), buf.data()));
    CHECK_EQ(buf, fcref::UnescapeRbsp(in.data(), in.size()));
  }
}

TEST(rbsp, worst_case_bound) {
  // All zeros: one escape per two bytes after the first two.
  for (size_t n = 0; n < 64; ++n) {
    const Bytes zeros(n, 0);
    const size_t escaped = RbspEscapedSize(View(zeros));
    CHECK(escaped <= RbspEscapedBound(n));
    CHECK_EQ(escaped, n + (n >= 3 ? (n - 1) / 2 : 0));
  }
}
