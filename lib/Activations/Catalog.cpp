// Catalog.cpp - the activation table built from Catalog.def, and the
// parse -> differentiate -> simplify -> y-rewrite pipeline.
#include "netjit/Activations/Catalog.h"

#include "netjit/Expr/Differentiate.h"
#include "netjit/Expr/Parser.h"
#include "netjit/Expr/Simplify.h"

using namespace llvm;

namespace netjit {

static std::vector<ActivationInfo> buildCatalog() {
  std::vector<ActivationInfo> V;
#define NETJIT_ACTIVATION(N, F, S) V.push_back({#N, F, S, {}, false, {}});
#define NETJIT_PARAM(N, D, T) V.back().Params.push_back({#N, D, T});
#define NETJIT_ROWWISE(N, Step, F, S) V.push_back({#N, F, S, {}, true, {}});
#define NETJIT_ALIAS(A, T)                                                     \
  for (ActivationInfo & I : V)                                                 \
    if (I.Name == #T)                                                          \
      I.Aliases.push_back(#A);
#include "netjit/Activations/Catalog.def"
  return V;
}

ArrayRef<ActivationInfo> activationCatalog() {
  static const std::vector<ActivationInfo> Catalog = buildCatalog();
  return Catalog;
}

const ActivationInfo *findActivation(StringRef Name) {
  for (const ActivationInfo &I : activationCatalog()) {
    if (I.Name == Name)
      return &I;
    for (const std::string &A : I.Aliases)
      if (A == Name)
        return &I;
  }
  return nullptr;
}

std::vector<std::string> paramNames(const ActivationInfo &I) {
  std::vector<std::string> Names;
  for (const ActivationParam &P : I.Params)
    Names.push_back(P.Name);
  return Names;
}

ParamValues defaultParams(const ActivationInfo &I) {
  ParamValues V;
  for (const ActivationParam &P : I.Params)
    V[P.Name] = P.Default;
  return V;
}

std::vector<std::string> activationNames() {
  std::vector<std::string> Names;
  for (const ActivationInfo &I : activationCatalog()) {
    Names.push_back(I.Name);
    Names.insert(Names.end(), I.Aliases.begin(), I.Aliases.end());
  }
  return Names;
}

Expected<ActivationForms> deriveActivation(ExprContext &Ctx, StringRef Formula,
                                           ArrayRef<std::string> Params,
                                           StringRef File) {
  ParseOptions PO;
  PO.Params.assign(Params.begin(), Params.end());
  PO.File = File.str();
  auto Parsed = parseExpr(Ctx, Formula, PO);
  if (!Parsed)
    return Parsed.takeError();
  ActivationForms A;
  A.Ctx = &Ctx;
  A.Formula = *Parsed;
  A.Forward = simplify(Ctx, A.Formula);
  A.Params = paramsOf(A.Formula);
  auto D = differentiate(Ctx, A.Forward, "x");
  if (!D)
    return D.takeError();
  A.RawDerivative = *D;
  A.Derivative = simplify(Ctx, *D);
  A.DerivativeY = rewriteInOutput(Ctx, A.Forward, A.Derivative);
  // What every later walk (printer, y-rewrite, code generation) may see.
  if (Error E = checkLimits(A.Forward, "the simplified formula"))
    return E;
  if (Error E = checkLimits(A.Derivative, "the simplified derivative"))
    return E;
  if (A.DerivativeY)
    if (Error E = checkLimits(A.DerivativeY, "")) {
      consumeError(std::move(E));
      A.DerivativeY = nullptr; // too big in y: the form in x serves
    }
  for (const std::string &P : A.Params) {
    auto DP = differentiate(Ctx, A.Forward, P);
    if (!DP)
      return DP.takeError();
    A.ParamDerivatives[P] = simplify(Ctx, *DP);
    if (Error E = checkLimits(A.ParamDerivatives[P],
                              "the derivative in " + P))
      return E;
  }
  // And what code generation lowers: the float-stable rewrites grow each
  // call they replace by a few levels.
  std::vector<ExprRef> Lowered = {A.Forward, A.Derivative};
  for (auto &[P, D] : A.ParamDerivatives)
    Lowered.push_back(D);
  for (ExprRef F : Lowered)
    if (Error E = checkLimits(stabilizeForFloat(Ctx, F),
                              "the float-stable form of the formula"))
      return E;
  return A;
}

} // namespace netjit
