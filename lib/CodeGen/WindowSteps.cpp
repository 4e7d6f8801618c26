// WindowSteps.cpp - the steps over images (Step::Win), sample by sample so
// that each sample's row-wise epilogue runs while it is in cache: a
// convolution is a GEMM per sample and group over its im2col buffer (or
// over the image itself, for an unpadded 1x1 kernel of stride 1); pooling
// and zero padding are loops over pixels, vectorized over channels.
#include "netjit/CodeGen/Gemm.h"
#include "netjit/CodeGen/ProgramEmitter.h"
#include "netjit/Support/Diagnostics.h"

using namespace llvm;

namespace netjit {

namespace {

/// if (Cond) Body();
void ifThen(IRBuilder<> &B, Value *Cond, function_ref<void()> Body) {
  Function *F = B.GetInsertBlock()->getParent();
  BasicBlock *Then = BasicBlock::Create(B.getContext(), "then", F);
  BasicBlock *After = BasicBlock::Create(B.getContext(), "after", F);
  B.CreateCondBr(Cond, Then, After);
  B.SetInsertPoint(Then);
  Body();
  B.CreateBr(After);
  B.SetInsertPoint(After);
}

/// Whether some tap of the window falls outside the image (padding).
bool mayLeave(const Window &W) {
  return W.PadTop > 0 || W.PadLeft > 0 ||
         (W.OH - 1) * W.SH + (W.KH - 1) * W.DH - W.PadTop >= W.H ||
         (W.OW - 1) * W.SW + (W.KW - 1) * W.DW - W.PadLeft >= W.W;
}

/// A convolution whose im2col buffer would be the image itself.
bool direct(const Window &W) {
  return W.taps() == 1 && W.SH == 1 && W.SW == 1 && !mayLeave(W);
}

} // namespace

/// Runs Body for each tap inside the image of output pixel (Oh, Ow):
/// InPix is the input pixel it reads, Tap its index kh * KW + kw.
void ProgramEmitter::forTaps(const Window &W, Value *Oh, Value *Ow,
                             function_ref<void(Value *InPix, Value *Tap)> Body) {
  LoopBuilder Loop(B);
  Value *H0 = B.CreateSub(B.CreateMul(Oh, i64(W.SH)), i64(W.PadTop));
  Value *W0 = B.CreateSub(B.CreateMul(Ow, i64(W.SW)), i64(W.PadLeft));
  auto Inside = [&](Value *I, int64_t N) {
    return B.CreateICmpULT(I, i64(N)); // also rejects negatives
  };
  Loop.counted(i64(0), i64(W.KH), 1, [&](Value *Kh) {
    Value *Ih = B.CreateAdd(H0, B.CreateMul(Kh, i64(W.DH)));
    ifThen(B, Inside(Ih, W.H), [&] {
      Loop.counted(i64(0), i64(W.KW), 1, [&](Value *Kw) {
        Value *Iw = B.CreateAdd(W0, B.CreateMul(Kw, i64(W.DW)));
        ifThen(B, Inside(Iw, W.W), [&] {
          Body(B.CreateAdd(B.CreateMul(Ih, i64(W.W)), Iw),
               B.CreateAdd(B.CreateMul(Kh, i64(W.KW)), Kw));
        });
      }, "kw");
    });
  }, "kh");
}

/// Each output pixel: Body(Oh, Ow, Pix).
void ProgramEmitter::forPixels(const Window &W,
                               function_ref<void(Value *, Value *, Value *)> Body) {
  LoopBuilder Loop(B);
  Loop.counted(i64(0), i64(W.OH), 1, [&](Value *Oh) {
    Loop.counted(i64(0), i64(W.OW), 1, [&](Value *Ow) {
      Body(Oh, Ow, B.CreateAdd(B.CreateMul(Oh, i64(W.OW)), Ow));
    }, "ow");
  }, "oh");
}

/// Each group's [out pixels, taps x group channels] rows of one sample's
/// image X, zero where a tap falls in the padding.
void ProgramEmitter::im2col(const Window &W, Value *X, Value *Cols) {
  int64_t Kg = W.taps() * W.groupC(), P = W.outPixels();
  if (mayLeave(W))
    B.CreateMemSet(Cols, B.getInt8(0), W.Groups * P * Kg * 4, Align(4));
  LoopBuilder(B).counted(i64(0), i64(W.Groups), 1, [&](Value *G) {
    Value *Src = B.CreateGEP(Fl, X, B.CreateMul(G, i64(W.groupC())));
    Value *Dst = B.CreateGEP(Fl, Cols, B.CreateMul(G, i64(P * Kg)));
    forPixels(W, [&](Value *Oh, Value *Ow, Value *Pix) {
      Value *Row = B.CreateGEP(Fl, Dst, B.CreateMul(Pix, i64(Kg)));
      forTaps(W, Oh, Ow, [&](Value *InPix, Value *Tap) {
        B.CreateMemCpy(B.CreateGEP(Fl, Row, B.CreateMul(Tap, i64(W.groupC()))),
                       Align(4),
                       B.CreateGEP(Fl, Src, B.CreateMul(InPix, i64(W.C))),
                       Align(4), W.groupC() * 4);
      });
    });
  }, "g");
}

/// Adds each group's [out pixels, taps x group channels] rows back onto
/// the taps' input pixels of one sample's (cleared) gradient DX.
void ProgramEmitter::col2im(const Window &W, Value *Cols, Value *DX) {
  int64_t Kg = W.taps() * W.groupC(), P = W.outPixels();
  B.CreateMemSet(DX, B.getInt8(0), W.inPixels() * W.C * 4, Align(4));
  LoopBuilder(B).counted(i64(0), i64(W.Groups), 1, [&](Value *G) {
    Value *Dst = B.CreateGEP(Fl, DX, B.CreateMul(G, i64(W.groupC())));
    Value *Src = B.CreateGEP(Fl, Cols, B.CreateMul(G, i64(P * Kg)));
    forPixels(W, [&](Value *Oh, Value *Ow, Value *Pix) {
      Value *Row = B.CreateGEP(Fl, Src, B.CreateMul(Pix, i64(Kg)));
      forTaps(W, Oh, Ow, [&](Value *InPix, Value *Tap) {
        Value *From = B.CreateGEP(Fl, Row, B.CreateMul(Tap, i64(W.groupC())));
        Value *To = B.CreateGEP(Fl, Dst, B.CreateMul(InPix, i64(W.C)));
        LoopBuilder(B).chunks(W.groupC(), Lanes, [&](Value *J, Value *Mask) {
          store(B.CreateFAdd(load(To, J, Mask), load(From, J, Mask)), To, J,
                Mask);
        });
      });
    });
  }, "g");
}

/// Each sample of the part: Body(Row), then the step's epilogue on it.
Error ProgramEmitter::perSample(const Step &S, function_ref<void(Value *)> Body) {
  Error E = Error::success();
  LoopBuilder(B).counted(i64(0), Fr.Batch, 1, [&](Value *R) {
    Body(R);
    for (const Step &Ep : S.Epilogue)
      if (!E)
        E = rowStep(Ep, R);
  }, "n");
  return E;
}

Error ProgramEmitter::windowStep(const Step &S) {
  const Window &W = S.Win;
  int64_t Kg = W.taps() * W.groupC(), P = W.outPixels();
  // A GEMM per group: [P x K] rows of A, [K x N] of B, into [P x N] of C,
  // each group's columns of B and C at G times its width.
  auto Gemm = [&](Value *A, int64_t Lda, int64_t AStep, bool TransA,
                  int64_t M, int64_t K, Value *Bm, int64_t Ldb, int64_t BStep,
                  Value *C, int64_t Ldc, int64_t CStep, int64_t N, bool Acc) {
    LoopBuilder(B).counted(i64(0), i64(W.Groups), 1, [&](Value *G) {
      GemmOperands Ops;
      Ops.A = B.CreateGEP(Fl, A, B.CreateMul(G, i64(AStep)));
      Ops.B = B.CreateGEP(Fl, Bm, B.CreateMul(G, i64(BStep)));
      Ops.C = B.CreateGEP(Fl, C, B.CreateMul(G, i64(CStep)));
      Ops.Lda = Lda;
      Ops.Ldb = Ldb;
      Ops.Ldc = Ldc;
      Ops.TransA = TransA;
      Ops.M = i64(M);
      Ops.K = i64(K);
      Ops.MHint = M;
      Ops.N = N;
      Ops.Accumulate = Acc;
      emitGemm(B, Ops, Lanes, [](Value *, Value *) {});
    }, "g");
  };
  bool Direct = direct(W);
  switch (S.Kind) {
  case StepKind::Conv: {
    // Z[p][oc] = sum over k of cols[p][k] W[k][oc], per group.
    Value *Wt = ptr(S.In[1]), *Cols = ptr(S.In[2]);
    return perSample(S, [&](Value *R) {
      Value *X = rowPtr(S.In[0], R), *Z = rowPtr(S.Out, R);
      if (Direct)
        return Gemm(X, W.C, W.groupC(), false, P, Kg, Wt, W.OC, W.groupOC(), Z,
                    W.OC, W.groupOC(), W.groupOC(), false);
      im2col(W, X, Cols);
      Gemm(Cols, Kg, P * Kg, false, P, Kg, Wt, W.OC, W.groupOC(), Z, W.OC,
           W.groupOC(), W.groupOC(), false);
    });
  }
  case StepKind::ConvGradWeight: {
    // dW[k][oc] += sum over p of cols[p][k] dZ[p][oc], sample by sample.
    Value *DW = ptr(S.Out), *Cols = ptr(S.In[2]);
    return perSample(S, [&](Value *R) {
      Value *X = rowPtr(S.In[0], R), *DZ = rowPtr(S.In[1], R);
      if (!Direct)
        im2col(W, X, Cols);
      Value *A = Direct ? X : Cols;
      Gemm(A, Direct ? W.C : Kg, Direct ? W.groupC() : P * Kg, true, Kg, P, DZ,
           W.OC, W.groupOC(), DW, W.OC, W.groupOC(), W.groupOC(), true);
    });
  }
  case StepKind::ConvGradInput: {
    // dcols[p][k] = sum over oc of dZ[p][oc] W[k][oc], per group, with W
    // transposed once per step; then each tap's share added to its pixel.
    Value *Wt = ptr(S.In[1]), *Pack = ptr(S.In[2]), *Cols = ptr(S.In[3]);
    LoopBuilder(B).counted(i64(0), i64(W.Groups), 1, [&](Value *G) {
      emitTranspose(B, B.CreateGEP(Fl, Wt, B.CreateMul(G, i64(W.groupOC()))),
                    W.OC, i64(Kg), i64(W.groupOC()),
                    B.CreateGEP(Fl, Pack, B.CreateMul(G, i64(W.groupOC() * Kg))),
                    Kg, Lanes);
    }, "g");
    return perSample(S, [&](Value *R) {
      Value *DZ = rowPtr(S.In[0], R), *DX = rowPtr(S.Out, R);
      if (Direct)
        return Gemm(DZ, W.OC, W.groupOC(), false, P, W.groupOC(), Pack, Kg,
                    W.groupOC() * Kg, DX, W.C, W.groupC(), Kg, false);
      Gemm(DZ, W.OC, W.groupOC(), false, P, W.groupOC(), Pack, Kg,
           W.groupOC() * Kg, Cols, Kg, P * Kg, Kg, false);
      col2im(W, Cols, DX);
    });
  }
  case StepKind::MaxPool:
  case StepKind::AvgPool:
  case StepKind::MaxPoolGrad:
  case StepKind::AvgPoolGrad:
    return pool(S);
  case StepKind::Pad:
  case StepKind::PadGrad: {
    // Each input row of pixels to its place inside the border, or back.
    bool Fwd = S.Kind == StepKind::Pad;
    return perSample(S, [&](Value *R) {
      Value *In = rowPtr(S.In[0], R), *Out = rowPtr(S.Out, R);
      if (Fwd)
        B.CreateMemSet(Out, B.getInt8(0), W.outPixels() * W.C * 4, Align(4));
      LoopBuilder(B).counted(i64(0), i64(W.H), 1, [&](Value *H) {
        Value *Small = B.CreateMul(H, i64(W.W * W.C));
        Value *Big = B.CreateMul(
            B.CreateAdd(B.CreateMul(B.CreateAdd(H, i64(W.PadTop)), i64(W.OW)),
                        i64(W.PadLeft)),
            i64(W.C));
        Value *Dst = B.CreateGEP(Fl, Out, Fwd ? Big : Small);
        Value *Src = B.CreateGEP(Fl, In, Fwd ? Small : Big);
        B.CreateMemCpy(Dst, Align(4), Src, Align(4), W.W * W.C * 4);
      }, "h");
    });
  }
  default:
    break;
  }
  return plainError(ErrorKind::Compile,
                    "no window lowering for " + stepName(S.Kind));
}

/// Pooling and its gradient: per output pixel, over the window's taps
/// inside the image, C channels a vector at a time.
Error ProgramEmitter::pool(const Step &S) {
  const Window &W = S.Win;
  bool Max = S.Kind == StepKind::MaxPool || S.Kind == StepKind::MaxPoolGrad;
  bool Grad = S.Kind == StepKind::MaxPoolGrad || S.Kind == StepKind::AvgPoolGrad;
  Type *I64 = B.getInt64Ty();
  return perSample(S, [&](Value *R) {
    Value *In = rowPtr(S.In[0], R), *Out = rowPtr(S.Out, R);
    Value *X = Max && Grad ? rowPtr(S.In[1], R) : nullptr;
    Value *Y = Max && Grad ? rowPtr(S.In[2], R) : nullptr;
    if (Grad)
      B.CreateMemSet(Out, B.getInt8(0), W.inPixels() * W.C * 4, Align(4));
    forPixels(W, [&](Value *Oh, Value *Ow, Value *Pix) {
      // The taps inside: a pooling window is not dilated, so a range.
      Value *Count = accumulator(I64, i64(0));
      forTaps(W, Oh, Ow, [&](Value *, Value *) {
        B.CreateStore(B.CreateAdd(B.CreateLoad(I64, Count), i64(1)), Count);
      });
      Value *N = B.CreateUIToFP(B.CreateLoad(I64, Count), Fl);
      Value *At = B.CreateMul(Pix, i64(W.C));
      LoopBuilder(B).chunks(W.C, Lanes, [&](Value *J, Value *Mask) {
        Value *Col = B.CreateAdd(At, J);
        if (!Grad) {
          Value *Acc = accumulator(VT, splatF(Lanes, Max ? -INFINITY : 0.0));
          forTaps(W, Oh, Ow, [&](Value *InPix, Value *) {
            Value *V = load(In, B.CreateAdd(B.CreateMul(InPix, i64(W.C)), J), Mask);
            accumulate(Acc, V, Max ? Intrinsic::maximum : Intrinsic::not_intrinsic);
          });
          Value *V = B.CreateLoad(VT, Acc);
          store(Max ? V : B.CreateFDiv(V, splat(Lanes, N)), Out, Col, Mask);
          return;
        }
        Value *DY = load(In, Col, Mask);
        Value *Share = Max ? DY : B.CreateFDiv(DY, splat(Lanes, N));
        Value *YV = Max ? load(Y, Col, Mask) : nullptr;
        // Max: the first tap equal to the max takes the gradient.
        Type *MT = FixedVectorType::get(B.getInt1Ty(), Lanes);
        Value *Pending = accumulator(MT, Constant::getAllOnesValue(MT));
        forTaps(W, Oh, Ow, [&](Value *InPix, Value *) {
          Value *Pos = B.CreateAdd(B.CreateMul(InPix, i64(W.C)), J);
          Value *Add = Share;
          if (Max) {
            Value *Wait = B.CreateLoad(MT, Pending);
            Value *Hit = B.CreateAnd(B.CreateFCmpOEQ(load(X, Pos, Mask), YV), Wait);
            B.CreateStore(B.CreateAnd(Wait, B.CreateNot(Hit)), Pending);
            Add = B.CreateSelect(Hit, Share, splatF(Lanes, 0));
          }
          store(B.CreateFAdd(load(Out, Pos, Mask), Add), Out, Pos, Mask);
        });
      });
    });
  });
}

} // namespace netjit
