// Activation.cpp - the activation layer: an activation on its own (the
// program applies it as it does a dense layer's), and the Keras classes
// that are activations in layer form.
#include "netjit/Graph/Layer.h"

using namespace llvm;
using json = nlohmann::json;

namespace netjit {

namespace {

class ActivationLayer final : public PassThroughOf<ActivationLayer> {
public:
  ActivationSpec Act;

  void read(const LayerFields &F) override {
    Act = F.get("activation")->Activation;
  }
  ActivationSpec *activation() override { return &Act; }
  Error build(GraphBuilder &) override {
    Shape = InShape;
    return Error::success();
  }
};

const LayerField Fields[] = {{"activation", FieldType::Activation, true}};

json layer(json Activation) {
  return {{"type", "activation"}, {"activation", std::move(Activation)}};
}

Expected<json> activation(KerasLayer &K) {
  auto A = K.activation("activation");
  if (!A)
    return A.takeError();
  return layer(*A);
}

// Keras 2's alpha, Keras 3's negative_slope; both default to 0.3.
Expected<json> leakyRelu(KerasLayer &K) {
  return layer({{"name", "leaky_relu"},
                {"alpha", K.number({"negative_slope", "alpha"}, 0.3)}});
}

// One trained slope per unit (shared_axes unset), starting at
// alpha_initializer (Keras: zeros).
Expected<json> prelu(KerasLayer &K) {
  if (K.isSet("shared_axes"))
    return K.fail("shared axes are not supported", "shared_axes");
  double Init = 0;
  if (K.isSet("alpha_initializer")) {
    auto A = K.initializer("alpha_initializer");
    if (!A)
      return A.takeError();
    if (*A == "ones")
      Init = 1;
    else if (*A != "zeros")
      return K.fail("PReLU's alpha starts at Zeros or Ones only",
                    "alpha_initializer");
  }
  return layer({{"name", "prelu"},
                {"per_unit", true},
                {"alpha", {{"init", Init}, {"trainable", true}}}});
}

Expected<json> elu(KerasLayer &K) {
  return layer({{"name", "elu"}, {"alpha", K.number({"alpha"}, 1.0)}});
}

Expected<json> relu(KerasLayer &K) {
  double Slope = K.number({"negative_slope"}, 0);
  if (K.isSet("max_value"))
    return K.fail("max_value is not supported", "max_value");
  if (K.number({"threshold"}, 0) != 0)
    return K.fail("a non-zero threshold is not supported", "threshold");
  return layer(Slope ? json{{"name", "leaky_relu"}, {"alpha", Slope}}
                     : json("relu"));
}

Expected<json> softmax(KerasLayer &K) {
  const json &C = K.config();
  if (C.contains("axis") && C["axis"] != -1 &&
      !(C["axis"].is_array() && C["axis"].size() == 1 && C["axis"][0] == -1))
    return K.fail("only axis -1 is supported", "axis");
  return layer("softmax");
}

const KerasClass Keras[] = {{"Activation", activation}, {"LeakyReLU", leakyRelu},
                            {"PReLU", prelu},           {"ELU", elu},
                            {"ReLU", relu},             {"Softmax", softmax}};

} // namespace

extern const LayerKindInfo activationKind = {
    Fields, Keras, [] { return std::unique_ptr<Layer>(new ActivationLayer); }};

} // namespace netjit
