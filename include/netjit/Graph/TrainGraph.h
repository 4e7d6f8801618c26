// TrainGraph.h - the training program: forward, loss, backward and the
// optimizer update as steps over tensors in one arena (--emit=train), and
// the forward-only programs for evaluate and predict. Fusion (Transforms/)
// rewrites the step lists; codegen lowers them (CodeGen/Program.h).
#ifndef NETJIT_GRAPH_TRAINGRAPH_H
#define NETJIT_GRAPH_TRAINGRAPH_H

#include "netjit/Graph/NetworkGraph.h"

namespace netjit {

enum class TensorRole {
  Input,   // x, the caller's [batch x features] floats
  Labels,  // the caller's int32 class per sample (sparse losses)
  Targets, // the caller's [batch x outputs] floats (other losses)
  Param,   // a trained tensor
  Grad,    // its gradient
  Slot,    // an optimizer state tensor (moments, accumulators)
  Value,   // an intermediate [batch x n] (the rows the caller passes)
  Scratch, // per-column partial sums, packed operands
};

struct TensorInfo {
  std::string Name;
  TensorRole Role;
  bool BatchRows = false; // Rows is the batch: Value, Input, Labels, Targets
  int64_t Rows = 1, Cols = 1;
  int Param = -1;      // Param, Grad, Slot: the NetworkGraph parameter
  int64_t Offset = -1; // in floats from the arena's start (-1: the caller's)
};

enum class StepKind {
#define NETJIT_STEP(Kind, Spelling, RowWise, Rows, Summary) Kind,
#include "netjit/Graph/Steps.def"
};

/// Which steps finish the batch's rows block by block (Steps.def).
enum class RowsProducer { Never, Always, BatchGemm };

/// A step kind's row of Steps.def.
struct StepInfo {
  llvm::StringRef Spelling;
  bool RowWise;
  RowsProducer Rows;
  llvm::StringRef Summary;
};
const StepInfo &stepInfo(StepKind K);

inline llvm::StringRef stepName(StepKind K) { return stepInfo(K).Spelling; }

struct Step {
  Step(StepKind Kind, std::vector<int> In = {}, int Out = -1)
      : Kind(Kind), In(std::move(In)), Out(Out) {}
  StepKind Kind;
  std::vector<int> In;  // tensors read
  int Out = -1, Out2 = -1;
  bool TransA = false, TransB = false; // MatMul
  int Act = -1;         // NetworkGraph activation
  std::string Param;    // ActParamGrad: the activation parameter
  double Rate = 0;      // Dropout
  int Layer = -1;       // Dropout: its seed stream
  /// Diagnostics: the stats field added to (SumSquares, CountAlive; for
  /// ActGrad and Mul, the count of |f'| < 0.01, with Out2 the per-unit
  /// max |f'| so far this step).
  int Stat = -1;
  /// Row-wise steps fused into this one, run on each block of its rows as
  /// soon as they are written (Transforms/Fusion).
  std::vector<Step> Epilogue;
};

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
  std::vector<LayerDiagnostics> Diagnostics;
  /// Doubles in the stats array train_step, gradients_part and update_part
  /// add to: StepStats' four, then the diagnostics' fields.
  int64_t statsDoubles() const { return StatsDoubles; }

  void print(llvm::raw_ostream &OS) const;

private:
  explicit TrainGraph(const NetworkGraph &G) : G(G) {}
  int add(TensorInfo T);
  const NetworkGraph &G;
  std::vector<TensorInfo> Tensors;
  std::vector<int> ParamTensor;
  std::vector<int64_t> SlotBegin;
  std::vector<OptimizerSlot> Slots;
  int64_t MaxBatch = 0, ArenaFloats = 0, ParamsBegin = 0, ParamsEnd = 0,
          GradBegin = 0, StatsDoubles = StatWord::Count;
  int Output = -1;
  friend class TrainGraphBuilder;
};

/// One step in the --emit=train/fused text form ("%dense_1:z = matmul ...").
void printStep(llvm::raw_ostream &OS, const TrainGraph &T, const Step &S,
               unsigned Indent);

} // namespace netjit

#endif
