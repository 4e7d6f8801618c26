// compile.cpp - cold compile time of the whole training step against depth:
// MLPs of LAYERS hidden dense layers of 64 relu units (784 inputs, 10
// softmax outputs, Adam, batch 32), as JSON:
//   {"lanes", "runs": [{"layers", "compile_ms" (CompiledModel::compile, no
//    cache), "graph_ms", "ir_ms", "o3_ms", "codegen_ms" (the same pipeline
//    by stage), "ir_instructions" (before O3)}]}
// Run by bench/run; not a test.
//   netjit-bench-compile [LAYERS...]   (default 1 16 64 128)
#include "netjit/JIT/Jit.h"
#include "netjit/Runtime/Model.h"

#include "llvm/IR/InstIterator.h"
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

using namespace netjit;
using Clock = std::chrono::steady_clock;

namespace {

double msSince(Clock::time_point T0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - T0).count();
}

std::string depthSpec(int Layers) {
  nlohmann::json L = nlohmann::json::array({{{"type", "flatten"}}});
  for (int I = 0; I < Layers; ++I)
    L.push_back({{"type", "dense"}, {"units", 64}, {"activation", "relu"}});
  L.push_back({{"type", "dense"}, {"units", 10}, {"activation", "softmax"}});
  nlohmann::json S = {
      {"name", "depth" + std::to_string(Layers)},
      {"input", {{"shape", {28, 28}}}},
      {"layers", L},
      {"loss", "sparse_categorical_crossentropy"},
      {"optimizer", {{"type", "adam"}, {"learning_rate", 0.001}}},
      {"training", {{"batch_size", 32}, {"epochs", 1}, {"seed", 0}}}};
  return S.dump();
}

template <typename T> T orExit(llvm::Expected<T> V) {
  if (!V) {
    llvm::errs() << "netjit-bench-compile: " << toString(V.takeError()) << "\n";
    std::exit(1);
  }
  return std::move(*V);
}

nlohmann::json measure(int Layers, llvm::TargetMachine &TM) {
  std::string Text = depthSpec(Layers);
  nlohmann::json R = {{"layers", Layers}};
  // The figure: the whole step as a host program compiles it, cold.
  {
    auto G = orExit(NetworkGraph::build(orExit(parseSpec(Text, "<depth>"))));
    CompileOptions CO;
    CO.Jit.UseCache = false;
    auto T0 = Clock::now();
    orExit(CompiledModel::compile(std::move(G), CO));
    R["compile_ms"] = msSince(T0);
  }
  // The same pipeline stage by stage, to see which one grows.
  auto T0 = Clock::now();
  auto G = orExit(NetworkGraph::build(orExit(parseSpec(Text, "<depth>"))));
  auto T = orExit(buildTrainingProgram(*G, 0, false, true));
  R["graph_ms"] = msSince(T0);
  T0 = Clock::now();
  ProgramModule PM = orExit(buildProgramModule(*T, "netjit", TM, 1));
  R["ir_ms"] = msSince(T0);
  size_t Instructions = 0;
  for (llvm::Function &F : *PM.M)
    Instructions += std::distance(inst_begin(F), inst_end(F));
  R["ir_instructions"] = Instructions;
  T0 = Clock::now();
  optimizeModule(*PM.M, TM);
  R["o3_ms"] = msSince(T0);
  T0 = Clock::now();
  orExit(emitObject(*PM.M, TM));
  R["codegen_ms"] = msSince(T0);
  PM.M.reset();
  return R;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<int> Depths;
  for (int I = 1; I < argc; ++I)
    Depths.push_back(std::atoi(argv[I]));
  if (Depths.empty())
    Depths = {1, 16, 64, 128};
  auto TM = orExit(createTargetMachine({}));
  nlohmann::json Runs = nlohmann::json::array();
  for (int D : Depths)
    Runs.push_back(measure(D, *TM));
  nlohmann::json J = {{"lanes", vectorLanes(*TM)}, {"runs", Runs}};
  std::printf("%s\n", J.dump().c_str());
  return 0;
}
