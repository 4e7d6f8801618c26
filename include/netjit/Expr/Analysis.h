// Analysis.h - analyses and pattern matchers over expressions: what is
// known of a value's sign, and the shapes VectorMath computes in one call
// (sigmoid pairs, gelu and its derivative, silu's derivative, x sigmoid of
// an odd cubic and its derivative). The lowering (CodeGen) asks them.
#ifndef NETJIT_EXPR_ANALYSIS_H
#define NETJIT_EXPR_ANALYSIS_H

#include "netjit/Expr/Expr.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include <array>
#include <optional>

namespace netjit {

/// What is known of a value's sign for every x: >= 0, <= 0, or either.
enum class Sign { Pos, Neg, Any };
Sign flip(Sign S);

/// The sign of each value, from the signs of its parts (a sum with terms of
/// both signs, or a leaf, can be either); memoized over the DAG.
class SignAnalysis {
public:
  Sign of(ExprRef E);

private:
  Sign compute(ExprRef E);
  llvm::DenseMap<ExprRef, Sign> Memo;
};

/// The factors of a product (nested products flattened), or E itself.
void factors(ExprRef E, llvm::SmallVectorImpl<ExprRef> &Out);

/// Whether E is sigmoid(-U).
bool isSigmoidOfNeg(ExprRef E, ExprRef U);

/// The u of sigmoid(u) sigmoid(-u), in either order; else null.
ExprRef sigmoidPairArg(ExprRef N);

/// The u of u normcdf(u) (gelu), or with Derivative of normcdf(u) + u
/// normpdf(u), in any order; else null. VectorMath::gelu computes them.
ExprRef geluArg(ExprRef N, bool Derivative);

/// The u of sigmoid(u) + u sigmoid(u) sigmoid(-u), the derivative of
/// u sigmoid(u) (silu's and gelu_sigmoid's), its terms and factors in any
/// order; else null. VectorMath::siluGrad computes it in float.
ExprRef siluGradArg(ExprRef N);

/// c0 + c1 x + c2 x^2 + c3 x^3 as {c0, c1, c2, c3}.
using Cubic = std::array<double, 4>;
/// The coefficients of E, a polynomial in x of degree at most 3 over
/// constants, +, -, *, negation, division by a constant and whole powers,
/// at most 8 deep (a DAG that shares nodes is walked as a tree); else
/// nullopt.
std::optional<Cubic> polynomial(ExprRef E, unsigned Depth = 0);

/// k1 x + k3 x^3 with k1 in [2^-20, 2^100] and k3 in [2^-100, 2^100]
/// (gelu's tanh form; past these, |x| at |u| = 104 or k3 x^2 would leave
/// float's range): the argument VectorMath::xSigmoidCubic takes.
struct OddCubic {
  ExprRef U, X; // u, and the variable x it is a cubic in
  double K1, K3;
};
/// U as such an odd cubic in a variable; else nullopt.
std::optional<OddCubic> oddCubic(ExprRef U);

/// x sigmoid(u), u an odd cubic in x (gelu_tanh), in either order.
std::optional<OddCubic> xSigmoidCubicArg(ExprRef N);

/// sigmoid(u) + w sigmoid(u) sigmoid(-u) with u an odd cubic in x and w =
/// x u'(x), the derivative of x sigmoid(u), its terms and factors in any
/// order (w's factors multiplied out); else nullopt.
std::optional<OddCubic> xSigmoidCubicGradArg(ExprRef N);

} // namespace netjit

#endif
