// Flatten.cpp - the flatten layer: the features as one axis. Values are
// stored row-major per sample, so it moves no data.
#include "netjit/Graph/Layer.h"

using namespace llvm;

namespace netjit {

namespace {

class FlattenLayer final : public PassThroughOf<FlattenLayer> {
public:
  void read(const LayerFields &) override {}
  Error build(GraphBuilder &) override {
    Shape = {In};
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
