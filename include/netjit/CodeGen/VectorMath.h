// VectorMath.h - netjit's own vector math, emitted as LLVM IR: range
// reduction and polynomials with FMA, no libm calls (docs/accuracy.md).
#ifndef NETJIT_CODEGEN_VECTORMATH_H
#define NETJIT_CODEGEN_VECTORMATH_H

#include "netjit/Expr/Expr.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

namespace netjit {

/// Emits each function once per module as an internal, always-inline
/// function over <Lanes x float> ("netjit.vm.exp.v16f32"), then calls it.
class VectorMath {
public:
  VectorMath(llvm::Module &M, unsigned Lanes) : M(M), Lanes(Lanes) {}

  /// Whether Op is one of ours: exp expm1 log log1p tanh sigmoid softplus
  /// erf erfc sin cos.
  static bool provides(Op O);
  /// O applied lane-wise to X (a <Lanes x float>).
  llvm::Value *call(llvm::IRBuilder<> &B, Op O, llvm::Value *X);

private:
  llvm::Function *get(Op O);
  llvm::Module &M;
  unsigned Lanes;
};

} // namespace netjit

#endif
