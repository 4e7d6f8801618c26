// Program.h - the training program (TrainGraph, fused or not) lowered to
// LLVM IR functions over the arena (docs/ir.md, "Training program").
#ifndef NETJIT_CODEGEN_PROGRAM_H
#define NETJIT_CODEGEN_PROGRAM_H

#include "netjit/Graph/TrainGraph.h"

#include "llvm/IR/Module.h"

namespace netjit {

/// The entry points (docs/ir.md, "Training program"). Most share one
/// signature:
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
///
/// Threads split a batch with three more (train_step is gradients_part on
/// the whole batch, then advance, then update_part on every parameter):
///   void PREFIX_gradients_part(float *arena, float *work, const float *x,
///        void *io, int64_t rows, double *stats, int64_t total, int64_t row0)
///     the gradients of rows [row0, row0 + rows) of a batch of total (x and
///     io point at row row0) into the workspace work (T.workFloats() floats;
///     arena + T.workOffset() is the arena's own);
///   void PREFIX_advance(float *arena)
///     the header's step count and beta powers, once per step;
///   void PREFIX_update_part(float *arena, float *const *extra, int64_t lo,
///        int64_t hi, double *stats)
///     the optimizer on parameter floats [lo, hi) of T.paramsSpan(), the
///     gradient being the arena's plus those of the threads - 1 workspaces
///     in extra (summed into the arena's).
enum class EntryPoint {
  GradientsPart,
  Gradients,
  TrainStep,
  Evaluate,
  Predict,
  Advance,
  UpdatePart
};
inline constexpr EntryPoint AllEntryPoints[] = {
    EntryPoint::GradientsPart, EntryPoint::Gradients, EntryPoint::TrainStep,
    EntryPoint::Evaluate,      EntryPoint::Predict,   EntryPoint::Advance,
    EntryPoint::UpdatePart};
llvm::StringRef entryPointName(EntryPoint E);

/// Emits every entry point; update_part sums Threads workspaces.
llvm::Error emitProgram(llvm::Module &M, const TrainGraph &T,
                        llvm::StringRef Prefix, unsigned Lanes,
                        unsigned Threads = 1);

} // namespace netjit

#endif
