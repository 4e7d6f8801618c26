// Differentiate.cpp - the derivative rule table and the memoized chain rule.
#include "netjit/Expr/Differentiate.h"

#include "netjit/Support/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include <cmath>

using namespace llvm;

namespace netjit {
namespace {

/// Builds terms of the chain rule, dropping factors of 1 and terms of 0 so
/// that the raw derivative stays readable (exact: it only removes what a
/// product with the constant 0 or 1 contributes).
struct Builder {
  ExprContext &C;
  ExprRef zero() { return C.constant(0); }
  ExprRef one() { return C.constant(1); }
  ExprRef k(double V) { return C.constant(V); }
  ExprRef add(ExprRef A, ExprRef B) {
    if (A->isConst(0))
      return B;
    if (B->isConst(0))
      return A;
    return C.add(A, B);
  }
  ExprRef sub(ExprRef A, ExprRef B) {
    if (B->isConst(0))
      return A;
    if (A->isConst(0))
      return C.neg(B);
    return C.sub(A, B);
  }
  ExprRef mul(ExprRef A, ExprRef B) {
    if (A->isConst(0) || B->isConst(0))
      return zero();
    if (A->isConst(1))
      return B;
    if (B->isConst(1))
      return A;
    return C.mul(A, B);
  }
  ExprRef div(ExprRef A, ExprRef B) {
    if (A->isConst(0))
      return zero();
    if (B->isConst(1))
      return A;
    return C.div(A, B);
  }
  ExprRef neg(ExprRef A) { return A->isConst(0) ? zero() : C.neg(A); }
  ExprRef f(Op O, ExprRef A) { return C.call(O, A); }
};

/// A rule gets the node E, its operands A and their derivatives D, and
/// returns dE. Unary functions multiply their own derivative by D[0].
using Rule = ExprRef (*)(Builder &B, ExprRef E, ArrayRef<ExprRef> A,
                         ArrayRef<ExprRef> D);

ExprRef zeroRule(Builder &B, ExprRef, ArrayRef<ExprRef>, ArrayRef<ExprRef>) {
  return B.zero();
}

// The table: one entry per op, in Ops.def order.
const Rule Rules[] = {
    /*Const*/ zeroRule,
    /*Var, Param: handled before the table*/ nullptr,
    nullptr,
    /*Lt Le Gt Ge: piecewise constant*/ zeroRule,
    zeroRule,
    zeroRule,
    zeroRule,
    // (a + b)' = a' + b'
    /*Add*/
    [](Builder &B, ExprRef, auto A, auto D) { return B.add(D[0], D[1]); },
    // (a - b)' = a' - b'
    /*Sub*/
    [](Builder &B, ExprRef, auto A, auto D) { return B.sub(D[0], D[1]); },
    // (a b)' = a' b + a b'
    /*Mul*/
    [](Builder &B, ExprRef, auto A, auto D) {
      return B.add(B.mul(D[0], A[1]), B.mul(A[0], D[1]));
    },
    // (a / b)' = a' / b - a b' / b^2
    /*Div*/
    [](Builder &B, ExprRef, auto A, auto D) {
      return B.sub(B.div(D[0], A[1]),
                   B.div(B.mul(A[0], D[1]), B.C.pow(A[1], B.k(2))));
    },
    // (-a)' = -a'
    /*Neg*/ [](Builder &B, ExprRef, auto A, auto D) { return B.neg(D[0]); },
    // (a^b)' = b a^(b-1) a' + a^b log(a) b'   (each term only if needed)
    /*Pow*/
    [](Builder &B, ExprRef E, auto A, auto D) {
      ExprRef T1 =
          D[0]->isConst(0)
              ? B.zero()
              : B.mul(B.mul(A[1], B.C.pow(A[0], B.C.sub(A[1], B.one()))), D[0]);
      ExprRef T2 = D[1]->isConst(0) ? B.zero()
                                    : B.mul(B.mul(E, B.f(Op::Log, A[0])), D[1]);
      return B.add(T1, T2);
    },
    // exp' = exp
    /*Exp*/
    [](Builder &B, ExprRef E, auto A, auto D) { return B.mul(E, D[0]); },
    // expm1' = exp
    /*Expm1*/
    [](Builder &B, ExprRef, auto A, auto D) {
      return B.mul(B.f(Op::Exp, A[0]), D[0]);
    },
    // log' = 1/u
    /*Log*/
    [](Builder &B, ExprRef, auto A, auto D) { return B.div(D[0], A[0]); },
    // log1p' = 1/(1+u)
    /*Log1p*/
    [](Builder &B, ExprRef, auto A, auto D) {
      return B.div(D[0], B.C.add(B.one(), A[0]));
    },
    // sqrt' = 1/(2 sqrt(u))
    /*Sqrt*/
    [](Builder &B, ExprRef E, auto A, auto D) {
      return B.div(D[0], B.mul(B.k(2), E));
    },
    // abs' = sign (so abs'(0) = 0)
    /*Abs*/
    [](Builder &B, ExprRef, auto A, auto D) {
      return B.mul(B.f(Op::Sign, A[0]), D[0]);
    },
    /*Sign: piecewise constant*/ zeroRule,
    // tanh' = 1 - tanh^2
    /*Tanh*/
    [](Builder &B, ExprRef E, auto A, auto D) {
      return B.mul(B.C.sub(B.one(), B.C.pow(E, B.k(2))), D[0]);
    },
    // sigmoid' = sigmoid (1 - sigmoid)
    /*Sigmoid*/
    [](Builder &B, ExprRef E, auto A, auto D) {
      return B.mul(B.C.mul(E, B.C.sub(B.one(), E)), D[0]);
    },
    // softplus' = sigmoid
    /*Softplus*/
    [](Builder &B, ExprRef, auto A, auto D) {
      return B.mul(B.f(Op::Sigmoid, A[0]), D[0]);
    },
    // erf' = 2/sqrt(pi) exp(-u^2)
    /*Erf*/
    [](Builder &B, ExprRef, auto A, auto D) {
      ExprRef G = B.f(Op::Exp, B.C.neg(B.C.pow(A[0], B.k(2))));
      return B.mul(B.mul(B.k(2 / std::sqrt(M_PI)), G), D[0]);
    },
    // erfc' = -2/sqrt(pi) exp(-u^2)
    /*Erfc*/
    [](Builder &B, ExprRef, auto A, auto D) {
      ExprRef G = B.f(Op::Exp, B.C.neg(B.C.pow(A[0], B.k(2))));
      return B.mul(B.mul(B.k(-2 / std::sqrt(M_PI)), G), D[0]);
    },
    // normcdf' = normpdf
    /*Normcdf*/
    [](Builder &B, ExprRef, auto A, auto D) {
      return B.mul(B.f(Op::Normpdf, A[0]), D[0]);
    },
    // normpdf' = -u normpdf
    /*Normpdf*/
    [](Builder &B, ExprRef E, auto A, auto D) {
      return B.mul(B.neg(B.mul(A[0], E)), D[0]);
    },
    // sin' = cos
    /*Sin*/
    [](Builder &B, ExprRef, auto A, auto D) {
      return B.mul(B.f(Op::Cos, A[0]), D[0]);
    },
    // cos' = -sin
    /*Cos*/
    [](Builder &B, ExprRef, auto A, auto D) {
      return B.mul(B.neg(B.f(Op::Sin, A[0])), D[0]);
    },
    // min(a, b)' = where(a <= b, a', b')   (ties: the first operand)
    /*Min*/
    [](Builder &B, ExprRef, auto A, auto D) {
      if (D[0] == D[1])
        return D[0];
      return B.C.where(B.C.make(Op::Le, {A[0], A[1]}), D[0], D[1]);
    },
    // max(a, b)' = where(a >= b, a', b')   (ties: the first operand)
    /*Max*/
    [](Builder &B, ExprRef, auto A, auto D) {
      if (D[0] == D[1])
        return D[0];
      return B.C.where(B.C.make(Op::Ge, {A[0], A[1]}), D[0], D[1]);
    },
    // where(c, a, b)' = where(c, a', b')   (c is piecewise constant)
    /*Where*/
    [](Builder &B, ExprRef, auto A, auto D) {
      if (D[1] == D[2])
        return D[1];
      return B.C.where(A[0], D[1], D[2]);
    },
};

static_assert(sizeof(Rules) / sizeof(Rules[0]) == size_t(Op::Where) + 1,
              "one derivative rule per op in Ops.def");

} // namespace

Expected<ExprRef> differentiate(ExprContext &Ctx, ExprRef Root, StringRef Var) {
  Builder B{Ctx};
  DenseMap<ExprRef, ExprRef> Memo;
  // Subtrees free of Var have derivative 0: skip their rules entirely.
  auto Free = [&](ExprRef E) {
    return Var == "x" ? !E->hasX() : Var == "y" ? !E->hasY() : !E->hasParams();
  };
  for (ExprRef E : postOrder(Root, [&](ExprRef E) { return !Free(E); })) {
    if (E->op() == Op::Var || E->op() == Op::Param) {
      if (E->isVar("y") && Var != "y")
        return plainError(ErrorKind::Formula,
                          "cannot differentiate through the forward output "
                          "'y' in '" +
                              print(Root) + "'");
      Memo[E] = E->name() == Var ? B.one() : B.zero();
      continue;
    }
    if (E->numOperands() == 0 || Free(E)) {
      Memo[E] = B.zero();
      continue;
    }
    Rule R = Rules[static_cast<unsigned>(E->op())];
    if (!R)
      return plainError(ErrorKind::Formula, Twine("no derivative rule for '") +
                                                opInfo(E->op()).Spelling +
                                                "' in '" + print(E) + "'");
    std::vector<ExprRef> D;
    for (ExprRef Op : E->operands())
      D.push_back(Memo[Op]);
    Memo[E] = R(B, E, E->operands(), D);
  }
  ExprRef Result = Memo[Root];
  if (Error Err = checkLimits(Result, "the derivative"))
    return Err;
  return Result;
}

} // namespace netjit
