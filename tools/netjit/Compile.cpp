// Compile.cpp - `netjit compile`: a spec's training program as an object
// file and a C header, for hosts that link it with no LLVM at run time.
#include "Commands.h"

#include "netjit/CodeGen/Aot.h"
#include "netjit/Runtime/Checkpoint.h"
#include "netjit/Runtime/Model.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Files.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include <CLI/CLI.hpp>

using namespace llvm;

namespace netjit {

Error runCompile(const CompileArgs &A) {
  if (A.Prefix.empty() || !isAlpha(A.Prefix[0]) ||
      !all_of(A.Prefix, [](char C) { return isAlnum(C) || C == '_'; }))
    return plainError(ErrorKind::Usage,
                      "--prefix " + A.Prefix +
                          ": expected a C identifier (letters, digits, _)");
  std::string Header = A.Header;
  if (Header.empty()) {
    Header = A.Output;
    size_t Dot = Header.rfind('.');
    Header = (Dot == std::string::npos ? Header : Header.substr(0, Dot)) + ".h";
  }
  if (Error E = checkOutputPath(A.Output, "-o"))
    return E;
  if (Error E = checkOutputPath(Header, "--header"))
    return E;
  auto S = loadSpec(A.Spec);
  if (!S)
    return S.takeError();
  auto G = NetworkGraph::build(std::move(*S));
  if (!G)
    return G.takeError();
  auto T = buildTrainingProgram(**G, A.Batch);
  if (!T)
    return T.takeError();
  auto TM = createTargetMachine(A.Target);
  if (!TM)
    return TM.takeError();
  auto PM = buildProgramModule(**T, A.Prefix, **TM, A.Threads);
  if (!PM)
    return PM.takeError();
  if (!A.Weights.empty()) {
    std::vector<float> Arena((*T)->arenaFloats());
    auto Info = loadCheckpoint(**T, Arena.data(), A.Weights);
    if (!Info)
      return Info.takeError();
    if (!hashMatches(*Info, **G, true))
      return locatedError(ErrorKind::Checkpoint, A.Weights,
                          "/__metadata__/training_hash",
                          "written for another network, loss or optimizer "
                          "than " + A.Spec);
    emitCheckpointFunction(*PM->M, **T, A.Prefix, Arena);
  }
  optimizeModule(*PM->M, **TM);
  auto Obj = emitObject(*PM->M, **TM);
  if (!Obj)
    return Obj.takeError();
  if (Error E = writeFileAtomically(A.Output, *Obj))
    return E;
  std::string Target = ((*TM)->getTargetTriple().str() + ", " +
                        (*TM)->getTargetCPU())
                           .str();
  if (Error E = writeFileAtomically(
          Header, aotHeader(**T, A.Prefix, Target, !A.Weights.empty())))
    return E;
  outs() << "wrote " << A.Output << " and " << Header << " (" << Target
         << "; entry points " << A.Prefix << "_train_step, " << A.Prefix
         << "_predict, ...)\n";
  return Error::success();
}

void registerCompileCommand(CLI::App &App, CommandTable &Commands) {
  auto CoAOwn = std::make_shared<CompileArgs>();
  CompileArgs &CoA = *CoAOwn;
  CLI::App *CompileCmd = App.add_subcommand(
      "compile", "Compile a spec's training program ahead of time: an object "
                 "file and a C header a program links with libc and libm only");
  CompileCmd->add_option("SPEC", CoA.Spec, "the network spec")->required();
  CompileCmd->add_option("-o,--output", CoA.Output, "the object file to write")
      ->required();
  CompileCmd->add_option("--header", CoA.Header,
                         "the C header to write (default: the object's name "
                         "with .h)");
  CompileCmd->add_option("--prefix", CoA.Prefix,
                         "the entry points' prefix, a C identifier (default "
                         "model: model_train_step, ...)");
  addTargetOptions(CompileCmd, CoA.Target, "");
  CompileCmd->add_option("--batch", CoA.Batch,
                         "rows per call at most (default: the spec's batch size)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  CompileCmd->add_option("--threads", CoA.Threads,
                         "threads update_part sums workspaces of (default 1)")
      ->check(CLI::Range(1u, 256u));
  CompileCmd->add_option("--weights", CoA.Weights,
                         "a checkpoint to build in: PREFIX_init_from_checkpoint");

  Commands.add(CompileCmd, [CoAOwn] { return runCompile(*CoAOwn); });
}

} // namespace netjit
