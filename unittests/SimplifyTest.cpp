// SimplifyTest.cpp - named rewrites, canonical forms, stable forms, the
// derivative in terms of y, and value preservation on random formulas.
#include "TestUtil.h"

#include "netjit/Activations/Catalog.h"
#include "netjit/Expr/Simplify.h"

using namespace netjit;
using namespace netjit::test;

static std::string simp(const char *S, std::vector<std::string> P = {}) {
  ExprContext C;
  return print(simplify(C, parseOrDie(C, S, std::move(P))));
}

TEST(Simplify, AlgebraicIdentities) {
  EXPECT_EQ(simp("x * 1"), "x");
  EXPECT_EQ(simp("1 * x + 0"), "x");
  EXPECT_EQ(simp("x - x"), "0");
  EXPECT_EQ(simp("x * 0"), "0");
  EXPECT_EQ(simp("--x"), "x");
  EXPECT_EQ(simp("x + x"), "2 * x");
  EXPECT_EQ(simp("x * x"), "x^2");
  EXPECT_EQ(simp("x^2 / x"), "x");
  EXPECT_EQ(simp("x / x"), "1");
  EXPECT_EQ(simp("2 * 3 * x"), "6 * x");
  EXPECT_EQ(simp("x / 2"), "0.5 * x");
  EXPECT_EQ(simp("x / 3"), "x / 3"); // 1/3 is not exact: keep the divisor
  EXPECT_EQ(simp("3 * x - x"), "2 * x");
  EXPECT_EQ(simp("1 - x - 1"), "-x");
  EXPECT_EQ(simp("-(2 * x)"), "-2 * x");
  EXPECT_EQ(simp("x * alpha", {"alpha"}),
            "alpha * x"); // parameters first in products
  EXPECT_EQ(simp("sqrt(4) + 2^3"), "10");
  EXPECT_EQ(simp("where(x > 0, x, x)"), "x");
  EXPECT_EQ(simp("where(1 > 0, x, 2)"), "x");
  EXPECT_EQ(simp("abs(-x)"), "abs(x)");
  EXPECT_EQ(simp("sqrt(x^2)"), "abs(x)");
}

TEST(Simplify, StableForms) {
  EXPECT_EQ(simp("log(1 + exp(x))"), "softplus(x)");
  EXPECT_EQ(simp("log(exp(x) + 1)"), "softplus(x)");
  EXPECT_EQ(simp("log(sigmoid(x))"), "-softplus(-x)");
  EXPECT_EQ(simp("1 / (1 + exp(-x))"), "sigmoid(x)");
  EXPECT_EQ(simp("exp(x) - 1"), "expm1(x)");
  EXPECT_EQ(simp("log(1 + x^2)"), "log1p(x^2)");
  EXPECT_EQ(simp("log(exp(x))"), "x");
}

TEST(Simplify, StableFormsEvaluateWhereTheNaiveOnesFail) {
  ExprContext C;
  ExprRef Naive = parseOrDie(C, "log(1 + exp(x))");
  ExprRef Stable = simplify(C, Naive);
  EXPECT_TRUE(std::isinf(*evaluate(Naive, 1000)));
  EXPECT_EQ(*evaluate(Stable, 1000), 1000);
  ExprRef LS = simplify(C, parseOrDie(C, "log(sigmoid(x))"));
  EXPECT_EQ(*evaluate(LS, -1000), -1000);
  ExprRef Sig = simplify(C, parseOrDie(C, "1 / (1 + exp(-x))"));
  EXPECT_EQ(*evaluate(Sig, -800), 0);
  EXPECT_FALSE(std::isnan(*evaluate(Sig, -800)));
}

TEST(Simplify, FloatStableFormsKeepValuesAndShareWork) {
  ExprContext C;
  auto Stable = [&](const char *S) {
    ExprRef E = simplify(C, parseOrDie(C, S));
    ExprRef R = stabilizeForFloat(C, E);
    for (double X : {-30.0, -5.0, -1.19, -0.3, 0.0, 0.7, 3.0, 20.0})
      EXPECT_NEAR(*evaluate(R, X), *evaluate(E, X),
                  1e-12 * (1 + std::fabs(*evaluate(E, X))))
          << S << " at " << X;
    return R;
  };
  // mish's derivative: sigmoid(x) (1 - tanh(softplus(x))^2) becomes a
  // rational function of e^x, with no sigmoid call left.
  ExprRef Mish = Stable("x * sigmoid(x) * (1 - tanh(softplus(x))^2) + "
                        "tanh(softplus(x))");
  EXPECT_EQ(print(Mish).find("sigmoid"), std::string::npos) << print(Mish);
  // 1 - tanh^2 as 4 sigmoid(2x) sigmoid(-2x): no cancellation near +-1.
  EXPECT_NE(print(Stable("1 - tanh(x)^2")).find("sigmoid(2 * x)"),
            std::string::npos);
  // sigmoid(k v) with k < 0 is sigmoid(-(|k| v)): one split of |k| v
  // serves sigmoid(u) and sigmoid(-u).
  ExprRef Neg = Stable("sigmoid(-1.5 * (x + x^3))");
  ASSERT_EQ(Neg->operand(0)->op(), Op::Neg) << print(Neg);
  EXPECT_EQ(Neg->operand(0)->operand(0), Stable("1.5 * (x + x^3)"));
}

TEST(Simplify, DivisionByConstantZeroIsKeptNotFolded) {
  EXPECT_EQ(simp("x / 0"), "x / 0");
  EXPECT_EQ(simp("log(-1)"), "log(-1)");
}

TEST(Simplify, DerivativesInTermsOfTheOutput) {
  auto Y = [](const char *Name) {
    ExprContext C;
    const ActivationInfo &I = *findActivation(Name);
    auto F = deriveActivation(C, I.Formula, paramNames(I));
    return F->DerivativeY ? print(F->DerivativeY) : std::string("none");
  };
  EXPECT_EQ(Y("sigmoid"), "y * (1 - y)");
  EXPECT_EQ(Y("tanh"), "1 - y^2");
  EXPECT_EQ(Y("exponential"), "y");
  EXPECT_EQ(Y("elu"), "where(x > 0, 1, y + alpha)");
  EXPECT_EQ(Y("celu"), "where(x > 0, 1, 1 + y / alpha)");
  EXPECT_EQ(Y("softplus"), "-expm1(-y)");
  EXPECT_EQ(Y("log_sigmoid"), "-expm1(y)");
  // A branch of f chosen by x is chosen by y where f's branches lie on
  // either side of a threshold, as float arithmetic computes them.
  EXPECT_EQ(Y("relu"), "where(y > 0, 1, 0)");
  EXPECT_EQ(Y("relu6"), "where(y <= 0, 0, where(y >= 6, 0, 1))");
  EXPECT_EQ(Y("leaky_relu"), "where(x > 0, 1, alpha)"); // alpha's sign unknown
  EXPECT_EQ(Y("gelu"), "none");
  EXPECT_EQ(Y("mish"), "none");
  ExprContext C;
  auto Sq = deriveActivation(C, "sqrt(x)", {});
  EXPECT_EQ(print(Sq->DerivativeY), "0.5 / y");
  auto InY = [&](const char *F) {
    auto D = deriveActivation(C, F, {});
    return D->DerivativeY ? print(D->DerivativeY) : std::string("none");
  };
  EXPECT_EQ(InY("where(x <= 1, 1, x)"), "where(y <= 1, 0, 1)");
  EXPECT_EQ(InY("where(x < 1, 1, x)"), "where(x < 1, 0, 1)"); // y = 1 either way
  EXPECT_EQ(InY("where(x > 0, -x, 0)"), "where(y < 0, -1, 0)");
  // |x|: both branches are positive, so y cannot tell them apart.
  EXPECT_EQ(InY("where(x > 0, x, -x)"), "where(x > 0, 1, -1)");
  // 0.5 x rounds to 0 for the least positive x: x > 0 is not y > 0.
  EXPECT_EQ(InY("where(x > 0, 0.5 * x, 0)"), "where(x > 0, 0.5, 0)");
}

TEST(Simplify, PreservesValuesAndIsIdempotent) {
  FormulaGen G(99);
  ParamValues P = {{"alpha", -0.4}};
  for (int I = 0; I < 500; ++I) {
    std::string S = G.gen(6);
    ExprContext C;
    ExprRef E = parseOrDie(C, S, {"alpha"});
    ExprRef Simp = simplify(C, E);
    EXPECT_EQ(simplify(C, Simp), Simp) << S;
    auto A = *Evaluator::create(E, P);
    auto B = *Evaluator::create(Simp, P);
    for (double X : {-2.7, -1.1, -0.3, 0.2, 0.8, 1.9, 3.4}) {
      double VA = A(X), VB = B(X);
      if (!std::isfinite(VA) || std::fabs(VA) > 1e12)
        continue;
      EXPECT_TRUE(closeRel(VA, VB, 1e-9))
          << S << "\n  simplified: " << print(Simp) << "\n  at " << X << ": "
          << VA << " vs " << VB;
    }
  }
}

TEST(Simplify, RuleTableIsNamedAndDocumented) {
  auto Rules = rewriteRules();
  EXPECT_GE(Rules.size(), 10u);
  for (const RewriteRuleInfo &R : Rules) {
    EXPECT_TRUE(R.Name && *R.Name);
    EXPECT_NE(std::string(R.Algebra).find("->"), std::string::npos) << R.Name;
  }
}
