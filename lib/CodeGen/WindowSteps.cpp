// WindowSteps.cpp - the steps over images (Step::Win), sample by sample so
// that each sample's row-wise epilogue runs while it is in cache. A
// convolution and its weight gradient are implicit GEMMs per sample and
// group: the micro-kernel reads the image (a padded copy where the window
// leaves it) through tables of offsets instead of an im2col buffer; the
// input gradient is a GEMM that adds onto the pixels through the same
// tables (into im2col rows for col2im where the window reaches padding).
// Pooling and zero padding are loops over pixels, vectorized over channels.
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

/// An input gradient whose GEMM adds its products onto the pixels itself
/// (through the forward step's offset tables) instead of into im2col rows
/// for col2im: every tap is inside the image, and a vector of a tap's
/// channels stays whole. col2im was about a fifth of the 3x3 32 -> 64
/// layer's input gradient (docs/performance.md).
bool scatters(const Window &W, unsigned Lanes) {
  return !W.padded() && W.groupC() % Lanes == 0;
}

/// A convolution whose im2col buffer would be the image itself.
bool direct(const Window &W) {
  return W.taps() == 1 && W.SH == 1 && W.SW == 1 && !W.padded();
}

/// A depthwise convolution, one input channel and one filter per group:
/// as GEMMs it is one per channel with a single column (5, 4 and 2 GFLOP/s
/// forward, weight and input gradient for a 3x3 one over 28x28x32), so it
/// runs as loops over pixels and taps instead, vectorized over the
/// channels (44, 31 and 23 GFLOP/s; docs/performance.md).
bool depthwise(const Window &W) {
  return W.groupC() == 1 && W.groupOC() == 1;
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
  // Without padding every tap is inside: no tests.
  auto IfInside = [&](Value *I, int64_t N, function_ref<void()> Then) {
    if (W.padded())
      ifThen(B, Inside(I, N), Then);
    else
      Then();
  };
  Loop.counted(i64(0), i64(W.KH), 1, [&](Value *Kh) {
    Value *Ih = B.CreateAdd(H0, B.CreateMul(Kh, i64(W.DH)));
    IfInside(Ih, W.H, [&] {
      Loop.counted(i64(0), i64(W.KW), 1, [&](Value *Kw) {
        Value *Iw = B.CreateAdd(W0, B.CreateMul(Kw, i64(W.DW)));
        IfInside(Iw, W.W, [&] {
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

/// Copies an H x W image of C channels between Small and its place inside
/// a BigW-wide one (ToBig: Small into Big at row Top, column Left; else
/// back). A padded copy, a padding step, or its gradient.
void ProgramEmitter::placeRows(const Window &W, Value *Small, Value *Big,
                               int64_t BigW, bool ToBig) {
  LoopBuilder(B).counted(i64(0), i64(W.H), 1, [&](Value *H) {
    Value *S = B.CreateGEP(Fl, Small, B.CreateMul(H, i64(W.W * W.C)));
    Value *At = B.CreateAdd(B.CreateMul(B.CreateAdd(H, i64(W.PadTop)), i64(BigW)),
                            i64(W.PadLeft));
    Value *L = B.CreateGEP(Fl, Big, B.CreateMul(At, i64(W.C)));
    B.CreateMemCpy(ToBig ? L : S, Align(4), ToBig ? S : L, Align(4),
                   W.W * W.C * 4);
  }, "h");
}

/// A constant i64 table of the module (an implicit GEMM's offsets).
Value *ProgramEmitter::table(ArrayRef<int64_t> Values, const Twine &Name) {
  Constant *Init = ConstantDataArray::get(M.getContext(), Values);
  return new GlobalVariable(M, Init->getType(), true,
                            GlobalValue::PrivateLinkage, Init, Prefix + Name);
}

/// A convolution as an implicit GEMM over the (padded) image: the row
/// of output pixel p starts at Rows[p], and column k = (kh, kw, c) of its
/// im2col row is Cols[k] floats after it.
void ProgramEmitter::convTables(const Window &W, Value *&Rows, Value *&Cols) {
  int64_t Ws = W.padded() ? W.paddedW() : W.W;
  std::vector<int64_t> R, C;
  for (int64_t Oh = 0; Oh < W.OH; ++Oh)
    for (int64_t Ow = 0; Ow < W.OW; ++Ow)
      R.push_back((Oh * W.SH * Ws + Ow * W.SW) * W.C);
  for (int64_t Kh = 0; Kh < W.KH; ++Kh)
    for (int64_t Kw = 0; Kw < W.KW; ++Kw)
      for (int64_t Ch = 0; Ch < W.groupC(); ++Ch)
        C.push_back((Kh * W.DH * Ws + Kw * W.DW) * W.C + Ch);
  Rows = table(R, ".conv.rows");
  Cols = table(C, ".conv.cols");
}

/// One sample's image as the implicit GEMM reads it: X itself, or a
/// copy inside its border of zeros in Buf.
Value *ProgramEmitter::convSource(const Window &W, Value *X, Value *Buf) {
  if (!W.padded())
    return X;
  B.CreateMemSet(Buf, B.getInt8(0), W.paddedH() * W.paddedW() * W.C * 4,
                 Align(4));
  placeRows(W, X, Buf, W.paddedW(), true);
  return Buf;
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

/// What a window step computes once per call, before its loop over the
/// samples: an implicit GEMM's offset tables, the packed W^T.
struct ProgramEmitter::WindowPlan {
  Value *Rows = nullptr, *Cols = nullptr;
};

ProgramEmitter::WindowPlan ProgramEmitter::windowPlan(const Step &S) {
  const Window &W = S.Win;
  WindowPlan Plan;
  if (depthwise(W))
    return Plan;
  if (((S.Kind == StepKind::Conv || S.Kind == StepKind::ConvGradWeight) ||
       (S.Kind == StepKind::ConvGradInput && scatters(W, Lanes))) &&
      !direct(W))
    convTables(W, Plan.Rows, Plan.Cols);
  if (S.Kind == StepKind::ConvGradInput) {
    // Each group's kernel [taps x group channels, group filters] transposed,
    // once per step, so the GEMM reads its rows as whole vectors.
    int64_t Kg = W.taps() * W.groupC();
    Value *Wt = ptr(S.In[1]), *Pack = ptr(S.In[2]);
    LoopBuilder(B).counted(i64(0), i64(W.Groups), 1, [&](Value *G) {
      emitTranspose(B, B.CreateGEP(Fl, Wt, B.CreateMul(G, i64(W.groupOC()))),
                    W.OC, i64(Kg), i64(W.groupOC()),
                    B.CreateGEP(Fl, Pack, B.CreateMul(G, i64(W.groupOC() * Kg))),
                    Kg, Lanes);
    }, "g");
  }
  return Plan;
}

/// A window step and the per-sample steps fused after it (fuse-epilogues:
/// row-wise ones and further window steps) in one loop over the part's
/// samples, so each sample's values pass from step to step in cache.
Error ProgramEmitter::windowStep(const Step &S) {
  std::vector<const Step *> Steps = {&S};
  for (const Step &E : S.Epilogue)
    Steps.push_back(&E);
  std::vector<WindowPlan> Plans;
  for (const Step *T : Steps)
    Plans.push_back(stepInfo(T->Kind).Rows == RowsProducer::Samples
                        ? windowPlan(*T)
                        : WindowPlan());
  Error E = Error::success();
  LoopBuilder(B).counted(i64(0), Fr.Batch, 1, [&](Value *R) {
    for (size_t I = 0; I < Steps.size() && !E; ++I)
      E = stepInfo(Steps[I]->Kind).Rows == RowsProducer::Samples
              ? windowSample(*Steps[I], Plans[I], R)
              : rowStep(*Steps[I], R);
  }, "n");
  return E;
}

/// One sample (row R) of a window step.
Error ProgramEmitter::windowSample(const Step &S, const WindowPlan &Plan,
                                   Value *R) {
  const Window &W = S.Win;
  int64_t Kg = W.taps() * W.groupC(), P = W.outPixels();
  bool Direct = direct(W);
  // Per group: a [M x K] A, [K x N] B and [M x N] C, each group's columns
  // of them Step floats after the previous group's.
  struct Operand {
    Value *Base;
    int64_t Ld, Step;
  };
  using FinishFn = function_ref<Value *(Value *G, Value *Acc, Value *Col,
                                        Value *Mask)>;
  auto Gemm = [&](Operand A, Operand Bm, Operand C, int64_t M, int64_t K,
                  int64_t N, bool TransA, bool Acc, Value *MOff, Value *KOff,
                  FinishFn Finish = nullptr, Value *CMOff = nullptr,
                  Value *CNOff = nullptr) {
    LoopBuilder(B).counted(i64(0), i64(W.Groups), 1, [&](Value *G) {
      auto GroupFinish = [&](Value *Acc, Value *Col, Value *Mask) {
        return Finish(G, Acc, Col, Mask);
      };
      GemmOperands Ops;
      Ops.A = B.CreateGEP(Fl, A.Base, B.CreateMul(G, i64(A.Step)));
      Ops.B = B.CreateGEP(Fl, Bm.Base, B.CreateMul(G, i64(Bm.Step)));
      Ops.C = B.CreateGEP(Fl, C.Base, B.CreateMul(G, i64(C.Step)));
      Ops.Lda = A.Ld;
      Ops.Ldb = Bm.Ld;
      Ops.Ldc = C.Ld;
      Ops.TransA = TransA;
      Ops.M = i64(M);
      Ops.K = i64(K);
      Ops.MHint = M;
      Ops.N = N;
      Ops.Accumulate = Acc;
      Ops.MOff = MOff;
      Ops.KOff = KOff;
      Ops.CMOff = CMOff;
      Ops.CNOff = CNOff;
      if (Finish)
        Ops.Finish = GroupFinish;
      emitGemm(B, Ops, Lanes, [](Value *, Value *) {});
    }, "g");
  };
  switch (S.Kind) {
  case StepKind::Conv: {
    // conv-epilogue: the bias (In[3], if any) and the activation applied
    // to the accumulators before they are stored.
    Error Err = Error::success();
    auto Finish = [&](Value *Grp, Value *Acc, Value *Col, Value *Mask) {
      Value *Z = Acc;
      if (S.In.size() > 3) {
        Value *At = B.CreateGEP(
            Fl, ptr(S.In[3]),
            B.CreateAdd(B.CreateMul(Grp, i64(W.groupOC())), Col));
        Z = B.CreateFAdd(
            Z, Mask ? (Value *)B.CreateMaskedLoad(VT, At, Align(4), Mask,
                                                  ConstantFP::get(VT, 0.0))
                    : B.CreateAlignedLoad(VT, At, Align(4)));
      }
      if (S.Act < 0)
        return Z;
      SmallVector<InStream, 1> None; // a folded activation has no streams
      ParamPlan P = params(G.activation(S.Act), Lanes, None);
      auto Y = Codes[S.Act]->forward(B, VMLane, Lanes, Z, P.Splats);
      if (!Y) {
        Err = joinErrors(std::move(Err), Y.takeError());
        return Z;
      }
      return *Y;
    };
    bool Finishes = S.In.size() > 3 || S.Act >= 0;
    if (depthwise(W)) {
      depthwiseSample(S, R, [&](Value *Acc, Value *Col, Value *Mask) {
        return Finishes ? Finish(i64(0), Acc, Col, Mask) : Acc;
      });
      return Err;
    }
    // Z[p][oc] = sum over k of X(p, k) W[k][oc]: an implicit GEMM over the
    // image (X itself for an unpadded 1x1 kernel of stride 1).
    Value *X = convSource(W, rowPtr(S.In[0], R), ptr(S.In[2]));
    Gemm({X, W.C, W.groupC()}, {ptr(S.In[1]), W.OC, W.groupOC()},
         {rowPtr(S.Out, R), W.OC, W.groupOC()}, P, Kg, W.groupOC(), false,
         false, Plan.Rows, Plan.Cols, Finishes ? FinishFn(Finish) : FinishFn());
    return Err;
  }
  case StepKind::ConvGradWeight: {
    if (depthwise(W)) {
      depthwiseSample(S, R, nullptr);
      return Error::success();
    }
    // dW[k][oc] += sum over p of X(p, k) dZ[p][oc], sample by sample.
    Value *X = convSource(W, rowPtr(S.In[0], R), ptr(S.In[2]));
    Gemm({X, W.C, W.groupC()}, {rowPtr(S.In[1], R), W.OC, W.groupOC()},
         {ptr(S.Out), W.OC, W.groupOC()}, Kg, P, W.groupOC(), Direct, true,
         Plan.Cols, Plan.Rows);
    return Error::success();
  }
  case StepKind::ConvGradInput: {
    // dcols[p][k] = sum over oc of dZ[p][oc] W^T[oc][k], per group; then
    // each tap's share added onto its pixel.
    if (depthwise(W)) {
      depthwiseSample(S, R, nullptr);
      return Error::success();
    }
    Value *DZ = rowPtr(S.In[0], R), *DX = rowPtr(S.Out, R);
    Operand A{DZ, W.OC, W.groupOC()}, Pack{ptr(S.In[2]), Kg, W.groupOC() * Kg};
    if (Direct) {
      Gemm(A, Pack, {DX, W.C, W.groupC()}, P, W.groupOC(), Kg, false, false,
           nullptr, nullptr);
      return Error::success();
    }
    if (scatters(W, Lanes)) {
      B.CreateMemSet(DX, B.getInt8(0), W.inPixels() * W.C * 4, Align(4));
      Gemm(A, Pack, {DX, 0, W.groupC()}, P, W.groupOC(), Kg, false, true,
           nullptr, nullptr, nullptr, Plan.Rows, Plan.Cols);
      return Error::success();
    }
    Value *Cols = ptr(S.In[3]);
    Gemm(A, Pack, {Cols, Kg, P * Kg}, P, W.groupOC(), Kg, false, false,
         nullptr, nullptr);
    col2im(W, Cols, DX);
    return Error::success();
  }
  case StepKind::MaxPool:
  case StepKind::AvgPool:
  case StepKind::MaxPoolGrad:
  case StepKind::AvgPoolGrad:
    return poolSample(S, R);
  case StepKind::Pad:
  case StepKind::PadGrad: {
    // Each input row of pixels to its place inside the border, or back.
    bool Fwd = S.Kind == StepKind::Pad;
    Value *In = rowPtr(S.In[0], R), *Out = rowPtr(S.Out, R);
    if (Fwd)
      B.CreateMemSet(Out, B.getInt8(0), W.outPixels() * W.C * 4, Align(4));
    placeRows(W, Fwd ? In : Out, Fwd ? Out : In, W.OW, Fwd);
    return Error::success();
  }
  default:
    break;
  }
  return plainError(ErrorKind::Compile,
                    "no window lowering for " + stepName(S.Kind));
}

/// One sample of a depthwise convolution (channel c's filter reads channel
/// c alone), its weight gradient or its input gradient, per output pixel
/// and tap inside the image (no padded copy), C channels a vector at a
/// time: y = Finish(sum over taps of x W), dW += x dz, dx += dz W.
void ProgramEmitter::depthwiseSample(
    const Step &S, Value *R,
    function_ref<Value *(Value *Acc, Value *Col, Value *Mask)> Finish) {
  const Window &W = S.Win;
  Value *Kernel = nullptr, *X = nullptr, *DZ = nullptr, *Out = nullptr;
  switch (S.Kind) {
  case StepKind::Conv:
    X = rowPtr(S.In[0], R), Kernel = ptr(S.In[1]), Out = rowPtr(S.Out, R);
    break;
  case StepKind::ConvGradWeight:
    X = rowPtr(S.In[0], R), DZ = rowPtr(S.In[1], R), Out = ptr(S.Out);
    break;
  default: // ConvGradInput
    DZ = rowPtr(S.In[0], R), Kernel = ptr(S.In[1]), Out = rowPtr(S.Out, R);
    B.CreateMemSet(Out, B.getInt8(0), W.inPixels() * W.C * 4, Align(4));
    break;
  }
  auto At = [&](Value *Pixel, Value *J) {
    return B.CreateAdd(B.CreateMul(Pixel, i64(W.C)), J);
  };
  auto Fma = [&](Value *A, Value *Bv, Value *C) {
    return B.CreateIntrinsic(Intrinsic::fma, {VT}, {A, Bv, C});
  };
  forPixels(W, [&](Value *Oh, Value *Ow, Value *Pix) {
    LoopBuilder(B).chunks(W.C, Lanes, [&](Value *J, Value *Mask) {
      Value *Acc = S.Kind == StepKind::Conv
                       ? accumulator(VT, splatF(Lanes, 0))
                       : nullptr;
      Value *D = DZ ? load(DZ, At(Pix, J), Mask) : nullptr;
      forTaps(W, Oh, Ow, [&](Value *InPix, Value *Tap) {
        Value *In = At(InPix, J), *K = At(Tap, J);
        if (S.Kind == StepKind::Conv)
          B.CreateStore(Fma(load(X, In, Mask), load(Kernel, K, Mask),
                            B.CreateLoad(VT, Acc)),
                        Acc);
        else if (S.Kind == StepKind::ConvGradWeight)
          store(Fma(load(X, In, Mask), D, load(Out, K, Mask)), Out, K, Mask);
        else
          store(Fma(D, load(Kernel, K, Mask), load(Out, In, Mask)), Out, In,
                Mask);
      });
      if (Acc)
        store(Finish(B.CreateLoad(VT, Acc), J, Mask), Out, At(Pix, J), Mask);
    });
  });
}

/// Pooling and its gradient: per output pixel, over the window's taps
/// inside the image, C channels a vector at a time. A gradient with a
/// folded derivative (pool-grad-act) multiplies each value it writes by
/// f'(z) there.
Error ProgramEmitter::poolSample(const Step &S, Value *R) {
  const Window &W = S.Win;
  bool Max = S.Kind == StepKind::MaxPool || S.Kind == StepKind::MaxPoolGrad;
  bool Grad = S.Kind == StepKind::MaxPoolGrad || S.Kind == StepKind::AvgPoolGrad;
  Type *I64 = B.getInt64Ty();
  Value *In = rowPtr(S.In[0], R), *Out = rowPtr(S.Out, R);
  // Max pooling's argmax: written by the training forward, read by the
  // gradient (as floats: tap indices are small integers).
  Value *Arg = !Max ? nullptr
               : Grad ? rowPtr(S.In[1], R)
               : S.Out2 >= 0 ? rowPtr(S.Out2, R)
                             : nullptr;
  auto TapF = [&](Value *Tap) { return splat(Lanes, B.CreateUIToFP(Tap, Fl)); };
  // Windows that do not overlap write each tap of the gradient once (no
  // sum), and where they also tile the image nothing is left to clear.
  bool Disjoint = W.disjoint();
  bool Tiled = Disjoint && W.SH == W.KH && W.SW == W.KW &&
               W.OH * W.SH == W.H && W.OW * W.SW == W.W;
  if (Grad && !Tiled)
    B.CreateMemSet(Out, B.getInt8(0), W.inPixels() * W.C * 4, Align(4));
  // The folded derivative at input position Pos: f'(z) stored, or from
  // y (and z where its form in y still reads it).
  Error Err = Error::success();
  const NetActivation *A = S.Act >= 0 ? &G.activation(S.Act) : nullptr;
  SmallVector<InStream, 1> None; // no trained parameters (pool-grad-act)
  ParamPlan P = A ? params(*A, Lanes, None) : ParamPlan();
  auto Derivative = [&](Value *Pos, Value *Mask) -> Value * {
    auto Operand = [&](int I) { return load(rowPtr(S.In[S.DerivIn + I], R), Pos, Mask); };
    if (!A)
      return Operand(0);
    auto D = Codes[S.Act]->derivative(B, VMLane, Lanes,
                                      A->Forms.yFormReadsX() ? Operand(1) : nullptr,
                                      Operand(0), P.Splats);
    if (!D) {
      Err = joinErrors(std::move(Err), D.takeError());
      return splatF(Lanes, 0);
    }
    return *D;
  };
  forPixels(W, [&](Value *Oh, Value *Ow, Value *Pix) {
    // The taps inside (all of them without padding).
    Value *N = f32(W.taps());
    if (W.padded()) {
      Value *Count = accumulator(I64, i64(0));
      forTaps(W, Oh, Ow, [&](Value *, Value *) {
        B.CreateStore(B.CreateAdd(B.CreateLoad(I64, Count), i64(1)), Count);
      });
      N = B.CreateUIToFP(B.CreateLoad(I64, Count), Fl);
    }
    Value *At = B.CreateMul(Pix, i64(W.C));
    LoopBuilder(B).chunks(W.C, Lanes, [&](Value *J, Value *Mask) {
      Value *Col = B.CreateAdd(At, J);
      if (!Grad) {
        // With the argmax (training): the first tap above every one before
        // it, or the first tap at all (a window of -inf); a NaN's window
        // keeps the tap before it.
        Value *Acc = accumulator(VT, splatF(Lanes, Max ? -INFINITY : 0.0));
        Value *Idx = Arg ? accumulator(VT, splatF(Lanes, -1)) : nullptr;
        forTaps(W, Oh, Ow, [&](Value *InPix, Value *Tap) {
          Value *V = load(In, B.CreateAdd(B.CreateMul(InPix, i64(W.C)), J), Mask);
          if (Idx) {
            Value *Old = B.CreateLoad(VT, Idx);
            Value *Take = B.CreateOr(B.CreateFCmpOGT(V, B.CreateLoad(VT, Acc)),
                                     B.CreateFCmpOLT(Old, splatF(Lanes, 0)));
            B.CreateStore(B.CreateSelect(Take, TapF(Tap), Old), Idx);
          }
          accumulate(Acc, V, Max ? Intrinsic::maximum : Intrinsic::not_intrinsic);
        });
        Value *V = B.CreateLoad(VT, Acc);
        store(Max ? V : B.CreateFDiv(V, splat(Lanes, N)), Out, Col, Mask);
        if (Idx)
          store(B.CreateLoad(VT, Idx), Arg, Col, Mask);
        return;
      }
      Value *DY = load(In, Col, Mask);
      Value *Share = Max ? DY : B.CreateFDiv(DY, splat(Lanes, N));
      // The max's f', from the pool's output (pool-grad-act).
      if (S.DerivAtMax)
        Share = B.CreateFMul(Share, Derivative(Col, Mask));
      Value *ArgV = Max ? load(Arg, Col, Mask) : nullptr;
      forTaps(W, Oh, Ow, [&](Value *InPix, Value *Tap) {
        Value *Pos = B.CreateAdd(B.CreateMul(InPix, i64(W.C)), J);
        Value *Add = Share;
        if (Max)
          Add = B.CreateSelect(B.CreateFCmpOEQ(ArgV, TapF(Tap)), Share,
                               splatF(Lanes, 0));
        if (S.DerivIn >= 0 && !S.DerivAtMax) // disjoint: the one write
          Add = B.CreateFMul(Add, Derivative(Pos, Mask));
        store(Disjoint ? Add : B.CreateFAdd(load(Out, Pos, Mask), Add), Out,
              Pos, Mask);
      });
    });
  });
  return Err;
}

} // namespace netjit
