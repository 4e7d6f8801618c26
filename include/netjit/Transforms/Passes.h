// Passes.h - passes over the training program (Passes.def), by factory.
#ifndef NETJIT_TRANSFORMS_PASSES_H
#define NETJIT_TRANSFORMS_PASSES_H

#include "netjit/Graph/TrainGraph.h"

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

/// Runs every pass of Passes.def over the three programs of T.
void runPasses(TrainGraph &T);

} // namespace netjit

#endif
