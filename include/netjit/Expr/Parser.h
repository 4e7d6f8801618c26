// Parser.h - infix formulas ("x * tanh(softplus(x))") to expressions.
#ifndef NETJIT_EXPR_PARSER_H
#define NETJIT_EXPR_PARSER_H

#include "netjit/Expr/Expr.h"

#include "llvm/Support/Error.h"
#include <string>
#include <vector>

namespace netjit {

struct ParseOptions {
  /// Names that parse as parameters; any other free name is an error.
  std::vector<std::string> Params;
  /// Whether `y` (the forward output) may appear: only in derivative forms.
  bool AllowOutput = false;
  /// Named in error messages ("" for text from the command line).
  std::string File;
};

/// Grammar, loosest binding first:
///   cmp   := sum [('<' | '<=' | '>' | '>=') sum]
///   sum   := term (('+' | '-') term)*
///   term  := unary (('*' | '/') unary)*
///   unary := ('-' | '+') unary | power
///   power := primary [('^' | '**') unary]          (right-associative)
///   primary := number | name | name '(' cmp (',' cmp)* ')' | '(' cmp ')'
/// Names: x, y (see AllowOutput), pi, e, inf, nan, the parameters, and the
/// functions of Ops.def plus pow(a, b). Errors are located at line:column.
llvm::Expected<ExprRef> parseExpr(ExprContext &Ctx, llvm::StringRef Text,
                                  const ParseOptions &Opts = {});

} // namespace netjit

#endif
