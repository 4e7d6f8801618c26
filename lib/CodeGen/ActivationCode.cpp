// ActivationCode.cpp - which of an activation's forms each lowering uses
// (the y form where it is stable, fewer calls in the fused form), and the
// plan of float and double arithmetic they share (ActivationCode.h).
#include "netjit/CodeGen/ActivationCode.h"

#include "netjit/CodeGen/ExprLowering.h"
#include "netjit/Expr/Simplify.h"
#include "netjit/Support/Diagnostics.h"

using namespace llvm;

namespace netjit {

namespace {

/// The error budgets of an activation's kernels, in ULPs (docs/accuracy.md).
constexpr double ForwardBudget = 3, DerivativeBudget = 4;

/// The function calls in E that F does not already make.
unsigned newCalls(ExprRef E, ExprRef F) {
  DenseSet<ExprRef> InF;
  for (ExprRef N : postOrder(F))
    InF.insert(N);
  unsigned Count = 0;
  for (ExprRef N : postOrder(E))
    Count += VectorMath::provides(N->op()) && !InF.count(N);
  return Count;
}

} // namespace

/// Collects the Param and Var leaves of the forms so they can be bound.
static void leavesOf(ExprRef E, std::vector<ExprRef> &Out) {
  for (ExprRef N : postOrder(E))
    if (N->op() == Op::Param || N->op() == Op::Var)
      if (!llvm::is_contained(Out, N))
        Out.push_back(N);
}

ActivationCode::ActivationCode(const ActivationForms &A) : A(A) {
  // The y form saves recomputing f's transcendentals, but only where it is
  // as accurate as the x form (isStableInOutput).
  DY = A.DerivativeY && isStableInOutput(A.DerivativeY) ? A.DerivativeY
                                                        : nullptr;
  Fwd = stabilizeForFloat(*A.Ctx, A.Forward);
  DX = stabilizeForFloat(*A.Ctx, A.Derivative);
  // The fused form has f's values at hand: it takes the y form only if that
  // calls fewer functions f does not already call (elu's y + alpha against
  // exp(x)); softplus' sigmoid(x) shares exp(-|x|) with softplus, where
  // -expm1(-y) would need a second exp.
  DFused = DY && newCalls(DY, Fwd) < newCalls(DX, Fwd) ? DY : DX;
  // Every lowering plans float and double arithmetic over all forms, so
  // that they compute y alike, bit for bit.
  Roots = {Fwd, DX};
  Budgets = {ForwardBudget, DerivativeBudget};
  if (DY) {
    Roots.push_back(DY);
    Budgets.push_back(DerivativeBudget);
  }
}

ActivationCode::~ActivationCode() = default;

bool ActivationCode::forwardCallsVectorMath() const {
  return llvm::any_of(postOrder(Fwd),
                      [](ExprRef N) { return VectorMath::provides(N->op()); });
}

std::unique_ptr<ExprLowering>
ActivationCode::lowering(IRBuilder<> &B, VectorMath &VM, unsigned L, Value *X,
                         Value *Y, const ParamLanes &P, ExprRef Extra) const {
  auto Low = std::make_unique<ExprLowering>(B, VM, L);
  SmallVector<ExprRef, 4> R(Roots.begin(), Roots.end());
  SmallVector<double, 4> Bu(Budgets.begin(), Budgets.end());
  if (Extra) {
    R.push_back(Extra);
    Bu.push_back(DerivativeBudget);
  }
  std::vector<ExprRef> Leaves;
  for (ExprRef E : R)
    leavesOf(E, Leaves);
  for (ExprRef Leaf : Leaves) {
    if (Leaf->op() == Op::Param) {
      auto It = P.find(Leaf->name().str());
      if (It != P.end())
        Low->bind(Leaf, It->second);
    }
  }
  Low->plan(R, Bu);
  for (ExprRef Leaf : Leaves) {
    if (X && Leaf->isVar("x"))
      Low->bind(Leaf, X);
    if (Y && Leaf->isVar("y"))
      Low->bind(Leaf, Y);
  }
  return Low;
}

Expected<Value *> ActivationCode::forward(IRBuilder<> &B, VectorMath &VM,
                                          unsigned L, Value *X,
                                          const ParamLanes &P) const {
  return lowering(B, VM, L, X, nullptr, P)->lower(Fwd);
}

Expected<std::pair<Value *, Value *>>
ActivationCode::fused(IRBuilder<> &B, VectorMath &VM, unsigned L, Value *X,
                      const ParamLanes &P) const {
  auto Low = lowering(B, VM, L, X, nullptr, P);
  auto Y = Low->lower(Fwd);
  if (!Y)
    return Y.takeError();
  if (DFused == DY) {
    for (ExprRef N : postOrder(DY))
      if (N->isVar("y"))
        Low->bind(N, *Y);
  }
  auto D = Low->lower(DFused);
  if (!D)
    return D.takeError();
  return std::make_pair(*Y, *D);
}

Expected<Value *> ActivationCode::derivative(IRBuilder<> &B, VectorMath &VM,
                                             unsigned L, Value *X, Value *Y,
                                             const ParamLanes &P) const {
  return lowering(B, VM, L, X, DY ? Y : nullptr, P)->lower(DY ? DY : DX);
}

Expected<Value *> ActivationCode::paramDerivative(IRBuilder<> &B,
                                                  VectorMath &VM, unsigned L,
                                                  StringRef Param, Value *X,
                                                  const ParamLanes &P) const {
  auto It = A.ParamDerivatives.find(Param.str());
  if (It == A.ParamDerivatives.end())
    return plainError(ErrorKind::Compile,
                      "no derivative for parameter '" + Param + "'");
  ExprRef D = stabilizeForFloat(*A.Ctx, It->second);
  return lowering(B, VM, L, X, nullptr, P, D)->lower(D);
}

} // namespace netjit
