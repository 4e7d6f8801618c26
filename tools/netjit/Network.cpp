// Network.cpp - the spec commands: emit (every stage of a network) and
// gradcheck.
#include "Commands.h"

#include "netjit/Runtime/GradCheck.h"
#include "netjit/Runtime/Model.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"
#include "netjit/Data/Dataset.h"
#include "netjit/Spec/Spec.h"
#include <CLI/CLI.hpp>

namespace netjit {

llvm::Error runEmit(const EmitArgs &A) {
  auto S = loadSpec(A.Spec);
  if (!S)
    return S.takeError();
  auto G = NetworkGraph::build(std::move(*S));
  if (!G)
    return G.takeError();
  if (A.Stage == "graph") {
    (*G)->print(llvm::outs());
    return llvm::Error::success();
  }
  // "train" is the program before the passes.
  auto T = buildTrainingProgram(**G, A.Batch, A.Diagnostics, A.Stage != "train");
  if (!T)
    return T.takeError();
  if (A.Stage == "train" || A.Stage == "fused") {
    (*T)->print(llvm::outs());
    return llvm::Error::success();
  }
  auto TM = createTargetMachine(A.Target);
  if (!TM)
    return TM.takeError();
  auto PM = buildProgramModule(**T, A.Prefix, **TM);
  if (!PM)
    return PM.takeError();
  return printCodeStage(*PM->M, **TM, A.Stage);
}

llvm::Error printCodeStage(llvm::Module &M, llvm::TargetMachine &TM,
                           llvm::StringRef Stage) {
  M.setTargetTriple(TM.getTargetTriple().str());
  M.setDataLayout(TM.createDataLayout());
  if (Stage == "llvm") {
    M.print(llvm::outs(), nullptr);
    return llvm::Error::success();
  }
  optimizeModule(M, TM);
  if (Stage == "opt") {
    M.print(llvm::outs(), nullptr);
    return llvm::Error::success();
  }
  auto Asm = emitAssembly(M, TM);
  if (!Asm)
    return Asm.takeError();
  llvm::outs() << *Asm;
  return llvm::Error::success();
}

llvm::Error runGradcheck(const GradcheckArgs &A) {
  auto S = loadSpec(A.Spec);
  if (!S)
    return S.takeError();
  int64_t Batch = A.Batch ? A.Batch : std::min<int64_t>(S->Training.BatchSize, 8);
  uint64_t Seed = S->Training.Seed;
  auto G = NetworkGraph::build(std::move(*S));
  if (!G)
    return G.takeError();
  CompileOptions CO;
  CO.MaxBatch = Batch;
  auto M = CompiledModel::compile(std::move(*G), CO);
  if (!M)
    return M.takeError();
  (*M)->initialize(Seed);
  auto R = gradCheck(**M, Batch, A.Samples, A.Seed);
  if (!R)
    return R.takeError();
  llvm::outs() << llvm::format("loss: compiled %.9g, float64 reference %.9g\n",
                               R->LossCompiled, R->LossReference);
  llvm::outs() << llvm::format("%-32s %8s %12s %12s\n", (const char *)"parameter",
                               (const char *)"checked", (const char *)"rel error",
                               (const char *)"|grad|");
  for (const GradCheckRow &Row : R->Rows)
    llvm::outs() << llvm::format("%-32s %8lld %12.3e %12.4e %s\n",
                                 Row.Param.c_str(), (long long)Row.Checked,
                                 Row.RelError, Row.RefNorm,
                                 Row.RelError <= A.Tolerance ? "ok" : "OVER");
  if (R->worst() > A.Tolerance)
    return plainError(ErrorKind::Training,
                      llvm::formatv("gradcheck: relative error {0:e} is over "
                                    "the tolerance {1:e}",
                                    R->worst(), A.Tolerance)
                          .str());
  return llvm::Error::success();
}

void registerNetworkCommands(CLI::App &App, CommandTable &Commands) {
  auto EmAOwn = std::make_shared<EmitArgs>();
  EmitArgs &EmA = *EmAOwn;
  CLI::App *Emit = App.add_subcommand(
      "emit", "Print a network spec at one stage of the pipeline "
              "(docs/ir.md)");
  Emit->add_option("SPEC", EmA.Spec, "the network spec (JSON)")->required();
  Emit->add_option("--stage", EmA.Stage,
                   "graph (layers, shapes, activations and derivatives), "
                   "train (the training program and arena), fused (after "
                   "fusion), llvm, opt (after O3), asm")
      ->check(CLI::IsMember(
          {"graph", "train", "fused", "llvm", "opt", "asm"}))
      ->default_str("fused");
  Emit->add_option("--batch", EmA.Batch,
                   "rows per call (default: the spec's batch size)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  Emit->add_option("--prefix", EmA.Prefix,
                   "symbol prefix of the entry points (default netjit)");
  addTargetOptions(Emit, EmA.Target, " for llvm|opt|asm");
  Emit->add_flag("--diagnostics", EmA.Diagnostics,
                 "the training program with train --diagnostics' counters "
                 "(docs/ir.md)");

  Commands.add(Emit, [EmAOwn] { return runEmit(*EmAOwn); });

  auto GAOwn = std::make_shared<GradcheckArgs>();
  GradcheckArgs &GA = *GAOwn;
  CLI::App *Grad = App.add_subcommand(
      "gradcheck", "Check a spec's compiled float32 gradients against "
                   "float64 central differences on a random batch");
  Grad->add_option("SPEC", GA.Spec, "the network spec (JSON)")->required();
  Grad->add_option("--batch", GA.Batch,
                   "rows in the batch (default: the spec's, at most 8)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 16));
  Grad->add_option("--samples", GA.Samples,
                   "elements checked per parameter (default 64)")
      ->check(CLI::Range(1u, 1u << 20));
  Grad->add_option("--seed", GA.Seed, "seed of the random batch (default 1)");
  Grad->add_option("--tolerance", GA.Tolerance,
                   "largest relative error accepted (default 1e-3)");

  Commands.add(Grad, [GAOwn] { return runGradcheck(*GAOwn); });
}

void registerSchemaCommand(CLI::App &App, CommandTable &Commands) {
  CLI::App *Schema = App.add_subcommand(
      "schema", "Print the spec's JSON Schema (docs/spec.schema.json), "
                "generated from netjit's registries");

  Commands.add(Schema, [] {
    llvm::outs() << specSchema(dataSchema());
    return llvm::Error::success();
  });
}

} // namespace netjit
