// Trainer.h - epochs over a data set with a CompiledModel: batches in a
// seeded order, per-epoch metrics, validation and test evaluation.
#ifndef NETJIT_RUNTIME_TRAINER_H
#define NETJIT_RUNTIME_TRAINER_H

#include "netjit/Data/Dataset.h"
#include "netjit/Runtime/Model.h"

#include <cmath>
#include <functional>

namespace netjit {

/// One layer's diagnostics over an epoch (a model compiled with
/// CompileOptions::Diagnostics); NaN where there is nothing to measure.
struct LayerEpochStats {
  std::string Layer;
  int64_t Units = 0;
  double WeightGrad = NAN; // RMS over the epoch's updates of |dL/dW|, the
                           // kernel's gradient of the batch's mean loss
  double InputGrad = NAN;  // RMS over the samples of |dL_i/dx_i|, x_i the
                           // layer's input (none for the first layer)
  double Saturated = NAN;  // fraction of (sample, unit) with |f'(z)| < 0.01
  double Dead = NAN;       // fraction of units with f'(z) = 0 for every sample
};

/// M's diagnostic counters as per-layer figures, for Updates steps over
/// Samples samples.
std::vector<LayerEpochStats> layerEpochStats(const CompiledModel &M,
                                             int64_t Updates, int64_t Samples);

/// Losses include the regularization penalty, accuracies are fractions, as
/// Keras reports them; NaN where there is nothing to measure.
struct EpochMetrics {
  int Epoch = 0; // from 1
  double Loss = NAN, Accuracy = NAN;
  double ValLoss = NAN, ValAccuracy = NAN;
  double Seconds = 0;
  double SamplesPerSecond = 0;
  int64_t SkippedBatches = 0; // non-finite, with NanPolicy::SkipBatch
  /// Per layer, when the model measures diagnostics (skipped batches count
  /// in all but the weight gradients, which they do not update).
  std::vector<LayerEpochStats> Layers;
};

/// What a batch whose loss or gradients are not finite does: stop training
/// with an error naming the epoch, the step and the first such tensor, or
/// leave the model as it was and go on (checked before the update).
enum class NanPolicy { Stop, SkipBatch };

struct TrainProgress {
  int Epoch, Epochs;
  int64_t Step, Steps;  // steps done in this epoch, of
  double Loss, Accuracy; // so far in this epoch
  double Seconds;        // since the epoch began
};

/// Where a run stands between two steps: what a stopped run resumes from
/// (a checkpoint's "progress"). The data order comes from (seed, epoch)
/// and dropout from the model's step count, so continuing at Epoch, Step
/// gives the weights an uninterrupted run would have.
struct TrainState {
  int Epoch = 1;     // the epoch in progress (from 1); those before are done
  int64_t Step = 0;  // its steps done
  double Loss = 0, Correct = 0; // its sums so far (loss with the penalty)
  int64_t Seen = 0, Skipped = 0;
  std::vector<double> Diagnostics;  // its counters so far, if measured
  /// The epochs done (may be empty). No timings: a checkpoint holds only
  /// what a deterministic run repeats, so two such runs write the same
  /// bytes; restored epochs have NaN seconds, and a resumed epoch's count
  /// this process's part only.
  std::vector<EpochMetrics> History;
};

struct TrainOptions {
  int Epochs = 5;
  /// Where to begin: a resumed run continues as if it had not stopped.
  TrainState Start;
  uint64_t Seed = 0;
  /// A new order of the training rows every epoch (Keras' fit does).
  bool Shuffle = true;
  NanPolicy OnNonFinite = NanPolicy::Stop;
  /// After every step (cheap: the CLI throttles its own output).
  std::function<void(const TrainProgress &)> OnStep;
  /// After every epoch, with where a run resuming after it would start
  /// (what a checkpoint records); an error stops training.
  std::function<llvm::Error(const EpochMetrics &, const TrainState &Next)>
      OnEpoch;
  /// Polled before every step: true ends training there (Stopped).
  std::function<bool()> ShouldStop;
};

struct TrainResult {
  /// Start's history, then this run's epochs.
  std::vector<EpochMetrics> History;
  /// ShouldStop ended the run before its last epoch; State is where, for
  /// a checkpoint to resume from (no test evaluation was made).
  bool Stopped = false;
  TrainState State;
  double TestLoss = NAN, TestAccuracy = NAN;
  double Seconds = 0; // training, evaluation included
};

/// A split's labels as the model's loss takes them: int32 classes (sparse
/// losses), the value itself (one output), else one-hot rows. Fails, naming
/// the file and where, on a label the network cannot take.
class Labels {
public:
  static llvm::Expected<Labels> prepare(const CompiledModel &M, const DataSplit &S);
  const void *row(int64_t R) const;
  size_t rowBytes() const { return Width * (Sparse ? 4 : 4); }
  bool sparse() const { return Sparse; }
  int64_t width() const { return Width; }

private:
  bool Sparse = true;
  int64_t Width = 1;
  std::vector<int32_t> Classes;
  std::vector<float> Targets;
};

/// The loss and accuracy of M on all of S (evaluate, in batches of at most
/// maxBatch rows), as means.
llvm::Expected<std::pair<double, double>> evaluateSplit(CompiledModel &M,
                                                        const DataSplit &S);

/// Trains M (initialized by the caller) for O.Epochs on D.Train in batches
/// of M.maxBatch() rows (the last one shorter), evaluating D.Validation
/// after each epoch and D.Test at the end. The same seed and thread count
/// give the same numbers.
llvm::Expected<TrainResult> train(CompiledModel &M, const Dataset &D,
                                  const TrainOptions &O);

/// The data's features against the network's input: a clear error naming
/// the spec's /input when they differ.
llvm::Error checkDataFits(const CompiledModel &M, const Dataset &D);

} // namespace netjit

#endif
