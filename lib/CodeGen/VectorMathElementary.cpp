// VectorMathElementary.cpp - exp, expm1, log, log1p, tanh, sigmoid,
// softplus and the pairs built from one exp (sigmoid(x) sigmoid(-x),
// silu's derivative) over <N x float> with FMAs. Polynomial coefficients
// are Taylor's where the series converges fast on the reduced range, else
// Chebyshev fits made by tools/vmfit/fit.py; errors in docs/accuracy.md.
#include "netjit/CodeGen/VectorMathIR.h"

#include <cmath>

using namespace llvm;

namespace netjit {
namespace vm {

namespace {

/// reduceLn2Core of C, x clamped by the caller to [-104, 89]: where the
/// clamp changed x, lo means nothing (and may be huge next to C).
std::pair<Value *, Value *> reduceLn2(VB &V, Value *X, Value *C, Value *Lo) {
  if (Lo)
    Lo = V.sel(V.B.CreateFCmpOEQ(C, X), Lo, V.k(0));
  return reduceLn2Core(V, C, Lo);
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
  auto [N, R] =
      reduceLn2(V, A, V.atLeast(A, -104), ALo ? V.B.CreateFNeg(ALo) : nullptr);
  return {N, expm1Reduced(V, R, true)};
}

} // namespace

std::pair<Value *, Value *> reduceLn2Core(VB &V, Value *X, Value *Lo) {
  Value *N = V.rint(V.mul(X, V.k(Log2E)));
  Value *R = V.fma(N, V.k(-Ln2Hi), X);
  R = V.fma(N, V.k(-Ln2Lo), Lo ? V.add(R, Lo) : R);
  return {N, R};
}

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

Value *emitExp(VB &V, Value *X, Value *Lo) {
  auto [N, P] = expParts(V, X, Lo);
  return V.passedNaN(X, V.ldexp(V.add(V.k(1), P), N));
}

Value *emitExpm1(VB &V, Value *X, Value *Lo) {
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

namespace {

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
  Value *R = V.mul(Z, V.horner(Z, {2.0 / 9, 2.0 / 7, 2.0 / 5, 2.0 / 3}));
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

} // namespace

Value *emitLog(VB &V, Value *X, Value *Lo) {
  // log(x + lo) = log(x) + lo / x
  return logSpecials(V, X, X, logPositive(V, X, Lo ? V.div(Lo, X) : nullptr));
}

namespace {

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

} // namespace

Value *emitLog1p(VB &V, Value *X, Value *Lo) {
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

Value *absLo(VB &V, Value *X, Value *Lo) {
  return Lo ? V.sel(V.lt(X, V.k(0)), V.B.CreateFNeg(Lo), Lo) : nullptr;
}

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

Value *emitTanh(VB &V, Value *X, Value *Lo) {
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

std::pair<Value *, Value *> sigmoidOfAbs(VB &V, const ExpNegAbs &E) {
  Value *NegInv = V.B.CreateFNeg(E.Inv);
  Value *R = V.fma(NegInv, E.D, V.fma(NegInv, E.S, V.k(1)));
  // R^2 (up to 2^-46) is an ULP of sigmoid(-|x|) once E nears 2^-24.
  R = V.fma(R, R, R);
  return {V.fma(R, E.Inv, E.Inv),
          V.fma(V.B.CreateFNeg(R), E.Inv, V.sub(V.k(1), E.Inv))};
}

Value *emitSigmoid(VB &V, Value *X, Value *Lo) {
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
  Value *XLo =
      ALo ? V.B.CreateFNeg(ALo) : V.k(0); // x < 0: lo of x = -lo of |x|
  Value *N = V.add(V.add(V.add(V.k(1), Xc), E.Eh), V.add(XLo, E.El));
  // Small (Big N) with Big N's rounding error (fma) recovered: one
  // rounding of the result instead of two.
  Value *BN = V.mul(Big, N);
  Value *Neg =
      V.fma(Small, BN, V.mul(Small, V.fma(Big, N, V.B.CreateFNeg(BN))));
  return V.passedNaN(X, V.sel(V.lt(X, V.k(0)), Neg, Pos));
}

Value *emitSoftplus(VB &V, Value *X, Value *Lo) {
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

} // namespace vm
} // namespace netjit
