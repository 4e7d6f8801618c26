// Init.cpp - weight initializers (Initializers.def), seeded and
// reproducible: the same seed gives the same weights on every machine.
#include "netjit/Runtime/Model.h"
#include "netjit/Support/Random.h"

#include <cmath>

namespace netjit {

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
