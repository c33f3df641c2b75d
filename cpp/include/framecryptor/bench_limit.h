// The physical limit the benchmarks compare against: raw AES-GCM through
// OpenSSL's EVP interface, with none of the frame format around it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "framecryptor/status.h"

namespace framecryptor {

// Runs `iterations` AES-128-GCM operations over a `size`-byte message whose
// first `aad_size` bytes are authenticated only (the frame format's clear
// header) and the rest encrypted (or decrypted and tag-checked when
// `decrypt`), and stores the elapsed wall time in *seconds.
//
// One keyed context is reused: per operation only the IV, AAD, data, final
// and tag calls run, as in the fastest possible use of OpenSSL (no frame
// parsing, no allocation, the same hot buffers every time). Input and output
// buffers are allocated before the clock starts.
//
// kInvalidArgument when aad_size > size or size > kMaxCryptSize; kInternal
// when an OpenSSL call fails (including a tag check in the decrypt loop).
Status RawGcmLoop(size_t size, size_t aad_size, uint64_t iterations, bool decrypt, double* seconds);

}  // namespace framecryptor
