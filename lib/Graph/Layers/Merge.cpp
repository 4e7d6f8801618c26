// Merge.cpp - the layers that merge branches (Keras' Add, Multiply and
// Concatenate): two or more inputs into one. A value several layers read
// gets the sum of their gradients (TrainGraph).
#include "netjit/Graph/Layer.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace netjit {

namespace {

/// The error for input K's shape against the first's.
Error shapeMismatch(GraphBuilder &B, const Layer &L, size_t K,
                    const Twine &Rule) {
  return B.fail(L.Pointer + "/inputs",
                layerName(L.Kind) + ": input '" + L.InputNames.at(K) +
                    "' is " + formatShape(L.InShapes[K]) + " but '" +
                    L.InputNames.at(0) + "' is " + formatShape(L.InShapes[0]) +
                    "; " + Rule);
}

/// Add and Multiply: element by element, every input of one shape.
template <bool Product>
class ElementwiseLayer final : public LayerOf<ElementwiseLayer<Product>> {
public:
  using Layer::InputNames;
  void read(const LayerFields &) override {}
  Error build(GraphBuilder &B) override {
    for (size_t K = 1; K < this->InShapes.size(); ++K)
      if (this->InShapes[K] != this->InShapes[0])
        return shapeMismatch(B, *this, K, "every input must have the same shape");
    this->Shape = this->InShape;
    return Error::success();
  }
  int forward(ProgramBuilder &B, int) const override {
    int Y = B.value(this->Name + ".y" + B.suffix(), this->Out, this->Shape);
    if (!Product) {
      B.emit({StepKind::Add, B.inputs().vec(), Y});
      return Y;
    }
    // A chain of products, the last into y.
    ArrayRef<int> In = B.inputs();
    int Acc = In[0];
    for (size_t K = 1; K < In.size(); ++K) {
      int To = K + 1 == In.size()
                   ? Y
                   : B.value(this->Name + ".p" + std::to_string(K) + B.suffix(),
                             this->Out, this->Shape);
      B.emit({StepKind::Mul, {Acc, In[K]}, To});
      Acc = To;
    }
    return Y;
  }
  void backwardParams(ProgramBuilder &, int, int) const override {}
  int backwardInput(ProgramBuilder &, int DY) const override { return DY; }
  std::vector<int> backwardInputs(ProgramBuilder &B, int DY) const override {
    if (!Product)
      return std::vector<int>(this->Inputs.size(), DY);
    // dx_k = dy times every other input.
    ArrayRef<int> In = B.inputs();
    std::vector<int> DX;
    for (size_t K = 0; K < In.size(); ++K) {
      int Acc = DY;
      for (size_t J = 0; J < In.size(); ++J) {
        if (J == K)
          continue;
        int To = B.value(this->Name + ".dx" + std::to_string(K) + "_" +
                             std::to_string(J),
                         this->Out, this->Shape);
        B.emit({StepKind::Mul, {Acc, In[J]}, To});
        Acc = To;
      }
      DX.push_back(Acc);
    }
    return DX;
  }
  Error reference(ReferenceValues &V) const override {
    for (size_t K = 1; K < V.Inputs.size(); ++K)
      for (size_t I = 0; I < V.H.size(); ++I)
        V.H[I] = Product ? V.H[I] * (*V.Inputs[K])[I]
                         : V.H[I] + (*V.Inputs[K])[I];
    return Error::success();
  }
};

/// Concatenate: the inputs side by side along one axis, where their other
/// extents agree. A row of each is Outer blocks (the extents before the
/// axis), and the output's block is theirs one after the other.
class ConcatenateLayer final : public LayerOf<ConcatenateLayer> {
public:
  int64_t Axis = -1, Outer = 1;
  void read(const LayerFields &F) override { Axis = F.count("axis", -1); }
  Error build(GraphBuilder &B) override {
    auto A = inputAxis(B, *this, Axis);
    if (!A)
      return A.takeError();
    size_t At = *A;
    Shape = InShapes[0];
    for (size_t K = 1; K < InShapes.size(); ++K) {
      bool Agree = InShapes[K].size() == Shape.size();
      for (size_t D = 0; Agree && D < Shape.size(); ++D)
        Agree = D == At || InShapes[K][D] == Shape[D];
      if (!Agree)
        return shapeMismatch(
            B, *this, K,
            formatv("the inputs must agree except along axis {0}", Axis).str());
      Shape[At] += InShapes[K][At];
    }
    Outer = 1;
    for (size_t D = 0; D < At; ++D)
      Outer *= Shape[D];
    return Error::success();
  }
  int forward(ProgramBuilder &B, int) const override {
    int Y = B.value(Name + ".y" + B.suffix(), Out, Shape);
    Step S{StepKind::Concat, B.inputs().vec(), Y};
    S.Outer = Outer;
    B.emit(S);
    return Y;
  }
  void backwardParams(ProgramBuilder &, int, int) const override {}
  int backwardInput(ProgramBuilder &, int DY) const override { return DY; }
  std::vector<int> backwardInputs(ProgramBuilder &B, int DY) const override {
    std::vector<int> DX;
    int64_t Offset = 0;
    for (size_t K = 0; K < Inputs.size(); ++K) {
      int64_t Cols = 1;
      for (int64_t E : InShapes[K])
        Cols *= E;
      int D = B.value(Name + ".dx" + std::to_string(K), Cols, InShapes[K]);
      Step S{StepKind::Slice, {DY}, D};
      S.Outer = Outer;
      S.Offset = Offset;
      B.emit(S);
      Offset += Cols / Outer;
      DX.push_back(D);
    }
    return DX;
  }
  Error reference(ReferenceValues &V) const override {
    std::vector<double> Y(V.Batch * Out);
    int64_t Block = Out / Outer, At = 0;
    for (const std::vector<double> *X : V.Inputs) {
      int64_t Cols = X->size() / V.Batch, Width = Cols / Outer;
      for (int64_t R = 0; R < V.Batch; ++R)
        for (int64_t O = 0; O < Outer; ++O)
          for (int64_t J = 0; J < Width; ++J)
            Y[R * Out + O * Block + At + J] = (*X)[R * Cols + O * Width + J];
      At += Width;
    }
    V.H = std::move(Y);
    return Error::success();
  }
  void print(raw_ostream &OS) const override {
    if (Axis != -1)
      OS << " axis " << Axis;
  }
};

Expected<nlohmann::json> addFromKeras(KerasLayer &) {
  return nlohmann::json{{"type", "add"}};
}
Expected<nlohmann::json> multiplyFromKeras(KerasLayer &) {
  return nlohmann::json{{"type", "multiply"}};
}
Expected<nlohmann::json> concatenateFromKeras(KerasLayer &K) {
  nlohmann::json L = {{"type", "concatenate"}};
  if (K.isSet("axis"))
    L["axis"] = K.config()["axis"];
  return L;
}

// A functional model's merges (a Sequential model cannot give them two
// inputs).
const KerasClass AddKeras[] = {{"Add", addFromKeras}};
const KerasClass MultiplyKeras[] = {{"Multiply", multiplyFromKeras}};
const KerasClass ConcatenateKeras[] = {{"Concatenate", concatenateFromKeras}};
const LayerField ConcatenateFields[] = {{"axis", FieldType::Axis}};

} // namespace

extern const LayerKindInfo addKind = {
    {}, AddKeras,
    [] { return std::unique_ptr<Layer>(new ElementwiseLayer<false>); }, 0};
extern const LayerKindInfo multiplyKind = {
    {}, MultiplyKeras,
    [] { return std::unique_ptr<Layer>(new ElementwiseLayer<true>); }, 0};
extern const LayerKindInfo concatenateKind = {
    ConcatenateFields, ConcatenateKeras,
    [] { return std::unique_ptr<Layer>(new ConcatenateLayer); }, 0};

} // namespace netjit
