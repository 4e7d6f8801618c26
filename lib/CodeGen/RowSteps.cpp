// RowSteps.cpp - the row-wise steps of the training program, each one
// row's loop over its columns: bias, activations and their derivatives,
// column sums, dropout, softmax; and the functions that run them over a
// block of rows (a GEMM's epilogue).
#include "netjit/CodeGen/ProgramEmitter.h"

#include "netjit/Support/Diagnostics.h"
#include <cmath>

using namespace llvm;

namespace netjit {

namespace {

using Vals = SmallVector<Value *, 2>;

/// One row's loop over N columns: the streams a step reads and writes (it
/// fills them in), and the body's lanes holding elements.
struct RowLoop {
  RowLoop(IRBuilder<> &B, unsigned L, int64_t N) : B(B), L(L), N(N) {}
  IRBuilder<> &B;
  unsigned L;
  int64_t N;
  SmallVector<InStream, 6> Ins;
  SmallVector<Value *, 2> Outs;
  Value *Live = nullptr;
  Error run(ComputeFn C) {
    return LoopBuilder(B).streams(B.getInt64(N), L, Ins, Outs, C, &Live);
  }
};

/// murmur3's finalizer: every input bit flips each output bit with
/// probability about 1/2.
static Value *mix32(IRBuilder<> &B, Value *H) {
  auto C = [&](uint32_t K) -> Value * {
    Value *S = B.getInt32(K);
    if (auto *VT = dyn_cast<FixedVectorType>(H->getType()))
      return B.CreateVectorSplat(VT->getNumElements(), S);
    return S;
  };
  H = B.CreateXor(H, B.CreateLShr(H, C(16)));
  H = B.CreateMul(H, C(0x85ebca6b));
  H = B.CreateXor(H, B.CreateLShr(H, C(13)));
  H = B.CreateMul(H, C(0xc2b2ae35));
  return B.CreateXor(H, B.CreateLShr(H, C(16)));
}

} // namespace

ParamLanes ProgramEmitter::ParamPlan::bind(LoadFn In) const {
  ParamLanes P = Splats;
  for (auto &[N, K] : Streams)
    P[N] = In(K);
  return P;
}

ProgramEmitter::ParamPlan
ProgramEmitter::params(const NetActivation &A, unsigned N,
                       SmallVectorImpl<InStream> &Ins) {
  ParamPlan P;
  for (auto &[Name, V] : A.Fixed)
    P.Splats[Name] = splatF(N, V);
  for (auto &[Name, Index] : A.Trained) {
    int Tensor = T.paramTensor(Index);
    if (cols(Tensor) == 1) {
      P.Splats[Name] = splat(N, B.CreateLoad(Fl, ptr(Tensor), Name));
    } else {
      P.Streams.push_back({Name, (unsigned)Ins.size()});
      Ins.push_back({ptr(Tensor)});
    }
  }
  return P;
}

/// Dropout's key for one row: a hash of (seed, step, layer, row), so the
/// backward pass regenerates the forward pass's mask instead of storing it.
Value *ProgramEmitter::dropoutKey(const Step &S, Value *Row) {
  Type *I32 = B.getInt32Ty();
  Value *Step = B.CreateTrunc(
      B.CreateLoad(B.getInt64Ty(), header(HeaderWord::Step)), I32);
  Value *Seed = B.CreateLoad(B.getInt64Ty(), header(HeaderWord::Seed));
  Value *Key = B.CreateXor(B.CreateTrunc(Seed, I32),
                           B.CreateTrunc(B.CreateLShr(Seed, 32), I32));
  Key = mix32(B, B.CreateXor(Key, streamKey(S.Layer)));
  Key = mix32(B, B.CreateXor(Key, Step));
  // The row within the whole batch: the mask does not depend on how the
  // batch is split between threads.
  Row = B.CreateAdd(Row, Fr.Row0);
  return mix32(B, B.CreateXor(Key, B.CreateTrunc(Row, I32)));
}

/// 1 / (1 - rate) where column j's hash of Key lands at or above rate, else 0.
Value *ProgramEmitter::dropoutScale(const Step &S, Value *Key, Value *ColIdx) {
  Type *I32V = VectorType::get(B.getInt32Ty(), L, false);
  Value *H = mix32(B, B.CreateXor(splat(L, Key), B.CreateFPToUI(ColIdx, I32V)));
  // The top 24 bits as a float in [0, 1).
  Value *U =
      B.CreateFMul(B.CreateUIToFP(B.CreateLShr(H, splat(L, B.getInt32(8))),
                                  VectorType::get(Fl, L, false)),
                   splatF(L, 1.0 / (1 << 24)));
  return B.CreateSelect(B.CreateFCmpOGE(U, splatF(L, S.Rate)),
                        splatF(L, 1.0 / (1.0 - S.Rate)), splatF(L, 0.0));
}

/// Column indices 0..N-1 as floats (exact below 2^24 columns), read like
/// data by the loops that need a lane's column; one array per width.
GlobalVariable *ProgramEmitter::columnIndices(int64_t N) {
  std::string Name = "netjit.columns." + std::to_string(N);
  if (GlobalVariable *G = M.getGlobalVariable(Name, true))
    return G;
  std::vector<float> Iota(N);
  for (int64_t J = 0; J < N; ++J)
    Iota[J] = J;
  auto *Init = ConstantDataArray::get(M.getContext(), ArrayRef(Iota));
  return new GlobalVariable(M, Init->getType(), true,
                            GlobalValue::PrivateLinkage, Init, Name);
}

/// One row of a step that applies an activation: f (act), f and f'
/// (act_with_grad), or adds dy df/dp to a parameter's gradient.
Error ProgramEmitter::activationRow(const Step &S, Value *Row) {
  const ActivationCode &Code = *Codes[S.Act];
  if (S.Kind == StepKind::ActParamGrad) {
    RowLoop R{B, L, cols(S.In[0])};
    R.Ins = {{ptr(S.Out)}, {rowPtr(S.In[0], Row)}, {rowPtr(S.In[1], Row)}};
    ParamPlan P = params(G.activation(S.Act), L, R.Ins);
    R.Outs = {ptr(S.Out)};
    return R.run([&](LoadFn In) -> Expected<Vals> {
      auto D = Code.paramDerivative(B, VMRow, L, S.Param, In(2), P.bind(In));
      if (!D)
        return D.takeError();
      return Vals{B.CreateFAdd(In(0), B.CreateFMul(In(1), *D))};
    });
  }
  RowLoop R{B, L, cols(S.Out)};
  R.Ins = {{rowPtr(S.In[0], Row)}};
  ParamPlan P = params(G.activation(S.Act), L, R.Ins);
  R.Outs = {rowPtr(S.Out, Row)};
  if (S.Kind == StepKind::Act)
    return R.run([&](LoadFn In) -> Expected<Vals> {
      auto Y = Code.forward(B, VMRow, L, In(0), P.bind(In));
      if (!Y)
        return Y.takeError();
      return Vals{*Y};
    });
  R.Outs.push_back(rowPtr(S.Out2, Row));
  return R.run([&](LoadFn In) -> Expected<Vals> {
    auto YD = Code.fused(B, VMRow, L, In(0), P.bind(In));
    if (!YD)
      return YD.takeError();
    return Vals{YD->first, YD->second};
  });
}

/// dz = dy f'(z), f' computed here (act_grad) or stored by the forward
/// pass (mul). With diagnostics (S.Stat), the same loop counts the
/// saturated lanes and keeps each unit's max |f'| in S.Out2.
Error ProgramEmitter::gradientRow(const Step &S, Value *Row) {
  RowLoop R{B, L, cols(S.Out)};
  R.Ins = {{rowPtr(S.In[0], Row)}, {rowPtr(S.In[1], Row)}};
  ParamPlan P;
  bool ReadsX = false;
  if (S.Kind == StepKind::ActGrad) {
    const NetActivation &A = G.activation(S.Act);
    if ((ReadsX = A.Forms.yFormReadsX()))
      R.Ins.push_back({rowPtr(S.In[2], Row)});
    P = params(A, L, R.Ins);
  }
  R.Outs = {rowPtr(S.Out, Row)};
  Value *Saturated = nullptr;
  unsigned MaxIn = R.Ins.size();
  if (S.Stat >= 0) {
    R.Ins.push_back({ptr(S.Out2)});
    R.Outs.push_back(ptr(S.Out2));
    Saturated = accumulator(FixedVectorType::get(Fl, L), splatF(L, 0));
  }
  if (Error E = R.run([&](LoadFn In) -> Expected<Vals> {
        Value *D = In(1);
        if (S.Kind == StepKind::ActGrad) {
          auto DA =
              Codes[S.Act]->derivative(B, VMRow, L, ReadsX ? In(2) : nullptr,
                                       In(1), P.bind(In));
          if (!DA)
            return DA.takeError();
          D = *DA;
        }
        Vals Res{B.CreateFMul(In(0), D)};
        if (Saturated) {
          Value *A = B.CreateUnaryIntrinsic(Intrinsic::fabs, D);
          Value *Sat = B.CreateAnd(
              B.CreateFCmpOLT(A, splatF(L, SaturationThreshold)), R.Live);
          accumulate(Saturated,
                     B.CreateSelect(Sat, splatF(L, 1), splatF(L, 0)));
          Res.push_back(
              B.CreateBinaryIntrinsic(Intrinsic::maxnum, In(MaxIn), A));
        }
        return Res;
      }))
    return E;
  if (Saturated)
    addStat(S.Stat, reduceAdd(Saturated, L));
  return Error::success();
}

/// One row of softmax or log-softmax, in three passes over its columns:
/// the max, the sum of exponentials (stored for softmax), the result.
Error ProgramEmitter::softmaxRow(const Step &S, Value *Row) {
  int64_t N = cols(S.Out);
  LoopBuilder Loop(B);
  Value *X = rowPtr(S.In[0], Row), *Y = rowPtr(S.Out, Row);
  Value *VMax = accumulator(VT, splatF(Lanes, -INFINITY));
  Loop.chunks(N, Lanes, [&](Value *J, Value *Mask) {
    accumulate(VMax, load(X, J, Mask, -INFINITY), Intrinsic::maxnum);
  });
  Value *Max = splat(Lanes, reduceMax(VMax));
  Value *VSum = accumulator(VT, splatF(Lanes, 0));
  Loop.chunks(N, Lanes, [&](Value *J, Value *Mask) {
    Value *E = VMLane.call(B, Op::Exp, B.CreateFSub(load(X, J, Mask), Max));
    if (Mask)
      E = B.CreateSelect(Mask, E, splatF(Lanes, 0));
    accumulate(VSum, E);
    if (S.Kind == StepKind::Softmax)
      store(E, Y, J, Mask);
  });
  Value *Sum = reduceAdd(VSum);
  Value *Inv = splat(Lanes, B.CreateFDiv(f32(1), Sum));
  Value *Lse = splat(Lanes, scalarLog(Sum));
  Loop.chunks(N, Lanes, [&](Value *J, Value *Mask) {
    if (S.Kind == StepKind::Softmax)
      store(B.CreateFMul(load(Y, J, Mask), Inv), Y, J, Mask);
    else
      store(B.CreateFSub(B.CreateFSub(load(X, J, Mask), Max), Lse), Y, J, Mask);
  });
  return Error::success();
}

/// Body(pixel's first column, channel vector) for each pixel of a row of
/// Image whose columns are pixels of PerChannel's width (one pixel for a
/// dense layer's row).
Error ProgramEmitter::perPixel(int Image, int PerChannel, Value *Row,
                               function_ref<Error(Value *, Value *)> Body) {
  int64_t C = cols(PerChannel), Pixels = cols(Image) / C;
  Value *At = rowPtr(Image, Row), *V = ptr(PerChannel);
  if (Pixels == 1)
    return Body(At, V);
  Error E = Error::success();
  LoopBuilder(B).counted(i64(0), i64(Pixels), 1, [&](Value *P) {
    if (!E)
      E = Body(B.CreateGEP(Fl, At, B.CreateMul(P, i64(C))), V);
  }, "px");
  return E;
}

/// Sums[c] += the sum over a row of Image's pixels of channel c, in
/// registers: U pixels at a time into U x V accumulators (V vectors of
/// channels), so that no add waits on another or on a store. (Added into
/// Sums pixel by pixel, the 26x26x32 bias gradient of the Fashion-MNIST
/// CNN took 2.7% of its step.)
Error ProgramEmitter::channelSums(int Image, int Sums, Value *Row) {
  int64_t C = cols(Sums), Pixels = cols(Image) / C;
  int64_t V = (C + Lanes - 1) / Lanes, U = std::max<int64_t>(1, std::min<int64_t>(4, 16 / V));
  Value *At = rowPtr(Image, Row), *Sum = ptr(Sums);
  auto Mask = [&](int64_t J) -> Value * {
    return J + 1 == V && C % Lanes ? prefixMask(B, Lanes, C % Lanes) : nullptr;
  };
  std::vector<Value *> Acc;
  for (int64_t I = 0; I < U * V; ++I)
    Acc.push_back(accumulator(VT, splatF(Lanes, 0)));
  auto Add = [&](Value *P, int64_t Slot) {
    Value *Pix = B.CreateMul(P, i64(C));
    for (int64_t J = 0; J < V; ++J)
      accumulate(Acc[Slot * V + J],
                 load(At, B.CreateAdd(Pix, i64(J * Lanes)), Mask(J)));
  };
  LoopBuilder Loop(B);
  int64_t Full = Pixels / U * U;
  Loop.counted(i64(0), i64(Full), U, [&](Value *P) {
    for (int64_t Slot = 0; Slot < U; ++Slot)
      Add(B.CreateAdd(P, i64(Slot)), Slot);
  }, "px");
  if (Full < Pixels)
    Loop.counted(i64(Full), i64(Pixels), 1, [&](Value *P) { Add(P, 0); }, "pr");
  for (int64_t J = 0; J < V; ++J) {
    Value *Total = B.CreateLoad(VT, Acc[J]);
    for (int64_t Slot = 1; Slot < U; ++Slot)
      Total = B.CreateFAdd(Total, B.CreateLoad(VT, Acc[Slot * V + J]));
    Value *Col = i64(J * Lanes);
    store(B.CreateFAdd(load(Sum, Col, Mask(J)), Total), Sum, Col, Mask(J));
  }
  return Error::success();
}

/// One row of an element-wise step, as a loop over its columns.
Error ProgramEmitter::rowStep(const Step &S, Value *Row) {
  RowLoop R{B, L, cols(S.Out >= 0 ? S.Out : S.In[0])};
  switch (S.Kind) {
  case StepKind::BiasAdd:
    // A bias per channel of an image repeats at every pixel.
    return perPixel(S.Out, S.In[1], Row, [&](Value *At, Value *Bias) {
      RowLoop P{B, L, cols(S.In[1])};
      P.Ins = {{At}, {Bias}};
      P.Outs = {At};
      return P.run([&](LoadFn In) -> Expected<Vals> {
        return Vals{B.CreateFAdd(In(0), In(1))};
      });
    });
  case StepKind::Act:
  case StepKind::ActWithGrad:
  case StepKind::ActParamGrad:
    return activationRow(S, Row);
  case StepKind::ActGrad:
  case StepKind::Mul:
    return gradientRow(S, Row);
  case StepKind::Add: {
    for (int In : S.In)
      R.Ins.push_back({rowPtr(In, Row)});
    R.Outs = {rowPtr(S.Out, Row)};
    return R.run([&](LoadFn In) -> Expected<Vals> {
      Value *Sum = In(0);
      for (unsigned K = 1; K < S.In.size(); ++K)
        Sum = B.CreateFAdd(Sum, In(K));
      return Vals{Sum};
    });
  }
  case StepKind::Concat:
  case StepKind::Slice: {
    // Outer blocks per row: concat writes each input's block side by side
    // in the output's, slice reads one part of the wider block.
    bool Cat = S.Kind == StepKind::Concat;
    int64_t Wide = (Cat ? cols(S.Out) : cols(S.In[0])) / S.Outer;
    Value *Y = rowPtr(S.Out, Row);
    int64_t At = Cat ? 0 : S.Offset;
    for (int In : S.In) {
      int64_t Width = (Cat ? cols(In) : cols(S.Out)) / S.Outer;
      Value *X = rowPtr(In, Row);
      auto Copy = [&](Value *O) {
        Value *Narrow = B.CreateMul(O, i64(Width)),
              *Wider = B.CreateAdd(B.CreateMul(O, i64(Wide)), i64(At));
        B.CreateMemCpy(B.CreateGEP(Fl, Y, Cat ? Wider : Narrow), Align(4),
                       B.CreateGEP(Fl, X, Cat ? Narrow : Wider), Align(4),
                       Width * 4);
      };
      if (S.Outer == 1)
        Copy(i64(0));
      else
        LoopBuilder(B).counted(i64(0), i64(S.Outer), 1, Copy, "o");
      At += Width;
    }
    return Error::success();
  }
  case StepKind::SumSquares: {
    // stats += batch^2 sum of squares: the rows are the mean loss's
    // gradient, each sample's own scaled by 1 / batch.
    R.Ins = {{rowPtr(S.In[0], Row)}};
    Value *Sum = accumulator(FixedVectorType::get(Fl, L), splatF(L, 0));
    if (Error E = R.run([&](LoadFn In) -> Expected<Vals> {
          Value *V = In(0);
          accumulate(Sum, B.CreateFMul(V, V));
          return Vals{};
        }))
      return E;
    Value *Total = B.CreateSIToFP(Fr.Total, B.getDoubleTy());
    addStat(S.Stat,
            B.CreateFMul(B.CreateFPExt(reduceAdd(Sum, L), B.getDoubleTy()),
                         B.CreateFMul(Total, Total)));
    return Error::success();
  }
  case StepKind::ColSum:
    if (cols(S.In[0]) > cols(S.Out) && cols(S.Out) <= 8 * int64_t(Lanes))
      return channelSums(S.In[0], S.Out, Row);
    return perPixel(S.In[0], S.Out, Row, [&](Value *At, Value *Sum) {
      RowLoop P{B, L, cols(S.Out)};
      P.Ins = {{Sum}, {At}};
      P.Outs = {Sum};
      return P.run([&](LoadFn In) -> Expected<Vals> {
        return Vals{B.CreateFAdd(In(0), In(1))};
      });
    });
  case StepKind::Dropout:
  case StepKind::DropoutGrad: {
    Value *Key = dropoutKey(S, Row);
    R.Ins = {{rowPtr(S.In[0], Row)}, {columnIndices(R.N)}};
    R.Outs = {rowPtr(S.Out, Row)};
    return R.run([&](LoadFn In) -> Expected<Vals> {
      return Vals{B.CreateFMul(In(0), dropoutScale(S, Key, In(1)))};
    });
  }
  case StepKind::Softmax:
  case StepKind::LogSoftmax:
    return softmaxRow(S, Row);
  case StepKind::ChannelStats:
    return channelStatsRow(S, Row);
  case StepKind::Affine:
    return affineRow(S, Row);
  case StepKind::SoftmaxXent:
  case StepKind::SigmoidXent:
  case StepKind::PointLoss:
    return lossRow(S, Row);
  case StepKind::Conv:
  case StepKind::ConvGradInput:
  case StepKind::ConvGradWeight:
  case StepKind::MaxPool:
  case StepKind::MaxPoolGrad:
  case StepKind::AvgPool:
  case StepKind::AvgPoolGrad:
  case StepKind::Pad:
  case StepKind::PadGrad:
  case StepKind::MatMul:
  case StepKind::SumTo:
  case StepKind::Zero:
  case StepKind::Update:
  case StepKind::CountAlive:
  case StepKind::NormCoeffs:
  case StepKind::NormGradCoeffs:
  case StepKind::MovingStats:
    break; // not row-wise (Steps.def): step() lowers them
  }
  return plainError(ErrorKind::Compile,
                    "no row lowering for " + stepName(S.Kind));
}

Error ProgramEmitter::rowSteps(ArrayRef<Step> Steps, Value *Row0, Value *Rows) {
  Error E = Error::success();
  LoopBuilder(B).counted(
      Row0, B.CreateAdd(Row0, Rows), 1,
      [&](Value *R) {
        for (const Step &S : Steps)
          if (!E)
            E = rowStep(S, R);
      },
      "r");
  return E;
}

/// An internal function running Steps over rows [row0, row0 + rows): a
/// GEMM kernel's epilogue, called after each block of rows, passed what
/// the kernel was.
Expected<Function *> ProgramEmitter::rowFunction(ArrayRef<Step> Steps) {
  assert(Fr.Uses && "an epilogue belongs to a kernel");
  Function *RF = declare(Fr.F->getName() + ".rows", Sig::Rows, Fr.Uses);
  if (Error E = emitAside(RF, Sig::Rows, Fr.Uses, [&](Function *K) {
        return rowSteps(Steps, K->getArg(8), K->getArg(9));
      }))
    return E;
  return RF;
}

} // namespace netjit
