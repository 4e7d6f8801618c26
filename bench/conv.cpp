// conv.cpp - each convolution of a spec on its own, as JSON: the forward
// step, the weight gradient and the input gradient of the layer's exact
// shape over a batch, in GFLOP/s. Each is timed in a spec of its own that
// the kernel dominates: the layer (linear, no bias) before a global average
// pooling and one output; the weight gradient is its gradients entry less
// its evaluate; the input gradient, that spec's gradients again with a 1x1
// depthwise layer in front (which trains, so the gradient flows to the
// input), less the first, and less that front layer's own cost (the
// pooling and dense tail's gradients with and without it). Minimum over
// REPS calls, one thread.
//   netjit-bench-conv SPEC BATCH REPS
// {"layers": [{"name", "input", "macs_per_sample", "forward_gflops",
//   "weight_grad_gflops", "input_grad_gflops"}]}
#include "netjit/Runtime/GradCheck.h"
#include "netjit/Runtime/Model.h"

#include "llvm/Support/MemoryBuffer.h"
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

using namespace netjit;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

struct Timed {
  std::unique_ptr<CompiledModel> M;
  std::vector<float> X, Targets;
  std::vector<int32_t> Labels;
};

llvm::Expected<Timed> build(const json &Spec, int64_t Batch) {
  auto S = parseSpec(Spec.dump(), "<conv bench>");
  if (!S)
    return S.takeError();
  auto G = NetworkGraph::build(std::move(*S));
  if (!G)
    return G.takeError();
  CompileOptions O;
  O.MaxBatch = Batch;
  O.Threads = 1;
  auto M = CompiledModel::compile(std::move(*G), O);
  if (!M)
    return M.takeError();
  Timed T{std::move(*M)};
  T.M->initialize(1);
  randomBatch(T.M->graph(), Batch, 3, T.X, T.Labels, T.Targets);
  return std::move(T);
}

/// The fastest of Reps calls of the entry point, in seconds.
double fastest(Timed &T, bool Gradients, int64_t Batch, int Reps) {
  double Best = 1e30;
  for (int R = 0; R < Reps; ++R) {
    auto T0 = Clock::now();
    auto St = Gradients ? T.M->gradients(T.X.data(), T.Targets.data(), Batch)
                        : T.M->evaluate(T.X.data(), T.Targets.data(), Batch);
    double S = std::chrono::duration<double>(Clock::now() - T0).count();
    if (!St) {
      llvm::consumeError(St.takeError());
      return 0;
    }
    Best = std::min(Best, S);
  }
  return Best;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: netjit-bench-conv SPEC BATCH REPS\n");
    return 2;
  }
  int64_t Batch = std::atoll(argv[2]);
  int Reps = std::atoi(argv[3]);
  auto Buf = llvm::MemoryBuffer::getFile(argv[1]);
  auto S = loadSpec(argv[1]);
  if (!Buf || !S) {
    std::fprintf(stderr, "netjit-bench-conv: cannot read %s\n", argv[1]);
    return 1;
  }
  json Doc = json::parse((*Buf)->getBuffer().str());
  auto G = NetworkGraph::build(Spec(*S));
  if (!G) {
    llvm::errs() << toString(G.takeError()) << "\n";
    return 1;
  }
  json Out = {{"spec", argv[1]}, {"batch", Batch}, {"layers", json::array()}};
  auto Layers = (*G)->layers();
  for (size_t I = 0; I < Layers.size(); ++I) {
    const Layer &L = *Layers[I];
    std::string Type = layerName(L.Kind).str();
    if (Type != "conv2d" && Type != "conv1d")
      continue;
    json Conv = Doc["layers"][I];
    Conv["activation"] = "linear";
    Conv["use_bias"] = false;
    std::string Dim = Type.substr(4);
    json Tail = {{{"type", "global_average_pooling" + Dim}},
                 {{"type", "dense"}, {"units", 1}}};
    int64_t C = L.InShape.back();
    json Depthwise = {{"type", Type}, {"filters", C}, {"kernel_size", 1},
                      {"groups", C}, {"use_bias", false}};
    auto Spec = [&](bool Front, bool WithConv) {
      json Ls = json::array();
      if (Front)
        Ls.push_back(Depthwise);
      if (WithConv)
        Ls.push_back(Conv);
      for (const json &T : Tail)
        Ls.push_back(T);
      return json{{"input", {{"shape", L.InShape}}}, {"layers", Ls},
                  {"loss", "mse"}, {"optimizer", "sgd"}};
    };
    // A: the layer; B: the depthwise layer in front of it; Tail1 and
    // Tail0: the tail with and without that depthwise layer, whose difference is the
    // front layer's own cost, taken off B's.
    auto A = build(Spec(false, true), Batch), B = build(Spec(true, true), Batch);
    auto Tail1 = build(Spec(true, false), Batch), Tail0 = build(Spec(false, false), Batch);
    for (llvm::Expected<Timed> *T : {&A, &B, &Tail1, &Tail0})
      if (!*T) {
        llvm::errs() << llvm::toString(T->takeError()) << "\n";
        return 1;
      }
    double Fwd = fastest(*A, false, Batch, Reps);
    double GradA = fastest(*A, true, Batch, Reps);
    double GradB = fastest(*B, true, Batch, Reps);
    double Front = fastest(*Tail1, true, Batch, Reps) -
                   fastest(*Tail0, true, Batch, Reps);
    const ParamInfo &K = (*G)->params()[L.Kernel];
    double Macs = double(K.size()) * (L.Out / K.cols());
    double Flop = 2 * Macs * Batch / 1e9;
    Out["layers"].push_back(
        {{"name", L.Name},
         {"input", L.InShape},
         {"kernel", K.Shape},
         {"macs_per_sample", Macs},
         {"forward_gflops", Flop / Fwd},
         {"weight_grad_gflops", Flop / std::max(GradA - Fwd, 1e-9)},
         {"input_grad_gflops", Flop / std::max(GradB - GradA - Front, 1e-9)}});
  }
  std::printf("%s\n", Out.dump().c_str());
  return 0;
}
