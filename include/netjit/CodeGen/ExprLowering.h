// ExprLowering.h - expressions lowered lane-wise to <N x float> LLVM IR,
// in float where float holds the error budget and in double where a sum
// may cancel; VectorMath's functions called at their arguments.
#ifndef NETJIT_CODEGEN_EXPRLOWERING_H
#define NETJIT_CODEGEN_EXPRLOWERING_H

#include "netjit/CodeGen/VectorMath.h"
#include "netjit/Expr/Analysis.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/IR/IRBuilder.h"
#include <optional>

namespace netjit {

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
class ExprLowering {
public:
  ExprLowering(llvm::IRBuilder<> &B, VectorMath &VM, unsigned Lanes)
      : B(B), VM(VM), VT(llvm::FixedVectorType::get(B.getFloatTy(), Lanes)),
        VD(llvm::FixedVectorType::get(B.getDoubleTy(), Lanes)) {}

  /// Binds a Var or Param leaf to its float lanes.
  void bind(ExprRef Leaf, llvm::Value *V) { Memo[Leaf] = V; }

  /// Marks what runs in double; call before lower(). The sums in Roots
  /// that may cancel, and the arithmetic they are computed from (down to
  /// function calls, leaves and exact products), since the cancellation
  /// would amplify those roundings too; and a root whose error bound in
  /// float (floatUlp) is over its budget (Budgets, one per root), so that it
  /// is rounded once.
  void plan(llvm::ArrayRef<ExprRef> Roots, llvm::ArrayRef<double> Budgets);
  /// E's value as float lanes.
  llvm::Expected<llvm::Value *> lower(ExprRef E);

private:
  llvm::IRBuilder<> &B;
  VectorMath &VM;
  llvm::Type *VT, *VD;
  /// Float or double lanes of each node lowered.
  llvm::DenseMap<ExprRef, llvm::Value *> Memo;
  /// The unrounded double results of double functions.
  llvm::DenseMap<ExprRef, llvm::Value *> MemoD;
  /// The arithmetic planned in double.
  llvm::DenseSet<ExprRef> Double;
  /// floatUlp() of each node.
  llvm::DenseMap<ExprRef, double> Ulp;
  /// Quotients by each divisor, and 1/d in double shared by them.
  llvm::DenseMap<ExprRef, unsigned> Divisions;
  llvm::DenseMap<ExprRef, llvm::Value *> Reciprocal;
  SignAnalysis Signs;

  llvm::Value *kd(double V) { return llvm::ConstantFP::get(VD, V); }

  /// What a double demand passes through: arithmetic, and the exact
  /// operations that choose or change the sign of a value.
  static bool isArithmetic(Op O);
  /// A bound on N's error in ULPs if its arithmetic ran in float: each
  /// function's own bound (its argument's rounding error goes along, see
  /// split()), plus half an ULP per rounding; a product adds its operands'
  /// relative errors, a same-sign sum takes the larger.
  double floatUlp(ExprRef N);

  /// The error bound of a cancelling sum that lowerNode computes by one
  /// float VectorMath call (silu_grad, gelu_grad, x_sigmoid_cubic_grad),
  /// which therefore needs no double; else nullopt.
  std::optional<double> floatSumUlp(ExprRef N);

  /// geluArg(N, Derivative) of x itself, where VectorMath has gelu in
  /// float (an argument computed from x would need its rounding error).
  ExprRef floatGelu(ExprRef N, bool Derivative);

  /// A sum whose terms may have opposite signs.
  bool mayCancel(ExprRef N);

  llvm::Value *toDouble(llvm::Value *V);
  llvm::Value *toFloat(llvm::Value *V);
  /// Operand I as double lanes: a function that computes in double gives
  /// its unrounded result, and a float product of two floats is multiplied
  /// again in double, exactly (and without float's overflow).
  llvm::Value *arg(ExprRef N, unsigned I);
  /// A float product of two values that are not themselves rounded
  /// arithmetic (leaves, constants, float function results): hi + lo is
  /// exact. (A function with a double result is better multiplied in
  /// double.)
  bool isExactProduct(ExprRef N);
  /// Operand I as float when it is float already or a constant exact in
  /// float; else null.
  llvm::Value *floatArg(ExprRef N, unsigned I);

  /// Whether O rounds nothing: neg, abs, sign, min/max, comparisons, where.
  static bool isExact(Op O);

  /// An exact operation (no rounding: neg, abs, sign, comparisons, where,
  /// min/max) in float when all its value operands are float, else in
  /// double. where's condition is read by cond(), whatever its type.
  llvm::Value *lowerExact(ExprRef N);

  /// A where() condition as i1 lanes: comparisons directly, else c != 0.
  llvm::Value *cond(ExprRef C);

  /// a^b: integer exponents by repeated squaring, 0.5 by sqrt, else
  /// exp(b log a) in float (valid for a > 0).
  llvm::Value *power(ExprRef N);

  /// + - * / in float when both operands are float (or constants) and the
  /// operation cannot cancel: a product, a quotient, or a sum whose terms
  /// have the same sign. Each adds at most half an ULP to its operands'
  /// relative errors. A sum whose terms may differ in sign amplifies them by
  /// |a| / |a + b|, so it runs in double, and so does everything computed
  /// from a double value until it is rounded to feed a float function.
  llvm::Value *arithmetic(ExprRef N);

  /// A product by a constant, a k or k a, or a / k as a (1/k): a's node and
  /// the multiplier.
  static std::optional<std::pair<ExprRef, double>> constFactor(ExprRef N);

  /// E's float lanes: a float value, or a constant rounded to float; null
  /// for a double value.
  llvm::Value *floatOrConst(ExprRef E);

  /// The exact value of constant C as float hi + lo, hi rounded toward
  /// zero so that lo has C's sign (a kh + a kl is then inf, not NaN, for
  /// a = inf); lo is null when hi is exact.
  std::pair<llvm::Value *, llvm::Value *> splitConst(double C);

  /// The rounding error of a float +, -, * or / node, by the error-free
  /// transformations (TwoSum, and FMA for products and remainders),
  /// counting the rounding of a constant operand; null where there is none
  /// to recover.
  llvm::Value *floatLo(ExprRef N, llvm::Value *Hi);

  /// A double value as float Hi, its rounding error Lo, and the error of
  /// |Hi|, once per node; -u reuses u's split, so that sigmoid(u) and
  /// sigmoid(-u) share their work after inlining.
  struct Parts {
    llvm::Value *Hi, *Lo = nullptr, *AbsLo = nullptr;
  };
  llvm::DenseMap<ExprRef, Parts> Split;
  Parts split(ExprRef N);

  /// One of our float functions at N's value: a double value is rounded,
  /// and its rounding error passed along where the function can use it.
  llvm::Value *callVM(Op O, ExprRef N, bool Double = false);

  /// N's lanes from its operands' (lowered before it): one VectorMath call
  /// where N has a shape VectorMath computes whole, else its operation.
  llvm::Expected<llvm::Value *> lowerNode(ExprRef N);
};

} // namespace netjit

#endif
