// ShapeTest.cpp - measured activation shapes against closed forms: ranges
// (limits and values taken), monotonicity, the largest slope and where,
// and the saturation boundaries.
#include "TestUtil.h"

#include "netjit/Activations/Shape.h"

#include <cmath>

using namespace netjit;

namespace {

ActivationShape shapeOf(const std::string &Name) {
  const ActivationInfo *I = findActivation(Name);
  EXPECT_TRUE(I) << Name;
  ExprContext Ctx;
  auto F = deriveActivation(Ctx, I->Formula, paramNames(*I));
  EXPECT_TRUE(bool(F));
  auto S = measureShape(*F, defaultParams(*I));
  EXPECT_TRUE(bool(S));
  return *S;
}

TEST(ShapeTest, Sigmoid) {
  ActivationShape S = shapeOf("sigmoid");
  EXPECT_EQ(formatRange(S), "(0, 1)");
  EXPECT_EQ(S.Monotonic, ActivationShape::Monotone::Increasing);
  EXPECT_DOUBLE_EQ(S.MaxSlope, 0.25);
  EXPECT_NEAR(S.MaxSlopeAt, 0, 1e-6);
  // sigmoid(x) sigmoid(-x) = 0.01 where sigmoid(x) = (1 + sqrt(0.96)) / 2.
  double P = (1 + std::sqrt(0.96)) / 2, B = std::log(P / (1 - P));
  ASSERT_EQ(S.Saturated.size(), 2u);
  EXPECT_TRUE(std::isinf(S.Saturated[0].Lo));
  EXPECT_NEAR(S.Saturated[0].Hi, -B, 1e-9);
  EXPECT_NEAR(S.Saturated[1].Lo, B, 1e-9);
  EXPECT_EQ(formatSaturated(S), "x < -4.585, x > 4.585");
}

TEST(ShapeTest, SiluAndGelu) {
  // silu's minimum: x = -(1 + W(1/e)), silu(x) = -W(1/e).
  const double W = 0.27846454276107379510;
  ActivationShape S = shapeOf("silu");
  EXPECT_NEAR(S.Min, -W, 1e-9);
  EXPECT_TRUE(S.MinAttained);
  EXPECT_NEAR(S.ArgMin, -1 - W, 1e-6);
  EXPECT_EQ(S.Monotonic, ActivationShape::Monotone::No);
  EXPECT_EQ(formatRange(S), "[-0.2785, inf)");
  // gelu' = Phi(x) + x phi(x) peaks where x^2 = 2.
  ActivationShape G = shapeOf("gelu");
  double R2 = std::sqrt(2.0);
  double Want = 0.5 * std::erfc(-1) + R2 * std::exp(-1.0) / std::sqrt(2 * M_PI);
  EXPECT_NEAR(G.MaxSlope, Want, 1e-12);
  EXPECT_NEAR(G.MaxSlopeAt, R2, 1e-6);
  // Its derivative crosses 0 at its minimum: a saturated strip there.
  ASSERT_EQ(G.Saturated.size(), 2u);
  EXPECT_LT(G.Saturated[1].Lo, G.ArgMin);
  EXPECT_GT(G.Saturated[1].Hi, G.ArgMin);
}

/// What the catalogue's table says of the piecewise, step and asymptotic
/// ones ("" = not checked here).
struct Formatted {
  const char *Name, *Range, *Monotonic, *MaxSlope, *Saturated;
};
const Formatted Table[] = {
    {"relu", "[0, inf)", "non-decreasing", "1", "x < 0"}, // slope 1 on x > 0
    {"relu6", "[0, 6]", "", "", "x < 0, x > 6"},
    {"binary_step", "{0, 1}", "", "0", "everywhere"},
    {"hard_swish", "[-0.375, inf)", "no (smallest at x = -1.5)", "1.5 at x = 3", ""},
    {"leaky_relu", "(-inf, inf)", "increasing", "", "nowhere"},
    {"linear", "", "", "", "nowhere"},
    {"tanh", "(-1, 1)", "", "1 at x = 0", ""},
    {"softsign", "(-1, 1)", "", "", ""},
    {"elu", "(-1, inf)", "", "", ""},
    {"log_sigmoid", "(-inf, 0)", "", "", ""},
    {"softplus", "", "", "1 (a limit, not reached)", ""},
    {"exponential", "(0, inf)", "increasing", "unbounded", ""},
    {"selu", "", "", "1.758 at x = 0", ""},
};

TEST(ShapeTest, PiecewiseStepAndAsymptoticOnes) {
  for (const Formatted &F : Table) {
    ActivationShape S = shapeOf(F.Name);
    std::pair<const char *, std::string> Got[] = {
        {F.Range, formatRange(S)},
        {F.Monotonic, formatMonotonic(S)},
        {F.MaxSlope, formatMaxSlope(S)},
        {F.Saturated, formatSaturated(S)}};
    for (auto &[Want, Text] : Got) {
      if (!*Want)
        continue;
      EXPECT_EQ(Text, Want) << F.Name;
    }
  }
}

} // namespace
