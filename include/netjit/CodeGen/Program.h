// Program.h - the training program (TrainGraph, fused or not) lowered to
// LLVM IR functions over the arena (docs/ir.md, "Training program").
#ifndef NETJIT_CODEGEN_PROGRAM_H
#define NETJIT_CODEGEN_PROGRAM_H

#include "netjit/Graph/TrainGraph.h"

#include "llvm/IR/Module.h"

namespace netjit {

/// The entry points, all with one signature:
///   void PREFIX_NAME(float *arena, const float *x, void *io, int64_t batch,
///                    double *stats)
/// train_step  one optimizer step on batch rows of x; io holds the labels
///             (int32, sparse losses) or targets (floats); stats (a
///             StepStats) gets the batch's loss sum, correct count and
///             regularization penalty added;
/// gradients   the same without the update: the parameters' gradients are
///             left in the arena;
/// evaluate    the loss and accuracy only (no dropout);
/// predict     writes the outputs (softmax applied) to io as batch rows of
///             floats; stats may be NULL.
/// batch must be in [1, T.maxBatch()]; labels out of range give a NaN loss.
enum class EntryPoint { TrainStep, Gradients, Evaluate, Predict };
llvm::StringRef entryPointName(EntryPoint E);

llvm::Error emitProgram(llvm::Module &M, const TrainGraph &T,
                        llvm::StringRef Prefix, unsigned Lanes);

} // namespace netjit

#endif
