// Merge.cpp - the add layer: the sum of two or more inputs of one shape,
// element by element (Keras' Add). Its gradient is the output's, for
// every input; a value several layers read gets the sum of their
// gradients (TrainGraph).
#include "netjit/Graph/Layer.h"
#include "netjit/Support/Diagnostics.h"

using namespace llvm;

namespace netjit {

namespace {

class AddLayer final : public LayerOf<AddLayer> {
public:
  void read(const LayerFields &) override {}
  Error build(GraphBuilder &B) override {
    for (size_t K = 1; K < InShapes.size(); ++K)
      if (InShapes[K] != InShapes[0])
        return B.fail(Pointer + "/inputs",
                      "add: input '" + InputNames.at(K) + "' is " +
                          formatShape(InShapes[K]) + " but '" +
                          InputNames.at(0) + "' is " +
                          formatShape(InShapes[0]) +
                          "; every input must have the same shape");
    Shape = InShape;
    return Error::success();
  }
  int forward(ProgramBuilder &B, int) const override {
    int Y = B.value(Name + ".y" + B.suffix(), Out, Shape);
    B.emit({StepKind::Add, B.inputs().vec(), Y});
    return Y;
  }
  void backwardParams(ProgramBuilder &, int, int) const override {}
  int backwardInput(ProgramBuilder &, int DY) const override { return DY; }
  std::vector<int> backwardInputs(ProgramBuilder &, int DY) const override {
    return std::vector<int>(Inputs.size(), DY);
  }
  Error reference(ReferenceValues &V) const override {
    for (size_t K = 1; K < V.Inputs.size(); ++K)
      for (size_t I = 0; I < V.H.size(); ++I)
        V.H[I] += (*V.Inputs[K])[I];
    return Error::success();
  }
};

Expected<nlohmann::json> addFromKeras(KerasLayer &) {
  return nlohmann::json{{"type", "add"}};
}

// A functional model's Add (a Sequential model cannot give it two inputs).
const KerasClass AddKeras[] = {{"Add", addFromKeras}};

} // namespace

extern const LayerKindInfo addKind = {
    {}, AddKeras, [] { return std::unique_ptr<Layer>(new AddLayer); }, 0};

} // namespace netjit
