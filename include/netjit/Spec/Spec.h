// Spec.h - a network spec as plain structs (docs/spec.md); every field keeps
// the JSON pointer it came from, so later stages report errors there too.
#ifndef NETJIT_SPEC_SPEC_H
#define NETJIT_SPEC_SPEC_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace netjit {

enum class LayerKind {
#define NETJIT_LAYER(Name, Summary) Name,
#include "netjit/Spec/Layers.def"
};
enum class LossKind {
#define NETJIT_LOSS(Name, Sparse, LogitsOf, Also, Summary) Name,
#include "netjit/Spec/Losses.def"
};
enum class OptimizerKind {
#define NETJIT_OPTIMIZER(Name, BetaPowers, Summary) Name,
#include "netjit/Spec/Optimizers.def"
};
enum class InitKind {
#define NETJIT_INIT(Name, Summary) Name,
#include "netjit/Spec/Initializers.def"
};

llvm::StringRef layerName(LayerKind K);
llvm::StringRef lossName(LossKind K);
llvm::StringRef optimizerName(OptimizerKind K);
llvm::StringRef initName(InitKind K);
/// Whether K takes one class index per sample (else a target row).
bool lossTakesSparseLabels(LossKind K);
/// The output activation whose input K reads as logits ("" if none) and
/// the one it also accepts as probabilities (Losses.def).
llvm::StringRef lossLogitsOf(LossKind K);
llvm::StringRef lossAlsoProbabilities(LossKind K);

/// One parameter of an activation: its initial (or fixed) value and whether
/// the optimizer trains it.
struct ActivationParamSpec {
  double Value = 0;
  bool Trainable = false;
};

/// An activation as a layer uses it: a catalogue entry or a formula, with
/// every parameter resolved to a value.
struct ActivationSpec {
  std::string Name;    // catalogue or declared name; "" for an inline formula
  /// The catalogue entry it is, through declared names ("" for a formula):
  /// what the loss and the predict program go by.
  std::string Base;
  std::string Formula; // the formula (catalogue entries: their definition)
  bool RowWise = false; // softmax, log_softmax
  std::map<std::string, ActivationParamSpec> Params;
  /// Trainable parameters hold one value per unit instead of one shared.
  bool PerUnit = false;
  std::string Pointer; // where it was written
  /// Where the formula text sits, for formula errors ("" for catalogue).
  std::string FormulaPointer;

  bool isLinear() const { return !RowWise && Formula == "x"; }
  bool hasTrainableParams() const;
  /// "relu", "leaky_relu(alpha=0.3)", "x * sigmoid(beta * x)".
  std::string describe() const;
};

class Layer;
/// A layer of a spec, owned; a copy of a spec copies its layers. The kind's
/// fields are its own (Graph/Layer.h, one file per kind under
/// lib/Graph/Layers/).
class LayerPtr {
public:
  explicit LayerPtr(std::unique_ptr<Layer> L);
  LayerPtr(const LayerPtr &O);
  LayerPtr(LayerPtr &&O) noexcept;
  LayerPtr &operator=(const LayerPtr &O);
  LayerPtr &operator=(LayerPtr &&O) noexcept;
  ~LayerPtr();
  Layer *operator->() const { return P.get(); }
  Layer &operator*() const { return *P; }

private:
  std::unique_ptr<Layer> P;
};

struct LossSpec {
  LossKind Kind = LossKind::sparse_categorical_crossentropy;
  bool FromLogits = false;
  double Delta = 1.0; // huber
  std::string Pointer = "/loss";
};

/// Whether L reads the logits (the output layer's pre-activation) rather
/// than its output: "from_logits", or OutputActivation is the one the loss
/// takes logits of ("" or "linear" for none).
bool lossReadsLogits(const LossSpec &L, llvm::StringRef OutputActivation);

struct OptimizerSpec {
  OptimizerKind Kind = OptimizerKind::adam;
  /// Every hyper-parameter of Kind (Optimizers.def), defaults filled in.
  std::map<std::string, double> Hyper;
  std::string Pointer = "/optimizer";
  double get(llvm::StringRef Name) const;
};

struct TrainingSpec {
  int64_t BatchSize = 32;
  int64_t Epochs = 5;
  uint64_t Seed = 0;
  double ValidationSplit = 0;
};

/// What a spec may ask for, checked before anything is allocated: hosts
/// compiling untrusted specs lower them (CompilerOptions). Formulas have
/// fixed limits of their own (Expr/Expr.h: nesting, depth, nodes).
struct ResourceLimits {
  /// Weights (and input features); each copy of them (weights, gradients,
  /// optimizer moments) is 4 bytes per weight: 1 GiB at the default.
  int64_t MaxWeights = int64_t(1) << 28;
  /// Floats of a batch's activations (every batch-sized tensor).
  int64_t MaxActivations = int64_t(1) << 28;
};

struct Spec {
  std::string File; // as given, for messages
  ResourceLimits Limits;
  std::string Name;
  std::vector<int64_t> InputShape;
  /// What layers' "inputs" call the network's input: an input layer's
  /// name, else "input".
  std::string InputName = "input";
  /// Layers in an order where each comes after its inputs (the file's,
  /// where it already is), the output last.
  std::vector<LayerPtr> Layers;
  /// "outputs" as written: the output layer's name (empty: the last layer).
  std::vector<std::string> OutputNames;
  LossSpec Loss;
  OptimizerSpec Optimizer;
  TrainingSpec Training;
  /// The "data" object as written (its reader validates it), "" if absent.
  std::string DataJson;
  /// The top-level "activations" object as written, "" if absent (the
  /// command line resolves names against it).
  std::string DeclaredJson;
  /// Read from a Keras model.to_json() file; with its compile_config (the
  /// loss and optimizer; Keras 2 files have none).
  bool FromKeras = false, KerasCompiled = false;
  /// From Keras: each spec layer's pointer in the Keras file.
  std::vector<std::string> KerasLayers;
  /// Pointer (into the spec) as a pointer into the file read: the Keras
  /// layer's, for a Keras file.
  std::string locate(llvm::StringRef Pointer) const;
};

/// A tensor the optimizer keeps per parameter (Optimizers.def).
struct OptimizerSlot {
  std::string Name; // "m", "momentum", ...
  double Init = 0;  // its starting value
};
/// The slots O keeps, in order (those its hyper-parameters switch on).
std::vector<OptimizerSlot> optimizerSlots(const OptimizerSpec &O);
/// Whether K's step keeps beta_1^t and beta_2^t (Adam's bias correction).
bool optimizerUsesBetaPowers(OptimizerKind K);

/// The hyper-parameters of K with their defaults, in Optimizers.def order.
std::vector<std::pair<std::string, double>> optimizerDefaults(OptimizerKind K);

/// Reads and validates a spec. File names it in errors (JSON pointers for
/// the structure, line:column for JSON syntax and formulas).
llvm::Expected<Spec> parseSpec(llvm::StringRef Text, llvm::StringRef File);
llvm::Expected<Spec> loadSpec(llvm::StringRef Path);

/// One activation as a spec's layer would read it (a name, a JSON object,
/// {"expr": ...}), written as JSON text, resolving names against a spec's
/// DeclaredJson ("" for none); Where names it in errors.
llvm::Expected<ActivationSpec> parseActivation(llvm::StringRef Json,
                                               llvm::StringRef DeclaredJson,
                                               llvm::StringRef Where);

/// The spec's JSON Schema (draft 2020-12), generated from the registries:
/// what `netjit schema` prints and docs/spec.schema.json holds. The "data"
/// object's schema comes from the data reader (Data/Dataset.h, dataSchema),
/// which Spec does not depend on.
std::string specSchema(llvm::StringRef DataSchema);

} // namespace netjit

#endif
