// GradientTest.cpp - symbolic derivatives checked against finite differences
// (every catalogue entry and parameter) and a dual-number oracle (formulas).
#include "TestUtil.h"

#include "netjit/Activations/Catalog.h"
#include "netjit/Expr/Differentiate.h"
#include "netjit/Expr/Simplify.h"

using namespace netjit;
using namespace netjit::test;

namespace {

// Points in [-5, 5] that avoid every kink of the catalogue (0, +-1, +-3, 6).
std::vector<double> samplePoints() {
  std::vector<double> Xs;
  for (int I = 0; I < 24; ++I)
    Xs.push_back(-5.0 + 10.0 * (I + 0.37) / 24);
  Xs.push_back(0.013);
  Xs.push_back(-0.021);
  Xs.push_back(7.3);
  return Xs;
}

// Central differences with one Richardson step: error O(h^4).
template <typename F> double richardson(F Fn, double X, double H) {
  double D1 = (Fn(X + H) - Fn(X - H)) / (2 * H);
  double D2 = (Fn(X + H / 2) - Fn(X - H / 2)) / H;
  return (4 * D2 - D1) / 3;
}

} // namespace

class CatalogGradient : public ::testing::TestWithParam<std::string> {};

TEST_P(CatalogGradient, MatchesFiniteDifferences) {
  const ActivationInfo &Info = *findActivation(GetParam());
  ExprContext C;
  auto Forms = deriveActivation(C, Info.Formula, paramNames(Info));
  ASSERT_TRUE(bool(Forms)) << toString(Forms.takeError());
  ParamValues P = defaultParams(Info);
  auto F = *Evaluator::create(Forms->Forward, P);
  auto D = *Evaluator::create(Forms->Derivative, P);
  auto Raw = *Evaluator::create(Forms->RawDerivative, P);
  for (double X : samplePoints()) {
    double Want = richardson([&](double T) { return F(T); }, X, 1e-3);
    EXPECT_TRUE(closeRel(D(X), Want, 1e-6))
        << Info.Name << "'(" << X << ") = " << D(X) << ", differences give "
        << Want;
    EXPECT_TRUE(closeRel(Raw(X), D(X), 1e-12))
        << Info.Name << " raw vs simplified at " << X;
  }
}

TEST_P(CatalogGradient, ParameterDerivativesMatchFiniteDifferences) {
  const ActivationInfo &Info = *findActivation(GetParam());
  ExprContext C;
  auto Forms = deriveActivation(C, Info.Formula, paramNames(Info));
  ASSERT_TRUE(bool(Forms));
  for (const ActivationParam &A : Info.Params) {
    // Also away from the default, so that nothing depends on alpha = 1.
    for (double V : {A.Default, A.Default * 0.7 + 0.05}) {
      ParamValues P = defaultParams(Info);
      P[A.Name] = V;
      auto DP = *Evaluator::create(Forms->ParamDerivatives.at(A.Name), P);
      for (double X : samplePoints()) {
        auto Fp = [&](double T) {
          ParamValues Q = P;
          Q[A.Name] = T;
          return *evaluate(Forms->Forward, X, Q);
        };
        double Want = richardson(Fp, V, 1e-4);
        EXPECT_TRUE(closeRel(DP(X), Want, 1e-6))
            << Info.Name << " d/d" << A.Name << " at x=" << X << ": " << DP(X)
            << " vs " << Want;
      }
      // And d/dx with this parameter value.
      auto F = *Evaluator::create(Forms->Forward, P);
      auto D = *Evaluator::create(Forms->Derivative, P);
      for (double X : samplePoints())
        EXPECT_TRUE(closeRel(
            D(X), richardson([&](double T) { return F(T); }, X, 1e-3), 1e-6));
    }
  }
}

TEST_P(CatalogGradient, PrintedFormsReparseToTheSameValues) {
  const ActivationInfo &Info = *findActivation(GetParam());
  ExprContext C;
  auto Forms = deriveActivation(C, Info.Formula, paramNames(Info));
  ASSERT_TRUE(bool(Forms));
  std::vector<ExprRef> All = {Forms->Formula, Forms->Forward,
                              Forms->Derivative};
  if (Forms->DerivativeY)
    All.push_back(Forms->DerivativeY);
  for (auto &[N, E] : Forms->ParamDerivatives)
    All.push_back(E);
  for (ExprRef E : All) {
    ExprRef R = parseOrDie(C, print(E), paramNames(Info), /*AllowOutput=*/true);
    EXPECT_EQ(R, E) << print(E);
  }
}

TEST_P(CatalogGradient, DerivativeInYAgreesWithDerivativeInX) {
  const ActivationInfo &Info = *findActivation(GetParam());
  ExprContext C;
  auto Forms = deriveActivation(C, Info.Formula, paramNames(Info));
  ASSERT_TRUE(bool(Forms));
  if (!Forms->DerivativeY)
    return; // no exact form in y (gelu, mish, ...): nothing to compare
  ParamValues P = defaultParams(Info);
  auto F = *Evaluator::create(Forms->Forward, P);
  auto D = *Evaluator::create(Forms->Derivative, P);
  auto DY = *Evaluator::create(Forms->DerivativeY, P);
  for (double X : samplePoints())
    EXPECT_TRUE(closeRel(DY(X, F(X)), D(X), 1e-12))
        << Info.Name << " at " << X << ": in y " << DY(X, F(X)) << ", in x "
        << D(X);
}

static std::vector<std::string> elementwiseNames() {
  std::vector<std::string> N;
  for (const ActivationInfo &I : activationCatalog())
    if (!I.RowWise)
      N.push_back(I.Name);
  return N;
}

INSTANTIATE_TEST_SUITE_P(Catalog, CatalogGradient,
                         ::testing::ValuesIn(elementwiseNames()),
                         [](const auto &Info) { return Info.param; });

TEST(Catalog, HasTheRequiredEntries) {
  for (const char *N :
       {"linear",     "binary_step", "sigmoid",     "hard_sigmoid",
        "tanh",       "hard_tanh",   "relu",        "relu6",
        "leaky_relu", "prelu",       "elu",         "selu",
        "celu",       "gelu",        "gelu_tanh",   "gelu_sigmoid",
        "silu",       "swish",       "mish",        "softplus",
        "softsign",   "hard_swish",  "log_sigmoid", "softmax",
        "log_softmax"})
    EXPECT_NE(findActivation(N), nullptr) << N;
  EXPECT_GE(activationCatalog().size(), 22u);
  EXPECT_TRUE(findActivation("softmax")->RowWise);
  EXPECT_EQ(findActivation("leaky_relu")->Params[0].Default, 0.01);
  EXPECT_TRUE(findActivation("prelu")->Params[0].Trainable);
}

TEST(Catalog, KinkConventionsFollowPyTorch) {
  auto D = [](const char *Name, double X) {
    ExprContext C;
    const ActivationInfo &I = *findActivation(Name);
    return *evaluate(deriveActivation(C, I.Formula, paramNames(I))->Derivative,
                     X, defaultParams(I));
  };
  EXPECT_EQ(D("relu", 0), 0);
  EXPECT_EQ(D("leaky_relu", 0), 0.01);
  EXPECT_EQ(D("prelu", 0), 0.25);
  EXPECT_EQ(D("elu", 0), 1);
  EXPECT_EQ(D("relu6", 0), 0);
  EXPECT_EQ(D("relu6", 6), 0);
  EXPECT_EQ(D("hard_tanh", 1), 0);
  EXPECT_EQ(D("hard_tanh", -1), 0);
  EXPECT_EQ(D("hard_sigmoid", 3), 0);
  EXPECT_EQ(D("hard_swish", -3), -0.5);
  EXPECT_EQ(D("hard_swish", 3), 1.5);
  EXPECT_EQ(D("binary_step", 0), 0);
  ExprContext C;
  auto Abs = deriveActivation(C, "abs(x)", {});
  EXPECT_EQ(*evaluate(Abs->Derivative, 0), 0);
  auto Max = deriveActivation(C, "max(x, 0)", {});
  EXPECT_EQ(*evaluate(Max->Derivative, 0), 1); // ties: the first operand
  auto Min = deriveActivation(C, "min(0, x)", {});
  EXPECT_EQ(*evaluate(Min->Derivative, 0), 0);
}

// Formulas a new user would try: the derivative must be right to 1e-9.
TEST(Gradient, UserFormulasAgreeWithDualNumbers) {
  const char *Cases[] = {"x * tanh(softplus(x))",
                         "x^3 - 2*x + 1",
                         "sin(x) * exp(-x^2)",
                         "log(1 + exp(x))",
                         "abs(x) * x",
                         "max(x, 0.1 * x)",
                         "min(x, 1)",
                         "where(x < 0, exp(x) - 1, x)",
                         "erf(x) * erfc(x)",
                         "sqrt(x^2 + 1)",
                         "1 / (1 + exp(-x))",
                         "x / (1 + abs(x))",
                         "cos(x)^2 + sin(x)^2",
                         "log1p(x^2)",
                         "expm1(x) / (1 + x^2)",
                         "x * sigmoid(alpha * x)",
                         "alpha * x^2 + sign(x)",
                         "tanh(x)^3 / (2 + cos(x))",
                         "pow(1 + x^2, 0.25)",
                         "exp(sin(x)) * log(2 + cos(x))",
                         "x * erf(x / sqrt(2)) / 2 + x / 2",
                         "(x + 1)^-2",
                         "2^x",
                         "x^x^0.5 * 0 + pi * x",
                         "softplus(-x) - softplus(x)",
                         "log(sigmoid(x))",
                         "sigmoid(x) * (1 - sigmoid(x))",
                         "e^x / (1 + e^x)"};
  ParamValues P = {{"alpha", 1.3}};
  for (const char *S : Cases) {
    ExprContext C;
    auto Forms = deriveActivation(C, S, {"alpha"});
    ASSERT_TRUE(bool(Forms)) << S << ": " << toString(Forms.takeError());
    auto D = *Evaluator::create(Forms->Derivative, P);
    for (double X : {-3.3, -1.7, -0.6, 0.35, 0.9, 1.45, 2.2, 4.1}) {
      if (std::string(S).find("x^x") != std::string::npos && X <= 0)
        continue;
      Dual Want = dualEval(Forms->Formula, X, P);
      EXPECT_TRUE(closeRel(D(X), (double)Want.D, 1e-9))
          << S << " at " << X << ": " << D(X) << " vs " << (double)Want.D
          << "\n  derivative: " << print(Forms->Derivative);
    }
  }
}

TEST(Gradient, RandomFormulasAgreeWithDualNumbers) {
  FormulaGen G(2024);
  ParamValues P = {{"alpha", 0.7}};
  int Checked = 0;
  for (int I = 0; I < 400; ++I) {
    std::string S = G.gen(5);
    ExprContext C;
    auto Forms = deriveActivation(C, S, {"alpha"});
    ASSERT_TRUE(bool(Forms)) << S << ": " << toString(Forms.takeError());
    auto D = *Evaluator::create(Forms->Derivative, P);
    auto DA = *Evaluator::create(Forms->ParamDerivatives.count("alpha")
                                     ? Forms->ParamDerivatives["alpha"]
                                     : C.constant(0),
                                 P);
    for (double X : {-2.3, -0.7, 0.45, 1.3, 2.9}) {
      Dual Want = dualEval(Forms->Formula, X, P);
      Dual WantA = dualEval(Forms->Formula, X, P, "alpha");
      if (!std::isfinite((double)Want.D) || std::fabs((double)Want.D) > 1e12)
        continue;
      // Points within a hair of a where/min/max switch are kinks: skip them.
      Dual L = dualEval(Forms->Formula, X - 1e-7, P),
           R = dualEval(Forms->Formula, X + 1e-7, P);
      if (!closeRel((double)L.D, (double)R.D, 1e-4))
        continue;
      ++Checked;
      EXPECT_TRUE(closeRel(D(X), (double)Want.D, 1e-9))
          << S << " at " << X << ": " << D(X) << " vs " << (double)Want.D
          << "\n  derivative: " << print(Forms->Derivative);
      if (std::isfinite((double)WantA.D)) {
        EXPECT_TRUE(closeRel(DA(X), (double)WantA.D, 1e-9))
            << S << " d/dalpha at " << X;
      }
    }
  }
  EXPECT_GT(Checked, 1000);
}

TEST(Gradient, NoRuleThroughTheOutputIsALocatedError) {
  ExprContext C;
  auto R = differentiate(C, parseOrDie(C, "y * x", {}, true), "x");
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(errorText(R.takeError()),
            "cannot differentiate through the forward output 'y' in 'y * x'");
}
