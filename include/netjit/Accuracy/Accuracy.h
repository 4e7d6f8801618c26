// Accuracy.h - measuring generated float code against a higher-precision
// reference, in ULPs of the correctly rounded result (docs/accuracy.md).
#ifndef NETJIT_ACCURACY_ACCURACY_H
#define NETJIT_ACCURACY_ACCURACY_H

#include "netjit/JIT/Jit.h"

#include "llvm/Support/Error.h"
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace netjit {

/// What one measurement covers: a vector-math function, or an activation's
/// forward or derivative kernel.
enum class AccuracyKind { Function, Forward, Derivative };

struct AccuracyBudget {
  std::string Name;
  AccuracyKind Kind;
  double MaxUlp;
  /// Inputs outside [Lo, Hi] are not held to MaxUlp (sin/cos past 1e4).
  double Lo = -INFINITY, Hi = INFINITY;
};

/// Every measured target with its budget: the vector-math functions, then
/// forward and derivative of every elementwise catalogue activation.
std::vector<AccuracyBudget> accuracyBudgets();

/// An input range where the function or its derivative is ill-conditioned,
/// held to an absolute error bound instead of ULPs.
struct IllConditioned {
  std::string Name;
  AccuracyKind Kind;
  double Lo, Hi;
  double MaxAbs;
  const char *Why;
};
llvm::ArrayRef<IllConditioned> illConditionedRanges();

struct AccuracyReport {
  AccuracyBudget Budget;
  uint64_t Points = 0;
  double MaxUlp = 0; // outside ill-conditioned ranges and [Lo, Hi]
  float WorstX = 0;
  float WorstGot = 0;
  double WorstWant = 0;
  uint64_t IllPoints = 0; // inside ill-conditioned ranges
  double IllMaxAbs = 0;
  double IllWorst = 0; // the largest error / its range's MaxAbs

  bool withinBudget() const;
};

/// Edge cases (0, +-subnormals, the over/underflow thresholds, +-inf, NaN)
/// then N pseudo-random inputs: half uniform over all float bit patterns,
/// half uniform in [-30, 30].
std::vector<float> samplePoints(size_t N, uint64_t Seed = 1);

/// Measures B's kernel at Points (compiled by J) against long double, with
/// MPFR at 256 bits wherever long double itself may be inaccurate.
llvm::Expected<AccuracyReport>
measureAccuracy(Jit &J, const AccuracyBudget &B,
                const std::vector<float> &Points);
/// All 2^32 float inputs, in chunks over Threads threads.
llvm::Expected<AccuracyReport>
measureExhaustive(Jit &J, const AccuracyBudget &B, unsigned Threads);

/// The error of Got in ULPs of the float nearest to Want (0 when both are
/// the same infinity or both NaN, infinite when only one is).
double ulpError(float Got, long double Want);

const char *kindName(AccuracyKind K);

} // namespace netjit

#endif
