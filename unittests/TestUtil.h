// TestUtil.h - shared helpers: parsing shortcuts, a random formula generator,
// and an independent forward-mode (dual number) derivative oracle.
#ifndef NETJIT_UNITTESTS_TESTUTIL_H
#define NETJIT_UNITTESTS_TESTUTIL_H

#include "netjit/Expr/Evaluate.h"
#include "netjit/Expr/Expr.h"
#include "netjit/Expr/Parser.h"
#include "netjit/JIT/Jit.h"
#include "netjit/Runtime/GradCheck.h"
#include "netjit/Runtime/Model.h"

#include "gtest/gtest.h"
#include <cmath>
#include <random>

namespace netjit {
namespace test {

inline ExprRef parseOrDie(ExprContext &C, llvm::StringRef S,
                          std::vector<std::string> Params = {},
                          bool AllowOutput = false) {
  ParseOptions O;
  O.Params = std::move(Params);
  O.AllowOutput = AllowOutput;
  auto R = parseExpr(C, S, O);
  if (!R) {
    ADD_FAILURE() << "parse failed for '" << S.str()
                  << "': " << llvm::toString(R.takeError());
    return C.constant(NAN);
  }
  return *R;
}

/// Why this host cannot run JIT code ("" when it can), probed once.
inline const std::string &jitUnavailable() {
  static const std::string Why = [] {
    llvm::Error E = probeJit();
    return E ? llvm::toString(std::move(E)) : std::string();
  }();
  return Why;
}

/// Skips the current test on a host that cannot run JIT code.
#define NETJIT_REQUIRE_JIT()                                                   \
  do {                                                                         \
    if (!::netjit::test::jitUnavailable().empty())                             \
      GTEST_SKIP() << "no JIT on this host: "                                  \
                   << ::netjit::test::jitUnavailable();                        \
  } while (false)

/// Text compiled at most Batch rows per call, no object cache; null (and a
/// test failure naming the error) when it does not compile.
inline std::unique_ptr<CompiledModel>
compileSpec(const std::string &Text, int64_t Batch, unsigned Threads = 1,
            bool Diagnostics = false) {
  auto S = parseSpec(Text, "test.json");
  if (!S) {
    ADD_FAILURE() << llvm::toString(S.takeError()) << "\n" << Text;
    return nullptr;
  }
  auto G = NetworkGraph::build(std::move(*S));
  if (!G) {
    ADD_FAILURE() << llvm::toString(G.takeError()) << "\n" << Text;
    return nullptr;
  }
  CompileOptions O;
  O.MaxBatch = Batch;
  O.Jit.UseCache = false;
  O.Threads = Threads;
  O.Diagnostics = Diagnostics;
  auto M = CompiledModel::compile(std::move(*G), O);
  if (!M) {
    ADD_FAILURE() << llvm::toString(M.takeError()) << "\n" << Text;
    return nullptr;
  }
  return std::move(*M);
}

inline std::string errorText(llvm::Error E) {
  return llvm::toString(std::move(E));
}

/// A value and its derivative, in long double: an oracle written without any
/// of the library's derivative rules.
struct Dual {
  long double V, D;
};

inline Dual dualEval(ExprRef E, long double X, const ParamValues &P,
                     const std::string &Wrt = "x") {
  using std::exp;
  auto Op1 = [&](int I) { return dualEval(E->operand(I), X, P, Wrt); };
  const long double Pi = 3.141592653589793238462643383279L;
  switch (E->op()) {
  case Op::Const:
    return {E->value(), 0};
  case Op::Var:
    return {X, Wrt == "x" ? 1.0L : 0.0L};
  case Op::Param:
    return {P.at(E->name().str()), E->name() == Wrt ? 1.0L : 0.0L};
  case Op::Lt: {
    auto A = Op1(0), B = Op1(1);
    return {A.V < B.V ? 1.0L : 0.0L, 0};
  }
  case Op::Le: {
    auto A = Op1(0), B = Op1(1);
    return {A.V <= B.V ? 1.0L : 0.0L, 0};
  }
  case Op::Gt: {
    auto A = Op1(0), B = Op1(1);
    return {A.V > B.V ? 1.0L : 0.0L, 0};
  }
  case Op::Ge: {
    auto A = Op1(0), B = Op1(1);
    return {A.V >= B.V ? 1.0L : 0.0L, 0};
  }
  case Op::Add: {
    auto A = Op1(0), B = Op1(1);
    return {A.V + B.V, A.D + B.D};
  }
  case Op::Sub: {
    auto A = Op1(0), B = Op1(1);
    return {A.V - B.V, A.D - B.D};
  }
  case Op::Mul: {
    auto A = Op1(0), B = Op1(1);
    return {A.V * B.V, A.D * B.V + A.V * B.D};
  }
  case Op::Div: {
    auto A = Op1(0), B = Op1(1);
    return {A.V / B.V, (A.D * B.V - A.V * B.D) / (B.V * B.V)};
  }
  case Op::Neg: {
    auto A = Op1(0);
    return {-A.V, -A.D};
  }
  case Op::Pow: {
    auto A = Op1(0), B = Op1(1);
    long double V = std::pow(A.V, B.V);
    long double D = B.V * std::pow(A.V, B.V - 1) * A.D;
    if (B.D != 0)
      D += V * std::log(A.V) * B.D;
    return {V, D};
  }
  case Op::Exp: {
    auto A = Op1(0);
    long double V = std::exp(A.V);
    return {V, V * A.D};
  }
  case Op::Expm1: {
    auto A = Op1(0);
    return {std::expm1(A.V), std::exp(A.V) * A.D};
  }
  case Op::Log: {
    auto A = Op1(0);
    return {std::log(A.V), A.D / A.V};
  }
  case Op::Log1p: {
    auto A = Op1(0);
    return {std::log1p(A.V), A.D / (1 + A.V)};
  }
  case Op::Sqrt: {
    auto A = Op1(0);
    long double V = std::sqrt(A.V);
    return {V, A.D / (2 * V)};
  }
  case Op::Abs: {
    auto A = Op1(0);
    return {std::fabs(A.V), (A.V > 0 ? 1 : A.V < 0 ? -1 : 0) * A.D};
  }
  case Op::Sign: {
    auto A = Op1(0);
    return {(long double)(A.V > 0 ? 1 : A.V < 0 ? -1 : 0), 0};
  }
  case Op::Tanh: {
    auto A = Op1(0);
    long double T = std::tanh(A.V);
    return {T, (1 - T * T) * A.D};
  }
  case Op::Sigmoid: {
    auto A = Op1(0);
    long double S = A.V >= 0 ? 1 / (1 + std::exp(-A.V))
                             : std::exp(A.V) / (1 + std::exp(A.V));
    return {S, S * (1 - S) * A.D};
  }
  case Op::Softplus: {
    auto A = Op1(0);
    long double S = A.V >= 0 ? 1 / (1 + std::exp(-A.V))
                             : std::exp(A.V) / (1 + std::exp(A.V));
    long double V = std::max(A.V, 0.0L) + std::log1p(std::exp(-std::fabs(A.V)));
    return {V, S * A.D};
  }
  case Op::Erf: {
    auto A = Op1(0);
    return {std::erf(A.V), 2 / std::sqrt(Pi) * std::exp(-A.V * A.V) * A.D};
  }
  case Op::Erfc: {
    auto A = Op1(0);
    return {std::erfc(A.V), -2 / std::sqrt(Pi) * std::exp(-A.V * A.V) * A.D};
  }
  case Op::Normcdf: {
    auto A = Op1(0);
    long double P = std::exp(-A.V * A.V / 2) / std::sqrt(2 * Pi);
    return {std::erfc(-A.V / std::sqrt(2.0L)) / 2, P * A.D};
  }
  case Op::Normpdf: {
    auto A = Op1(0);
    long double P = std::exp(-A.V * A.V / 2) / std::sqrt(2 * Pi);
    return {P, -A.V * P * A.D};
  }
  case Op::Sin: {
    auto A = Op1(0);
    return {std::sin(A.V), std::cos(A.V) * A.D};
  }
  case Op::Cos: {
    auto A = Op1(0);
    return {std::cos(A.V), -std::sin(A.V) * A.D};
  }
  case Op::Min: {
    auto A = Op1(0), B = Op1(1);
    return A.V <= B.V ? A : B;
  }
  case Op::Max: {
    auto A = Op1(0), B = Op1(1);
    return A.V >= B.V ? A : B;
  }
  case Op::Where: {
    auto C = Op1(0);
    return C.V != 0 ? Op1(1) : Op1(2);
  }
  }
  return {NAN, NAN};
}

/// Random formulas over every primitive, with domains kept mostly valid
/// (log and sqrt of 1 + u^2) so that most points are finite.
class FormulaGen {
public:
  explicit FormulaGen(unsigned Seed) : Rng(Seed) {}

  std::string gen(int Depth) {
    if (Depth <= 0 || pick(4) == 0)
      return leaf();
    std::string A = gen(Depth - 1);
    switch (pick(22)) {
    case 0:
      return "(" + A + " + " + gen(Depth - 1) + ")";
    case 1:
      return "(" + A + " - " + gen(Depth - 1) + ")";
    case 2:
      return "(" + A + " * " + gen(Depth - 1) + ")";
    case 3:
      return "(" + A + " / (1.5 + " + gen(Depth - 1) + "^2))";
    case 4:
      return "-(" + A + ")";
    case 5:
      return "(" + A + ")^" + std::to_string(1 + pick(3));
    case 6:
      return "exp(" + A + " / 4)";
    case 7:
      return "expm1(" + A + " / 4)";
    case 8:
      return "log(1 + (" + A + ")^2)";
    case 9:
      return "log1p((" + A + ")^2)";
    case 10:
      return "sqrt(1 + (" + A + ")^2)";
    case 11:
      return "abs(" + A + ")";
    case 12:
      return "tanh(" + A + ")";
    case 13:
      return "sigmoid(" + A + ")";
    case 14:
      return "softplus(" + A + ")";
    case 15:
      return "erf(" + A + ")";
    case 16:
      return "erfc(" + A + ")";
    case 17:
      return "sin(" + A + ")";
    case 18:
      return "cos(" + A + ")";
    case 19:
      return "min(" + A + ", " + gen(Depth - 1) + ")";
    case 20:
      return "max(" + A + ", " + gen(Depth - 1) + ")";
    default:
      return "where(" + A + " > " + leaf() + ", " + gen(Depth - 1) + ", " +
             gen(Depth - 1) + ")";
    }
  }

private:
  std::mt19937 Rng;
  unsigned pick(unsigned N) {
    return std::uniform_int_distribution<unsigned>(0, N - 1)(Rng);
  }
  std::string leaf() {
    switch (pick(5)) {
    case 0:
      return "x";
    case 1:
      return "x";
    case 2:
      return "alpha";
    case 3:
      return "pi";
    default: {
      static const char *Cs[] = {"0.5", "2", "-1.25", "3", "0.1"};
      return Cs[pick(5)];
    }
    }
  }
};

/// |A - B| within Rel relative to the larger magnitude (absolute below 1).
inline bool closeRel(double A, double B, double Rel) {
  if (std::isnan(A) || std::isnan(B))
    return std::isnan(A) && std::isnan(B);
  if (std::isinf(A) || std::isinf(B))
    return A == B;
  return std::fabs(A - B) <= Rel * std::max({1.0, std::fabs(A), std::fabs(B)});
}

/// M's compiled gradients on a random batch against the float64 reference
/// (gradcheck, 32 samples per tensor): the loss to 1e-5, every tensor to a
/// relative error of 1e-3. What names the spec in a failure.
inline void expectGradientsMatch(CompiledModel &M, int64_t Batch, uint64_t Seed,
                                 const std::string &What) {
  auto Res = gradCheck(M, Batch, 32, Seed);
  ASSERT_TRUE(bool(Res)) << llvm::toString(Res.takeError()) << "\n" << What;
  EXPECT_NEAR(Res->LossCompiled, Res->LossReference,
              1e-5 * std::max(1.0, std::fabs(Res->LossReference)))
      << What;
  for (const GradCheckRow &Row : Res->Rows)
    EXPECT_LE(Row.RelError, 1e-3)
        << Row.Param << " (|grad| " << Row.RefNorm << ") at batch " << Batch
        << " in\n"
        << What;
}

/// Every parameter of A and B within Tol of each other (0: equal).
inline void expectSameParams(CompiledModel &A, CompiledModel &B, double Tol) {
  for (size_t P = 0; P < A.network().params().size(); ++P) {
    const ParamInfo &PI = A.network().params()[P];
    for (int64_t I = 0; I < PI.size(); ++I)
      ASSERT_NEAR(A.param(P)[I], B.param(P)[I], Tol) << PI.Name << "[" << I << "]";
  }
}

} // namespace test
} // namespace netjit

#endif
