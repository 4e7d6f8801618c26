// Catalog.h - the built-in activations (Catalog.def) and the pipeline that
// turns any activation formula into its forward and derivative forms.
#ifndef NETJIT_ACTIVATIONS_CATALOG_H
#define NETJIT_ACTIVATIONS_CATALOG_H

#include "netjit/Expr/Evaluate.h"
#include "netjit/Expr/Expr.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include <map>
#include <string>
#include <vector>

namespace netjit {

struct ActivationParam {
  std::string Name;
  double Default;
  bool Trainable;
};

struct ActivationInfo {
  std::string Name;
  std::string Formula; // for row-wise entries: a definition, not parsed
  std::string Summary;
  std::vector<ActivationParam> Params;
  bool RowWise = false;
  std::vector<std::string> Aliases;
};

/// Every catalogue entry in Catalog.def order (aliases folded into entries).
llvm::ArrayRef<ActivationInfo> activationCatalog();
/// The entry called Name (or an alias of it), or nullptr.
const ActivationInfo *findActivation(llvm::StringRef Name);
/// An entry's parameter names, in declaration order.
std::vector<std::string> paramNames(const ActivationInfo &I);
/// An entry's parameters at their defaults.
ParamValues defaultParams(const ActivationInfo &I);

/// Every name and alias, for suggestions.
std::vector<std::string> activationNames();

/// An activation compiled to expressions: what every later stage consumes.
/// |f'| below this counts as saturated: the gradient through the unit is
/// cut a hundredfold (plots shade it, training diagnostics count it).
inline constexpr double SaturationThreshold = 0.01;

struct ActivationForms {
  ExprRef Formula;       // as written
  ExprRef Forward;       // simplified (numerically stable) f(x)
  ExprRef RawDerivative; // chain-rule output, df/dx
  ExprRef Derivative;    // simplified df/dx in terms of x
  ExprRef DerivativeY;   // exact form in terms of y = f(x), or nullptr
  /// Simplified df/dp for every parameter p, by name.
  std::map<std::string, ExprRef> ParamDerivatives;
  std::vector<std::string> Params;
  /// The context that owns these expressions.
  ExprContext *Ctx = nullptr;
  /// Whether the form in y still tests x (elu's x > 0): a backward pass
  /// that uses it then reads x as well as y.
  bool yFormReadsX() const { return DerivativeY && DerivativeY->hasX(); }
};

/// Parses Formula (parameters named by Params), differentiates it with
/// respect to x and every parameter, and simplifies. File names the source in
/// errors ("" for the command line).
llvm::Expected<ActivationForms>
deriveActivation(ExprContext &Ctx, llvm::StringRef Formula,
                 llvm::ArrayRef<std::string> Params, llvm::StringRef File = "");

} // namespace netjit

#endif
