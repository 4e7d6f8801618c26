// Program.cpp - the training program's entry points (train_step,
// gradients, evaluate, predict and the threaded parts) and the steps they
// run: GEMMs, losses and row-wise passes as calls of shared kernels, and
// the few steps done in place.
#include "netjit/CodeGen/Program.h"

#include "netjit/CodeGen/Gemm.h"
#include "netjit/CodeGen/ProgramEmitter.h"
#include "netjit/Support/Diagnostics.h"

using namespace llvm;

namespace netjit {

StringRef entryPointName(EntryPoint E) {
  switch (E) {
  case EntryPoint::GradientsPart:
    return "gradients_part";
  case EntryPoint::TrainStep:
    return "train_step";
  case EntryPoint::Gradients:
    return "gradients";
  case EntryPoint::Evaluate:
    return "evaluate";
  case EntryPoint::Predict:
    return "predict";
  case EntryPoint::Advance:
    return "advance";
  case EntryPoint::UpdatePart:
    return "update_part";
  }
  return "?";
}

Error ProgramEmitter::step(const Step &S) {
  switch (S.Kind) {
  case StepKind::Zero:
    zero(S);
    return Error::success();
  case StepKind::MatMul:
  case StepKind::SoftmaxXent:
  case StepKind::SigmoidXent:
  case StepKind::PointLoss: {
    bool Gemm = S.Kind == StepKind::MatMul;
    KernelUses U = uses(S, Gemm ? "gemm" : "loss");
    auto K = kernel(U, Sig::Kernel,
                    [&](Function *) { return Gemm ? matMul(S) : lossRows(S); });
    if (!K)
      return K.takeError();
    callKernel(*K, U);
    return Error::success();
  }
  case StepKind::SumTo: {
    Value *Src = ptr(S.In[0]);
    int64_t N = cols(S.In[0]);
    Value *Acc = accumulator(VT, splatF(Lanes, 0));
    LoopBuilder(B).chunks(N, Lanes, [&](Value *J, Value *Mask) {
      accumulate(Acc, load(Src, J, Mask));
    });
    Value *Dst = ptr(S.Out);
    B.CreateStore(B.CreateFAdd(B.CreateLoad(Fl, Dst), reduceAdd(Acc)), Dst);
    return Error::success();
  }
  case StepKind::NormCoeffs:
  case StepKind::NormGradCoeffs:
  case StepKind::MovingStats:
    normStep(S);
    return Error::success();
  case StepKind::CountAlive: {
    // A unit is alive in a step when some row had f'(z) != 0 (NaN too).
    Type *Dbl = B.getDoubleTy();
    Value *Src = ptr(S.In[0]);
    Value *Dst = B.CreateConstInBoundsGEP1_64(Dbl, Fr.Stats, S.Stat);
    LoopBuilder(B).counted(
        i64(0), i64(cols(S.In[0])), 1,
        [&](Value *J) {
          Value *V = B.CreateLoad(Fl, B.CreateInBoundsGEP(Fl, Src, J));
          Value *P = B.CreateInBoundsGEP(Dbl, Dst, J);
          Value *One =
              B.CreateSelect(B.CreateFCmpUNE(V, f32(0)),
                             ConstantFP::get(Dbl, 1), ConstantFP::get(Dbl, 0));
          B.CreateStore(B.CreateFAdd(B.CreateLoad(Dbl, P), One), P);
        },
        "u");
    return Error::success();
  }
  case StepKind::Conv:
  case StepKind::ConvGradInput:
  case StepKind::ConvGradWeight:
  case StepKind::MaxPool:
  case StepKind::MaxPoolGrad:
  case StepKind::AvgPool:
  case StepKind::AvgPoolGrad:
  case StepKind::Pad:
  case StepKind::PadGrad: {
    KernelUses U = uses(S, "window");
    auto K = kernel(U, Sig::Kernel, [&](Function *) { return windowStep(S); });
    if (!K)
      return K.takeError();
    callKernel(*K, U);
    return Error::success();
  }
  case StepKind::Update:
    return plainError(ErrorKind::Compile, "the update is not a step of a part");
  case StepKind::BiasAdd:
  case StepKind::Act:
  case StepKind::ActWithGrad:
  case StepKind::ActGrad:
  case StepKind::Mul:
  case StepKind::Add:
  case StepKind::Concat:
  case StepKind::Slice:
  case StepKind::ColSum:
  case StepKind::ActParamGrad:
  case StepKind::Dropout:
  case StepKind::DropoutGrad:
  case StepKind::Softmax:
  case StepKind::LogSoftmax:
  case StepKind::SumSquares:
  case StepKind::ChannelStats:
  case StepKind::Affine: {
    // A row-wise step no producer took: its own pass over the batch, with
    // the steps fused after it (affine's activation).
    KernelUses U = uses(S, "rows");
    std::vector<Step> Run = {S};
    Run.insert(Run.end(), S.Epilogue.begin(), S.Epilogue.end());
    auto F = kernel(U, Sig::Kernel,
                    [&](Function *) { return rowSteps(Run, i64(0), Fr.Batch); });
    if (!F)
      return F.takeError();
    callKernel(*F, U);
    return Error::success();
  }
  }
  return plainError(ErrorKind::Compile, "no lowering for " + stepName(S.Kind));
}

/// Clears the step's tensors: a memset each, or, for more than a few of
/// them in the workspace (a deep network's bias gradients), one loop over a
/// table of their offsets and sizes. Inlined, a memset is a run of vector
/// stores, and hundreds of them in one block made instruction scheduling
/// the part of the compile that grew fastest with depth.
void ProgramEmitter::zero(const Step &S) {
  auto Bytes = [&](int I) { return T.tensor(I).Rows * T.tensor(I).Cols * 4; };
  bool InWork = llvm::all_of(S.In, [&](int I) {
    return tensorBase(T.tensor(I).Role) == Fr.Work;
  });
  if (S.In.size() <= ZeroInline || !InWork) {
    for (int I : S.In)
      B.CreateMemSet(ptr(I), B.getInt8(0), Bytes(I), Align(64));
    return;
  }
  std::vector<int64_t> Table;
  for (int I : S.In) {
    Table.push_back(tensorOffset(T.tensor(I)));
    Table.push_back(Bytes(I));
  }
  Constant *Init = ConstantDataArray::get(M.getContext(), ArrayRef(Table));
  auto *G = new GlobalVariable(M, Init->getType(), true,
                               GlobalValue::PrivateLinkage, Init,
                               Prefix + ".zero");
  Type *I64 = B.getInt64Ty();
  LoopBuilder(B).counted(i64(0), i64(S.In.size()), 1, [&](Value *K) {
    Value *At = B.CreateShl(K, 1);
    Value *Off = B.CreateLoad(I64, B.CreateInBoundsGEP(I64, G, At));
    Value *Size = B.CreateLoad(
        I64, B.CreateInBoundsGEP(I64, G, B.CreateAdd(At, i64(1))));
    B.CreateMemSet(B.CreateInBoundsGEP(Fl, Fr.Work, Off), B.getInt8(0), Size,
                   Align(64));
  }, "z");
}

/// A GEMM and its epilogue (the body of its kernel).
Error ProgramEmitter::matMul(const Step &S) {
  const TensorInfo &A = T.tensor(S.In[0]), &Bt = T.tensor(S.In[1]),
                   &C = T.tensor(S.Out);
  auto Dim = [&](const TensorInfo &I, bool Rows) -> Value * {
    if (Rows && I.BatchRows)
      return Fr.Batch;
    return i64(Rows ? I.Rows : I.Cols);
  };
  GemmOperands Ops;
  Ops.A = ptr(S.In[0]);
  Ops.B = ptr(S.In[1]);
  Ops.C = ptr(S.Out);
  Ops.Lda = A.Cols;
  Ops.Ldb = Bt.Cols;
  Ops.Ldc = C.Cols;
  Ops.TransA = S.TransA;
  Ops.TransB = S.TransB;
  Ops.M = S.TransA ? Dim(A, false) : Dim(A, true);
  Ops.K = S.TransA ? Dim(A, true) : Dim(A, false);
  Ops.N = C.Cols;
  Ops.MHint = T.maxBatch();
  if (S.TransB)
    Ops.Pack = ptr(S.In[2]);
  Function *RF = nullptr;
  if (!S.Epilogue.empty()) {
    auto F = rowFunction(S.Epilogue);
    if (!F)
      return F.takeError();
    RF = *F;
  }
  emitGemm(B, Ops, Lanes, [&](Value *Row0, Value *Rows) {
    if (RF)
      callRows(RF, Row0, Rows);
  });
  return Error::success();
}

Error ProgramEmitter::emit(EntryPoint EP) {
  const char *Name = entryPointName(EP).data();
  SavedMode = nullptr;
  switch (EP) {
  case EntryPoint::GradientsPart:
    // The body the other training entry points call.
    enter(declare(Prefix + "_" + Name, Sig::Part), Sig::Part);
    for (const Step &S : T.Train)
      if (S.Kind != StepKind::Update)
        if (Error E = step(S))
          return E;
    break;
  case EntryPoint::Advance:
    enter(declare(Prefix + "_" + Name, Sig::Advance), Sig::Advance);
    advance();
    break;
  case EntryPoint::UpdatePart: {
    Function *F = declare(Prefix + "_" + Name, Sig::Update);
    enter(F, Sig::Update);
    if (Error E = update(F->getArg(2), F->getArg(3), Threads - 1, F->getArg(1)))
      return E;
    break;
  }
  case EntryPoint::Gradients:
  case EntryPoint::TrainStep: {
    // The whole batch as one part in the arena's own workspace.
    enter(declare(Prefix + "_" + Name, Sig::Entry), Sig::Entry);
    B.CreateCall(M.getFunction(Prefix + "_gradients_part"),
                 {Fr.Arena, Fr.Work, Fr.X, Fr.IO, Fr.Batch, Fr.Stats, Fr.Total,
                  Fr.Row0});
    if (EP == EntryPoint::TrainStep) {
      advance();
      if (Threads == 1) {
        // update_part sums no other workspace: it is this update, compiled
        // once for both.
        Function *UP = declare(Prefix + "_update_part", Sig::Update);
        CallInst *C =
            B.CreateCall(UP, {Fr.Arena, Constant::getNullValue(B.getPtrTy()),
                              i64(0), i64(T.trainedSpan()), Fr.Stats});
        C->addFnAttr(Attribute::NoInline);
      } else if (Error E = update(i64(0), i64(T.trainedSpan()), 0, nullptr)) {
        return E;
      }
    }
    break;
  }
  case EntryPoint::Evaluate:
  case EntryPoint::Predict: {
    enter(declare(Prefix + "_" + Name, Sig::Entry), Sig::Entry);
    for (const Step &S : EP == EntryPoint::Evaluate ? T.Evaluate : T.Predict)
      if (Error E = step(S))
        return E;
    if (EP == EntryPoint::Predict) {
      // The outputs, batch rows of them, to the caller.
      int Out = T.outputTensor();
      B.CreateMemCpy(Fr.IO, Align(4), ptr(Out), Align(64),
                     B.CreateMul(Fr.Batch, i64(cols(Out) * 4)));
    }
    break;
  }
  }
  if (SavedMode)
    restoreDenormals();
  B.CreateRetVoid();
  return Error::success();
}

Error emitProgram(Module &M, const TrainGraph &T, StringRef Prefix,
                  unsigned Lanes, unsigned Threads) {
  ProgramEmitter E(M, T, Prefix, Lanes, std::max(Threads, 1u));
  for (EntryPoint EP : AllEntryPoints)
    if (Error Err = E.emit(EP))
      return Err;
  return E.finish();
}

} // namespace netjit
