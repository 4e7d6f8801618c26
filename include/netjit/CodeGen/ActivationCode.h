// ActivationCode.h - an activation's forms (f, f' in x or in y, df/dp)
// chosen and planned once, lowered at the caller's insertion point: in a
// GEMM epilogue, a step of the training program, an activation kernel.
#ifndef NETJIT_CODEGEN_ACTIVATIONCODE_H
#define NETJIT_CODEGEN_ACTIVATIONCODE_H

#include "netjit/Activations/Catalog.h"
#include "netjit/CodeGen/VectorMath.h"

#include "llvm/Support/Error.h"
#include <map>

namespace netjit {

class ExprLowering;

/// Each parameter's lanes for one step (a splat, or per-unit values), by name.
using ParamLanes = std::map<std::string, llvm::Value *>;

/// An activation's forms, chosen and planned as its kernels choose and plan
/// them, lowered at the caller's insertion point: a GEMM epilogue, a step of
/// the training program. L is the lanes of X, Y and the parameters.
class ActivationCode {
public:
  explicit ActivationCode(const ActivationForms &A);
  ~ActivationCode();
  /// Whether derivative() reads y (the form in y is as accurate as x's).
  bool derivativeFromY() const { return DY != nullptr; }
  /// Whether f calls a VectorMath function (exp, tanh, normcdf...).
  bool forwardCallsVectorMath() const;
  /// f(x).
  llvm::Expected<llvm::Value *> forward(llvm::IRBuilder<> &B, VectorMath &VM,
                                        unsigned L, llvm::Value *X,
                                        const ParamLanes &P) const;
  /// f(x) and f'(x), sharing their work (sigmoid's one exp).
  llvm::Expected<std::pair<llvm::Value *, llvm::Value *>>
  fused(llvm::IRBuilder<> &B, VectorMath &VM, unsigned L, llvm::Value *X,
        const ParamLanes &P) const;
  /// f'(x), from Y = f(x) where derivativeFromY(); the form in y may still
  /// test x's sign (relu's where(x > 0, 1, 0)), so X is always given.
  llvm::Expected<llvm::Value *> derivative(llvm::IRBuilder<> &B, VectorMath &VM,
                                           unsigned L, llvm::Value *X,
                                           llvm::Value *Y,
                                           const ParamLanes &P) const;
  /// df/dParam at x.
  llvm::Expected<llvm::Value *> paramDerivative(llvm::IRBuilder<> &B,
                                                VectorMath &VM, unsigned L,
                                                llvm::StringRef Param,
                                                llvm::Value *X,
                                                const ParamLanes &P) const;

private:
  std::unique_ptr<ExprLowering> lowering(llvm::IRBuilder<> &B, VectorMath &VM,
                                         unsigned L, llvm::Value *X,
                                         llvm::Value *Y, const ParamLanes &P,
                                         ExprRef Extra = nullptr) const;
  const ActivationForms &A;
  ExprRef Fwd, DX, DY, DFused;
  std::vector<ExprRef> Roots;
  std::vector<double> Budgets;
};

} // namespace netjit

#endif
