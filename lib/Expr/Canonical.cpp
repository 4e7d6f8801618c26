// Canonical.cpp - flattening and rebuilding of sums and products.
#include "netjit/Expr/Canonical.h"

#include "llvm/ADT/DenseMap.h"

#include <algorithm>
#include <cmath>

namespace netjit {

static bool isInteger(double V) {
  return std::isfinite(V) && V == std::floor(V);
}

void ProductForm::addFactor(ExprRef Base, double Exp) {
  auto [It, New] = Position.try_emplace(Base, Factors.size());
  if (New)
    Factors.push_back({Base, Exp});
  else
    Factors[It->second].second += Exp;
}

bool ProductForm::flatten(ExprRef E, double Exp) {
  switch (E->op()) {
  case Op::Const: {
    double V = std::pow(E->value(), std::fabs(Exp));
    if (!std::isfinite(V) || (Exp < 0 && V == 0))
      return false;
    (Exp > 0 ? NumC : DenC) *= V;
    return true;
  }
  case Op::Neg:
    if (!isInteger(Exp))
      break;
    if (std::fmod(std::fabs(Exp), 2) == 1)
      NumC = -NumC;
    return flatten(E->operand(0), Exp);
  case Op::Mul:
    return flatten(E->operand(0), Exp) && flatten(E->operand(1), Exp);
  case Op::Div:
    return flatten(E->operand(0), Exp) && flatten(E->operand(1), -Exp);
  case Op::Pow: {
    ExprRef P = E->operand(1);
    // A NaN or infinite exponent (or one that overflows when multiplied
    // out) stays inside its power: such factors never compare equal, and
    // rebuilding them would not reach a fixed point (found by fuzzing:
    // x^nan recursed until the stack ran out).
    if (!P->isConst() || !std::isfinite(P->value()) ||
        !std::isfinite(Exp * P->value()))
      break;
    // (a b)^k = a^k b^k only for integer k; x^0.5 stays an atom with base x.
    if (isInteger(P->value()))
      return flatten(E->operand(0), Exp * P->value());
    ExprRef B = E->operand(0);
    if (B->op() == Op::Mul || B->op() == Op::Div || B->op() == Op::Neg ||
        B->isConst())
      break;
    addFactor(B, Exp * P->value());
    return true;
  }
  default:
    break;
  }
  addFactor(E, Exp);
  return true;
}

// Parameters, then variables, then calls, then powers and compound factors.
static unsigned factorRank(ExprRef E) {
  switch (E->op()) {
  case Op::Param:
    return 0;
  case Op::Var:
    return 1;
  default:
    return opInfo(E->op()).Syn == Syntax::Call ? 2 : 3;
  }
}

static ExprRef chain(ExprContext &C, ExprRef Acc, ExprRef F) {
  return Acc ? C.mul(Acc, F) : F;
}

ExprRef ProductForm::build(ExprContext &C) const {
  double N = NumC, D = DenC;
  if (N == 0)
    return C.constant(0);
  if (D < 0) {
    N = -N;
    D = -D;
  }
  double Coef = N / D;
  bool KeepDen = false;
  if (!std::isfinite(Coef) || std::fma(Coef, D, -N) != 0) {
    Coef = N;
    KeepDen = true;
  }
  std::vector<std::pair<ExprRef, double>> Fs;
  for (auto &F : Factors)
    if (F.second != 0)
      Fs.push_back(F);
  std::stable_sort(Fs.begin(), Fs.end(), [](auto &A, auto &B) {
    unsigned RA = factorRank(A.first), RB = factorRank(B.first);
    if (RA != RB)
      return RA < RB;
    return compareStructure(A.first, B.first) < 0;
  });
  ExprRef Num = nullptr, Den = nullptr;
  if (KeepDen)
    Den = C.constant(D);
  if (Coef != 1 && Coef != -1)
    Num = C.constant(Coef);
  for (auto &[B, E] : Fs) {
    double A = std::fabs(E);
    ExprRef T = A == 1 ? B : C.pow(B, C.constant(A));
    if (E > 0)
      Num = chain(C, Num, T);
    else
      Den = chain(C, Den, T);
  }
  if (!Num)
    Num = C.constant(Coef);
  else if (Coef == -1)
    Num = C.neg(Num);
  return Den ? C.div(Num, Den) : Num;
}

std::pair<double, ExprRef> splitCoefficient(ExprContext &C, ExprRef E) {
  switch (E->op()) {
  case Op::Const:
    return {E->value(), nullptr};
  case Op::Mul:
  case Op::Div:
  case Op::Neg:
  case Op::Pow: {
    ProductForm P;
    if (!P.flatten(E))
      break;
    double Coef = P.coefficient();
    P.NumC = P.DenC = 1;
    return {Coef, P.build(C)};
  }
  default:
    break;
  }
  return {1, E};
}

ExprRef negateProduct(ExprContext &C, ExprRef E) {
  ProductForm P;
  if (!P.flatten(E))
    return C.neg(E);
  P.NumC = -P.NumC;
  return P.build(C);
}

namespace {
struct Term {
  double Coef;  // this occurrence's signed coefficient
  ExprRef Rest; // the term without its coefficient
  ExprRef Node; // the original node (the value is Sign * Node)
  double Sign;
};

void flattenSum(ExprContext &C, ExprRef E, double Sign, std::vector<Term> &Ts,
                double &Constant) {
  switch (E->op()) {
  case Op::Add:
    flattenSum(C, E->operand(0), Sign, Ts, Constant);
    flattenSum(C, E->operand(1), Sign, Ts, Constant);
    return;
  case Op::Sub:
    flattenSum(C, E->operand(0), Sign, Ts, Constant);
    flattenSum(C, E->operand(1), -Sign, Ts, Constant);
    return;
  case Op::Neg:
    if (E->operand(0)->op() == Op::Add || E->operand(0)->op() == Op::Sub) {
      flattenSum(C, E->operand(0), -Sign, Ts, Constant);
      return;
    }
    break;
  case Op::Const:
    Constant += Sign * E->value();
    return;
  default:
    break;
  }
  auto [Coef, Rest] = splitCoefficient(C, E);
  Ts.push_back({Sign * Coef, Rest, E, Sign});
}
} // namespace

ExprRef buildCanonicalSum(ExprContext &C, ExprRef N) {
  std::vector<Term> Ts;
  double Constant = 0;
  flattenSum(C, N, 1, Ts, Constant);
  if (!std::isfinite(Constant))
    return nullptr;

  // Group like terms by Rest, keeping first-occurrence order.
  struct Group {
    ExprRef Rest;
    double Coef = 0;
    std::vector<const Term *> Members;
  };
  std::vector<Group> Groups;
  // Hash-consed: equal terms are the same node. A map, not a search: a sum
  // of n terms is n nested Adds, each simplified, and a linear search made
  // a 2000-term sum take ten seconds.
  llvm::DenseMap<ExprRef, size_t> GroupOf;
  for (const Term &T : Ts) {
    auto [It, New] = GroupOf.try_emplace(T.Rest, Groups.size());
    if (New)
      Groups.push_back({T.Rest, 0, {}});
    Group &G = Groups[It->second];
    G.Coef += T.Coef;
    G.Members.push_back(&T);
  }

  // Each surviving term as (positive?, magnitude node). A lone term keeps its
  // node (x / 3 stays x / 3); merged terms are rebuilt from the sum.
  struct Out {
    bool Positive;
    ExprRef Mag;
    ExprRef Rest;
  };
  std::vector<Out> Outs;
  for (const Group &G : Groups) {
    if (G.Coef == 0)
      continue;
    ExprRef Mag;
    if (G.Members.size() == 1) {
      const Term &T = *G.Members[0];
      bool NodePositive = T.Coef * T.Sign > 0; // the node's own coefficient
      Mag = NodePositive ? T.Node : negateProduct(C, T.Node);
    } else {
      ProductForm P;
      P.NumC = std::fabs(G.Coef);
      P.flatten(G.Rest);
      Mag = P.build(C);
    }
    Outs.push_back({G.Coef > 0, Mag, G.Rest});
  }
  std::stable_sort(Outs.begin(), Outs.end(), [](const Out &A, const Out &B) {
    return compareStructure(A.Rest, B.Rest) < 0;
  });
  if (Constant != 0)
    Outs.insert(Outs.begin(),
                {Constant > 0, C.constant(std::fabs(Constant)), nullptr});
  if (Outs.empty())
    return C.constant(0);

  // Lead with the first positive term: 1 - y^2, x - 1; all negative: -a - b.
  auto First = std::find_if(Outs.begin(), Outs.end(),
                            [](const Out &O) { return O.Positive; });
  ExprRef Acc;
  if (First == Outs.end()) {
    First = Outs.begin();
    Acc = negateProduct(C, First->Mag);
  } else {
    Acc = First->Mag;
  }
  for (auto It = Outs.begin(); It != Outs.end(); ++It)
    if (It != First)
      Acc = It->Positive ? C.add(Acc, It->Mag) : C.sub(Acc, It->Mag);
  return Acc;
}

} // namespace netjit
