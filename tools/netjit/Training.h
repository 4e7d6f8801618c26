// Training.h - what `netjit train` and `netjit compare` share: the spec
// with the command line's overrides, one run with its progress, checkpoints
// and interrupt, the decision-boundary panels, and the metrics they report.
#ifndef NETJIT_TOOLS_TRAINING_H
#define NETJIT_TOOLS_TRAINING_H

#include "Commands.h"

#include "netjit/Data/Dataset.h"
#include "netjit/Runtime/Trainer.h"

#include <nlohmann/json.hpp>

namespace netjit {

/// Runs by name, in the order they ran.
using RunList = llvm::ArrayRef<std::pair<std::string, TrainResult>>;

/// The spec (or the bundled one) with the command line's overrides.
llvm::Expected<Spec> loadWithOverrides(const TrainArgs &A);
/// The checks that come before the first step: a run is not lost to a
/// flag given wrong or a path that cannot be written at its end.
llvm::Error checkTrainArgs(const TrainArgs &A);

struct Trained {
  TrainResult Result;
  std::unique_ptr<CompiledModel> M;
};
/// S trained on D, resuming from the checkpoint Resume if given; its
/// checkpoints hold Before, the runs finished before it (compare's).
llvm::Expected<Trained> trainOne(Spec S, const Dataset &D, const TrainArgs &A,
                                 llvm::StringRef Resume,
                                 llvm::ArrayRef<FinishedRun> Before = {});
/// The one line an interrupted run ends with: where it stopped, what it
/// saved, and the command that resumes it.
void reportStop(const TrainArgs &A, const TrainState &S, llvm::StringRef What);
/// What a metrics file says of the run besides its epochs.
nlohmann::ordered_json runMeta(const Spec &S, const Dataset &D);

/// The square around D's points, with the test points (else the training
/// points) on top: a decision-boundary panel without its values.
llvm::Expected<BoundaryPanel> boundaryFrame(const Dataset &D, int64_t Outputs,
                                            std::string Title);
/// The frame with what M predicts over its cells.
llvm::Expected<BoundaryPanel> boundaryPanel(CompiledModel &M, const Dataset &D,
                                            std::string Title);

// Metrics.cpp
/// V in format F, "-" for NaN.
std::string fmt(double V, const char *F = "{0:F4}");
void printEpoch(const EpochMetrics &M, int Epochs);
/// One run's last epoch of diagnostics, a row per layer.
void printLayerTable(const EpochMetrics &M);
/// compare: the runs' last epochs side by side, a table per figure.
void printLayerMatrix(RunList Runs);
/// The weight gradient norm per layer (SVG): one run across its epochs, or
/// several across the layers.
llvm::Error plotGradients(llvm::StringRef Path, llvm::StringRef Title,
                          RunList Runs);
/// Runs as JSON, or CSV when Path ends in .csv, written atomically.
llvm::Error writeMetrics(llvm::StringRef Path,
                         const nlohmann::ordered_json &Meta, RunList Runs);

} // namespace netjit

#endif
