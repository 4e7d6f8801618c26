// Conv.cpp - the convolutions conv1d and conv2d, y = activation(x * W + b)
// over NHWC images: their fields (Keras 3's names and defaults), Keras
// mapping, shapes and parameters (the kernel [kh, kw, in / groups, filters]
// as Keras stores it), steps forward and backward, and float64 reference.
#include "Spatial.h"

using namespace llvm;

namespace netjit {

namespace {

template <unsigned Rank> class ConvLayer final : public LayerOf<ConvLayer<Rank>> {
public:
  int64_t Filters = 0, Groups = 1;
  std::vector<int64_t> KernelSize, Strides, Dilation;
  std::string Padding;
  bool UseBias = true;
  InitKind KernelInit = InitKind::glorot_uniform, BiasInit = InitKind::zeros;
  double L1 = 0, L2 = 0;
  ActivationSpec Act;
  int Bias = -1;
  Window Win;

  void read(const LayerFields &F) override {
    Filters = F.count("filters");
    Groups = F.count("groups", 1);
    KernelSize = F.extents("kernel_size", {});
    Strides = F.extents("strides", std::vector<int64_t>(Rank, 1));
    Dilation = F.extents("dilation_rate", std::vector<int64_t>(Rank, 1));
    Padding = F.choice("padding", "valid");
    UseBias = F.flag("use_bias", true);
    KernelInit = F.init("kernel_initializer", InitKind::glorot_uniform);
    BiasInit = F.init("bias_initializer", InitKind::zeros);
    if (const FieldValue *R = F.get("kernel_regularizer")) {
      L1 = R->L1;
      L2 = R->L2;
    }
    if (const FieldValue *A = F.get("activation")) {
      Act = A->Activation;
    } else {
      Act.Name = Act.Base = "linear";
      Act.Formula = "x";
    }
  }
  ActivationSpec *activation() override { return &Act; }

  Error build(GraphBuilder &B) override {
    if (Error E = spatialInput(B, *this, Rank, Win))
      return E;
    spatialPair(KernelSize, Rank, Win.KH, Win.KW);
    spatialPair(Strides, Rank, Win.SH, Win.SW);
    spatialPair(Dilation, Rank, Win.DH, Win.DW);
    Win.OC = Filters;
    Win.Groups = Groups;
    if (Win.C % Groups || Filters % Groups)
      return B.fail(this->Pointer + "/groups",
                    formatv("groups {0} must divide the input's {1} channels "
                            "and the {2} filters",
                            Groups, Win.C, Filters)
                        .str());
    std::string K = this->Pointer + "/kernel_size";
    if (Rank == 2)
      if (Error E = windowAxis(B, K, Padding, Win.H, Win.KH, Win.SH, Win.DH,
                               Win.OH, Win.PadTop))
        return E;
    if (Error E = windowAxis(B, K, Padding, Win.W, Win.KW, Win.SW, Win.DW,
                             Win.OW, Win.PadLeft))
      return E;
    this->Shape = spatialShape(Rank, Win.OH, Win.OW, Filters);
    int64_t Taps = Win.taps(), In = Taps * Win.groupC();
    ParamInfo P;
    P.Name = this->Name + "/kernel";
    P.Shape = KernelSize;
    P.Shape.push_back(Win.groupC());
    P.Shape.push_back(Filters);
    P.Init = KernelInit;
    // Keras' fans of a convolution kernel: the receptive field times the
    // (group's) input channels, and times the filters.
    P.FanIn = In;
    P.FanOut = Taps * Filters;
    P.L1 = L1;
    P.L2 = L2;
    // Its gradient is a sum over the samples, added to sample by sample.
    P.SummedOverRows = true;
    P.Pointer = this->Pointer;
    std::string Limit = this->Pointer + "/filters";
    auto KI = B.addParam(std::move(P), Limit);
    if (!KI)
      return KI.takeError();
    this->Kernel = *KI;
    if (UseBias) {
      ParamInfo Bp;
      Bp.Name = this->Name + "/bias";
      Bp.Shape = {Filters};
      Bp.Init = BiasInit;
      Bp.FanIn = In;
      Bp.FanOut = Taps * Filters;
      Bp.SummedOverRows = true;
      Bp.Pointer = this->Pointer;
      auto BI = B.addParam(std::move(Bp), Limit);
      if (!BI)
        return BI.takeError();
      Bias = *BI;
    }
    return Error::success();
  }

  /// Per-sample scratch: the image inside its padding, which the implicit
  /// GEMMs of the forward step and the weight gradient read, or (Cols) the
  /// input gradient's im2col rows, each group's [out pixels, taps x group
  /// channels] after the other.
  int scratch(ProgramBuilder &B, StringRef What, bool Cols) const {
    TensorInfo C;
    C.Name = ("%" + this->Name + "." + What).str();
    C.Role = TensorRole::Scratch;
    C.Rows = Cols ? Win.Groups * Win.outPixels()
                  : Win.padded() ? Win.paddedH() : 1;
    C.Cols = Cols ? Win.taps() * Win.groupC()
                  : Win.padded() ? Win.paddedW() * Win.C : 1;
    return B.tensor(C);
  }

  int forward(ProgramBuilder &B, int X) const override {
    int Z = B.value(this->Name + ".z" + B.suffix(), this->Out, this->Shape);
    Step S{StepKind::Conv, {X, B.param(this->Kernel), scratch(B, "padded" + B.suffix().str(), false)}, Z};
    S.Win = Win;
    B.emit(S);
    if (Bias >= 0)
      B.emit({StepKind::BiasAdd, {Z, B.param(Bias)}, Z});
    return Z;
  }

  void backwardParams(ProgramBuilder &B, int X, int DZ) const override {
    if (Bias >= 0)
      B.emit({StepKind::ColSum, {DZ}, B.grad(Bias)});
    Step S{StepKind::ConvGradWeight, {X, DZ, scratch(B, "dw.padded", false)},
           B.grad(this->Kernel)};
    S.Win = Win;
    B.emit(S);
  }

  int backwardInput(ProgramBuilder &B, int DZ) const override {
    int DX = B.value(this->Name + ".dx", this->In, this->InShape);
    // Each group's kernel transposed, [filters, taps x group channels],
    // packed once per step so the GEMM reads its rows as whole vectors.
    TensorInfo Pack;
    Pack.Name = "%" + this->Name + ".kernel^T";
    Pack.Role = TensorRole::Scratch;
    Pack.Rows = Win.OC;
    Pack.Cols = Win.taps() * Win.groupC();
    Step S{StepKind::ConvGradInput,
           {DZ, B.param(this->Kernel), B.tensor(Pack), scratch(B, "dx.cols", true)}, DX};
    S.Win = Win;
    B.emit(S);
    return DX;
  }

  Error reference(ReferenceValues &V) const override {
    const Window &W = Win;
    const std::vector<double> &K = V.Params[this->Kernel];
    int64_t Cg = W.groupC(), OCg = W.groupOC();
    std::vector<double> Z(V.Batch * this->Out, 0.0);
    for (int64_t N = 0; N < V.Batch; ++N)
      for (int64_t Oh = 0; Oh < W.OH; ++Oh)
        for (int64_t Ow = 0; Ow < W.OW; ++Ow)
          for (int64_t Oc = 0; Oc < W.OC; ++Oc) {
            int64_t G = Oc / OCg;
            double Sum = Bias >= 0 ? V.Params[Bias][Oc] : 0.0;
            for (int64_t Kh = 0; Kh < W.KH; ++Kh)
              for (int64_t Kw = 0; Kw < W.KW; ++Kw) {
                int64_t Ih = Oh * W.SH + Kh * W.DH - W.PadTop;
                int64_t Iw = Ow * W.SW + Kw * W.DW - W.PadLeft;
                if (Ih < 0 || Ih >= W.H || Iw < 0 || Iw >= W.W)
                  continue;
                for (int64_t C = 0; C < Cg; ++C)
                  Sum += V.H[N * this->In + (Ih * W.W + Iw) * W.C + G * Cg + C] *
                         K[((Kh * W.KW + Kw) * Cg + C) * W.OC + Oc];
              }
            Z[N * this->Out + (Oh * W.OW + Ow) * W.OC + Oc] = Sum;
          }
    V.H = std::move(Z);
    return Error::success();
  }

  void print(raw_ostream &OS) const override {
    OS << " " << Win.C << " -> " << Win.OC << " channels, kernel "
       << spatialText(Rank, Win.KH, Win.KW);
    if (Win.SH > 1 || Win.SW > 1)
      OS << ", strides " << spatialText(Rank, Win.SH, Win.SW);
    if (Win.DH > 1 || Win.DW > 1)
      OS << ", dilation " << spatialText(Rank, Win.DH, Win.DW);
    if (Padding != "valid")
      OS << ", padding " << Padding;
    if (Win.Groups > 1)
      OS << ", groups " << Win.Groups;
  }

  void identity(std::map<std::string, double> &F) const override {
    F["stride_h"] = Win.SH;
    F["stride_w"] = Win.SW;
    F["dilation_h"] = Win.DH;
    F["dilation_w"] = Win.DW;
    F["pad_top"] = Win.PadTop;
    F["pad_left"] = Win.PadLeft;
    F["groups"] = Win.Groups;
  }
};

template <unsigned Rank> struct ConvFields {
  static constexpr LayerField Fields[] = {
      {"filters", FieldType::Count, true, int64_t(1) << 20},
      {"kernel_size", FieldType::Window, true, Rank},
      {"strides", FieldType::Window, false, Rank},
      {"padding", FieldType::Choice, false, 0,
       Rank == 1 ? "valid|same|causal" : "valid|same"},
      {"dilation_rate", FieldType::Window, false, Rank},
      {"groups", FieldType::Count, false, int64_t(1) << 20},
      {"activation", FieldType::Activation},
      {"use_bias", FieldType::Flag},
      {"kernel_initializer", FieldType::Initializer},
      {"bias_initializer", FieldType::Initializer},
      {"kernel_regularizer", FieldType::Regularizer},
  };
};

template <unsigned Rank> Expected<nlohmann::json> fromKeras(KerasLayer &K) {
  nlohmann::json L = {{"type", Rank == 1 ? "conv1d" : "conv2d"}};
  for (const char *F : {"filters", "kernel_size"})
    if (!K.isSet(F))
      return K.fail("missing field '" + Twine(F) + "'");
  copyKerasFields(K, L, {"filters", "kernel_size", "strides", "padding",
                         "dilation_rate", "groups", "use_bias"});
  auto A = K.activation("activation");
  if (!A)
    return A.takeError();
  L["activation"] = *A;
  for (const char *F : {"kernel_initializer", "bias_initializer"})
    if (K.isSet(F)) {
      auto I = K.initializer(F);
      if (!I)
        return I.takeError();
      L[F] = *I;
    }
  if (K.isSet("kernel_regularizer")) {
    auto R = K.regularizer("kernel_regularizer");
    if (!R)
      return R.takeError();
    L["kernel_regularizer"] = *R;
  }
  if (Error E = K.refuseSet({"bias_regularizer", "activity_regularizer",
                             "kernel_constraint", "bias_constraint"}))
    return std::move(E);
  return L;
}

const KerasClass Keras1[] = {{"Conv1D", fromKeras<1>},
                             {"Convolution1D", fromKeras<1>}};
const KerasClass Keras2[] = {{"Conv2D", fromKeras<2>},
                             {"Convolution2D", fromKeras<2>}};

} // namespace

extern const LayerKindInfo conv1dKind = {
    ConvFields<1>::Fields, Keras1,
    [] { return std::unique_ptr<Layer>(new ConvLayer<1>); }};
extern const LayerKindInfo conv2dKind = {
    ConvFields<2>::Fields, Keras2,
    [] { return std::unique_ptr<Layer>(new ConvLayer<2>); }};

} // namespace netjit
