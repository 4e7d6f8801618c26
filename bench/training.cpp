// training.cpp - seconds per epoch of a spec's compiled training step on
// in-memory data (random: the timing does not depend on the values), as
// JSON: {"spec", "batch", "threads", "compile_ms" (cold), "compile_cached_ms"
// (from the object cache), "epoch_s": [...], "gflop" (per epoch)}.
//   netjit-bench-training SPEC BATCH EPOCHS [ACTIVATION [THREADS]]
// NETJIT_DIAGNOSTICS=1 compiles the step with training diagnostics.
// ACTIVATION replaces the hidden layers' (a catalogue name or a JSON
// activation such as {"name": "leaky_relu", "alpha": 0.3}; "-" keeps them).
#include "netjit/Runtime/Model.h"
#include "netjit/Runtime/GradCheck.h"

#include "llvm/Support/FileSystem.h"
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

using namespace netjit;
using Clock = std::chrono::steady_clock;

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: netjit-bench-training SPEC BATCH EPOCHS [ACTIVATION [THREADS]]\n");
    return 2;
  }
  auto S = loadSpec(argv[1]);
  if (!S) {
    llvm::errs() << toString(S.takeError()) << "\n";
    return 1;
  }
  int64_t Batch = std::atoll(argv[2]);
  double CachedMs = 0;
  int Epochs = std::atoi(argv[3]);
  S->Training.BatchSize = Batch;
  if (argc > 4 && std::string(argv[4]) != "-")
    for (LayerPtr &L : S->Layers)
      if (ActivationSpec *A = L->activation();
          A && !A->RowWise && !A->isLinear()) {
        // Swap the hidden activation (catalogue name, defaults).
        std::string Act = argv[4][0] == '{' ? std::string(argv[4])
                                            : "\"" + std::string(argv[4]) + "\"";
        auto One = parseActivation(Act, S->DeclaredJson, "<activation>");
        if (!One) {
          llvm::errs() << toString(One.takeError()) << "\n";
          return 1;
        }
        *A = *One;
      }
  Spec Sp = *S;
  CompileOptions CO;
  CO.Threads = argc > 5 ? std::atoi(argv[5]) : 1;
  const char *Diag = std::getenv("NETJIT_DIAGNOSTICS");
  CO.Diagnostics = Diag && *Diag && *Diag != '0';
  // Cold (no cache), then twice through a fresh cache directory: the second
  // compile is the cached one.
  llvm::SmallString<128> CacheDir;
  if (auto EC = llvm::sys::fs::createUniqueDirectory("netjit-bench", CacheDir)) {
    llvm::errs() << "netjit-bench-training: " << EC.message() << "\n";
    return 1;
  }
  double CompileMs = 0;
  std::unique_ptr<CompiledModel> Compiled;
  for (int Pass = 0; Pass < 3; ++Pass) {
    CO.Jit.UseCache = Pass > 0;
    CO.Jit.CacheDir = std::string(CacheDir);
    auto G = NetworkGraph::build(Spec(Sp));
    if (!G) {
      llvm::errs() << toString(G.takeError()) << "\n";
      return 1;
    }
    auto T0 = Clock::now();
    auto M = CompiledModel::compile(std::move(*G), CO);
    double Ms =
        std::chrono::duration<double, std::milli>(Clock::now() - T0).count();
    if (!M) {
      llvm::errs() << toString(M.takeError()) << "\n";
      return 1;
    }
    if (Pass == 0)
      CompileMs = Ms;
    else if (Pass == 2)
      CachedMs = Ms;
    Compiled = std::move(*M);
  }
  llvm::sys::fs::remove_directories(CacheDir);
  auto *M = &Compiled;
  (*M)->initialize(0);
  const int64_t N = 60000;
  std::vector<float> X, Targets;
  std::vector<int32_t> Labels;
  randomBatch((*M)->graph(), N, 7, X, Labels, Targets);
  for (float &V : X)
    V = V * 0.5f + 0.5f; // pixels in [0, 1]
  int64_t In = (*M)->network().inputSize();
  nlohmann::json Times = nlohmann::json::array();
  for (int E = 0; E < Epochs; ++E) {
    auto T1 = Clock::now();
    for (int64_t R = 0; R < N; R += Batch) {
      int64_t B = std::min(Batch, N - R);
      auto St = (*M)->trainStep(X.data() + R * In, Labels.data() + R, B);
      if (!St) {
        llvm::errs() << toString(St.takeError()) << "\n";
        return 1;
      }
    }
    Times.push_back(std::chrono::duration<double>(Clock::now() - T1).count());
  }
  // A layer's multiply-adds per sample: its kernel's size at each output
  // position (dense: one; conv: each output pixel). Forward 2 flops each,
  // backward 4 (2 without the first layer's input gradient).
  double Flop = 0;
  bool First = true;
  for (const Layer *L : (*M)->network().layers())
    if (L->Kernel >= 0) {
      const ParamInfo &K = (*M)->network().params()[L->Kernel];
      double Macs = double(K.size()) * (L->Out / K.cols());
      Flop += 2.0 * N * Macs * (First ? 2 : 3);
      First = false;
    }
  nlohmann::json J = {{"spec", argv[1]},   {"batch", Batch},
                      {"compile_ms", CompileMs}, {"compile_cached_ms", CachedMs},
                      {"epoch_s", Times},
                      {"threads", (*M)->threads()},
                      {"diagnostics", CO.Diagnostics},
                      {"gflop", Flop / 1e9}};
  std::printf("%s\n", J.dump().c_str());
  return 0;
}
