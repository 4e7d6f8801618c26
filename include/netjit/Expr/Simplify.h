// Simplify.h - rewrite-rule table, constant folding and the fixed-point
// driver; rewriting derivatives in terms of the forward output y.
#ifndef NETJIT_EXPR_SIMPLIFY_H
#define NETJIT_EXPR_SIMPLIFY_H

#include "netjit/Expr/Expr.h"

#include "llvm/ADT/ArrayRef.h"
#include <string>

namespace netjit {

struct SimplifyOptions {
  /// Distribute input-free factors over sums: c (a + b) -> c a + c b. Off by
  /// default (it grows expressions); the y-rewrite uses it to cancel.
  bool Distribute = false;
  /// Whole-expression passes before giving up on a fixed point.
  unsigned MaxRounds = 32;
  /// Nodes the rewrites may create before they stop (the result is then
  /// exact but not a fixed point; the callers' size limits judge it): a
  /// product of a thousand factors has a derivative whose canonical form
  /// holds half a million, and building it would take minutes.
  size_t MaxNewNodes = 4 * MaxNodes;
};

/// One rewrite of the table, for documentation and --emit listings.
struct RewriteRuleInfo {
  const char *Name;
  const char *Algebra;
};
llvm::ArrayRef<RewriteRuleInfo> rewriteRules();

/// E rewritten to a fixed point of the rule table. Exact in real arithmetic,
/// under the usual assumption that the formula is evaluated in its domain
/// (x/x -> 1 assumes x != 0); stable forms replace the overflow-prone ones.
ExprRef simplify(ExprContext &Ctx, ExprRef E, const SimplifyOptions &Opts = {});

/// DF (a simplified derivative of F) rewritten in terms of y = F where the
/// rewrite is exact, so the backward pass can reuse the forward value:
/// sigmoid' = y (1 - y), tanh' = 1 - y^2, elu' = where(x > 0, 1, y + alpha).
/// Returns nullptr unless x survives only inside where() conditions.
ExprRef rewriteInOutput(ExprContext &Ctx, ExprRef F, ExprRef DF);

/// E with the float-stable rewrites applied (codegen only: the printed forms
/// stay the familiar ones): 1 - tanh(u)^2 -> 4 sigmoid(2u) sigmoid(-2u),
/// which does not cancel where tanh rounds to +-1; tanh(softplus(u)) and
/// 1 - tanh(softplus(u))^2 (and sigmoid(u) times it) as rational functions
/// of e^u (mish), which lose nothing to tanh's or softplus's rounding;
/// f(k v) with k < 0 as f(-(|k| v)) for sigmoid, tanh and softplus, so that
/// f(u) and f(-u) share their work.
ExprRef stabilizeForFloat(ExprContext &Ctx, ExprRef E);

/// Whether a form in y is as accurate in float as the form in x: it is not
/// when y enters a sum (1 - y^2 loses every digit once tanh rounds to 1).
/// Kernels use the y form only then.
bool isStableInOutput(ExprRef DY);

} // namespace netjit

#endif
