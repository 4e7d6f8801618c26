// kernels.cpp - activation kernel throughput (forward, backward, fused), the
// machine's streaming bandwidth, and JIT compile latency, as JSON.
// Run by bench/run; not a test.
#include "netjit/Activations/Catalog.h"
#include "netjit/CodeGen/Kernels.h"
#include "netjit/JIT/Jit.h"

#include "llvm/Support/FileSystem.h"
#include <nlohmann/json.hpp>

#include <algorithm>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <chrono>
#include <cstdio>
#include <iostream>
#include <vector>

using namespace netjit;
using Clock = std::chrono::steady_clock;

namespace {

/// The in-cache ceiling: relu's fused pass (y = max(x, 0), dx = x > 0 ? dy
/// : 0; 16 bytes per element, the fewest any fused kernel moves) written by
/// hand, over the arrays a 1M kernel uses. Elements [From, N) in C++:
void reluPassFrom(const float *X, const float *DY, float *Y, float *DX,
                  int64_t From, int64_t N) {
  for (int64_t I = From; I < N; ++I) {
    Y[I] = X[I] > 0 ? X[I] : 0;
    DX[I] = X[I] > 0 ? DY[I] : 0;
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void reluPassAvx2(const float *X,
                                                  const float *DY, float *Y,
                                                  float *DX, int64_t N) {
  const __m256 Zero = _mm256_setzero_ps();
  int64_t I = 0;
  for (; I + 8 <= N; I += 8) {
    __m256 A = _mm256_loadu_ps(X + I);
    __m256 Pos = _mm256_cmp_ps(A, Zero, _CMP_GT_OQ);
    _mm256_storeu_ps(Y + I, _mm256_max_ps(A, Zero));
    _mm256_storeu_ps(DX + I, _mm256_and_ps(Pos, _mm256_loadu_ps(DY + I)));
  }
  reluPassFrom(X, DY, Y, DX, I, N);
}
#endif

bool hasAvx2() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

/// The pass, in portable C++ where AVX2 is missing (then no ceiling).
void reluPass(const float *X, const float *DY, float *Y, float *DX,
              int64_t N) {
#if defined(__x86_64__)
  if (hasAvx2())
    return reluPassAvx2(X, DY, Y, DX, N);
#endif
  reluPassFrom(X, DY, Y, DX, 0, N);
}

double seconds(Clock::time_point A, Clock::time_point B) {
  return std::chrono::duration<double>(B - A).count();
}

/// Median seconds of Reps calls of Fn, after one warm-up call.
template <typename F> double median(int Reps, F Fn) {
  Fn();
  std::vector<double> T;
  for (int I = 0; I < Reps; ++I) {
    auto A = Clock::now();
    Fn();
    T.push_back(seconds(A, Clock::now()));
  }
  std::sort(T.begin(), T.end());
  return T[T.size() / 2];
}

using FwdFn = void (*)(const float *, float *, int64_t, const float *);
using BwdFn = void (*)(const float *, const float *, const float *, float *,
                       int64_t, const float *);
using FusedFn = void (*)(const float *, const float *, float *, float *,
                         int64_t, const float *);

/// Compiles the given kernels of Name (from the forms to callable code);
/// returns the seconds.
double compile(Jit &J, const ActivationForms &F, const std::string &Sym,
               llvm::ArrayRef<KernelKind> Kinds) {
  auto A = Clock::now();
  auto Ctx = std::make_unique<llvm::LLVMContext>();
  auto M = std::make_unique<llvm::Module>(Sym, *Ctx);
  // NETJIT_INTERLEAVE=N: native vectors per loop step (default: the
  // emitter's choice), to measure the choice.
  const char *U = std::getenv("NETJIT_INTERLEAVE");
  llvm::cantFail(emitActivationKernels(*M, F, Sym, J.lanes(), Kinds,
                                       U ? std::atoi(U) : 0));
  llvm::cantFail(J.addModule(std::move(M), std::move(Ctx)));
  for (KernelKind K : Kinds)
    llvm::cantFail(J.lookup(kernelSymbol(Sym, K)));
  return seconds(A, Clock::now());
}

template <typename Fn> Fn kernel(Jit &J, const std::string &Sym, KernelKind K) {
  return reinterpret_cast<Fn>(llvm::cantFail(J.lookup(kernelSymbol(Sym, K))));
}

} // namespace

int main(int Argc, char **Argv) {
  std::vector<std::string> Acts = {"relu",      "sigmoid", "tanh", "gelu",
                                   "gelu_tanh", "silu",    "mish", "softplus"};
  std::vector<int64_t> Sizes = {1 << 20, 64 << 20};
  if (std::getenv("NETJIT_BENCH_SMALL")) // compute-bound: 16K floats, in L1/L2
    Sizes = {1 << 14};
  int Reps = Argc > 1 ? std::atoi(Argv[1]) : 7;
  if (Argc > 2) // netjit-bench-kernels REPS NAME...: only these
    Acts.assign(Argv + 2, Argv + Argc);
  nlohmann::ordered_json Out;

  // Streaming bandwidth: a[i] = b[i] + s c[i] over 64M floats (3 streams),
  // once at the start and again around each out-of-cache fused kernel
  // measurement: this machine's memory is shared, so a kernel's share of
  // the bandwidth is against the triad measured next to it.
  int64_t TN = 64 << 20;
  std::vector<float> TA(TN), TB(TN, 1.0f), TC(TN, 2.0f);
  auto Triad = [&] {
    float S = 0.5f;
    double T = median(Reps, [&] {
      float *__restrict Ap = TA.data();
      const float *__restrict Bp = TB.data(), *__restrict Cp = TC.data();
      for (int64_t I = 0; I < TN; ++I)
        Ap[I] = Bp[I] + S * Cp[I];
    });
    return 3.0 * TN * sizeof(float) / T / 1e9;
  };
  Out["triad_gbytes_per_s"] = Triad();
  Out["pass_isa"] = hasAvx2() ? "avx2" : "c++";

  llvm::SmallString<128> CacheDir;
  llvm::sys::fs::createUniqueDirectory("netjit-bench-cache", CacheDir);
  JitOptions Cold;
  Cold.UseCache = true;
  Cold.CacheDir = std::string(CacheDir);
  auto J = llvm::cantFail(Jit::create(Cold));
  Out["lanes"] = J->lanes();
  Out["cpu"] = J->targetMachine().getTargetCPU().str();

  for (const std::string &Name : Acts) {
    const ActivationInfo &Info = *findActivation(Name);
    ExprContext Ctx;
    auto F =
        llvm::cantFail(deriveActivation(Ctx, Info.Formula, paramNames(Info)));
    std::vector<float> P = llvm::cantFail(packParams(F, defaultParams(Info)));
    // Compile latency of one fused kernel: cold, then the same module in a
    // fresh JIT (a cache hit); the median of three each.
    std::vector<double> ColdT, CachedT;
    for (int K = 0; K < 3; ++K) {
      std::string Sym = "c" + std::to_string(K) + "_" + Name;
      auto JC = llvm::cantFail(Jit::create(Cold));
      ColdT.push_back(compile(*JC, F, Sym, {KernelKind::Fused}));
      auto JH = llvm::cantFail(Jit::create(Cold));
      CachedT.push_back(compile(*JH, F, Sym, {KernelKind::Fused}));
    }
    std::sort(ColdT.begin(), ColdT.end());
    std::sort(CachedT.begin(), CachedT.end());
    std::string Sym = "b_" + Name;
    compile(*J, F, Sym,
            {KernelKind::Forward, KernelKind::Backward, KernelKind::Fused});
    auto Fwd = kernel<FwdFn>(*J, Sym, KernelKind::Forward);
    auto Bwd = kernel<BwdFn>(*J, Sym, KernelKind::Backward);
    auto Fused = kernel<FusedFn>(*J, Sym, KernelKind::Fused);
    nlohmann::ordered_json Row;
    Row["compile_cold_ms"] = ColdT[1] * 1e3;
    Row["compile_cached_ms"] = CachedT[1] * 1e3;
    for (int64_t N : Sizes) {
      std::vector<float> X(N), DY(N, 1.0f), Y(N), DX(N);
      for (int64_t I = 0; I < N; ++I)
        X[I] = -6.0f + 12.0f * static_cast<float>(I % 4096) / 4096;
      Fwd(X.data(), Y.data(), N, P.data());
      int R = N > (1 << 22) ? std::max(3, Reps / 2) : Reps * 4;
      // Small sizes: time enough calls together to read a clock.
      int64_t Inner = std::max<int64_t>(1, (1 << 20) / N);
      auto Times = [&](auto Fn) {
        return median(R,
                      [&] {
                        for (int64_t K = 0; K < Inner; ++K)
                          Fn();
                      }) /
               Inner;
      };
      double TF = Times([&] { Fwd(X.data(), Y.data(), N, P.data()); });
      double TB = Times(
          [&] { Bwd(X.data(), Y.data(), DY.data(), DX.data(), N, P.data()); });
      bool Out64 = N == (64 << 20), In1M = N == (1 << 20);
      // The in-cache ceiling over these arrays (the same alignment), in
      // bytes per second: 16 per element.
      auto Pass = [&] {
        return 16.0 * N / Times([&] {
                 reluPass(X.data(), DY.data(), Y.data(), DX.data(), N);
               }) / 1e9;
      };
      double Before = Out64 ? Triad() : In1M ? Pass() : 0;
      double TU = Times([&] {
        Fused(X.data(), DY.data(), Y.data(), DX.data(), N, P.data());
      });
      std::string Key = N == (1 << 20) ? "1M" : N == (1 << 14) ? "16K" : "64M";
      Row[Key] = {{"forward", N / TF}, {"backward", N / TB}, {"fused", N / TU}};
      if (Out64) // the mean of the triads just before and just after
        Row[Key]["triad_gbytes_per_s"] = (Before + Triad()) / 2;
      if (In1M) // likewise the hand-written pass
        Row[Key]["pass_gbytes_per_s"] = (Before + Pass()) / 2;
    }
    Out["activations"][Name] = Row;
    std::fprintf(stderr, "netjit %s done\n", Name.c_str());
  }
  llvm::sys::fs::remove_directories(CacheDir);
  std::cout << Out.dump(2) << "\n";
}
