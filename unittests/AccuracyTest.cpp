// AccuracyTest.cpp - the sampled accuracy sweep: 2^20 inputs plus the edge
// cases per function and activation, each held to its ULP budget.
#include "TestUtil.h"

#include "netjit/Accuracy/Accuracy.h"
#include "netjit/CodeGen/VectorMath.h"

using namespace netjit;

namespace {
std::string label(const AccuracyBudget &B) {
  return B.Name + "_" + kindName(B.Kind);
}
} // namespace

class AccuracySweep : public ::testing::TestWithParam<AccuracyBudget> {};

TEST_P(AccuracySweep, WithinBudget) {
  NETJIT_REQUIRE_JIT();
  const AccuracyBudget &B = GetParam();
  auto J = Jit::create();
  ASSERT_TRUE(bool(J)) << toString(J.takeError());
  static const std::vector<float> Points = samplePoints(1 << 20);
  auto R = measureAccuracy(**J, B, Points);
  ASSERT_TRUE(bool(R)) << toString(R.takeError());
  EXPECT_GE(R->Points, uint64_t(1) << 20);
  EXPECT_TRUE(R->withinBudget())
      << label(B) << ": " << R->MaxUlp << " ULP (budget " << B.MaxUlp
      << ") at x = " << R->WorstX << ": got " << R->WorstGot << ", want "
      << R->WorstWant << "; ill-conditioned ranges: " << R->IllMaxAbs
      << " absolute";
  // The bound the emitter plans float arithmetic with holds too.
  if (B.Kind == AccuracyKind::Function)
    for (Op O : allOps())
      if (opInfo(O).Spelling == B.Name) {
        EXPECT_LE(R->MaxUlp, VectorMath::maxUlp(O))
            << B.Name << ": VectorMath::maxUlp understates its error";
      }
}

INSTANTIATE_TEST_SUITE_P(All, AccuracySweep,
                         ::testing::ValuesIn(accuracyBudgets()),
                         [](const auto &Info) { return label(Info.param); });

TEST(Accuracy, UlpErrorCountsInFloatSpacing) {
  EXPECT_EQ(ulpError(1.0f, 1.0L), 0);
  EXPECT_NEAR(ulpError(1.0f, 1.0L + 0x1p-24L), 0.5, 1e-12);
  EXPECT_NEAR(ulpError(std::nextafter(1.0f, 2.0f), 1.0L), 1, 1e-12);
  EXPECT_EQ(ulpError(INFINITY, INFINITY), 0);
  EXPECT_EQ(ulpError(NAN, NAN), 0);
  EXPECT_TRUE(std::isinf(ulpError(1.0f, NAN)));
  EXPECT_TRUE(std::isinf(ulpError(NAN, 1.0L)));
  // Subnormals: the spacing is 2^-149 throughout.
  EXPECT_NEAR(ulpError(0x1p-149f, 0.0L), 1, 1e-12);
}
