// Emitter.cpp - lowering of expressions to <N x float> IR, and the kernel
// loops around them.
#include "netjit/CodeGen/Emitter.h"

#include "netjit/CodeGen/StepCost.h"
#include "netjit/CodeGen/VectorMath.h"
#include "netjit/Expr/Simplify.h"
#include "netjit/Support/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/Intrinsics.h"
#include <cmath>
#include <optional>

using namespace llvm;

namespace netjit {
namespace {

/// What is known of a value's sign for every x: >= 0, <= 0, or either.
enum class Sign { Pos, Neg, Any };

Sign flip(Sign S) {
  return S == Sign::Pos ? Sign::Neg : S == Sign::Neg ? Sign::Pos : Sign::Any;
}
Sign join(Sign A, Sign B) { return A == B ? A : Sign::Any; }
Sign times(Sign A, Sign B) {
  if (A == Sign::Any || B == Sign::Any)
    return Sign::Any;
  return A == B ? Sign::Pos : Sign::Neg;
}

/// The sign of each value, from the signs of its parts (a sum with terms of
/// both signs, or a leaf, can be either); memoized over the DAG.
struct SignAnalysis {
  DenseMap<ExprRef, Sign> Memo;
  Sign of(ExprRef E) {
    if (auto It = Memo.find(E); It != Memo.end())
      return It->second;
    return Memo[E] = compute(E);
  }
  Sign compute(ExprRef E);
};

Sign SignAnalysis::compute(ExprRef E) {
  auto S = [this](ExprRef O) { return of(O); };
  switch (E->op()) {
  case Op::Const:
    return E->value() >= 0 ? Sign::Pos : Sign::Neg;
  case Op::Exp:
  case Op::Sigmoid:
  case Op::Softplus:
  case Op::Erfc:
  case Op::Normcdf:
  case Op::Normpdf:
  case Op::Sqrt:
  case Op::Abs:
  case Op::Lt:
  case Op::Le:
  case Op::Gt:
  case Op::Ge:
    return Sign::Pos;
  case Op::Neg:
    return flip(S(E->operand(0)));
  case Op::Tanh: // odd and increasing through 0
  case Op::Erf:
  case Op::Expm1:
  case Op::Log1p:
  case Op::Sign:
    return S(E->operand(0));
  case Op::Mul:
  case Op::Div:
    return times(S(E->operand(0)), S(E->operand(1)));
  case Op::Add:
    return S(E->operand(0)) == S(E->operand(1)) ? S(E->operand(0)) : Sign::Any;
  case Op::Sub:
    return S(E->operand(0)) == flip(S(E->operand(1))) ? S(E->operand(0))
                                                      : Sign::Any;
  case Op::Pow: {
    ExprRef P = E->operand(1);
    if (P->isConst() && std::fmod(P->value(), 2) == 0)
      return Sign::Pos;
    return S(E->operand(0)) == Sign::Pos ? Sign::Pos : Sign::Any;
  }
  case Op::Min:
  case Op::Max:
    return join(S(E->operand(0)), S(E->operand(1)));
  case Op::Where:
    return join(S(E->operand(1)), S(E->operand(2)));
  default:
    return Sign::Any;
  }
}

/// The error budgets of an activation's kernels, in ULPs (docs/accuracy.md).
constexpr double ForwardBudget = 3, DerivativeBudget = 4;

void factors(ExprRef E, SmallVectorImpl<ExprRef> &Out) {
  if (E->op() != Op::Mul) {
    Out.push_back(E);
    return;
  }
  factors(E->operand(0), Out);
  factors(E->operand(1), Out);
}

bool isSigmoidOfNeg(ExprRef E, ExprRef U) {
  return E->op() == Op::Sigmoid && E->operand(0)->op() == Op::Neg &&
         E->operand(0)->operand(0) == U;
}

/// The u of sigmoid(u) sigmoid(-u), in either order; else null.
ExprRef sigmoidPairArg(ExprRef N) {
  for (unsigned I = 0; I < 2 && N->op() == Op::Mul; ++I)
    if (N->operand(I)->op() == Op::Sigmoid &&
        isSigmoidOfNeg(N->operand(1 - I), N->operand(I)->operand(0)))
      return N->operand(I)->operand(0);
  return nullptr;
}

/// The u of u normcdf(u) (gelu), or with Derivative of normcdf(u) + u
/// normpdf(u), in any order; else null. VectorMath::gelu computes them.
ExprRef geluArg(ExprRef N, bool Derivative) {
  auto Product = [](ExprRef M, Op F) -> ExprRef {
    for (unsigned I = 0; I < 2 && M->op() == Op::Mul; ++I)
      if (M->operand(I)->op() == F && M->operand(I)->operand(0) == M->operand(1 - I))
        return M->operand(1 - I);
    return nullptr;
  };
  if (!Derivative)
    return Product(N, Op::Normcdf);
  for (unsigned I = 0; I < 2 && N->op() == Op::Add; ++I) {
    ExprRef C = N->operand(I);
    if (C->op() != Op::Normcdf)
      continue;
    if (ExprRef U = Product(N->operand(1 - I), Op::Normpdf); U == C->operand(0))
      return U;
  }
  return nullptr;
}

/// The u of sigmoid(u) + u sigmoid(u) sigmoid(-u), the derivative of
/// u sigmoid(u) (silu's and gelu_sigmoid's), its terms and factors in any
/// order; else null. VectorMath::siluGrad computes it in float.
ExprRef siluGradArg(ExprRef N) {
  if (N->op() != Op::Add)
    return nullptr;
  for (unsigned I = 0; I < 2; ++I) {
    ExprRef S = N->operand(I);
    if (S->op() != Op::Sigmoid)
      continue;
    ExprRef U = S->operand(0);
    SmallVector<ExprRef, 8> F, G;
    factors(N->operand(1 - I), F);
    factors(U, G);
    auto Take = [&](auto Pred) {
      auto It = llvm::find_if(F, Pred);
      if (It == F.end())
        return false;
      F.erase(It);
      return true;
    };
    if (!Take([&](ExprRef E) { return E == S; }) ||
        !Take([&](ExprRef E) { return isSigmoidOfNeg(E, U); }))
      continue;
    llvm::sort(F);
    llvm::sort(G);
    if (F == G)
      return U;
  }
  return nullptr;
}

/// c0 + c1 x + c2 x^2 + c3 x^3 as {c0, c1, c2, c3}.
using Cubic = std::array<double, 4>;
/// A C, or nullopt past degree 3.
std::optional<Cubic> times(const Cubic &A, const Cubic &C) {
  Cubic R{};
  for (int I = 0; I < 4; ++I)
    for (int J = 0; J < 4; ++J)
      if (A[I] != 0 && C[J] != 0) {
        if (I + J > 3)
          return std::nullopt;
        R[I + J] += A[I] * C[J];
      }
  return R;
}
/// The coefficients of E, a polynomial in x of degree at most 3 over
/// constants, +, -, *, negation, division by a constant and whole powers,
/// at most 8 deep (a DAG that shares nodes is walked as a tree); else
/// nullopt.
std::optional<Cubic> polynomial(ExprRef E, unsigned Depth = 0) {
  if (Depth > 8)
    return std::nullopt;
  auto Arg = [&](unsigned I) { return polynomial(E->operand(I), Depth + 1); };
  switch (E->op()) {
  case Op::Const:
    return Cubic{E->value(), 0, 0, 0};
  case Op::Var:
    return Cubic{0, 1, 0, 0};
  case Op::Neg:
    if (auto A = Arg(0)) {
      for (double &C : *A)
        C = -C;
      return A;
    }
    return std::nullopt;
  case Op::Add:
  case Op::Sub: {
    auto A = Arg(0), C = Arg(1);
    if (!A || !C)
      return std::nullopt;
    for (int I = 0; I < 4; ++I)
      (*A)[I] += E->op() == Op::Add ? (*C)[I] : -(*C)[I];
    return A;
  }
  case Op::Mul: {
    auto A = Arg(0), C = Arg(1);
    return A && C ? times(*A, *C) : std::nullopt;
  }
  case Op::Div: {
    auto A = Arg(0);
    if (!A || !E->operand(1)->isConst())
      return std::nullopt;
    for (double &C : *A)
      C /= E->operand(1)->value();
    return A;
  }
  case Op::Pow: {
    auto A = Arg(0);
    ExprRef P = E->operand(1);
    if (!A || !P->isConst() || P->value() != std::floor(P->value()) ||
        P->value() < 0 || P->value() > 3)
      return std::nullopt;
    std::optional<Cubic> R = Cubic{1, 0, 0, 0};
    for (int K = 0; R && K < P->value(); ++K)
      R = times(*R, *A);
    return R;
  }
  default:
    return std::nullopt;
  }
}

/// k1 x + k3 x^3 with k1 in [2^-20, 2^100] and k3 in [2^-100, 2^100]
/// (gelu's tanh form; past these, |x| at |u| = 104 or k3 x^2 would leave
/// float's range): the argument VectorMath::xSigmoidCubic takes.
struct OddCubic {
  ExprRef U, X; // u, and the variable x it is a cubic in
  double K1, K3;
};
std::optional<OddCubic> oddCubic(ExprRef U) {
  auto P = polynomial(U);
  auto In = [](double K, double Lo, double Hi) { return K >= Lo && K <= Hi; };
  if (!P || (*P)[0] != 0 || (*P)[2] != 0 || !In((*P)[1], 0x1p-20, 0x1p100) ||
      !In((*P)[3], 0x1p-100, 0x1p100))
    return std::nullopt;
  for (ExprRef N : postOrder(U))
    if (N->op() == Op::Var)
      return OddCubic{U, N, (*P)[1], (*P)[3]};
  return std::nullopt;
}

/// x sigmoid(u), u an odd cubic in x (gelu_tanh), in either order.
std::optional<OddCubic> xSigmoidCubicArg(ExprRef N) {
  for (unsigned I = 0; I < 2 && N->op() == Op::Mul; ++I)
    if (N->operand(I)->op() == Op::Var &&
        N->operand(1 - I)->op() == Op::Sigmoid)
      if (auto C = oddCubic(N->operand(1 - I)->operand(0));
          C && C->X == N->operand(I))
        return C;
  return std::nullopt;
}

/// sigmoid(u) + w sigmoid(u) sigmoid(-u) with u an odd cubic in x and w =
/// x u'(x), the derivative of x sigmoid(u), its terms and factors in any
/// order (w's factors multiplied out); else nullopt.
std::optional<OddCubic> xSigmoidCubicGradArg(ExprRef N) {
  if (N->op() != Op::Add)
    return std::nullopt;
  for (unsigned I = 0; I < 2; ++I) {
    ExprRef S = N->operand(I);
    if (S->op() != Op::Sigmoid)
      continue;
    auto C = oddCubic(S->operand(0));
    if (!C)
      continue;
    SmallVector<ExprRef, 8> F;
    factors(N->operand(1 - I), F);
    bool HasS = false, HasNeg = false;
    std::optional<Cubic> W = Cubic{1, 0, 0, 0};
    for (ExprRef E : F) {
      if (E == S && !HasS)
        HasS = true;
      else if (isSigmoidOfNeg(E, C->U) && !HasNeg)
        HasNeg = true;
      else if (auto P = W ? polynomial(E) : std::nullopt)
        W = times(*W, *P);
      else
        W.reset();
    }
    // w = k1 x + 3 k3 x^3, its constants as written up to their roundings.
    auto Near = [](double A, double B) {
      return std::fabs(A - B) <= 1e-12 * std::fabs(B);
    };
    if (HasS && HasNeg && W && (*W)[0] == 0 && (*W)[2] == 0 &&
        Near((*W)[1], C->K1) && Near((*W)[3], 3 * C->K3))
      return C;
  }
  return std::nullopt;
}

/// Lowers expressions lane-wise; one instance per loop body, so values shared
/// between the forward and the derivative are computed once.
///
/// Arithmetic runs in float where float keeps the kernel within its budget,
/// else in double (plan()): a sum whose terms may cancel, what it is computed
/// from, and a root whose float error bound is over budget. A double value is
/// rounded to float once, at the end or where it feeds one of our float
/// functions; there its rounding error goes along (VectorMath::takesLo), as a
/// float product's does (an FMA recovers it). A formula's error is then about
/// that of its functions, amplified only by its own conditioning: x *
/// sigmoid(1.702 * x) does not lose digits to 1.702 * x near -50, and the
/// derivative of gelu does not cancel its digits away near its root.
} // namespace

class ExprLowering {
public:
  ExprLowering(IRBuilder<> &B, VectorMath &VM, unsigned Lanes)
      : B(B), VM(VM), VT(FixedVectorType::get(B.getFloatTy(), Lanes)),
        VD(FixedVectorType::get(B.getDoubleTy(), Lanes)) {}

  /// Binds a Var or Param leaf to its float lanes.
  void bind(ExprRef Leaf, Value *V) { Memo[Leaf] = V; }

  /// Marks what runs in double; call before lower(). The sums in Roots
  /// that may cancel, and the arithmetic they are computed from (down to
  /// function calls, leaves and exact products), since the cancellation
  /// would amplify those roundings too; and a root whose error bound in
  /// float (floatUlp) is over its budget (Budgets, one per root), so that it
  /// is rounded once.
  void plan(ArrayRef<ExprRef> Roots, ArrayRef<double> Budgets) {
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
  /// What a double demand passes through: arithmetic, and the exact
  /// operations that choose or change the sign of a value.
  static bool isArithmetic(Op O) {
    return O == Op::Add || O == Op::Sub || O == Op::Mul || O == Op::Div ||
           O == Op::Pow || isExact(O);
  }
  /// A bound on N's error in ULPs if its arithmetic ran in float: each
  /// function's own bound (its argument's rounding error goes along, see
  /// split()), plus half an ULP per rounding; a product adds its operands'
  /// relative errors, a same-sign sum takes the larger.
  double floatUlp(ExprRef N) {
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

  /// The error bound of a cancelling sum that lowerNode computes by one
  /// float VectorMath call (silu_grad, gelu_grad, x_sigmoid_cubic_grad),
  /// which therefore needs no double; else nullopt.
  std::optional<double> floatSumUlp(ExprRef N) {
    if (siluGradArg(N))
      return VectorMath::SiluGradMaxUlp;
    if (floatGelu(N, true))
      return VectorMath::GeluMaxUlp;
    if (xSigmoidCubicGradArg(N))
      return VectorMath::XSigmoidCubicMaxUlp;
    return std::nullopt;
  }

  /// geluArg(N, Derivative) of x itself, where VectorMath has gelu in
  /// float (an argument computed from x would need its rounding error).
  ExprRef floatGelu(ExprRef N, bool Derivative) {
    ExprRef U = VM.hasFloatGelu() ? geluArg(N, Derivative) : nullptr;
    return U && U->op() == Op::Var ? U : nullptr;
  }

  /// A sum whose terms may have opposite signs.
  bool mayCancel(ExprRef N) {
    if (N->op() != Op::Add && N->op() != Op::Sub)
      return false;
    Sign SA = Signs.of(N->operand(0)), SC = Signs.of(N->operand(1));
    if (N->op() == Op::Sub)
      SC = flip(SC);
    return SA == Sign::Any || SA != SC;
  }

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
  DenseMap<ExprRef, Value *> Memo;       // float or double lanes
  DenseMap<ExprRef, Value *> MemoD;      // double results of double functions
  DenseSet<ExprRef> Double;              // arithmetic planned in double
  DenseMap<ExprRef, double> Ulp;         // floatUlp()
  DenseMap<ExprRef, unsigned> Divisions; // quotients by each divisor
  DenseMap<ExprRef, Value *> Reciprocal; // 1/d in double, shared by them
  SignAnalysis Signs;

  Value *kd(double V) { return ConstantFP::get(VD, V); }
  Value *toDouble(Value *V) {
    return V->getType() == VD ? V : B.CreateFPExt(V, VD);
  }
  Value *toFloat(Value *V) {
    return V->getType() == VT ? V : B.CreateFPTrunc(V, VT);
  }
  /// Operand I as double lanes: a function that computes in double gives
  /// its unrounded result, and a float product of two floats is multiplied
  /// again in double, exactly (and without float's overflow).
  Value *arg(ExprRef N, unsigned I) {
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
  /// A float product of two values that are not themselves rounded
  /// arithmetic (leaves, constants, float function results): hi + lo is
  /// exact. (A function with a double result is better multiplied in
  /// double.)
  bool isExactProduct(ExprRef N) {
    if (N->op() != Op::Mul || Double.count(N))
      return false;
    for (ExprRef O : N->operands())
      if (isArithmetic(O->op()) || VectorMath::hasDoubleResult(O->op()))
        return false;
    return true;
  }
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
    return VM.call(B, Op::Exp, toFloat(B.CreateFMul(arg(N, 1), toDouble(Log))));
  }

  /// + - * / in float when both operands are float (or constants) and the
  /// operation cannot cancel: a product, a quotient, or a sum whose terms
  /// have the same sign. Each adds at most half an ULP to its operands'
  /// relative errors. A sum whose terms may differ in sign amplifies them by
  /// |a| / |a + b|, so it runs in double, and so does everything computed
  /// from a double value until it is rounded to feed a float function.
  Value *arithmetic(ExprRef N) {
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

  /// A product by a constant, a k or k a, or a / k as a (1/k): a's node and
  /// the multiplier.
  static std::optional<std::pair<ExprRef, double>> constFactor(ExprRef N) {
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

  /// E's float lanes: a float value, or a constant rounded to float; null
  /// for a double value.
  Value *floatOrConst(ExprRef E) {
    if (E->isConst())
      return ConstantFP::get(VT, E->value());
    Value *V = Memo[E];
    return V->getType() == VT ? V : nullptr;
  }

  /// The exact value of constant C as float hi + lo, hi rounded toward
  /// zero so that lo has C's sign (a kh + a kl is then inf, not NaN, for
  /// a = inf); lo is null when hi is exact.
  std::pair<Value *, Value *> splitConst(double C) {
    float H = static_cast<float>(C);
    if (std::fabs(H) > std::fabs(C))
      H = std::nextafter(H, 0.0f);
    return {ConstantFP::get(VT, H),
            H == C ? nullptr : ConstantFP::get(VT, C - H)};
  }

  /// The rounding error of a float +, -, * or / node, by the error-free
  /// transformations (TwoSum, and FMA for products and remainders),
  /// counting the rounding of a constant operand; null where there is none
  /// to recover.
  Value *floatLo(ExprRef N, Value *Hi) {
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
      Value *Finite =
          B.CreateFCmpOLT(B.CreateUnaryIntrinsic(Intrinsic::fabs, Lo),
                          ConstantFP::get(VT, INFINITY));
      R.Lo = B.CreateSelect(Finite, Lo, Zero);
      R.AbsLo =
          B.CreateSelect(B.CreateFCmpOLT(R.Hi, Zero), B.CreateFNeg(R.Lo), R.Lo);
    }
    return Split[N] = R;
  }

  /// One of our float functions at N's value: a double value is rounded,
  /// and its rounding error passed along where the function can use it.
  Value *callVM(Op O, ExprRef N, bool Double = false) {
    Parts P = split(N);
    Value *Lo = !VectorMath::takesLo(O)     ? nullptr
                : VectorMath::takesAbsLo(O) ? P.AbsLo
                                            : P.Lo;
    return VM.call(B, O, P.Hi, Lo, Double);
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
};

namespace {

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

/// The function calls in E that F does not already make.
unsigned newCalls(ExprRef E, ExprRef F) {
  DenseSet<ExprRef> InF;
  for (ExprRef N : postOrder(F))
    InF.insert(N);
  unsigned Count = 0;
  for (ExprRef N : postOrder(E))
    Count += VectorMath::provides(N->op()) && !InF.count(N);
  return Count;
}

/// L ones: the dy of a fused kernel called with dy == NULL.
GlobalVariable *onesArray(Module &M, unsigned L) {
  std::string Name = "netjit.ones." + std::to_string(L);
  if (GlobalVariable *G = M.getGlobalVariable(Name, true))
    return G;
  std::vector<float> One(L, 1.0f);
  Constant *Init = ConstantDataArray::get(M.getContext(), ArrayRef(One));
  auto *G = new GlobalVariable(M, Init->getType(), true,
                               GlobalValue::PrivateLinkage, Init, Name);
  G->setAlignment(Align(64));
  return G;
}

} // namespace

/// for (i = 0; i < n; i += L) out[i..] = compute(in[i..]). The computation
/// is emitted once (compile time grows with its size): it reads and writes
/// through address phis, which point into the arrays for full steps and, for
/// a partial step, at stack buffers filled and drained by masked loads and
/// stores around one more run of it. The partial steps are the last
/// (n - p) % L elements and, when streaming, the first p, which align the
/// outputs for non-temporal stores.
Error emitLoop(IRBuilder<> &B, Function *F, Value *N, unsigned L,
               ArrayRef<InStream> Ins, ArrayRef<Value *> Outs,
               ComputeFn Compute, Value **Live, bool Stream) {
  LLVMContext &Ctx = B.getContext();
  Type *I64 = B.getInt64Ty(), *Fl = B.getFloatTy(), *Ptr = B.getPtrTy();
  Type *VT = FixedVectorType::get(Fl, L);
  auto Block = [&](const char *Name) {
    return BasicBlock::Create(Ctx, Name, F);
  };
  BasicBlock *Entry = B.GetInsertBlock();
  BasicBlock *ToHead = Stream ? Block("to.head") : nullptr,
             *AfterHead = Block("after.head"), *First = Block("first"),
             *NoFull = Block("no.full"), *Head = Block("body"),
             *Next = Block("next"), *Again = Block("again"),
             *AfterFull = Block("after.full"), *Fill = Block("part.fill"),
             *ToTail = Block("to.tail"), *Drain = Block("part.drain"),
             *Exit = Block("exit");
  Value *Zero = ConstantInt::get(I64, 0);
  // n <= 0 writes nothing (a negative n would otherwise make a tail of it).
  N = B.CreateBinaryIntrinsic(Intrinsic::smax, N, Zero);
  // Partial-step buffers live in the entry block, so a loop around this one
  // does not grow the stack.
  IRBuilder<> EntryB(&F->getEntryBlock(), F->getEntryBlock().begin());
  auto Buffer = [&] {
    AllocaInst *A = EntryB.CreateAlloca(VT);
    A->setAlignment(Align(64));
    return A;
  };
  SmallVector<Value *, 4> InBuf, OutBuf;
  for (size_t K = 0; K < Ins.size(); ++K)
    InBuf.push_back(Buffer());
  for (size_t K = 0; K < Outs.size(); ++K)
    OutBuf.push_back(Buffer());
  // With two or more input streams, their buffers' addresses go to an
  // empty inline asm, which emits nothing: a buffer whose address escapes
  // stays in memory, so SROA does not turn the step's loads through the
  // address phis into phis of loads issued at the end of the step before.
  // Hoisted so, a fused kernel's dy (read last) lived across the whole body
  // and was spilled: with 8 vectors per step, out of cache, that ran 2-3x
  // slower. One stream (a forward kernel's x, read first) gains from being
  // loaded a step ahead (docs/performance.md).
  if (InBuf.size() > 1) {
    FunctionType *EscapeTy = FunctionType::get(B.getVoidTy(), {Ptr}, false);
    for (Value *Buf : InBuf)
      EntryB.CreateCall(
          InlineAsm::get(EscapeTy, "", "r", /*hasSideEffects=*/true), {Buf});
  }

  // Streaming: where the loop touches more than a last-level cache holds,
  // its outputs are gone from the cache before anyone reads them, so they
  // are written around it (no read for ownership, nothing evicted). That
  // needs every output aligned to the store width, reached by a head step
  // of p < L elements when all outputs sit alike modulo it.
  uint64_t AlignBytes = std::min<uint64_t>(64, 4 * L);
  Value *UseNT = B.getFalse(), *P = Zero;
  if (Stream && !Outs.empty()) {
    uint64_t Footprint = 4 * (Ins.size() + Outs.size());
    Value *Off = B.CreatePtrToInt(Outs[0], I64);
    UseNT = B.CreateAnd(
        B.CreateICmpUGE(N, ConstantInt::get(I64, StreamMinBytes / Footprint)),
        B.CreateICmpEQ(B.CreateAnd(Off, 3), Zero));
    Off = B.CreateAnd(Off, AlignBytes - 1);
    for (Value *O : ArrayRef(Outs).drop_front())
      UseNT = B.CreateAnd(
          UseNT, B.CreateICmpEQ(B.CreateAnd(B.CreatePtrToInt(O, I64),
                                            AlignBytes - 1),
                                Off));
    P = B.CreateSelect(UseNT,
                       B.CreateLShr(B.CreateAnd(B.CreateSub(Zero, Off),
                                                AlignBytes - 1),
                                    2),
                       Zero);
  }
  // Full steps run over [p, end).
  Value *End = B.CreateAdd(
      P, B.CreateAnd(B.CreateSub(N, P), ConstantInt::get(I64, ~uint64_t(L - 1))));
  // Lane j is live in a partial step of c elements when j < c.
  SmallVector<Constant *, 64> Iota;
  for (unsigned J = 0; J < L; ++J)
    Iota.push_back(ConstantInt::get(I64, J));
  Value *HasTail = B.CreateICmpSGT(N, End);
  Constant *AllLanes =
      ConstantInt::getTrue(VectorType::get(B.getInt1Ty(), L, false));
  auto At = [&](Value *Base, Value *Index, Value *IndexMask = nullptr) {
    if (IndexMask)
      Index = B.CreateAnd(Index, IndexMask);
    return B.CreateGEP(Fl, Base, Index);
  };

  // A partial step's start and element count: the head's [0, p) or the
  // tail's [end, n).
  B.SetInsertPoint(Fill);
  PHINode *PartAt = B.CreatePHI(I64, 2, "part.at");
  PHINode *PartCount = B.CreatePHI(I64, 2, "part.count");
  Value *PartMask = B.CreateICmpSLT(ConstantVector::get(Iota),
                                    B.CreateVectorSplat(L, PartCount));
  auto EnterPart = [&](Value *Start, Value *Count) {
    BasicBlock *From = B.GetInsertBlock();
    PartAt->addIncoming(Start, From);
    PartCount->addIncoming(Count, From);
    B.CreateBr(Fill);
  };

  // The step's state: index, lanes, partial flag, one address per stream.
  B.SetInsertPoint(Head);
  PHINode *I = B.CreatePHI(I64, 3, "i");
  PHINode *Mask = B.CreatePHI(PartMask->getType(), 3, "live");
  PHINode *IsPart = B.CreatePHI(B.getInt1Ty(), 3, "is.part");
  SmallVector<PHINode *, 4> InAddr, OutAddr;
  for (size_t K = 0; K < Ins.size(); ++K)
    InAddr.push_back(B.CreatePHI(Ptr, 3, "in"));
  for (size_t K = 0; K < Outs.size(); ++K)
    OutAddr.push_back(B.CreatePHI(Ptr, 3, "out"));
  auto Enter = [&](Value *Index, bool Part) {
    BasicBlock *From = B.GetInsertBlock();
    I->addIncoming(Index, From);
    Mask->addIncoming(Part ? (Value *)PartMask : AllLanes, From);
    IsPart->addIncoming(B.getInt1(Part), From);
    for (size_t K = 0; K < Ins.size(); ++K)
      InAddr[K]->addIncoming(
          Part ? InBuf[K] : At(Ins[K].Base, Index, Ins[K].IndexMask), From);
    for (size_t K = 0; K < Outs.size(); ++K)
      OutAddr[K]->addIncoming(Part ? OutBuf[K] : At(Outs[K], Index), From);
    B.CreateBr(Head);
  };

  B.SetInsertPoint(Entry);
  if (Stream) {
    B.CreateCondBr(B.CreateICmpSGT(P, Zero), ToHead, AfterHead);
    B.SetInsertPoint(ToHead);
    EnterPart(Zero, P);
  } else {
    B.CreateBr(AfterHead);
  }
  B.SetInsertPoint(AfterHead);
  B.CreateCondBr(B.CreateICmpSGT(End, P), First, NoFull);
  B.SetInsertPoint(First);
  Enter(P, false);
  B.SetInsertPoint(NoFull);
  B.CreateCondBr(HasTail, ToTail, Exit);
  B.SetInsertPoint(ToTail);
  EnterPart(End, B.CreateSub(N, End));

  B.SetInsertPoint(Head);
  if (Live)
    *Live = Mask;
  auto Res = Compute(
      [&](unsigned K) { return B.CreateAlignedLoad(VT, InAddr[K], Align(4)); });
  if (!Res)
    return Res.takeError();
  auto Store = [&](bool NT) {
    for (size_t K = 0; K < Outs.size(); ++K) {
      StoreInst *S =
          B.CreateAlignedStore((*Res)[K], OutAddr[K], Align(NT ? AlignBytes : 4));
      if (NT)
        S->setMetadata(LLVMContext::MD_nontemporal,
                       MDNode::get(Ctx, ConstantAsMetadata::get(B.getInt32(1))));
    }
  };
  if (Stream) {
    BasicBlock *NT = Block("store.nt"), *Plain = Block("store"),
               *Stored = Block("stored");
    B.CreateCondBr(B.CreateAnd(UseNT, B.CreateNot(IsPart)), NT, Plain);
    for (auto [BB, IsNT] : {std::pair(NT, true), std::pair(Plain, false)}) {
      B.SetInsertPoint(BB);
      Store(IsNT);
      B.CreateBr(Stored);
    }
    B.SetInsertPoint(Stored);
  } else {
    Store(false);
  }
  B.CreateCondBr(IsPart, Drain, Next);

  B.SetInsertPoint(Next);
  Value *INext = B.CreateAdd(I, ConstantInt::get(I64, L), "i.next", true, true);
  B.CreateCondBr(B.CreateICmpSLT(INext, End), Again, AfterFull);
  B.SetInsertPoint(Again);
  Enter(INext, false);
  B.SetInsertPoint(AfterFull);
  B.CreateCondBr(HasTail, ToTail, Exit);

  B.SetInsertPoint(Fill);
  for (size_t K = 0; K < Ins.size(); ++K)
    B.CreateAlignedStore(
        B.CreateMaskedLoad(VT, At(Ins[K].Base, PartAt, Ins[K].IndexMask),
                           Align(4), PartMask, ConstantFP::get(VT, 0)),
        InBuf[K], Align(64));
  Enter(PartAt, true);

  B.SetInsertPoint(Drain);
  for (size_t K = 0; K < Outs.size(); ++K)
    B.CreateMaskedStore(B.CreateAlignedLoad(VT, OutBuf[K], Align(64)),
                        At(Outs[K], I), Align(4), Mask);
  // The head step starts below p, the tail at end >= p.
  B.CreateCondBr(B.CreateICmpSLT(I, P), AfterHead, Exit);
  B.SetInsertPoint(Exit);
  if (Stream) {
    // Non-temporal stores are weakly ordered: fence them before the caller
    // hands the outputs on (to another thread, say).
    BasicBlock *Fence = Block("fence"), *Done = Block("done");
    B.CreateCondBr(UseNT, Fence, Done);
    B.SetInsertPoint(Fence);
    B.CreateFence(AtomicOrdering::SequentiallyConsistent);
    B.CreateBr(Done);
    B.SetInsertPoint(Done);
  }
  return Error::success();
}

unsigned defaultInterleave(unsigned Lanes) {
  // Measured on AVX-512 (docs/performance.md): 4 beats 2 by 20-50% on
  // sigmoid, silu and softplus; 16 ymm or xmm registers hold about half.
  return Lanes >= 16 ? 4 : 2;
}

/// The cost of one native vector of A's fused step (y = f(x), dx = dy
/// f'(x)): the step emitted at Lanes lanes into a probe module, and walked
/// as O3 will leave it (estimateStepCost).
static StepCost fusedStepCost(LLVMContext &Ctx, const ActivationForms &A,
                              const ActivationCode &Code, unsigned Lanes) {
  Module Probe("netjit.probe", Ctx);
  Type *VT = FixedVectorType::get(Type::getFloatTy(Ctx), Lanes);
  SmallVector<Type *, 8> Args(2 + A.Params.size(), VT);
  Args.push_back(PointerType::get(Ctx, 0));
  Function *F =
      Function::Create(FunctionType::get(Type::getVoidTy(Ctx), Args, false),
                       GlobalValue::ExternalLinkage, "step", Probe);
  IRBuilder<> B(BasicBlock::Create(Ctx, "entry", F));
  VectorMath VM(Probe, Lanes, /*Avx512=*/Lanes == 16);
  ParamLanes P;
  for (size_t I = 0; I < A.Params.size(); ++I)
    P[A.Params[I]] = F->getArg(2 + I);
  auto YD = Code.fused(B, VM, Lanes, F->getArg(0), P);
  if (!YD) { // the kernel's own lowering reports it
    consumeError(YD.takeError());
    return {};
  }
  Value *Out = F->getArg(Args.size() - 1);
  B.CreateStore(YD->first, Out);
  B.CreateStore(B.CreateFMul(F->getArg(1), YD->second),
                B.CreateConstGEP1_64(VT, Out, 1));
  B.CreateRetVoid();

  return estimateStepCost(*F);
}

/// Cycles of dependency chain per instruction above which a fused step is
/// bound by latency, so that 8 vectors per step beat 4. Measured on AVX-512
/// (docs/performance.md): sigmoid (1.90) and mish (1.68) gain 5-20%;
/// tanh (1.55) gains 0-4% and, with softplus (1.52), silu (1.45), gelu
/// (0.77) and gelu_tanh (0.72), loses up to 17% somewhere.
constexpr double LatencyBoundChain = 1.6;
/// Instructions per vector below which a step is bound by memory whatever
/// its chain: exponential's fused step (21, chain 2.5 per instruction) ran
/// 4% slower in cache and 27% out of cache with 8 vectors; sigmoid's is 40.
constexpr double LatencyBoundMinSize = 30;

/// Vectors per step of kernel K when the caller leaves it open. A forward
/// kernel that calls vector math is bound by its call's dependency chain,
/// and with one input and one output 8 vectors still fit AVX-512's 32
/// registers: 3-29% faster than 4 for every such catalogue activation, in
/// cache and out. A fused kernel takes 8 where its step is bound by latency
/// (LatencyBoundChain); where it is not, 8 vectors spill more than they
/// hide. relu's kernels, bound by memory, lose 5-11% with 8. Backward
/// kernels keep 4: with 8, half the catalogue loses (gelu_tanh -15%).
static unsigned kernelInterleave(LLVMContext &Ctx, const ActivationForms &A,
                                 unsigned Lanes, KernelKind K,
                                 const ActivationCode &Code) {
  if (Lanes < 16 || K == KernelKind::Backward || !Code.forwardCallsVectorMath())
    return defaultInterleave(Lanes);
  if (K == KernelKind::Forward)
    return 8;
  StepCost C = fusedStepCost(Ctx, A, Code, Lanes);
  return C.Instructions >= LatencyBoundMinSize &&
                 C.chainPerInstruction() > LatencyBoundChain
             ? 8
             : defaultInterleave(Lanes);
}

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

ActivationCode::ActivationCode(const ActivationForms &A) : A(A) {
  // The y form saves recomputing f's transcendentals, but only where it is
  // as accurate as the x form (isStableInOutput).
  DY = A.DerivativeY && isStableInOutput(A.DerivativeY) ? A.DerivativeY
                                                         : nullptr;
  Fwd = stabilizeForFloat(*A.Ctx, A.Forward);
  DX = stabilizeForFloat(*A.Ctx, A.Derivative);
  // The fused form has f's values at hand: it takes the y form only if that
  // calls fewer functions f does not already call (elu's y + alpha against
  // exp(x)); softplus' sigmoid(x) shares exp(-|x|) with softplus, where
  // -expm1(-y) would need a second exp.
  DFused = DY && newCalls(DY, Fwd) < newCalls(DX, Fwd) ? DY : DX;
  // Every lowering plans float and double arithmetic over all forms, so
  // that they compute y alike, bit for bit.
  Roots = {Fwd, DX};
  Budgets = {ForwardBudget, DerivativeBudget};
  if (DY) {
    Roots.push_back(DY);
    Budgets.push_back(DerivativeBudget);
  }
}

ActivationCode::~ActivationCode() = default;

bool ActivationCode::forwardCallsVectorMath() const {
  return llvm::any_of(postOrder(Fwd),
                      [](ExprRef N) { return VectorMath::provides(N->op()); });
}

std::unique_ptr<ExprLowering>
ActivationCode::lowering(IRBuilder<> &B, VectorMath &VM, unsigned L, Value *X,
                         Value *Y, const ParamLanes &P, ExprRef Extra) const {
  auto Low = std::make_unique<ExprLowering>(B, VM, L);
  SmallVector<ExprRef, 4> R(Roots.begin(), Roots.end());
  SmallVector<double, 4> Bu(Budgets.begin(), Budgets.end());
  if (Extra) {
    R.push_back(Extra);
    Bu.push_back(DerivativeBudget);
  }
  std::vector<ExprRef> Leaves;
  for (ExprRef E : R)
    leavesOf(E, Leaves);
  for (ExprRef Leaf : Leaves) {
    if (Leaf->op() == Op::Param) {
      auto It = P.find(Leaf->name().str());
      if (It != P.end())
        Low->bind(Leaf, It->second);
    }
  }
  Low->plan(R, Bu);
  for (ExprRef Leaf : Leaves) {
    if (X && Leaf->isVar("x"))
      Low->bind(Leaf, X);
    if (Y && Leaf->isVar("y"))
      Low->bind(Leaf, Y);
  }
  return Low;
}

Expected<Value *> ActivationCode::forward(IRBuilder<> &B, VectorMath &VM,
                                          unsigned L, Value *X,
                                          const ParamLanes &P) const {
  return lowering(B, VM, L, X, nullptr, P)->lower(Fwd);
}

Expected<std::pair<Value *, Value *>>
ActivationCode::fused(IRBuilder<> &B, VectorMath &VM, unsigned L, Value *X,
                      const ParamLanes &P) const {
  auto Low = lowering(B, VM, L, X, nullptr, P);
  auto Y = Low->lower(Fwd);
  if (!Y)
    return Y.takeError();
  if (DFused == DY) {
    for (ExprRef N : postOrder(DY))
      if (N->isVar("y"))
        Low->bind(N, *Y);
  }
  auto D = Low->lower(DFused);
  if (!D)
    return D.takeError();
  return std::make_pair(*Y, *D);
}

Expected<Value *> ActivationCode::derivative(IRBuilder<> &B, VectorMath &VM,
                                             unsigned L, Value *X, Value *Y,
                                             const ParamLanes &P) const {
  return lowering(B, VM, L, X, DY ? Y : nullptr, P)->lower(DY ? DY : DX);
}

Expected<Value *> ActivationCode::paramDerivative(IRBuilder<> &B,
                                                  VectorMath &VM, unsigned L,
                                                  StringRef Param, Value *X,
                                                  const ParamLanes &P) const {
  auto It = A.ParamDerivatives.find(Param.str());
  if (It == A.ParamDerivatives.end())
    return plainError(ErrorKind::Compile,
                      "no derivative for parameter '" + Param + "'");
  ExprRef D = stabilizeForFloat(*A.Ctx, It->second);
  return lowering(B, VM, L, X, nullptr, P, D)->lower(D);
}

Error emitActivationKernels(Module &M, const ActivationForms &A, StringRef Name,
                            unsigned Lanes, ArrayRef<KernelKind> Kinds,
                            unsigned Interleave) {
  if (Interleave != 0 && (!isPowerOf2_32(Interleave) || Interleave > 8))
    return plainError(ErrorKind::Usage,
                      "interleave must be 1, 2, 4 or 8, not " +
                          Twine(Interleave));
  LLVMContext &Ctx = M.getContext();
  ActivationCode Code(A);
  // One VectorMath per step width (its functions are named by their lanes).
  std::map<unsigned, std::unique_ptr<VectorMath>> VMs;

  for (KernelKind K : Kinds) {
    // U native vectors per step: the backend splits each <U*Lanes x float>
    // operation into U independent ones, whose latency chains then overlap
    // (one chain of a polynomial's FMAs is latency-bound).
    unsigned L =
        Lanes *
        (Interleave ? Interleave : kernelInterleave(Ctx, A, Lanes, K, Code));
    std::unique_ptr<VectorMath> &VMP = VMs[L];
    if (!VMP) // 16 native lanes means x86 with AVX-512F (vectorLanes()).
      VMP = std::make_unique<VectorMath>(M, L, /*Avx512=*/Lanes == 16);
    VectorMath &VM = *VMP;
    unsigned NumPtrs = K == KernelKind::Forward ? 2 : 4;
    Function *F = declareKernel(M, kernelSymbol(Name, K), NumPtrs, Lanes);
    IRBuilder<> B(BasicBlock::Create(Ctx, "entry", F));
    Value *N = F->getArg(NumPtrs), *P = F->getArg(NumPtrs + 1);
    // Parameter splats, hoisted out of the loop.
    ParamLanes Splat;
    for (size_t I = 0; I < A.Params.size(); ++I) {
      Value *S = B.CreateLoad(B.getFloatTy(),
                              B.CreateConstGEP1_64(B.getFloatTy(), P, I),
                              A.Params[I]);
      Splat[A.Params[I]] = B.CreateVectorSplat(L, S);
    }

    Error E = Error::success();
    if (K == KernelKind::Forward) {
      // forward(x, y, n, p): y = f(x)
      E = emitLoop(B, F, N, L, {{F->getArg(0)}}, {F->getArg(1)},
                   [&](LoadFn In) -> Expected<SmallVector<Value *, 2>> {
                     auto Y = Code.forward(B, VM, L, In(0), Splat);
                     if (!Y)
                       return Y.takeError();
                     return SmallVector<Value *, 2>{*Y};
                   },
                   nullptr, /*Stream=*/true);
    } else if (K == KernelKind::Backward) {
      // backward(x, y, dy, dx, n, p): dx = dy f'(x), from y where stable
      E = emitLoop(B, F, N, L, {{F->getArg(0)}, {F->getArg(1)}, {F->getArg(2)}},
                   {F->getArg(3)},
                   [&](LoadFn In) -> Expected<SmallVector<Value *, 2>> {
                     Value *Y = Code.derivativeFromY() ? In(1) : nullptr;
                     auto D = Code.derivative(B, VM, L, In(0), Y, Splat);
                     if (!D)
                       return D.takeError();
                     return SmallVector<Value *, 2>{B.CreateFMul(In(2), *D)};
                   },
                   nullptr, /*Stream=*/true);
    } else {
      // fused(x, dy, y, dx, n, p): y = f(x), dx = dy f'(x); dy == NULL reads
      // ones (index mask 0), so dx = f'(x) with the same code.
      GlobalVariable *Ones = onesArray(M, L);
      Value *DyArg = F->getArg(1);
      Value *NoDy = B.CreateIsNull(DyArg);
      InStream Dy{B.CreateSelect(NoDy, Ones, DyArg),
                  B.CreateSelect(NoDy, B.getInt64(0), B.getInt64(-1))};
      E = emitLoop(
          B, F, N, L, {{F->getArg(0)}, Dy}, {F->getArg(2), F->getArg(3)},
          [&](LoadFn In) -> Expected<SmallVector<Value *, 2>> {
            auto YD = Code.fused(B, VM, L, In(0), Splat);
            if (!YD)
              return YD.takeError();
            return SmallVector<Value *, 2>{YD->first,
                                           B.CreateFMul(In(1), YD->second)};
          },
          nullptr, /*Stream=*/true);
    }
    if (E)
      return E;
    B.CreateRetVoid();
  }
  return Error::success();
}

} // namespace netjit
