// ExprTest.cpp - uniquing, printing round trips, limits and the evaluator.
#include "TestUtil.h"

#include "netjit/Expr/Evaluate.h"
#include "netjit/Expr/Expr.h"

#include <cstring>
#include <random>

using namespace netjit;
using namespace netjit::test;

TEST(Expr, StructurallyEqualIsTheSameNode) {
  ExprContext C;
  ExprRef A = parseOrDie(C, "x * sigmoid(x) + sigmoid(x)");
  ExprRef B = parseOrDie(C, "x*sigmoid(x)+sigmoid(x)");
  EXPECT_EQ(A, B);
  // The shared sigmoid(x) is one node used twice.
  EXPECT_EQ(A->operand(0)->operand(1), A->operand(1));
  EXPECT_EQ(countNodes(A), 4u); // x, sigmoid(x), x*sigmoid(x), +
  EXPECT_NE(parseOrDie(C, "x + 1"), parseOrDie(C, "1 + x"));
}

TEST(Expr, ConstantsAreUniquedByBits) {
  ExprContext C;
  EXPECT_EQ(C.constant(0.5), C.constant(0.5));
  EXPECT_NE(C.constant(0.0), C.constant(-0.0));
  EXPECT_EQ(C.constant(NAN), C.constant(-NAN));
  EXPECT_EQ(C.neg(C.constant(2)), C.constant(-2));
}

TEST(Expr, FormatNumberIsShortestRoundTrip) {
  EXPECT_EQ(formatNumber(0.1), "0.1");
  EXPECT_EQ(formatNumber(2), "2");
  EXPECT_EQ(formatNumber(M_PI), "pi");
  EXPECT_EQ(formatNumber(1e-300), "1e-300");
  std::mt19937_64 Rng(7);
  for (int I = 0; I < 20000; ++I) {
    uint64_t Bits = Rng();
    double V;
    std::memcpy(&V, &Bits, sizeof V);
    if (!std::isfinite(V))
      continue;
    std::string S = formatNumber(V);
    EXPECT_EQ(std::strtod(S.c_str(), nullptr), V) << S;
  }
}

static void expectRoundTrip(ExprContext &C, ExprRef E) {
  std::string S = print(E);
  ParseOptions O;
  O.Params = paramsOf(E);
  O.AllowOutput = true;
  auto R = parseExpr(C, S, O);
  ASSERT_TRUE(bool(R)) << S << ": " << toString(R.takeError());
  EXPECT_EQ(*R, E) << "printed as " << S << ", reparsed as " << print(*R);
}

TEST(Expr, PrintParseRoundTripIsIdentity) {
  ExprContext C;
  const char *Cases[] = {"x",
                         "-x",
                         "-(-x)",
                         "x - -2",
                         "-x^2",
                         "(-x)^2",
                         "(-2)^2",
                         "2^-x",
                         "x^y^2",
                         "(x^2)^3",
                         "x - (1 - x)",
                         "x / (2 * x)",
                         "(x + 1) * (x - 1)",
                         "-(x * 2)",
                         "-2 * x",
                         "x * -2",
                         "where(x > 0, x, 0.01 * x)",
                         "(x > 0) + (x <= 1)",
                         "max(x, 0) - min(x, 0)",
                         "pow(x, 3)",
                         "1e-300 * x",
                         "inf * x",
                         "-inf + x",
                         "nan",
                         "-0",
                         "pi * e",
                         "sigmoid(-x) * -(1 + x)",
                         "x ** 2 ** 3",
                         "x^(1/2)",
                         "-(x + 1)^2",
                         "x - y * (1 - y)"};
  for (const char *S : Cases)
    expectRoundTrip(C, parseOrDie(C, S, {}, /*AllowOutput=*/true));
  // Programmatic shapes the parser never makes itself.
  expectRoundTrip(C, C.neg(C.neg(C.x())));
  expectRoundTrip(C, C.sub(C.x(), C.neg(C.x())));
  expectRoundTrip(C, C.pow(C.constant(-2), C.x()));
  expectRoundTrip(C, C.make(Op::Gt, {C.make(Op::Lt, {C.x(), C.y()}), C.x()}));
}

TEST(Expr, RandomFormulasRoundTrip) {
  ExprContext C;
  FormulaGen G(42);
  for (int I = 0; I < 500; ++I)
    expectRoundTrip(C, parseOrDie(C, G.gen(6), {"alpha"}));
}

TEST(Expr, TooManyNodesIsAnError) {
  ExprContext C;
  ExprRef E = C.x();
  for (int I = 0; I < 60000; ++I)
    E = C.add(C.mul(E, C.constant(I)), C.constant(-I)); // depth grows too
  llvm::Error Err = checkLimits(E, "the formula");
  ASSERT_TRUE(bool(Err));
  EXPECT_NE(errorText(std::move(Err)).find("too"), std::string::npos);

  // Wide but shallow: a balanced sum of 2^17 distinct constants.
  std::vector<ExprRef> Level;
  for (int I = 0; I < (1 << 17); ++I)
    Level.push_back(C.constant(I + 0.5));
  while (Level.size() > 1) {
    std::vector<ExprRef> Next;
    for (size_t I = 0; I < Level.size(); I += 2)
      Next.push_back(C.add(Level[I], Level[I + 1]));
    Level = Next;
  }
  llvm::Error Wide = checkLimits(Level[0], "the formula");
  ASSERT_TRUE(bool(Wide));
  EXPECT_NE(errorText(std::move(Wide)).find("too large"), std::string::npos);
}

TEST(Evaluate, EveryOpMatchesTheCLibrary) {
  ExprContext C;
  struct Case {
    const char *F;
    double X, Want;
  } Cases[] = {{"x + 2", 1, 3},
               {"x - 2", 1, -1},
               {"x * 3", 2, 6},
               {"x / 4", 1, 0.25},
               {"-x", 2, -2},
               {"x^3", 2, 8},
               {"exp(x)", 1, std::exp(1.0)},
               {"expm1(x)", 1e-10, std::expm1(1e-10)},
               {"log(x)", 2, std::log(2.0)},
               {"log1p(x)", 1e-12, std::log1p(1e-12)},
               {"sqrt(x)", 2, std::sqrt(2.0)},
               {"abs(x)", -3, 3},
               {"sign(x)", -3, -1},
               {"sign(x)", 0, 0},
               {"tanh(x)", 0.5, std::tanh(0.5)},
               {"sigmoid(x)", 0, 0.5},
               {"softplus(x)", 0, std::log(2.0)},
               {"erf(x)", 0.5, std::erf(0.5)},
               {"erfc(x)", 0.5, std::erfc(0.5)},
               {"sin(x)", 1, std::sin(1.0)},
               {"cos(x)", 1, std::cos(1.0)},
               {"min(x, 1)", 3, 1},
               {"max(x, 1)", 3, 3},
               {"where(x < 0, 1, 2)", -1, 1},
               {"where(x <= 0, 1, 2)", 0, 1},
               {"where(x > 0, 1, 2)", 0, 2},
               {"where(x >= 0, 1, 2)", 0, 1},
               {"pi", 0, M_PI},
               {"e", 0, M_E}};
  for (auto &K : Cases) {
    auto V = evaluate(parseOrDie(C, K.F), K.X);
    ASSERT_TRUE(bool(V));
    EXPECT_DOUBLE_EQ(*V, K.Want) << K.F << " at " << K.X;
  }
}

TEST(Evaluate, StableAtExtremes) {
  ExprContext C;
  auto At = [&](const char *F, double X) {
    return *evaluate(parseOrDie(C, F), X);
  };
  EXPECT_EQ(At("softplus(x)", 1000), 1000);
  EXPECT_EQ(At("softplus(x)", -1000), 0);
  EXPECT_EQ(At("sigmoid(x)", -1000), 0);
  EXPECT_EQ(At("sigmoid(x)", 1000), 1);
  EXPECT_GT(At("sigmoid(x)", -700), 0);
  EXPECT_TRUE(std::isnan(At("max(x, 0)", NAN)));
  EXPECT_TRUE(std::isnan(At("min(0, x)", NAN)));
  EXPECT_TRUE(std::isnan(At("sign(x)", NAN)));
}

TEST(Evaluate, MissingParameterIsAnError) {
  ExprContext C;
  auto V = evaluate(parseOrDie(C, "alpha * x", {"alpha"}), 1);
  ASSERT_FALSE(bool(V));
  EXPECT_EQ(errorText(V.takeError()), "no value for parameter 'alpha'");
}
