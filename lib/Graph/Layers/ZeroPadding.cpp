// ZeroPadding.cpp - zero_padding1d and zero_padding2d: a border of zeros
// around each NHWC image (Keras' ZeroPadding1D/2D): fields, Keras mapping,
// shape, steps forward (pad) and backward (the border cropped off).
#include "Spatial.h"

using namespace llvm;

namespace netjit {

namespace {

template <unsigned Rank>
class ZeroPaddingLayer final : public LayerOf<ZeroPaddingLayer<Rank>> {
public:
  std::vector<int64_t> Pads; // [before, after] per axis
  Window Win;

  void read(const LayerFields &F) override {
    Pads = F.extents("padding", std::vector<int64_t>(2 * Rank, 1));
  }

  Error build(GraphBuilder &B) override {
    if (Error E = spatialInput(B, *this, Rank, Win))
      return E;
    int64_t Top = Rank == 2 ? Pads[0] : 0, Bottom = Rank == 2 ? Pads[1] : 0;
    Win.PadTop = Top;
    Win.PadLeft = Pads[2 * Rank - 2];
    Win.OH = Win.H + Top + Bottom;
    Win.OW = Win.W + Win.PadLeft + Pads[2 * Rank - 1];
    Win.OC = Win.C;
    this->Shape = spatialShape(Rank, Win.OH, Win.OW, Win.C);
    return Error::success();
  }

  int forward(ProgramBuilder &B, int X) const override {
    int Y = B.value(this->Name + ".y" + B.suffix(), this->Out, this->Shape);
    Step S{StepKind::Pad, {X}, Y};
    S.Win = Win;
    B.emit(S);
    return Y;
  }
  void backwardParams(ProgramBuilder &, int, int) const override {}
  int backwardInput(ProgramBuilder &B, int DY) const override {
    int DX = B.value(this->Name + ".dx", this->In, this->InShape);
    Step S{StepKind::PadGrad, {DY}, DX};
    S.Win = Win;
    B.emit(S);
    return DX;
  }

  Error reference(ReferenceValues &V) const override {
    const Window &W = Win;
    std::vector<double> Y(V.Batch * this->Out, 0.0);
    for (int64_t N = 0; N < V.Batch; ++N)
      for (int64_t H = 0; H < W.H; ++H)
        for (int64_t X = 0; X < W.W; ++X)
          for (int64_t C = 0; C < W.C; ++C)
            Y[N * this->Out + ((H + W.PadTop) * W.OW + X + W.PadLeft) * W.C +
              C] = V.H[N * this->In + (H * W.W + X) * W.C + C];
    V.H = std::move(Y);
    return Error::success();
  }

  void print(raw_ostream &OS) const override {
    OS << " padding " << formatShape(Pads);
  }
  void identity(std::map<std::string, double> &F) const override {
    F["pad_top"] = Win.PadTop;
    F["pad_left"] = Win.PadLeft;
  }
};

template <unsigned Rank> struct PadFields {
  static constexpr LayerField Fields[] = {
      {"padding", FieldType::Padding, false, Rank}};
};

template <unsigned Rank> Expected<nlohmann::json> fromKeras(KerasLayer &K) {
  nlohmann::json L = {{"type", Rank == 1 ? "zero_padding1d" : "zero_padding2d"}};
  copyKerasFields(K, L, {"padding"});
  // Keras 1-D writes one [before, after] pair, not one per axis.
  if (Rank == 1 && L.contains("padding") && L["padding"].is_array() &&
      L["padding"].size() == 2 && L["padding"][0].is_number())
    L["padding"] = nlohmann::json::array({L["padding"]});
  return L;
}

const KerasClass Keras1[] = {{"ZeroPadding1D", fromKeras<1>}};
const KerasClass Keras2[] = {{"ZeroPadding2D", fromKeras<2>}};

} // namespace

extern const LayerKindInfo zero_padding1dKind = {
    PadFields<1>::Fields, Keras1,
    [] { return std::unique_ptr<Layer>(new ZeroPaddingLayer<1>); }};
extern const LayerKindInfo zero_padding2dKind = {
    PadFields<2>::Fields, Keras2,
    [] { return std::unique_ptr<Layer>(new ZeroPaddingLayer<2>); }};

} // namespace netjit
