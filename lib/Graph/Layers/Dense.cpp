// Dense.cpp - the dense layer, y = activation(x W + b): its fields, Keras
// mapping, shapes and parameters, its steps forward and backward, and its
// float64 reference. docs/layers.md walks through this file.
#include "netjit/Graph/Layer.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace netjit {

namespace {

class DenseLayer final : public LayerOf<DenseLayer> {
public:
  int64_t Units = 0;
  bool UseBias = true;
  InitKind KernelInit = InitKind::glorot_uniform, BiasInit = InitKind::zeros;
  double L1 = 0, L2 = 0; // kernel_regularizer
  ActivationSpec Act;
  int Bias = -1; // ParamInfo index

  void read(const LayerFields &F) override {
    Units = F.count("units");
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
    if (InShape.size() != 1)
      return B.fail(Pointer, "a dense layer needs one feature axis, got " +
                                 formatShape(InShape) +
                                 "; put a flatten layer before it");
    Shape = {Units};
    ParamInfo K;
    K.Name = Name + "/kernel";
    K.Shape = {In, Units};
    K.Init = KernelInit;
    K.FanIn = In;
    K.FanOut = Units;
    K.L1 = L1;
    K.L2 = L2;
    K.Pointer = Pointer;
    std::string Limit = Pointer + "/units";
    auto KI = B.addParam(std::move(K), Limit);
    if (!KI)
      return KI.takeError();
    Kernel = *KI;
    if (UseBias) {
      ParamInfo P;
      P.Name = Name + "/bias";
      P.Shape = {Units};
      P.Init = BiasInit;
      P.FanIn = In;
      P.FanOut = Units;
      P.SummedOverRows = true;
      P.Pointer = Pointer;
      auto BI = B.addParam(std::move(P), Limit);
      if (!BI)
        return BI.takeError();
      Bias = *BI;
    }
    return Error::success();
  }

  int forward(ProgramBuilder &B, int X) const override {
    int Z = B.value(Name + ".z" + B.suffix(), Out);
    B.emit({StepKind::MatMul, {X, B.param(Kernel)}, Z});
    if (Bias >= 0)
      B.emit({StepKind::BiasAdd, {Z, B.param(Bias)}, Z});
    return Z;
  }

  void backwardParams(ProgramBuilder &B, int X, int DZ) const override {
    if (Bias >= 0)
      B.emit({StepKind::ColSum, {DZ}, B.grad(Bias)});
    Step DW{StepKind::MatMul, {X, DZ}, B.grad(Kernel)};
    DW.TransA = true;
    B.emit(DW);
  }

  int backwardInput(ProgramBuilder &B, int DZ) const override {
    int DX = B.value(Name + ".dx", In);
    // The kernel transposed, packed here each step so the GEMM reads rows
    // of it as whole vectors.
    TensorInfo Pack;
    Pack.Name = "%" + Name + ".kernel^T";
    Pack.Role = TensorRole::Scratch;
    Pack.Rows = Out;
    Pack.Cols = In;
    Step MM{StepKind::MatMul, {DZ, B.param(Kernel), B.tensor(Pack)}, DX};
    MM.TransB = true;
    B.emit(MM);
    return DX;
  }

  Error reference(ReferenceValues &V) const override {
    std::vector<double> Z(V.Batch * Out, 0.0);
    const std::vector<double> &W = V.Params[Kernel];
    for (int64_t R = 0; R < V.Batch; ++R)
      for (int64_t K = 0; K < In; ++K) {
        double A = V.H[R * In + K];
        for (int64_t J = 0; J < Out; ++J)
          Z[R * Out + J] += A * W[K * Out + J];
      }
    if (Bias >= 0)
      for (int64_t R = 0; R < V.Batch; ++R)
        for (int64_t J = 0; J < Out; ++J)
          Z[R * Out + J] += V.Params[Bias][J];
    V.H = std::move(Z);
    return Error::success();
  }

  void print(raw_ostream &OS) const override { OS << " " << In << " -> " << Out; }
};

const LayerField Fields[] = {
    {"units", FieldType::Count, true, int64_t(1) << 24},
    {"activation", FieldType::Activation},
    {"use_bias", FieldType::Flag},
    {"kernel_initializer", FieldType::Initializer},
    {"bias_initializer", FieldType::Initializer},
    {"kernel_regularizer", FieldType::Regularizer},
};

Expected<nlohmann::json> fromKeras(KerasLayer &K) {
  const nlohmann::json &C = K.config();
  nlohmann::json L = {{"type", "dense"}};
  if (!C.contains("units"))
    return K.fail("missing field 'units'");
  L["units"] = C["units"];
  auto A = K.activation("activation");
  if (!A)
    return A.takeError();
  L["activation"] = *A;
  if (C.contains("use_bias"))
    L["use_bias"] = C["use_bias"];
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

const KerasClass Keras[] = {{"Dense", fromKeras}};

} // namespace

extern const LayerKindInfo denseKind = {
    Fields, Keras, [] { return std::unique_ptr<Layer>(new DenseLayer); }};

} // namespace netjit
