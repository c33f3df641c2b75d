// Status codes returned by every fallible core function. The core does not
// throw: the Python binding maps each status to one exception class.
#pragma once

#include <cstddef>
#include <cstdint>

namespace framecryptor {

enum class Status : uint8_t {
  kOk = 0,
  kInvalidArgument,   // a parameter is out of range (key size, codec, key index)
  kFrameTooShort,     // shorter than the clear header (encrypt) or header + 30 (decrypt)
  kBadTrailer,        // the IV-length byte is not 12
  kMissingKey,        // no key in the slot the frame (or the cryptor) names
  kAuthFailed,        // AES-GCM tag check failed: deliberately carries no detail
  kOutputTooSmall,    // caller-provided output span is too small
  kIvExhausted,       // the key's IV counter is used up: rotate or ratchet the key
  kSifDropped,        // frame carries the SIF trailer but its payload is not allow-listed
  kUnstableLayout,    // no IV gave a frame that receivers parse the way it was built
  kTooLarge,          // input exceeds what OpenSSL's int-sized API accepts
  kInternal,          // OpenSSL reported an unexpected failure
  kReplay,            // authentic frame whose IV was already accepted (replay protection)
  kAborted,           // a chunk observer stopped the operation (internal to the core)
};

// Static, key-free description of a status.
const char* status_message(Status s);

struct Result {
  Status status = Status::kOk;
  size_t size = 0;  // bytes written on success

  bool ok() const { return status == Status::kOk; }
  static Result Ok(size_t n) { return {Status::kOk, n}; }
  static Result Err(Status s) { return {s, 0}; }
};

}  // namespace framecryptor
