// Model.h - a network compiled to one training step and its arena:
// initialize, train_step, gradients, evaluate, predict.
#ifndef NETJIT_RUNTIME_MODEL_H
#define NETJIT_RUNTIME_MODEL_H

#include "netjit/CodeGen/Program.h"
#include "netjit/Graph/TrainGraph.h"
#include "netjit/JIT/Jit.h"

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
};

/// The IR of a network's programs, for --emit and ahead-of-time builds.
struct ProgramModule {
  std::unique_ptr<llvm::LLVMContext> Ctx;
  std::unique_ptr<llvm::Module> M;
};
llvm::Expected<ProgramModule> buildProgramModule(const TrainGraph &T,
                                                 llvm::StringRef Prefix,
                                                 unsigned Lanes);

class Model {
public:
  /// Builds the graphs (fused unless Opts.Fuse is off) and JIT-compiles the
  /// four entry points. The weights are left uninitialized: call
  /// initialize().
  static llvm::Expected<std::unique_ptr<Model>>
  compile(std::unique_ptr<NetworkGraph> G, const CompileOptions &Opts = {});
  ~Model();

  /// Every parameter from its initializer (Initializers.def) seeded by Seed
  /// (each tensor its own stream, so adding a layer leaves the others
  /// alone), optimizer state cleared, the step count at 0.
  void initialize(uint64_t Seed);

  /// One optimizer step. Batch must be in [1, maxBatch()]; Labels are
  /// int32 classes (sparse losses) or Batch rows of targets. Fails on a
  /// label out of range, naming the row.
  llvm::Expected<StepStats> trainStep(const float *X, const void *Labels,
                                      int64_t Batch);
  /// The loss gradient of every parameter, left in gradient(), no update.
  llvm::Expected<StepStats> gradients(const float *X, const void *Labels,
                                      int64_t Batch);
  llvm::Expected<StepStats> evaluate(const float *X, const void *Labels,
                                     int64_t Batch);
  /// Batch rows of outputs (softmax applied) into Out.
  llvm::Error predict(const float *X, float *Out, int64_t Batch);

  const NetworkGraph &network() const { return *G; }
  const TrainGraph &graph() const { return *T; }
  int64_t maxBatch() const { return T->maxBatch(); }
  float *param(int P);
  float *gradient(int P);
  float *arena() { return Arena.get(); }
  ArenaHeader &header() { return *reinterpret_cast<ArenaHeader *>(Arena.get()); }
  Jit &jit() { return *J; }

private:
  Model() = default;
  llvm::Error checkCall(const void *Labels, int64_t Batch);
  llvm::Expected<StepStats> run(EntryPoint EP, const float *X,
                                const void *Labels, int64_t Batch);
  using EntryFn = void(float *, const float *, void *, int64_t, double *);
  std::unique_ptr<NetworkGraph> G;
  std::unique_ptr<TrainGraph> T;
  std::unique_ptr<Jit> J;
  struct Free {
    void operator()(float *P) const;
  };
  std::unique_ptr<float, Free> Arena;
  EntryFn *Entry[4] = {};
};

/// Fills a parameter per its initializer from a generator seeded by Seed
/// and the parameter's index.
void initializeParam(const ParamInfo &P, uint64_t Seed, unsigned Index,
                     float *Out);

} // namespace netjit

#endif
