// Differentiate.h - exact symbolic derivatives, one rule per primitive.
#ifndef NETJIT_EXPR_DIFFERENTIATE_H
#define NETJIT_EXPR_DIFFERENTIATE_H

#include "netjit/Expr/Expr.h"

#include "llvm/Support/Error.h"

namespace netjit {

/// d(E)/d(Var), where Var is "x" or a parameter name. The result is raw
/// chain-rule output (only products with 0 or 1 are pruned); run simplify()
/// on it. Kinks follow PyTorch: relu'(0) = 0, abs'(0) = 0, sign' = 0, and
/// min/max pass the gradient to the first operand on ties.
/// Fails, naming the subexpression, where no rule applies (the output y).
llvm::Expected<ExprRef> differentiate(ExprContext &Ctx, ExprRef E,
                                      llvm::StringRef Var);

} // namespace netjit

#endif
