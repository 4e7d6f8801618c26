// Dropout.cpp - the dropout layer: while training, zeroes each feature with
// probability rate and scales the rest by 1 / (1 - rate); the mask comes
// from (seed, step, layer, row, column), so backward redraws it.
#include "netjit/Graph/Layer.h"
#include "netjit/Expr/Expr.h"
#include "netjit/Support/Diagnostics.h"

using namespace llvm;

namespace netjit {

namespace {

class DropoutLayer final : public LayerOf<DropoutLayer> {
public:
  double Rate = 0;

  void read(const LayerFields &F) override { Rate = F.number("rate"); }
  Error build(GraphBuilder &) override {
    Shape = InShape;
    return Error::success();
  }
  // Evaluate and predict pass the values through.
  int forward(ProgramBuilder &B, int X) const override {
    if (!B.training())
      return X;
    int Y = B.value(Name + ".y", Out);
    Step D{StepKind::Dropout, {X}, Y};
    D.Rate = Rate;
    D.Layer = B.layerIndex();
    B.emit(D);
    return Y;
  }
  void backwardParams(ProgramBuilder &, int, int) const override {}
  int backwardInput(ProgramBuilder &B, int DY) const override {
    int DX = B.value(Name + ".dx", In);
    Step D{StepKind::DropoutGrad, {DY}, DX};
    D.Rate = Rate;
    D.Layer = B.layerIndex();
    B.emit(D);
    return DX;
  }
  Error reference(ReferenceValues &) const override {
    return plainError(ErrorKind::Usage,
                      "gradcheck: networks with dropout are not checked "
                      "(the reference cannot draw the compiled masks)");
  }
  void print(raw_ostream &OS) const override {
    OS << " rate " << formatNumber(Rate);
  }
  void identity(std::map<std::string, double> &Fields) const override {
    Fields["rate"] = Rate;
  }
};

const LayerField Fields[] = {{"rate", FieldType::Fraction, true}};

Expected<nlohmann::json> fromKeras(KerasLayer &K) {
  if (K.isSet("noise_shape"))
    return K.fail("noise_shape is not supported", "noise_shape");
  return nlohmann::json{{"type", "dropout"},
                        {"rate", K.config().value("rate", nlohmann::json(0.0))}};
}

const KerasClass Keras[] = {{"Dropout", fromKeras}};

} // namespace

extern const LayerKindInfo dropoutKind = {
    Fields, Keras, [] { return std::unique_ptr<Layer>(new DropoutLayer); }};

} // namespace netjit
