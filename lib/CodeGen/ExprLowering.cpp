// ExprLowering.cpp - the lowering of expressions to <N x float> IR
// (ExprLowering.h): the float/double plan, exact operations, arithmetic
// with its rounding errors, and the calls of VectorMath.
#include "netjit/CodeGen/ExprLowering.h"

#include "netjit/Support/Diagnostics.h"
#include "llvm/IR/Intrinsics.h"
#include <cmath>

using namespace llvm;

namespace netjit {

void ExprLowering::plan(ArrayRef<ExprRef> Roots, ArrayRef<double> Budgets) {
  SmallVector<ExprRef, 16> Work;
  DenseSet<ExprRef> Seen;
  for (size_t K = 0; K < Roots.size(); ++K) {
    for (ExprRef N : postOrder(Roots[K])) {
      if (mayCancel(N) && !floatSumUlp(N))
        Work.push_back(N);
      if (N->op() == Op::Div && Seen.insert(N).second)
        ++Divisions[N->operand(1)];
    }
    if (isArithmetic(Roots[K]->op()) && floatUlp(Roots[K]) > Budgets[K])
      Work.push_back(Roots[K]);
  }
  while (!Work.empty()) {
    ExprRef N = Work.pop_back_val();
    if (!Double.insert(N).second)
      continue;
    for (ExprRef O : N->operands())
      if (isArithmetic(O->op()) && !isExactProduct(O))
        Work.push_back(O);
  }
}

bool ExprLowering::isArithmetic(Op O) {
  return O == Op::Add || O == Op::Sub || O == Op::Mul || O == Op::Div ||
         O == Op::Pow || isExact(O);
}

double ExprLowering::floatUlp(ExprRef N) {
  if (auto It = Ulp.find(N); It != Ulp.end())
    return It->second;
  double R = 0;
  auto U = [&](unsigned I) { return floatUlp(N->operand(I)); };
  switch (N->op()) {
  case Op::Const:
    R = static_cast<float>(N->value()) == N->value() ? 0 : 0.5;
    break;
  case Op::Var:
  case Op::Param:
    break;
  case Op::Mul:
  case Op::Div:
    R = U(0) + U(1) + 0.5;
    break;
  case Op::Add:
  case Op::Sub:
    R = floatSumUlp(N).value_or(std::max(U(0), U(1)) + 0.5);
    break;
  case Op::Pow:
  case Op::Sqrt:
    R = INFINITY; // planned in double anyway
    break;
  default:
    if (VectorMath::provides(N->op())) {
      R = VectorMath::maxUlp(N->op());
      break;
    }
    for (unsigned I = 0; I < N->numOperands(); ++I)
      R = std::max(R, U(I)); // exact operations
  }
  return Ulp[N] = R;
}

std::optional<double> ExprLowering::floatSumUlp(ExprRef N) {
  if (siluGradArg(N))
    return VectorMath::SiluGradMaxUlp;
  if (floatGelu(N, true))
    return VectorMath::GeluMaxUlp;
  if (xSigmoidCubicGradArg(N))
    return VectorMath::XSigmoidCubicMaxUlp;
  return std::nullopt;
}

ExprRef ExprLowering::floatGelu(ExprRef N, bool Derivative) {
  ExprRef U = VM.hasFloatGelu() ? geluArg(N, Derivative) : nullptr;
  return U && U->op() == Op::Var ? U : nullptr;
}

bool ExprLowering::mayCancel(ExprRef N) {
  if (N->op() != Op::Add && N->op() != Op::Sub)
    return false;
  Sign SA = Signs.of(N->operand(0)), SC = Signs.of(N->operand(1));
  if (N->op() == Op::Sub)
    SC = flip(SC);
  return SA == Sign::Any || SA != SC;
}

Expected<Value *> ExprLowering::lower(ExprRef E) {
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

Value *ExprLowering::toDouble(Value *V) {
  return V->getType() == VD ? V : B.CreateFPExt(V, VD);
}

Value *ExprLowering::toFloat(Value *V) {
  return V->getType() == VT ? V : B.CreateFPTrunc(V, VT);
}

Value *ExprLowering::arg(ExprRef N, unsigned I) {
  ExprRef O = N->operand(I);
  if (O->isConst())
    return kd(O->value());
  if (VectorMath::hasDoubleResult(O->op())) {
    Value *&D = MemoD[O];
    if (!D)
      D = callVM(O->op(), O->operand(0), /*Double=*/true);
    return D;
  }
  Value *V = Memo[O];
  if (V->getType() == VT && isExactProduct(O)) {
    Value *&D = MemoD[O];
    if (!D)
      D = B.CreateFMul(arg(O, 0), arg(O, 1));
    return D;
  }
  return toDouble(V);
}

bool ExprLowering::isExactProduct(ExprRef N) {
  if (N->op() != Op::Mul || Double.count(N))
    return false;
  for (ExprRef O : N->operands())
    if (isArithmetic(O->op()) || VectorMath::hasDoubleResult(O->op()))
      return false;
  return true;
}

Value *ExprLowering::floatArg(ExprRef N, unsigned I) {
  ExprRef O = N->operand(I);
  if (O->isConst() && static_cast<float>(O->value()) == O->value())
    return ConstantFP::get(VT, O->value());
  Value *V = Memo[O];
  return V->getType() == VT ? V : nullptr;
}

bool ExprLowering::isExact(Op O) {
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

Value *ExprLowering::lowerExact(ExprRef N) {
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

Value *ExprLowering::cond(ExprRef C) {
  Value *V = Memo[C];
  if (auto *Cast = dyn_cast<UIToFPInst>(V))
    return Cast->getOperand(0);
  return B.CreateFCmpUNE(toDouble(V), kd(0));
}

Value *ExprLowering::power(ExprRef N) {
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
  return VM.call(B, Op::Exp, toFloat(B.CreateFMul(arg(N, 1), toDouble(Log))));
}

Value *ExprLowering::arithmetic(ExprRef N) {
  Op O = N->op();
  Value *A = floatOrConst(N->operand(0)), *C = floatOrConst(N->operand(1));
  // A function computed in double is not rounded before its use.
  bool Float = A && C && !Double.count(N) &&
               !VectorMath::hasDoubleResult(N->operand(0)->op()) &&
               !VectorMath::hasDoubleResult(N->operand(1)->op());
  if (!Float) {
    A = arg(N, 0);
    C = arg(N, 1);
    // Quotients by one divisor in double: one division (a double zmm
    // division costs as much as a dozen FMAs) and products; a (1/d) is
    // off a/d by 2^-52, nothing next to float's rounding.
    if (O == Op::Div && !N->operand(1)->isConst() &&
        Divisions.lookup(N->operand(1)) > 1) {
      Value *&R = Reciprocal[N->operand(1)];
      if (!R)
        R = B.CreateFDiv(kd(1), C);
      return B.CreateFMul(A, R);
    }
  }
  if (auto F = Float ? constFactor(N) : std::nullopt) {
    // a k (a / k as a (1/k)) with k = kh + kl: fma(a, kh, a kl) rounds the
    // product of a and the exact constant once. a kh alone would add k's
    // own rounding, and at the edge of float's range turn 1.0507 x
    // (selu at x = 3.24e38, FLT_MAX exactly) into inf.
    Value *V = Memo[F->first];
    auto [KH, KL] = splitConst(F->second);
    if (!KL)
      return B.CreateFMul(V, KH);
    return B.CreateIntrinsic(Intrinsic::fma, {VT},
                             {V, KH, B.CreateFMul(V, KL)});
  }
  switch (O) {
  case Op::Add:
    return B.CreateFAdd(A, C);
  case Op::Sub:
    return B.CreateFSub(A, C);
  case Op::Mul:
    return B.CreateFMul(A, C);
  default:
    return B.CreateFDiv(A, C);
  }
}

std::optional<std::pair<ExprRef, double>> ExprLowering::constFactor(ExprRef N) {
  ExprRef A = N->operand(0), K = N->operand(1);
  if (N->op() == Op::Mul && A->isConst() && !K->isConst())
    std::swap(A, K);
  if (!K->isConst() || A->isConst())
    return std::nullopt;
  if (N->op() == Op::Mul)
    return std::make_pair(A, K->value());
  if (N->op() == Op::Div)
    return std::make_pair(A, 1 / K->value());
  return std::nullopt;
}

Value *ExprLowering::floatOrConst(ExprRef E) {
  if (E->isConst())
    return ConstantFP::get(VT, E->value());
  Value *V = Memo[E];
  return V->getType() == VT ? V : nullptr;
}

std::pair<Value *, Value *> ExprLowering::splitConst(double C) {
  float H = static_cast<float>(C);
  if (std::fabs(H) > std::fabs(C))
    H = std::nextafter(H, 0.0f);
  return {ConstantFP::get(VT, H),
          H == C ? nullptr : ConstantFP::get(VT, C - H)};
}

Value *ExprLowering::floatLo(ExprRef N, Value *Hi) {
  Op O = N->op();
  if (O != Op::Add && O != Op::Sub && O != Op::Mul && O != Op::Div)
    return nullptr;
  auto Fma = [&](Value *X, Value *Y, Value *Z) {
    return B.CreateIntrinsic(Intrinsic::fma, {VT}, {X, Y, Z});
  };
  Value *A = floatOrConst(N->operand(0)), *C = floatOrConst(N->operand(1));
  if (auto F = constFactor(N)) {
    // a k with k = kh + kl exact: lo = (a kh - hi) + a kl.
    int Exp2;
    if (std::fabs(std::frexp(F->second, &Exp2)) == 0.5)
      return nullptr; // a power of two: exact
    Value *V = Memo[F->first];
    auto [KH, KL] = splitConst(F->second);
    Value *Lo = Fma(V, KH, B.CreateFNeg(Hi));
    return KL ? Fma(V, KL, Lo) : Lo;
  }
  if (O == Op::Mul)
    return Fma(A, C, B.CreateFNeg(Hi));
  if (O == Op::Div) // a / b = hi + (a - hi b) / b
    return B.CreateFDiv(Fma(B.CreateFNeg(Hi), C, A), C);
  // TwoSum: hi + lo = a + c exactly.
  if (O == Op::Sub)
    C = B.CreateFNeg(C);
  Value *BV = B.CreateFSub(Hi, A);
  Value *AV = B.CreateFSub(Hi, BV);
  return B.CreateFAdd(B.CreateFSub(A, AV), B.CreateFSub(C, BV));
}

ExprLowering::Parts ExprLowering::split(ExprRef N) {
  if (auto It = Split.find(N); It != Split.end())
    return It->second;
  Parts R;
  Value *V = Memo[N];
  if (N->op() == Op::Neg) {
    R = split(N->operand(0));
    R.Hi = B.CreateFNeg(R.Hi);
    R.Lo = R.Lo ? B.CreateFNeg(R.Lo) : nullptr; // |-u| = |u|: same AbsLo
  } else if (V->getType() == VT) {
    R.Hi = V;
    R.Lo = floatLo(N, V);
    if (R.Lo) // past float's range there is no error to pass
      R.Lo = B.CreateSelect(
          B.CreateFCmpOLT(B.CreateUnaryIntrinsic(Intrinsic::fabs, V),
                          ConstantFP::get(VT, INFINITY)),
          R.Lo, ConstantFP::get(VT, 0));
    if (R.Lo)
      R.AbsLo = B.CreateSelect(B.CreateFCmpOLT(R.Hi, ConstantFP::get(VT, 0)),
                               B.CreateFNeg(R.Lo), R.Lo);
  } else {
    Value *Zero = ConstantFP::get(VT, 0);
    R.Hi = B.CreateFPTrunc(V, VT);
    Value *Lo = B.CreateFPTrunc(B.CreateFSub(V, B.CreateFPExt(R.Hi, VD)), VT);
    // Past float's range (inf - inf) there is no error to pass.
    Value *Finite = B.CreateFCmpOLT(B.CreateUnaryIntrinsic(Intrinsic::fabs, Lo),
                                    ConstantFP::get(VT, INFINITY));
    R.Lo = B.CreateSelect(Finite, Lo, Zero);
    R.AbsLo =
        B.CreateSelect(B.CreateFCmpOLT(R.Hi, Zero), B.CreateFNeg(R.Lo), R.Lo);
  }
  return Split[N] = R;
}

Value *ExprLowering::callVM(Op O, ExprRef N, bool Double) {
  Parts P = split(N);
  Value *Lo = !VectorMath::takesLo(O)     ? nullptr
              : VectorMath::takesAbsLo(O) ? P.AbsLo
                                          : P.Lo;
  return VM.call(B, O, P.Hi, Lo, Double);
}

Expected<Value *> ExprLowering::lowerNode(ExprRef N) {
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
    if (ExprRef U = floatGelu(N, true))
      return VM.gelu(B, Memo[U], true);
    if (ExprRef U = siluGradArg(N)) {
      Parts P = split(U);
      return VM.siluGrad(B, P.Hi, P.AbsLo);
    }
    if (auto C = xSigmoidCubicGradArg(N))
      return VM.xSigmoidCubic(B, Memo[C->X], C->K1, C->K3, true);
    return arithmetic(N);
  case Op::Mul:
    if (ExprRef U = floatGelu(N, false); U && !Double.count(N))
      return VM.gelu(B, Memo[U], false);
    if (auto C = xSigmoidCubicArg(N); C && !Double.count(N))
      return VM.xSigmoidCubic(B, Memo[C->X], C->K1, C->K3, false);
    if (ExprRef U = sigmoidPairArg(N); U && !Double.count(N)) {
      Parts P = split(U);
      return VM.sigmoidProduct(B, P.Hi, P.AbsLo);
    }
    return arithmetic(N);
  case Op::Sub:
  case Op::Div:
    return arithmetic(N);
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

} // namespace netjit
