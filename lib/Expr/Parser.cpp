// Parser.cpp - recursive-descent parser for formulas, with located errors.
#include "netjit/Expr/Parser.h"

#include "netjit/Support/Diagnostics.h"
#include "llvm/ADT/StringExtras.h"
#include <cmath>
#include <cstdlib>
#include <optional>

using namespace llvm;

namespace netjit {
namespace {

enum class Tok { Num, Name, Punct, End };

struct Token {
  Tok Kind;
  StringRef Text;
  size_t Offset;
};

class Parser {
public:
  Parser(ExprContext &Ctx, StringRef Src, const ParseOptions &Opts)
      : Ctx(Ctx), Src(Src), Opts(Opts) {}

  Expected<ExprRef> parse() {
    if (Error E = lex())
      return E;
    if (Cur().Kind == Tok::End)
      return fail(Cur(), "expected an expression, got nothing");
    auto R = parseCmp();
    if (!R)
      return R;
    if (Cur().Kind != Tok::End)
      return fail(Cur(), "unexpected '" + Cur().Text +
                             "' after a complete "
                             "expression");
    if (Error E = checkLimits(*R, "the formula"))
      return E;
    return R;
  }

private:
  ExprContext &Ctx;
  StringRef Src;
  const ParseOptions &Opts;
  std::vector<Token> Toks;
  size_t Pos = 0;
  unsigned Nesting = 0;

  const Token &Cur() const { return Toks[Pos]; }
  bool isPunct(StringRef P) const {
    return Cur().Kind == Tok::Punct && Cur().Text == P;
  }

  Error failAt(size_t Offset, const Twine &Msg) {
    return sourceError(ErrorKind::Formula, Opts.File, Src, Offset, Msg);
  }
  Error fail(const Token &T, const Twine &Msg) { return failAt(T.Offset, Msg); }

  Error lex() {
    size_t I = 0, N = Src.size();
    while (I < N) {
      char C = Src[I];
      if (isSpace(C)) {
        ++I;
        continue;
      }
      size_t Start = I;
      if (isDigit(C) || (C == '.' && I + 1 < N && isDigit(Src[I + 1]))) {
        while (I < N && isDigit(Src[I]))
          ++I;
        if (I < N && Src[I] == '.')
          for (++I; I < N && isDigit(Src[I]);)
            ++I;
        if (I < N && (Src[I] == 'e' || Src[I] == 'E')) {
          size_t J = I + 1;
          if (J < N && (Src[J] == '+' || Src[J] == '-'))
            ++J;
          if (J < N && isDigit(Src[J])) {
            for (I = J; I < N && isDigit(Src[I]);)
              ++I;
          }
        }
        if (I < N && (isAlpha(Src[I]) || Src[I] == '_' || Src[I] == '.'))
          return failAt(I,
                        "malformed number '" + Src.slice(Start, I + 1) + "'");
        Toks.push_back({Tok::Num, Src.slice(Start, I), Start});
        continue;
      }
      if (isAlpha(C) || C == '_') {
        while (I < N && (isAlnum(Src[I]) || Src[I] == '_'))
          ++I;
        Toks.push_back({Tok::Name, Src.slice(Start, I), Start});
        continue;
      }
      static const char *Two[] = {"<=", ">=", "**"};
      bool Matched = false;
      for (const char *P : Two)
        if (Src.substr(I).starts_with(P)) {
          Toks.push_back({Tok::Punct, Src.substr(I, 2), Start});
          I += 2;
          Matched = true;
          break;
        }
      if (Matched)
        continue;
      if (StringRef("+-*/^()<>,").contains(C)) {
        Toks.push_back({Tok::Punct, Src.substr(I, 1), Start});
        ++I;
        continue;
      }
      if (C == '=' || C == '!')
        return failAt(I, "unexpected '" + Src.substr(I, 1) +
                             "': comparisons are <, <=, > and >=; "
                             "choose values with where(cond, a, b)");
      if (static_cast<unsigned char>(C) >= 0x80)
        return failAt(I, "unexpected non-ASCII character");
      return failAt(I, "unexpected character '" + Src.substr(I, 1) + "'");
    }
    Toks.push_back({Tok::End, "", N});
    return Error::success();
  }

  // Guards every recursive production: deep nesting is an error, not a crash.
  Error enter(const Token &T) {
    if (++Nesting > MaxNesting)
      return fail(T, "formula nested deeper than " + Twine(MaxNesting) +
                         " levels");
    return Error::success();
  }

  Expected<ExprRef> parseCmp() {
    auto L = parseSum();
    if (!L)
      return L;
    static const std::pair<const char *, Op> Cmps[] = {
        {"<", Op::Lt}, {"<=", Op::Le}, {">", Op::Gt}, {">=", Op::Ge}};
    for (auto [S, O] : Cmps) {
      if (!isPunct(S))
        continue;
      ++Pos;
      auto R = parseSum();
      if (!R)
        return R;
      for (auto [S2, O2] : Cmps)
        if (isPunct(S2))
          return fail(Cur(), "comparisons do not chain; combine them with "
                             "where(cond, a, b)");
      return Ctx.make(O, {*L, *R});
    }
    return L;
  }

  Expected<ExprRef> binary(Expected<ExprRef> (Parser::*Sub)(),
                           ArrayRef<std::pair<const char *, Op>> Ops) {
    auto L = (this->*Sub)();
    if (!L)
      return L;
    for (;;) {
      std::optional<Op> Found;
      for (auto [S, O] : Ops)
        if (isPunct(S))
          Found = O;
      if (!Found)
        return L;
      const Token &OpTok = Cur();
      ++Pos;
      if (Cur().Kind == Tok::End)
        return fail(Cur(), "expected an operand after '" + OpTok.Text + "'");
      auto R = (this->*Sub)();
      if (!R)
        return R;
      L = Ctx.make(*Found, {*L, *R});
      if ((*L)->depth() > MaxDepth)
        return fail(OpTok, "formula deeper than " + Twine(MaxDepth) +
                               " levels (long chains count)");
    }
  }

  Expected<ExprRef> parseSum() {
    return binary(&Parser::parseTerm, {{"+", Op::Add}, {"-", Op::Sub}});
  }
  Expected<ExprRef> parseTerm() {
    return binary(&Parser::parseUnary, {{"*", Op::Mul}, {"/", Op::Div}});
  }

  Expected<ExprRef> parseUnary() {
    if (isPunct("-") || isPunct("+")) {
      const Token &T = Cur();
      bool Minus = T.Text == "-";
      ++Pos;
      if (Error E = enter(T))
        return E;
      auto A = parseUnary();
      --Nesting;
      if (!A)
        return A;
      return Minus ? Ctx.neg(*A) : *A;
    }
    return parsePower();
  }

  Expected<ExprRef> parsePower() {
    auto B = parsePrimary();
    if (!B)
      return B;
    if (!isPunct("^") && !isPunct("**"))
      return B;
    const Token &T = Cur();
    ++Pos;
    if (Error E = enter(T))
      return E;
    auto X = parseUnary();
    --Nesting;
    if (!X)
      return X;
    return Ctx.pow(*B, *X);
  }

  Expected<ExprRef> parsePrimary() {
    const Token &T = Cur();
    switch (T.Kind) {
    case Tok::End:
      return fail(T, "expected an operand, got the end of the formula");
    case Tok::Num: {
      ++Pos;
      std::string S = T.Text.str();
      double V = std::strtod(S.c_str(), nullptr);
      if (std::isinf(V))
        return fail(T, "number '" + T.Text + "' is out of range");
      return Ctx.constant(V);
    }
    case Tok::Punct:
      if (T.Text == "(") {
        ++Pos;
        if (Error E = enter(T))
          return E;
        auto R = parseCmp();
        --Nesting;
        if (!R)
          return R;
        if (!isPunct(")"))
          return fail(Cur(), "expected ')' to close the '(' at column " +
                                 Twine(T.Offset + 1));
        ++Pos;
        return R;
      }
      return fail(T, "expected an operand, got '" + T.Text + "'");
    case Tok::Name:
      ++Pos;
      if (isPunct("("))
        return parseCall(T);
      return parseName(T);
    }
    return fail(T, "unexpected token");
  }

  Expected<ExprRef> parseName(const Token &T) {
    StringRef N = T.Text;
    if (N == "x")
      return Ctx.x();
    if (N == "y") {
      if (Opts.AllowOutput)
        return Ctx.y();
      return fail(T, "'y' names the forward output and may only appear in a "
                     "derivative form; write the activation in terms of x");
    }
    if (N == "pi")
      return Ctx.constant(M_PI);
    if (N == "e")
      return Ctx.constant(M_E);
    if (N == "inf")
      return Ctx.constant(INFINITY);
    if (N == "nan")
      return Ctx.constant(NAN);
    for (const std::string &P : Opts.Params)
      if (P == N)
        return Ctx.param(N);
    std::vector<std::string> Functions = functionNames();
    for (const std::string &F : Functions)
      if (F == N)
        return fail(T, "function '" + N + "' needs arguments: " + N + "(...)");
    std::vector<std::string> Known = {"x", "pi", "e"};
    Known.insert(Known.end(), Opts.Params.begin(), Opts.Params.end());
    std::string Hint = didYouMean(N, Known);
    if (Hint.empty() && !Opts.File.empty())
      Hint = "; declare it under \"params\"";
    else if (Hint.empty())
      Hint = "; declare it with --param " + N.str() + "=VALUE";
    return fail(T, "unknown name '" + N + "'" + Hint);
  }

  Expected<ExprRef> parseCall(const Token &T) {
    StringRef N = T.Text;
    Op O = Op::Pow;
    bool Found = N == "pow";
    for (Op K : allOps())
      if (opInfo(K).Syn == Syntax::Call && N == opInfo(K).Spelling) {
        O = K;
        Found = true;
      }
    if (!Found) {
      std::string Hint = didYouMean(N, functionNames());
      return fail(T, "unknown function '" + N + "'" + Hint);
    }
    ++Pos; // '('
    if (Error E = enter(T))
      return E;
    std::vector<ExprRef> Args;
    if (!isPunct(")")) {
      for (;;) {
        auto A = parseCmp();
        if (!A)
          return A;
        Args.push_back(*A);
        if (isPunct(",")) {
          ++Pos;
          continue;
        }
        break;
      }
    }
    --Nesting;
    if (!isPunct(")"))
      return fail(Cur(), "expected ',' or ')' in the arguments of '" + N + "'");
    ++Pos;
    unsigned Arity = opInfo(O).Arity;
    if (Args.size() != Arity)
      return fail(T, "function '" + N + "' takes " + Twine(Arity) +
                         (Arity == 1 ? " argument" : " arguments") + ", got " +
                         Twine(Args.size()));
    return Ctx.make(O, Args);
  }
};

} // namespace

Expected<ExprRef> parseExpr(ExprContext &Ctx, StringRef Text,
                            const ParseOptions &Opts) {
  return Parser(Ctx, Text, Opts).parse();
}

} // namespace netjit
