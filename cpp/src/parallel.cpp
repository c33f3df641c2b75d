#include "framecryptor/parallel.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace framecryptor {

namespace {

constexpr unsigned kMaxWorkers = 64;

struct Job {
  const std::function<void(size_t)>* fn = nullptr;
  size_t n = 0;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
};

void drain(Job& job) {
  size_t i;
  while ((i = job.next.fetch_add(1, std::memory_order_relaxed)) < job.n) {
    (*job.fn)(i);
    job.done.fetch_add(1, std::memory_order_acq_rel);
  }
}

// Worker threads sleep on a condition variable until a batch is posted. The
// pool is created on first use, never destroyed (its threads are detached, so
// interpreter shutdown never waits for them), and recreated in a forked child,
// where the parent's threads do not exist.
class Pool {
 public:
  static Pool& Get() {
    static std::mutex create_mu;
    static Pool* pool = nullptr;
    static pid_t owner = 0;
    std::lock_guard<std::mutex> lock(create_mu);
    if (pool == nullptr || owner != getpid()) {
      pool = new Pool();  // a forked child's stale pool is abandoned, not touched
      owner = getpid();
    }
    return *pool;
  }

  bool TryRun(Job& job, unsigned helpers) {
    std::unique_lock<std::mutex> run(run_mu_, std::try_to_lock);
    if (!run.owns_lock()) return false;
    Grow(helpers);
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &job;
      slots_ = helpers;
      ++generation_;
    }
    cv_.notify_all();
    drain(job);
    // Wait for every item to finish (helpers may still be running theirs).
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return job.done.load(std::memory_order_acquire) == job.n && active_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  void Grow(unsigned want) {
    while (threads_ < want && threads_ < kMaxWorkers) {
      std::thread([this] { Loop(); }).detach();
      ++threads_;
    }
  }

  void Loop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (job_ == nullptr || slots_ == 0) continue;
      --slots_;
      ++active_;
      Job* job = job_;
      lock.unlock();
      drain(*job);
      lock.lock();
      --active_;
      done_cv_.notify_all();
    }
  }

  std::mutex run_mu_;  // one batch at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  Job* job_ = nullptr;
  unsigned slots_ = 0;
  unsigned active_ = 0;
  unsigned threads_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace

unsigned HardwareThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

void ParallelFor(size_t n, unsigned threads, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  Job job;
  job.fn = &fn;
  job.n = n;
  const unsigned helpers = static_cast<unsigned>(std::min<size_t>(threads == 0 ? 0 : threads - 1, n - 1));
  if (helpers == 0 || !Pool::Get().TryRun(job, helpers)) drain(job);
}

}  // namespace framecryptor
