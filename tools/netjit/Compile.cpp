// Compile.cpp - `netjit compile`: a spec's training program as an object
// file and a C header, for hosts that link it with no LLVM at run time.
#include "Commands.h"

#include "netjit/CodeGen/Aot.h"
#include "netjit/Runtime/Checkpoint.h"
#include "netjit/Runtime/Model.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Files.h"
#include "netjit/Transforms/Passes.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

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
  auto T = TrainGraph::build(**G, A.Batch ? A.Batch : (*G)->spec().Training.BatchSize);
  if (!T)
    return T.takeError();
  runPasses(**T);
  auto TM = createTargetMachine(A.Target);
  if (!TM)
    return TM.takeError();
  auto PM = buildProgramModule(**T, A.Prefix, **TM, A.Threads);
  if (!PM)
    return PM.takeError();
  emitInitFunction(*PM->M, **T, A.Prefix);
  if (!A.Weights.empty()) {
    std::vector<float> Arena((*T)->arenaFloats());
    auto Info = loadCheckpoint(**T, Arena.data(), A.Weights);
    if (!Info)
      return Info.takeError();
    if (Info->TrainingHash != specHash(**G, true))
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

} // namespace netjit
