// ProgramKernels.cpp - the kernels layers share: a GEMM with its epilogue,
// a loss or a row-wise pass is keyed by its steps with the layer's own
// tensors, stats fields and dropout streams numbered, emitted once as a
// function, and called per layer with the frame and a row of offsets.
#include "netjit/CodeGen/ProgramEmitter.h"

#include "netjit/Support/Diagnostics.h"
#include "llvm/ADT/bit.h"

using namespace llvm;

namespace netjit {

bool ProgramEmitter::sameActivation(const NetActivation &A,
                                    const NetActivation &C) {
  const ActivationForms &F = A.Forms, &H = C.Forms;
  // Expressions are hash-consed in the graph's context: equal formulas
  // are the same nodes.
  return !A.Spec.RowWise && !C.Spec.RowWise && F.Forward == H.Forward &&
         F.Derivative == H.Derivative && F.DerivativeY == H.DerivativeY &&
         F.ParamDerivatives == H.ParamDerivatives && F.Params == H.Params &&
         A.Fixed == C.Fixed &&
         llvm::equal(llvm::make_first_range(A.Trained),
                     llvm::make_first_range(C.Trained));
}

/// Steps' kernel key: each step's kind and constants, its tensors (shape
/// and role where first named, else their number), its activation (the
/// first equal one) and its stats fields and dropout layers by number.
void ProgramEmitter::collectUses(const Step &S, KernelUses &U,
                                 raw_ostream &OS) {
  auto Number = [](std::vector<int> &List, int X) {
    auto It = llvm::find(List, X);
    if (It != List.end())
      return unsigned(It - List.begin());
    List.push_back(X);
    return unsigned(List.size() - 1);
  };
  auto Tensor = [&](int Id) {
    if (Id < 0) {
      OS << " -";
      return;
    }
    size_t Known = U.Tensors.size();
    unsigned N = Number(U.Tensors, Id);
    OS << " t" << N;
    if (N == Known) {
      const TensorInfo &I = T.tensor(Id);
      OS << ':' << int(I.Role) << (I.BatchRows ? 'B' : 'F') << I.Rows << 'x'
         << I.Cols;
    }
  };
  OS << " (" << int(S.Kind) << (S.TransA ? 'T' : 'N') << (S.TransB ? 'T' : 'N');
  for (int I : S.In)
    Tensor(I);
  OS << " ->";
  Tensor(S.Out);
  Tensor(S.Out2);
  Tensor(S.Out3);
  if (S.Outer != 1 || S.Offset)
    OS << " o" << S.Outer << ',' << S.Offset;
  if (S.Norm.Channels)
    OS << " n" << S.Norm.Channels << ',' << S.Norm.Pixels;
  if (S.Act >= 0) {
    OS << " a" << ActClass[S.Act];
    for (auto &[Name, Index] : G.activation(S.Act).Trained)
      Tensor(T.paramTensor(Index));
  }
  OS << " p" << S.Param << " r" << llvm::bit_cast<uint64_t>(S.Rate);
  if (!(S.Win == Window())) {
    const Window &W = S.Win;
    OS << " w";
    for (int64_t V : {W.H, W.W, W.C, W.OH, W.OW, W.OC, W.KH, W.KW, W.SH, W.SW,
                      W.DH, W.DW, W.PadTop, W.PadLeft, W.Groups})
      OS << ',' << V;
  }
  if (S.Stat >= 0)
    OS << " s" << Number(U.Stats, S.Stat);
  if (S.Layer >= 0)
    OS << " l" << Number(U.Streams, S.Layer);
  for (const Step &E : S.Epilogue)
    collectUses(E, U, OS);
  OS << ')';
}

KernelUses ProgramEmitter::uses(ArrayRef<Step> Steps, StringRef Kind) {
  KernelUses U;
  U.Kind = Kind;
  raw_string_ostream OS(U.Key);
  OS << Kind;
  for (const Step &S : Steps)
    collectUses(S, U, OS);
  return U;
}

/// The kernel U describes: emitted by Body the first time, in a function
/// of its own, the same function for every later layer with its key.
Expected<Function *>
ProgramEmitter::kernel(const KernelUses &U, Sig S,
                       function_ref<Error(Function *)> Body) {
  if (Function *F = Kernels.lookup(U.Key))
    return F;
  Function *F =
      declare(Prefix + "." + U.Kind + "." + Twine(KernelFns++), S, &U);
  // Inlined, it would be compiled again for every layer calling it; a call
  // per GEMM or pass over the batch costs nothing measurable.
  F->addFnAttr(Attribute::NoInline);
  if (Error E = emitAside(F, S, &U, Body))
    return E;
  Kernels[U.Key] = F;
  return F;
}

void ProgramEmitter::callKernel(Function *K, const KernelUses &U) {
  assert(!Fr.Uses && "kernels are called from the entry points");
  if (!KernelArgs)
    KernelArgs =
        new GlobalVariable(M, B.getInt64Ty(), true, GlobalValue::PrivateLinkage,
                           nullptr, Prefix + ".args");
  Value *Args =
      B.CreateConstInBoundsGEP1_64(B.getInt64Ty(), KernelArgs, ArgWords.size());
  for (int Id : U.Tensors)
    ArgWords.push_back(tensorOffset(T.tensor(Id)));
  for (int Field : U.Stats)
    ArgWords.push_back(Field);
  for (int Layer : U.Streams)
    ArgWords.push_back(streamConstant(Layer));
  B.CreateCall(K, {Fr.Slot, Args});
}

void ProgramEmitter::callRows(Function *RF, Value *Row0, Value *Rows) {
  SmallVector<Value *, 16> Args = {Fr.Arena, Fr.Work,  Fr.X,    Fr.IO, Fr.Batch,
                                   Fr.Stats, Fr.Total, Fr.Row0, Row0,  Rows};
  for (int Id : Fr.Uses->Tensors)
    Args.push_back(ptr(Id));
  for (int Field : Fr.Uses->Stats)
    Args.push_back(statPtr(Field));
  for (int Layer : Fr.Uses->Streams)
    Args.push_back(streamKey(Layer));
  B.CreateCall(RF, Args);
}

Error ProgramEmitter::finish() {
  if (Unbound)
    return plainError(ErrorKind::Compile,
                      "a kernel addresses a tensor it was not passed");
  if (!KernelArgs)
    return Error::success();
  Constant *Init = ConstantDataArray::get(M.getContext(), ArrayRef(ArgWords));
  auto *G = new GlobalVariable(M, Init->getType(), true,
                               GlobalValue::PrivateLinkage, Init);
  G->takeName(KernelArgs);
  KernelArgs->replaceAllUsesWith(G);
  KernelArgs->eraseFromParent();
  KernelArgs = nullptr;
  return Error::success();
}

} // namespace netjit
