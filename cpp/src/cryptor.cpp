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
  if (!key) return Result::Err(Status::kMissingKey);
  return EncryptWith(*key, idx, in, key_frame, out, layout);
}

Result FrameCryptorCore::EncryptWith(AesGcmKey& key, uint8_t key_index, ByteView in, bool key_frame,
                                     MutByteView out, FrameLayout* layout) const {
  EncryptParams p;
  p.codec = codec_;
  p.key_frame = key_frame;
  p.key_index = key_index;
  p.normalize_start_codes = normalize_start_codes();
  return EncryptFrame(key, p, in, out, layout);
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
      return r;
    case SifPolicy::Verdict::kForward:
      if (out.size < payload) {
        r.status = Status::kOutputTooSmall;
        return r;
      }
      std::memcpy(out.data, in.data, payload);
      r.kind = DecryptOutcome::Kind::kSif;
      r.size = payload;
      return r;
  }
  TrailerInfo t;
  r.status = ReadTrailer(in, &t);
  if (in.size >= 1) r.key_index = in[in.size - 1];
  if (r.status != Status::kOk) return r;

  std::shared_ptr<AesGcmKey> held;
  const AesGcmKey* key = key_override;
  if (key == nullptr) {
    auto ring = key_ring();
    held = ring ? ring->Get(t.key_index) : nullptr;
    if (!held) {
      r.status = Status::kMissingKey;
      return r;
    }
    key = held.get();
  }
  DecryptParams p;
  p.codec = codec_;
  p.key_frame = key_frame;
  const Result res = DecryptFrame(*key, p, in, out, &r.layout);
  r.status = res.status;
  r.size = res.size;
  return r;
}

}  // namespace framecryptor
