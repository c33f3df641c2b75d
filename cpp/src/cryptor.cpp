#include "framecryptor/cryptor.h"

#include <algorithm>
#include <cstring>

#include "framecryptor/sif.h"

namespace framecryptor {

// ---------------------------------------------------------------------------
// KeyRing

KeyRing::KeyRing(size_t size) : slots_(std::min(std::max<size_t>(size, 1), kMaxSize)) {}

bool KeyRing::Set(size_t index, std::shared_ptr<AesGcmKey> key) {
  if (index >= slots_.size()) return false;
  std::shared_ptr<AesGcmKey> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old.swap(slots_[index]);
    slots_[index] = std::move(key);
  }
  return true;  // old key released outside the lock
}

std::shared_ptr<AesGcmKey> KeyRing::Get(size_t index) const {
  if (index >= slots_.size()) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  return slots_[index];
}

// ---------------------------------------------------------------------------
// SifPolicy

void SifPolicy::SetTrailer(ByteView trailer) {
  std::lock_guard<std::mutex> lock(mu_);
  trailer_.assign(trailer.data, trailer.data + trailer.size);
}

std::vector<uint8_t> SifPolicy::Trailer() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trailer_;
}

void SifPolicy::SetForwarding(bool allowed) {
  std::lock_guard<std::mutex> lock(mu_);
  forwarding_ = allowed;
}

bool SifPolicy::forwarding() const {
  std::lock_guard<std::mutex> lock(mu_);
  return forwarding_;
}

SifPolicy::Verdict SifPolicy::Check(Codec codec, ByteView frame, size_t* payload_size,
                                    const char** name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const ByteView trailer(trailer_.data(), trailer_.size());
  if (!EndsWithSifTrailer(frame, trailer)) return Verdict::kNotSif;
  if (!forwarding_) return Verdict::kDrop;
  const ByteView payload = frame.first(frame.size - trailer.size);
  const char* id = IdentifySifPayload(codec, payload);
  if (id == nullptr) return Verdict::kDrop;
  *payload_size = payload.size;
  *name = id;
  return Verdict::kForward;
}

// ---------------------------------------------------------------------------
// FrameCounters

const char* FrameCounters::Name(Kind k) {
  switch (k) {
    case kEncrypted:
      return "encrypted";
    case kEncryptFailed:
      return "encrypt_failed";
    case kDecrypted:
      return "decrypted";
    case kAuthFailed:
      return "auth_failed";
    case kMissingKey:
      return "missing_key";
    case kInvalidFrame:
      return "invalid_frame";
    case kReplayed:
      return "replayed";
    case kSifForwarded:
      return "sif_forwarded";
    case kSifDropped:
      return "sif_dropped";
    case kKindCount:
      break;
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// ReplayGuard

ReplayGuard::ReplayGuard(uint32_t window, size_t max_streams)
    : window_(std::max<uint32_t>(window, 1)), max_streams_(std::max<size_t>(max_streams, 1)) {}

bool ReplayGuard::Accept(uint8_t key_index, uint64_t key_id, const uint8_t iv[kIvSize]) {
  uint64_t prefix = 0;
  for (size_t i = 0; i < 8; ++i) prefix = (prefix << 8) | iv[i];
  const uint32_t counter = (uint32_t{iv[8]} << 24) | (uint32_t{iv[9]} << 16) | (uint32_t{iv[10]} << 8) | iv[11];
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = streams_.try_emplace(StreamKey{key_id, prefix, key_index});
  Stream& s = it->second;
  s.last_use = ++tick_;
  auto bit = [&](uint32_t c) -> uint64_t& { return s.seen[(c % window_) / 64]; };
  auto mask = [&](uint32_t c) { return uint64_t{1} << ((c % window_) % 64); };
  if (inserted) {
    s.seen.assign((window_ + 63) / 64, 0);
    s.top = counter;
    bit(counter) |= mask(counter);
    if (streams_.size() > max_streams_) Evict();
    return true;
  }
  if (counter > s.top) {
    // Forget the counters that fall out of the window as it advances.
    if (counter - s.top >= window_) {
      std::fill(s.seen.begin(), s.seen.end(), 0);
    } else {
      for (uint32_t c = s.top + 1; c != counter + 1; ++c) bit(c) &= ~mask(c);
    }
    s.top = counter;
    bit(counter) |= mask(counter);
    return true;
  }
  if (s.top - counter >= window_) return false;  // too old to tell: refused
  if (bit(counter) & mask(counter)) return false;
  bit(counter) |= mask(counter);
  return true;
}

void ReplayGuard::Evict() {
  // Drop the least recently used half at once: amortized O(log n) per stream.
  std::vector<uint64_t> uses;
  uses.reserve(streams_.size());
  for (const auto& kv : streams_) uses.push_back(kv.second.last_use);
  auto mid = uses.begin() + static_cast<std::ptrdiff_t>(uses.size() / 2);
  std::nth_element(uses.begin(), mid, uses.end());
  const uint64_t cutoff = *mid;
  for (auto it = streams_.begin(); it != streams_.end();) {
    it = it->second.last_use < cutoff ? streams_.erase(it) : std::next(it);
  }
}

// ---------------------------------------------------------------------------
// FrameCryptorCore

FrameCryptorCore::FrameCryptorCore(Codec codec, std::shared_ptr<KeyRing> ring, std::shared_ptr<SifPolicy> sif)
    : codec_(codec), ring_(std::move(ring)), sif_(std::move(sif)) {
  if (!sif_) sif_ = std::make_shared<SifPolicy>();
}

void FrameCryptorCore::SetKeyRing(std::shared_ptr<KeyRing> ring) {
  std::lock_guard<std::mutex> lock(ring_mu_);
  ring_ = std::move(ring);
}

std::shared_ptr<KeyRing> FrameCryptorCore::key_ring() const {
  std::lock_guard<std::mutex> lock(ring_mu_);
  return ring_;
}

Status FrameCryptorCore::SetKeyIndex(size_t index) {
  auto ring = key_ring();
  if (index > 255 || (ring && index >= ring->size())) return Status::kInvalidArgument;
  key_index_.store(static_cast<uint8_t>(index), std::memory_order_relaxed);
  return Status::kOk;
}

Result FrameCryptorCore::Encrypt(ByteView in, bool key_frame, MutByteView out, FrameLayout* layout) const {
  if (in.size == 0) return Result::Ok(0);
  const uint8_t idx = key_index();
  auto ring = key_ring();
  std::shared_ptr<AesGcmKey> key = ring ? ring->Get(idx) : nullptr;
  if (!key) {
    Count(idx, FrameCounters::kMissingKey);
    return Result::Err(Status::kMissingKey);
  }
  return EncryptWith(*key, idx, in, key_frame, out, layout);
}

Result FrameCryptorCore::EncryptWith(AesGcmKey& key, uint8_t key_index, ByteView in, bool key_frame,
                                     MutByteView out, FrameLayout* layout) const {
  EncryptParams p;
  p.codec = codec_;
  p.key_frame = key_frame;
  p.key_index = key_index;
  p.normalize_start_codes = normalize_start_codes();
  const Result r = EncryptFrame(key, p, in, out, layout);
  if (!in.empty()) Count(key_index, r.ok() ? FrameCounters::kEncrypted : FrameCounters::kEncryptFailed);
  return r;
}

size_t FrameCryptorCore::DecryptCapacity(ByteView in) const {
  PacketTrailer pt;
  if (packet_trailer() && ParsePacketTrailer(in, &pt)) in = in.first(pt.stripped_size);
  size_t payload = 0;
  const char* name = nullptr;
  if (sif_->Check(codec_, in, &payload, &name) == SifPolicy::Verdict::kForward)
    return std::max(payload, DecryptBound(in.size));
  return DecryptBound(in.size);
}

DecryptOutcome FrameCryptorCore::Decrypt(ByteView in, int key_frame, MutByteView out,
                                         const AesGcmKey* key_override) const {
  DecryptOutcome r;
  if (packet_trailer() && ParsePacketTrailer(in, &r.packet_trailer)) {
    r.has_packet_trailer = true;
    in = in.first(r.packet_trailer.stripped_size);
  }
  if (in.size == 0) {
    r.kind = DecryptOutcome::Kind::kEmpty;
    return r;
  }
  size_t payload = 0;
  switch (sif_->Check(codec_, in, &payload, &r.sif_payload)) {
    case SifPolicy::Verdict::kNotSif:
      break;
    case SifPolicy::Verdict::kDrop:
      r.status = Status::kSifDropped;
      Count(0, FrameCounters::kSifDropped);
      return r;
    case SifPolicy::Verdict::kForward:
      if (out.size < payload) {
        r.status = Status::kOutputTooSmall;
        return r;
      }
      std::memcpy(out.data, in.data, payload);
      r.kind = DecryptOutcome::Kind::kSif;
      r.size = payload;
      Count(0, FrameCounters::kSifForwarded);
      return r;
  }
  TrailerInfo t;
  r.status = ReadTrailer(in, &t);
  if (in.size >= 1) r.key_index = in[in.size - 1];
  if (r.status != Status::kOk) {
    Count(r.key_index, FrameCounters::kInvalidFrame);
    return r;
  }

  std::shared_ptr<AesGcmKey> held;
  const AesGcmKey* key = key_override;
  if (key == nullptr) {
    auto ring = key_ring();
    held = ring ? ring->Get(t.key_index) : nullptr;
    if (!held) {
      r.status = Status::kMissingKey;
      Count(r.key_index, FrameCounters::kMissingKey);
      return r;
    }
    key = held.get();
  }
  DecryptParams p;
  p.codec = codec_;
  p.key_frame = key_frame;
  uint8_t iv[kIvSize];
  const Result res = DecryptFrame(*key, p, in, out, &r.layout, iv);
  r.status = res.status;
  r.size = res.size;
  if (res.ok() && replay_ && !replay_->Accept(t.key_index, key->id(), iv)) {
    // Authentic but already seen: the plaintext must not leave.
    SecureWipe(out.data, res.size);
    r.status = Status::kReplay;
    r.size = 0;
    Count(r.key_index, FrameCounters::kReplayed);
    return r;
  }
  if (res.ok()) {
    Count(r.key_index, FrameCounters::kDecrypted);
  } else if (res.status == Status::kFrameTooShort || res.status == Status::kBadTrailer) {
    Count(r.key_index, FrameCounters::kInvalidFrame);
  }
  return r;
}

}  // namespace framecryptor
