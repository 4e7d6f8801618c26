// Printer.cpp - deterministic infix text with the fewest parentheses that
// still parse back to the same node.
#include "netjit/Expr/Expr.h"

#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <cstdio>
#include <cstdlib>

using namespace llvm;

namespace netjit {

std::string formatNumber(double V) {
  if (std::isnan(V))
    return "nan";
  if (std::isinf(V))
    return V > 0 ? "inf" : "-inf";
  if (V == M_PI)
    return "pi";
  if (V == M_E)
    return "e";
  char Buf[40];
  // Whole numbers print whole ("10", not "1e+01").
  if (V == std::floor(V) && std::fabs(V) < 1e16) {
    std::snprintf(Buf, sizeof Buf, "%.0f", V);
    return Buf;
  }
  for (int Prec = 1; Prec <= 17; ++Prec) {
    std::snprintf(Buf, sizeof Buf, "%.*g", Prec, V);
    if (std::strtod(Buf, nullptr) == V)
      break;
  }
  return Buf;
}

// Binding strength of E as printed: a negative literal binds like unary minus.
static unsigned precOf(ExprRef E) {
  if (E->isConst() && (std::signbit(E->value()) && !std::isnan(E->value())))
    return opInfo(Op::Neg).Prec;
  return opInfo(E->op()).Prec;
}

static void printTo(raw_ostream &OS, ExprRef E);

static void printOperand(raw_ostream &OS, ExprRef E, bool Parens) {
  if (Parens)
    OS << '(';
  printTo(OS, E);
  if (Parens)
    OS << ')';
}

static void printTo(raw_ostream &OS, ExprRef E) {
  const OpInfo &I = opInfo(E->op());
  switch (I.Syn) {
  case Syntax::Leaf:
    if (E->isConst())
      OS << formatNumber(E->value());
    else
      OS << E->name();
    return;
  case Syntax::Call:
    OS << I.Spelling << '(';
    for (unsigned K = 0; K < E->numOperands(); ++K) {
      if (K)
        OS << ", ";
      printTo(OS, E->operand(K));
    }
    OS << ')';
    return;
  case Syntax::Prefix:
    OS << I.Spelling;
    // "--x" would lex as one token in some readers: "- -x" keeps it
    // unambiguous without parentheses, which would make a long chain nest
    // deeper than the parser allows (the printed form must reparse).
    if (E->operand(0)->op() == Op::Neg) {
      OS << ' ';
      printTo(OS, E->operand(0));
      return;
    }
    printOperand(OS, E->operand(0),
                 precOf(E->operand(0)) < I.Prec ||
                     precOf(E->operand(0)) == I.Prec);
    return;
  case Syntax::Infix: {
    ExprRef L = E->operand(0), R = E->operand(1);
    unsigned LP = precOf(L), RP = precOf(R);
    bool LParen, RParen;
    if (E->op() == Op::Pow) {
      // Right-associative; the base is a primary, the exponent a unary.
      LParen = LP <= I.Prec;
      RParen = RP < opInfo(Op::Neg).Prec;
    } else if (isComparison(E->op())) {
      // Comparisons do not chain.
      LParen = LP <= I.Prec;
      RParen = RP <= I.Prec;
    } else {
      // Left-associative; a unary operand is fine on the right of + - * /.
      LParen = LP < I.Prec;
      RParen = RP <= I.Prec;
    }
    printOperand(OS, L, LParen);
    // x^2 binds tightest and reads best without spaces.
    if (E->op() == Op::Pow)
      OS << I.Spelling;
    else
      OS << ' ' << I.Spelling << ' ';
    printOperand(OS, R, RParen);
    return;
  }
  }
}

std::string print(ExprRef E) {
  std::string S;
  raw_string_ostream OS(S);
  printTo(OS, E);
  return OS.str();
}

} // namespace netjit
