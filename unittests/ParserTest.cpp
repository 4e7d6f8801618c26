// ParserTest.cpp - precedence, associativity and located parse errors.
#include "TestUtil.h"

#include "netjit/Expr/Parser.h"
#include "netjit/Support/Diagnostics.h"

using namespace netjit;
using namespace netjit::test;

static double at(const char *F, double X = 0) {
  ExprContext C;
  return *evaluate(parseOrDie(C, F), X);
}

static std::string parseError(const char *F,
                              std::vector<std::string> Params = {}) {
  ExprContext C;
  ParseOptions O;
  O.Params = std::move(Params);
  auto R = parseExpr(C, F, O);
  if (R)
    return "parsed: " + print(*R);
  return errorText(R.takeError());
}

TEST(Parser, PrecedenceAndAssociativity) {
  EXPECT_EQ(at("2 + 3 * 4"), 14);
  EXPECT_EQ(at("2 * 3 + 4"), 10);
  EXPECT_EQ(at("2^3^2"), 512); // right-associative
  EXPECT_EQ(at("2 ** 3 ** 2"), 512);
  EXPECT_EQ(at("-2^2"), -4); // unary minus binds looser than ^
  EXPECT_EQ(at("(-2)^2"), 4);
  EXPECT_EQ(at("2^-1"), 0.5);
  EXPECT_EQ(at("8 / 4 / 2"), 1); // left-associative
  EXPECT_EQ(at("8 - 4 - 2"), 2);
  EXPECT_EQ(at("-x * 3", 2), -6);
  EXPECT_EQ(at("1 + 2 > 2"), 1); // comparisons bind loosest
  EXPECT_EQ(at("pow(2, 10)"), 1024);
  EXPECT_EQ(at(".5 + 1e1 + 2.5E-1"), 10.75);
  EXPECT_EQ(at("+x", 3), 3);
}

TEST(Parser, LocatedErrorsWithSuggestions) {
  EXPECT_EQ(parseError("tnah(x)"),
            "1:1: error: unknown function 'tnah' (did you mean 'tanh'?)");
  EXPECT_EQ(parseError("x * sigmod(x)"),
            "1:5: error: unknown function 'sigmod' (did you mean 'sigmoid'?)");
  EXPECT_EQ(parseError("x * alpa", {"alpha"}),
            "1:5: error: unknown name 'alpa' (did you mean 'alpha'?)");
  EXPECT_EQ(
      parseError("x * beta"),
      "1:5: error: unknown name 'beta'; declare it with --param beta=VALUE");
  EXPECT_EQ(parseError("x +"), "1:4: error: expected an operand after '+'");
  EXPECT_EQ(parseError("sin(x"),
            "1:6: error: expected ',' or ')' in the arguments of 'sin'");
  EXPECT_EQ(parseError("(x + 1"),
            "1:7: error: expected ')' to close the '(' at column 1");
  EXPECT_EQ(parseError("where(x > 0, 1)"),
            "1:1: error: function 'where' takes 3 arguments, got 2");
  EXPECT_EQ(parseError("exp(x, 2)"),
            "1:1: error: function 'exp' takes 1 argument, got 2");
  EXPECT_EQ(parseError("x $ 2"), "1:3: error: unexpected character '$'");
  EXPECT_EQ(parseError("x == 0"),
            "1:3: error: unexpected '=': comparisons are <, <=, > and >=; "
            "choose values with where(cond, a, b)");
  EXPECT_EQ(parseError("0 < x < 1"), "1:7: error: comparisons do not chain; "
                                     "combine them with where(cond, a, b)");
  EXPECT_EQ(parseError("x y"),
            "1:3: error: unexpected 'y' after a complete expression");
  EXPECT_EQ(parseError("y * 2"),
            "1:1: error: 'y' names the forward output and may only appear in a "
            "derivative form; write the activation in terms of x");
  EXPECT_EQ(parseError(""), "1:1: error: expected an expression, got nothing");
  EXPECT_EQ(parseError("1.2.3"), "1:4: error: malformed number '1.2.'");
  EXPECT_EQ(parseError("1e999"), "1:1: error: number '1e999' is out of range");
  EXPECT_EQ(parseError("tanh + 1"),
            "1:1: error: function 'tanh' needs arguments: tanh(...)");
  EXPECT_EQ(parseError("x +\n  tnah(x)"),
            "2:3: error: unknown function 'tnah' (did you mean 'tanh'?)");
}

TEST(Parser, ErrorCarriesACaret) {
  ExprContext C;
  auto R = parseExpr(C, "x * tnah(x)");
  ASSERT_FALSE(bool(R));
  llvm::handleAllErrors(R.takeError(), [](const LocatedError &L) {
    EXPECT_EQ(L.snippet(), "x * tnah(x)\n    ^");
    EXPECT_EQ(L.kind(), ErrorKind::Formula);
  });
}

TEST(Parser, NestingLimitIsAnErrorNotACrash) {
  std::string Deep(300, '(');
  Deep += "x" + std::string(300, ')');
  EXPECT_NE(parseError(Deep.c_str()).find("nested deeper than 256"),
            std::string::npos);
  std::string Minus(100000, '-');
  Minus += "x";
  EXPECT_NE(parseError(Minus.c_str()).find("nested deeper than 256"),
            std::string::npos);
  std::string Calls;
  for (int I = 0; I < 1000; ++I)
    Calls += "sin(";
  Calls += "x" + std::string(1000, ')');
  EXPECT_NE(parseError(Calls.c_str()).find("nested deeper than 256"),
            std::string::npos);
  std::string Pows = "x";
  for (int I = 0; I < 1000; ++I)
    Pows += "^x";
  EXPECT_NE(parseError(Pows.c_str()).find("nested deeper than 256"),
            std::string::npos);
  std::string Chain = "x";
  for (int I = 0; I < 5000; ++I)
    Chain += " + x";
  EXPECT_NE(parseError(Chain.c_str()).find("deeper than 2048"),
            std::string::npos);
  // Just under the limit parses.
  std::string Ok(250, '(');
  Ok += "x" + std::string(250, ')');
  EXPECT_EQ(parseError(Ok.c_str()), "parsed: x");
}
