// Registries.cpp - what the spec's vocabularies (Layers.def, Losses.def,
// Optimizers.def, Initializers.def) say of each entry: names, the loss's
// from-logits rule, the optimizer's defaults and slots.
#include "netjit/Spec/Spec.h"

#include "netjit/Expr/Expr.h"

#include "llvm/ADT/STLExtras.h"

using namespace llvm;

namespace netjit {

namespace {

/// A loss's row of Losses.def.
struct LossRow {
  const char *Name;
  bool Sparse;
  const char *LogitsOf, *Also;
};

const LossRow &lossRow(LossKind K) {
  static const LossRow Rows[] = {
#define NETJIT_LOSS(Name, Sparse, LogitsOf, Also, Summary)                     \
  {#Name, Sparse, LogitsOf, Also},
#include "netjit/Spec/Losses.def"
  };
  return Rows[unsigned(K)];
}

} // namespace

StringRef lossName(LossKind K) { return lossRow(K).Name; }
bool lossTakesSparseLabels(LossKind K) { return lossRow(K).Sparse; }
StringRef lossLogitsOf(LossKind K) { return lossRow(K).LogitsOf; }
StringRef lossAlsoProbabilities(LossKind K) { return lossRow(K).Also; }

bool lossReadsLogits(const LossSpec &L, StringRef OutputActivation) {
  return L.FromLogits || (!lossLogitsOf(L.Kind).empty() &&
                          OutputActivation == lossLogitsOf(L.Kind));
}

StringRef optimizerName(OptimizerKind K) {
  switch (K) {
#define NETJIT_OPTIMIZER(Name, BetaPowers, Summary)                            \
  case OptimizerKind::Name:                                                    \
    return #Name;
#include "netjit/Spec/Optimizers.def"
  }
  return "?";
}

StringRef initName(InitKind K) {
  switch (K) {
#define NETJIT_INIT(Name, Summary)                                             \
  case InitKind::Name:                                                         \
    return #Name;
#include "netjit/Spec/Initializers.def"
  }
  return "?";
}

std::vector<std::pair<std::string, double>> optimizerDefaults(OptimizerKind K) {
  std::vector<std::pair<std::string, double>> Out;
  OptimizerKind Current = OptimizerKind::sgd;
#define NETJIT_OPTIMIZER(Name, BetaPowers, Summary) Current = OptimizerKind::Name;
#define NETJIT_HYPER(Name, Default)                                            \
  if (Current == K)                                                            \
    Out.push_back({#Name, Default});
#include "netjit/Spec/Optimizers.def"
  return Out;
}

bool optimizerUsesBetaPowers(OptimizerKind K) {
  switch (K) {
#define NETJIT_OPTIMIZER(Name, BetaPowers, Summary)                            \
  case OptimizerKind::Name:                                                    \
    return BetaPowers;
#include "netjit/Spec/Optimizers.def"
  }
  return false;
}

std::vector<OptimizerSlot> optimizerSlots(const OptimizerSpec &O) {
  std::vector<OptimizerSlot> Out;
  OptimizerKind Current = OptimizerKind::sgd;
#define NETJIT_OPTIMIZER(Name, BetaPowers, Summary) Current = OptimizerKind::Name;
#define NETJIT_SLOT(Name, WhenHyper, InitHyper)                                \
  if (Current == O.Kind &&                                                     \
      (StringRef(WhenHyper).empty() || O.get(WhenHyper) > 0))                  \
    Out.push_back(                                                             \
        {#Name, StringRef(InitHyper).empty() ? 0.0 : O.get(InitHyper)});
#include "netjit/Spec/Optimizers.def"
  return Out;
}

double OptimizerSpec::get(StringRef Name) const {
  auto It = Hyper.find(Name.str());
  return It == Hyper.end() ? 0.0 : It->second;
}

bool ActivationSpec::hasTrainableParams() const {
  return any_of(Params, [](auto &P) { return P.second.Trainable; });
}

std::string ActivationSpec::describe() const {
  std::string S = Name.empty() ? Formula : Name;
  if (Params.empty())
    return S;
  S += "(";
  bool First = true;
  for (auto &[N, P] : Params) {
    S += (First ? "" : ", ") + N + "=" + formatNumber(P.Value);
    if (P.Trainable)
      S += PerUnit ? " trainable per unit" : " trainable";
    First = false;
  }
  return S + ")";
}

} // namespace netjit
