// The crypto backend: every OpenSSL call of the project lives behind this
// header (AES-GCM seal/open with a per-key IV generator, PBKDF2, HKDF,
// SHA-256, randomness).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "framecryptor/bytes.h"
#include "framecryptor/status.h"

// Forward declaration keeps OpenSSL headers out of the public API.
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace framecryptor {

constexpr size_t kIvSize = 12;
constexpr size_t kTagSize = 16;
// Largest plaintext/ciphertext accepted in one call (OpenSSL takes int sizes).
constexpr size_t kMaxCryptSize = (size_t{1} << 30);

// An AES-GCM key (AES-128 or AES-256) with a keyed OpenSSL context kept for
// its lifetime: per operation only the IV is set, never the key.
//
// IVs for sealing come from next_iv(): 8 random bytes drawn when the key
// object is created, then a 32-bit big-endian counter. The counter never
// wraps: after 2^32 IVs next_iv() fails with kIvExhausted. Uniqueness across
// several key objects holding the same AES key (e.g. every participant of a
// shared-key room) rests on the 64-bit random prefix.
//
// Thread-safe: seal/open/next_iv may be called concurrently.
class AesGcmKey {
 public:
  // key.size must be 16 or 32; returns nullptr and sets *status otherwise.
  static std::shared_ptr<AesGcmKey> Create(ByteView key, Status* status);

  ~AesGcmKey();
  AesGcmKey(const AesGcmKey&) = delete;
  AesGcmKey& operator=(const AesGcmKey&) = delete;

  size_t key_size() const { return key_size_; }
  // Process-unique id of this key object (never reused, unlike its address).
  uint64_t id() const { return id_; }
  // First 4 bytes of SHA-256(key): identifies the key in logs without revealing it.
  const std::array<uint8_t, 4>& fingerprint() const { return fingerprint_; }

  // Writes the next never-used IV for this key.
  Status NextIv(uint8_t iv[kIvSize]);
  uint64_t ivs_issued() const { return counter_.load(std::memory_order_relaxed); }
  static constexpr uint64_t kIvLimit = uint64_t{1} << 32;
  // Test hook: move the counter (only forward) to exercise exhaustion.
  void AdvanceIvCounterForTesting(uint64_t value);

  // Sees the ciphertext in pieces of at most kChunk bytes, in order, while it
  // is still in cache (Seal: each piece of output, then the tag; Open: each
  // piece of input before it is decrypted, the tag last). Returning false
  // stops Open (kAborted); Seal ignores the result.
  using ChunkObserver = std::function<bool(const uint8_t* data, size_t n)>;
  static constexpr size_t kChunk = 16384;

  // out receives plaintext.size + 16 bytes (ciphertext || tag). out may equal
  // plaintext.data (in place); other overlaps are not allowed.
  Status Seal(const uint8_t iv[kIvSize], ByteView aad, ByteView plaintext, uint8_t* out,
              const ChunkObserver* observer = nullptr) const;

  // ciphertext_and_tag.size >= 16; out receives size - 16 bytes. out may equal
  // ciphertext_and_tag.data. On kAuthFailed (or kAborted) the bytes written to
  // out are unauthenticated and have already been wiped.
  Status Open(const uint8_t iv[kIvSize], ByteView aad, ByteView ciphertext_and_tag, uint8_t* out,
              const ChunkObserver* observer = nullptr) const;

 private:
  struct CtxDeleter {
    void operator()(EVP_CIPHER_CTX* c) const;
  };
  using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

  AesGcmKey() = default;
  CtxPtr Acquire() const;
  void Release(CtxPtr ctx) const;

  size_t key_size_ = 0;
  uint64_t id_ = 0;
  std::array<uint8_t, 4> fingerprint_{};
  std::array<uint8_t, 8> iv_prefix_{};
  std::atomic<uint64_t> counter_{0};

  CtxPtr base_;  // keyed once; copied for each concurrent user
  // Keyed contexts ready for reuse: a few lock-free slots (the common,
  // uncontended case costs two atomic exchanges), then a locked overflow list.
  static constexpr size_t kSpareSlots = 4;
  mutable std::atomic<EVP_CIPHER_CTX*> spare_[kSpareSlots] = {};
  mutable std::mutex pool_mu_;
  mutable std::vector<CtxPtr> pool_;
};

// LiveKit's key schedule: one KDF run with a 32-byte output over the key
// material (PBKDF2-HMAC-SHA256 x100000, or HKDF-SHA256 with 128 zero bytes of
// info; salt = ratchet salt). Its first key_size bytes are the AES key, all 32
// are the material of the next ratchet step. The AES key goes straight into
// OpenSSL; the intermediate buffer is wiped.
enum class Kdf : uint8_t { kPbkdf2 = 0, kHkdf = 1 };
constexpr size_t kRatchetSize = 32;
constexpr uint32_t kPbkdf2Iterations = 100000;
Status DeriveKey(ByteView material, ByteView salt, Kdf kdf, size_t key_size, std::shared_ptr<AesGcmKey>* key,
                 uint8_t next_material[kRatchetSize]);

// PBKDF2-HMAC-SHA256 into out (out.size bytes).
Status Pbkdf2Sha256(ByteView password, ByteView salt, uint32_t iterations, MutByteView out);
// HKDF-SHA256 (extract + expand) into out (out.size bytes, at most 255 * 32).
Status HkdfSha256(ByteView ikm, ByteView salt, ByteView info, MutByteView out);
void Sha256(ByteView data, uint8_t out[32]);
Status RandomBytes(MutByteView out);
// Wipes memory in a way the compiler cannot elide.
void SecureWipe(void* p, size_t n);

}  // namespace framecryptor
