// Losses.cpp - one row of each loss: its value and correct count into the
// stats and its gradient (with respect to the logits, or to the outputs)
// into the step's output; softmax cross-entropy from logits, sigmoid
// cross-entropy, and the element-wise losses.
#include "netjit/CodeGen/ProgramEmitter.h"

#include <cmath>

using namespace llvm;

namespace netjit {

/// What every loss row reads: the row's logits (or outputs) Z and targets
/// Tr (null for sparse labels), its gradient D, and 1 / the whole batch
/// (these rows may be part of it).
struct ProgramEmitter::LossOperands {
  int64_t N;
  Value *Z, *D, *InvB, *Tr, *Zero;
  bool Sparse;
  Value *masked(IRBuilder<> &B, Value *V, Value *Mask) const {
    return Mask ? B.CreateSelect(Mask, V, Zero) : V;
  }
};

Error ProgramEmitter::lossRow(const Step &S, Value *Row) {
  LossOperands LR;
  LR.N = cols(S.In[0]);
  LR.Z = rowPtr(S.In[0], Row);
  LR.D = rowPtr(S.Out, Row);
  // Averaged over the whole batch, of which these rows may be a part.
  Value *BatchF = B.CreateSIToFP(Fr.Total, Fl);
  LR.InvB = B.CreateFDiv(f32(1), BatchF);
  LR.Sparse = T.sparseLabels();
  LR.Tr = LR.Sparse ? nullptr : rowPtr(S.In[1], Row);
  LR.Zero = splatF(Lanes, 0);
  if (S.Kind == StepKind::SoftmaxXent)
    softmaxXentRow(Row, LR);
  else
    pointLossRow(S, LR);
  return Error::success();
}

/// Softmax cross-entropy from the logits, against a label or a target row.
void ProgramEmitter::softmaxXentRow(Value *Row, const LossOperands &LR) {
  LoopBuilder Loop(B);
  auto Masked = [&](Value *V, Value *Mask) { return LR.masked(B, V, Mask); };
  Value *VMax = accumulator(VT, splatF(Lanes, -INFINITY));
  Loop.chunks(LR.N, Lanes, [&](Value *J, Value *Mask) {
    accumulate(VMax, load(LR.Z, J, Mask, -INFINITY), Intrinsic::maxnum);
  });
  Value *MaxS = reduceMax(VMax);
  Value *Max = splat(Lanes, MaxS);
  Value *VSum = accumulator(VT, LR.Zero);
  Value *VT1 = accumulator(VT, LR.Zero), *VTZ = accumulator(VT, LR.Zero);
  Value *VTMax = accumulator(VT, splatF(Lanes, -INFINITY));
  Value *VTAtMax = accumulator(VT, splatF(Lanes, -INFINITY));
  Loop.chunks(LR.N, Lanes, [&](Value *J, Value *Mask) {
    Value *Zv = load(LR.Z, J, Mask, -INFINITY);
    Value *E = Masked(VMLane.call(B, Op::Exp, B.CreateFSub(Zv, Max)), Mask);
    accumulate(VSum, E);
    store(E, LR.D, J, Mask);
    if (!LR.Sparse) {
      Value *Tv = load(LR.Tr, J, Mask);
      accumulate(VT1, Tv);
      accumulate(VTZ, Masked(B.CreateFMul(Tv, Zv), Mask));
      accumulate(VTMax, load(LR.Tr, J, Mask, -INFINITY), Intrinsic::maxnum);
      accumulate(VTAtMax,
                 B.CreateSelect(B.CreateFCmpOEQ(Zv, Max), Tv,
                                splatF(Lanes, -INFINITY)),
                 Intrinsic::maxnum);
    }
  });
  Value *Sum = reduceAdd(VSum);
  Value *Lse = B.CreateFAdd(MaxS, scalarLog(Sum));
  if (LR.Sparse) {
    // dz = softmax / batch, then -1 / batch at the label.
    Value *Scale = splat(Lanes, B.CreateFDiv(LR.InvB, Sum));
    Loop.chunks(LR.N, Lanes, [&](Value *J, Value *Mask) {
      store(B.CreateFMul(load(LR.D, J, Mask), Scale), LR.D, J, Mask);
    });
    Value *Label = B.CreateSExt(
        B.CreateLoad(B.getInt32Ty(),
                     B.CreateInBoundsGEP(B.getInt32Ty(), Fr.IO, Row)),
        B.getInt64Ty());
    Value *Valid = B.CreateICmpULT(Label, i64(LR.N));
    Value *Safe = B.CreateSelect(Valid, Label, i64(0));
    Value *DL = B.CreateInBoundsGEP(Fl, LR.D, Safe);
    Value *ZL = B.CreateLoad(Fl, B.CreateInBoundsGEP(Fl, LR.Z, Safe));
    B.CreateStore(B.CreateSelect(Valid,
                                 B.CreateFSub(B.CreateLoad(Fl, DL), LR.InvB),
                                 B.CreateLoad(Fl, DL)),
                  DL);
    addStat(StatWord::LossSum,
            B.CreateSelect(Valid, B.CreateFSub(Lse, ZL), f32(NAN)));
    addStat(StatWord::Correct,
            B.CreateUIToFP(B.CreateAnd(Valid, B.CreateFCmpOEQ(ZL, MaxS)), Fl));
  } else {
    // Targets t (summing to 1 for a distribution): loss = lse sum(t) -
    // t.z, dz = (softmax sum(t) - t) / batch.
    Value *SumT = reduceAdd(VT1), *TZ = reduceAdd(VTZ);
    Value *Scale = splat(Lanes, B.CreateFMul(B.CreateFDiv(LR.InvB, Sum), SumT));
    Value *InvBv = splat(Lanes, LR.InvB);
    Loop.chunks(LR.N, Lanes, [&](Value *J, Value *Mask) {
      Value *V = B.CreateFSub(B.CreateFMul(load(LR.D, J, Mask), Scale),
                              B.CreateFMul(load(LR.Tr, J, Mask), InvBv));
      store(V, LR.D, J, Mask);
    });
    addStat(StatWord::LossSum, B.CreateFSub(B.CreateFMul(Lse, SumT), TZ));
    addStat(StatWord::Correct,
            B.CreateUIToFP(
                B.CreateFCmpOEQ(reduceMax(VTAtMax), reduceMax(VTMax)), Fl));
  }
}

/// The element-wise losses, averaged over the outputs as Keras does.
void ProgramEmitter::pointLossRow(const Step &S, const LossOperands &LR) {
  const LossSpec &Loss = G.spec().Loss;
  LoopBuilder Loop(B);
  auto Masked = [&](Value *V, Value *Mask) { return LR.masked(B, V, Mask); };
  Value *GScale = splat(Lanes, B.CreateFMul(LR.InvB, f32(1.0 / LR.N)));
  Value *VLoss = accumulator(VT, LR.Zero), *VCorrect = accumulator(VT, LR.Zero);
  Value *One = splatF(Lanes, 1), *Half = splatF(Lanes, 0.5);
  Loop.chunks(LR.N, Lanes, [&](Value *J, Value *Mask) {
    Value *Zv = load(LR.Z, J, Mask), *Tv = load(LR.Tr, J, Mask);
    Value *Lv, *Gv, *Cv = nullptr;
    if (S.Kind == StepKind::SigmoidXent) {
      // softplus(z) - t z; d/dz = sigmoid(z) - t.
      Lv = B.CreateFSub(VMLane.call(B, Op::Softplus, Zv), B.CreateFMul(Tv, Zv));
      Gv = B.CreateFSub(VMLane.call(B, Op::Sigmoid, Zv), Tv);
      Cv = B.CreateSelect(B.CreateICmpEQ(B.CreateFCmpOGT(Zv, LR.Zero),
                                         B.CreateFCmpOGT(Tv, Half)),
                          One, LR.Zero);
    } else {
      Value *Dv = B.CreateFSub(Zv, Tv);
      Value *Abs = B.CreateUnaryIntrinsic(Intrinsic::fabs, Dv);
      Value *Sgn = B.CreateSelect(B.CreateFCmpOGT(Dv, LR.Zero), One,
                                  B.CreateSelect(B.CreateFCmpOLT(Dv, LR.Zero),
                                                 splatF(Lanes, -1), LR.Zero));
      switch (Loss.Kind) {
      case LossKind::mse:
        Lv = B.CreateFMul(Dv, Dv);
        Gv = B.CreateFMul(splatF(Lanes, 2), Dv);
        break;
      case LossKind::mae:
        Lv = Abs;
        Gv = Sgn;
        break;
      case LossKind::huber: {
        Value *Delta = splatF(Lanes, Loss.Delta);
        Value *Small = B.CreateFCmpOLE(Abs, Delta);
        Lv = B.CreateSelect(
            Small, B.CreateFMul(Half, B.CreateFMul(Dv, Dv)),
            B.CreateFMul(Delta, B.CreateFSub(Abs, B.CreateFMul(Half, Delta))));
        Gv = B.CreateSelect(Small, Dv, B.CreateFMul(Delta, Sgn));
        break;
      }
      default: {
        // Binary cross-entropy on probabilities, clipped to [eps, 1 - eps]
        // as Keras does (the clip passes no gradient).
        double Eps = 1e-7;
        Value *Lo = splatF(Lanes, Eps), *Hi = splatF(Lanes, 1 - Eps);
        Value *P = B.CreateBinaryIntrinsic(
            Intrinsic::minnum,
            B.CreateBinaryIntrinsic(Intrinsic::maxnum, Zv, Lo), Hi);
        Value *LogP = VMLane.call(B, Op::Log, P);
        Value *Log1mP = VMLane.call(B, Op::Log1p, B.CreateFNeg(P));
        Lv = B.CreateFNeg(
            B.CreateFAdd(B.CreateFMul(Tv, LogP),
                         B.CreateFMul(B.CreateFSub(One, Tv), Log1mP)));
        Value *Inside =
            B.CreateAnd(B.CreateFCmpOGT(Zv, Lo), B.CreateFCmpOLT(Zv, Hi));
        Gv = B.CreateSelect(Inside,
                            B.CreateFDiv(B.CreateFSub(P, Tv),
                                         B.CreateFMul(P, B.CreateFSub(One, P))),
                            LR.Zero);
        Cv = B.CreateSelect(B.CreateICmpEQ(B.CreateFCmpOGT(Zv, Half),
                                           B.CreateFCmpOGT(Tv, Half)),
                            One, LR.Zero);
      }
      }
    }
    accumulate(VLoss, Masked(Lv, Mask));
    if (Cv)
      accumulate(VCorrect, Masked(Cv, Mask));
    store(B.CreateFMul(Gv, GScale), LR.D, J, Mask);
  });
  addStat(StatWord::LossSum, B.CreateFMul(reduceAdd(VLoss), f32(1.0 / LR.N)));
  addStat(StatWord::Correct,
          B.CreateFMul(reduceAdd(VCorrect), f32(1.0 / LR.N)));
}

/// A loss over the batch's rows, each row's epilogue after it (the body of
/// its kernel).
Error ProgramEmitter::lossRows(const Step &S) {
  Error E = Error::success();
  LoopBuilder(B).counted(
      i64(0), Fr.Batch, 1,
      [&](Value *R) {
        E = lossRow(S, R);
        for (const Step &Ep : S.Epilogue)
          if (!E)
            E = rowStep(Ep, R);
      },
      "r");
  return E;
}

} // namespace netjit
