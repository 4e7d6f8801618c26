// Canonical.h - the canonical forms of sums and products (internal to the
// simplifier and the y-rewrite).
#ifndef NETJIT_EXPR_CANONICAL_H
#define NETJIT_EXPR_CANONICAL_H

#include "netjit/Expr/Expr.h"

#include "llvm/ADT/DenseMap.h"
#include <utility>
#include <vector>

namespace netjit {

/// A product viewed as NumC / DenC * prod(Base_i ^ Exp_i).
struct ProductForm {
  double NumC = 1, DenC = 1;
  std::vector<std::pair<ExprRef, double>> Factors;
  llvm::DenseMap<ExprRef, unsigned> Position; // of each base in Factors

  /// Multiplies E^Exp into the form. Fails (returns false) on constants that
  /// cannot be folded exactly enough to keep (a zero or non-finite divisor).
  bool flatten(ExprRef E, double Exp = 1);
  void addFactor(ExprRef Base, double Exp);
  /// The canonical node: coefficient first, then factors in a structural
  /// order (parameters, variables, calls, powers, sums); negative powers go
  /// to one denominator. A coefficient that is not an exact quotient keeps its
  /// divisor in the denominator (x / 3 stays x / 3).
  ExprRef build(ExprContext &C) const;
  double coefficient() const { return NumC / DenC; }
};

/// E = Coef * Rest with Rest carrying no numeric coefficient.
std::pair<double, ExprRef> splitCoefficient(ExprContext &C, ExprRef E);
/// -E as a canonical product.
ExprRef negateProduct(ExprContext &C, ExprRef E);
/// The canonical sum equal to the Add/Sub tree N.
ExprRef buildCanonicalSum(ExprContext &C, ExprRef N);

} // namespace netjit

#endif
