// Init.cpp - weight initializers (Initializers.def), seeded and
// reproducible: the same seed gives the same weights on every machine.
#include "netjit/Runtime/Model.h"

#include <cmath>

namespace netjit {

namespace {

/// splitmix64: a small generator whose streams, seeded apart, are
/// independent enough for initial weights.
struct Rng {
  uint64_t S;
  uint64_t next() {
    uint64_t Z = (S += 0x9E3779B97F4A7C15ull);
    Z = (Z ^ (Z >> 30)) * 0xBF58476D1CE4E5B9ull;
    Z = (Z ^ (Z >> 27)) * 0x94D049BB133111EBull;
    return Z ^ (Z >> 31);
  }
  /// Uniform in [0, 1) with 53 bits.
  double uniform() { return (next() >> 11) * 0x1.0p-53; }
  /// Standard normal cut at two standard deviations (Box-Muller, redrawn
  /// outside), as Keras' truncated normal.
  double truncatedNormal() {
    for (;;) {
      double U1 = uniform(), U2 = uniform();
      if (U1 <= 0)
        continue;
      double Z = std::sqrt(-2 * std::log(U1)) * std::cos(2 * M_PI * U2);
      if (std::fabs(Z) <= 2)
        return Z;
    }
  }
};

} // namespace

void initializeParam(const ParamInfo &P, uint64_t Seed, unsigned Index,
                     float *Out) {
  int64_t N = P.size();
  if (P.UseConstant) {
    for (int64_t I = 0; I < N; ++I)
      Out[I] = P.Constant;
    return;
  }
  Rng R{Seed * 0x100000001B3ull ^ (uint64_t(Index + 1) << 32)};
  R.next();
  double In = P.FanIn, OutF = P.FanOut;
  // Keras' truncated normal has the standard deviation of the normal it
  // cuts; dividing by 0.8796... (that of a standard normal cut at +-2)
  // restores the intended one.
  const double CutStd = 0.87962566103423978;
  auto Uniform = [&](double Limit) {
    for (int64_t I = 0; I < N; ++I)
      Out[I] = (2 * R.uniform() - 1) * Limit;
  };
  auto Normal = [&](double Std) {
    for (int64_t I = 0; I < N; ++I)
      Out[I] = R.truncatedNormal() * Std / CutStd;
  };
  switch (P.Init) {
  case InitKind::glorot_uniform:
    return Uniform(std::sqrt(6 / (In + OutF)));
  case InitKind::glorot_normal:
    return Normal(std::sqrt(2 / (In + OutF)));
  case InitKind::he_uniform:
    return Uniform(std::sqrt(6 / In));
  case InitKind::he_normal:
    return Normal(std::sqrt(2 / In));
  case InitKind::lecun_uniform:
    return Uniform(std::sqrt(3 / In));
  case InitKind::lecun_normal:
    return Normal(std::sqrt(1 / In));
  case InitKind::zeros:
  case InitKind::ones:
    for (int64_t I = 0; I < N; ++I)
      Out[I] = P.Init == InitKind::ones ? 1.0f : 0.0f;
    return;
  }
}

} // namespace netjit
