// A small persistent worker pool for batch frame crypto.
#pragma once

#include <cstddef>
#include <functional>

namespace framecryptor {

// Number of hardware threads (at least 1).
unsigned HardwareThreads();

// Calls fn(i) exactly once for every i in [0, n), on up to `threads` threads
// (the calling thread is one of them), and returns when all calls are done.
// Items are handed out one at a time, so uneven frame sizes balance out.
// If the pool is busy with another caller's batch, this batch runs on the
// calling thread alone rather than waiting. fn must not throw.
void ParallelFor(size_t n, unsigned threads, const std::function<void(size_t)>& fn);

}  // namespace framecryptor
