// ThreadPool.cpp - spin, then sleep on a condition variable.
#include "netjit/Runtime/ThreadPool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NETJIT_PAUSE() _mm_pause()
#else
#define NETJIT_PAUSE() std::this_thread::yield()
#endif

namespace netjit {

// About 50-100 us of pause instructions: longer than the gap between two
// phases of a training step, far shorter than a human notices.
static constexpr unsigned SpinLimit = 1u << 14;

ThreadPool::ThreadPool(unsigned Threads) {
  for (unsigned I = 1; I < Threads; ++I)
    Workers.emplace_back([this, I] { work(I); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> G(Lock);
    Stop = true;
  }
  Wake.notify_all();
  for (std::thread &T : Workers)
    T.join();
}

void ThreadPool::run(llvm::function_ref<void(unsigned)> Job) {
  if (Workers.empty()) {
    Job(0);
    return;
  }
  Current = Job;
  Pending = Workers.size();
  // Sequentially consistent: a worker that is about to sleep either sees
  // the new generation or is counted in Sleepers here.
  Generation.fetch_add(1);
  if (Sleepers.load()) {
    std::lock_guard<std::mutex> G(Lock);
    Wake.notify_all();
  }
  Job(0);
  for (unsigned Spin = 0; Pending.load(std::memory_order_acquire); ++Spin)
    if (Spin < SpinLimit)
      NETJIT_PAUSE();
    else
      std::this_thread::yield();
}

void ThreadPool::work(unsigned Index) {
  uint64_t Seen = 0;
  for (;;) {
    unsigned Spin = 0;
    while (Generation.load() == Seen && !Stop.load() && Spin++ < SpinLimit)
      NETJIT_PAUSE();
    if (Generation.load() == Seen) {
      std::unique_lock<std::mutex> G(Lock);
      ++Sleepers;
      Wake.wait(G, [&] { return Generation.load() != Seen || Stop.load(); });
      --Sleepers;
    }
    if (Stop.load())
      return;
    Seen = Generation.load();
    Current(Index);
    Pending.fetch_sub(1, std::memory_order_release);
  }
}

} // namespace netjit
