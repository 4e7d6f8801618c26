// VectorMathIR.h - what VectorMath's files share: the lane-wise IR helpers
// (VB), the pieces of exp and sigmoid other functions are built on, and the
// emitter of each function, which VectorMath.cpp's table lists.
#ifndef NETJIT_CODEGEN_VECTORMATHIR_H
#define NETJIT_CODEGEN_VECTORMATHIR_H

#include "netjit/CodeGen/VectorMath.h"

#include "llvm/Analysis/VectorUtils.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/IntrinsicsX86.h"

namespace netjit {

/// Lane-wise helpers over a float vector type and its i32 / double twins.
struct VB {
  llvm::IRBuilder<> &B;
  unsigned N;
  bool Avx512; // vscalefps is there
  llvm::Type *F, *I, *D;

  VB(llvm::IRBuilder<> &B, unsigned N, bool Avx512)
      : B(B), N(N), Avx512(Avx512 && N % 16 == 0),
        F(llvm::FixedVectorType::get(B.getFloatTy(), N)),
        I(llvm::FixedVectorType::get(B.getInt32Ty(), N)),
        D(llvm::FixedVectorType::get(B.getDoubleTy(), N)) {}

  llvm::Value *k(double V) { return llvm::ConstantFP::get(F, V); }
  llvm::Value *kd(double V) { return llvm::ConstantFP::get(D, V); }
  llvm::Value *ki(int V) { return llvm::ConstantInt::get(I, V); }
  llvm::Value *add(llvm::Value *A, llvm::Value *C) {
    return B.CreateFAdd(A, C);
  }
  llvm::Value *sub(llvm::Value *A, llvm::Value *C) {
    return B.CreateFSub(A, C);
  }
  llvm::Value *mul(llvm::Value *A, llvm::Value *C) {
    return B.CreateFMul(A, C);
  }
  llvm::Value *div(llvm::Value *A, llvm::Value *C) {
    return B.CreateFDiv(A, C);
  }
  llvm::Value *fma(llvm::Value *A, llvm::Value *C, llvm::Value *E) {
    return B.CreateIntrinsic(llvm::Intrinsic::fma, {A->getType()}, {A, C, E});
  }
  llvm::Value *sel(llvm::Value *C, llvm::Value *A, llvm::Value *E) {
    return B.CreateSelect(C, A, E);
  }
  llvm::Value *lt(llvm::Value *A, llvm::Value *C) {
    return B.CreateFCmpOLT(A, C);
  }
  llvm::Value *gt(llvm::Value *A, llvm::Value *C) {
    return B.CreateFCmpOGT(A, C);
  }
  llvm::Value *isNaN(llvm::Value *A) { return B.CreateFCmpUNO(A, A); }
  llvm::Value *abs(llvm::Value *A) {
    return B.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, A);
  }
  llvm::Value *copysign(llvm::Value *Mag, llvm::Value *Sgn) {
    return B.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, Mag, Sgn);
  }
  /// min(X, Hi) and max(X, Lo) that let a NaN X through (one vminps or
  /// vmaxps each), for what VB::passedNaN relies on.
  llvm::Value *atMost(llvm::Value *X, double Hi) {
    return sel(gt(X, k(Hi)), k(Hi), X);
  }
  llvm::Value *atLeast(llvm::Value *X, double Lo) {
    return sel(lt(X, k(Lo)), k(Lo), X);
  }
  /// Clamps to [Lo, Hi]; a NaN comes out as Hi (callers restore NaN last).
  llvm::Value *clamp(llvm::Value *X, double Lo, double Hi) {
    llvm::Value *T = sel(lt(X, k(Hi)), X, k(Hi));
    return sel(gt(T, k(Lo)), T, k(Lo));
  }
  /// Round to nearest even for |x| < 2^22, without SSE4.1's roundps.
  llvm::Value *rint(llvm::Value *X) {
    if (Avx512) // vrndscaleps: one instruction instead of two dependent adds
      return B.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven, X);
    llvm::Value *Magic =
        X->getType() == D ? kd(6755399441055744.0) : k(12582912.0);
    return B.CreateFSub(B.CreateFAdd(X, Magic), Magic);
  }
  llvm::Value *toInt(llvm::Value *X) { return B.CreateBitCast(X, I); }
  llvm::Value *toFloat(llvm::Value *X) { return B.CreateBitCast(X, F); }
  /// Horner's rule, coefficients highest degree first.
  llvm::Value *horner(llvm::Value *X, llvm::ArrayRef<double> C) {
    bool Dbl = X->getType() == D;
    llvm::Value *Acc = Dbl ? kd(C[0]) : k(C[0]);
    for (size_t J = 1; J < C.size(); ++J)
      Acc = fma(Acc, X, Dbl ? kd(C[J]) : k(C[J]));
    return Acc;
  }
  /// 2^n for integer n in [-126, 127].
  llvm::Value *pow2(llvm::Value *N) {
    return toFloat(B.CreateShl(B.CreateAdd(N, ki(127)), 23));
  }
  /// P * 2^n for n in [-252, 254], in two exact steps so that a subnormal
  /// result is rounded once. N is i32 lanes, or float lanes holding integers.
  llvm::Value *ldexp(llvm::Value *P, llvm::Value *N) {
    if (Avx512) // one vscalefps per 16 lanes rounds the same way
      return scalef(P, N->getType() == F ? N : B.CreateSIToFP(N, F));
    if (N->getType() == F)
      N = B.CreateFPToSI(N, I);
    llvm::Value *N1 = B.CreateAShr(N, 1);
    llvm::Value *N2 = B.CreateSub(N, N1);
    return mul(mul(P, pow2(N1)), pow2(N2));
  }
  /// P * 2^Nf lane-wise by AVX-512's vscalefps (float Nf holds integers).
  llvm::Value *scalef(llvm::Value *P, llvm::Value *Nf) {
    llvm::Function *Fn =
        declare(llvm::Intrinsic::x86_avx512_mask_scalef_ps_512);
    llvm::Type *V16 = llvm::FixedVectorType::get(B.getFloatTy(), 16);
    return slices(
        16, {P, Nf}, [&](llvm::ArrayRef<llvm::Value *> S) -> llvm::Value * {
          return B.CreateCall(Fn, {S[0], S[1], llvm::PoisonValue::get(V16),
                                   B.getInt16(0xffff),
                                   B.getInt32(4) /* current rounding */});
        });
  }
  /// Table[Idx & 15] lane-wise for i32 lanes Idx: one vpermps per 16 lanes
  /// (it reads the low 4 bits). AVX-512 only: below it a lookup is a
  /// scalar gather, and callers compute instead.
  llvm::Value *lookup(llvm::Value *Idx, llvm::ArrayRef<float> Table) {
    assert(Avx512 && Table.size() == 16 && "lookup is vpermps over 16 floats");
    llvm::Constant *Tbl = llvm::ConstantDataVector::get(B.getContext(), Table);
    llvm::Function *Fn = declare(llvm::Intrinsic::x86_avx512_permvar_sf_512);
    return slices(16, {Idx},
                  [&](llvm::ArrayRef<llvm::Value *> S) -> llvm::Value * {
                    return B.CreateCall(Fn, {Tbl, S[0]});
                  });
  }
  /// Fn applied to each W-lane slice of the N-lane operands, the results
  /// joined again (x86 intrinsics take one register's lanes).
  llvm::Value *
  slices(unsigned W, llvm::ArrayRef<llvm::Value *> Ops,
         llvm::function_ref<llvm::Value *(llvm::ArrayRef<llvm::Value *>)> Fn) {
    if (N == W)
      return Fn(Ops);
    llvm::SmallVector<llvm::Value *, 8> Parts;
    for (unsigned C = 0; C < N; C += W) {
      llvm::SmallVector<int, 16> Idx;
      for (unsigned J = 0; J < W; ++J)
        Idx.push_back(C + J);
      llvm::SmallVector<llvm::Value *, 3> Slice;
      for (llvm::Value *O : Ops)
        Slice.push_back(B.CreateShuffleVector(O, Idx));
      Parts.push_back(Fn(Slice));
    }
    return llvm::concatenateVectors(B, Parts);
  }
  llvm::Function *declare(llvm::Intrinsic::ID Id) {
    return llvm::Intrinsic::getDeclaration(B.GetInsertBlock()->getModule(), Id);
  }
  llvm::Value *restoreNaN(llvm::Value *X, llvm::Value *R) {
    return sel(isNaN(X), X, R);
  }
  /// R, computed from X's expNegAbsParts, which pass a NaN x through to R
  /// with AVX-512 (vscalefps); the portable ldexp converts n to an integer
  /// (poison for NaN), so there the select stays.
  llvm::Value *passedNaN(llvm::Value *X, llvm::Value *R) {
    return Avx512 ? R : restoreNaN(X, R);
  }
};

namespace vm {

constexpr double Log2E = 1.4426950408889634;
// ln 2 split so that n * Ln2Hi is exact for |n| < 2^9.
constexpr double Ln2Hi = 0.693145751953125;
constexpr double Ln2Lo = 1.428606765330187045e-06;

/// e^-|x + lo| as the float pair Eh + El, and the sum 1 + Eh + El = S + D
/// (S = 1 + Eh rounded, Inv = 1 / S): what sigmoid and tanh are made of.
/// sigmoid(2u), sigmoid(-2u) and tanh(u) emit the same instructions here
/// (x = 2u), so that after inlining a fused tanh computes them once.
struct ExpNegAbs {
  llvm::Value *Eh, *El, *S, *D, *Inv;
};

// Each function's emitter, at X (+ Lo, its rounding error, where the
// function takes one): VectorMathElementary.cpp and VectorMathSpecial.cpp.
/// x + lo = n ln2 + r with |r| <= ln2 / 2 (Cody and Waite) for |x| < 2^9
/// ln 2; lo, the argument's own rounding error (see VectorMath.h), joins
/// the small r.
std::pair<llvm::Value *, llvm::Value *> reduceLn2Core(VB &V, llvm::Value *X,
                                                      llvm::Value *Lo);

/// e^r - 1 on |r| <= ln2/2: r + r^2 Q(r), Q a degree-5 Chebyshev fit of
/// (e^r - 1 - r) / r^2 (tools/vmfit/fit.py; relative error of e^r 2.2e-10,
/// where Taylor's series needs degree 7 in Q). Horner's rule, or with
/// Estrin, (c5 + c4 r) + r^2 (c3 + c2 r) + r^4 (c1 + c0 r): three FMAs deep
/// instead of five (the kernels are latency-bound), for a few hundredths of
/// an ULP more, which exp and expm1 (budget 1) cannot spare.
llvm::Value *expm1Reduced(VB &V, llvm::Value *R, bool Estrin);
llvm::Value *emitExp(VB &V, llvm::Value *X, llvm::Value *Lo);
llvm::Value *emitExpm1(VB &V, llvm::Value *X, llvm::Value *Lo = nullptr);
llvm::Value *emitLog(VB &V, llvm::Value *X, llvm::Value *Lo = nullptr);
llvm::Value *emitLog1p(VB &V, llvm::Value *X, llvm::Value *Lo = nullptr);

/// The error lo of x, made the error of |x|.
llvm::Value *absLo(VB &V, llvm::Value *X, llvm::Value *Lo);
ExpNegAbs expNegAbs(VB &V, llvm::Value *X, llvm::Value *ALo);
llvm::Value *emitTanh(VB &V, llvm::Value *X, llvm::Value *Lo = nullptr);

/// sigmoid(|x|) and sigmoid(-|x|) from expNegAbs, as emitSigmoid
/// explains.
std::pair<llvm::Value *, llvm::Value *> sigmoidOfAbs(VB &V, const ExpNegAbs &E);
llvm::Value *emitSigmoid(VB &V, llvm::Value *X, llvm::Value *Lo = nullptr);

/// sigmoid(x) sigmoid(-x) = sigmoid(|x|) sigmoid(-|x|): no sign to select.
llvm::Value *emitSigmoidProduct(VB &V, llvm::Value *X, llvm::Value *ALo);
llvm::Value *emitSiluGrad(VB &V, llvm::Value *X, llvm::Value *ALo);
llvm::Value *emitSoftplus(VB &V, llvm::Value *X, llvm::Value *Lo = nullptr);

/// sin or cos, computed in double: x = n pi/2 + r, then the Taylor series of
/// sin and cos on |r| <= pi/4, one rounding to float at the end.
llvm::Value *emitSinCos(VB &V, llvm::Value *X, bool Cos);

/// Phi(x) in double: Phi(-t) = e^(-t^2/2) M(t) for t = |x|, and 1 - Phi(-t)
/// for x > 0, where nothing cancels (Phi(-t) <= 1/2). e^(-t^2/2) and all
/// before it are normpdf's too, so their rounding is common to both: gelu'
/// = x phi(x) + Phi(x) = e (M(t) - t / sqrt(2 pi)) for x < 0 carries it
/// once, however much the sum cancels.
llvm::Value *emitNormcdfD(VB &V, llvm::Value *X, llvm::Value *);
llvm::Value *emitNormpdfD(VB &V, llvm::Value *X, llvm::Value *);
llvm::Value *emitGelu(VB &V, llvm::Value *X, llvm::Value *);
llvm::Value *emitGeluGrad(VB &V, llvm::Value *X, llvm::Value *);
llvm::Value *emitXSigmoidCubic(VB &V, llvm::Value *X, double K1, double K3);
llvm::Value *emitXSigmoidCubicGrad(VB &V, llvm::Value *X, double K1, double K3);

/// erfc(x + lo) = 2 Phi(-sqrt(2) (x + lo)) in double: 2 Q(t) for x >= 0 and
/// 2 - 2 Q(t) below, with nothing cancelling (Q <= 1/2). lo moves e^-x^2,
/// whose condition number is 2 x^2.
llvm::Value *emitErfcD(VB &V, llvm::Value *X, llvm::Value *Lo);

/// erf(x): x P(2x^2 - 1) in float for |x| < 1; 1 - erfc(|x|) in double past
/// it (erfc(1) = 0.157: nothing cancels), sign restored.
llvm::Value *emitErf(VB &V, llvm::Value *X);

} // namespace vm
} // namespace netjit

#endif
