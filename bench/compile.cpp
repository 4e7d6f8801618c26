// compile.cpp - cold compile time of the whole training step against depth:
// MLPs of LAYERS hidden dense layers of 64 relu units (784 inputs, 10
// softmax outputs, Adam, batch 32), as JSON:
//   {"lanes", "runs": [{"layers", "compile_ms" (CompiledModel::compile, no
//    cache), "compile_cpu_ms" (its CPU time: on a shared machine, what the
//    compile costs itself), "graph_ms", "ir_ms", "o3_ms", "codegen_ms" (the
//    same pipeline by stage, CPU time), "ir_instructions" (before O3)}]}
// A spec file in place of a depth is measured the same way ("layers" is
// then its path). Run by bench/run; not a test.
//   netjit-bench-compile [LAYERS|SPEC.json...]   (default 1 16 64 128)
#include "netjit/JIT/Jit.h"
#include "netjit/Runtime/Model.h"

#include "llvm/IR/InstIterator.h"
#include "llvm/Support/MemoryBuffer.h"
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

using namespace netjit;
using Clock = std::chrono::steady_clock;

namespace {

double msSince(Clock::time_point T0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - T0).count();
}

double cpuMs() {
  timespec T;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &T);
  return T.tv_sec * 1e3 + T.tv_nsec / 1e6;
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

nlohmann::json measure(llvm::StringRef Arg, llvm::TargetMachine &TM) {
  std::string Text;
  nlohmann::json R;
  if (Arg.ends_with(".json")) {
    auto Buf = llvm::MemoryBuffer::getFile(Arg);
    if (!Buf) {
      llvm::errs() << "netjit-bench-compile: " << Arg << ": "
                   << Buf.getError().message() << "\n";
      std::exit(1);
    }
    Text = (*Buf)->getBuffer().str();
    R["layers"] = Arg.str();
  } else {
    int Layers = std::atoi(Arg.str().c_str());
    Text = depthSpec(Layers);
    R["layers"] = Layers;
  }
  // The figure: the whole step as a host program compiles it, cold.
  {
    auto G = orExit(NetworkGraph::build(orExit(parseSpec(Text, "<depth>"))));
    CompileOptions CO;
    CO.Jit.UseCache = false;
    auto T0 = Clock::now();
    double C0 = cpuMs();
    orExit(CompiledModel::compile(std::move(G), CO));
    R["compile_cpu_ms"] = cpuMs() - C0;
    R["compile_ms"] = msSince(T0);
  }
  // The same pipeline stage by stage, to see which one grows.
  double T0 = cpuMs();
  auto G = orExit(NetworkGraph::build(orExit(parseSpec(Text, "<depth>"))));
  auto T = orExit(buildTrainingProgram(*G, 0, false, true));
  R["graph_ms"] = cpuMs() - T0;
  T0 = cpuMs();
  ProgramModule PM = orExit(buildProgramModule(*T, "netjit", TM, 1));
  R["ir_ms"] = cpuMs() - T0;
  size_t Instructions = 0;
  for (llvm::Function &F : *PM.M)
    Instructions += std::distance(inst_begin(F), inst_end(F));
  R["ir_instructions"] = Instructions;
  T0 = cpuMs();
  optimizeModule(*PM.M, TM);
  R["o3_ms"] = cpuMs() - T0;
  T0 = cpuMs();
  orExit(emitObject(*PM.M, TM));
  R["codegen_ms"] = cpuMs() - T0;
  PM.M.reset();
  return R;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> Depths(argv + 1, argv + argc);
  if (Depths.empty())
    Depths = {"1", "16", "64", "128"};
  auto TM = orExit(createTargetMachine({}));
  nlohmann::json Runs = nlohmann::json::array();
  for (const std::string &D : Depths)
    Runs.push_back(measure(D, *TM));
  nlohmann::json J = {{"lanes", vectorLanes(*TM)}, {"runs", Runs}};
  std::printf("%s\n", J.dump().c_str());
  return 0;
}
