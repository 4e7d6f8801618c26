// Passes.h - passes over the training program (Passes.def), by factory.
#ifndef NETJIT_TRANSFORMS_PASSES_H
#define NETJIT_TRANSFORMS_PASSES_H

#include "netjit/Graph/TrainGraph.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <map>
#include <memory>

namespace netjit {

class Pass {
public:
  virtual ~Pass() = default;
  virtual llvm::StringRef name() const = 0;
  /// Rewrites one program (train, evaluate or predict) of T in place (and
  /// may change how T holds its tensors).
  virtual void run(TrainGraph &T, std::vector<Step> &Program) = 0;
};

#define NETJIT_PASS(Name, Factory, Summary) std::unique_ptr<Pass> Factory();
#include "netjit/Transforms/Passes.def"

/// How many times the steps of T's three programs, epilogues included,
/// name each tensor (reads and writes): a fold that removes a value checks
/// that nothing else names it.
std::map<int, int> tensorRefs(const TrainGraph &T);

/// Calls Fold(S, Next, At) for each step S of Program (or of a step's
/// epilogue) of kind K: Next is the list S is in, S's own epilogue when it
/// leads its loop, and Next[At...] are the steps after it in its loop over
/// the samples.
void forEachWithFollowers(
    std::vector<Step> &Program, llvm::function_ref<bool(StepKind)> IsKind,
    llvm::function_ref<void(Step &S, std::vector<Step> &Next, size_t At)> Fold);

/// Runs every pass of Passes.def over the three programs of T.
void runPasses(TrainGraph &T);

} // namespace netjit

#endif
