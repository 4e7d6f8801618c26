// TrainGraph.h - the training program: forward, loss, backward and the
// optimizer update as steps over tensors in one arena (--emit=train), and
// the forward-only programs for evaluate and predict. Fusion (Transforms/)
// rewrites the step lists; codegen lowers them (CodeGen/Program.h).
#ifndef NETJIT_GRAPH_TRAINGRAPH_H
#define NETJIT_GRAPH_TRAINGRAPH_H

#include "netjit/Graph/NetworkGraph.h"
#include "netjit/Graph/Step.h"

namespace netjit {

/// The arena: a 64-byte header, then every tensor at a 64-byte boundary,
/// in TrainGraph order: parameters, gradients, optimizer slots (one group
/// per slot kind), values and scratch. docs/ir.md draws it.
struct ArenaHeader {
  int64_t Step;      // updates so far
  uint64_t Seed;     // dropout's seed
  double Beta1Power; // beta_1^Step, beta_2^Step (Adam, AdamW)
  double Beta2Power;
  double Reserved[4];
};
static_assert(sizeof(ArenaHeader) == 64, "the header is one cache line");

/// What train_step, evaluate and predict add up per batch.
struct StepStats {
  double LossSum = 0;  // sum over samples of the loss (mean over outputs)
  double Correct = 0;  // samples (or outputs, binary) predicted right
  double Penalty = 0;  // the regularization term, once per batch
  double Reserved = 0;
};
/// The fields as generated code addresses them: indices of 8-byte words
/// in the arena header and in the stats buffer.
struct HeaderWord {
  static constexpr unsigned Step = offsetof(ArenaHeader, Step) / 8,
                            Seed = offsetof(ArenaHeader, Seed) / 8,
                            Beta1Power = offsetof(ArenaHeader, Beta1Power) / 8,
                            Beta2Power = offsetof(ArenaHeader, Beta2Power) / 8;
};
struct StatWord {
  static constexpr unsigned LossSum = offsetof(StepStats, LossSum) / 8,
                            Correct = offsetof(StepStats, Correct) / 8,
                            Penalty = offsetof(StepStats, Penalty) / 8,
                            Count = sizeof(StepStats) / 8;
};

/// What training with diagnostics measures of one layer that has weights
/// or an element-wise activation: fields of the stats array after the four
/// of StepStats, each added to by every step until the caller clears it;
/// -1 where there is nothing to measure.
struct LayerDiagnostics {
  int Layer = -1;       // NetworkGraph layer
  int64_t Units = 0;
  int WeightSumSq = -1; // sum over steps of |dL/dW|^2 (the kernel, the
                        // batch's mean loss)
  int InputSumSq = -1;  // sum over samples of |dL_i/dx_i|^2, x the layer's
                        // input (none for the first: never computed)
  int Saturated = -1;   // (sample, unit) pairs with |f'(z)| < 0.01
  int Alive = -1;       // Units fields: steps with f'(z) != 0 for some sample
};

class TrainGraph {
public:
  /// Builds the programs for G at most MaxBatch rows per call; with
  /// Diagnostics, the training program also measures Diagnostics' fields.
  static llvm::Expected<std::unique_ptr<TrainGraph>>
  build(const NetworkGraph &G, int64_t MaxBatch, bool Diagnostics = false);

  const NetworkGraph &network() const { return G; }
  llvm::ArrayRef<TensorInfo> tensors() const { return Tensors; }
  const TensorInfo &tensor(int I) const { return Tensors[I]; }
  int64_t maxBatch() const { return MaxBatch; }
  /// Floats in the arena, header included.
  int64_t arenaFloats() const { return ArenaFloats; }
  /// The first float of the parameters and how many floats they span (with
  /// the alignment gaps, which stay zero).
  int64_t paramsOffset() const { return ParamsBegin; }
  int64_t paramsSpan() const { return ParamsEnd - ParamsBegin; }
  /// The part of that span the optimizer updates: the trainable
  /// parameters, laid out first.
  int64_t trainedSpan() const { return TrainedEnd - ParamsBegin; }
  int64_t gradOffset() const { return GradBegin; }
  /// The workspace: gradients, values and scratch, the arena's tail from
  /// gradOffset(). A thread computing gradients on part of a batch writes
  /// only there, so each extra thread gets its own copy (docs/ir.md).
  int64_t workOffset() const { return GradBegin; }
  int64_t workFloats() const { return ArenaFloats - GradBegin; }
  /// Where optimizer slot K's copy of the parameter layout starts.
  int64_t slotOffset(unsigned K) const { return SlotBegin[K]; }
  unsigned numSlots() const { return SlotBegin.size(); }
  /// Slot K's name and starting value (Optimizers.def): "m", "v" (Adam),
  /// "momentum", "velocity", "accumulator".
  const std::string &slotName(unsigned K) const { return Slots[K].Name; }
  double slotInit(unsigned K) const { return Slots[K].Init; }
  int paramTensor(int Param) const { return ParamTensor[Param]; }
  bool sparseLabels() const { return lossTakesSparseLabels(G.spec().Loss.Kind); }
  int inputTensor() const { return 0; }
  int labelTensor() const { return 1; }
  int outputTensor() const { return Output; }

  std::vector<Step> Train, Evaluate, Predict;
  /// What runs once per update, before the optimizer (advance): state
  /// that changes only on a step that is taken (moving statistics).
  std::vector<Step> OnUpdate;
  /// Whether a training step's rows depend on each other (batch
  /// statistics): threads cannot then split the batch.
  bool batchCoupled() const;
  std::vector<LayerDiagnostics> Diagnostics;
  /// Doubles in the stats array train_step, gradients_part and update_part
  /// add to: StepStats' four, then the diagnostics' fields.
  int64_t statsDoubles() const { return StatsDoubles; }

  void print(llvm::raw_ostream &OS) const;

  /// Makes value I one sample's row, reused by every sample: what only the
  /// steps of one loop over the samples write and read (sample-local).
  /// The workspace's values are laid out again.
  void keepOneSample(int I);
  /// Value I is written and read by no step any more (a conv's z folded
  /// into its epilogue, conv-epilogue): it takes no space and is not listed.
  void dropValue(int I);

private:
  explicit TrainGraph(const NetworkGraph &G) : G(G) {}
  int add(TensorInfo T);
  /// Offsets of the values and scratch tensors, from ValuesBegin.
  void layoutValues();
  const NetworkGraph &G;
  std::vector<TensorInfo> Tensors;
  std::vector<int> ParamTensor;
  std::vector<int64_t> SlotBegin;
  std::vector<OptimizerSlot> Slots;
  int64_t MaxBatch = 0, ArenaFloats = 0, ParamsBegin = 0, ParamsEnd = 0,
          TrainedEnd = 0, GradBegin = 0, ValuesBegin = 0, StatsDoubles = StatWord::Count;
  int Output = -1;
  friend class TrainGraphBuilder;
};

/// One step in the --emit=train/fused text form ("%dense_1:z = matmul ...").
void printStep(llvm::raw_ostream &OS, const TrainGraph &T, const Step &S,
               unsigned Indent);

} // namespace netjit

#endif
