// Pooling.cpp - max and average pooling over NHWC images, 1-D and 2-D
// (max_pooling1d/2d, average_pooling1d/2d), and their global forms
// (global_max_pooling1d/2d, global_average_pooling1d/2d: one window over
// the whole image): fields with Keras 3's names and defaults, Keras
// mapping, shapes, steps forward and backward, float64 reference.
#include "Spatial.h"

#include <cmath>

using namespace llvm;

namespace netjit {

namespace {

/// What every pooling kind shares once its window is set.
template <typename Derived, unsigned Rank, bool Global>
class PoolingOf : public LayerOf<Derived> {
public:
  bool Max = true;
  std::string Padding = "valid";
  Window Win;

  int forward(ProgramBuilder &B, int X) const override {
    int Y = B.value(this->Name + ".y" + B.suffix(), this->Out, this->Shape);
    Step S{Max ? StepKind::MaxPool : StepKind::AvgPool, {X}, Y};
    S.Win = Win;
    if (Max && B.training()) {
      // Which tap each max came from, for the backward pass: a quarter of
      // a 2x2 pool's input, so the input need not be kept (nor read back).
      S.Out2 = B.value(this->Name + ".arg", this->Out, this->Shape);
      B.keep(S.Out2);
    }
    B.emit(S);
    return Y;
  }
  void backwardParams(ProgramBuilder &, int, int) const override {}
  int backwardInput(ProgramBuilder &B, int DY) const override {
    int DX = B.value(this->Name + ".dx", this->In, this->InShape);
    Step S{StepKind::AvgPoolGrad, {DY}, DX};
    if (Max)
      S = Step{StepKind::MaxPoolGrad, {DY, B.forwardKept()}, DX};
    S.Win = Win;
    B.emit(S);
    return DX;
  }

  Error reference(ReferenceValues &V) const override {
    const Window &W = Win;
    std::vector<double> Y(V.Batch * this->Out, 0.0);
    for (int64_t N = 0; N < V.Batch; ++N)
      for (int64_t Oh = 0; Oh < W.OH; ++Oh)
        for (int64_t Ow = 0; Ow < W.OW; ++Ow)
          for (int64_t C = 0; C < W.C; ++C) {
            double Acc = Max ? -INFINITY : 0.0;
            int64_t Taps = 0;
            for (int64_t Kh = 0; Kh < W.KH; ++Kh)
              for (int64_t Kw = 0; Kw < W.KW; ++Kw) {
                int64_t Ih = Oh * W.SH + Kh - W.PadTop;
                int64_t Iw = Ow * W.SW + Kw - W.PadLeft;
                if (Ih < 0 || Ih >= W.H || Iw < 0 || Iw >= W.W)
                  continue;
                double X = V.H[N * this->In + (Ih * W.W + Iw) * W.C + C];
                Acc = Max ? std::max(Acc, X) : Acc + X;
                ++Taps;
              }
            Y[N * this->Out + (Oh * W.OW + Ow) * W.C + C] =
                Max ? Acc : Acc / Taps;
          }
    V.H = std::move(Y);
    return Error::success();
  }

  void print(raw_ostream &OS) const override {
    if (Global)
      return;
    OS << " " << spatialText(Rank, Win.KH, Win.KW);
    if (Win.SH != Win.KH || Win.SW != Win.KW)
      OS << ", strides " << spatialText(Rank, Win.SH, Win.SW);
    if (Padding == "same")
      OS << ", padding same";
  }
  void identity(std::map<std::string, double> &F) const override {
    F["max"] = Max;
    F["pool_h"] = Win.KH;
    F["pool_w"] = Win.KW;
    F["stride_h"] = Win.SH;
    F["stride_w"] = Win.SW;
    F["pad_top"] = Win.PadTop;
    F["pad_left"] = Win.PadLeft;
  }
};

template <unsigned Rank, bool IsMax>
class PoolingLayer final
    : public PoolingOf<PoolingLayer<Rank, IsMax>, Rank, false> {
public:
  std::vector<int64_t> PoolSize, Strides;

  void read(const LayerFields &F) override {
    this->Max = IsMax;
    PoolSize = F.extents("pool_size", std::vector<int64_t>(Rank, 2));
    // Keras: strides default to the pool size.
    Strides = F.extents("strides", PoolSize);
    this->Padding = F.choice("padding", "valid");
  }

  Error build(GraphBuilder &B) override {
    Window &W = this->Win;
    if (Error E = spatialInput(B, *this, Rank, W))
      return E;
    spatialPair(PoolSize, Rank, W.KH, W.KW);
    spatialPair(Strides, Rank, W.SH, W.SW);
    W.OC = W.C;
    std::string P = this->Pointer + "/pool_size";
    if (Rank == 2)
      if (Error E =
              windowAxis(B, P, this->Padding, W.H, W.KH, W.SH, 1, W.OH, W.PadTop))
        return E;
    if (Error E =
            windowAxis(B, P, this->Padding, W.W, W.KW, W.SW, 1, W.OW, W.PadLeft))
      return E;
    this->Shape = spatialShape(Rank, W.OH, W.OW, W.C);
    return Error::success();
  }
};

template <unsigned Rank, bool IsMax>
class GlobalPoolingLayer final
    : public PoolingOf<GlobalPoolingLayer<Rank, IsMax>, Rank, true> {
public:
  bool KeepDims = false;

  void read(const LayerFields &F) override {
    this->Max = IsMax;
    KeepDims = F.flag("keepdims", false);
  }

  Error build(GraphBuilder &B) override {
    Window &W = this->Win;
    if (Error E = spatialInput(B, *this, Rank, W))
      return E;
    W.KH = W.H;
    W.KW = W.W;
    W.OC = W.C;
    this->Shape = KeepDims ? spatialShape(Rank, 1, 1, W.C)
                           : std::vector<int64_t>{W.C};
    return Error::success();
  }
};

template <unsigned Rank> struct PoolFields {
  static constexpr LayerField Fields[] = {
      {"pool_size", FieldType::Window, false, Rank},
      {"strides", FieldType::Window, false, Rank},
      {"padding", FieldType::Choice, false, 0, "valid|same"},
  };
};
const LayerField GlobalFields[] = {{"keepdims", FieldType::Flag}};

template <unsigned Rank, bool IsMax>
Expected<nlohmann::json> poolFromKeras(KerasLayer &K) {
  nlohmann::json L = {{"type", std::string(IsMax ? "max" : "average") +
                                   "_pooling" + (Rank == 1 ? "1d" : "2d")}};
  copyKerasFields(K, L, {"pool_size", "strides", "padding"});
  return L;
}

template <unsigned Rank, bool IsMax>
Expected<nlohmann::json> globalFromKeras(KerasLayer &K) {
  nlohmann::json L = {
      {"type", std::string("global_") + (IsMax ? "max" : "average") +
                   "_pooling" + (Rank == 1 ? "1d" : "2d")}};
  copyKerasFields(K, L, {"keepdims"});
  return L;
}

template <typename L> std::unique_ptr<Layer> create() {
  return std::unique_ptr<Layer>(new L);
}

const KerasClass MaxKeras1[] = {{"MaxPooling1D", poolFromKeras<1, true>},
                                {"MaxPool1D", poolFromKeras<1, true>}};
const KerasClass MaxKeras2[] = {{"MaxPooling2D", poolFromKeras<2, true>},
                                {"MaxPool2D", poolFromKeras<2, true>}};
const KerasClass AvgKeras1[] = {{"AveragePooling1D", poolFromKeras<1, false>},
                                {"AvgPool1D", poolFromKeras<1, false>}};
const KerasClass AvgKeras2[] = {{"AveragePooling2D", poolFromKeras<2, false>},
                                {"AvgPool2D", poolFromKeras<2, false>}};
const KerasClass GMaxKeras1[] = {
    {"GlobalMaxPooling1D", globalFromKeras<1, true>},
    {"GlobalMaxPool1D", globalFromKeras<1, true>}};
const KerasClass GMaxKeras2[] = {
    {"GlobalMaxPooling2D", globalFromKeras<2, true>},
    {"GlobalMaxPool2D", globalFromKeras<2, true>}};
const KerasClass GAvgKeras1[] = {
    {"GlobalAveragePooling1D", globalFromKeras<1, false>},
    {"GlobalAvgPool1D", globalFromKeras<1, false>}};
const KerasClass GAvgKeras2[] = {
    {"GlobalAveragePooling2D", globalFromKeras<2, false>},
    {"GlobalAvgPool2D", globalFromKeras<2, false>}};

} // namespace

extern const LayerKindInfo max_pooling1dKind = {
    PoolFields<1>::Fields, MaxKeras1, create<PoolingLayer<1, true>>};
extern const LayerKindInfo max_pooling2dKind = {
    PoolFields<2>::Fields, MaxKeras2, create<PoolingLayer<2, true>>};
extern const LayerKindInfo average_pooling1dKind = {
    PoolFields<1>::Fields, AvgKeras1, create<PoolingLayer<1, false>>};
extern const LayerKindInfo average_pooling2dKind = {
    PoolFields<2>::Fields, AvgKeras2, create<PoolingLayer<2, false>>};
extern const LayerKindInfo global_max_pooling1dKind = {
    GlobalFields, GMaxKeras1, create<GlobalPoolingLayer<1, true>>};
extern const LayerKindInfo global_max_pooling2dKind = {
    GlobalFields, GMaxKeras2, create<GlobalPoolingLayer<2, true>>};
extern const LayerKindInfo global_average_pooling1dKind = {
    GlobalFields, GAvgKeras1, create<GlobalPoolingLayer<1, false>>};
extern const LayerKindInfo global_average_pooling2dKind = {
    GlobalFields, GAvgKeras2, create<GlobalPoolingLayer<2, false>>};

} // namespace netjit
