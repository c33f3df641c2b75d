// Key ring, room-wide SIF policy and the per-track frame cryptor that ties
// them to the frame format. Everything here is thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "framecryptor/bytes.h"
#include "framecryptor/codec.h"
#include "framecryptor/crypto.h"
#include "framecryptor/frame.h"
#include "framecryptor/packet_trailer.h"
#include "framecryptor/status.h"

namespace framecryptor {

// Fixed-size ring of AES keys indexed by the frame's key index.
class KeyRing {
 public:
  static constexpr size_t kMaxSize = 256;
  // size must be 1..256 (callers validate; out-of-range sizes are clamped).
  explicit KeyRing(size_t size);

  size_t size() const { return slots_.size(); }
  // False when index >= size.
  bool Set(size_t index, std::shared_ptr<AesGcmKey> key);
  // nullptr for an empty slot or index >= size.
  std::shared_ptr<AesGcmKey> Get(size_t index) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<AesGcmKey>> slots_;
};

// The room's server-injected-frame trailer and whether SIF frames may be forwarded.
class SifPolicy {
 public:
  enum class Verdict : uint8_t { kNotSif, kForward, kDrop };

  void SetTrailer(ByteView trailer);
  std::vector<uint8_t> Trailer() const;
  void SetForwarding(bool allowed);
  bool forwarding() const;

  // kForward sets *payload_size (the frame without the trailer) and *name.
  Verdict Check(Codec codec, ByteView frame, size_t* payload_size, const char** name) const;

 private:
  mutable std::mutex mu_;
  std::vector<uint8_t> trailer_;
  bool forwarding_ = true;
};

// Per key index counts of what happened to one participant's frames.
class FrameCounters {
 public:
  enum Kind : uint8_t {
    kEncrypted,
    kEncryptFailed,
    kDecrypted,
    kAuthFailed,
    kMissingKey,
    kInvalidFrame,
    kReplayed,
    kSifForwarded,
    kSifDropped,
    kKindCount,
  };
  static const char* Name(Kind k);

  void Add(size_t key_index, Kind kind, uint64_t n = 1) {
    if (key_index < counts_.size()) counts_[key_index][kind].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Get(size_t key_index, Kind kind) const {
    return key_index < counts_.size() ? counts_[key_index][kind].load(std::memory_order_relaxed) : 0;
  }

 private:
  std::array<std::array<std::atomic<uint64_t>, kKindCount>, 256> counts_{};
};

// Replay protection: a sliding window over IV counters, per key. An IV is
// read as an 8-byte stream id and a 32-bit big-endian counter (framecryptor's
// own IVs: a random prefix per key object and a counter). Within a stream a
// counter is accepted once, and not at all once it is `window` or more behind
// the highest accepted one. Senders whose IV prefix changes every frame
// (livekit-client and native put the RTP timestamp there) make one stream per
// frame: then the most recent `max_streams` IVs are remembered exactly.
class ReplayGuard {
 public:
  ReplayGuard(uint32_t window, size_t max_streams);
  uint32_t window() const { return window_; }
  // Records iv as accepted under (key_index, key_id); false when it was
  // accepted before or is too old. Call only after authentication succeeded.
  bool Accept(uint8_t key_index, uint64_t key_id, const uint8_t iv[kIvSize]);

 private:
  struct StreamKey {
    uint64_t key_id;
    uint64_t prefix;
    uint8_t key_index;
    bool operator==(const StreamKey& o) const {
      return key_id == o.key_id && prefix == o.prefix && key_index == o.key_index;
    }
  };
  struct StreamHash {
    size_t operator()(const StreamKey& k) const {
      return std::hash<uint64_t>()(k.key_id * 0x9e3779b97f4a7c15ULL ^ k.prefix ^ (uint64_t{k.key_index} << 56));
    }
  };
  struct Stream {
    uint32_t top = 0;
    uint64_t last_use = 0;
    std::vector<uint64_t> seen;  // ring of `window` bits, bit (counter % window)
  };
  void Evict();

  const uint32_t window_;
  const size_t max_streams_;
  std::mutex mu_;
  uint64_t tick_ = 0;
  std::unordered_map<StreamKey, Stream, StreamHash> streams_;
};

struct DecryptOutcome {
  enum class Kind : uint8_t { kDecrypted, kEmpty, kSif };
  Status status = Status::kOk;
  Kind kind = Kind::kDecrypted;
  size_t size = 0;           // bytes written to out
  int key_index = -1;        // from the trailer, when it could be read
  FrameLayout layout;        // layout that authenticated (kDecrypted)
  const char* sif_payload = nullptr;
  bool has_packet_trailer = false;
  PacketTrailer packet_trailer;  // offsets relative to the input frame
};

// One track's cryptor: codec, the key ring it encrypts/decrypts with, the key
// index it encrypts with, and the room's SIF policy.
class FrameCryptorCore {
 public:
  FrameCryptorCore(Codec codec, std::shared_ptr<KeyRing> ring, std::shared_ptr<SifPolicy> sif);

  Codec codec() const { return codec_; }
  void SetKeyRing(std::shared_ptr<KeyRing> ring);
  std::shared_ptr<KeyRing> key_ring() const;
  uint8_t key_index() const { return key_index_.load(std::memory_order_relaxed); }
  // kInvalidArgument when index >= ring size.
  Status SetKeyIndex(size_t index);
  void SetPacketTrailer(bool on) { packet_trailer_.store(on); }
  bool packet_trailer() const { return packet_trailer_.load(); }
  void SetNormalizeStartCodes(bool on) { normalize_.store(on); }
  bool normalize_start_codes() const { return normalize_.load(); }
  // Optional: counts per key index, and replay protection (shared by the
  // cryptors of one participant). Set before use from several threads.
  void SetCounters(std::shared_ptr<FrameCounters> c) { counters_ = std::move(c); }
  const std::shared_ptr<FrameCounters>& counters() const { return counters_; }
  void SetReplayGuard(std::shared_ptr<ReplayGuard> g) { replay_ = std::move(g); }
  const std::shared_ptr<ReplayGuard>& replay_guard() const { return replay_; }

  size_t EncryptBound(size_t n) const { return EncryptedSizeBound(codec_, n); }
  size_t EncryptHint(size_t n) const { return EncryptedSizeHint(codec_, n); }
  size_t DecryptBound(size_t n) const { return DecryptedSizeBound(codec_, n); }
  // Output capacity Decrypt needs for this particular input (covers SIF
  // frames, whose output is the frame minus the SIF trailer).
  size_t DecryptCapacity(ByteView in) const;

  // Encrypts with the key at key_index(); kMissingKey when that slot is empty.
  Result Encrypt(ByteView in, bool key_frame, MutByteView out, FrameLayout* layout = nullptr) const;
  // Same with an explicit key (its index is written to the trailer).
  Result EncryptWith(AesGcmKey& key, uint8_t key_index, ByteView in, bool key_frame, MutByteView out,
                     FrameLayout* layout = nullptr) const;

  // Strips a packet trailer (if enabled), handles empty and SIF frames, reads
  // the key index and decrypts with that slot's key (or with key_override).
  DecryptOutcome Decrypt(ByteView in, int key_frame, MutByteView out,
                         const AesGcmKey* key_override = nullptr) const;

 private:
  const Codec codec_;
  mutable std::mutex ring_mu_;
  std::shared_ptr<KeyRing> ring_;
  std::shared_ptr<SifPolicy> sif_;
  std::atomic<uint8_t> key_index_{0};
  std::atomic<bool> packet_trailer_{false};
  std::atomic<bool> normalize_{true};
  std::shared_ptr<FrameCounters> counters_;
  std::shared_ptr<ReplayGuard> replay_;

  void Count(int key_index, FrameCounters::Kind kind) const {
    if (counters_ && key_index >= 0) counters_->Add(static_cast<size_t>(key_index), kind);
  }
};

}  // namespace framecryptor
