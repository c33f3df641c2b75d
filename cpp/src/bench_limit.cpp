#include "framecryptor/bench_limit.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <chrono>
#include <climits>
#include <memory>
#include <vector>

#include "framecryptor/crypto.h"

namespace framecryptor {

namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct CipherFree {
  void operator()(EVP_CIPHER* c) const { EVP_CIPHER_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;
using CipherPtr = std::unique_ptr<EVP_CIPHER, CipherFree>;

Status fail() {
  ERR_clear_error();
  return Status::kInternal;
}

// One AES-GCM operation on a keyed context: IV, AAD, data, final, tag.
bool seal_once(EVP_CIPHER_CTX* c, const uint8_t* iv, const uint8_t* aad, int aad_len, const uint8_t* in,
               int in_len, uint8_t* out) {
  int len = 0;
  if (1 != EVP_EncryptInit_ex2(c, nullptr, nullptr, iv, nullptr)) return false;
  if (aad_len != 0 && 1 != EVP_EncryptUpdate(c, nullptr, &len, aad, aad_len)) return false;
  int written = 0;
  if (in_len != 0) {
    if (1 != EVP_EncryptUpdate(c, out, &len, in, in_len)) return false;
    written = len;
  }
  if (1 != EVP_EncryptFinal_ex(c, out + written, &len)) return false;
  written += len;
  return 1 == EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize), out + written);
}

bool open_once(EVP_CIPHER_CTX* c, const uint8_t* iv, const uint8_t* aad, int aad_len, const uint8_t* in,
               int in_len, const uint8_t* tag, uint8_t* out) {
  int len = 0;
  if (1 != EVP_DecryptInit_ex2(c, nullptr, nullptr, iv, nullptr)) return false;
  if (aad_len != 0 && 1 != EVP_DecryptUpdate(c, nullptr, &len, aad, aad_len)) return false;
  int written = 0;
  if (in_len != 0) {
    if (1 != EVP_DecryptUpdate(c, out, &len, in, in_len)) return false;
    written = len;
  }
  if (1 != EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), const_cast<uint8_t*>(tag)))
    return false;
  return 1 == EVP_DecryptFinal_ex(c, out + written, &len);
}

}  // namespace

Status RawGcmLoop(size_t size, size_t aad_size, uint64_t iterations, bool decrypt, double* seconds) {
  *seconds = 0.0;
  if (aad_size > size || size > kMaxCryptSize) return Status::kInvalidArgument;
  ERR_clear_error();
  CipherPtr cipher(EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr));
  CtxPtr enc(EVP_CIPHER_CTX_new());
  CtxPtr dec(EVP_CIPHER_CTX_new());
  if (!cipher || !enc || !dec) return fail();

  uint8_t key[16];
  uint8_t iv[kIvSize];
  std::vector<uint8_t> message(size);
  if (RandomBytes({key, sizeof key}) != Status::kOk || RandomBytes({iv, sizeof iv}) != Status::kOk ||
      RandomBytes({message.data(), message.size()}) != Status::kOk)
    return fail();
  const bool keyed = 1 == EVP_EncryptInit_ex2(enc.get(), cipher.get(), key, nullptr, nullptr) &&
                     1 == EVP_DecryptInit_ex2(dec.get(), cipher.get(), key, nullptr, nullptr);
  SecureWipe(key, sizeof key);
  if (!keyed) return fail();

  const uint8_t* aad = message.data();
  const int aad_len = static_cast<int>(aad_size);
  const uint8_t* body = message.data() + aad_size;
  const int body_len = static_cast<int>(size - aad_size);
  std::vector<uint8_t> sealed(size - aad_size + kTagSize);  // ciphertext || tag
  std::vector<uint8_t> out(sealed.size());

  using Clock = std::chrono::steady_clock;
  Clock::time_point start;
  if (!decrypt) {
    start = Clock::now();
    for (uint64_t i = 0; i < iterations; ++i) {
      // A fresh IV per operation, as a sender needs (a counter in the last 4 bytes).
      iv[8] = static_cast<uint8_t>(i >> 24);
      iv[9] = static_cast<uint8_t>(i >> 16);
      iv[10] = static_cast<uint8_t>(i >> 8);
      iv[11] = static_cast<uint8_t>(i);
      if (!seal_once(enc.get(), iv, aad, aad_len, body, body_len, out.data())) return fail();
    }
  } else {
    // One valid message, authenticated and decrypted over and over.
    if (!seal_once(enc.get(), iv, aad, aad_len, body, body_len, sealed.data())) return fail();
    const uint8_t* tag = sealed.data() + body_len;
    start = Clock::now();
    for (uint64_t i = 0; i < iterations; ++i) {
      if (!open_once(dec.get(), iv, aad, aad_len, sealed.data(), body_len, tag, out.data())) return fail();
    }
  }
  *seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return Status::kOk;
}

}  // namespace framecryptor
