// Random.h - splitmix64, the one generator netjit uses (weights, shuffling,
// synthetic data): small, seedable, the same numbers on every machine.
#ifndef NETJIT_SUPPORT_RANDOM_H
#define NETJIT_SUPPORT_RANDOM_H

#include <cmath>
#include <cstdint>

namespace netjit {

/// Streams seeded apart are independent enough for initial weights, data
/// order and synthetic points.
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
  /// Uniform in [Lo, Hi).
  double uniform(double Lo, double Hi) { return Lo + (Hi - Lo) * uniform(); }
  /// Uniform in [0, N), N > 0 (Lemire's multiply-shift; the bias is below
  /// 2^-32 for N < 2^32).
  uint64_t below(uint64_t N) {
    return uint64_t((unsigned __int128)next() * N >> 64);
  }
  /// Standard normal (Box-Muller).
  double normal() {
    for (;;) {
      double U1 = uniform(), U2 = uniform();
      if (U1 > 0)
        return std::sqrt(-2 * std::log(U1)) * std::cos(2 * M_PI * U2);
    }
  }
  /// Standard normal cut at two standard deviations (redrawn outside), as
  /// Keras' truncated normal.
  double truncatedNormal() {
    for (;;) {
      double Z = normal();
      if (std::fabs(Z) <= 2)
        return Z;
    }
  }
};

} // namespace netjit

#endif
