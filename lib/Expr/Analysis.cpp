// Analysis.cpp - the sign analysis and the pattern matchers over
// expressions (Analysis.h).
#include "netjit/Expr/Analysis.h"

#include <cmath>

using namespace llvm;

namespace netjit {

Sign flip(Sign S) {
  return S == Sign::Pos ? Sign::Neg : S == Sign::Neg ? Sign::Pos : Sign::Any;
}

namespace {
Sign join(Sign A, Sign B) { return A == B ? A : Sign::Any; }
Sign times(Sign A, Sign B) {
  if (A == Sign::Any || B == Sign::Any)
    return Sign::Any;
  return A == B ? Sign::Pos : Sign::Neg;
}

} // namespace

Sign SignAnalysis::of(ExprRef E) {
  if (auto It = Memo.find(E); It != Memo.end())
    return It->second;
  return Memo[E] = compute(E);
}

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

ExprRef sigmoidPairArg(ExprRef N) {
  for (unsigned I = 0; I < 2 && N->op() == Op::Mul; ++I)
    if (N->operand(I)->op() == Op::Sigmoid &&
        isSigmoidOfNeg(N->operand(1 - I), N->operand(I)->operand(0)))
      return N->operand(I)->operand(0);
  return nullptr;
}

ExprRef geluArg(ExprRef N, bool Derivative) {
  auto Product = [](ExprRef M, Op F) -> ExprRef {
    for (unsigned I = 0; I < 2 && M->op() == Op::Mul; ++I)
      if (M->operand(I)->op() == F &&
          M->operand(I)->operand(0) == M->operand(1 - I))
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

/// A C, or nullopt past degree 3.
static std::optional<Cubic> times(const Cubic &A, const Cubic &C) {
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
std::optional<Cubic> polynomial(ExprRef E, unsigned Depth) {
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

std::optional<OddCubic> xSigmoidCubicArg(ExprRef N) {
  for (unsigned I = 0; I < 2 && N->op() == Op::Mul; ++I)
    if (N->operand(I)->op() == Op::Var &&
        N->operand(1 - I)->op() == Op::Sigmoid)
      if (auto C = oddCubic(N->operand(1 - I)->operand(0));
          C && C->X == N->operand(I))
        return C;
  return std::nullopt;
}

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

} // namespace netjit
