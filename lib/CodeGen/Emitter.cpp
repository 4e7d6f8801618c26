// Emitter.cpp - lowering of expressions to <N x float> IR, and the kernel
// loops around them.
#include "netjit/CodeGen/Emitter.h"

#include "netjit/CodeGen/VectorMath.h"
#include "netjit/Expr/Simplify.h"
#include "netjit/Support/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include <cmath>

using namespace llvm;

namespace netjit {
namespace {

/// Lowers expressions lane-wise; one instance per loop body, so values shared
/// between the forward and the derivative are computed once.
///
/// The arithmetic between vector-math calls (+ - * / powers, comparisons,
/// where, min/max) runs in double and is rounded to float once, at the end or
/// where it feeds one of our float functions; there the rounding error of the
/// argument goes along (VectorMath::takesLo). A formula's error is then that
/// of its float functions, amplified only by its own conditioning, plus one
/// rounding: x * sigmoid(1.702 * x) does not lose digits to its products, nor
/// to 1.702 * x near -50, and x^3 does not overflow on the way.
class ExprLowering {
public:
  ExprLowering(IRBuilder<> &B, VectorMath &VM, unsigned Lanes)
      : B(B), VM(VM), VT(FixedVectorType::get(B.getFloatTy(), Lanes)),
        VD(FixedVectorType::get(B.getDoubleTy(), Lanes)) {}

  /// Binds a Var or Param leaf to its float lanes.
  void bind(ExprRef Leaf, Value *V) { Memo[Leaf] = V; }

  /// E's value as float lanes.
  Expected<Value *> lower(ExprRef E) {
    for (ExprRef N : postOrder(E)) {
      if (Memo.count(N))
        continue;
      auto V = lowerNode(N);
      if (!V)
        return V.takeError();
      Memo[N] = *V;
    }
    return toFloat(Memo[E]);
  }

private:
  IRBuilder<> &B;
  VectorMath &VM;
  Type *VT, *VD;
  DenseMap<ExprRef, Value *> Memo; // float lanes from vector math and leaves,
                                   // double lanes from arithmetic

  Value *kd(double V) { return ConstantFP::get(VD, V); }
  Value *toDouble(Value *V) {
    return V->getType() == VD ? V : B.CreateFPExt(V, VD);
  }
  Value *toFloat(Value *V) {
    return V->getType() == VT ? V : B.CreateFPTrunc(V, VT);
  }
  Value *arg(ExprRef N, unsigned I) { return toDouble(Memo[N->operand(I)]); }
  /// Operand I as float when it is float already or a constant exact in
  /// float; else null.
  Value *floatArg(ExprRef N, unsigned I) {
    ExprRef O = N->operand(I);
    if (O->isConst() && static_cast<float>(O->value()) == O->value())
      return ConstantFP::get(VT, O->value());
    Value *V = Memo[O];
    return V->getType() == VT ? V : nullptr;
  }

  static bool isExact(Op O) {
    switch (O) {
    case Op::Neg:
    case Op::Abs:
    case Op::Sign:
    case Op::Min:
    case Op::Max:
    case Op::Lt:
    case Op::Le:
    case Op::Gt:
    case Op::Ge:
    case Op::Where:
      return true;
    default:
      return false;
    }
  }

  /// An exact operation (no rounding: neg, abs, sign, comparisons, where,
  /// min/max) in float when all its value operands are float, else in
  /// double. where's condition is read by cond(), whatever its type.
  Value *lowerExact(ExprRef N) {
    unsigned First = N->op() == Op::Where ? 1 : 0;
    SmallVector<Value *, 3> A(N->numOperands(), nullptr);
    bool AllFloat = true;
    for (unsigned I = First; I < N->numOperands() && AllFloat; ++I)
      AllFloat = (A[I] = floatArg(N, I)) != nullptr;
    if (!AllFloat)
      for (unsigned I = First; I < N->numOperands(); ++I)
        A[I] = arg(N, I);
    Type *T = A.back()->getType();
    auto K = [&](double V) { return ConstantFP::get(T, V); };
    switch (N->op()) {
    case Op::Neg:
      return B.CreateFNeg(A[0]);
    case Op::Abs:
      return B.CreateUnaryIntrinsic(Intrinsic::fabs, A[0]);
    case Op::Sign: {
      // 1, -1, or x itself for 0 and NaN.
      Value *R = B.CreateSelect(B.CreateFCmpOLT(A[0], K(0)), K(-1), A[0]);
      return B.CreateSelect(B.CreateFCmpOGT(A[0], K(0)), K(1), R);
    }
    case Op::Min:
    case Op::Max: {
      // NaN propagates; on ties the first operand wins.
      Value *Pick = N->op() == Op::Min ? B.CreateFCmpOLE(A[0], A[1])
                                       : B.CreateFCmpOGE(A[0], A[1]);
      Value *R = B.CreateSelect(Pick, A[0], A[1]);
      return B.CreateSelect(B.CreateFCmpUNO(A[0], A[0]), A[0], R);
    }
    case Op::Where:
      return B.CreateSelect(cond(N->operand(0)), A[1], A[2]);
    default: {
      CmpInst::Predicate P = N->op() == Op::Lt   ? CmpInst::FCMP_OLT
                             : N->op() == Op::Le ? CmpInst::FCMP_OLE
                             : N->op() == Op::Gt ? CmpInst::FCMP_OGT
                                                 : CmpInst::FCMP_OGE;
      // As a number a comparison is 1 or 0; cond() reads the i1 back.
      return B.CreateUIToFP(B.CreateFCmp(P, A[0], A[1]), T);
    }
    }
  }

  /// A where() condition as i1 lanes: comparisons directly, else c != 0.
  Value *cond(ExprRef C) {
    Value *V = Memo[C];
    if (auto *Cast = dyn_cast<UIToFPInst>(V))
      return Cast->getOperand(0);
    return B.CreateFCmpUNE(toDouble(V), kd(0));
  }

  /// a^b: integer exponents by repeated squaring, 0.5 by sqrt, else
  /// exp(b log a) in float (valid for a > 0).
  Value *power(ExprRef N) {
    ExprRef Exp = N->operand(1);
    Value *A = arg(N, 0);
    if (Exp->isConst()) {
      double P = Exp->value();
      if (P == 0.5)
        return B.CreateUnaryIntrinsic(Intrinsic::sqrt, A);
      if (P == std::floor(P) && std::fabs(P) <= 64) {
        unsigned K = static_cast<unsigned>(std::fabs(P));
        Value *R = nullptr, *Sq = A;
        for (; K; K >>= 1) {
          if (K & 1)
            R = R ? B.CreateFMul(R, Sq) : Sq;
          if (K > 1)
            Sq = B.CreateFMul(Sq, Sq);
        }
        if (!R)
          R = kd(1);
        return P < 0 ? B.CreateFDiv(kd(1), R) : R;
      }
    }
    Value *Log = VM.call(B, Op::Log, toFloat(A));
    return VM.call(B, Op::Exp,
                   toFloat(B.CreateFMul(arg(N, 1), toDouble(Log))));
  }

  /// A double value as float Hi, its rounding error Lo, and the error of
  /// |Hi|, once per node; -u reuses u's split, so that sigmoid(u) and
  /// sigmoid(-u) share their work after inlining.
  struct Parts {
    Value *Hi, *Lo = nullptr, *AbsLo = nullptr;
  };
  DenseMap<ExprRef, Parts> Split;
  Parts split(ExprRef N) {
    if (auto It = Split.find(N); It != Split.end())
      return It->second;
    Parts R;
    Value *V = Memo[N];
    if (V->getType() == VT) {
      R.Hi = V;
    } else if (N->op() == Op::Neg) {
      R = split(N->operand(0));
      R.Hi = B.CreateFNeg(R.Hi);
      R.Lo = R.Lo ? B.CreateFNeg(R.Lo) : nullptr;
    } else {
      Value *Zero = ConstantFP::get(VT, 0);
      R.Hi = B.CreateFPTrunc(V, VT);
      Value *Lo = B.CreateFPTrunc(B.CreateFSub(V, B.CreateFPExt(R.Hi, VD)), VT);
      // Past float's range (inf - inf) there is no error to pass.
      Value *Finite = B.CreateFCmpOLT(
          B.CreateUnaryIntrinsic(Intrinsic::fabs, Lo),
          ConstantFP::get(VT, INFINITY));
      R.Lo = B.CreateSelect(Finite, Lo, Zero);
      R.AbsLo = B.CreateSelect(B.CreateFCmpOLT(R.Hi, Zero),
                               B.CreateFNeg(R.Lo), R.Lo);
    }
    return Split[N] = R;
  }

  /// One of our float functions at N's value: a double value is rounded,
  /// and its rounding error passed along where the function can use it.
  Value *callVM(Op O, ExprRef N) {
    Parts P = split(N);
    Value *Lo = !VectorMath::takesLo(O)     ? nullptr
                : VectorMath::takesAbsLo(O) ? P.AbsLo
                                            : P.Lo;
    return VM.call(B, O, P.Hi, Lo);
  }

  Expected<Value *> lowerNode(ExprRef N) {
    if (isExact(N->op()))
      return lowerExact(N);
    switch (N->op()) {
    case Op::Const:
      return kd(N->value());
    case Op::Var:
    case Op::Param:
      return plainError(ErrorKind::Compile,
                        "no value bound for '" + N->name() + "'");
    case Op::Add:
      return B.CreateFAdd(arg(N, 0), arg(N, 1));
    case Op::Sub:
      return B.CreateFSub(arg(N, 0), arg(N, 1));
    case Op::Mul:
      return B.CreateFMul(arg(N, 0), arg(N, 1));
    case Op::Div:
      return B.CreateFDiv(arg(N, 0), arg(N, 1));
    case Op::Pow:
      return power(N);
    case Op::Sqrt:
      return B.CreateUnaryIntrinsic(Intrinsic::sqrt, arg(N, 0));
    default:
      if (VectorMath::provides(N->op()))
        return callVM(N->op(), N->operand(0));
      return plainError(ErrorKind::Compile, Twine("no lowering for '") +
                                                opInfo(N->op()).Spelling + "'");
    }
  }
};

struct KernelArgs {
  Value *X = nullptr, *Y = nullptr, *DY = nullptr, *DX = nullptr;
  Value *N = nullptr, *P = nullptr;
};

/// The loop body: given lane values of the inputs, computes and stores.
using BodyFn = function_ref<Error(IRBuilder<> &B, Value *Index, Value *Mask)>;

/// for (i = 0; i + L <= n; i += L) body(i); then one masked body for the
/// remaining n % L elements.
Error emitLoop(IRBuilder<> &B, Function *F, Value *N, unsigned Lanes,
               BodyFn Body) {
  LLVMContext &Ctx = B.getContext();
  Type *I64 = B.getInt64Ty();
  BasicBlock *Entry = B.GetInsertBlock();
  BasicBlock *Loop = BasicBlock::Create(Ctx, "loop", F);
  BasicBlock *Tail = BasicBlock::Create(Ctx, "tail.check", F);
  BasicBlock *TailBody = BasicBlock::Create(Ctx, "tail", F);
  BasicBlock *Exit = BasicBlock::Create(Ctx, "exit", F);
  Value *NVec = B.CreateAnd(N, ConstantInt::get(I64, ~uint64_t(Lanes - 1)));
  B.CreateCondBr(B.CreateICmpSGT(NVec, ConstantInt::get(I64, 0)), Loop, Tail);

  B.SetInsertPoint(Loop);
  PHINode *I = B.CreatePHI(I64, 2, "i");
  I->addIncoming(ConstantInt::get(I64, 0), Entry);
  if (Error E = Body(B, I, nullptr))
    return E;
  Value *Next =
      B.CreateAdd(I, ConstantInt::get(I64, Lanes), "i.next", true, true);
  I->addIncoming(Next, B.GetInsertBlock());
  B.CreateCondBr(B.CreateICmpSLT(Next, NVec), Loop, Tail);

  B.SetInsertPoint(Tail);
  Value *Rem = B.CreateSub(N, NVec);
  B.CreateCondBr(B.CreateICmpSGT(Rem, ConstantInt::get(I64, 0)), TailBody,
                 Exit);
  B.SetInsertPoint(TailBody);
  // Lane j is live when j < n % L.
  SmallVector<Constant *, 16> Iota;
  for (unsigned J = 0; J < Lanes; ++J)
    Iota.push_back(ConstantInt::get(I64, J));
  Value *Mask = B.CreateICmpSLT(ConstantVector::get(Iota),
                                B.CreateVectorSplat(Lanes, Rem));
  if (Error E = Body(B, NVec, Mask))
    return E;
  B.CreateBr(Exit);
  B.SetInsertPoint(Exit);
  return Error::success();
}

Value *loadLanes(IRBuilder<> &B, Type *VT, Value *Base, Value *Index,
                 Value *Mask) {
  Value *Ptr = B.CreateGEP(B.getFloatTy(), Base, Index);
  if (!Mask)
    return B.CreateAlignedLoad(VT, Ptr, Align(4));
  return B.CreateMaskedLoad(VT, Ptr, Align(4), Mask, ConstantFP::get(VT, 0));
}

void storeLanes(IRBuilder<> &B, Value *V, Value *Base, Value *Index,
                Value *Mask) {
  Value *Ptr = B.CreateGEP(B.getFloatTy(), Base, Index);
  if (!Mask)
    B.CreateAlignedStore(V, Ptr, Align(4));
  else
    B.CreateMaskedStore(V, Ptr, Align(4), Mask);
}

Function *declareKernel(Module &M, StringRef Symbol, unsigned NumPtrs,
                        unsigned Lanes) {
  LLVMContext &Ctx = M.getContext();
  Type *Ptr = PointerType::getUnqual(Ctx);
  SmallVector<Type *, 8> Params(NumPtrs, Ptr);
  Params.push_back(Type::getInt64Ty(Ctx));
  Params.push_back(Ptr);
  Function *F =
      Function::Create(FunctionType::get(Type::getVoidTy(Ctx), Params, false),
                       GlobalValue::ExternalLinkage, Symbol, M);
  F->addFnAttr(Attribute::NoUnwind);
  // Wide vectors are what we asked for: keep them whole on CPUs that
  // otherwise prefer 256-bit operations.
  F->addFnAttr("min-legal-vector-width", std::to_string(Lanes * 32));
  F->addFnAttr("prefer-vector-width", std::to_string(Lanes * 32));
  for (unsigned I = 0; I <= NumPtrs + 1; ++I)
    if (I != NumPtrs)
      F->addParamAttr(I, Attribute::NoAlias);
  return F;
}

} // namespace

Expected<std::vector<float>> packParams(const ActivationForms &A,
                                        const ParamValues &Values) {
  std::vector<float> P;
  for (const std::string &N : A.Params) {
    auto It = Values.find(N);
    if (It == Values.end())
      return plainError(ErrorKind::Compile,
                        "no value for parameter '" + N + "'");
    P.push_back(static_cast<float>(It->second));
  }
  return P;
}

std::string kernelSymbol(StringRef Name, KernelKind K) {
  switch (K) {
  case KernelKind::Forward:
    return (Name + "_forward").str();
  case KernelKind::Backward:
    return (Name + "_backward").str();
  case KernelKind::Fused:
    return (Name + "_fused").str();
  }
  return Name.str();
}

/// Collects the Param and Var leaves of the forms so they can be bound.
static void leavesOf(ExprRef E, std::vector<ExprRef> &Out) {
  for (ExprRef N : postOrder(E))
    if (N->op() == Op::Param || N->op() == Op::Var)
      if (!llvm::is_contained(Out, N))
        Out.push_back(N);
}

Error emitActivationKernels(Module &M, const ActivationForms &A, StringRef Name,
                            unsigned Lanes, ArrayRef<KernelKind> Kinds) {
  VectorMath VM(M, Lanes);
  LLVMContext &Ctx = M.getContext();
  Type *VT = FixedVectorType::get(Type::getFloatTy(Ctx), Lanes);
  // The y form saves recomputing f's transcendentals, but only where it is
  // as accurate as the x form (isStableInOutput).
  ExprRef DY = A.DerivativeY && isStableInOutput(A.DerivativeY) ? A.DerivativeY
                                                                : nullptr;
  ExprRef Fwd = stabilizeForFloat(*A.Ctx, A.Forward);
  ExprRef DX = stabilizeForFloat(*A.Ctx, A.Derivative);
  ExprRef DF = DY ? DY : DX;
  std::vector<ExprRef> Leaves;
  leavesOf(Fwd, Leaves);
  leavesOf(DX, Leaves);
  if (DY)
    leavesOf(DY, Leaves);

  for (KernelKind K : Kinds) {
    unsigned NumPtrs = K == KernelKind::Forward ? 2 : 4;
    Function *F = declareKernel(M, kernelSymbol(Name, K), NumPtrs, Lanes);
    IRBuilder<> B(BasicBlock::Create(Ctx, "entry", F));
    KernelArgs Args;
    if (K == KernelKind::Forward) {
      Args.X = F->getArg(0);
      Args.Y = F->getArg(1);
    } else if (K == KernelKind::Backward) {
      Args.X = F->getArg(0);
      Args.Y = F->getArg(1);
      Args.DY = F->getArg(2);
      Args.DX = F->getArg(3);
    } else {
      Args.X = F->getArg(0);
      Args.DY = F->getArg(1);
      Args.Y = F->getArg(2);
      Args.DX = F->getArg(3);
    }
    Args.N = F->getArg(NumPtrs);
    Args.P = F->getArg(NumPtrs + 1);
    // Parameter splats, hoisted out of the loop.
    DenseMap<ExprRef, Value *> ParamSplat;
    for (ExprRef Leaf : Leaves)
      if (Leaf->op() == Op::Param) {
        auto It = llvm::find(A.Params, Leaf->name().str());
        unsigned Index = It - A.Params.begin();
        Value *S = B.CreateLoad(
            B.getFloatTy(), B.CreateConstGEP1_64(B.getFloatTy(), Args.P, Index),
            Leaf->name());
        ParamSplat[Leaf] = B.CreateVectorSplat(Lanes, S);
      }

    auto Body = [&](bool WithDY) {
      return [&, WithDY](IRBuilder<> &B, Value *I, Value *Mask) -> Error {
        ExprLowering L(B, VM, Lanes);
        for (auto &[Leaf, V] : ParamSplat)
          L.bind(Leaf, V);
        for (ExprRef Leaf : Leaves)
          if (Leaf->isVar("x"))
            L.bind(Leaf, loadLanes(B, VT, Args.X, I, Mask));
        ExprRef YLeaf = nullptr;
        for (ExprRef Leaf : Leaves)
          if (Leaf->isVar("y"))
            YLeaf = Leaf;
        if (K == KernelKind::Forward) {
          auto Y = L.lower(Fwd);
          if (!Y)
            return Y.takeError();
          storeLanes(B, *Y, Args.Y, I, Mask);
          return Error::success();
        }
        Value *Yv = nullptr;
        if (K == KernelKind::Fused) {
          auto Y = L.lower(Fwd);
          if (!Y)
            return Y.takeError();
          Yv = *Y;
          storeLanes(B, Yv, Args.Y, I, Mask);
        } else if (DY) {
          Yv = loadLanes(B, VT, Args.Y, I, Mask);
        }
        if (YLeaf && Yv)
          L.bind(YLeaf, Yv);
        auto D = L.lower(DY && Yv ? DF : DX);
        if (!D)
          return D.takeError();
        Value *DX = *D;
        if (WithDY)
          DX = B.CreateFMul(loadLanes(B, VT, Args.DY, I, Mask), DX);
        storeLanes(B, DX, Args.DX, I, Mask);
        return Error::success();
      };
    };

    if (K == KernelKind::Fused) {
      // dy == NULL: dx receives f'(x) itself.
      BasicBlock *WithDY = BasicBlock::Create(Ctx, "with.dy", F);
      BasicBlock *NoDY = BasicBlock::Create(Ctx, "no.dy", F);
      B.CreateCondBr(B.CreateIsNull(Args.DY), NoDY, WithDY);
      B.SetInsertPoint(WithDY);
      if (Error E = emitLoop(B, F, Args.N, Lanes, Body(true)))
        return E;
      B.CreateRetVoid();
      B.SetInsertPoint(NoDY);
      if (Error E = emitLoop(B, F, Args.N, Lanes, Body(false)))
        return E;
      B.CreateRetVoid();
    } else {
      if (Error E =
              emitLoop(B, F, Args.N, Lanes, Body(K == KernelKind::Backward)))
        return E;
      B.CreateRetVoid();
    }
  }
  return Error::success();
}

} // namespace netjit
