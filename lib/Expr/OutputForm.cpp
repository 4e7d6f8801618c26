// OutputForm.cpp - rewriting a derivative in terms of the forward output y.
//
// We know equations "Lhs = Rhs" that hold in a region of the input: at the
// top, F = y. Solving peels input-free factors and terms off an equation
// (c t = r  =>  t = r / c), and inside where(k, a, b) the equation
// where(k, A, B) = r gives A = r in the a-branch and B = r in the b-branch.
// Identities expose the known subterms (exp(u) = expm1(u) + 1,
// sigmoid(u) = -expm1(-softplus(u))); then every known Lhs is replaced by its
// Rhs and the result simplified with distribution so that c (r / c) cancels.
// A branch condition on x becomes one on y where f's branches take values
// on either side of a threshold (relu: x > 0 iff y > 0), so that the
// backward pass needs y alone.
#include "netjit/Expr/Canonical.h"
#include "netjit/Expr/Simplify.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include <algorithm>
#include <cmath>
#include <optional>

namespace netjit {
namespace {

struct Fact {
  ExprRef Lhs, Rhs;
};
using Facts = std::vector<Fact>;

void solve(ExprContext &C, ExprRef T, ExprRef R, Facts &Out) {
  if (!T->hasX())
    return;
  Out.push_back({T, R});
  switch (T->op()) {
  case Op::Neg:
    solve(C, T->operand(0), C.neg(R), Out);
    return;
  case Op::Mul:
  case Op::Div: {
    // Exactly one factor depends on x, to the first power: t = r / c.
    ProductForm P;
    if (!P.flatten(T))
      return;
    ExprRef Dep = nullptr;
    ProductForm Rest;
    Rest.NumC = P.NumC;
    Rest.DenC = P.DenC;
    for (auto &[B, E] : P.Factors) {
      if (B->hasX()) {
        if (Dep || E != 1)
          return;
        Dep = B;
      } else {
        Rest.addFactor(B, E);
      }
    }
    if (Dep)
      solve(C, Dep, C.div(R, Rest.build(C)), Out);
    return;
  }
  case Op::Add:
  case Op::Sub: {
    // Exactly one operand depends on x: a + k = r  =>  a = r - k.
    ExprRef A = T->operand(0), B = T->operand(1);
    if (A->hasX() && !B->hasX())
      solve(C, A, T->op() == Op::Add ? C.sub(R, B) : C.add(R, B), Out);
    else if (!A->hasX() && B->hasX())
      solve(C, B, T->op() == Op::Add ? C.sub(R, A) : C.sub(A, R), Out);
    return;
  }
  default:
    return;
  }
}

const Fact *lookup(const Facts &Fs, ExprRef E) {
  for (const Fact &F : Fs)
    if (F.Lhs == E)
      return &F;
  return nullptr;
}

// A product E containing every factor of a known product Lhs: E = Rhs * rest.
ExprRef replaceSubproduct(ExprContext &C, ExprRef E, const Facts &Fs) {
  if (E->op() != Op::Mul && E->op() != Op::Div)
    return nullptr;
  ProductForm P;
  if (!P.flatten(E))
    return nullptr;
  for (const Fact &F : Fs) {
    if (F.Lhs->op() != Op::Mul && F.Lhs->op() != Op::Div)
      continue;
    ProductForm Q;
    if (!Q.flatten(F.Lhs) || Q.Factors.size() < 2 ||
        Q.Factors.size() > P.Factors.size())
      continue;
    ProductForm Rest = P;
    bool All = true;
    for (auto &[B, Exp] : Q.Factors) {
      auto It = std::find_if(Rest.Factors.begin(), Rest.Factors.end(),
                             [&](auto &Fa) { return Fa.first == B; });
      if (It == Rest.Factors.end() || It->second != Exp) {
        All = false;
        break;
      }
      It->second = 0;
    }
    if (!All)
      continue;
    // E = (P.c / Q.c) * Lhs * rest
    Rest.NumC = P.NumC * Q.DenC;
    Rest.DenC = P.DenC * Q.NumC;
    Rest.addFactor(F.Rhs, 1);
    return Rest.build(C);
  }
  return nullptr;
}

// Intervals of x and of a branch's values, each end open or closed.
struct End {
  double V;
  bool Open;
};
struct Interval {
  End Lo{-INFINITY, true}, Hi{INFINITY, true};
  bool empty() const {
    return Lo.V > Hi.V || (Lo.V == Hi.V && (Lo.Open || Hi.Open));
  }
};

/// The parts of R where K (x against a constant) holds and where it does
/// not, or nothing for another condition.
std::optional<std::pair<Interval, Interval>> split(ExprRef K, Interval R) {
  if (!isComparison(K->op()))
    return std::nullopt;
  ExprRef A = K->operand(0), B = K->operand(1);
  Op O = K->op();
  if (B->isVar("x") && A->op() == Op::Const) { // c < x  is  x > c
    std::swap(A, B);
    O = O == Op::Lt ? Op::Gt : O == Op::Le ? Op::Ge : O == Op::Gt ? Op::Lt : Op::Le;
  }
  if (!A->isVar("x") || B->op() != Op::Const)
    return std::nullopt;
  double C = B->value();
  auto above = [&](Interval I, bool Open) { // I with x > c (Open) or x >= c
    if (C > I.Lo.V || (C == I.Lo.V && Open))
      I.Lo = {C, Open};
    return I;
  };
  auto below = [&](Interval I, bool Open) {
    if (C < I.Hi.V || (C == I.Hi.V && Open))
      I.Hi = {C, Open};
    return I;
  };
  bool Upward = O == Op::Gt || O == Op::Ge, Strict = O == Op::Gt || O == Op::Lt;
  if (Upward)
    return std::make_pair(above(R, Strict), below(R, !Strict));
  return std::make_pair(below(R, Strict), above(R, !Strict));
}

/// The values E takes for x in R, as float arithmetic computes them: only
/// constants, x, -u, c x with a bound of 0 or infinity (rounding keeps the sign,
/// not a strict bound) and branches of those; else nothing.
std::optional<Interval> valuesOf(ExprRef E, Interval R) {
  if (E->op() == Op::Const)
    return Interval{{E->value(), false}, {E->value(), false}};
  if (E->isVar("x"))
    return R;
  if (E->op() == Op::Neg) { // exact
    auto V = valuesOf(E->operand(0), R);
    if (!V)
      return std::nullopt;
    return Interval{{-V->Hi.V, V->Hi.Open}, {-V->Lo.V, V->Lo.Open}};
  }
  if (E->op() == Op::Mul) {
    ExprRef P = E->operand(0), X = E->operand(1);
    if (P->isVar("x"))
      std::swap(P, X);
    auto Exact = [](double V) { return V == 0 || std::isinf(V); };
    if (P->op() != Op::Const || !X->isVar("x") || P->value() == 0 ||
        !Exact(R.Lo.V) || !Exact(R.Hi.V))
      return std::nullopt;
    double Pv = P->value();
    End Lo{Pv * R.Lo.V, false}, Hi{Pv * R.Hi.V, false};
    if (Pv < 0)
      std::swap(Lo, Hi);
    return Interval{Lo, Hi};
  }
  if (E->op() != Op::Where)
    return std::nullopt;
  auto Parts = split(E->operand(0), R);
  if (!Parts)
    return std::nullopt;
  std::optional<Interval> U;
  for (auto [Part, Branch] : {std::make_pair(Parts->first, E->operand(1)),
                              std::make_pair(Parts->second, E->operand(2))}) {
    if (Part.empty())
      continue;
    auto V = valuesOf(Branch, Part);
    if (!V)
      return std::nullopt;
    if (!U) {
      U = V;
      continue;
    }
    if (V->Lo.V < U->Lo.V || (V->Lo.V == U->Lo.V && !V->Lo.Open))
      U->Lo = V->Lo;
    if (V->Hi.V > U->Hi.V || (V->Hi.V == U->Hi.V && !V->Hi.Open))
      U->Hi = V->Hi;
  }
  return U;
}

/// F = where(K, A, B) = y: K as a condition on y when A's values lie on
/// one side of a threshold and B's on the other, or nothing.
ExprRef conditionInY(ExprContext &C, ExprRef F) {
  auto Parts = split(F->operand(0), Interval{});
  if (!Parts || Parts->first.empty() || Parts->second.empty())
    return nullptr;
  auto A = valuesOf(F->operand(1), Parts->first);
  auto B = valuesOf(F->operand(2), Parts->second);
  if (!A || !B)
    return nullptr;
  auto Cmp = [&](Op O, double T) { // + 0.0: -0 prints as 0
    return C.make(O, {C.y(), C.constant(T + 0.0)});
  };
  if (A->Lo.V > B->Hi.V) // A above B
    return Cmp(Op::Gt, B->Hi.V);
  if (A->Lo.V == B->Hi.V && (A->Lo.Open || B->Hi.Open))
    return Cmp(A->Lo.Open ? Op::Gt : Op::Ge, A->Lo.V);
  if (A->Hi.V < B->Lo.V) // A below B
    return Cmp(Op::Lt, B->Lo.V);
  if (A->Hi.V == B->Lo.V && (A->Hi.Open || B->Lo.Open))
    return Cmp(A->Hi.Open ? Op::Lt : Op::Le, A->Hi.V);
  return nullptr;
}

// Substitutes known facts bottom-up; one Walker per region (set of facts).
struct Walker {
  Walker(ExprContext &C, Facts Fs) : C(C), Fs(std::move(Fs)) {}
  ExprContext &C;
  Facts Fs;
  llvm::DenseMap<ExprRef, ExprRef> Memo;

  /// Inner: E is a factor of a product walked above it, which looked for
  /// known subproducts among all its factors (E's included); looking again
  /// at each prefix of a long a * b * c ... would cost cubic time.
  ExprRef walk(ExprRef E, bool Inner = false) {
    auto It = Memo.find(E);
    if (It != Memo.end())
      return It->second;
    ExprRef R = walkUncached(E, Inner);
    Memo[E] = R;
    return R;
  }

  ExprRef walkUncached(ExprRef E, bool Inner) {
    if (const Fact *F = lookup(Fs, E))
      return F->Rhs;
    if (!E->hasX() || E->numOperands() == 0)
      return E;
    switch (E->op()) {
    case Op::Exp: // exp(u) = expm1(u) + 1
      if (const Fact *F = lookup(Fs, C.call(Op::Expm1, E->operand(0))))
        return C.add(F->Rhs, C.constant(1));
      break;
    case Op::Sigmoid: // sigmoid(u) = -expm1(-softplus(u))
      if (const Fact *F = lookup(Fs, C.call(Op::Softplus, E->operand(0))))
        return C.neg(C.call(Op::Expm1, C.neg(F->Rhs)));
      // sigmoid(-u) = 1 - sigmoid(u)
      if (const Fact *F =
              lookup(Fs, C.call(Op::Sigmoid, negateProduct(C, E->operand(0)))))
        return C.sub(C.constant(1), F->Rhs);
      break;
    case Op::Where: {
      Walker A{C, Fs}, B{C, Fs};
      ExprRef K = nullptr;
      for (const Fact &F : Fs)
        if (F.Lhs->op() == Op::Where && F.Lhs->operand(0) == E->operand(0)) {
          solve(C, F.Lhs->operand(1), F.Rhs, A.Fs);
          solve(C, F.Lhs->operand(2), F.Rhs, B.Fs);
          if (!K && F.Rhs == C.y())
            K = conditionInY(C, F.Lhs);
        }
      return C.where(K ? K : walk(E->operand(0)), A.walk(E->operand(1)),
                     B.walk(E->operand(2)));
    }
    default:
      if (!Inner)
        if (ExprRef R = replaceSubproduct(C, E, Fs))
          return walk(R);
      break;
    }
    bool Product = E->op() == Op::Mul || E->op() == Op::Div;
    std::vector<ExprRef> Ops;
    for (ExprRef O : E->operands())
      Ops.push_back(walk(O, Product && (O->op() == Op::Mul || O->op() == Op::Div)));
    return C.make(E->op(), Ops);
  }
};

// Whether x occurs only inside comparisons (where conditions).
bool xOnlyInConditions(ExprRef E, llvm::DenseSet<ExprRef> &Ok) {
  if (!E->hasX() || isComparison(E->op()) || Ok.count(E))
    return true;
  if (E->op() == Op::Var)
    return false;
  for (ExprRef O : E->operands())
    if (!xOnlyInConditions(O, Ok))
      return false;
  Ok.insert(E);
  return true;
}

bool xOnlyInConditions(ExprRef E) {
  llvm::DenseSet<ExprRef> Ok;
  return xOnlyInConditions(E, Ok);
}

} // namespace

bool isStableInOutput(ExprRef DY) {
  // y + k or k - y cancels where y approaches -k (1 - y for sigmoid and tanh
  // near 1, y + alpha for elu's tail); products and functions of y do not.
  for (ExprRef N : postOrder(DY))
    if ((N->op() == Op::Add || N->op() == Op::Sub) && N->hasY())
      return false;
  return true;
}

ExprRef rewriteInOutput(ExprContext &C, ExprRef F, ExprRef DF) {
  Facts Fs;
  solve(C, F, C.y(), Fs);
  if (Fs.empty())
    return xOnlyInConditions(DF) ? DF : nullptr;
  SimplifyOptions Opts;
  Opts.Distribute = true;
  Walker W{C, Fs};
  ExprRef R = simplify(C, W.walk(DF), Opts);
  return xOnlyInConditions(R) ? R : nullptr;
}

} // namespace netjit
