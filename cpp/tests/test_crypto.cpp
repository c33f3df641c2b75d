// Crypto backend: AES-GCM known answers (McGrew & Viega, "The Galois/Counter
// Mode of Operation", test cases 1-4 and 13-16), PBKDF2-HMAC-SHA256 (RFC 7914
// section 11), HKDF-SHA256 (RFC 5869 A.1, A.3), SHA-256, the IV generator.
#include <atomic>
#include <set>
#include <thread>

#include "framecryptor/crypto.h"
#include "harness.h"

using namespace framecryptor;
using fctest::Bytes;
using fctest::FromHex;
using fctest::View;

namespace {

std::shared_ptr<AesGcmKey> MakeKey(const Bytes& k) {
  Status st = Status::kInternal;
  auto key = AesGcmKey::Create(View(k), &st);
  REQUIRE_OK(st);
  REQUIRE(key != nullptr);
  return key;
}

struct GcmCase {
  const char* name;
  const char* key;
  const char* iv;
  const char* plaintext;
  const char* aad;
  const char* ciphertext;
  const char* tag;
};

const char* kP64 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de"
    "657ba637b391aafd255";
const char* kP60 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de"
    "657ba637b39";
const char* kAad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const char* kK128 = "feffe9928665731c6d6a8f9467308308";
const char* kK256 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
const char* kIv = "cafebabefacedbaddecaf888";

const GcmCase kGcmCases[] = {
    {"tc1", "00000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "58e2fccefa7e3061367f1d57a4e7455a"},
    {"tc2", "00000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "",
     "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
    {"tc3", kK128, kIv, kP64, "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0a"
     "ac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"tc4", kK128, kIv, kP60, kAad,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0a"
     "ac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"tc13", "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "",
     "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"tc14", "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"tc15", kK256, kIv, kP64, "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba"
     "7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"tc16", kK256, kIv, kP60, kAad,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba"
     "7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

}  // namespace

TEST(crypto, gcm_known_answers_seal_and_open) {
  for (const auto& c : kGcmCases) {
    auto key = MakeKey(FromHex(c.key));
    const Bytes iv = FromHex(c.iv), pt = FromHex(c.plaintext), aad = FromHex(c.aad);
    const Bytes expected = fctest::Cat(FromHex(c.ciphertext), FromHex(c.tag));
    Bytes out(pt.size() + kTagSize);
    CHECK_OK(key->Seal(iv.data(), View(aad), View(pt), out.data()));
    CHECK_EQ(out, expected);
    Bytes back(pt.size());
    CHECK_OK(key->Open(iv.data(), View(aad), View(expected), back.data()));
    CHECK_EQ(back, pt);
  }
}

TEST(crypto, gcm_in_place) {
  for (const auto& c : kGcmCases) {
    auto key = MakeKey(FromHex(c.key));
    const Bytes iv = FromHex(c.iv), aad = FromHex(c.aad);
    Bytes buf = FromHex(c.plaintext);
    const Bytes pt = buf;
    buf.resize(pt.size() + kTagSize);
    CHECK_OK(key->Seal(iv.data(), View(aad), {buf.data(), pt.size()}, buf.data()));
    CHECK_EQ(buf, fctest::Cat(FromHex(c.ciphertext), FromHex(c.tag)));
    CHECK_OK(key->Open(iv.data(), View(aad), View(buf), buf.data()));
    CHECK_EQ(fctest::Slice(buf, 0, pt.size()), pt);
  }
}

TEST(crypto, gcm_every_tampering_fails_and_wipes) {
  const GcmCase& c = kGcmCases[3];  // with AAD
  auto key = MakeKey(FromHex(c.key));
  const Bytes iv = FromHex(c.iv), aad = FromHex(c.aad);
  const Bytes sealed = fctest::Cat(FromHex(c.ciphertext), FromHex(c.tag));
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes bad = sealed;
    bad[i] ^= 0x80;
    Bytes out(sealed.size() - kTagSize, 0xa5);
    CHECK_EQ(key->Open(iv.data(), View(aad), View(bad), out.data()), Status::kAuthFailed);
    CHECK_EQ(out, Bytes(out.size(), 0));  // unauthenticated plaintext never left behind
  }
  for (size_t i = 0; i < iv.size(); ++i) {
    Bytes bad_iv = iv;
    bad_iv[i] ^= 1;
    Bytes out(sealed.size() - kTagSize);
    CHECK_EQ(key->Open(bad_iv.data(), View(aad), View(sealed), out.data()), Status::kAuthFailed);
  }
  for (size_t i = 0; i < aad.size(); ++i) {
    Bytes bad_aad = aad;
    bad_aad[i] ^= 1;
    Bytes out(sealed.size() - kTagSize);
    CHECK_EQ(key->Open(iv.data(), View(bad_aad), View(sealed), out.data()), Status::kAuthFailed);
  }
  Bytes out(sealed.size());
  CHECK_EQ(key->Open(iv.data(), {aad.data(), aad.size() - 1}, View(sealed), out.data()), Status::kAuthFailed);
  CHECK_EQ(key->Open(iv.data(), View(aad), {sealed.data(), sealed.size() - 1}, out.data()), Status::kAuthFailed);
  // Shorter than a tag: refused without reading past the input.
  CHECK_EQ(key->Open(iv.data(), View(aad), {sealed.data(), kTagSize - 1}, out.data()), Status::kAuthFailed);
  CHECK_EQ(key->Open(iv.data(), View(aad), {nullptr, 0}, out.data()), Status::kAuthFailed);
  // The key still works after failures (pooled contexts are reset per call).
  CHECK_OK(key->Open(iv.data(), View(aad), View(sealed), out.data()));
  CHECK_EQ(fctest::Slice(out, 0, sealed.size() - kTagSize), FromHex(c.plaintext));
}

TEST(crypto, gcm_wrong_key_fails) {
  auto a = MakeKey(Bytes(16, 1));
  auto b = MakeKey(Bytes(16, 2));
  const Bytes iv(12, 7), pt = fctest::Str("hello frame");
  Bytes sealed(pt.size() + kTagSize);
  REQUIRE_OK(a->Seal(iv.data(), {}, View(pt), sealed.data()));
  Bytes out(pt.size());
  CHECK_EQ(b->Open(iv.data(), {}, View(sealed), out.data()), Status::kAuthFailed);
  // Same bytes as AES-256 key material are a different key.
  auto c = MakeKey(Bytes(32, 1));
  CHECK_EQ(c->Open(iv.data(), {}, View(sealed), out.data()), Status::kAuthFailed);
}

TEST(crypto, key_sizes) {
  for (size_t n : {0, 1, 15, 17, 24, 31, 33, 64}) {
    Bytes k(n, 0x11);
    Status st = Status::kOk;
    CHECK(AesGcmKey::Create(View(k), &st) == nullptr);
    CHECK_EQ(st, Status::kInvalidArgument);
  }
  for (size_t n : {16, 32}) {
    auto key = MakeKey(Bytes(n, 0x11));
    CHECK_EQ(key->key_size(), n);
  }
}

TEST(crypto, fingerprint_is_sha256_prefix) {
  const Bytes k = FromHex("bd4e3e345e23ef7a63cc20ddcdbec6e7");
  auto key = MakeKey(k);
  uint8_t digest[32];
  Sha256(View(k), digest);
  CHECK_EQ(Bytes(key->fingerprint().begin(), key->fingerprint().end()), Bytes(digest, digest + 4));
}

TEST(crypto, sha256_known_answers) {
  uint8_t d[32];
  const Bytes abc = fctest::Str("abc");
  Sha256(View(abc), d);
  CHECK_EQ(fctest::Hex(d, 32), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  Sha256({nullptr, 0}, d);
  CHECK_EQ(fctest::Hex(d, 32), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

TEST(crypto, pbkdf2_rfc7914) {
  Bytes out(64);
  const Bytes p1 = fctest::Str("passwd"), s1 = fctest::Str("salt");
  CHECK_OK(Pbkdf2Sha256(View(p1), View(s1), 1, fctest::MutView(out)));
  CHECK_EQ(out, FromHex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d"
                        "77ef317c71b845b1e30bd509112041d3a19783"));
  const Bytes p2 = fctest::Str("Password"), s2 = fctest::Str("NaCl");
  CHECK_OK(Pbkdf2Sha256(View(p2), View(s2), 80000, fctest::MutView(out)));
  CHECK_EQ(out, FromHex("4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51"
                        "c9b3176a272bdebba1d078478f62b397f33c8d"));
}

TEST(crypto, pbkdf2_arguments) {
  Bytes out(16);
  const Bytes pw = fctest::Str("x");
  CHECK_EQ(Pbkdf2Sha256(View(pw), View(pw), 0, fctest::MutView(out)), Status::kInvalidArgument);
  CHECK_EQ(Pbkdf2Sha256(View(pw), View(pw), 0x80000000u, fctest::MutView(out)), Status::kInvalidArgument);
  // Empty password and salt are valid inputs (OpenSSL needs a non-null pointer: handled inside).
  CHECK_OK(Pbkdf2Sha256({nullptr, 0}, {nullptr, 0}, 2, fctest::MutView(out)));
  Bytes out2(16);
  const Bytes empty;
  CHECK_OK(Pbkdf2Sha256(View(empty), View(empty), 2, fctest::MutView(out2)));
  CHECK_EQ(out, out2);
}

TEST(crypto, hkdf_rfc5869) {
  const Bytes ikm(22, 0x0b);
  Bytes okm(42);
  const Bytes salt = FromHex("000102030405060708090a0b0c"), info = FromHex("f0f1f2f3f4f5f6f7f8f9");
  CHECK_OK(HkdfSha256(View(ikm), View(salt), View(info), fctest::MutView(okm)));
  CHECK_EQ(okm, FromHex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"));
  // A.3: zero-length salt and info.
  CHECK_OK(HkdfSha256(View(ikm), {nullptr, 0}, {nullptr, 0}, fctest::MutView(okm)));
  CHECK_EQ(okm, FromHex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"));
}

TEST(crypto, hkdf_arguments) {
  const Bytes ikm(16, 1);
  Bytes none;
  CHECK_EQ(HkdfSha256(View(ikm), {}, {}, fctest::MutView(none)), Status::kInvalidArgument);
  Bytes too_long(255 * 32 + 1);
  CHECK_EQ(HkdfSha256(View(ikm), {}, {}, fctest::MutView(too_long)), Status::kInvalidArgument);
  Bytes max(255 * 32);
  CHECK_OK(HkdfSha256(View(ikm), {}, {}, fctest::MutView(max)));
}

TEST(crypto, random_and_wipe) {
  Bytes a(32), b(32);
  CHECK_OK(RandomBytes(fctest::MutView(a)));
  CHECK_OK(RandomBytes(fctest::MutView(b)));
  CHECK(a != b);  // 2^-256
  CHECK_OK(RandomBytes({nullptr, 0}));
  SecureWipe(a.data(), a.size());
  CHECK_EQ(a, Bytes(32, 0));
  SecureWipe(nullptr, 10);  // no-op
}

// ---------------------------------------------------------------------------
// IV generator

TEST(iv, prefix_then_counter) {
  auto key = MakeKey(Bytes(16, 3));
  uint8_t first[kIvSize];
  REQUIRE_OK(key->NextIv(first));
  CHECK_EQ(fctest::Hex(first + 8, 4), std::string("00000000"));
  for (uint32_t n = 1; n < 300; ++n) {
    uint8_t iv[kIvSize];
    REQUIRE_OK(key->NextIv(iv));
    CHECK_EQ(Bytes(iv, iv + 8), Bytes(first, first + 8));  // fixed random prefix
    const uint32_t counter = static_cast<uint32_t>(iv[8]) << 24 | static_cast<uint32_t>(iv[9]) << 16 |
                             static_cast<uint32_t>(iv[10]) << 8 | iv[11];
    CHECK_EQ(counter, n);
  }
  CHECK_EQ(key->ivs_issued(), 300u);
  // Another key object over the same AES key draws another prefix (2^-64 to collide).
  auto twin = MakeKey(Bytes(16, 3));
  uint8_t other[kIvSize];
  REQUIRE_OK(twin->NextIv(other));
  CHECK(Bytes(other, other + 8) != Bytes(first, first + 8));
}

TEST(iv, exhaustion_never_wraps) {
  auto key = MakeKey(Bytes(16, 4));
  key->AdvanceIvCounterForTesting(AesGcmKey::kIvLimit - 2);
  uint8_t iv[kIvSize];
  CHECK_OK(key->NextIv(iv));
  CHECK_EQ(fctest::Hex(iv + 8, 4), std::string("fffffffe"));
  CHECK_OK(key->NextIv(iv));
  CHECK_EQ(fctest::Hex(iv + 8, 4), std::string("ffffffff"));
  for (int i = 0; i < 5; ++i) {
    uint8_t again[kIvSize] = {};
    CHECK_EQ(key->NextIv(again), Status::kIvExhausted);
    CHECK_EQ(Bytes(again, again + kIvSize), Bytes(kIvSize, 0));  // nothing written
  }
  CHECK_EQ(key->ivs_issued(), AesGcmKey::kIvLimit);
  // The test hook only moves forward.
  key->AdvanceIvCounterForTesting(5);
  CHECK_EQ(key->NextIv(iv), Status::kIvExhausted);
}

TEST(iv, unique_across_threads) {
  auto key = MakeKey(Bytes(16, 5));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<uint32_t>> seen(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        uint8_t iv[kIvSize];
        if (key->NextIv(iv) != Status::kOk) {
          failures.fetch_add(1);
          continue;
        }
        seen[static_cast<size_t>(t)].push_back(static_cast<uint32_t>(iv[8]) << 24 |
                                               static_cast<uint32_t>(iv[9]) << 16 |
                                               static_cast<uint32_t>(iv[10]) << 8 | iv[11]);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(failures.load(), 0);
  std::set<uint32_t> all;
  for (const auto& v : seen) all.insert(v.begin(), v.end());
  CHECK_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  CHECK_EQ(*all.rbegin(), static_cast<uint32_t>(kThreads * kPerThread - 1));  // dense: 0..N-1
}

TEST(iv, concurrent_seal_open) {
  auto key = MakeKey(Bytes(32, 6));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      fctest::Rng rng(static_cast<uint64_t>(t) + 1);
      for (int i = 0; i < 300; ++i) {
        const Bytes pt = rng.RandomBytes(rng.Below(200));
        const Bytes aad = rng.RandomBytes(rng.Below(20));
        uint8_t iv[kIvSize];
        Bytes ct(pt.size() + kTagSize), back(pt.size());
        if (key->NextIv(iv) != Status::kOk || key->Seal(iv, View(aad), View(pt), ct.data()) != Status::kOk ||
            key->Open(iv, View(aad), View(ct), back.data()) != Status::kOk || back != pt)
          bad.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(bad.load(), 0);
}
