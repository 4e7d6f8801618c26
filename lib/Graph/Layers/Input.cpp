// Input.cpp - the input layer: declares the network's input shape (the
// top-level "input" in another form); it is no layer of the graph.
#include "netjit/Graph/Layer.h"

using namespace llvm;

namespace netjit {

namespace {

class InputLayer final : public PassThroughOf<InputLayer> {
public:
  std::vector<int64_t> Declared;

  void read(const LayerFields &F) override { Declared = F.get("shape")->Shape; }
  const std::vector<int64_t> *declaredInput() const override {
    return &Declared;
  }
  // The spec reader moves it into Spec::InputShape, so the graph never
  // holds one.
  Error build(GraphBuilder &B) override {
    return B.fail(Pointer, "an input layer must come first");
  }
};

const LayerField Fields[] = {{"shape", FieldType::Shape, true}};
// The Keras reader takes the model's input shape from an InputLayer.
const KerasClass Keras[] = {{"InputLayer", nullptr}};

} // namespace

extern const LayerKindInfo inputKind = {
    Fields, Keras, [] { return std::unique_ptr<Layer>(new InputLayer); }};

} // namespace netjit
