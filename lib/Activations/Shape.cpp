// Shape.cpp - an activation's range, monotonicity, largest slope and
// saturation, from f and f' in double on a grid: every 0.002 on [-20, 20]
// (where activations bend), log-spaced out to 1e6 (where they settle), the
// extremes refined by golden-section search and the saturation boundaries
// by bisection.
#include "netjit/Activations/Shape.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

using namespace llvm;

namespace netjit {

namespace {

constexpr double Dense = 20, Far = 1e6;
/// Beyond this |x| an extreme is a limit, not a value taken: the grid's
/// float-rounded tails (sigmoid(40) == 1 in double) would say otherwise.
constexpr double Near = 10;

std::vector<double> grid() {
  std::vector<double> X;
  const int Tail = 150;
  for (int K = Tail; K > 0; --K)
    X.push_back(-Dense * std::pow(Far / Dense, double(K) / Tail));
  for (int K = -10000; K <= 10000; ++K)
    X.push_back(K / 500.0);
  for (int K = 1; K <= Tail; ++K)
    X.push_back(Dense * std::pow(Far / Dense, double(K) / Tail));
  return X;
}

/// The x in [A, B] where Fn is smallest (golden-section search).
template <typename F> double argMin(F Fn, double A, double B) {
  const double R = (std::sqrt(5.0) - 1) / 2;
  double C = B - R * (B - A), D = A + R * (B - A);
  double FC = Fn(C), FD = Fn(D);
  for (int I = 0; I < 80 && B - A > 1e-12 * std::max(1.0, std::fabs(A)); ++I) {
    if (FC <= FD) {
      B = D, D = C, FD = FC;
      C = B - R * (B - A), FC = Fn(C);
    } else {
      A = C, C = D, FC = FD;
      D = A + R * (B - A), FD = Fn(D);
    }
  }
  return FC <= FD ? C : D;
}

/// The boundary between In (where Pred holds) and Out (where it does not).
template <typename P> double boundary(P Pred, double In, double Out) {
  for (int I = 0; I < 60; ++I) {
    double M = (In + Out) / 2;
    (Pred(M) ? In : Out) = M;
  }
  return (In + Out) / 2;
}

std::string num(double V) {
  if (std::isinf(V))
    return V > 0 ? "inf" : "-inf";
  // A refined x within 5e-5 of 0 is 0 (the search stops near, not at, it).
  if (std::fabs(V) < 5e-5)
    V = 0;
  char B[32];
  std::snprintf(B, sizeof B, "%.4g", V);
  return B;
}

} // namespace

Expected<Curve> Curve::create(const ActivationForms &F,
                              const ParamValues &Params) {
  auto Fe = Evaluator::create(F.Forward, Params);
  if (!Fe)
    return Fe.takeError();
  auto De = Evaluator::create(F.Derivative, Params);
  if (!De)
    return De.takeError();
  return Curve(std::move(*Fe), std::move(*De));
}

Expected<ActivationShape> measureShape(const ActivationForms &F,
                                       const ParamValues &Params) {
  auto C = Curve::create(F, Params);
  if (!C)
    return C.takeError();
  auto Fn = [&](double X) { return C->f(X); };
  auto Slope = [&](double X) { return std::fabs(C->df(X)); };
  std::vector<double> X = grid(), Y(X.size()), D(X.size());
  for (size_t I = 0; I < X.size(); ++I) {
    Y[I] = Fn(X[I]);
    D[I] = std::fabs(C->df(X[I], Y[I]));
  }
  size_t N = X.size();
  auto Interior = [&](size_t I) { return std::fabs(X[I]) <= Near; };
  ActivationShape S;

  // The range: its ends, infinite where f keeps growing at the grid's
  // ends, values taken where some x within Near takes them exactly.
  size_t Lo = 0, Hi = 0;
  for (size_t I = 0; I < N; ++I) {
    if (std::isnan(Y[I]))
      continue;
    if (std::isnan(Y[Lo]) || Y[I] < Y[Lo])
      Lo = I;
    if (std::isnan(Y[Hi]) || Y[I] > Y[Hi])
      Hi = I;
  }
  // Still moving at the grid's end (the tail's points are 7.5% apart): no
  // bound; settled (sigmoid's 1, softsign's 1 - 1e-6): a limit.
  auto Growing = [&](size_t End, size_t Prev) {
    return std::isinf(Y[End]) ||
           std::fabs(Y[End] - Y[Prev]) > 1e-5 * std::fabs(Y[End]);
  };
  auto Extreme = [&](size_t At, double Sign, double &Value, bool &Attained) {
    Value = Y[At];
    if ((At == 0 && Growing(0, 1)) || (At == N - 1 && Growing(N - 1, N - 2))) {
      Value = Sign * INFINITY;
      return;
    }
    if (Interior(At) && At > 0 && At + 1 < N && Y[At - 1] != Value &&
        Y[At + 1] != Value) {
      // A smooth extreme between grid points: refine it.
      double XM = argMin([&](double V) { return Sign * -Fn(V); }, X[At - 1],
                         X[At + 1]);
      Value = Sign > 0 ? std::max(Value, Fn(XM)) : std::min(Value, Fn(XM));
      Attained = true;
      return;
    }
    for (size_t I = 0; I < N; ++I)
      Attained |= Interior(I) && Y[I] == Value;
  };
  Extreme(Lo, -1, S.Min, S.MinAttained);
  Extreme(Hi, 1, S.Max, S.MaxAttained);
  std::vector<double> Distinct;
  for (double V : Y)
    if (std::isfinite(V) &&
        std::find(Distinct.begin(), Distinct.end(), V) == Distinct.end()) {
      Distinct.push_back(V);
      if (Distinct.size() > 3)
        break;
    }
  if (Distinct.size() <= 3) {
    S.Values = Distinct;
    std::sort(S.Values.begin(), S.Values.end());
  }

  // Monotonicity: never decreasing on the grid; increasing when f' > 0
  // wherever the grid resolves it.
  bool NonDecreasing = true, Positive = true;
  for (size_t I = 0; I + 1 < N; ++I)
    NonDecreasing &= Y[I + 1] >= Y[I] ||
                     Y[I + 1] - Y[I] >= -1e-12 * std::max(1.0, std::fabs(Y[I]));
  for (size_t I = 0; I < N; ++I)
    Positive &= !Interior(I) || D[I] > 0;
  S.Monotonic = !NonDecreasing ? ActivationShape::Monotone::No
                : Positive     ? ActivationShape::Monotone::Increasing
                               : ActivationShape::Monotone::NonDecreasing;
  if (S.Monotonic == ActivationShape::Monotone::No && Lo > 0 && Lo + 1 < N)
    S.ArgMin = argMin(Fn, X[Lo - 1], X[Lo + 1]);
  else
    S.ArgMin = NAN;

  // The largest slope: where, when one x reaches it.
  size_t M = 0;
  for (size_t I = 0; I < N; ++I)
    if (!std::isnan(D[I]) && (std::isnan(D[M]) || D[I] > D[M]))
      M = I;
  S.MaxSlope = D[M];
  bool SlopeGrows = std::isinf(D[M]) ||
                    (M == 0 && std::fabs(D[0] - D[1]) > 1e-5 * D[0]) ||
                    (M == N - 1 && std::fabs(D[M] - D[M - 1]) > 1e-5 * D[M]);
  if (SlopeGrows) {
    S.MaxSlope = INFINITY;
  } else {
    size_t Ties = 0;
    bool Reached = false;
    for (size_t I = 0; I < N; ++I) {
      Ties += D[I] == D[M];
      Reached |= Interior(I) && D[I] == D[M];
    }
    S.MaxSlopeAttained = Reached;
    if (Ties == 1 && Interior(M) && M > 0 && M + 1 < N) {
      S.MaxSlopeAt = argMin([&](double V) { return -Slope(V); }, X[M - 1], X[M + 1]);
      S.MaxSlope = std::max(D[M], Slope(S.MaxSlopeAt));
    }
  }

  // Saturation: the runs of grid points with |f'| < threshold.
  auto Sat = [&](double V) { return Slope(V) < SaturationThreshold; };
  for (size_t I = 0; I < N;) {
    if (!(D[I] < SaturationThreshold)) {
      ++I;
      continue;
    }
    size_t J = I;
    while (J + 1 < N && D[J + 1] < SaturationThreshold)
      ++J;
    Interval R;
    R.Lo = I == 0 ? -INFINITY : boundary(Sat, X[I], X[I - 1]);
    R.Hi = J == N - 1 ? INFINITY : boundary(Sat, X[J], X[J + 1]);
    S.Saturated.push_back(R);
    I = J + 1;
  }
  return S;
}

std::string formatRange(const ActivationShape &S) {
  if (!S.Values.empty()) {
    std::string R = "{";
    for (double V : S.Values)
      R += (R.size() > 1 ? ", " : "") + num(V);
    return R + "}";
  }
  return (S.MinAttained ? "[" : "(") + num(S.Min) + ", " + num(S.Max) +
         (S.MaxAttained ? "]" : ")");
}

std::string formatMonotonic(const ActivationShape &S) {
  switch (S.Monotonic) {
  case ActivationShape::Monotone::Increasing:
    return "increasing";
  case ActivationShape::Monotone::NonDecreasing:
    return "non-decreasing";
  case ActivationShape::Monotone::No:
    break;
  }
  return std::isnan(S.ArgMin) ? "no" : "no (smallest at x = " + num(S.ArgMin) + ")";
}

std::string formatMaxSlope(const ActivationShape &S) {
  if (std::isinf(S.MaxSlope))
    return "unbounded";
  if (!std::isnan(S.MaxSlopeAt))
    return num(S.MaxSlope) + " at x = " + num(S.MaxSlopeAt);
  if (!S.MaxSlopeAttained)
    return num(S.MaxSlope) + " (a limit, not reached)";
  return num(S.MaxSlope);
}

std::string formatSaturated(const ActivationShape &S) {
  if (S.Saturated.empty())
    return "nowhere";
  std::string R;
  for (const Interval &I : S.Saturated) {
    R += R.empty() ? "" : ", ";
    if (std::isinf(I.Lo) && std::isinf(I.Hi))
      return "everywhere";
    if (std::isinf(I.Lo))
      R += "x < " + num(I.Hi);
    else if (std::isinf(I.Hi))
      R += "x > " + num(I.Lo);
    else
      R += num(I.Lo) + " < x < " + num(I.Hi);
  }
  return R;
}

} // namespace netjit
