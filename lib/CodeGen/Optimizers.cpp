// Optimizers.cpp - the optimizer in the training program: the header's
// per-step counters (advance), one loop kernel over parameter ranges with
// the regularization and the threads' gradient sums, and each optimizer's
// update, one function per row of Optimizers.def in one table.
#include "netjit/CodeGen/ProgramEmitter.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace netjit {

namespace {

/// One vector of parameters as an optimizer's update sees it: the weights
/// W, their gradient G (summed over the workspaces, regularized), the
/// optimizer's slots (slot K is In(2 + K)), and Adam's step size Alpha
/// (its bias correction folded in).
struct UpdateLanes {
  IRBuilder<> &B;
  const OptimizerSpec &O;
  unsigned L, Slots;
  Value *W, *G;
  LoadFn In;
  Value *Alpha;
  Value *c(double V) const {
    return B.CreateVectorSplat(L, ConstantFP::get(B.getFloatTy(), V));
  }
  Value *sqrt(Value *V) const {
    return B.CreateUnaryIntrinsic(Intrinsic::sqrt, V);
  }
};

/// An optimizer's update: the new weights, then each slot's new value.
using UpdateFn = SmallVector<Value *, 2> (*)(UpdateLanes &U);

SmallVector<Value *, 2> sgdUpdate(UpdateLanes &U) {
  IRBuilder<> &B = U.B;
  Value *Step = B.CreateFMul(U.c(U.O.get("learning_rate")), U.G);
  double Mom = U.O.get("momentum");
  if (!U.Slots)
    return {B.CreateFSub(U.W, Step)};
  Value *Mv = B.CreateFSub(B.CreateFMul(U.c(Mom), U.In(2)), Step);
  Value *Wn =
      U.O.get("nesterov")
          ? B.CreateFSub(B.CreateFAdd(U.W, B.CreateFMul(U.c(Mom), Mv)), Step)
          : B.CreateFAdd(U.W, Mv);
  return {Wn, Mv};
}

SmallVector<Value *, 2> adamUpdate(UpdateLanes &U) {
  IRBuilder<> &B = U.B;
  const OptimizerSpec &O = U.O;
  Value *Gv = U.G;
  auto In = U.In;
  Value *Mv = B.CreateFAdd(
      In(2), B.CreateFMul(B.CreateFSub(Gv, In(2)), U.c(1 - O.get("beta_1"))));
  Value *Vv = B.CreateFAdd(
      In(3), B.CreateFMul(B.CreateFSub(B.CreateFMul(Gv, Gv), In(3)),
                          U.c(1 - O.get("beta_2"))));
  Value *Wn = B.CreateFSub(
      U.W, B.CreateFDiv(B.CreateFMul(Mv, U.Alpha),
                        B.CreateFAdd(U.sqrt(Vv), U.c(O.get("epsilon")))));
  return {Wn, Mv, Vv};
}

/// Decoupled weight decay, w -= lr weight_decay w, then Adam's step.
SmallVector<Value *, 2> adamwUpdate(UpdateLanes &U) {
  double Decay = U.O.get("learning_rate") * U.O.get("weight_decay");
  U.W = U.B.CreateFSub(U.W, U.B.CreateFMul(U.W, U.c(Decay)));
  return adamUpdate(U);
}

SmallVector<Value *, 2> rmspropUpdate(UpdateLanes &U) {
  IRBuilder<> &B = U.B;
  const OptimizerSpec &O = U.O;
  Value *Gv = U.G;
  auto In = U.In;
  double Rho = O.get("rho");
  Value *Vv = B.CreateFAdd(B.CreateFMul(U.c(Rho), In(2)),
                           B.CreateFMul(U.c(1 - Rho), B.CreateFMul(Gv, Gv)));
  Value *Inc = B.CreateFDiv(B.CreateFMul(U.c(O.get("learning_rate")), Gv),
                            U.sqrt(B.CreateFAdd(Vv, U.c(O.get("epsilon")))));
  if (U.Slots == 2) {
    Value *Mo = B.CreateFAdd(B.CreateFMul(U.c(O.get("momentum")), In(3)), Inc);
    return {B.CreateFSub(U.W, Mo), Vv, Mo};
  }
  return {B.CreateFSub(U.W, Inc), Vv};
}

SmallVector<Value *, 2> adagradUpdate(UpdateLanes &U) {
  IRBuilder<> &B = U.B;
  Value *Gv = U.G;
  Value *Av = B.CreateFAdd(U.In(2), B.CreateFMul(Gv, Gv));
  Value *Wn = B.CreateFSub(
      U.W, B.CreateFDiv(B.CreateFMul(U.c(U.O.get("learning_rate")), Gv),
                        U.sqrt(B.CreateFAdd(Av, U.c(U.O.get("epsilon"))))));
  return {Wn, Av};
}

/// Each row of Optimizers.def lowered, in its order (OptimizerKind's): a
/// row without its NAMEUpdate fails the build.
const UpdateFn Updates[] = {
#define NETJIT_OPTIMIZER(Name, BetaPowers, Summary) Name##Update,
#include "netjit/Spec/Optimizers.def"
};

} // namespace

/// Once per update, before the optimizer: the header's per-step counters
/// (the step count and Adam's beta powers, in double) and the layers'
/// own state (TrainGraph::OnUpdate, the moving statistics).
void ProgramEmitter::advance() {
  for (const Step &S : T.OnUpdate)
    normStep(S);
  const OptimizerSpec &O = G.spec().Optimizer;
  Type *Dbl = B.getDoubleTy();
  Value *StepP = header(HeaderWord::Step);
  B.CreateStore(B.CreateAdd(B.CreateLoad(B.getInt64Ty(), StepP), i64(1)),
                StepP);
  if (!optimizerUsesBetaPowers(O.Kind))
    return;
  for (auto [Field, Beta] :
       {std::pair(HeaderWord::Beta1Power, O.get("beta_1")),
        std::pair(HeaderWord::Beta2Power, O.get("beta_2"))}) {
    Value *P = B.CreateConstInBoundsGEP1_64(Dbl, Fr.Arena, Field);
    B.CreateStore(
        B.CreateFMul(B.CreateLoad(Dbl, P), ConstantFP::get(Dbl, Beta)), P);
  }
}

/// One loop of the optimizer: over the parameter floats [Begin, Begin +
/// Count) clipped to [Lo, Hi) (relative to the parameter region), after
/// advance(). The gradient is the arena's plus, when threads split the
/// batch, the same floats of NExtra other workspaces (Extra, an array of
/// pointers); the sum is stored back in the arena's. SumSqAt, if any, gets
/// the gradient's squared norm (diagnostics).
Error ProgramEmitter::updateRange(Value *Lo, Value *Hi, Value *Begin,
                                  Value *Count, double L1, double L2,
                                  Value *SumSqAt, unsigned NExtra,
                                  Value *Extra) {
  const OptimizerSpec &O = G.spec().Optimizer;
  Type *Dbl = B.getDoubleTy();
  double Lr = O.get("learning_rate");
  Value *Alpha = nullptr;
  if (optimizerUsesBetaPowers(O.Kind)) {
    auto Power = [&](unsigned Field) {
      return B.CreateLoad(Dbl,
                          B.CreateConstInBoundsGEP1_64(Dbl, Fr.Arena, Field));
    };
    Value *B1 = Power(HeaderWord::Beta1Power),
          *B2 = Power(HeaderWord::Beta2Power);
    Value *One = ConstantFP::get(Dbl, 1.0);
    Value *A =
        B.CreateFDiv(B.CreateFMul(ConstantFP::get(Dbl, Lr),
                                  B.CreateUnaryIntrinsic(
                                      Intrinsic::sqrt, B.CreateFSub(One, B2))),
                     B.CreateFSub(One, B1));
    Alpha = splat(L, B.CreateFPTrunc(A, Fl));
  }
  auto C = [&](double V) { return splatF(L, V); };
  unsigned Slots = T.numSlots();
  // [Begin, Begin + Count) clipped to [Lo, Hi).
  Value *From = B.CreateBinaryIntrinsic(Intrinsic::smax, Lo, Begin);
  Value *To =
      B.CreateBinaryIntrinsic(Intrinsic::smin, Hi, B.CreateAdd(Begin, Count));
  Value *N =
      B.CreateBinaryIntrinsic(Intrinsic::smax, B.CreateSub(To, From), i64(0));
  auto At = [&](Value *Base, int64_t Region) {
    return B.CreateInBoundsGEP(
        Fl, B.CreateConstInBoundsGEP1_64(Fl, Base, Region), From);
  };
  Value *W = At(Fr.Arena, T.paramsOffset());
  Value *Gp = At(Fr.Arena, T.gradOffset());
  // Slot K's stream is input 2 + K; the extra gradients follow.
  SmallVector<InStream, 6> Ins = {{W}, {Gp}};
  SmallVector<Value *, 3> Outs = {W};
  for (unsigned K = 0; K < Slots; ++K) {
    Value *P = At(Fr.Arena, T.slotOffset(K));
    Ins.push_back({P});
    Outs.push_back(P);
  }
  for (unsigned K = 0; K < NExtra; ++K) {
    Value *Work = B.CreateLoad(
        B.getPtrTy(), B.CreateConstInBoundsGEP1_64(B.getPtrTy(), Extra, K));
    Ins.push_back({At(Work, T.gradOffset() - T.workOffset())});
  }
  if (NExtra)
    Outs.push_back(Gp);
  // The penalty l1 |w| + l2 w^2 on the weights before the update, as
  // Keras adds it to the loss (the tail's idle lanes load 0).
  Value *Penalty = (L1 || L2)
                       ? accumulator(FixedVectorType::get(Fl, L), splatF(L, 0))
                       : nullptr;
  // Diagnostics: the squared norm of the loss's gradient, summed here
  // where the threads' parts are summed anyway.
  Value *SumSq = SumSqAt
                     ? accumulator(FixedVectorType::get(Fl, L), splatF(L, 0))
                     : nullptr;
  if (Error E = LoopBuilder(B).streams(
          N, L, Ins, Outs, [&](LoadFn In) -> Expected<SmallVector<Value *, 2>> {
            Value *Wv = In(0), *Gv = In(1);
            for (unsigned K = 0; K < NExtra; ++K)
              Gv = B.CreateFAdd(Gv, In(2 + Slots + K));
            if (SumSq)
              accumulate(SumSq, B.CreateFMul(Gv, Gv));
            if (Penalty)
              accumulate(
                  Penalty,
                  B.CreateFAdd(B.CreateFMul(C(L1), B.CreateUnaryIntrinsic(
                                                       Intrinsic::fabs, Wv)),
                               B.CreateFMul(C(L2), B.CreateFMul(Wv, Wv))));
            if (L1 || L2) {
              Value *Sgn = B.CreateSelect(
                  B.CreateFCmpOGT(Wv, C(0)), C(1),
                  B.CreateSelect(B.CreateFCmpOLT(Wv, C(0)), C(-1), C(0)));
              Gv = B.CreateFAdd(Gv, B.CreateFAdd(B.CreateFMul(C(L1), Sgn),
                                                 B.CreateFMul(C(2 * L2), Wv)));
            }
            UpdateLanes U{B, O, L, Slots, Wv, Gv, In, Alpha};
            SmallVector<Value *, 2> R = Updates[unsigned(O.Kind)](U);
            if (NExtra)
              R.push_back(Gv);
            return R;
          }))
    return E;
  if (Penalty) {
    CallInst *Sum = B.CreateFAddReduce(
        f32(-0.0), B.CreateLoad(FixedVectorType::get(Fl, L), Penalty));
    Sum->setHasAllowReassoc(true);
    addStat(StatWord::Penalty, Sum);
  }
  if (SumSq)
    addStatAt(SumSqAt, reduceAdd(SumSq, L));
  return Error::success();
}

/// The optimizer over the parameter floats [Lo, Hi) (relative to the
/// parameter region), after advance(): one loop where no tensor is
/// regularized, else one per tensor, each a call of the loop's kernel
/// (tensors with the same regularizer and diagnostics share it).
Error ProgramEmitter::update(Value *Lo, Value *Hi, unsigned NExtra,
                             Value *Extra) {
  auto Range = [&](int64_t Begin, int64_t Count, double L1, double L2,
                   int SumSqStat) -> Error {
    auto K = updateKernel(L1, L2, SumSqStat >= 0, NExtra);
    if (!K)
      return K.takeError();
    B.CreateCall(*K, {Fr.Arena,
                      Extra ? Extra : Constant::getNullValue(B.getPtrTy()), Lo,
                      Hi, Fr.Stats, i64(Begin - T.paramsOffset()), i64(Count),
                      i64(SumSqStat)});
    return Error::success();
  };

  bool AnyReg = false;
  for (const ParamInfo &P : G.params())
    AnyReg |= P.L1 || P.L2;
  if (!AnyReg && T.Diagnostics.empty())
    return Range(T.paramsOffset(), T.trainedSpan(), 0, 0, -1);
  std::vector<int> SumSqStat(G.params().size(), -1);
  for (const LayerDiagnostics &D : T.Diagnostics)
    if (D.WeightSumSq >= 0)
      SumSqStat[G.layers()[D.Layer]->Kernel] = D.WeightSumSq;
  for (size_t P = 0; P < G.params().size(); ++P) {
    const ParamInfo &PI = G.params()[P];
    const TensorInfo &TI = T.tensor(T.paramTensor(P));
    if (!PI.Trainable)
      continue;
    if (Error E = Range(TI.Offset, PI.size(), PI.L1, PI.L2, SumSqStat[P]))
      return E;
  }
  return Error::success();
}

Expected<Function *> ProgramEmitter::updateKernel(double L1, double L2,
                                                  bool SumSq, unsigned NExtra) {
  std::string Key = formatv("update {0} {1} {2} {3}", bit_cast<uint64_t>(L1),
                            bit_cast<uint64_t>(L2), SumSq, NExtra);
  if (Function *F = Kernels.lookup(Key))
    return F;
  Function *F = declare(Prefix + ".update." + Twine(KernelFns++), Sig::Range);
  F->addFnAttr(Attribute::NoInline);
  if (Error E = emitAside(F, Sig::Range, nullptr, [&](Function *K) {
        auto A = [&](unsigned I) { return K->getArg(I); };
        Value *SumSqAt =
            SumSq ? B.CreateInBoundsGEP(B.getDoubleTy(), Fr.Stats, A(7))
                  : nullptr;
        return updateRange(A(2), A(3), A(5), A(6), L1, L2, SumSqAt, NExtra,
                           A(1));
      }))
    return E;
  Kernels[Key] = F;
  return F;
}

} // namespace netjit
