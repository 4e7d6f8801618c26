// VectorMath.cpp - float vector implementations of the transcendental ops.
//
// Every function is written once over <N x float> with FMAs; the x86 backend
// turns the selects and integer bit tricks into blends and shifts, so nothing
// becomes a per-lane libm call. Polynomial coefficients are Taylor's where the
// series converges fast on the reduced range, else Chebyshev fits made by
// tools/vmfit/fit.py. Measured errors are in docs/accuracy.md.
#include "netjit/CodeGen/VectorMath.h"
#include <cfloat>

#include "llvm/ADT/bit.h"
#include "llvm/Analysis/VectorUtils.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/IntrinsicsX86.h"
#include "llvm/Support/FormatVariadic.h"
#include <cmath>

using namespace llvm;

namespace netjit {

/// Lane-wise helpers over a float vector type and its i32 / double twins.
struct VB {
  IRBuilder<> &B;
  unsigned N;
  bool Avx512; // vscalefps is there
  Type *F, *I, *D;

  VB(IRBuilder<> &B, unsigned N, bool Avx512)
      : B(B), N(N), Avx512(Avx512 && N % 16 == 0),
        F(FixedVectorType::get(B.getFloatTy(), N)),
        I(FixedVectorType::get(B.getInt32Ty(), N)),
        D(FixedVectorType::get(B.getDoubleTy(), N)) {}

  Value *k(double V) { return ConstantFP::get(F, V); }
  Value *kd(double V) { return ConstantFP::get(D, V); }
  Value *ki(int V) { return ConstantInt::get(I, V); }
  Value *add(Value *A, Value *C) { return B.CreateFAdd(A, C); }
  Value *sub(Value *A, Value *C) { return B.CreateFSub(A, C); }
  Value *mul(Value *A, Value *C) { return B.CreateFMul(A, C); }
  Value *div(Value *A, Value *C) { return B.CreateFDiv(A, C); }
  Value *fma(Value *A, Value *C, Value *E) {
    return B.CreateIntrinsic(Intrinsic::fma, {A->getType()}, {A, C, E});
  }
  Value *sel(Value *C, Value *A, Value *E) { return B.CreateSelect(C, A, E); }
  Value *lt(Value *A, Value *C) { return B.CreateFCmpOLT(A, C); }
  Value *gt(Value *A, Value *C) { return B.CreateFCmpOGT(A, C); }
  Value *isNaN(Value *A) { return B.CreateFCmpUNO(A, A); }
  Value *abs(Value *A) { return B.CreateUnaryIntrinsic(Intrinsic::fabs, A); }
  Value *copysign(Value *Mag, Value *Sgn) {
    return B.CreateBinaryIntrinsic(Intrinsic::copysign, Mag, Sgn);
  }
  /// min(X, Hi) and max(X, Lo) that let a NaN X through (one vminps or
  /// vmaxps each), for what VB::passedNaN relies on.
  Value *atMost(Value *X, double Hi) { return sel(gt(X, k(Hi)), k(Hi), X); }
  Value *atLeast(Value *X, double Lo) { return sel(lt(X, k(Lo)), k(Lo), X); }
  /// Clamps to [Lo, Hi]; a NaN comes out as Hi (callers restore NaN last).
  Value *clamp(Value *X, double Lo, double Hi) {
    Value *T = sel(lt(X, k(Hi)), X, k(Hi));
    return sel(gt(T, k(Lo)), T, k(Lo));
  }
  /// Round to nearest even for |x| < 2^22, without SSE4.1's roundps.
  Value *rint(Value *X) {
    if (Avx512) // vrndscaleps: one instruction instead of two dependent adds
      return B.CreateUnaryIntrinsic(Intrinsic::roundeven, X);
    Value *Magic = X->getType() == D ? kd(6755399441055744.0) : k(12582912.0);
    return B.CreateFSub(B.CreateFAdd(X, Magic), Magic);
  }
  Value *toInt(Value *X) { return B.CreateBitCast(X, I); }
  Value *toFloat(Value *X) { return B.CreateBitCast(X, F); }
  /// Horner's rule, coefficients highest degree first.
  Value *horner(Value *X, ArrayRef<double> C) {
    bool Dbl = X->getType() == D;
    Value *Acc = Dbl ? kd(C[0]) : k(C[0]);
    for (size_t J = 1; J < C.size(); ++J)
      Acc = fma(Acc, X, Dbl ? kd(C[J]) : k(C[J]));
    return Acc;
  }
  /// 2^n for integer n in [-126, 127].
  Value *pow2(Value *N) {
    return toFloat(B.CreateShl(B.CreateAdd(N, ki(127)), 23));
  }
  /// P * 2^n for n in [-252, 254], in two exact steps so that a subnormal
  /// result is rounded once. N is i32 lanes, or float lanes holding integers.
  Value *ldexp(Value *P, Value *N) {
    if (Avx512) // one vscalefps per 16 lanes rounds the same way
      return scalef(P, N->getType() == F ? N : B.CreateSIToFP(N, F));
    if (N->getType() == F)
      N = B.CreateFPToSI(N, I);
    Value *N1 = B.CreateAShr(N, 1);
    Value *N2 = B.CreateSub(N, N1);
    return mul(mul(P, pow2(N1)), pow2(N2));
  }
  /// P * 2^Nf lane-wise by AVX-512's vscalefps (float Nf holds integers).
  Value *scalef(Value *P, Value *Nf) {
    Function *Fn = declare(Intrinsic::x86_avx512_mask_scalef_ps_512);
    Type *V16 = FixedVectorType::get(B.getFloatTy(), 16);
    return slices(16, {P, Nf}, [&](ArrayRef<Value *> S) -> Value * {
      return B.CreateCall(Fn, {S[0], S[1], PoisonValue::get(V16),
                               B.getInt16(0xffff),
                               B.getInt32(4) /* current rounding */});
    });
  }
  /// Table[Idx & 15] lane-wise for i32 lanes Idx: one vpermps per 16 lanes
  /// (it reads the low 4 bits). AVX-512 only: below it a lookup is a
  /// scalar gather, and callers compute instead.
  Value *lookup(Value *Idx, ArrayRef<float> Table) {
    assert(Avx512 && Table.size() == 16 && "lookup is vpermps over 16 floats");
    Constant *Tbl = ConstantDataVector::get(B.getContext(), Table);
    Function *Fn = declare(Intrinsic::x86_avx512_permvar_sf_512);
    return slices(16, {Idx}, [&](ArrayRef<Value *> S) -> Value * {
      return B.CreateCall(Fn, {Tbl, S[0]});
    });
  }
  /// Fn applied to each W-lane slice of the N-lane operands, the results
  /// joined again (x86 intrinsics take one register's lanes).
  Value *slices(unsigned W, ArrayRef<Value *> Ops,
                function_ref<Value *(ArrayRef<Value *>)> Fn) {
    if (N == W)
      return Fn(Ops);
    SmallVector<Value *, 8> Parts;
    for (unsigned C = 0; C < N; C += W) {
      SmallVector<int, 16> Idx;
      for (unsigned J = 0; J < W; ++J)
        Idx.push_back(C + J);
      SmallVector<Value *, 3> Slice;
      for (Value *O : Ops)
        Slice.push_back(B.CreateShuffleVector(O, Idx));
      Parts.push_back(Fn(Slice));
    }
    return concatenateVectors(B, Parts);
  }
  Function *declare(Intrinsic::ID Id) {
    return Intrinsic::getDeclaration(B.GetInsertBlock()->getModule(), Id);
  }
  Value *restoreNaN(Value *X, Value *R) { return sel(isNaN(X), X, R); }
  /// R, computed from X's expNegAbsParts, which pass a NaN x through to R
  /// with AVX-512 (vscalefps); the portable ldexp converts n to an integer
  /// (poison for NaN), so there the select stays.
  Value *passedNaN(Value *X, Value *R) { return Avx512 ? R : restoreNaN(X, R); }
};

namespace {

constexpr double Log2E = 1.4426950408889634;
// ln 2 split so that n * Ln2Hi is exact for |n| < 2^9.
constexpr double Ln2Hi = 0.693145751953125;
constexpr double Ln2Lo = 1.428606765330187045e-06;

/// x + lo = n ln2 + r with |r| <= ln2 / 2 (Cody and Waite) for |x| < 2^9
/// ln 2; lo, the argument's own rounding error (see VectorMath.h), joins
/// the small r.
std::pair<Value *, Value *> reduceLn2Core(VB &V, Value *X, Value *Lo) {
  Value *N = V.rint(V.mul(X, V.k(Log2E)));
  Value *R = V.fma(N, V.k(-Ln2Hi), X);
  R = V.fma(N, V.k(-Ln2Lo), Lo ? V.add(R, Lo) : R);
  return {N, R};
}

/// reduceLn2Core of C, x clamped by the caller to [-104, 89]: where the
/// clamp changed x, lo means nothing (and may be huge next to C).
std::pair<Value *, Value *> reduceLn2(VB &V, Value *X, Value *C, Value *Lo) {
  if (Lo)
    Lo = V.sel(V.B.CreateFCmpOEQ(C, X), Lo, V.k(0));
  return reduceLn2Core(V, C, Lo);
}

/// e^r - 1 on |r| <= ln2/2: r + r^2 Q(r), Q a degree-5 Chebyshev fit of
/// (e^r - 1 - r) / r^2 (tools/vmfit/fit.py; relative error of e^r 2.2e-10,
/// where Taylor's series needs degree 7 in Q). Horner's rule, or with
/// Estrin, (c5 + c4 r) + r^2 (c3 + c2 r) + r^4 (c1 + c0 r): three FMAs deep
/// instead of five (the kernels are latency-bound), for a few hundredths of
/// an ULP more, which exp and expm1 (budget 1) cannot spare.
Value *expm1Reduced(VB &V, Value *R, bool Estrin) {
  const double C[] = {0.00019890980869750327, 0.0013933641031986701,
                      0.008333310934448869,   0.04166646500604005,
                      0.16666666681614256,    0.5000000013457727};
  Value *R2 = V.mul(R, R), *Q;
  if (Estrin) {
    auto Pair = [&](int J) { return V.fma(V.k(C[J]), R, V.k(C[J + 1])); };
    Q = V.fma(V.mul(R2, R2), Pair(0), V.fma(R2, Pair(2), Pair(4)));
  } else {
    Q = V.horner(R, C);
  }
  return V.fma(R2, Q, R);
}

/// e^(x + lo) = 2^n (1 + p), n as float lanes (ldexp's vscalefps takes
/// them so); past [-104, 89] the result is 0 or inf anyway.
std::pair<Value *, Value *> expParts(VB &V, Value *X, Value *Lo) {
  auto [N, R] = reduceLn2(V, X, V.atLeast(V.atMost(X, 89), -104), Lo);
  return {N, expm1Reduced(V, R, false)};
}

/// expParts of -|x + lo| (lo the error of |x|), the exp that sigmoid, tanh
/// and softplus are built on: -|x| needs no upper clamp, and p enters an
/// exact sum in all of them, so Estrin's shorter chain serves. A NaN x
/// gives NaN n and p (VB::passedNaN).
std::pair<Value *, Value *> expNegAbsParts(VB &V, Value *X, Value *ALo) {
  Value *A = V.B.CreateFNeg(V.abs(X));
  // A NaN x passes, through n and p to what is built on them (passedNaN).
  auto [N, R] = reduceLn2(V, A, V.atLeast(A, -104),
                          ALo ? V.B.CreateFNeg(ALo) : nullptr);
  return {N, expm1Reduced(V, R, true)};
}

Value *emitExp(VB &V, Value *X, Value *Lo) {
  auto [N, P] = expParts(V, X, Lo);
  return V.passedNaN(X, V.ldexp(V.add(V.k(1), P), N));
}

Value *emitExpm1(VB &V, Value *X, Value *Lo = nullptr) {
  // e^x - 1 = 2^n (e^r - 1) + (2^n - 1): exact for n = 0, one rounding else.
  auto [N, R] = reduceLn2(V, X, V.clamp(X, -104, 89), Lo);
  Value *Em1 = expm1Reduced(V, R, false);
  Value *Ni = V.B.CreateFPToSI(N, V.I);
  Value *Nc = V.B.CreateSelect(
      V.B.CreateICmpSLT(Ni, V.ki(-126)), V.ki(-126),
      V.B.CreateSelect(V.B.CreateICmpSGT(Ni, V.ki(127)), V.ki(127), Ni));
  Value *Scale = V.pow2(Nc);
  // n <= 23: 2^n - 1 is exact, one rounding in the fma. n >= 24: 2^n - 1
  // is not, so fold the -1 in before scaling: (1 + (e^r - 1) - 2^-n) 2^n,
  // with 1 + (e^r - 1) = S + Err exactly (Fast2Sum) so that the sum is
  // rounded once (two roundings cost 1.02 ULP at x = 18.38).
  Value *Main = V.fma(Scale, Em1, V.sub(Scale, V.k(1)));
  Value *InvScale = V.pow2(V.B.CreateSub(V.ki(0), Nc));
  Value *S = V.add(V.k(1), Em1);
  Value *Err = V.add(V.sub(V.k(1), S), Em1);
  Value *Wide = V.mul(V.add(S, V.sub(Err, InvScale)), Scale);
  Main = V.sel(V.B.CreateICmpSGE(Ni, V.ki(24)), Wide, Main);
  // n > 127: -1 is negligible next to e^x (and overflow gives inf).
  Value *Big = V.ldexp(V.add(V.k(1), Em1), Ni);
  Value *Res = V.sel(V.B.CreateICmpSGT(Ni, V.ki(127)), Big, Main);
  // e^x < 2^-25: e^x - 1 rounds to -1.
  Res = V.sel(V.B.CreateICmpSLT(Ni, V.ki(-25)), V.k(-1), Res);
  // -0.35 < x < 0.7: no reduction, whose n = 1 would double the error of
  // a negative e^r - 1 (Taylor to x^12; n = -1 below is harmless).
  Value *Xs = V.clamp(X, -0.35, 0.7);
  Value *Direct =
      V.fma(V.mul(Xs, Xs),
            V.horner(Xs, {1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800,
                          1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720,
                          1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5}),
            Xs);
  if (Lo) // e^(x + lo) - 1 = (e^x - 1) + lo e^x
    Direct = V.add(Direct, V.fma(Lo, Direct, Lo));
  Res =
      V.sel(V.B.CreateAnd(V.gt(X, V.k(-0.35)), V.lt(X, V.k(0.7))), Direct, Res);
  return V.restoreNaN(X, Res);
}

/// log(u) for positive finite u (subnormals included): u = 2^k m with
/// m in [sqrt(1/2), sqrt(2)), f = m - 1, s = f / (2 + f), and
/// log(1 + f) = 2 atanh(s) = f - f^2/2 + s (f^2/2 + R(s^2)).
Value *logCore(VB &V, Value *K, Value *F, Value *Corr = nullptr);

Value *logPositive(VB &V, Value *U, Value *Corr = nullptr) {
  Value *Sub = V.lt(U, V.k(0x1p-126));
  Value *Us = V.sel(Sub, V.mul(U, V.k(0x1p25)), U);
  Value *Ix = V.B.CreateAdd(V.toInt(Us), V.ki(0x3f800000 - 0x3f3504f3));
  Value *K = V.B.CreateSub(V.B.CreateAShr(Ix, 23), V.ki(127));
  K = V.B.CreateSub(K, V.B.CreateSelect(Sub, V.ki(25), V.ki(0)));
  Value *M = V.toFloat(
      V.B.CreateAdd(V.B.CreateAnd(Ix, V.ki(0x007fffff)), V.ki(0x3f3504f3)));
  return logCore(V, V.B.CreateSIToFP(K, V.F), V.sub(M, V.k(1)), Corr);
}

/// k ln2 + log(1 + f) + corr for sqrt(1/2) - 1 <= f <= sqrt(2) - 1, where
/// |s| <= 0.1716 and z = s^2 <= 0.0295 (every caller reduces f so); a
/// small correction joins the low-order part, before the last rounding.
Value *logCore(VB &V, Value *Dk, Value *F, Value *Corr) {
  Value *S = V.div(F, V.add(V.k(2), F));
  Value *Z = V.mul(S, S);
  // 2 atanh(s) = 2s + s R, R = z (2/3 + z (2/5 + z (2/7 + z 2/9))): the
  // series' next terms, 2/11 z^5 + ..., are below 4.1e-9, s times that a
  // 2^-29 part of the result (0.03 ULP).
  Value *R =
      V.mul(Z, V.horner(Z, {2.0 / 9, 2.0 / 7, 2.0 / 5, 2.0 / 3}));
  Value *Hfsq = V.mul(V.k(0.5), V.mul(F, F));
  Value *Low = V.mul(Dk, V.k(Ln2Lo));
  if (Corr)
    Low = V.add(Low, Corr);
  Value *T = V.fma(S, V.add(Hfsq, R), Low);
  return V.fma(Dk, V.k(Ln2Hi), V.sub(F, V.sub(Hfsq, T)));
}

/// log(x) or log1p(x) (Offset 1): special values first, then the core.
Value *logSpecials(VB &V, Value *X, Value *Arg, Value *Res) {
  Res = V.sel(V.B.CreateFCmpOEQ(Arg, V.k(0)), V.k(-INFINITY), Res);
  Res = V.sel(V.lt(Arg, V.k(0)), V.k(NAN), Res);
  Res = V.sel(V.B.CreateFCmpOEQ(Arg, V.k(INFINITY)), V.k(INFINITY), Res);
  return V.restoreNaN(X, Res);
}

Value *emitLog(VB &V, Value *X, Value *Lo = nullptr) {
  // log(x + lo) = log(x) + lo / x
  return logSpecials(V, X, X, logPositive(V, X, Lo ? V.div(Lo, X) : nullptr));
}

/// log(1 + f) + corr for f in (sqrt(1/2) - 1, 1], f exact: past sqrt(2) - 1
/// (where logCore's series loses accuracy: 1.28 ULP at f = 0.98), 1 + f =
/// 2 (1 + g) with g = (f - 1) / 2, and the rounding error e of f - 1
/// (Fast2Sum) joins corr as e / (1 + f): a correction below 2^-24 of the
/// result, so 1 / (1 + f) rounded twice serves, and it is the division
/// sigmoid makes of the same 1 + e^-|x| (a fused softplus divides once).
Value *log1pCore(VB &V, Value *F, Value *Corr = nullptr) {
  Value *Big = V.gt(F, V.k(0.41421356237309503));
  Value *D = V.sub(F, V.k(1));
  Value *E = V.sub(F, V.add(D, V.k(1))); // f - 1 = d + e exactly
  Value *G = V.mul(D, V.k(0.5));
  Value *GCorr = V.mul(E, V.div(V.k(1), V.add(V.k(1), F)));
  Value *C = V.sel(Big, GCorr, V.k(0));
  if (Corr)
    C = V.add(C, Corr);
  return logCore(V, V.sel(Big, V.k(1), V.k(0)), V.sel(Big, G, F), C);
}

Value *emitLog1p(VB &V, Value *X, Value *Lo = nullptr) {
  // log1p(x) = log(u) + c / u with u = 1 + x rounded and c = x - (u - 1)
  // the rounding error, so small x keep their digits.
  Value *U = V.add(V.k(1), X);
  Value *C = V.sub(X, V.sub(U, V.k(1)));
  if (Lo)
    C = V.add(C, Lo);
  Value *Far = logPositive(V, U, V.div(C, U));
  // Near 0, f = x exactly.
  Value *Near = log1pCore(V, V.clamp(X, -0.29, 1), Lo ? V.div(Lo, U) : nullptr);
  Value *IsNear =
      V.B.CreateAnd(V.gt(X, V.k(-0.29)), V.B.CreateFCmpOLE(X, V.k(1)));
  return logSpecials(V, X, U, V.sel(IsNear, Near, Far));
}

/// The error lo of x, made the error of |x|.
Value *absLo(VB &V, Value *X, Value *Lo) {
  return Lo ? V.sel(V.lt(X, V.k(0)), V.B.CreateFNeg(Lo), Lo) : nullptr;
}

/// e^-|x + lo| as the float pair Eh + El, and the sum 1 + Eh + El = S + D
/// (S = 1 + Eh rounded, Inv = 1 / S): what sigmoid and tanh are made of.
/// sigmoid(2u), sigmoid(-2u) and tanh(u) emit the same instructions here
/// (x = 2u), so that after inlining a fused tanh computes them once.
struct ExpNegAbs {
  Value *Eh, *El, *S, *D, *Inv;
};

ExpNegAbs expNegAbs(VB &V, Value *X, Value *ALo) {
  // E = 2^n (1 + p), 1 + p = One + (1 - One) + p exactly (Fast2Sum), and
  // both parts scaled exactly; 1 + Eh = S + Err (Fast2Sum, 1 >= Eh).
  auto [N, P] = expNegAbsParts(V, X, ALo);
  Value *One = V.add(V.k(1), P);
  Value *Eh = V.ldexp(One, N);
  Value *El = V.ldexp(V.add(V.sub(V.k(1), One), P), N);
  Value *S = V.add(V.k(1), Eh);
  Value *D = V.add(V.add(V.sub(V.k(1), S), Eh), El);
  return {Eh, El, S, D, V.div(V.k(1), S)};
}

Value *emitTanh(VB &V, Value *X, Value *Lo = nullptr) {
  // tanh|x| = (1 - E) / (1 + E) with E = e^-2|x| as sigmoid(2x) has it: the
  // numerator 1 - Eh - El = Nh + Nl exactly (Fast2Sum, 1 >= Eh) keeps its
  // digits where 1 - E cancels (small x, where Eh + El = 1 + p exactly and
  // the numerator is -p), and sigmoid(2x) sigmoid(-2x), tanh's derivative,
  // shares all of it. 2x and 2 lo are exact (an overflowing 2x gives E = 0).
  ExpNegAbs E =
      expNegAbs(V, V.mul(V.k(2), X), Lo ? V.mul(V.k(2), Lo) : nullptr);
  Value *Nh = V.sub(V.k(1), E.Eh);
  Value *Nl = V.sub(V.sub(V.sub(V.k(1), Nh), E.Eh), E.El);
  // q = Nh / S as Nh Inv; its residual (exact by the fma), Nl and -q D
  // then correct it to about half an ULP.
  Value *Q = V.mul(Nh, E.Inv);
  Value *Res = V.add(V.fma(V.B.CreateFNeg(Q), E.S, Nh), Nl);
  Value *R = V.add(Q, V.mul(V.fma(V.B.CreateFNeg(Q), E.D, Res), E.Inv));
  return V.passedNaN(X, V.copysign(R, X));
}

/// sigmoid(|x|) and sigmoid(-|x|) from expNegAbs, as emitSigmoid
/// explains.
std::pair<Value *, Value *> sigmoidOfAbs(VB &V, const ExpNegAbs &E) {
  Value *NegInv = V.B.CreateFNeg(E.Inv);
  Value *R = V.fma(NegInv, E.D, V.fma(NegInv, E.S, V.k(1)));
  // R^2 (up to 2^-46) is an ULP of sigmoid(-|x|) once E nears 2^-24.
  R = V.fma(R, R, R);
  return {V.fma(R, E.Inv, E.Inv),
          V.fma(V.B.CreateFNeg(R), E.Inv, V.sub(V.k(1), E.Inv))};
}

Value *emitSigmoid(VB &V, Value *X, Value *Lo = nullptr) {
  // One exp for both signs: sigmoid = 1 / (1 + E) for x >= 0 and
  // 1 - 1 / (1 + E) below, E = e^-|x| = Eh + El unrounded and 1 + E = S + D
  // (expNegAbs). sigmoid|x| = Inv / (1 - R), R = 1 - Inv S - Inv D (1 -
  // Inv S exact by the fma), and 1 / (1 - R) = 1 + R' with R' = R + R^2;
  // sigmoid(-|x|) = (1 - Inv) - R' Inv, 1 - Inv exact (Inv in [1/2, 1]).
  // One division for both signs, each result one fma; sigmoid(u) and
  // sigmoid(-u) share all of it after inlining.
  ExpNegAbs E = expNegAbs(V, X, Lo); // Lo is the error of |x|
  auto [Big, Small] = sigmoidOfAbs(V, E);
  return V.passedNaN(X, V.sel(V.lt(X, V.k(0)), Small, Big));
}

/// sigmoid(x) sigmoid(-x) = sigmoid(|x|) sigmoid(-|x|): no sign to select.
Value *emitSigmoidProduct(VB &V, Value *X, Value *ALo) {
  auto [Big, Small] = sigmoidOfAbs(V, expNegAbs(V, X, ALo));
  return V.passedNaN(X, V.mul(Big, Small));
}

Value *emitSiluGrad(VB &V, Value *X, Value *ALo) {
  // sigmoid(x) (1 + x sigmoid(-x)), all in float. For x >= 0 the terms have
  // one sign: sigmoid(x) fma(x, sigmoid(-x), 1). For x < 0, as sigmoid(-x)
  // (1 + e^x) = 1, it is sigmoid(x) sigmoid(-x) N with N = (1 + x) + e^x:
  // 1 + x is exact on [-2, -1/2], where the root (-1.2785) is, and e^x =
  // Eh + El is the sigmoids' own, so N keeps its digits where 1 + x and e^x
  // cancel; the x sigmoid(-x) of the first form would lose them. Clamping
  // x keeps the infinities' limits (1 and 0) instead of inf * 0.
  ExpNegAbs E = expNegAbs(V, X, ALo); // ALo is the error of |x|
  auto [Big, Small] = sigmoidOfAbs(V, E);
  Value *Xc = V.clamp(X, -1e30, 1e30);
  Value *Pos = V.mul(Big, V.fma(Xc, Small, V.k(1)));
  Value *XLo = ALo ? V.B.CreateFNeg(ALo) : V.k(0); // x < 0: lo of x = -lo of |x|
  Value *N = V.add(V.add(V.add(V.k(1), Xc), E.Eh), V.add(XLo, E.El));
  // Small (Big N) with Big N's rounding error (fma) recovered: one
  // rounding of the result instead of two.
  Value *BN = V.mul(Big, N);
  Value *Neg = V.fma(Small, BN, V.mul(Small, V.fma(Big, N, V.B.CreateFNeg(BN))));
  return V.passedNaN(X, V.sel(V.lt(X, V.k(0)), Neg, Pos));
}

Value *emitSoftplus(VB &V, Value *X, Value *Lo = nullptr) {
  // max(x, 0) + log1p(exp(-|x|)): no overflow, and exactly x for large x.
  // E is in (0, 1], where log1p(E) is log1pCore with f = E exactly.
  Value *ALo = Lo; // the error of |x| (VectorMath::call)
  auto [N, P] = expNegAbsParts(V, X, ALo); // sigmoid's, its derivative's
  Value *E = V.ldexp(V.add(V.k(1), P), N);
  Value *Pos = V.sel(V.gt(X, V.k(0)), X, V.k(0));
  Value *Log = log1pCore(V, E);
  if (Lo) // max(x + lo, 0) = max(x, 0) + lo for x > 0 (lo is of |x| = x)
    Log = V.add(Log, V.sel(V.gt(X, V.k(0)), Lo, V.k(0)));
  return V.passedNaN(X, V.add(Pos, Log));
}

// tools/vmfit/fit.py: erf(x) = x P(s), s = 2 x^2 - 1, |x| <= 1.
const double ErfP[] = {-7.552378571474216e-08,  1.2316395977478375e-06,
                       -1.7536914180800595e-05, 0.0002175119906208899,
                       -0.002285485612212242,   0.019852497722455814,
                       -0.14053608902112114,    0.9654687386375691};
/// erf(x) / x for |x| <= 1, even.
Value *erfOverX(VB &V, Value *X) {
  Value *S = V.fma(V.k(2), V.mul(X, X), V.k(-1));
  return V.horner(S, ErfP);
}

/// 2/pi in 24-bit chunks: 2/pi = sum of TwoOverPi[i] 2^(-24 (i + 1)), 192
/// bits, enough for the fraction of x 2/pi to 2^-52 for every float x.
const double TwoOverPi[] = {10680707, 7228996,  1387004, 2578385,
                            16069853, 12639074, 9804092, 4427841};

/// x = n pi/2 + r for any float x (in double), Payne and Hanek's way without
/// a table: each x chunk is exact in double (24 + 24 bits), reduced mod 4
/// exactly (t - 4 rint(t/4); terms that are multiples of 4 vanish), and the
/// sum of the reduced terms (below 32) keeps the fraction to 2^-52.
std::pair<Value *, Value *> largeReduction(VB &V, Value *Xd) {
  IRBuilder<> &B = V.B;
  // rint of a double that may be past 2^52 (then already an integer).
  auto Rint = [&](Value *T) {
    return V.sel(B.CreateFCmpOLT(V.abs(T), V.kd(0x1p52)), V.rint(T), T);
  };
  Value *S = V.kd(0);
  for (int I = 7; I >= 0; --I) {
    Value *T = B.CreateFMul(Xd, V.kd(std::ldexp(TwoOverPi[I], -24 * (I + 1))));
    T = V.fma(Rint(B.CreateFMul(T, V.kd(0.25))), V.kd(-4), T);
    S = B.CreateFAdd(S, T);
  }
  Value *N = V.rint(S);
  Value *R = B.CreateFMul(B.CreateFSub(S, N), V.kd(1.5707963267948966));
  return {N, R};
}

/// sin or cos, computed in double: x = n pi/2 + r, then the Taylor series of
/// sin and cos on |r| <= pi/4, one rounding to float at the end.
Value *emitSinCos(VB &V, Value *X, bool Cos) {
  IRBuilder<> &B = V.B;
  Value *Xd = B.CreateFPExt(X, V.D);
  Value *N = V.rint(B.CreateFMul(Xd, V.kd(0.63661977236758134)));
  // Two-part pi/2 (n C1 exact for |n| < 2^20): good for |x| <= 2^19.
  Value *R = V.fma(N, V.kd(-1.5707963267341256), Xd);
  R = V.fma(N, V.kd(-6.077100506506192e-11), R);
  // Past 2^19, in a block of its own that only a vector holding such an x
  // runs: x 2/pi mod 4 exactly term by term (largeReduction).
  Value *Large = B.CreateFCmpOGT(V.abs(Xd), V.kd(0x1p19));
  Function *F = B.GetInsertBlock()->getParent();
  BasicBlock *From = B.GetInsertBlock();
  BasicBlock *Slow = BasicBlock::Create(B.getContext(), "large", F);
  BasicBlock *Join = BasicBlock::Create(B.getContext(), "reduced", F);
  B.CreateCondBr(B.CreateOrReduce(Large), Slow, Join);
  B.SetInsertPoint(Slow);
  auto [NL, RL] = largeReduction(V, Xd);
  Value *NS = V.sel(Large, NL, N), *RS = V.sel(Large, RL, R);
  B.CreateBr(Join);
  B.SetInsertPoint(Join);
  PHINode *NP = B.CreatePHI(V.D, 2), *RP = B.CreatePHI(V.D, 2);
  NP->addIncoming(N, From);
  NP->addIncoming(NS, Slow);
  RP->addIncoming(R, From);
  RP->addIncoming(RS, Slow);
  N = NP;
  R = RP;
  Value *Z = V.B.CreateFMul(R, R);
  // sin r = r + r^3 (-1/3! + z (1/5! - ...)), cos r = 1 - z/2 + z^2 (...).
  Value *S = V.horner(Z, {-1.0 / 1307674368000.0, 1.0 / 6227020800.0,
                          -1.0 / 39916800.0, 1.0 / 362880.0, -1.0 / 5040.0,
                          1.0 / 120.0, -1.0 / 6.0});
  S = V.fma(V.B.CreateFMul(Z, R), S, R);
  Value *C = V.horner(Z, {1.0 / 20922789888000.0, -1.0 / 87178291200.0,
                          1.0 / 479001600.0, -1.0 / 3628800.0, 1.0 / 40320.0,
                          -1.0 / 720.0, 1.0 / 24.0, -0.5, 1.0});
  // Quadrant q = n mod 4 (two's complement keeps negative n right).
  Type *I64 = FixedVectorType::get(V.B.getInt64Ty(), V.N);
  Value *Q = V.B.CreateAnd(V.B.CreateFPToSI(N, I64), ConstantInt::get(I64, 3));
  if (Cos)
    Q = V.B.CreateAnd(V.B.CreateAdd(Q, ConstantInt::get(I64, 1)),
                      ConstantInt::get(I64, 3));
  // sin(x) by quadrant: sin r, cos r, -sin r, -cos r.
  Value *Odd = V.B.CreateICmpNE(V.B.CreateAnd(Q, ConstantInt::get(I64, 1)),
                                ConstantInt::get(I64, 0));
  Value *Negate = V.B.CreateICmpNE(V.B.CreateAnd(Q, ConstantInt::get(I64, 2)),
                                   ConstantInt::get(I64, 0));
  Value *Res = V.B.CreateSelect(Odd, C, S);
  Res = V.B.CreateSelect(Negate, V.B.CreateFNeg(Res), Res);
  return V.B.CreateFPTrunc(Res, V.F);
}

/// e^A for double lanes A in [-1000, 0]: reduction by ln 2 in double and
/// Taylor's series to r^8 (relative error below 2e-10, a 500th of a float
/// ULP), for the functions computed in double.
Value *expDouble(VB &V, Value *A) {
  IRBuilder<> &B = V.B;
  Type *I64 = FixedVectorType::get(B.getInt64Ty(), V.N);
  const double Magic = 6755399441055744.0; // 1.5 * 2^52: rounds to integer
  Value *K = B.CreateFAdd(B.CreateFMul(A, V.kd(Log2E)), V.kd(Magic));
  Value *N = B.CreateFSub(K, V.kd(Magic));
  Value *R = V.fma(N, V.kd(-6.93147180369123816490e-01), A);
  R = V.fma(N, V.kd(-1.90821492927058770002e-10), R);
  SmallVector<double, 9> C(9, 1); // 1/8!, 1/7!, ..., 1/1!, 1/0!
  for (int J = 7; J >= 0; --J)
    C[J] = C[J + 1] / (8 - J);
  Value *P = V.horner(R, C);
  // 2^n from n's bits in K (n >= -1022 here).
  Value *Ni =
      B.CreateSub(B.CreateBitCast(K, I64), B.CreateBitCast(V.kd(Magic), I64));
  Value *Scale = B.CreateBitCast(
      B.CreateShl(B.CreateAdd(Ni, ConstantInt::get(I64, 1023)), 52), V.D);
  Value *Res = B.CreateFMul(P, Scale);
  // Below e^-745 (and for NaN, handled by callers) the result is 0.
  return V.sel(B.CreateFCmpOLT(A, V.kd(-700)), V.kd(0), Res);
}

constexpr double InvSqrt2Pi = 0.3989422804014327;
/// Past t = 14.5, Phi(-t) < 4e-48 and phi(t) < 2e-46: far below float's
/// range, so the normal tail is 0 there (and M is fitted up to it).
constexpr double TailEnd = 14.5;

// tools/vmfit/fit.py: Phi(-t) e^(t^2/2) = M(s) for t in [0, 14.5], with
// v = 4 / (4 + t) and s = (v - 0.60811) / 0.39189; relative error 1.4e-9.
const double NormcdfM[] = {
    -5.89223360622514e-07,  6.137519985717609e-07,   9.620605107002261e-06,
    -7.028586953940893e-06, -0.00015543847735251083, -0.00015163521251677757,
    0.0024943989526883116,  0.015152042501342312,    0.04931464986120452,
    0.11083374329465072,    0.18464524566285068,     0.1378643768615289};

/// M(t) = Phi(-t) e^(t^2/2) in double for double t >= 0, as erfc and erf
/// need it (their t = sqrt(2) |x| is not a float): a polynomial in a
/// variable of 4 / (4 + t), whose terms alternate near t = 14 (float's
/// Horner would lose 3 to 8 ULP there; normcdf's float M is piecewise).
Value *millsDouble(VB &V, Value *Td) {
  IRBuilder<> &B = V.B;
  Value *Tc = V.sel(B.CreateFCmpOGT(Td, V.kd(TailEnd)), V.kd(TailEnd), Td);
  Value *Vv = B.CreateFDiv(V.kd(4), B.CreateFAdd(Tc, V.kd(4)));
  Value *S = V.fma(Vv, V.kd(2.5517241379310347),
                   V.kd(-0.6081081081081081 * 2.5517241379310347));
  return V.horner(S, NormcdfM);
}

// tools/vmfit/fit.py: M(t) = Phi(-t) e^(t^2/2) on 16 intervals of t in
// [0, 15), each a degree-6 fit in s = t - centre (relative error 4.8e-9):
// M = m0 + s P(s), m0 as the float pair hi + lo. Columns are intervals.
const float NormcdfPiece[9][16] = {
  /* Centre */ {0.125, 0.375, 0.625, 0.875, 1.25, 1.75, 2.25, 2.75, 3.5, 4.5, 5.5, 6.5, 8, 10, 12, 14},
  /* M0Hi */ {0.453793228, 0.379604429, 0.323356181, 0.279770583, 0.230760321, 0.185231671, 0.153651938, 0.130724728, 0.106345154, 0.084803395, 0.0703426972, 0.0600156747, 0.0491225459, 0.0395066924, 0.0330189727, 0.0283526611},
  /* M0Lo */ {-5.63168445e-09, -1.13771725e-09, -1.26674706e-08, -1.2641955e-08, 2.84551743e-10, -6.0590275e-09, -4.18527435e-10, 5.99329475e-09, -7.11330106e-10, -2.86547763e-09, -3.17803139e-09, 6.62700395e-10, 3.44266587e-10, 1.66206826e-09, -1.64746161e-09, -5.30963773e-10},
  /* P0 */ {0.00762358168, 0.00414499594, 0.00231729588, 0.00133013364, 0.000609878683, 0.000231180922, 9.50891772e-05, 4.20489378e-05, 1.40880629e-05, 3.8623034e-06, 1.25550321e-06, 4.67418147e-07, 1.31681091e-07, 3.1254249e-08, 9.36424271e-09, 3.32703731e-09},
  /* P1 */ {-0.0199741591, -0.0114223789, -0.00671385648, -0.00404978171, -0.0019994597, -0.000833451748, -0.000375739182, -0.000181451542, -6.89389199e-05, -2.20239544e-05, -8.22468155e-06, -3.47271362e-06, -1.15772559e-06, -3.32996791e-07, -1.17576427e-07, -4.81830646e-08},
  /* P2 */ {0.0480796173, 0.0290647615, 0.0180492047, 0.0114946198, 0.00610255357, 0.00282373931, 0.00140672922, 0.000747130311, 0.000320124411, 0.000120689081, 5.22437476e-05, 2.51797464e-05, 9.8272576e-06, 3.46374395e-06, 1.45091997e-06, 6.88757666e-07},
  /* P3 */ {-0.105509296, -0.0678184703, -0.0447472036, -0.0302503407, -0.0175288841, -0.00907530822, -0.00503120106, -0.00295672542, -0.00145900086, -0.000651770504, -0.000328051916, -0.000180896197, -8.42765003e-05, -3.62768769e-05, -1.79924191e-05, -9.88151805e-06},
  /* P4 */ {0.205507979, 0.141691476, 0.100164123, 0.0724477097, 0.0463227369, 0.0271773245, 0.01694737, 0.0111196321, 0.00638765283, 0.00341591053, 0.00201332313, 0.00127656804, 0.000713630463, 0.000376650132, 0.000221720693, 0.000141099139},
  /* P5 */ {-0.342218131, -0.256590635, -0.196844682, -0.154143035, -0.110491887, -0.0747868717, -0.0532254204, -0.0394492634, -0.0267342478, -0.0173270162, -0.0120574636, -0.00884039048, -0.00596191222, -0.00387533964, -0.00271462766, -0.00200503296},
};

/// Phi and phi come in two builds. With AVX-512 (a permute fetches each
/// coefficient of a piecewise M per lane) e^(-t^2/2) and M(t) are float
/// steps, only their products in double; elsewhere, where a lookup would
/// be a scalar gather, e^(-t^2/2) and M(t) are computed in double (a
/// double exp, M a polynomial in 4 / (4 + t)). Both hand double products.
///
/// In the float build e^(-t^2/2) is formed scaled by 2^64 so that it stays
/// a normal float down to t = TailEnd (2^-152 there); M and 1/sqrt(2 pi)
/// take the 2^-64 back.
constexpr int GaussExpScale = 64;

/// t = |x|, or TailEnd past it (a NaN stays NaN).
Value *tailClamped(VB &V, Value *X) { return V.atMost(V.abs(X), TailEnd); }

/// e^(-t^2/2) 2^64 in float for t = |x| (AVX-512 build), 0 past TailEnd.
Value *gaussF(VB &V, Value *X) {
  Value *Tc = tailClamped(V, X);
  // t^2 = h + l exactly; -h/2 reduced by ln 2, -l/2 joining the small r
  // (e^-x^2/2 has condition number x^2, up to 210 here).
  Value *H = V.mul(Tc, Tc);
  Value *L = V.fma(Tc, Tc, V.B.CreateFNeg(H));
  auto [N, R] = reduceLn2Core(V, V.mul(H, V.k(-0.5)), V.mul(L, V.k(-0.5)));
  Value *P = expm1Reduced(V, R, true);
  // n + 64 >= -88; past the tail 2^-186 makes it 0.
  Value *Ns = V.sel(V.gt(V.abs(X), V.k(TailEnd)), V.k(-250),
                    V.add(N, V.k(GaussExpScale)));
  return V.ldexp(V.add(V.k(1), P), Ns);
}

/// e^(-t^2/2) (times 2^64 in the float build) in double for t = |x|, 0
/// past TailEnd, NaN for NaN: the same instructions in normcdf and
/// normpdf, merged after inlining.
Value *gaussD(VB &V, Value *X) {
  if (!V.Avx512) {
    Value *Td = V.B.CreateFPExt(V.abs(X), V.D);
    Value *A = V.B.CreateFMul(V.B.CreateFMul(Td, Td), V.kd(-0.5)); // exact
    Value *E = expDouble(V, A);
    return V.sel(V.B.CreateFCmpOGT(Td, V.kd(TailEnd)), V.kd(0), E);
  }
  return V.B.CreateFPExt(gaussF(V, X), V.D);
}

/// M(t) 2^-64 as float m0 hi and the rest (AVX-512 build), as millsD
/// reads them.
std::pair<Value *, Value *> millsF(VB &V, Value *X) {
  IRBuilder<> &B = V.B;
  Value *Tc = tailClamped(V, X);
  Value *Idx = B.CreateSub(B.CreateLShr(V.toInt(V.add(Tc, V.k(1))), 21),
                           V.ki(0x3f800000 >> 21));
  auto Col = [&](int Row) {
    float Scaled[16];
    for (int I = 0; I < 16; ++I) // exact: every entry stays normal
      Scaled[I] = std::ldexp(NormcdfPiece[Row][I], Row ? -GaussExpScale : 0);
    return V.lookup(Idx, Scaled);
  };
  Value *S = V.sub(Tc, Col(0));
  Value *P = Col(3);
  for (int Row = 4; Row < 9; ++Row)
    P = V.fma(P, S, Col(Row));
  return {Col(1), V.fma(S, P, Col(2))};
}

/// M(t) (times 2^-64 in the float build) in double for t = |x|. The float
/// build reads the interval from the exponent and top two mantissa bits of
/// t + 1 (widths 1/4 near 0, where M curves most, to 2 near 15) and fetches
/// its coefficients; s P(s) + lo in float is below a tenth of M, so its
/// roundings reach M a tenth as big.
Value *millsD(VB &V, Value *X) {
  IRBuilder<> &B = V.B;
  if (!V.Avx512)
    return millsDouble(V, B.CreateFPExt(V.abs(X), V.D));
  auto [Hi, Low] = millsF(V, X);
  return B.CreateFAdd(B.CreateFPExt(Hi, V.D), B.CreateFPExt(Low, V.D));
}

/// Phi(x) in double: Phi(-t) = e^(-t^2/2) M(t) for t = |x|, and 1 - Phi(-t)
/// for x > 0, where nothing cancels (Phi(-t) <= 1/2). e^(-t^2/2) and all
/// before it are normpdf's too, so their rounding is common to both: gelu'
/// = x phi(x) + Phi(x) = e (M(t) - t / sqrt(2 pi)) for x < 0 carries it
/// once, however much the sum cancels.
Value *emitNormcdfD(VB &V, Value *X, Value *) {
  IRBuilder<> &B = V.B;
  Value *Q = B.CreateFMul(gaussD(V, X), millsD(V, X));
  return V.sel(V.lt(X, V.k(0)), Q, B.CreateFSub(V.kd(1), Q));
}

Value *emitNormpdfD(VB &V, Value *X, Value *) {
  int Scale = V.Avx512 ? -GaussExpScale : 0;
  return V.B.CreateFMul(gaussD(V, X),
                        V.kd(std::ldexp(InvSqrt2Pi, Scale)));
}

/// gelu = x Phi(x) and its derivative Phi(x) + x phi(x) in float (AVX-512
/// build), from the float steps that normcdf and normpdf round in double:
/// E = e^(-t^2/2) 2^64 and M(t) 2^-64 = Mh + Ml, so Phi(-t) = E M.
struct GeluParts {
  Value *T, *E, *Mh, *Ml;
};
GeluParts geluParts(VB &V, Value *X) {
  GeluParts G{tailClamped(V, X), gaussF(V, X), nullptr, nullptr};
  std::tie(G.Mh, G.Ml) = millsF(V, X);
  return G;
}

/// 1 - Phi(-t) = 1 - E M as Rh + Rl: E Mh = P + Pl exactly (fma), and
/// 1 - P = Rh + (1 - Rh - P) exactly (Fast2Sum, P <= 1/2).
std::pair<Value *, Value *> oneMinusPhi(VB &V, const GeluParts &G) {
  Value *P = V.mul(G.E, G.Mh);
  Value *Pl = V.fma(G.E, G.Ml, V.fma(G.E, G.Mh, V.B.CreateFNeg(P)));
  Value *Rh = V.sub(V.k(1), P);
  return {Rh, V.sub(V.sub(V.sub(V.k(1), Rh), P), Pl)};
}

Value *emitGelu(VB &V, Value *X, Value *) {
  // x < 0: (x E) M with x E = XE + XEl exactly, so that a subnormal
  // Phi(-t) (t > 12.9) is never formed: one rounding of the product.
  // x >= 0: x (Rh + Rl), one rounding.
  GeluParts G = geluParts(V, X);
  Value *XE = V.mul(X, G.E);
  Value *XEl = V.fma(X, G.E, V.B.CreateFNeg(XE));
  Value *Neg = V.fma(XE, G.Mh, V.fma(XEl, G.Mh, V.mul(XE, G.Ml)));
  auto [Rh, Rl] = oneMinusPhi(V, G);
  // x at most FLT_MAX, so that x times a lo part that is 0 is 0 at +inf.
  Value *Pos = V.fma(X, Rh, V.mul(V.atMost(X, FLT_MAX), Rl));
  // x Phi(x) has x's sign, also where it rounds to 0 (x < -12.9, x = -0).
  return V.copysign(V.sel(V.lt(X, V.k(0)), Neg, Pos), X);
}

Value *emitGeluGrad(VB &V, Value *X, Value *) {
  // x < 0: Phi(x) + x phi(x) = E (M(t) - t c), c = 2^-64 / sqrt(2 pi) =
  // ch + cl: t ch = q + ql exactly, and Mh - q is exact where they cancel
  // (Sterbenz), so the difference keeps M's digits, and E's rounding enters
  // once, as in the double build. x >= 0: (Rh + Rl) + x E c, terms of one
  // sign.
  GeluParts G = geluParts(V, X);
  double C = std::ldexp(InvSqrt2Pi, -GaussExpScale);
  float CH = static_cast<float>(C);
  Value *Ch = V.k(CH), *Cl = V.k(C - CH);
  Value *Q = V.mul(G.T, Ch);
  Value *Ql = V.fma(G.T, Cl, V.fma(G.T, Ch, V.B.CreateFNeg(Q)));
  Value *Neg = V.fma(G.E, V.sub(G.Mh, Q), V.mul(G.E, V.sub(G.Ml, Ql)));
  auto [Rh, Rl] = oneMinusPhi(V, G);
  Value *Pos = V.add(Rh, V.fma(V.mul(V.atMost(X, FLT_MAX), G.E), Ch, Rl));
  return V.sel(V.lt(X, V.k(0)), Neg, Pos);
}

/// x sigmoid(v) with v = k1 x + k3 x^3 (k1 > 0, k3 > 0: gelu's tanh form),
/// what its value and its derivative share: a = |x| clamped at L, past
/// which |v| >= 104 and sigmoid(v) is 1 or 0 already, and
/// k3 a^2 = P + Pl and |v| = a (k1 + k3 a^2) = Vh + Vl as float pairs (a
/// rounded v would cost up to |v| ULPs of sigmoid(v)); sigmoid of |v| and
/// of -|v| (sigmoidOfAbs).
struct CubicParts {
  Value *A, *P, *Pl, *Neg, *Big, *Small;
  ExpNegAbs E;
};

/// k1 + (P + Pl) as Sh + Sl: k1 as float hi + lo, P >= 0, and the sum by
/// Fast2Sum in the order of the larger first (or, where the caller knows
/// k1 >= P, without that order).
std::pair<Value *, Value *> plusK1(VB &V, double K1, Value *P, Value *Pl,
                                   bool K1Larger) {
  float KH = static_cast<float>(K1);
  Value *Kh = V.k(KH), *Big = Kh, *Small = P;
  if (!K1Larger) {
    Value *KFirst = V.gt(Kh, P); // a vmaxps and a vminps; a NaN P passes
    Big = V.sel(KFirst, Kh, P);
    Small = V.sel(KFirst, P, Kh);
  }
  Value *Sh = V.add(Big, Small);
  Value *Sl = V.sub(Small, V.sub(Sh, Big));
  return {Sh, V.add(Sl, V.add(Pl, V.k(K1 - KH)))};
}

/// a (Sh + Sl) as Hi + Lo: the product's rounding error by fma.
std::pair<Value *, Value *> timesA(VB &V, Value *A,
                                   std::pair<Value *, Value *> S) {
  Value *Hi = V.mul(A, S.first);
  return {Hi, V.fma(A, S.second, V.fma(A, S.first, V.B.CreateFNeg(Hi)))};
}

/// The smallest x >= 0 past which k1 x + k3 x^3 >= 104 for certain.
float cubicLimit(double K1, double K3) {
  double L = std::min(104 / K1, std::cbrt(104 / K3));
  return std::nextafter(static_cast<float>(L), INFINITY);
}

CubicParts cubicParts(VB &V, Value *X, double K1, double K3) {
  CubicParts C;
  float L = cubicLimit(K1, K3);
  C.A = V.atMost(V.abs(X), L);
  C.Neg = V.lt(X, V.k(0)); // v has x's sign
  // a^2 = X2 + X2l exactly; k3 = Kh + Kl; k3 a^2 = P + Pl.
  Value *X2 = V.mul(C.A, C.A);
  Value *X2l = V.fma(C.A, C.A, V.B.CreateFNeg(X2));
  float KH = static_cast<float>(K3);
  Value *Kh = V.k(KH);
  C.P = V.mul(Kh, X2);
  C.Pl = V.fma(V.k(K3 - KH), X2,
               V.fma(Kh, X2l, V.fma(Kh, X2, V.B.CreateFNeg(C.P))));
  auto [Vh, Vl] = timesA(V, C.A, plusK1(V, K1, C.P, C.Pl, false));
  C.E = expNegAbs(V, Vh, Vl);
  std::tie(C.Big, C.Small) = sigmoidOfAbs(V, C.E);
  return C;
}

Value *emitXSigmoidCubic(VB &V, Value *X, double K1, double K3) {
  // x sigmoid(v), x clamped below (x < -L: sigmoid(v) = 0, the product -0
  // also for x = -inf), one rounding after sigmoid's.
  CubicParts C = cubicParts(V, X, K1, K3);
  return V.mul(V.sel(C.Neg, V.B.CreateFNeg(C.A), X),
               V.sel(C.Neg, C.Small, C.Big));
}

Value *emitXSigmoidCubicGrad(VB &V, Value *X, double K1, double K3) {
  // sigmoid(v) (1 + w sigmoid(-v)) with |w| = |x v'(x)| = a (k1 + 3 k3 a^2)
  // = Wh + Wl (3 k3 a^2 = 3 (P + Pl)). x >= 0: terms of one sign. x < 0:
  // siluGrad's form, sigmoid(v) sigmoid(-v) ((1 - |w|) + e^v), e^v = Eh +
  // El the sigmoids' own: it cancels where |w| is in (1, 2), where 1 - Wh
  // is exact (Sterbenz) and, when 3 k3 <= k1^3, 3 k3 a^2 <= k1 (Fast2Sum
  // serves without ordering).
  CubicParts C = cubicParts(V, X, K1, K3);
  Value *P3 = V.mul(V.k(3), C.P);
  Value *P3l = V.fma(V.k(3), C.Pl, V.fma(V.k(3), C.P, V.B.CreateFNeg(P3)));
  auto [Wh, Wl] =
      timesA(V, C.A, plusK1(V, K1, P3, P3l, 3 * K3 <= K1 * K1 * K1));
  Value *Pos = V.mul(C.Big, V.fma(Wh, C.Small, V.k(1)));
  Value *N = V.add(V.add(V.sub(V.k(1), Wh), C.E.Eh), V.sub(C.E.El, Wl));
  Value *BN = V.mul(C.Big, N);
  Value *Neg =
      V.fma(C.Small, BN, V.mul(C.Small, V.fma(C.Big, N, V.B.CreateFNeg(BN))));
  return V.passedNaN(X, V.sel(C.Neg, Neg, Pos));
}

/// erfc(|x| + lo) / 2 = Phi(-t) for t = sqrt(2) (|x| + lo), in double: e^-a^2
/// with a = |x| + lo in double, times M(t); 0 past t = TailEnd.
Value *erfcHalfTail(VB &V, Value *X, Value *ALo) {
  IRBuilder<> &B = V.B;
  Value *A = B.CreateFPExt(V.abs(X), V.D);
  if (ALo)
    A = B.CreateFAdd(A, B.CreateFPExt(ALo, V.D));
  Value *Td = B.CreateFMul(A, V.kd(1.4142135623730951));
  Value *E = expDouble(V, B.CreateFNeg(B.CreateFMul(A, A)));
  E = V.sel(B.CreateFCmpOGT(Td, V.kd(TailEnd)), V.kd(0), E);
  return B.CreateFMul(E, millsDouble(V, Td));
}

/// erfc(x + lo) = 2 Phi(-sqrt(2) (x + lo)) in double: 2 Q(t) for x >= 0 and
/// 2 - 2 Q(t) below, with nothing cancelling (Q <= 1/2). lo moves e^-x^2,
/// whose condition number is 2 x^2.
Value *emitErfcD(VB &V, Value *X, Value *Lo) {
  Value *Q2 = V.B.CreateFMul(erfcHalfTail(V, X, absLo(V, X, Lo)), V.kd(2));
  Value *Res = V.sel(V.lt(X, V.k(0)), V.B.CreateFSub(V.kd(2), Q2), Q2);
  return V.sel(V.isNaN(X), V.B.CreateFPExt(X, V.D), Res);
}

/// erf(x): x P(2x^2 - 1) in float for |x| < 1; 1 - erfc(|x|) in double past
/// it (erfc(1) = 0.157: nothing cancels), sign restored.
Value *emitErf(VB &V, Value *X) {
  Value *A = V.abs(X);
  Value *Xs = V.clamp(A, 0, 1);
  Value *Small = V.mul(Xs, erfOverX(V, Xs));
  Value *Large = V.B.CreateFPTrunc(
      V.B.CreateFSub(V.kd(1),
                     V.B.CreateFMul(erfcHalfTail(V, X, nullptr), V.kd(2))),
      V.F);
  Value *R = V.sel(V.lt(A, V.k(1)), Small, Large);
  return V.restoreNaN(X, V.copysign(R, X));
}

/// What rounding error of its argument a function can use.
enum class LoUse { None, OfX, OfAbsX };

using EmitFn = Value *(*)(VB &V, Value *X, Value *Lo);

/// Every function once: its op, how it is emitted (in float, or in double
/// and then rounded once), its use of lo, and the error it is held to (ULPs
/// of the float result, checked by the accuracy sweep).
struct Entry {
  Op O;
  EmitFn Emit;
  LoUse Lo;
  double MaxUlp;
  EmitFn EmitDouble = nullptr;
};

const Entry Table[] = {
    {Op::Exp, emitExp, LoUse::OfX, 1},
    {Op::Expm1, emitExpm1, LoUse::OfX, 1},
    {Op::Log, emitLog, LoUse::OfX, 1},
    {Op::Log1p, emitLog1p, LoUse::OfX, 1},
    {Op::Tanh, emitTanh, LoUse::OfAbsX, 1.5},
    {Op::Sigmoid, emitSigmoid, LoUse::OfAbsX, 1.5},
    {Op::Softplus, emitSoftplus, LoUse::OfAbsX, 1.7},
    {Op::Erf, [](VB &V, Value *X, Value *) { return emitErf(V, X); },
     LoUse::None, 2},
    {Op::Erfc, nullptr, LoUse::OfX, 0.55, emitErfcD},
    {Op::Sin, [](VB &V, Value *X, Value *) { return emitSinCos(V, X, false); },
     LoUse::None, 0.5},
    {Op::Cos, [](VB &V, Value *X, Value *) { return emitSinCos(V, X, true); },
     LoUse::None, 0.5},
    // The AVX-512 build's (exhaustive 1.946, 1.715); the double one's 0.52.
    {Op::Normcdf, nullptr, LoUse::None, 2, emitNormcdfD},
    {Op::Normpdf, nullptr, LoUse::None, 1.75, emitNormpdfD},
};

const Entry *find(Op O) {
  for (const Entry &E : Table)
    if (E.O == O)
      return &E;
  return nullptr;
}

} // namespace

bool VectorMath::provides(Op O) { return find(O); }

double VectorMath::maxUlp(Op O) {
  const Entry *E = find(O);
  return E ? E->MaxUlp : INFINITY;
}

bool VectorMath::hasDoubleResult(Op O) {
  const Entry *E = find(O);
  return E && E->EmitDouble;
}

bool VectorMath::takesLo(Op O) {
  const Entry *E = find(O);
  return E && E->Lo != LoUse::None;
}

bool VectorMath::takesAbsLo(Op O) {
  const Entry *E = find(O);
  return E && E->Lo == LoUse::OfAbsX;
}

Function *VectorMath::get(Op O, bool WithLo, bool Double) {
  const Entry *E = find(O);
  assert(E && "VectorMath::provides() said no");
  return get(opInfo(O).Spelling, WithLo, Double, [&](VB &V, Value *X, Value *Lo) {
    return Double    ? E->EmitDouble(V, X, Lo)
           : E->Emit ? E->Emit(V, X, Lo)
                     : V.B.CreateFPTrunc(E->EmitDouble(V, X, Lo), V.F);
  });
}

Function *VectorMath::get(StringRef Spelling, bool WithLo, bool Double,
                          EmitRef Emit) {
  std::string Name = ("netjit.vm." + Spelling).str() + (WithLo ? ".lo" : "") +
                     (Double ? ".d" : "") + ".v" + std::to_string(Lanes) +
                     "f32";
  if (Function *F = M.getFunction(Name))
    return F;
  LLVMContext &Ctx = M.getContext();
  Type *VT = FixedVectorType::get(Type::getFloatTy(Ctx), Lanes);
  Type *RT = Double ? FixedVectorType::get(Type::getDoubleTy(Ctx), Lanes) : VT;
  SmallVector<Type *, 2> Args(WithLo ? 2 : 1, VT);
  Function *F = Function::Create(FunctionType::get(RT, Args, false),
                                 GlobalValue::InternalLinkage, Name, M);
  F->addFnAttr(Attribute::AlwaysInline);
  F->addFnAttr(Attribute::NoUnwind);
  IRBuilder<> B(BasicBlock::Create(Ctx, "entry", F));
  VB V(B, Lanes, Avx512);
  B.CreateRet(Emit(V, F->getArg(0), WithLo ? F->getArg(1) : nullptr));
  return F;
}

Value *VectorMath::callFloat(IRBuilder<> &B, StringRef Spelling, Value *X,
                             Value *Lo, EmitRef Emit) {
  Function *F = get(Spelling, Lo, false, Emit);
  return Lo ? B.CreateCall(F, {X, Lo}) : B.CreateCall(F, {X});
}

Value *VectorMath::sigmoidProduct(IRBuilder<> &B, Value *X, Value *AbsLo) {
  return callFloat(B, "sigmoid_product", X, AbsLo, emitSigmoidProduct);
}

Value *VectorMath::gelu(IRBuilder<> &B, Value *X, bool Derivative) {
  assert(Avx512 && "gelu's float build needs AVX-512's lookups");
  return Derivative ? callFloat(B, "gelu_grad", X, nullptr, emitGeluGrad)
                    : callFloat(B, "gelu", X, nullptr, emitGelu);
}

Value *VectorMath::xSigmoidCubic(IRBuilder<> &B, Value *X, double K1,
                                 double K3, bool Derivative) {
  // One function per (k1, k3), named by their bits.
  std::string Name =
      formatv("x_sigmoid_cubic{0}.{1:x}.{2:x}", Derivative ? "_grad" : "",
              llvm::bit_cast<uint64_t>(K1), llvm::bit_cast<uint64_t>(K3));
  return callFloat(B, Name, X, nullptr, [&](VB &V, Value *X, Value *) {
    return Derivative ? emitXSigmoidCubicGrad(V, X, K1, K3)
                      : emitXSigmoidCubic(V, X, K1, K3);
  });
}

Value *VectorMath::siluGrad(IRBuilder<> &B, Value *X, Value *AbsLo) {
  return callFloat(B, "silu_grad", X, AbsLo, emitSiluGrad);
}

Value *VectorMath::call(IRBuilder<> &B, Op O, Value *X, Value *Lo,
                        bool Double) {
  Double = Double && hasDoubleResult(O);
  if (Lo && takesLo(O))
    return B.CreateCall(get(O, true, Double), {X, Lo});
  return B.CreateCall(get(O, false, Double), {X});
}

} // namespace netjit
