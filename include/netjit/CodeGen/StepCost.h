//===- StepCost.h - A loop step's dependency chain and size -----*- C++ -*-===//
//
// How long one step of a kernel's loop waits on its longest dependency
// chain, next to how many instructions it issues: a step whose chain is
// long for its size is bound by latency, and more independent vectors per
// step hide it (docs/ir.md, "Kernels").
//
//===----------------------------------------------------------------------===//

#ifndef NETJIT_CODEGEN_STEPCOST_H
#define NETJIT_CODEGEN_STEPCOST_H

namespace llvm {
class Function;
} // namespace llvm

namespace netjit {

struct StepCost {
  /// Cycles along the longest chain from F's arguments to any instruction.
  double Latency = 0;
  /// Machine instructions: one per 512 bits of each result.
  double Instructions = 0;
  /// Cycles of chain per instruction.
  double chainPerInstruction() const {
    return Instructions > 0 ? Latency / Instructions : 0;
  }
};

/// The cost of F's body as O3 would leave it: calls to defined functions
/// walked as if inlined, equal operations on equal operands counted once;
/// latencies from a table of AVX-512 figures (StepCost.cpp).
StepCost estimateStepCost(const llvm::Function &F);

} // namespace netjit

#endif
