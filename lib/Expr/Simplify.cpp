// Simplify.cpp - the rewrite-rule table and its fixed-point driver.
//
// Sums and products have one canonical form each (flattened, like terms and
// powers collected, operands in a structural order, the numeric coefficient
// first), so equal values built in different ways meet as one node.
#include "netjit/Expr/Simplify.h"

#include "netjit/Expr/Canonical.h"
#include "netjit/Expr/Evaluate.h"
#include "llvm/ADT/DenseMap.h"
#include <cmath>

using namespace llvm;

namespace netjit {
namespace {

class Simplifier;
using RuleFn = ExprRef (*)(Simplifier &S, ExprRef N);

struct Rule {
  RewriteRuleInfo Info;
  RuleFn Apply;
  bool DistributeOnly = false;
};

class Simplifier {
public:
  Simplifier(ExprContext &C, const SimplifyOptions &O)
      : C(C), O(O), NodesBefore(C.size()) {}
  ExprRef run(ExprRef E);
  ExprContext &C;
  const SimplifyOptions &O;

private:
  ExprRef visit(ExprRef E);
  ExprRef visitTerms(ExprRef E);
  ExprRef rewriteOnce(ExprRef N);
  DenseMap<ExprRef, ExprRef> Memo;
  unsigned Budget = 1000000; // rule applications; guards against cycles
  size_t NodesBefore;        // C's, for O.MaxNewNodes
};

ExprRef K(Simplifier &S, double V) { return S.C.constant(V); }
bool isSum(ExprRef E) { return E->op() == Op::Add || E->op() == Op::Sub; }
bool isProduct(ExprRef E) { return E->op() == Op::Mul || E->op() == Op::Div; }
/// A and B flatten into one canonical form (both sums or both products).
bool sameFamily(ExprRef A, ExprRef B) {
  return (isSum(A) && isSum(B)) || (isProduct(A) && isProduct(B));
}

// ---- The rules. Each returns the rewritten node, or nullptr. ----

// op(c1, c2, ...) -> c   when the result is finite (1/0 and log(-1) stay, to
// be reported, not hidden)
ExprRef foldConstants(Simplifier &S, ExprRef N) {
  std::vector<double> V;
  bool AllFinite = true;
  for (ExprRef A : N->operands()) {
    if (!A->isConst())
      return nullptr;
    V.push_back(A->value());
    AllFinite &= std::isfinite(A->value());
  }
  double R = applyOp(N->op(), V);
  if (!std::isfinite(R) && AllFinite)
    return nullptr;
  return K(S, R);
}

// where(c, a, a) -> a
ExprRef whereSame(Simplifier &S, ExprRef N) {
  if (N->op() == Op::Where && N->operand(1) == N->operand(2))
    return N->operand(1);
  return nullptr;
}

// where(k, a, b) -> a if k != 0, else b
ExprRef whereConst(Simplifier &S, ExprRef N) {
  if (N->op() == Op::Where && N->operand(0)->isConst())
    return N->operand(0)->value() != 0 ? N->operand(1) : N->operand(2);
  return nullptr;
}

// -(-a) -> a
ExprRef negNeg(Simplifier &S, ExprRef N) {
  if (N->op() == Op::Neg && N->operand(0)->op() == Op::Neg)
    return N->operand(0)->operand(0);
  return nullptr;
}

// a1 + a2 - a3 ... -> canonical sum (like terms collected: a + a -> 2 a)
ExprRef canonicalSum(Simplifier &S, ExprRef N) {
  if (!isSum(N))
    return nullptr;
  return buildCanonicalSum(S.C, N);
}

// a1 * a2 / a3 ... -> canonical product (powers collected: a a -> a^2,
// a^2 / a -> a; constants folded into one leading coefficient)
ExprRef canonicalProduct(Simplifier &S, ExprRef N) {
  switch (N->op()) {
  case Op::Mul:
  case Op::Div:
  case Op::Neg:
    break;
  case Op::Pow:
    if (N->operand(1)->isConst())
      break;
    return nullptr;
  default:
    return nullptr;
  }
  ProductForm P;
  if (!P.flatten(N))
    return nullptr;
  return P.build(S.C);
}

// log(1 + u) -> log1p(u);  log(1 - u) -> log1p(-u)
ExprRef logOnePlus(Simplifier &S, ExprRef N) {
  if (N->op() != Op::Log || !isSum(N->operand(0)))
    return nullptr;
  ExprRef A = N->operand(0);
  if (!A->operand(0)->isConst(1))
    return nullptr;
  ExprRef U = A->op() == Op::Add ? A->operand(1) : S.C.neg(A->operand(1));
  return S.C.call(Op::Log1p, U);
}

// log1p(exp(u)) -> softplus(u)   (no overflow for large u)
ExprRef log1pExp(Simplifier &S, ExprRef N) {
  if (N->op() == Op::Log1p && N->operand(0)->op() == Op::Exp)
    return S.C.call(Op::Softplus, N->operand(0)->operand(0));
  return nullptr;
}

// exp(u) - 1 -> expm1(u)   (no cancellation near 0)
ExprRef expMinusOne(Simplifier &S, ExprRef N) {
  if (N->op() == Op::Sub && N->operand(0)->op() == Op::Exp &&
      N->operand(1)->isConst(1))
    return S.C.call(Op::Expm1, N->operand(0)->operand(0));
  return nullptr;
}

// log(exp(u)) -> u
ExprRef logExp(Simplifier &S, ExprRef N) {
  if (N->op() == Op::Log && N->operand(0)->op() == Op::Exp)
    return N->operand(0)->operand(0);
  return nullptr;
}

// log(sigmoid(u)) -> -softplus(-u)   (finite for very negative u)
ExprRef logSigmoid(Simplifier &S, ExprRef N) {
  if (N->op() == Op::Log && N->operand(0)->op() == Op::Sigmoid)
    return S.C.neg(S.C.call(Op::Softplus, S.C.neg(N->operand(0)->operand(0))));
  return nullptr;
}

// 1 / (1 + exp(u)) -> sigmoid(-u)
ExprRef sigmoidRecip(Simplifier &S, ExprRef N) {
  if (N->op() != Op::Div || !N->operand(0)->isConst(1))
    return nullptr;
  ExprRef D = N->operand(1);
  if (D->op() == Op::Add && D->operand(0)->isConst(1) &&
      D->operand(1)->op() == Op::Exp)
    return S.C.call(Op::Sigmoid, S.C.neg(D->operand(1)->operand(0)));
  return nullptr;
}

// 1 - sigmoid(u) -> sigmoid(-u);  1 + erf(u) -> erfc(-u);  1 - erf(u) ->
// erfc(u) (exact, and no cancellation where sigmoid or erf approach 1)
ExprRef complement(Simplifier &S, ExprRef N) {
  if (!isSum(N) || !N->operand(0)->isConst(1))
    return nullptr;
  ExprRef F = N->operand(1);
  bool Minus = N->op() == Op::Sub;
  if (Minus && F->op() == Op::Sigmoid)
    return S.C.call(Op::Sigmoid, S.C.neg(F->operand(0)));
  if (F->op() == Op::Erf)
    return S.C.call(Op::Erfc, Minus ? F->operand(0) : S.C.neg(F->operand(0)));
  // 1 +- tanh(u) = 2 sigmoid(+-2u)
  if (F->op() == Op::Tanh) {
    ExprRef U2 = S.C.mul(K(S, 2), F->operand(0));
    return S.C.mul(K(S, 2), S.C.call(Op::Sigmoid, Minus ? S.C.neg(U2) : U2));
  }
  return nullptr;
}

// erfc(k u) -> 2 normcdf(-sqrt(2) k u)   when |k| = 1/sqrt(2), so the new
// argument is +-u: the Gaussian CDF GELU is built from, with phi as its exact
// derivative (one shared exp in the fused kernel instead of two)
ExprRef erfcNormcdf(Simplifier &S, ExprRef N) {
  if (N->op() != Op::Erfc)
    return nullptr;
  auto [Coef, Rest] = splitCoefficient(S.C, N->operand(0));
  if (!Rest || std::fabs(std::fabs(Coef) * std::sqrt(2.0) - 1) > 1e-15)
    return nullptr;
  return S.C.mul(K(S, 2),
                 S.C.call(Op::Normcdf, Coef < 0 ? Rest : S.C.neg(Rest)));
}

// c + u / k -> (c k + u) / k   when c k is exact: near u = -c k the sum is
// then exact (Sterbenz) instead of cancelling a rounded quotient
ExprRef sumOverConstant(Simplifier &S, ExprRef N) {
  if (N->op() != Op::Add || !N->operand(0)->isConst())
    return nullptr;
  ExprRef D = N->operand(1);
  if (D->op() != Op::Div || !D->operand(1)->isConst() || !D->hasX())
    return nullptr;
  double C = N->operand(0)->value(), Kd = D->operand(1)->value();
  double CK = C * Kd;
  if (!std::isfinite(CK) || std::fma(C, Kd, -CK) != 0)
    return nullptr;
  return S.C.div(S.C.add(K(S, CK), D->operand(0)), D->operand(1));
}

// sqrt(u^2) -> abs(u)
ExprRef sqrtSquare(Simplifier &S, ExprRef N) {
  if (N->op() == Op::Sqrt && N->operand(0)->op() == Op::Pow &&
      N->operand(0)->operand(1)->isConst(2))
    return S.C.call(Op::Abs, N->operand(0)->operand(0));
  return nullptr;
}

// abs(-u) -> abs(u);  abs(abs(u)) -> abs(u);  normpdf(-u) -> normpdf(u)
ExprRef absNeg(Simplifier &S, ExprRef N) {
  if (N->op() == Op::Normpdf && N->operand(0)->op() == Op::Neg)
    return S.C.call(Op::Normpdf, N->operand(0)->operand(0));
  if (N->op() != Op::Abs)
    return nullptr;
  ExprRef A = N->operand(0);
  if (A->op() == Op::Neg)
    return S.C.call(Op::Abs, A->operand(0));
  if (A->op() == Op::Abs)
    return A;
  return nullptr;
}

// c (a + b) -> c a + c b;  (a + b) / c -> a / c + b / c   (c input-free)
ExprRef distributeSum(Simplifier &S, ExprRef N) {
  ExprRef Sum, Factor;
  if (N->op() == Op::Mul && isSum(N->operand(1)) &&
      N->operand(0)->isInputFree()) {
    Factor = N->operand(0);
    Sum = N->operand(1);
    return S.C.make(Sum->op(), {S.C.mul(Factor, Sum->operand(0)),
                                S.C.mul(Factor, Sum->operand(1))});
  }
  if (N->op() == Op::Div && isSum(N->operand(0)) &&
      N->operand(1)->isInputFree()) {
    Factor = N->operand(1);
    Sum = N->operand(0);
    return S.C.make(Sum->op(), {S.C.div(Sum->operand(0), Factor),
                                S.C.div(Sum->operand(1), Factor)});
  }
  return nullptr;
}

// c where(k, a, b) -> where(k, c a, c b)   (c input-free)
ExprRef distributeWhere(Simplifier &S, ExprRef N) {
  if (N->op() != Op::Mul || N->operand(1)->op() != Op::Where ||
      !N->operand(0)->isInputFree())
    return nullptr;
  ExprRef C = N->operand(0), W = N->operand(1);
  return S.C.where(W->operand(0), S.C.mul(C, W->operand(1)),
                   S.C.mul(C, W->operand(2)));
}

// u sign(u) -> abs(u);  a u sign(u) -> a abs(u)
ExprRef signProduct(Simplifier &S, ExprRef N) {
  if (N->op() != Op::Mul || N->operand(1)->op() != Op::Sign)
    return nullptr;
  ExprRef U = N->operand(1)->operand(0), A = N->operand(0);
  if (A == U)
    return S.C.call(Op::Abs, U);
  if (A->op() == Op::Mul && A->operand(1) == U)
    return S.C.mul(A->operand(0), S.C.call(Op::Abs, U));
  return nullptr;
}

// a / u +- b / u^2 -> (a u +- b) / u^2   (the quotient rule's two terms
// over one denominator, so that like terms in the numerator can cancel:
// softsign' = 1 / (1 + |x|)^2 instead of a difference that loses every digit)
ExprRef commonDenominator(Simplifier &S, ExprRef N) {
  if (!isSum(N) || N->operand(0)->op() != Op::Div ||
      N->operand(1)->op() != Op::Div)
    return nullptr;
  ExprRef L = N->operand(0), R = N->operand(1);
  ExprRef U = L->operand(1), U2 = R->operand(1);
  if (U2->op() != Op::Pow || U2->operand(0) != U || !U2->operand(1)->isConst(2))
    return nullptr;
  ExprRef Num = S.C.make(N->op(), {S.C.mul(L->operand(0), U), R->operand(0)});
  return S.C.div(Num, U2);
}

const Rule Rules[] = {
    {{"fold-constants", "op(c1, c2) -> c"}, foldConstants},
    {{"where-same", "where(c, a, a) -> a"}, whereSame},
    {{"where-const", "where(k, a, b) -> a (k != 0) or b (k = 0)"}, whereConst},
    {{"neg-neg", "-(-a) -> a"}, negNeg},
    {{"log-one-plus", "log(1 + u) -> log1p(u); log(1 - u) -> log1p(-u)"},
     logOnePlus},
    {{"log1p-exp", "log1p(exp(u)) -> softplus(u)"}, log1pExp},
    {{"exp-minus-one", "exp(u) - 1 -> expm1(u)"}, expMinusOne},
    {{"log-exp", "log(exp(u)) -> u"}, logExp},
    {{"log-sigmoid", "log(sigmoid(u)) -> -softplus(-u)"}, logSigmoid},
    {{"sigmoid-recip", "1 / (1 + exp(u)) -> sigmoid(-u)"}, sigmoidRecip},
    {{"complement",
      "1 - sigmoid(u) -> sigmoid(-u); 1 + erf(u) -> erfc(-u); 1 - erf(u) -> "
      "erfc(u); 1 +- tanh(u) -> 2 sigmoid(+-2u)"},
     complement},
    {{"erfc-normcdf", "erfc(u / sqrt 2) -> 2 normcdf(-u); erfc(-u / sqrt 2) "
                      "-> 2 normcdf(u)"},
     erfcNormcdf},
    {{"sum-over-constant", "c + u / k -> (c k + u) / k (c k exact)"},
     sumOverConstant},
    {{"sqrt-square", "sqrt(u^2) -> abs(u)"}, sqrtSquare},
    {{"sign-product", "u sign(u) -> abs(u)"}, signProduct},
    {{"common-denominator", "a / u +- b / u^2 -> (a u +- b) / u^2"},
     commonDenominator},
    {{"abs-neg",
      "abs(-u) -> abs(u); abs(abs(u)) -> abs(u); normpdf(-u) -> normpdf(u)"},
     absNeg},
    {{"canonical-sum",
      "a + b - c: like terms collected (a + a -> 2 a), constant first"},
     canonicalSum},
    {{"canonical-product",
      "a * b / c: powers collected (a a -> a^2, a^2 / a -> a), one leading "
      "coefficient"},
     canonicalProduct},
    {{"distribute", "c (a + b) -> c a + c b, c input-free (y-rewrite only)"},
     distributeSum,
     /*DistributeOnly=*/true},
    {{"distribute-where",
      "c where(k, a, b) -> where(k, c a, c b), c input-free (y-rewrite only)"},
     distributeWhere,
     /*DistributeOnly=*/true},
};

ExprRef Simplifier::rewriteOnce(ExprRef N) {
  if (C.size() - NodesBefore > O.MaxNewNodes)
    Budget = 0;
  if (Budget == 0)
    return nullptr;
  for (const Rule &R : Rules) {
    if (R.DistributeOnly && !O.Distribute)
      continue;
    ExprRef New = R.Apply(*this, N);
    // No rewrite takes a node past MaxDepth (collecting a balanced sum of
    // thousands of terms would make a chain as long): every later walk,
    // recursive ones included, then sees at most twice the parser's bound.
    if (New && New != N &&
        (New->depth() <= MaxDepth || New->depth() <= N->depth())) {
      --Budget;
      return New;
    }
  }
  return nullptr;
}

ExprRef Simplifier::visit(ExprRef E) {
  if (E->numOperands() == 0)
    return E;
  auto It = Memo.find(E);
  if (It != Memo.end())
    return It->second;
  ExprRef N = E;
  for (;;) {
    // Operands first, then the rules at this node; a rewrite may build new
    // operands, so loop until no rule fires here.
    std::vector<ExprRef> Ops;
    for (ExprRef A : N->operands())
      Ops.push_back(sameFamily(N, A) ? visitTerms(A) : visit(A));
    N = C.make(N->op(), Ops);
    if (N->numOperands() == 0)
      break;
    auto Done = Memo.find(N);
    if (Done != Memo.end() && Done->second == N)
      break;
    ExprRef R = rewriteOnce(N);
    if (!R)
      break;
    N = R;
    if (N->numOperands() == 0)
      break;
  }
  Memo[E] = N;
  Memo[N] = N;
  return N;
}

/// A sum inside a sum (a product inside a product) keeps its shape, only
/// its terms simplified: the outermost one then collects the whole chain
/// once. (Canonicalizing each prefix of a + b + c + ... would cost time
/// quadratic in its length.)
ExprRef Simplifier::visitTerms(ExprRef E) {
  std::vector<ExprRef> Ops;
  for (ExprRef A : E->operands())
    Ops.push_back(sameFamily(E, A) ? visitTerms(A) : visit(A));
  return C.make(E->op(), Ops);
}

ExprRef Simplifier::run(ExprRef E) {
  for (unsigned Round = 0; Round < O.MaxRounds; ++Round) {
    Memo.clear();
    ExprRef R = visit(E);
    if (R == E)
      break;
    E = R;
  }
  return E;
}

} // namespace

ArrayRef<RewriteRuleInfo> rewriteRules() {
  static std::vector<RewriteRuleInfo> Infos = [] {
    std::vector<RewriteRuleInfo> V;
    for (const Rule &R : Rules)
      V.push_back(R.Info);
    return V;
  }();
  return Infos;
}

ExprRef simplify(ExprContext &Ctx, ExprRef E, const SimplifyOptions &Opts) {
  return Simplifier(Ctx, Opts).run(E);
}

namespace {
/// n = e^u (2 + e^u) = (1 + e^u)^2 - 1, so that tanh(softplus(u)) =
/// n / (n + 2) and 1 - tanh(softplus(u))^2 = 4 (n + 1) / (n + 2)^2 with
/// nothing cancelling. Past u = 80 they are 1 and 0 in float (and e^u
/// would overflow).
ExprRef softplusTanhN(ExprContext &Ctx, ExprRef U) {
  ExprRef E = Ctx.call(Op::Exp, U);
  return Ctx.mul(E, Ctx.add(Ctx.constant(2), E));
}
/// u > 44: past it n = e^u (2 + e^u) would overflow float (e^88 = 1.7e38),
/// while tanh(softplus(u)) is 1 and its 1 - tanh^2 (4 e^-2u) subnormal.
ExprRef pastSoftplusTanh(ExprContext &Ctx, ExprRef U) {
  return Ctx.make(Op::Gt, {U, Ctx.constant(44)});
}
bool isTanhSquared(ExprRef N) {
  return N->op() == Op::Pow && N->operand(1)->isConst(2) &&
         N->operand(0)->op() == Op::Tanh;
}
/// The u of 1 - tanh(softplus(u))^2, or null.
ExprRef sechSquaredOfSoftplus(ExprRef N) {
  if (N->op() != Op::Sub || !N->operand(0)->isConst(1) ||
      !isTanhSquared(N->operand(1)))
    return nullptr;
  ExprRef T = N->operand(1)->operand(0)->operand(0);
  return T->op() == Op::Softplus ? T->operand(0) : nullptr;
}
/// M = sigmoid(U) (Rest null) or c sigmoid(U) (Rest c).
bool hasSigmoidFactor(ExprRef M, ExprRef U, ExprRef &Rest) {
  auto IsSig = [&](ExprRef E) {
    return E->op() == Op::Sigmoid && E->operand(0) == U;
  };
  Rest = nullptr;
  if (IsSig(M))
    return true;
  if (M->op() != Op::Mul)
    return false;
  for (unsigned I = 0; I < 2; ++I)
    if (IsSig(M->operand(I))) {
      Rest = M->operand(1 - I);
      return true;
    }
  return false;
}
} // namespace

ExprRef stabilizeForFloat(ExprContext &Ctx, ExprRef E) {
  DenseMap<ExprRef, ExprRef> Memo;
  for (ExprRef N : postOrder(E)) {
    std::vector<ExprRef> Ops;
    for (ExprRef O : N->operands())
      Ops.push_back(Memo[O]);
    // f(k a) with k < 0 -> f(-(|k| a)) for the functions computed from |u|
    // (sigmoid, tanh, softplus), so that f(u) and f(-u) split one u
    // (gelu_tanh's derivative has sigmoid(c v) and sigmoid(-c v)).
    if ((N->op() == Op::Sigmoid || N->op() == Op::Tanh ||
         N->op() == Op::Softplus) &&
        Ops[0]->op() == Op::Mul && Ops[0]->operand(0)->isConst() &&
        Ops[0]->operand(0)->value() < 0)
      Ops[0] = Ctx.neg(Ctx.mul(Ctx.constant(-Ops[0]->operand(0)->value()),
                               Ops[0]->operand(1)));
    ExprRef R = N->numOperands() ? Ctx.make(N->op(), Ops) : N;
    // tanh(softplus(u)) -> where(u > 44, 1, n / (n + 2))
    if (N->op() == Op::Tanh && N->operand(0)->op() == Op::Softplus) {
      ExprRef U = Memo[N->operand(0)->operand(0)];
      ExprRef Nn = softplusTanhN(Ctx, U);
      R = Ctx.where(pastSoftplusTanh(Ctx, U), Ctx.constant(1),
                    Ctx.div(Nn, Ctx.add(Nn, Ctx.constant(2))));
    }
    // c sigmoid(u) (1 - tanh(softplus(u))^2) (mish's derivative)
    //   -> c where(u > 44, 0, 4 ((e (1 + e) / (n + 2)) / (n + 2))), e = e^u:
    // sigmoid(u) = e / (1 + e) cancels a factor 1 + e, and with it the
    // sigmoid call; past u = 44 it is 4 e^-2u < 2.4e-38, about FLT_MIN.
    for (unsigned I = 0; I < 2 && N->op() == Op::Mul; ++I) {
      ExprRef U0 = sechSquaredOfSoftplus(N->operand(I)), Rest;
      if (!U0 || !hasSigmoidFactor(N->operand(1 - I), U0, Rest))
        continue;
      ExprRef U = Memo[U0];
      ExprRef E = Ctx.call(Op::Exp, U);
      ExprRef D = Ctx.add(softplusTanhN(Ctx, U), Ctx.constant(2));
      ExprRef Q = Ctx.div(Ctx.mul(E, Ctx.add(Ctx.constant(1), E)), D);
      R = Ctx.where(pastSoftplusTanh(Ctx, U), Ctx.constant(0),
                    Ctx.mul(Ctx.constant(4), Ctx.div(Q, D)));
      if (Rest)
        R = Ctx.mul(Memo[Rest], R);
      break;
    }
    if (ExprRef U0 = sechSquaredOfSoftplus(N)) {
      // 1 - tanh(softplus(u))^2
      //   -> where(u > 44, 0, 4 ((n + 1) / (n + 2)) / (n + 2))
      // dividing twice, as (n + 2)^2 overflows float from u = 22 on.
      ExprRef U = Memo[U0];
      ExprRef Nn = softplusTanhN(Ctx, U);
      ExprRef D = Ctx.add(Nn, Ctx.constant(2));
      R = Ctx.where(pastSoftplusTanh(Ctx, U), Ctx.constant(0),
                    Ctx.div(Ctx.mul(Ctx.constant(4),
                                    Ctx.div(Ctx.add(Nn, Ctx.constant(1)), D)),
                            D));
    } else if (N->op() == Op::Sub && N->operand(0)->isConst(1) &&
               isTanhSquared(N->operand(1))) {
      // 1 - tanh(u)^2 -> 4 sigmoid(2u) sigmoid(-2u)
      ExprRef T = N->operand(1)->operand(0)->operand(0);
      ExprRef U2 = Ctx.mul(Ctx.constant(2), Memo[T]);
      // (the pair one product: VectorMath::sigmoidProduct)
      R = Ctx.mul(Ctx.constant(4), Ctx.mul(Ctx.call(Op::Sigmoid, U2),
                                           Ctx.call(Op::Sigmoid, Ctx.neg(U2))));
    }
    Memo[N] = R;
  }
  return Memo[E];
}

} // namespace netjit
