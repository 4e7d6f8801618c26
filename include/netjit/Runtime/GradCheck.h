// GradCheck.h - compiled float32 gradients against central differences of a
// float64 interpreter of the same network (an independent reference).
#ifndef NETJIT_RUNTIME_GRADCHECK_H
#define NETJIT_RUNTIME_GRADCHECK_H

#include "netjit/Runtime/Model.h"

namespace netjit {

struct GradCheckRow {
  std::string Param;
  int64_t Checked = 0;   // elements compared
  double RelError = 0;   // |g - g_ref|_2 / |g_ref|_2 over them
  double RefNorm = 0;    // |g_ref|_2
};

struct GradCheckResult {
  double LossCompiled = 0, LossReference = 0; // mean over the batch
  std::vector<GradCheckRow> Rows;
  double worst() const;
};

/// The mean loss over Batch rows in double, with parameters Params (one
/// vector per NetworkGraph parameter), regularization excluded. Networks
/// with dropout are refused (their masks live in the compiled code).
llvm::Expected<double>
referenceLoss(const NetworkGraph &G,
              const std::vector<std::vector<double>> &Params, const float *X,
              const void *Labels, int64_t Batch);

/// A reproducible random batch for M: inputs uniform in [-1, 1], labels
/// uniform over the classes, or targets in [0, 1] (one-hot rows for
/// categorical cross-entropy).
void randomBatch(const TrainGraph &T, int64_t Batch, uint64_t Seed,
                 std::vector<float> &X, std::vector<int32_t> &Labels,
                 std::vector<float> &Targets);

/// Runs M's gradients entry point on a random batch and checks up to
/// Samples elements of every parameter.
llvm::Expected<GradCheckResult> gradCheck(CompiledModel &M, int64_t Batch,
                                          unsigned Samples, uint64_t Seed);

} // namespace netjit

#endif
