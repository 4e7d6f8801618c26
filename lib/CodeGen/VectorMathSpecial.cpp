// VectorMathSpecial.cpp - erf, erfc, the normal distribution (normcdf,
// normpdf, gelu and its derivative), sin and cos, and x sigmoid(v) of an
// odd cubic v (gelu's tanh form), over <N x float>; where float cannot
// hold the budget, computed in double and rounded once.
#include "netjit/CodeGen/VectorMathIR.h"

#include <cfloat>
#include <cmath>

using namespace llvm;

namespace netjit {
namespace vm {

namespace {

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

} // namespace

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

namespace {

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
    /* Centre */ {0.125, 0.375, 0.625, 0.875, 1.25, 1.75, 2.25, 2.75, 3.5, 4.5,
                  5.5, 6.5, 8, 10, 12, 14},
    /* M0Hi */
    {0.453793228, 0.379604429, 0.323356181, 0.279770583, 0.230760321,
     0.185231671, 0.153651938, 0.130724728, 0.106345154, 0.084803395,
     0.0703426972, 0.0600156747, 0.0491225459, 0.0395066924, 0.0330189727,
     0.0283526611},
    /* M0Lo */
    {-5.63168445e-09, -1.13771725e-09, -1.26674706e-08, -1.2641955e-08,
     2.84551743e-10, -6.0590275e-09, -4.18527435e-10, 5.99329475e-09,
     -7.11330106e-10, -2.86547763e-09, -3.17803139e-09, 6.62700395e-10,
     3.44266587e-10, 1.66206826e-09, -1.64746161e-09, -5.30963773e-10},
    /* P0 */
    {0.00762358168, 0.00414499594, 0.00231729588, 0.00133013364, 0.000609878683,
     0.000231180922, 9.50891772e-05, 4.20489378e-05, 1.40880629e-05,
     3.8623034e-06, 1.25550321e-06, 4.67418147e-07, 1.31681091e-07,
     3.1254249e-08, 9.36424271e-09, 3.32703731e-09},
    /* P1 */
    {-0.0199741591, -0.0114223789, -0.00671385648, -0.00404978171,
     -0.0019994597, -0.000833451748, -0.000375739182, -0.000181451542,
     -6.89389199e-05, -2.20239544e-05, -8.22468155e-06, -3.47271362e-06,
     -1.15772559e-06, -3.32996791e-07, -1.17576427e-07, -4.81830646e-08},
    /* P2 */
    {0.0480796173, 0.0290647615, 0.0180492047, 0.0114946198, 0.00610255357,
     0.00282373931, 0.00140672922, 0.000747130311, 0.000320124411,
     0.000120689081, 5.22437476e-05, 2.51797464e-05, 9.8272576e-06,
     3.46374395e-06, 1.45091997e-06, 6.88757666e-07},
    /* P3 */
    {-0.105509296, -0.0678184703, -0.0447472036, -0.0302503407, -0.0175288841,
     -0.00907530822, -0.00503120106, -0.00295672542, -0.00145900086,
     -0.000651770504, -0.000328051916, -0.000180896197, -8.42765003e-05,
     -3.62768769e-05, -1.79924191e-05, -9.88151805e-06},
    /* P4 */
    {0.205507979, 0.141691476, 0.100164123, 0.0724477097, 0.0463227369,
     0.0271773245, 0.01694737, 0.0111196321, 0.00638765283, 0.00341591053,
     0.00201332313, 0.00127656804, 0.000713630463, 0.000376650132,
     0.000221720693, 0.000141099139},
    /* P5 */
    {-0.342218131, -0.256590635, -0.196844682, -0.154143035, -0.110491887,
     -0.0747868717, -0.0532254204, -0.0394492634, -0.0267342478, -0.0173270162,
     -0.0120574636, -0.00884039048, -0.00596191222, -0.00387533964,
     -0.00271462766, -0.00200503296},
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

} // namespace

Value *emitNormcdfD(VB &V, Value *X, Value *) {
  IRBuilder<> &B = V.B;
  Value *Q = B.CreateFMul(gaussD(V, X), millsD(V, X));
  return V.sel(V.lt(X, V.k(0)), Q, B.CreateFSub(V.kd(1), Q));
}

Value *emitNormpdfD(VB &V, Value *X, Value *) {
  int Scale = V.Avx512 ? -GaussExpScale : 0;
  return V.B.CreateFMul(gaussD(V, X), V.kd(std::ldexp(InvSqrt2Pi, Scale)));
}

namespace {

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

} // namespace

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

namespace {

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

} // namespace

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

namespace {

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

} // namespace

Value *emitErfcD(VB &V, Value *X, Value *Lo) {
  Value *Q2 = V.B.CreateFMul(erfcHalfTail(V, X, absLo(V, X, Lo)), V.kd(2));
  Value *Res = V.sel(V.lt(X, V.k(0)), V.B.CreateFSub(V.kd(2), Q2), Q2);
  return V.sel(V.isNaN(X), V.B.CreateFPExt(X, V.D), Res);
}

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

} // namespace vm
} // namespace netjit
