// Checkpoint.h - a model's weights and optimizer state in the safetensors
// format (an 8-byte header length, a JSON header, raw little-endian data),
// so Python tools read them; written atomically (docs/training.md, "Checkpoints").
#ifndef NETJIT_RUNTIME_CHECKPOINT_H
#define NETJIT_RUNTIME_CHECKPOINT_H

#include "netjit/Runtime/Model.h"
#include "netjit/Runtime/Trainer.h"

#include <optional>

namespace netjit {

/// A run finished before the one a checkpoint holds (`netjit compare`
/// trains one per activation), kept so that resuming trains none again.
struct FinishedRun {
  std::string Label;
  std::vector<EpochMetrics> History; // without timings, as in TrainState
  double TestLoss = NAN, TestAccuracy = NAN;
  std::vector<double> Boundary; // compare --plot-boundary's grid, if drawn
};

/// Where training stood when the checkpoint was written.
struct CheckpointInfo {
  int Epoch = 0;    // epochs completed
  int64_t Step = 0; // optimizer steps taken
  uint64_t Seed = 0; // the run's seed (weights, data order, dropout)
  std::string NetworkHash;  // specHash(G, false) of the writer
  std::string TrainingHash; // specHash(G, true)
  /// Where to resume (written by a run that tracks it, as `netjit train`
  /// does): mid-epoch after an interrupt, with the epochs' metrics so far.
  std::optional<TrainState> Progress;
  /// The runs finished before this one, in order (compare's).
  std::vector<FinishedRun> Before;
};

/// A hash of what the weights mean, from a canonical serialization of the
/// graph: the layers with their activations as written (formula and
/// parameters) and the parameters' shapes; with Training, also the loss,
/// the optimizer and the regularizers, what the optimizer state means
/// (never the name, epochs, batch size, data or initializers). 16 hex digits.
std::string specHash(const NetworkGraph &G, bool Training);
/// The hash netjit wrote before: of the graph's printout, which changed
/// with the simplifier's forms. Still accepted when reading.
std::string printoutHash(const NetworkGraph &G, bool Training);
/// Whether Info was written for G (Training: and its loss and optimizer),
/// under either hash.
bool hashMatches(const CheckpointInfo &Info, const NetworkGraph &G,
                 bool Training);

/// Every parameter as "NAME" and every optimizer slot as "NAME/SLOT" (F32,
/// the parameter's shape), with Epoch (epochs completed), the header's
/// counters, the hashes and a CRC-32 of the data in the metadata.
/// With Progress, also where the run stands (its Epoch - 1 epochs are done);
/// with Before, the runs finished before it.
llvm::Error saveCheckpoint(CompiledModel &M, llvm::StringRef Path, int Epoch,
                           const TrainState *Progress = nullptr,
                           llvm::ArrayRef<FinishedRun> Before = {});

/// Reads Path into M's parameters and optimizer state and returns where
/// training stood. Nothing is changed unless the whole file checks out: the
/// header, every tensor M has with its shape, the data's length and CRC.
llvm::Expected<CheckpointInfo> loadCheckpoint(CompiledModel &M, llvm::StringRef Path);
/// Only the header of Path, checked as loadCheckpoint checks it, with the
/// data's CRC: what it holds before there is a model to read it into.
llvm::Expected<CheckpointInfo> readCheckpointInfo(llvm::StringRef Path);
/// The same into any arena laid out as T's (an ahead-of-time build's).
llvm::Expected<CheckpointInfo> loadCheckpoint(const TrainGraph &T, float *Arena,
                                              llvm::StringRef Path);
/// The same from the file's bytes; Name stands for the file in errors.
llvm::Expected<CheckpointInfo> parseCheckpoint(const TrainGraph &T,
                                               float *Arena,
                                               llvm::StringRef Bytes,
                                               llvm::StringRef Name);

} // namespace netjit

#endif
