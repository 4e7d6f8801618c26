// Model.h - a network compiled to one training step and its arena:
// initialize, train_step, gradients, evaluate, predict.
#ifndef NETJIT_RUNTIME_MODEL_H
#define NETJIT_RUNTIME_MODEL_H

#include "netjit/CodeGen/Program.h"
#include "netjit/Graph/TrainGraph.h"
#include "netjit/JIT/Jit.h"
#include "netjit/Runtime/ThreadPool.h"

#include <memory>

namespace netjit {

struct CompileOptions {
  JitOptions Jit;
  /// Rows per call at most; 0 = the spec's batch size.
  int64_t MaxBatch = 0;
  /// Run the fusion passes (Transforms/Passes.def).
  bool Fuse = true;
  /// Symbol prefix of the entry points.
  std::string Prefix = "netjit";
  /// Threads a training step may split its batch between (each extra one
  /// gets its own workspace); 0 = the machine's cores. Batches under
  /// MinRowsPerThread rows per thread run on one. Results depend on the
  /// thread count (the gradient sums' order), never on scheduling.
  unsigned Threads = 1;
  /// Compile the training step with diagnostics (TrainGraph::Diagnostics):
  /// gradient norms, saturated and dead units, counted by the step itself.
  bool Diagnostics = false;
};

/// Rows each thread gets at least: below this the second thread's
/// synchronization costs more than it saves (measured: docs/performance.md).
inline constexpr int64_t MinRowsPerThread = 32;

/// The IR of a network's programs for TM (its triple, data layout and
/// vector width), for the JIT, --emit and ahead-of-time builds.
struct ProgramModule {
  std::unique_ptr<llvm::LLVMContext> Ctx;
  std::unique_ptr<llvm::Module> M;
};
llvm::Expected<ProgramModule> buildProgramModule(const TrainGraph &T,
                                                 llvm::StringRef Prefix,
                                                 llvm::TargetMachine &TM,
                                                 unsigned Threads = 1);

/// The pipeline from a network to its module is written once: this builds
/// G's training program for MaxBatch rows (0 = the spec's batch size) and,
/// with Fuse, runs the passes (Transforms/Passes.def); buildProgramModule
/// lowers it. CompiledModel::compile, `netjit emit` and `netjit compile`
/// (AOT) all go through both.
llvm::Expected<std::unique_ptr<TrainGraph>>
buildTrainingProgram(const NetworkGraph &G, int64_t MaxBatch,
                     bool Diagnostics = false, bool Fuse = true);

class CompiledModel {
public:
  /// Builds the graphs (fused unless Opts.Fuse is off) and JIT-compiles the
  /// four entry points. The weights are left uninitialized: call
  /// initialize().
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  compile(std::unique_ptr<NetworkGraph> G, const CompileOptions &Opts = {});
  ~CompiledModel();

  /// Every parameter from its initializer (Initializers.def) seeded by Seed
  /// (each tensor its own stream, so adding a layer leaves the others
  /// alone), optimizer state cleared, the step count at 0.
  void initialize(uint64_t Seed);

  /// One optimizer step. Batch must be in [1, maxBatch()]; Labels are
  /// int32 classes (sparse losses) or Batch rows of targets. Fails on a
  /// label out of range, naming the row. With threads() > 1 and a batch of
  /// at least 2 * MinRowsPerThread rows, each thread takes a slice of the
  /// batch and of the update.
  llvm::Expected<StepStats> trainStep(const float *X, const void *Labels,
                                      int64_t Batch);
  /// trainStep that checks before it updates: when the batch's loss or a
  /// gradient is not finite it leaves the weights and optimizer state as
  /// they were and names the first such tensor in Bad ("" when it updated).
  llvm::Expected<StepStats> trainStepGuarded(const float *X,
                                             const void *Labels, int64_t Batch,
                                             std::string &Bad);
  /// The first parameter (or gradient) holding a NaN or an infinity, "" if
  /// none: what a non-finite loss is reported with.
  std::string firstNonFiniteTensor();
  /// The loss gradient of every parameter, left in gradient(), no update.
  llvm::Expected<StepStats> gradients(const float *X, const void *Labels,
                                      int64_t Batch);
  llvm::Expected<StepStats> evaluate(const float *X, const void *Labels,
                                     int64_t Batch);
  /// Batch rows of outputs (softmax applied) into Out.
  llvm::Error predict(const float *X, float *Out, int64_t Batch);

  /// The diagnostics' fields (TrainGraph::Diagnostics, numbered from 0 =
  /// stats field 4) added up by every step since the last reset, over all
  /// threads; empty unless compiled with diagnostics.
  std::vector<double> diagnosticCounters() const;
  void resetDiagnostics();
  /// Counters as diagnosticCounters() gave them (a resumed epoch's); an
  /// empty or wrongly sized C resets them.
  void setDiagnosticCounters(const std::vector<double> &C);

  const NetworkGraph &network() const { return *G; }
  const TrainGraph &graph() const { return *T; }
  int64_t maxBatch() const { return T->maxBatch(); }
  unsigned threads() const { return Pool ? Pool->size() : 1; }
  float *param(int P);
  float *gradient(int P);
  float *arena() { return Arena.get(); }
  ArenaHeader &header() { return *reinterpret_cast<ArenaHeader *>(Arena.get()); }
  Jit &jit() { return *J; }

private:
  CompiledModel() = default;
  llvm::Error checkCall(const void *Labels, int64_t Batch);
  llvm::Expected<StepStats> run(EntryPoint EP, const float *X,
                                const void *Labels, int64_t Batch);
  llvm::Expected<StepStats> trainStepThreaded(const float *X,
                                              const void *Labels,
                                              int64_t Batch);
  /// A step in two phases: each thread's gradients into its workspace
  /// (and its stats(I)), then advance and the update of every slice.
  void gradientPhase(const float *X, const void *Labels, int64_t Batch);
  StepStats updatePhase();
  /// Thread I's stats array (T->statsDoubles()): StepStats' four, cleared
  /// per step, then the diagnostics' fields, kept until resetDiagnostics().
  double *stats(unsigned I) { return StatsBuf[I].data(); }
  static StepStats stepStats(const double *S) {
    return {S[StatWord::LossSum], S[StatWord::Correct], S[StatWord::Penalty], 0};
  }
  using EntryFn = void(float *, const float *, void *, int64_t, double *);
  using PartFn = void(float *, float *, const float *, void *, int64_t,
                      double *, int64_t, int64_t);
  using AdvanceFn = void(float *);
  using UpdateFn = void(float *, float *const *, int64_t, int64_t, double *);
  std::unique_ptr<NetworkGraph> G;
  std::unique_ptr<TrainGraph> T;
  std::unique_ptr<Jit> J;
  struct Free {
    void operator()(float *P) const;
  };
  std::unique_ptr<float, Free> Arena;
  void *Entry[std::size(AllEntryPoints)] = {};
  void (*Init)(float *Arena, uint64_t Seed) = nullptr; // PREFIX_init
  template <typename Fn> Fn *entry(EntryPoint EP) const {
    return reinterpret_cast<Fn *>(Entry[unsigned(EP)]);
  }
  /// Threaded steps: the pool and the workspaces of threads 1, 2, ...
  std::unique_ptr<ThreadPool> Pool;
  std::vector<std::unique_ptr<float, Free>> Work;
  std::vector<float *> WorkPtrs;
  std::vector<std::vector<double>> StatsBuf;
};

} // namespace netjit

#endif
