// kernels.cpp - activation kernel throughput (forward, backward, fused), the
// machine's streaming bandwidth, and JIT compile latency, as JSON.
// Run by bench/run; not a test.
#include "netjit/Activations/Catalog.h"
#include "netjit/CodeGen/Emitter.h"
#include "netjit/JIT/Jit.h"

#include "llvm/Support/FileSystem.h"
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <vector>

using namespace netjit;
using Clock = std::chrono::steady_clock;

namespace {

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

/// Compiles the three kernels of Name; returns the compile seconds.
double compile(Jit &J, const ActivationForms &F, const std::string &Sym,
               FwdFn &Fwd, BwdFn &Bwd, FusedFn &Fused) {
  auto A = Clock::now();
  auto Ctx = std::make_unique<llvm::LLVMContext>();
  auto M = std::make_unique<llvm::Module>(Sym, *Ctx);
  llvm::cantFail(emitActivationKernels(
      *M, F, Sym, J.lanes(),
      {KernelKind::Forward, KernelKind::Backward, KernelKind::Fused},
      std::getenv("NETJIT_INTERLEAVE") ? std::atoi(std::getenv("NETJIT_INTERLEAVE")) : 0));
  llvm::cantFail(J.addModule(std::move(M), std::move(Ctx)));
  Fwd = reinterpret_cast<FwdFn>(
      llvm::cantFail(J.lookup(kernelSymbol(Sym, KernelKind::Forward))));
  Bwd = reinterpret_cast<BwdFn>(
      llvm::cantFail(J.lookup(kernelSymbol(Sym, KernelKind::Backward))));
  Fused = reinterpret_cast<FusedFn>(
      llvm::cantFail(J.lookup(kernelSymbol(Sym, KernelKind::Fused))));
  return seconds(A, Clock::now());
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

  // Streaming bandwidth: a[i] = b[i] + s c[i] over 64M floats (3 streams).
  {
    int64_t N = 64 << 20;
    std::vector<float> A(N), B(N, 1.0f), C(N, 2.0f);
    float S = 0.5f;
    double T = median(Reps, [&] {
      float *__restrict Ap = A.data();
      const float *__restrict Bp = B.data(), *__restrict Cp = C.data();
      for (int64_t I = 0; I < N; ++I)
        Ap[I] = Bp[I] + S * Cp[I];
    });
    Out["triad_gbytes_per_s"] = 3.0 * N * sizeof(float) / T / 1e9;
  }

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
    FwdFn Fwd;
    BwdFn Bwd;
    FusedFn Fused;
    double ColdS = compile(*J, F, "b_" + Name, Fwd, Bwd, Fused);
    // The same module in a fresh JIT: a cache hit.
    auto J2 = llvm::cantFail(Jit::create(Cold));
    double CachedS = compile(*J2, F, "b_" + Name, Fwd, Bwd, Fused);
    nlohmann::ordered_json Row;
    Row["compile_cold_ms"] = ColdS * 1e3;
    Row["compile_cached_ms"] = CachedS * 1e3;
    for (int64_t N : Sizes) {
      std::vector<float> X(N), DY(N, 1.0f), Y(N), DX(N);
      for (int64_t I = 0; I < N; ++I)
        X[I] = -6.0f + 12.0f * static_cast<float>(I % 4096) / 4096;
      Fwd(X.data(), Y.data(), N, P.data());
      int R = N > (1 << 22) ? std::max(3, Reps / 2) : Reps * 4;
      // Small sizes: time enough calls together to read a clock.
      int64_t Inner = std::max<int64_t>(1, (1 << 20) / N);
      auto Times = [&](auto Fn) {
        return median(R, [&] {
                 for (int64_t K = 0; K < Inner; ++K)
                   Fn();
               }) /
               Inner;
      };
      double TF = Times([&] { Fwd(X.data(), Y.data(), N, P.data()); });
      double TB = Times([&] {
        Bwd(X.data(), Y.data(), DY.data(), DX.data(), N, P.data());
      });
      double TU = Times([&] {
        Fused(X.data(), DY.data(), Y.data(), DX.data(), N, P.data());
      });
      std::string Key = N == (1 << 20) ? "1M" : N == (1 << 14) ? "16K" : "64M";
      Row[Key] = {{"forward", N / TF}, {"backward", N / TB}, {"fused", N / TU}};
    }
    Out["activations"][Name] = Row;
    std::fprintf(stderr, "netjit %s done\n", Name.c_str());
  }
  llvm::sys::fs::remove_directories(CacheDir);
  std::cout << Out.dump(2) << "\n";
}
