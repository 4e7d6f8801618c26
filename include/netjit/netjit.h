// netjit.h - the C++ host API: compile a network spec (or a Keras
// model.to_json()) at run time into a Model, then train, evaluate, predict,
// read and write its parameters and checkpoints (docs/embedding.md).
//
// The API needs no LLVM headers: errors are netjit::Status values (a code
// and a one-line message), not llvm::Error, whose unchecked-error aborts
// would be the host's problem. Nothing throws.
#ifndef NETJIT_NETJIT_H
#define NETJIT_NETJIT_H

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace netjit {

/// Success, or what went wrong and where, in one line. code() is the
/// error's class, the CLI's exit status (docs/errors.md): 2 usage, 3
/// formula, 4 spec, 5 data, 6 checkpoint, 7 compile, 8 training, 9 I/O.
class Status {
public:
  Status() = default;
  Status(int Code, std::string Message)
      : Code(Code), Message(std::move(Message)) {}
  bool ok() const { return Code == 0; }
  explicit operator bool() const { return ok(); }
  int code() const { return Code; }
  const std::string &message() const { return Message; }

private:
  int Code = 0;
  std::string Message;
};

/// A value or the Status saying why there is none.
template <typename T> class Result {
public:
  Result(T V) : Value(std::move(V)), Has(true) {}
  Result(Status S) : St(std::move(S)) {}
  bool ok() const { return Has; }
  explicit operator bool() const { return Has; }
  const Status &status() const { return St; }
  T &value() { return Value; }
  const T &value() const { return Value; }
  T &operator*() { return Value; }
  T *operator->() { return &Value; }

private:
  T Value{};
  Status St;
  bool Has = false;
};

struct CompilerOptions {
  /// Target CPU for the generated code ("" = this host's).
  std::string CPU;
  /// Threads a training step may split a batch between (batches of 64 rows
  /// and more); 0 = the machine's cores.
  unsigned Threads = 1;
  /// The compiled-code cache ("" = $NETJIT_CACHE_DIR, else
  /// ~/.cache/netjit); UseCache = false compiles every time.
  std::string CacheDir;
  bool UseCache = true;
  /// Rows per call at most (0 = the spec's batch size).
  int64_t MaxBatch = 0;
  /// Limits for specs from untrusted sources, checked before anything is
  /// allocated (errors name the field): weights (and input features), and
  /// floats of one batch's activations. Each copy of the weights costs 4
  /// bytes per weight; training keeps three or four copies.
  int64_t MaxWeights = int64_t(1) << 28;
  int64_t MaxActivations = int64_t(1) << 28;
  /// Compile the training step with diagnostics (Model::diagnostics(),
  /// EpochReport::Layers): 0.4-2.9% of the step (docs/performance.md).
  bool Diagnostics = false;
};

/// Loss and accuracy as Keras reports them (means over the samples, the
/// loss including the regularization penalty).
struct Metrics {
  double Loss = 0, Accuracy = 0;
  int64_t Samples = 0;
};

/// A trained tensor: a dense kernel [in, out], a bias [out], an activation
/// parameter [1] or [units]; any rank, row-major (NHWC-ordered for images).
struct ParameterInfo {
  std::string Name; // "dense_1/kernel", "dense_1/bias", "dense_1/alpha"
  std::vector<int64_t> Shape;
  const std::vector<int64_t> &shape() const { return Shape; }
  /// Its floats: the product of the extents.
  int64_t size() const {
    int64_t N = 1;
    for (int64_t D : Shape)
      N *= D;
    return N;
  }
};

/// One layer's training diagnostics (docs/training.md); NaN where there is
/// nothing to measure.
struct LayerReport {
  std::string Layer;
  int64_t Units = 0;
  double WeightGrad; // RMS over the updates of |dL/dW| (the kernel)
  double InputGrad;  // RMS over the samples of |dL_i/dx_i|, x the input
  double Saturated;  // fraction of (sample, unit) with |f'(z)| < 0.01
  double Dead;       // fraction of units with f'(z) = 0 for every sample
};

struct EpochReport {
  int Epoch, Epochs;
  double Loss, Accuracy;
  double TestLoss, TestAccuracy; // NaN until the last epoch (when tested)
  double Seconds;
  std::vector<LayerReport> Layers; // with CompilerOptions::Diagnostics
  /// The last report of a fit that requestStop() ended: the figures of the
  /// epoch so far (Epoch is the one it stopped in).
  bool Stopped = false;
};

/// A compiled network with its weights and optimizer state. Move-only.
/// One thread at a time may use a Model; separate Models may be compiled
/// and used concurrently from separate threads (a test runs two).
class Model {
public:
  Model();
  Model(Model &&) noexcept;
  Model &operator=(Model &&) noexcept;
  ~Model();

  /// Weights from their initializers seeded by Seed, optimizer state and
  /// step count cleared. compile() has done this with the spec's seed.
  void initialize(uint64_t Seed);

  int64_t inputSize() const;  // features per sample
  int64_t outputSize() const; // outputs per sample
  int64_t maxBatch() const;
  /// Whether labels are class indices (sparse losses) or target rows.
  bool sparseLabels() const;

  /// One optimizer step on Batch rows (1..maxBatch()) of X: Labels are
  /// Batch int32 classes, or Targets Batch rows of outputSize() floats.
  Result<Metrics> trainStep(const float *X, const int32_t *Labels,
                            int64_t Batch);
  Result<Metrics> trainStep(const float *X, const float *Targets,
                            int64_t Batch);
  /// Loss and accuracy without training (dropout off).
  Result<Metrics> evaluate(const float *X, const int32_t *Labels,
                           int64_t Batch);
  Result<Metrics> evaluate(const float *X, const float *Targets,
                           int64_t Batch);
  /// Batch rows of outputs (softmax or sigmoid applied) into Out.
  Status predict(const float *X, int64_t Batch, float *Out);
  /// The diagnostics of the training steps since the last reset (empty
  /// unless compiled with CompilerOptions::Diagnostics), a layer each;
  /// Reset starts the next period.
  std::vector<LayerReport> diagnostics(bool Reset = true);

  /// Trains on the spec's data (its "data", or DataJson such as
  /// {"dataset": "fashion_mnist"}) for Epochs (0 = the spec's), calling
  /// Progress after each epoch; the last report carries the test metrics.
  Result<std::vector<EpochReport>>
  fit(int Epochs = 0, std::function<void(const EpochReport &)> Progress = {},
      const std::string &DataJson = "");

  /// Asks a fit() running on another thread to stop after its current
  /// step; it returns the epochs done and a last report with Stopped set.
  /// Nothing is lost: the next fit() continues from that step to its
  /// Epochs, as does one after save() and load() (the checkpoint records
  /// where; so does `netjit train --save`'s, whose next fit goes on after
  /// its last epoch). Lock-free, so a signal handler may call it too.
  void requestStop();

  std::vector<ParameterInfo> parameters() const;
  /// Copies a parameter out or in (Count must be its size).
  Status getParameter(const std::string &Name, float *Out, size_t Count) const;
  Status setParameter(const std::string &Name, const float *In, size_t Count);

  /// A checkpoint (safetensors: weights and optimizer state) written
  /// atomically; load() checks it whole before changing anything.
  Status save(const std::string &Path, int Epoch = 0);
  Status load(const std::string &Path);

  struct Impl;

private:
  friend struct ModelAccess; // the library's side
  std::unique_ptr<Impl> P;
};

/// Compiles specs into Models. Cheap to create; holds only its options.
class Compiler {
public:
  explicit Compiler(CompilerOptions Options = {}) : Opts(std::move(Options)) {}
  /// A spec or Keras model file (relative data paths resolve against it).
  Result<Model> compileFile(const std::string &Path) const;
  /// Spec or Keras JSON text; Name stands for the file in errors.
  Result<Model> compileJson(const std::string &Text,
                            const std::string &Name = "<spec>") const;

private:
  CompilerOptions Opts;
};

} // namespace netjit

#endif
