// ThreadPool.h - a fixed set of worker threads that run one job together
// and return: what a training step split across cores needs (two short
// phases per step, each a few hundred microseconds), so a worker spins a
// little before it sleeps and a job starts without a system call when the
// workers are awake.
#ifndef NETJIT_RUNTIME_THREADPOOL_H
#define NETJIT_RUNTIME_THREADPOOL_H

#include "llvm/ADT/STLFunctionalExtras.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace netjit {

class ThreadPool {
public:
  /// Threads - 1 workers; the caller of run() is thread 0.
  explicit ThreadPool(unsigned Threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned size() const { return Workers.size() + 1; }
  /// Job(I) for every I in [0, size()), Job(0) on the calling thread;
  /// returns when all are done. One run() at a time.
  void run(llvm::function_ref<void(unsigned)> Job);

private:
  void work(unsigned Index);
  std::vector<std::thread> Workers;
  llvm::function_ref<void(unsigned)> Current;
  std::atomic<uint64_t> Generation{0};
  std::atomic<unsigned> Pending{0};
  std::atomic<unsigned> Sleepers{0};
  std::atomic<bool> Stop{false};
  std::mutex Lock;
  std::condition_variable Wake;
};

} // namespace netjit

#endif
