// training.cpp - seconds per epoch of a spec's compiled training step on
// in-memory data (random: the timing does not depend on the values), as
// JSON: {"spec", "batch", "compile_ms", "epoch_s": [...], "gflop"}.
//   netjit-bench-training SPEC BATCH EPOCHS [ACTIVATION [THREADS]]
#include "netjit/Runtime/Model.h"
#include "netjit/Runtime/GradCheck.h"

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
  int Epochs = std::atoi(argv[3]);
  S->Training.BatchSize = Batch;
  if (argc > 4 && std::string(argv[4]) != "-")
    for (LayerSpec &L : S->Layers)
      if (L.Kind == LayerKind::dense && !L.Activation.RowWise &&
          !L.Activation.isLinear()) {
        // Swap the hidden activation (catalogue name, defaults).
        std::string Text = std::string("{\"layers\": [{\"type\": \"dense\", "
                                       "\"units\": 1, \"activation\": \"") +
                           argv[4] + "\"}], \"input\": {\"shape\": [1]}}";
        auto One = parseSpec(Text, "<activation>");
        if (!One) {
          llvm::errs() << toString(One.takeError()) << "\n";
          return 1;
        }
        L.Activation = One->Layers[0].Activation;
      }
  auto G = NetworkGraph::build(std::move(*S));
  if (!G) {
    llvm::errs() << toString(G.takeError()) << "\n";
    return 1;
  }
  CompileOptions CO;
  CO.Jit.UseCache = false;
  CO.Threads = argc > 5 ? std::atoi(argv[5]) : 1;
  auto T0 = Clock::now();
  auto M = Model::compile(std::move(*G), CO);
  double CompileMs =
      std::chrono::duration<double, std::milli>(Clock::now() - T0).count();
  if (!M) {
    llvm::errs() << toString(M.takeError()) << "\n";
    return 1;
  }
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
  // Forward 2 MNK per dense layer, backward 4 MNK (2 without the input
  // gradient of the first).
  double Flop = 0;
  bool First = true;
  for (const NetLayer &L : (*M)->network().layers())
    if (L.Kind == LayerKind::dense) {
      Flop += 2.0 * N * L.In * L.Out * (First ? 2 : 3);
      First = false;
    }
  nlohmann::json J = {{"spec", argv[1]},   {"batch", Batch},
                      {"compile_ms", CompileMs}, {"epoch_s", Times},
                      {"threads", (*M)->threads()},
                      {"gflop", Flop / 1e9}};
  std::printf("%s\n", J.dump().c_str());
  return 0;
}
