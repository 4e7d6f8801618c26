// Expr.cpp - the op registry tables, node uniquing and structural utilities.
#include "netjit/Expr/Expr.h"

#include "netjit/Support/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/Hashing.h"
#include <cmath>
#include <cstring>
#include <deque>
#include <unordered_map>

using namespace llvm;

namespace netjit {

static const OpInfo OpTable[] = {
#define NETJIT_OP(Name, Arity, Spelling, Syn, Prec)                            \
  {#Name, Arity, Spelling, Syntax::Syn, Prec},
#include "netjit/Expr/Ops.def"
};

static const Op AllOps[] = {
#define NETJIT_OP(Name, Arity, Spelling, Syn, Prec) Op::Name,
#include "netjit/Expr/Ops.def"
};

const OpInfo &opInfo(Op O) { return OpTable[static_cast<unsigned>(O)]; }
ArrayRef<Op> allOps() { return AllOps; }

std::vector<std::string> functionNames() {
  std::vector<std::string> Names;
  for (Op O : AllOps)
    if (opInfo(O).Syn == Syntax::Call)
      Names.push_back(opInfo(O).Spelling);
  Names.push_back("pow");
  return Names;
}

bool isComparison(Op O) {
  return O == Op::Lt || O == Op::Le || O == Op::Gt || O == Op::Ge;
}

static uint64_t bitsOf(double V) {
  if (std::isnan(V))
    V = std::numeric_limits<double>::quiet_NaN(); // one NaN, whatever payload
  uint64_t B;
  std::memcpy(&B, &V, sizeof B);
  return B;
}

namespace {
struct Key {
  Op O;
  uint64_t Bits;
  std::string Name;
  std::vector<ExprRef> Ops;
  bool operator==(const Key &K) const {
    return O == K.O && Bits == K.Bits && Name == K.Name && Ops == K.Ops;
  }
};
struct KeyHash {
  size_t operator()(const Key &K) const {
    return hash_combine(static_cast<unsigned>(K.O), K.Bits, K.Name,
                        hash_combine_range(K.Ops.begin(), K.Ops.end()));
  }
};
} // namespace

struct ExprContext::Impl {
  std::deque<Expr> Nodes;
  std::unordered_map<Key, Expr *, KeyHash> Unique;
};

ExprContext::ExprContext() : P(std::make_unique<Impl>()) {}
ExprContext::~ExprContext() = default;
size_t ExprContext::size() const { return P->Nodes.size(); }

ExprRef ExprContext::constant(double V) {
  if (std::isnan(V))
    V = std::numeric_limits<double>::quiet_NaN();
  Key K{Op::Const, bitsOf(V), "", {}};
  auto It = P->Unique.find(K);
  if (It != P->Unique.end())
    return It->second;
  Expr &E = P->Nodes.emplace_back(Expr());
  E.TheOp = Op::Const;
  E.Value = V;
  E.Hash = KeyHash()(K);
  P->Unique.emplace(std::move(K), &E);
  return &E;
}

ExprRef ExprContext::makeNamed(Op O, StringRef Name, uint8_t Flags) {
  Impl &P = *this->P;
  Key K{O, 0, Name.str(), {}};
  auto It = P.Unique.find(K);
  if (It != P.Unique.end())
    return It->second;
  Expr &E = P.Nodes.emplace_back(Expr());
  E.TheOp = O;
  E.Name = Name.str();
  E.Flags = Flags;
  E.Hash = KeyHash()(K);
  P.Unique.emplace(std::move(K), &E);
  return &E;
}

ExprRef ExprContext::var(StringRef Name) {
  return makeNamed(Op::Var, Name, Name == "y" ? Expr::HasY : Expr::HasX);
}

ExprRef ExprContext::param(StringRef Name) {
  return makeNamed(Op::Param, Name, Expr::HasParam);
}

ExprRef ExprContext::make(Op O, ArrayRef<ExprRef> Operands) {
  assert(Operands.size() == opInfo(O).Arity && "wrong operand count");
  assert(opInfo(O).Arity > 0 && "leaves are made by constant/var/param");
  if (O == Op::Neg && Operands[0]->isConst())
    return constant(-Operands[0]->value());
  Key K{O, 0, "", std::vector<ExprRef>(Operands.begin(), Operands.end())};
  auto It = P->Unique.find(K);
  if (It != P->Unique.end())
    return It->second;
  Expr &E = P->Nodes.emplace_back(Expr());
  E.TheOp = O;
  E.Operands = K.Ops;
  unsigned D = 0;
  for (ExprRef Op : Operands) {
    E.Flags |= Op->Flags;
    D = std::max(D, Op->Depth);
  }
  E.Depth = D + 1;
  E.Hash = KeyHash()(K);
  P->Unique.emplace(std::move(K), &E);
  return &E;
}

std::vector<ExprRef> postOrder(ExprRef Root,
                               function_ref<bool(ExprRef)> Descend) {
  std::vector<ExprRef> Order;
  DenseSet<ExprRef> Done;
  std::vector<std::pair<ExprRef, bool>> Stack{{Root, false}};
  while (!Stack.empty()) {
    auto [E, Expanded] = Stack.back();
    Stack.pop_back();
    if (Done.count(E))
      continue;
    if (!Expanded && E->numOperands() > 0 && Descend(E)) {
      Stack.push_back({E, true});
      for (ExprRef Op : E->operands())
        if (!Done.count(Op))
          Stack.push_back({Op, false});
      continue;
    }
    Done.insert(E);
    Order.push_back(E);
  }
  return Order;
}

size_t countNodes(ExprRef E) { return postOrder(E).size(); }

std::vector<std::string> paramsOf(ExprRef E) {
  std::vector<std::string> Names;
  for (ExprRef N : postOrder(E))
    if (N->op() == Op::Param)
      Names.push_back(N->name().str());
  std::sort(Names.begin(), Names.end());
  return Names;
}

int compareStructure(ExprRef A, ExprRef B) {
  while (A != B) {
    if (A->op() != B->op())
      return A->op() < B->op() ? -1 : 1;
    switch (A->op()) {
    case Op::Const:
      if (A->value() != B->value())
        return A->value() < B->value() ? -1 : 1;
      return bitsOf(A->value()) < bitsOf(B->value()) ? -1 : 1;
    case Op::Var:
    case Op::Param:
      return A->name().compare(B->name());
    default:
      break;
    }
    // Same op: the first differing operand decides. Equal operands are the
    // same node, so only one path is followed and this is O(depth).
    unsigned I = 0;
    while (A->operand(I) == B->operand(I))
      ++I;
    A = A->operand(I);
    B = B->operand(I);
  }
  return 0;
}

Error checkLimits(ExprRef E, StringRef What) {
  if (E->depth() > MaxDepth)
    return plainError(ErrorKind::Formula,
                      What + " is too deep: " + Twine(E->depth()) +
                          " levels, the limit is " + Twine(MaxDepth));
  size_t N = countNodes(E);
  if (N > MaxNodes)
    return plainError(ErrorKind::Formula, What + " is too large: " + Twine(N) +
                                              " distinct nodes, the limit is " +
                                              Twine(MaxNodes));
  return Error::success();
}

} // namespace netjit
