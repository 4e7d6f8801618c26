// Flatten.cpp - the flatten layer: the features as one axis. Values are
// stored row-major per sample, so it moves no data.
#include "netjit/Graph/Layer.h"

using namespace llvm;

namespace netjit {

namespace {

class FlattenLayer final : public LayerOf<FlattenLayer> {
public:
  void read(const LayerFields &) override {}
  Error build(GraphBuilder &) override {
    Shape = {In};
    return Error::success();
  }
  int forward(ProgramBuilder &, int X) const override { return X; }
  void backwardParams(ProgramBuilder &, int, int) const override {}
  int backwardInput(ProgramBuilder &, int DY) const override { return DY; }
  Error reference(ReferenceValues &) const override {
    return Error::success();
  }
};

Expected<nlohmann::json> fromKeras(KerasLayer &) {
  return nlohmann::json{{"type", "flatten"}};
}

const KerasClass Keras[] = {{"Flatten", fromKeras}};

} // namespace

extern const LayerKindInfo flattenKind = {
    {}, Keras, [] { return std::unique_ptr<Layer>(new FlattenLayer); }};

} // namespace netjit
