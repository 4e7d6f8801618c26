// Layer.h - the layer kind interface: what one file under lib/Graph/Layers/
// implements for its kind (docs/layers.md), and the builders it is handed.
// The spec reader, the Keras reader, the schema, the graph and TrainGraph
// builders and gradcheck reach every kind through this interface and the
// registry (layerKind, Layers.def); none of them names a kind. The layer
// files call their builders through virtual functions only, so the layers
// library links below the spec reader and the graph that both use it.
#ifndef NETJIT_GRAPH_LAYER_H
#define NETJIT_GRAPH_LAYER_H

#include "netjit/Graph/Step.h"
#include "netjit/Spec/Spec.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/raw_ostream.h"
#include <memory>
#include <nlohmann/json.hpp>

namespace netjit {

/// A tensor the optimizer trains: a dense kernel [In, Out] (row-major, so
/// row i holds input feature i's weights), a bias [Out], or an activation
/// parameter ([1] shared or [Out] per unit). Any rank, row-major.
struct ParamInfo {
  std::string Name; // "dense_1/kernel", "dense_1/alpha"
  std::vector<int64_t> Shape = {1};
  InitKind Init = InitKind::zeros;
  bool UseConstant = false; // activation parameters start at Constant
  double Constant = 0;
  int64_t FanIn = 1, FanOut = 1;
  double L1 = 0, L2 = 0;
  /// Its gradient is added to block by block (a sum over the batch's rows),
  /// so each step starts it at zero.
  bool SummedOverRows = false;
  /// Trained by the optimizer; false for state a layer's own steps keep
  /// (batch normalization's moving statistics), which is saved and loaded
  /// like the weights but has no gradient.
  bool Trainable = true;
  std::string Pointer;
  int64_t size() const { return rows() * cols(); }
  /// The matrix the kernels see: the last axis as columns, the others as
  /// rows ([In, Out] for a dense kernel, [1, Out] for a bias).
  int64_t cols() const { return Shape.back(); }
  int64_t rows() const {
    int64_t R = 1;
    for (size_t I = 0; I + 1 < Shape.size(); ++I)
      R *= Shape[I];
    return R;
  }
};

// --- Spec fields -----------------------------------------------------------

/// What a field of a layer holds; the spec reader checks each type the same
/// way for every kind and the schema describes it the same way.
enum class FieldType {
  Shape,       // a non-empty array of positive integers
  Count,       // a positive integer up to Max
  Flag,        // true or false
  Fraction,    // a number in [0, 1)
  Initializer, // an Initializers.def name
  Regularizer, // {"l1": number, "l2": number}, each in [0, 1e6]
  Activation,  // a catalogue or declared name, a name with parameters, a formula
  Window,      // a positive integer, or an array of Max of them (one per
               // spatial axis): kernel_size, strides, dilation_rate
  Choice,      // one of Choices' '|'-separated strings (padding)
  Padding,     // zero padding per spatial axis (Max axes): a non-negative
               // integer, one per axis, or a [before, after] pair per axis
  TargetShape, // a non-empty array of positive integers, at most one -1
  Axis,        // an integer; a negative one counts from the end (the
               // layer's build() checks it against its input's rank)
  Positive,    // a finite number above 0 (epsilon)
};

/// One row of a kind's field table: the reader's checks, the schema and
/// the allowed keys all come from it.
struct LayerField {
  const char *Name;
  FieldType Type;
  bool Required = false;
  int64_t Max = 0; // Count: the largest; Window, Padding: the axes
  const char *Choices = nullptr; // Choice: "valid|same"
};

/// A Choice field's strings.
inline std::vector<std::string> choicesOf(const LayerField &F) {
  llvm::SmallVector<llvm::StringRef, 4> Parts;
  llvm::StringRef(F.Choices ? F.Choices : "").split(Parts, '|');
  return {Parts.begin(), Parts.end()};
}

/// A field's value as the reader checked it.
struct FieldValue {
  int64_t Count = 0;
  double Number = 0, L1 = 0, L2 = 0;
  bool Flag = false;
  InitKind Init = InitKind::zeros;
  /// Shape, TargetShape; a Window's extent per axis; a Padding's
  /// [before, after] per axis.
  std::vector<int64_t> Shape;
  std::string Choice;
  ActivationSpec Activation;
};

/// The fields a layer was written with, checked against its table.
struct LayerFields {
  std::map<std::string, FieldValue> Values; // the fields present
  const FieldValue *get(llvm::StringRef Name) const {
    auto It = Values.find(Name.str());
    return It == Values.end() ? nullptr : &It->second;
  }
  int64_t count(llvm::StringRef N, int64_t Default = 0) const {
    return get(N) ? get(N)->Count : Default;
  }
  double number(llvm::StringRef N, double Default = 0) const {
    return get(N) ? get(N)->Number : Default;
  }
  bool flag(llvm::StringRef N, bool Default) const {
    return get(N) ? get(N)->Flag : Default;
  }
  InitKind init(llvm::StringRef N, InitKind Default) const {
    return get(N) ? get(N)->Init : Default;
  }
  std::vector<int64_t> extents(llvm::StringRef N,
                               std::vector<int64_t> Default) const {
    return get(N) ? get(N)->Shape : Default;
  }
  std::string choice(llvm::StringRef N, llvm::StringRef Default) const {
    return get(N) ? get(N)->Choice : Default.str();
  }
};

/// A layer of a Keras file as its kind maps it (implemented by the Keras
/// reader): the config, and errors that name the layer.
class KerasLayer {
public:
  virtual ~KerasLayer() = default;
  virtual const nlohmann::json &config() const = 0;
  /// "layer 3 (dense_1, Dense): Message" at the config's pointer, or at
  /// Field's inside it.
  virtual llvm::Error fail(const llvm::Twine &Message,
                           llvm::StringRef Field = "") const = 0;
  /// Field (absent: linear) as a netjit activation, initializer name or
  /// kernel_regularizer object.
  virtual llvm::Expected<nlohmann::json> activation(llvm::StringRef Field) = 0;
  virtual llvm::Expected<nlohmann::json> initializer(llvm::StringRef Field) = 0;
  virtual llvm::Expected<nlohmann::json> regularizer(llvm::StringRef Field) = 0;

  /// The first of Keys that holds a number (Keras 2's and 3's names), else
  /// Default.
  double number(std::initializer_list<const char *> Keys, double Default) const {
    for (const char *K : Keys)
      if (config().contains(K) && config()[K].is_number())
        return config()[K].get<double>();
    return Default;
  }
  bool isSet(const char *Key) const {
    return config().contains(Key) && !config()[Key].is_null();
  }
  /// An error for the first of Keys that is set: options netjit lacks.
  llvm::Error refuseSet(std::initializer_list<const char *> Keys) const {
    for (const char *K : Keys)
      if (isSet(K))
        return fail("'" + llvm::Twine(K) + "' is not supported", K);
    return llvm::Error::success();
  }
};

/// A Keras class a kind reads: its spec layer (without "name"), or nullptr
/// for a class that is skipped (InputLayer: the reader takes its shape).
struct KerasClass {
  const char *Name;
  llvm::Expected<nlohmann::json> (*Map)(KerasLayer &K);
};

// --- Building ----------------------------------------------------------------

class GraphBuilder;
class ProgramBuilder;

/// Values of the float64 reference forward pass (gradcheck): H holds the
/// layer's input rows on entry and its output rows on return.
struct ReferenceValues {
  int64_t Batch;
  std::vector<double> &H; // the first input's rows in, the output's out
  const std::vector<std::vector<double>> &Params; // by ParamInfo index
  /// Every input's rows (a merge's), the first's as it came in.
  std::vector<const std::vector<double> *> Inputs = {};
};

/// One layer of a network: what the spec says of it (its kind's fields) and,
/// once the graph is built, its shapes and parameters. Each kind derives
/// from LayerOf<Kind> in its own file.
class Layer {
public:
  virtual ~Layer();
  virtual std::unique_ptr<Layer> clone() const = 0;

  LayerKind Kind;
  std::string Name, Pointer;
  /// Its inputs as the spec names them ("inputs"; none: the layer before),
  /// and as the spec reader resolved them: earlier layers' indices, -1 for
  /// the network's input.
  std::vector<std::string> InputNames;
  std::vector<int> Inputs;
  // Set by the graph builder (build() sets Shape; the rest is derived):
  std::vector<int64_t> InShape, Shape; // input and output, batch excluded
  std::vector<std::vector<int64_t>> InShapes; // every input's (a merge's)
  int64_t In = 0, Out = 0;             // features in and out (flattened)
  std::vector<int> Params; // its ParamInfo indices (activation ones too)
  int Kernel = -1;         // the weights diagnostics measure, if any
  int Act = -1;            // its NetworkGraph activation, if any

  /// Takes the fields the reader checked against the kind's table.
  virtual void read(const LayerFields &F) = 0;
  /// The activation it applies after its own work (dense, activation), or
  /// nullptr; the graph compiles it and the program applies it.
  virtual ActivationSpec *activation() { return nullptr; }
  const ActivationSpec *activation() const {
    return const_cast<Layer *>(this)->activation();
  }
  /// An input layer's shape: it declares the network's input and is not a
  /// layer of the graph.
  virtual const std::vector<int64_t> *declaredInput() const { return nullptr; }

  /// Infers Shape from InShape and adds its parameters.
  virtual llvm::Error build(GraphBuilder &B) = 0;
  /// Emits its forward steps reading X; returns the tensor it leaves (X
  /// itself where it only reshapes).
  virtual int forward(ProgramBuilder &B, int X) const = 0;
  /// The gradients of its own parameters, from its input X (as forward saw
  /// it) and the gradient DY of what forward returned.
  virtual void backwardParams(ProgramBuilder &B, int X, int DY) const = 0;
  /// The gradient of its input from DY.
  virtual int backwardInput(ProgramBuilder &B, int DY) const = 0;
  /// The gradient of each input (a merge's several), -1 where none flows.
  virtual std::vector<int> backwardInputs(ProgramBuilder &B, int DY) const {
    return {backwardInput(B, DY)};
  }
  /// The float64 forward pass of what forward() emits.
  virtual llvm::Error reference(ReferenceValues &V) const = 0;

  /// The --stage=graph line's words after the kind (" 784 -> 128").
  virtual void print(llvm::raw_ostream &OS) const {}
  /// Numbers that belong to its identity in a checkpoint beyond shapes and
  /// the activation (dropout's rate).
  virtual void identity(std::map<std::string, double> &Fields) const {}
};

template <typename Derived> class LayerOf : public Layer {
public:
  std::unique_ptr<Layer> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived &>(*this));
  }
};

/// A kind that moves no data and trains nothing of its own (flatten, an
/// activation on its own): its steps and reference pass values and
/// gradients through unchanged, since rows are stored row-major per sample.
template <typename Derived> class PassThroughOf : public LayerOf<Derived> {
public:
  int forward(ProgramBuilder &, int X) const override { return X; }
  void backwardParams(ProgramBuilder &, int, int) const override {}
  int backwardInput(ProgramBuilder &, int DY) const override { return DY; }
  llvm::Error reference(ReferenceValues &) const override {
    return llvm::Error::success();
  }
};

/// What a layer's build() may do to the graph (implemented by NetworkGraph).
class GraphBuilder {
public:
  virtual ~GraphBuilder() = default;
  virtual llvm::Error fail(llvm::StringRef Pointer,
                           const llvm::Twine &Message) const = 0;
  /// Adds P and returns its index; refused, at LimitPointer, when the
  /// network's weights would pass the limit.
  virtual llvm::Expected<int> addParam(ParamInfo P,
                                       llvm::StringRef LimitPointer) = 0;
};

/// Keras' Axis of L's input (it counts the batch axis: 0 is the batch, -1
/// the last) as an index into L.InShape; out of range, an error at
/// L.Pointer/axis.
llvm::Expected<size_t> inputAxis(GraphBuilder &B, const Layer &L, int64_t Axis);

/// What a layer's forward and backward may do to the training program
/// (implemented by TrainGraph's builder).
class ProgramBuilder {
public:
  virtual ~ProgramBuilder() = default;
  /// The training program (not evaluate or predict).
  virtual bool training() const = 0;
  /// Names a value of the program being built: "" (train), ".eval", ".pred".
  virtual llvm::StringRef suffix() const = 0;
  /// The layer's index in the network (dropout's seed stream).
  virtual int layerIndex() const = 0;
  /// A new [batch x Cols] value (a sample's extents Shape, where not just
  /// [Cols]), and a new tensor of any other role.
  virtual int value(const llvm::Twine &Name, int64_t Cols,
                    llvm::ArrayRef<int64_t> Shape = {}) = 0;
  virtual int tensor(TensorInfo T) = 0;
  /// The tensor of parameter P and of its gradient.
  virtual int param(int P) const = 0;
  virtual int grad(int P) const = 0;
  virtual void emit(Step S) = 0;
  /// In backward: the layer's input and what its forward returned, as the
  /// training program's forward pass left them.
  virtual int forwardInput() const = 0;
  virtual int forwardOutput() const = 0;
  /// In the training program's forward: a tensor the layer's backward
  /// reads besides its input and output (max pooling's argmax); in
  /// backward, that tensor.
  virtual void keep(int Tensor) = 0;
  /// Every input's tensor, in forward and backward (a merge's several).
  virtual llvm::ArrayRef<int> inputs() const = 0;
  /// The I-th tensor forward keep()s.
  virtual int forwardKept(unsigned I = 0) const = 0;
  /// A new scratch tensor that each training step starts at zero (sums
  /// over the batch).
  virtual int accumulator(TensorInfo T) = 0;
  /// Emits S into what runs once per update, after the gradients are
  /// found good (the moving statistics): never on a step that is skipped.
  virtual void emitOnUpdate(Step S) = 0;
};

// --- The registry ------------------------------------------------------------

/// A layer kind: its row of Layers.def and what its file supplies.
struct LayerKindInfo {
  llvm::ArrayRef<LayerField> Fields;
  llvm::ArrayRef<KerasClass> Keras;
  std::unique_ptr<Layer> (*Create)();
  unsigned Inputs = 1; // how many inputs it takes; 0: two or more
};

const LayerKindInfo &layerKind(LayerKind K);
/// A new layer of kind K, not yet read.
std::unique_ptr<Layer> createLayer(LayerKind K);

} // namespace netjit

#endif
