// Reshape.cpp - the reshape layer: the same features under other extents
// (one may be -1, inferred). Values are stored row-major per sample, so it
// moves no data.
#include "netjit/Graph/Layer.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace netjit {

namespace {

class ReshapeLayer final : public PassThroughOf<ReshapeLayer> {
public:
  std::vector<int64_t> Target;

  void read(const LayerFields &F) override {
    Target = F.extents("target_shape", {});
  }
  Error build(GraphBuilder &B) override {
    int64_t Known = 1;
    for (int64_t E : Target)
      if (E > 0)
        Known *= E;
    Shape = Target;
    for (int64_t &E : Shape)
      if (E < 0 && In % Known == 0)
        E = In / Known;
    int64_t Size = 1;
    for (int64_t E : Shape)
      Size *= E < 0 ? 0 : E;
    if (Size != In)
      return B.fail(Pointer + "/target_shape",
                    formatv("a target shape of {0} features for an input of "
                            "{1} ({2} features)",
                            Size, formatShape(InShape), In)
                        .str());
    return Error::success();
  }
};

const LayerField Fields[] = {
    {"target_shape", FieldType::TargetShape, true}};

Expected<nlohmann::json> fromKeras(KerasLayer &K) {
  if (!K.isSet("target_shape"))
    return K.fail("missing field 'target_shape'");
  return nlohmann::json{{"type", "reshape"},
                        {"target_shape", K.config()["target_shape"]}};
}

const KerasClass Keras[] = {{"Reshape", fromKeras}};

} // namespace

extern const LayerKindInfo reshapeKind = {
    Fields, Keras, [] { return std::unique_ptr<Layer>(new ReshapeLayer); }};

} // namespace netjit
