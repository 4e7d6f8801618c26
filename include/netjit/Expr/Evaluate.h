// Evaluate.h - the reference evaluator: any expression in double precision.
#ifndef NETJIT_EXPR_EVALUATE_H
#define NETJIT_EXPR_EVALUATE_H

#include "netjit/Expr/Expr.h"

#include "llvm/Support/Error.h"
#include <map>
#include <string>
#include <vector>

namespace netjit {

using ParamValues = std::map<std::string, double>;

/// Evaluates one expression at many points. Parameters are bound once; the
/// node list is flattened so that each call is a single linear sweep.
class Evaluator {
public:
  /// Fails if E uses a parameter missing from Params.
  static llvm::Expected<Evaluator> create(ExprRef E, const ParamValues &Params);

  /// f(x), with y (the forward output) bound to Y for derivative forms.
  /// Where a sum kept fewer than 34 bits, too few to judge a float result
  /// by, raises *Cancelled to the magnitude of its larger operand (the scale
  /// of the error it may carry); leaves it alone otherwise.
  double operator()(double X, double Y = 0, double *Cancelled = nullptr) const;
  /// The same in long double (64-bit mantissa on x86), where a sum may lose
  /// 30 bits before *Cancelled is raised.
  long double evalLong(long double X, long double Y = 0,
                       double *Cancelled = nullptr) const;
  /// The flattened nodes, operands first (for other evaluators).
  const std::vector<ExprRef> &order() const { return Order; }
  const std::vector<std::vector<unsigned>> &args() const { return Args; }
  const std::vector<double> &leaves() const { return Leaves; }

private:
  std::vector<ExprRef> Order;              // operands before users
  std::vector<std::vector<unsigned>> Args; // operand slots per node
  std::vector<double> Leaves;              // constant/parameter value per node
  mutable std::vector<double> Slots;
  mutable std::vector<long double> LongSlots;
};

/// The double-precision meaning of one op applied to operand values: the
/// single source of truth for constant folding and evaluation.
double applyOp(Op O, llvm::ArrayRef<double> A);

/// One-shot convenience.
llvm::Expected<double> evaluate(ExprRef E, double X,
                                const ParamValues &Params = {}, double Y = 0);

} // namespace netjit

#endif
