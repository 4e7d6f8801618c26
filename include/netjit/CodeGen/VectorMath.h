// VectorMath.h - netjit's own vector math, emitted as LLVM IR: range
// reduction and polynomials with FMA, no libm calls (docs/accuracy.md).
#ifndef NETJIT_CODEGEN_VECTORMATH_H
#define NETJIT_CODEGEN_VECTORMATH_H

#include "netjit/Expr/Expr.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

namespace netjit {
struct VB; // lane-wise IR helpers (VectorMathIR.h)

/// Emits each function once per module as an internal, always-inline
/// function over <Lanes x float> ("netjit.vm.exp.v16f32"), then calls it.
class VectorMath {
public:
  /// Lanes floats per call; Avx512 lets the functions use AVX-512's
  /// instructions (vscalefps) where they beat portable IR.
  VectorMath(llvm::Module &M, unsigned Lanes, bool Avx512 = false)
      : M(M), Lanes(Lanes), Avx512(Avx512) {}

  /// Whether Op is one of ours: exp expm1 log log1p tanh sigmoid softplus
  /// erf erfc normcdf normpdf sin cos.
  static bool provides(Op O);
  /// The largest error of O in ULPs (the sampled sweep checks it holds); the
  /// emitter plans float arithmetic around calls with it.
  static double maxUlp(Op O);
  /// Whether O can use the rounding error of its argument: those whose
  /// condition number grows with |x| (exp's is |x|, erfc's about 2x^2), so
  /// that an argument such as -x/sqrt(2) rounded to float would otherwise
  /// cost many ULPs. erf, sin and cos gain nothing.
  static bool takesLo(Op O);
  /// Whether O's Lo is the error of |X| rather than of X: tanh, sigmoid and
  /// softplus work on |x|, and f(u) and f(-u) then share all their work.
  static bool takesAbsLo(Op O);
  /// Whether O computes in double and can return that unrounded result
  /// (erfc, normcdf, normpdf), for a caller whose arithmetic is in double.
  static bool hasDoubleResult(Op O);
  /// O applied lane-wise to X + Lo (a <Lanes x float>; Lo, when given, is
  /// X's rounding error (of |X| where takesAbsLo), small next to X's ulp,
  /// and finite). With Double, a hasDoubleResult function returns
  /// <Lanes x double>.
  llvm::Value *call(llvm::IRBuilder<> &B, Op O, llvm::Value *X,
                    llvm::Value *Lo = nullptr, bool Double = false);

  /// Whether gelu() is available: its float build needs AVX-512's
  /// per-lane coefficient lookups.
  bool hasFloatGelu() const { return Avx512; }
  /// X normcdf(X) (gelu), or with Derivative normcdf(X) + X normpdf(X), in
  /// float: normcdf's and normpdf's float steps combined as float pairs
  /// where the generic plan would round their products in double; the
  /// derivative for X < 0 as e^(-X^2/2) (M(|X|) - |X| / sqrt(2 pi)).
  llvm::Value *gelu(llvm::IRBuilder<> &B, llvm::Value *X, bool Derivative);
  /// gelu()'s largest error in ULPs away from the derivative's root (over
  /// all floats: 1.999 forward, 2.351 derivative).
  static constexpr double GeluMaxUlp = 2.5;
  /// sigmoid(X) sigmoid(-X) (sigmoid's derivative, and tanh's as 4
  /// sigmoid(2x) sigmoid(-2x)) as the product of sigmoid(|X|) and
  /// sigmoid(-|X|), without selecting each by X's sign; AbsLo as sigmoid's.
  llvm::Value *sigmoidProduct(llvm::IRBuilder<> &B, llvm::Value *X,
                              llvm::Value *AbsLo = nullptr);
  /// sigmoid(X) (1 + X sigmoid(-X)), the derivative of x sigmoid(x) (silu's
  /// at beta x), in float where the sum would otherwise need double: it
  /// cancels at X = -1.2785. AbsLo is the error of |X|, as sigmoid's.
  llvm::Value *siluGrad(llvm::IRBuilder<> &B, llvm::Value *X,
                        llvm::Value *AbsLo = nullptr);
  /// siluGrad's largest error in ULPs away from its root.
  static constexpr double SiluGradMaxUlp = 3;

  /// X sigmoid(v) with v = K1 X + K3 X^3 (gelu's tanh form: K1 = 2
  /// sqrt(2/pi), K3 = 0.044715 K1), or with Derivative sigmoid(v) (1 + X
  /// v'(X) sigmoid(-v)), in float for K1 in [2^-20, 2^100] and K3 in
  /// [2^-100, 2^100] (the emitter checks): |v| and |X v'(X)| as float pairs,
  /// the derivative for X < 0 in siluGrad's form.
  llvm::Value *xSigmoidCubic(llvm::IRBuilder<> &B, llvm::Value *X, double K1,
                             double K3, bool Derivative);
  /// xSigmoidCubic's largest error in ULPs away from the derivative's root
  /// (gelu_tanh over all floats: 2.408 forward, 3.531 derivative).
  static constexpr double XSigmoidCubicMaxUlp = 3.6;

private:
  llvm::Function *get(Op O, bool WithLo, bool Double);
  using EmitRef =
      llvm::function_ref<llvm::Value *(VB &, llvm::Value *, llvm::Value *)>;
  /// netjit.vm.Spelling[.lo][.d].vNf32, its body from Emit, once.
  llvm::Function *get(llvm::StringRef Spelling, bool WithLo, bool Double,
                      EmitRef Emit);
  /// A call of the float function Spelling at X (+ Lo when given).
  llvm::Value *callFloat(llvm::IRBuilder<> &B, llvm::StringRef Spelling,
                         llvm::Value *X, llvm::Value *Lo, EmitRef Emit);
  llvm::Module &M;
  unsigned Lanes;
  bool Avx512;
};

} // namespace netjit

#endif
