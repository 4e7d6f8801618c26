// Evaluate.cpp - double-precision semantics of every op, stable where the
// naive formula over- or underflows (sigmoid, softplus).
#include "netjit/Expr/Evaluate.h"

#include "netjit/Support/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include <cmath>
#include <limits>

using namespace llvm;

namespace netjit {

template <typename T> static T sigmoidT(T X) {
  // Never forms exp of a large positive number.
  using std::exp;
  if (X >= 0)
    return 1 / (1 + exp(-X));
  T E = exp(X);
  return E / (1 + E);
}

template <typename T> static T softplusT(T X) {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): exact, no overflow.
  if (std::isnan(X))
    return X;
  return std::max(X, T(0)) + std::log1p(std::exp(-std::fabs(X)));
}

template <typename T> static T applyOpT(Op O, ArrayRef<T> A) {
  switch (O) {
  case Op::Const:
  case Op::Var:
  case Op::Param:
    break;
  case Op::Lt:
    return A[0] < A[1];
  case Op::Le:
    return A[0] <= A[1];
  case Op::Gt:
    return A[0] > A[1];
  case Op::Ge:
    return A[0] >= A[1];
  case Op::Add:
    return A[0] + A[1];
  case Op::Sub:
    return A[0] - A[1];
  case Op::Mul:
    return A[0] * A[1];
  case Op::Div:
    return A[0] / A[1];
  case Op::Neg:
    return -A[0];
  case Op::Pow:
    return std::pow(A[0], A[1]);
  case Op::Exp:
    return std::exp(A[0]);
  case Op::Expm1:
    return std::expm1(A[0]);
  case Op::Log:
    return std::log(A[0]);
  case Op::Log1p:
    return std::log1p(A[0]);
  case Op::Sqrt:
    return std::sqrt(A[0]);
  case Op::Abs:
    return std::fabs(A[0]);
  case Op::Sign:
    return std::isnan(A[0]) ? A[0] : A[0] > 0 ? 1 : A[0] < 0 ? -1 : 0;
  case Op::Tanh:
    return std::tanh(A[0]);
  case Op::Sigmoid:
    return sigmoidT(A[0]);
  case Op::Softplus:
    return softplusT(A[0]);
  case Op::Erf:
    return std::erf(A[0]);
  case Op::Erfc:
    return std::erfc(A[0]);
  case Op::Normcdf: // Phi(x) = erfc(-x / sqrt 2) / 2: no cancellation for x < 0
    return std::erfc(-A[0] / std::sqrt(T(2))) / 2;
  case Op::Normpdf:
    return std::exp(-A[0] * A[0] / 2) / std::sqrt(2 * T(M_PI));
  case Op::Sin:
    return std::sin(A[0]);
  case Op::Cos:
    return std::cos(A[0]);
  // NaN propagates; on ties the first operand wins (PyTorch's convention).
  case Op::Min:
    return std::isnan(A[0]) || std::isnan(A[1]) ? T(NAN)
           : A[0] <= A[1]                       ? A[0]
                                                : A[1];
  case Op::Max:
    return std::isnan(A[0]) || std::isnan(A[1]) ? T(NAN)
           : A[0] >= A[1]                       ? A[0]
                                                : A[1];
  case Op::Where:
    return A[0] != 0 ? A[1] : A[2];
  }
  return T(NAN);
}

double applyOp(Op O, ArrayRef<double> A) { return applyOpT<double>(O, A); }

Expected<Evaluator> Evaluator::create(ExprRef Root, const ParamValues &Params) {
  Evaluator Ev;
  DenseMap<ExprRef, unsigned> Slot;
  for (ExprRef E : postOrder(Root)) {
    double Leaf = 0;
    if (E->op() == Op::Const)
      Leaf = E->value();
    if (E->op() == Op::Param) {
      auto It = Params.find(E->name().str());
      if (It == Params.end())
        return plainError(ErrorKind::Formula,
                          "no value for parameter '" + E->name() + "'");
      Leaf = It->second;
    }
    std::vector<unsigned> A;
    for (ExprRef Op : E->operands())
      A.push_back(Slot[Op]);
    Slot[E] = Ev.Order.size();
    Ev.Order.push_back(E);
    Ev.Args.push_back(std::move(A));
    Ev.Leaves.push_back(Leaf);
  }
  Ev.Slots.resize(Ev.Order.size());
  return Ev;
}

template <typename T>
static T sweep(const std::vector<ExprRef> &Order,
               const std::vector<std::vector<unsigned>> &Args,
               const std::vector<double> &Leaves, std::vector<T> &Slots, T X,
               T Y, double *Cancelled = nullptr) {
  T Buf[3];
  for (size_t I = 0; I < Order.size(); ++I) {
    ExprRef E = Order[I];
    switch (E->op()) {
    case Op::Const:
    case Op::Param:
      Slots[I] = Leaves[I];
      continue;
    case Op::Var:
      Slots[I] = E->name() == "y" ? Y : X;
      continue;
    default:
      for (size_t K = 0; K < Args[I].size(); ++K)
        Buf[K] = Slots[Args[I][K]];
      Slots[I] = applyOpT<T>(E->op(), ArrayRef<T>(Buf, Args[I].size()));
      // A sum that kept fewer than 34 bits (float's 24 and 10 to spare).
      if (Cancelled && (E->op() == Op::Add || E->op() == Op::Sub)) {
        constexpr int Lost = std::numeric_limits<T>::digits - 34;
        T Big = std::max(std::fabs(Buf[0]), std::fabs(Buf[1]));
        if (Big != 0 && std::isfinite(Big) &&
            std::fabs(Slots[I]) < std::ldexp(Big, -Lost))
          *Cancelled = std::max(*Cancelled, static_cast<double>(Big));
      }
    }
  }
  return Slots.back();
}

double Evaluator::operator()(double X, double Y, double *Cancelled) const {
  return sweep<double>(Order, Args, Leaves, Slots, X, Y, Cancelled);
}

long double Evaluator::evalLong(long double X, long double Y,
                                double *Cancelled) const {
  LongSlots.resize(Order.size());
  return sweep<long double>(Order, Args, Leaves, LongSlots, X, Y, Cancelled);
}

Expected<double> evaluate(ExprRef E, double X, const ParamValues &Params,
                          double Y) {
  auto Ev = Evaluator::create(E, Params);
  if (!Ev)
    return Ev.takeError();
  return (*Ev)(X, Y);
}

} // namespace netjit
