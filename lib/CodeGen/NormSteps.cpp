// NormSteps.cpp - batch normalization's steps (Graph/Layers/BatchNorm.cpp):
// channel_stats and affine as row steps, a row's pixels with the channels
// in vectors, so they run in the epilogue of the conv or GEMM before them
// and take the activation after them as theirs; and the per-channel
// arithmetic of norm_coeffs, norm_grad_coeffs and moving_stats as scalar
// loops over the channels in double, a few hundred operations a step.
#include "netjit/CodeGen/ProgramEmitter.h"

using namespace llvm;

namespace netjit {

/// Out[c] += the sum over a row's pixels of d and d^2, d = x - K[c]; with
/// dY (In[2]), of dy and dy d. The channels go in groups of up to four
/// vectors, each group's sums in registers across the pixels.
Error ProgramEmitter::channelStatsRow(const Step &S, Value *Row) {
  int64_t C = S.Norm.Channels, Pixels = S.Norm.Pixels;
  int64_t V = (C + Lanes - 1) / Lanes;
  bool Grad = S.In.size() > 2;
  Value *X = rowPtr(S.In[0], Row), *K = ptr(S.In[1]), *Out = ptr(S.Out);
  Value *DY = Grad ? rowPtr(S.In[2], Row) : nullptr;
  auto Mask = [&](int64_t J) -> Value * {
    return J + 1 == V && C % Lanes ? prefixMask(B, Lanes, C % Lanes) : nullptr;
  };
  for (int64_t G0 = 0; G0 < V; G0 += 4) {
    int64_t G1 = std::min<int64_t>(V, G0 + 4);
    std::vector<Value *> S0, S1, Shift;
    for (int64_t J = G0; J < G1; ++J) {
      S0.push_back(accumulator(VT, splatF(Lanes, 0)));
      S1.push_back(accumulator(VT, splatF(Lanes, 0)));
      Shift.push_back(load(K, i64(J * Lanes), Mask(J)));
    }
    LoopBuilder(B).counted(i64(0), i64(Pixels), 1, [&](Value *P) {
      Value *Pix = B.CreateMul(P, i64(C));
      for (int64_t J = G0; J < G1; ++J) {
        Value *Col = B.CreateAdd(Pix, i64(J * Lanes));
        Value *D = B.CreateFSub(load(X, Col, Mask(J)), Shift[J - G0]);
        if (Grad) {
          Value *G = load(DY, Col, Mask(J));
          accumulate(S0[J - G0], G);
          accumulate(S1[J - G0], B.CreateFMul(G, D));
        } else {
          accumulate(S0[J - G0], D);
          accumulate(S1[J - G0], B.CreateFMul(D, D));
        }
      }
    }, "px");
    for (int64_t J = G0; J < G1; ++J)
      for (auto [Acc, At] : {std::pair(S0[J - G0], J * Lanes),
                             std::pair(S1[J - G0], C + J * Lanes)}) {
        Value *Col = i64(At);
        store(B.CreateFAdd(load(Out, Col, Mask(J)), B.CreateLoad(VT, Acc)),
              Out, Col, Mask(J));
      }
  }
  return Error::success();
}

/// y = (x - m[c]) a[c] + b[c] at each of a row's pixels, or, with x2,
/// y = x a[c] + (x2 - m[c]) e[c] + b[c]: the coefficients a, b, m, e one
/// after the other in In[1]. The shift by m (the batch's mean) keeps the
/// cancellation of x e against m e out of float rounding where the mean
/// is large next to the spread.
Error ProgramEmitter::affineRow(const Step &S, Value *Row) {
  int64_t C = S.Norm.Channels, Pixels = S.Norm.Pixels;
  bool Second = S.In.size() > 2;
  Value *X = rowPtr(S.In[0], Row), *Y = rowPtr(S.Out, Row);
  Value *X2 = Second ? rowPtr(S.In[2], Row) : nullptr;
  Value *Co = ptr(S.In[1]);
  auto Coeff = [&](int64_t K) { return B.CreateConstInBoundsGEP1_64(Fl, Co, K * C); };
  Error E = Error::success();
  auto Pixel = [&](Value *Off) {
    SmallVector<InStream, 6> Ins = {{B.CreateGEP(Fl, X, Off)}, {Coeff(0)},
                                    {Coeff(1)}, {Coeff(2)}};
    if (Second) {
      Ins.push_back({B.CreateGEP(Fl, X2, Off)});
      Ins.push_back({Coeff(3)});
    }
    SmallVector<Value *, 2> Outs = {B.CreateGEP(Fl, Y, Off)};
    auto Fma = [&](Value *A, Value *Bv, Value *Cv) {
      return B.CreateIntrinsic(Intrinsic::fma, {A->getType()}, {A, Bv, Cv});
    };
    Error Err = LoopBuilder(B).streams(
        i64(C), L, Ins, Outs, [&](LoadFn In) -> Expected<SmallVector<Value *, 2>> {
          if (!Second)
            return SmallVector<Value *, 2>{
                Fma(B.CreateFSub(In(0), In(3)), In(1), In(2))};
          return SmallVector<Value *, 2>{
              Fma(In(0), In(1), Fma(B.CreateFSub(In(4), In(3)), In(5), In(2)))};
        });
    if (!E)
      E = std::move(Err);
    else
      consumeError(std::move(Err));
  };
  if (Pixels == 1) {
    Pixel(i64(0));
    return E;
  }
  LoopBuilder(B).counted(i64(0), i64(Pixels), 1,
                         [&](Value *P) { Pixel(B.CreateMul(P, i64(C))); },
                         "px");
  return E;
}

/// Body(c) for each channel c of S, in a scalar loop.
void ProgramEmitter::perChannel(const Step &S,
                                function_ref<void(Value *)> Body) {
  LoopBuilder(B).counted(i64(0), i64(S.Norm.Channels), 1, Body, "c");
}

void ProgramEmitter::normStep(const Step &S) {
  Type *Dbl = B.getDoubleTy();
  int64_t C = S.Norm.Channels;
  auto At = [&](int Tensor, Value *Ch, int64_t Vector = 0) {
    return B.CreateInBoundsGEP(
        Fl, ptr(Tensor), B.CreateAdd(Ch, i64(Vector * C)));
  };
  auto Get = [&](int Tensor, Value *Ch, int64_t Vector = 0) {
    return B.CreateFPExt(B.CreateLoad(Fl, At(Tensor, Ch, Vector)), Dbl);
  };
  auto Set = [&](Value *V, int Tensor, Value *Ch, int64_t Vector = 0) {
    B.CreateStore(B.CreateFPTrunc(V, Fl), At(Tensor, Ch, Vector));
  };
  auto D = [&](double V) { return ConstantFP::get(Dbl, V); };
  // N: the values each channel's sums are over.
  auto Count = [&] {
    return B.CreateFMul(B.CreateSIToFP(Fr.Batch, Dbl), D(S.Norm.Pixels));
  };
  switch (S.Kind) {
  case StepKind::NormCoeffs: {
    // In: [stats,] moving mean, moving variance[, gamma][, beta].
    unsigned I = S.Norm.Batch;
    Value *N = S.Norm.Batch ? Count() : nullptr;
    perChannel(S, [&](Value *Ch) {
      Value *Mean, *Var;
      if (S.Norm.Batch) {
        Value *S0 = B.CreateFDiv(Get(S.In[0], Ch), N);
        Value *S1 = B.CreateFDiv(Get(S.In[0], Ch, 1), N);
        Mean = B.CreateFAdd(Get(S.In[1], Ch), S0);
        Var = B.CreateBinaryIntrinsic(
            Intrinsic::maxnum, B.CreateFSub(S1, B.CreateFMul(S0, S0)), D(0));
      } else {
        Mean = Get(S.In[0], Ch);
        Var = Get(S.In[1], Ch);
      }
      unsigned Next = I + 2;
      Value *Inv = B.CreateFDiv(
          D(1), B.CreateUnaryIntrinsic(Intrinsic::sqrt,
                                       B.CreateFAdd(Var, D(S.Norm.Epsilon))));
      Value *A = S.Norm.Scale ? B.CreateFMul(Get(S.In[Next++], Ch), Inv) : Inv;
      Set(A, S.Out, Ch, 0);
      Set(S.Norm.Center ? Get(S.In[Next], Ch) : D(0), S.Out, Ch, 1);
      Set(Mean, S.Out, Ch, 2);
      Set(Var, S.Out, Ch, 3);
      Set(Inv, S.Out, Ch, 4);
    });
    return;
  }
  case StepKind::NormGradCoeffs: {
    // In: sums of dy and dy (x - K), norm_coeffs, K[, gamma]. With x^ =
    // (x - mean) s: dbeta = sum dy, dgamma = sum dy x^, and
    // dx = a dy - a dbeta / N - a x^ dgamma / N = dy a + (x - mean) e + b.
    Value *N = Count();
    perChannel(S, [&](Value *Ch) {
      Value *S0 = Get(S.In[0], Ch), *S1 = Get(S.In[0], Ch, 1);
      Value *A = Get(S.In[1], Ch, 0), *Mean = Get(S.In[1], Ch, 2),
            *Inv = Get(S.In[1], Ch, 4);
      Value *Shifted = B.CreateFSub(Mean, Get(S.In[2], Ch));
      Value *DGamma =
          B.CreateFMul(Inv, B.CreateFSub(S1, B.CreateFMul(Shifted, S0)));
      Value *E = B.CreateFDiv(
          B.CreateFNeg(B.CreateFMul(B.CreateFMul(A, Inv), DGamma)), N);
      Value *Bx = B.CreateFDiv(B.CreateFNeg(B.CreateFMul(A, S0)), N);
      Set(A, S.Out, Ch, 0);
      Set(Bx, S.Out, Ch, 1);
      Set(Mean, S.Out, Ch, 2);
      Set(E, S.Out, Ch, 3);
      if (S.Out2 >= 0)
        Set(DGamma, S.Out2, Ch);
      if (S.Out3 >= 0)
        Set(S0, S.Out3, Ch);
    });
    return;
  }
  case StepKind::MovingStats: {
    // Keras' rule: moving = momentum moving + (1 - momentum) batch.
    double M = S.Norm.Momentum;
    perChannel(S, [&](Value *Ch) {
      for (auto [Out, Vector] : {std::pair(S.Out, 2), std::pair(S.Out2, 3)})
        Set(B.CreateFAdd(B.CreateFMul(D(M), Get(Out, Ch)),
                         B.CreateFMul(D(1 - M), Get(S.In[0], Ch, Vector))),
            Out, Ch);
    });
    return;
  }
  default:
    llvm_unreachable("not a per-channel step");
  }
}

} // namespace netjit
