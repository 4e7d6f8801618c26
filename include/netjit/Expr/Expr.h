// Expr.h - immutable, hash-consed expression nodes owned by an ExprContext.
//
// Structurally equal expressions are the same node, so pointer equality is
// structural equality and common subexpressions are shared for free.
#ifndef NETJIT_EXPR_EXPR_H
#define NETJIT_EXPR_EXPR_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace netjit {

enum class Op : uint8_t {
#define NETJIT_OP(Name, Arity, Spelling, Syntax, Prec) Name,
#include "netjit/Expr/Ops.def"
};

enum class Syntax : uint8_t { Leaf, Prefix, Infix, Call };

struct OpInfo {
  const char *Name; // enumerator name, e.g. "Sigmoid"
  unsigned Arity;
  const char *Spelling; // "sigmoid", "+", "" for leaves
  Syntax Syn;
  unsigned Prec;
};

const OpInfo &opInfo(Op O);
/// All ops in registry order.
llvm::ArrayRef<Op> allOps();
/// Functions callable by name in formulas (Call syntax), plus "pow".
std::vector<std::string> functionNames();
bool isComparison(Op O);

/// Limits that keep every recursive algorithm far from the stack's end.
constexpr unsigned MaxNesting = 256; // parentheses, calls, unary ops
constexpr unsigned MaxDepth = 2048;  // tree depth, long + chains included
constexpr size_t MaxNodes = 100000;  // distinct nodes of one expression

class Expr;
using ExprRef = const Expr *;

class Expr {
public:
  Op op() const { return TheOp; }
  /// The value of a Const node.
  double value() const { return Value; }
  /// The name of a Var or Param node.
  llvm::StringRef name() const { return Name; }
  llvm::ArrayRef<ExprRef> operands() const { return Operands; }
  ExprRef operand(unsigned I) const { return Operands[I]; }
  unsigned numOperands() const { return Operands.size(); }

  bool isConst() const { return TheOp == Op::Const; }
  bool isConst(double V) const { return TheOp == Op::Const && Value == V; }
  bool isVar(llvm::StringRef N) const { return TheOp == Op::Var && Name == N; }

  /// Depends on the input x / the forward output y / any parameter.
  bool hasX() const { return Flags & HasX; }
  bool hasY() const { return Flags & HasY; }
  bool hasParams() const { return Flags & HasParam; }
  /// Neither x nor y: a function of constants and parameters only.
  bool isInputFree() const { return !(Flags & (HasX | HasY)); }

  unsigned depth() const { return Depth; }
  size_t hash() const { return Hash; }

private:
  friend class ExprContext;
  enum : uint8_t { HasX = 1, HasY = 2, HasParam = 4 };
  Expr() = default;
  Op TheOp = Op::Const;
  uint8_t Flags = 0;
  unsigned Depth = 1;
  double Value = 0;
  std::string Name;
  std::vector<ExprRef> Operands;
  size_t Hash = 0;
};

/// Owns and uniques expression nodes. Not thread-safe; nodes live as long as
/// their context.
class ExprContext {
public:
  ExprContext();
  ~ExprContext();
  ExprContext(const ExprContext &) = delete;
  ExprContext &operator=(const ExprContext &) = delete;

  ExprRef constant(double V);
  ExprRef x() { return var("x"); }
  ExprRef y() { return var("y"); }
  ExprRef var(llvm::StringRef Name);
  ExprRef param(llvm::StringRef Name);
  /// The node Op(Operands...). The only folding done here is -(constant) ->
  /// constant, so that "-2" parses and prints as one literal.
  ExprRef make(Op O, llvm::ArrayRef<ExprRef> Operands);

  ExprRef add(ExprRef A, ExprRef B) { return make(Op::Add, {A, B}); }
  ExprRef sub(ExprRef A, ExprRef B) { return make(Op::Sub, {A, B}); }
  ExprRef mul(ExprRef A, ExprRef B) { return make(Op::Mul, {A, B}); }
  ExprRef div(ExprRef A, ExprRef B) { return make(Op::Div, {A, B}); }
  ExprRef pow(ExprRef A, ExprRef B) { return make(Op::Pow, {A, B}); }
  ExprRef neg(ExprRef A) { return make(Op::Neg, {A}); }
  ExprRef call(Op O, ExprRef A) { return make(O, {A}); }
  ExprRef where(ExprRef C, ExprRef A, ExprRef B) {
    return make(Op::Where, {C, A, B});
  }

  /// Number of distinct nodes ever made in this context.
  size_t size() const;

private:
  struct Impl;
  std::unique_ptr<Impl> P;
  ExprRef makeNamed(Op O, llvm::StringRef Name, uint8_t Flags);
};

/// The distinct nodes reachable from Root, operands before their users
/// (Root last), without recursion. Descend(E) = false treats E as a leaf.
std::vector<ExprRef> postOrder(
    ExprRef Root,
    llvm::function_ref<bool(ExprRef)> Descend = [](ExprRef) { return true; });
/// Distinct nodes reachable from E.
size_t countNodes(ExprRef E);
/// Parameter names used by E, sorted.
std::vector<std::string> paramsOf(ExprRef E);
/// A total order on expressions that depends only on structure, never on
/// creation order: used to sort operands deterministically.
int compareStructure(ExprRef A, ExprRef B);

/// Deterministic infix text that parseExpr() reads back to the same node.
std::string print(ExprRef E);
/// Shortest decimal text that reads back to exactly V ("pi" and "e" by name).
std::string formatNumber(double V);

/// An error if E breaks MaxDepth or MaxNodes (What names the expression).
llvm::Error checkLimits(ExprRef E, llvm::StringRef What);

} // namespace netjit

#endif
