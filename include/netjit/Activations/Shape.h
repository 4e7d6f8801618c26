// Shape.h - what an activation looks like, measured in double over the
// real line: its range, monotonicity, largest slope and where it
// saturates (|f'| < 0.01), for the catalogue's documentation and plots.
#ifndef NETJIT_ACTIVATIONS_SHAPE_H
#define NETJIT_ACTIVATIONS_SHAPE_H

#include "netjit/Activations/Catalog.h"
#include "netjit/Expr/Evaluate.h"

#include <cmath>
#include <string>
#include <vector>

namespace netjit {

/// An interval of x; infinite ends for half-lines.
struct Interval {
  double Lo, Hi;
};

struct ActivationShape {
  /// inf f and sup f (+-inf when unbounded), and whether each is reached
  /// at a finite x (else it is only approached as |x| grows).
  double Min = 0, Max = 0;
  bool MinAttained = false, MaxAttained = false;
  /// The values f takes when they are a few (a step function), else empty.
  std::vector<double> Values;
  enum class Monotone { Increasing, NonDecreasing, No } Monotonic;
  /// Where a function that is not monotone is smallest.
  double ArgMin = 0;
  /// sup |f'| (inf when unbounded) and the one x where it is reached (NaN
  /// when it is reached on a whole interval or only approached).
  double MaxSlope = 0, MaxSlopeAt = NAN;
  bool MaxSlopeAttained = true;
  /// Where |f'| < SaturationThreshold.
  std::vector<Interval> Saturated;
};

/// f and f' of an activation in double, its parameters bound: what the
/// shape measurements and the plots sample.
class Curve {
public:
  static llvm::Expected<Curve> create(const ActivationForms &F,
                                      const ParamValues &Params);
  double f(double X) const { return Fe(X); }
  /// f'(X); Y = f(X) for a derivative that reads it.
  double df(double X, double Y) const { return De(X, Y); }
  double df(double X) const { return De(X, Fe(X)); }

private:
  Curve(Evaluator Fe, Evaluator De) : Fe(std::move(Fe)), De(std::move(De)) {}
  Evaluator Fe, De;
};

/// Samples F (with Params) on [-1e6, 1e6], densely on [-20, 20], and refines
/// the extremes and the saturation boundaries to about 6 digits.
llvm::Expected<ActivationShape> measureShape(const ActivationForms &F,
                                             const ParamValues &Params);

/// "(0, 1)", "[-0.2785, inf)", "{0, 1}": the range as mathematics writes it.
std::string formatRange(const ActivationShape &S);
/// "increasing", "non-decreasing", "no (smallest at x = -1.278)".
std::string formatMonotonic(const ActivationShape &S);
/// "0.25 at x = 0", "1", "unbounded".
std::string formatMaxSlope(const ActivationShape &S);
/// "x < -4.595, x > 4.595", "everywhere", "nowhere".
std::string formatSaturated(const ActivationShape &S);

} // namespace netjit

#endif
