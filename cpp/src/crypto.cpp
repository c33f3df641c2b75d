#include "framecryptor/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace framecryptor {

namespace {

// Ciphers and KDFs are fetched once per process: an implicit fetch per call
// (EVP_aes_128_gcm() on every frame) is measurably slower in OpenSSL 3.
struct Algorithms {
  EVP_CIPHER* aes128gcm = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  EVP_CIPHER* aes256gcm = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  EVP_KDF* hkdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
};

const Algorithms& algs() {
  static const Algorithms* a = new Algorithms();  // intentionally never freed
  return *a;
}

bool fits_int(size_t n) { return n <= static_cast<size_t>(INT_MAX); }

// Drops whatever a failed OpenSSL call left in the thread's error queue so it
// cannot surface later in unrelated code (e.g. Python's ssl module).
Status fail(Status s) {
  ERR_clear_error();
  return s;
}

}  // namespace

void SecureWipe(void* p, size_t n) {
  if (p != nullptr && n != 0) OPENSSL_cleanse(p, n);
}

void AesGcmKey::CtxDeleter::operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }

std::shared_ptr<AesGcmKey> AesGcmKey::Create(ByteView key, Status* status) {
  const EVP_CIPHER* cipher = nullptr;
  if (key.size == 16) {
    cipher = algs().aes128gcm;
  } else if (key.size == 32) {
    cipher = algs().aes256gcm;
  } else {
    *status = Status::kInvalidArgument;
    return nullptr;
  }
  if (cipher == nullptr) {
    *status = fail(Status::kInternal);
    return nullptr;
  }
  static std::atomic<uint64_t> next_id{1};
  std::shared_ptr<AesGcmKey> k(new AesGcmKey());
  k->key_size_ = key.size;
  k->id_ = next_id.fetch_add(1, std::memory_order_relaxed);
  k->base_.reset(EVP_CIPHER_CTX_new());
  if (!k->base_ || 1 != EVP_EncryptInit_ex2(k->base_.get(), cipher, key.data, nullptr, nullptr)) {
    *status = fail(Status::kInternal);
    return nullptr;
  }
  uint8_t digest[32];
  Sha256(key, digest);
  std::memcpy(k->fingerprint_.data(), digest, k->fingerprint_.size());
  if (RandomBytes({k->iv_prefix_.data(), k->iv_prefix_.size()}) != Status::kOk) {
    *status = Status::kInternal;
    return nullptr;
  }
  *status = Status::kOk;
  return k;
}

AesGcmKey::~AesGcmKey() {
  // EVP_CIPHER_CTX_free cleanses the key schedule held by each context.
  for (auto& slot : spare_) EVP_CIPHER_CTX_free(slot.exchange(nullptr));
  SecureWipe(iv_prefix_.data(), iv_prefix_.size());
}

Status AesGcmKey::NextIv(uint8_t iv[kIvSize]) {
  // fetch_add hands every caller a distinct value; values at or past the limit
  // are refused, so a counter value is never issued twice.
  const uint64_t n = counter_.fetch_add(1, std::memory_order_relaxed);
  if (n >= kIvLimit) {
    counter_.store(kIvLimit, std::memory_order_relaxed);
    return Status::kIvExhausted;
  }
  std::memcpy(iv, iv_prefix_.data(), iv_prefix_.size());
  iv[8] = static_cast<uint8_t>(n >> 24);
  iv[9] = static_cast<uint8_t>(n >> 16);
  iv[10] = static_cast<uint8_t>(n >> 8);
  iv[11] = static_cast<uint8_t>(n);
  return Status::kOk;
}

void AesGcmKey::AdvanceIvCounterForTesting(uint64_t value) {
  uint64_t cur = counter_.load();
  while (value > cur && !counter_.compare_exchange_weak(cur, value)) {
  }
}

AesGcmKey::CtxPtr AesGcmKey::Acquire() const {
  for (auto& slot : spare_) {
    if (EVP_CIPHER_CTX* c = slot.exchange(nullptr, std::memory_order_acquire)) return CtxPtr(c);
  }
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      CtxPtr c = std::move(pool_.back());
      pool_.pop_back();
      return c;
    }
  }
  // A copy carries the expanded key: no re-keying, only a duplicate of the
  // keyed state for a caller running concurrently with others.
  CtxPtr c(EVP_CIPHER_CTX_new());
  if (c && 1 != EVP_CIPHER_CTX_copy(c.get(), base_.get())) c.reset();
  return c;
}

void AesGcmKey::Release(CtxPtr ctx) const {
  for (auto& slot : spare_) {
    EVP_CIPHER_CTX* expected = nullptr;
    if (slot.compare_exchange_strong(expected, ctx.get(), std::memory_order_release, std::memory_order_relaxed)) {
      ctx.release();
      return;
    }
  }
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (pool_.size() < 16) pool_.push_back(std::move(ctx));
}

Status AesGcmKey::Seal(const uint8_t iv[kIvSize], ByteView aad, ByteView plaintext, uint8_t* out,
                       const ChunkObserver* observer) const {
  if (!fits_int(aad.size) || plaintext.size > kMaxCryptSize) return Status::kTooLarge;
  CtxPtr ctx = Acquire();
  if (!ctx) return fail(Status::kInternal);
  EVP_CIPHER_CTX* c = ctx.get();
  int len = 0;
  // A null cipher and key keep the expanded key; only the IV is (re)set.
  if (1 != EVP_EncryptInit_ex2(c, nullptr, nullptr, iv, nullptr)) return fail(Status::kInternal);
  if (aad.size != 0 && 1 != EVP_EncryptUpdate(c, nullptr, &len, aad.data, static_cast<int>(aad.size)))
    return fail(Status::kInternal);
  size_t written = 0;
  // One update for the whole input, or cache-sized pieces for an observer
  // (multiples of the AES block, so GCM buffers nothing between them).
  const size_t step = observer ? kChunk : plaintext.size;
  while (written < plaintext.size) {
    const size_t n = std::min(step, plaintext.size - written);
    if (1 != EVP_EncryptUpdate(c, out + written, &len, plaintext.data + written, static_cast<int>(n)) ||
        static_cast<size_t>(len) != n)
      return fail(Status::kInternal);
    if (observer) (*observer)(out + written, n);
    written += n;
  }
  if (1 != EVP_EncryptFinal_ex(c, out + written, &len) || len != 0) return fail(Status::kInternal);
  if (1 != EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize), out + written))
    return fail(Status::kInternal);
  if (observer) (*observer)(out + written, kTagSize);
  Release(std::move(ctx));
  return Status::kOk;
}

Status AesGcmKey::Open(const uint8_t iv[kIvSize], ByteView aad, ByteView ciphertext_and_tag, uint8_t* out,
                       const ChunkObserver* observer) const {
  if (ciphertext_and_tag.size < kTagSize) return Status::kAuthFailed;
  if (!fits_int(aad.size) || ciphertext_and_tag.size > kMaxCryptSize + kTagSize)
    return Status::kTooLarge;
  const size_t ct_len = ciphertext_and_tag.size - kTagSize;
  // Copy the tag first: with out == ciphertext the caller's buffer is
  // overwritten, but the tag lies after the ciphertext and is never touched.
  uint8_t tag[kTagSize];
  std::memcpy(tag, ciphertext_and_tag.data + ct_len, kTagSize);

  CtxPtr ctx = Acquire();
  if (!ctx) return fail(Status::kInternal);
  EVP_CIPHER_CTX* c = ctx.get();
  int len = 0;
  size_t written = 0;
  // Any exit but success wipes what was written: never unauthenticated plaintext.
  auto abandon = [&](Status st) {
    SecureWipe(out, written);
    return fail(st);
  };
  if (1 != EVP_DecryptInit_ex2(c, nullptr, nullptr, iv, nullptr)) return fail(Status::kInternal);
  if (aad.size != 0 && 1 != EVP_DecryptUpdate(c, nullptr, &len, aad.data, static_cast<int>(aad.size)))
    return fail(Status::kInternal);
  const size_t step = observer ? kChunk : ct_len;
  while (written < ct_len) {
    const size_t n = std::min(step, ct_len - written);
    if (observer && !(*observer)(ciphertext_and_tag.data + written, n)) return abandon(Status::kAborted);
    if (1 != EVP_DecryptUpdate(c, out + written, &len, ciphertext_and_tag.data + written, static_cast<int>(n)) ||
        static_cast<size_t>(len) != n)
      return abandon(Status::kInternal);
    written += n;
  }
  if (observer && !(*observer)(tag, kTagSize)) return abandon(Status::kAborted);
  if (1 != EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag))
    return abandon(Status::kInternal);
  // The tag comparison is OpenSSL's (constant time).
  const int ok = EVP_DecryptFinal_ex(c, out + written, &len);
  Release(std::move(ctx));
  if (ok != 1) return abandon(Status::kAuthFailed);
  return Status::kOk;
}

Status Pbkdf2Sha256(ByteView password, ByteView salt, uint32_t iterations, MutByteView out) {
  if (!fits_int(password.size) || !fits_int(salt.size) || !fits_int(out.size) || iterations == 0 ||
      iterations > static_cast<uint32_t>(INT_MAX))
    return Status::kInvalidArgument;
  // OpenSSL rejects a null password pointer even with length 0.
  static const char kEmpty[1] = {0};
  const char* pw = password.size ? reinterpret_cast<const char*>(password.data) : kEmpty;
  if (1 != PKCS5_PBKDF2_HMAC(pw, static_cast<int>(password.size), salt.data,
                             static_cast<int>(salt.size), static_cast<int>(iterations),
                             algs().sha256, static_cast<int>(out.size), out.data))
    return fail(Status::kInternal);
  return Status::kOk;
}

Status HkdfSha256(ByteView ikm, ByteView salt, ByteView info, MutByteView out) {
  if (out.size == 0 || out.size > 255 * 32) return Status::kInvalidArgument;
  if (algs().hkdf == nullptr) return fail(Status::kInternal);
  EVP_KDF_CTX* kctx = EVP_KDF_CTX_new(algs().hkdf);
  if (kctx == nullptr) return fail(Status::kInternal);
  static uint8_t kEmpty[1] = {0};
  OSSL_PARAM params[5];
  size_t i = 0;
  params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
  params[i++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, ikm.size ? const_cast<uint8_t*>(ikm.data) : kEmpty, ikm.size);
  params[i++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_SALT, salt.size ? const_cast<uint8_t*>(salt.data) : kEmpty, salt.size);
  params[i++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_INFO, info.size ? const_cast<uint8_t*>(info.data) : kEmpty, info.size);
  params[i++] = OSSL_PARAM_construct_end();
  const int ok = EVP_KDF_derive(kctx, out.data, out.size, params);
  EVP_KDF_CTX_free(kctx);
  return ok == 1 ? Status::kOk : fail(Status::kInternal);
}

Status DeriveKey(ByteView material, ByteView salt, Kdf kdf, size_t key_size, std::shared_ptr<AesGcmKey>* key,
                 uint8_t next_material[kRatchetSize]) {
  if (key_size != 16 && key_size != 32) return Status::kInvalidArgument;
  uint8_t out[kRatchetSize];
  static const uint8_t kHkdfInfo[128] = {};
  const Status st = kdf == Kdf::kPbkdf2
                        ? Pbkdf2Sha256(material, salt, kPbkdf2Iterations, {out, sizeof out})
                        : HkdfSha256(material, salt, {kHkdfInfo, sizeof kHkdfInfo}, {out, sizeof out});
  if (st == Status::kOk) {
    Status kst;
    *key = AesGcmKey::Create({out, key_size}, &kst);
    std::memcpy(next_material, out, sizeof out);
    SecureWipe(out, sizeof out);
    return *key ? Status::kOk : kst;
  }
  SecureWipe(out, sizeof out);
  return st;
}

void Sha256(ByteView data, uint8_t out[32]) {
  unsigned int len = 32;
  static const uint8_t kEmpty[1] = {0};
  if (1 != EVP_Digest(data.size ? data.data : kEmpty, data.size, out, &len, algs().sha256, nullptr)) {
    ERR_clear_error();
    std::memset(out, 0, 32);
  }
}

Status RandomBytes(MutByteView out) {
  if (out.size == 0) return Status::kOk;
  if (!fits_int(out.size)) return Status::kTooLarge;
  return RAND_bytes(out.data, static_cast<int>(out.size)) == 1 ? Status::kOk : fail(Status::kInternal);
}

const char* status_message(Status s) {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kInvalidArgument:
      return "invalid argument";
    case Status::kFrameTooShort:
      return "frame too short";
    case Status::kBadTrailer:
      return "bad frame trailer (IV length byte is not 12)";
    case Status::kMissingKey:
      return "no key at this key index";
    case Status::kAuthFailed:
      return "decryption failed";
    case Status::kOutputTooSmall:
      return "output buffer too small";
    case Status::kIvExhausted:
      return "IV space of this key exhausted: set a new key or ratchet";
    case Status::kSifDropped:
      return "frame carries the SIF trailer but its payload is not a known server-injected frame";
    case Status::kUnstableLayout:
      return "could not build a frame that receivers parse the way it was encrypted";
    case Status::kTooLarge:
      return "input too large";
    case Status::kInternal:
      return "internal crypto error";
    case Status::kReplay:
      return "replayed frame (its IV was already accepted under this key)";
    case Status::kAborted:
      return "operation aborted";
  }
  return "unknown status";
}

}  // namespace framecryptor
