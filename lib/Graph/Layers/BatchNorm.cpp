// BatchNorm.cpp - the batch normalization layer (Keras 3's names and
// defaults): y = gamma (x - mean) / sqrt(variance + epsilon) + beta per
// channel (the last axis). Training normalizes with the batch's mean and
// biased variance over its rows and pixels, and each update moves the
// moving statistics by Keras' rule, moving = momentum moving + (1 -
// momentum) batch; evaluate and predict normalize with the moving ones.
//
// The steps: channel_stats sums x - K and its square per channel (K, the
// moving mean, is a shift that keeps the one-pass variance accurate),
// norm_coeffs turns the sums into y = (x - mean) a + beta's a, and affine
// applies it; backward sums dy and dy (x - K) the same way and
// norm_grad_coeffs turns them into gamma's and beta's gradients and
// dx = dy a + (x - mean) e + b.
#include "netjit/Graph/Layer.h"
#include "netjit/Expr/Expr.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/Support/FormatVariadic.h"
#include <cmath>

using namespace llvm;

namespace netjit {

namespace {

class BatchNormLayer final : public LayerOf<BatchNormLayer> {
public:
  int64_t Axis = -1;
  double Momentum = 0.99, Epsilon = 1e-3;
  bool Center = true, Scale = true;
  InitKind BetaInit = InitKind::zeros, GammaInit = InitKind::ones,
           MeanInit = InitKind::zeros, VarInit = InitKind::ones;
  // ParamInfo indices (-1: not used).
  int Gamma = -1, Beta = -1, MovingMean = -1, MovingVar = -1;

  void read(const LayerFields &F) override {
    Axis = F.count("axis", -1);
    Momentum = F.number("momentum", 0.99);
    Epsilon = F.number("epsilon", 1e-3);
    Center = F.flag("center", true);
    Scale = F.flag("scale", true);
    BetaInit = F.init("beta_initializer", InitKind::zeros);
    GammaInit = F.init("gamma_initializer", InitKind::ones);
    MeanInit = F.init("moving_mean_initializer", InitKind::zeros);
    VarInit = F.init("moving_variance_initializer", InitKind::ones);
  }

  int64_t channels() const { return InShape.back(); }
  int64_t pixels() const { return In / channels(); }

  Error build(GraphBuilder &B) override {
    auto A = inputAxis(B, *this, Axis);
    if (!A)
      return A.takeError();
    if (*A + 1 != InShape.size())
      return B.fail(Pointer + "/axis",
                    formatv("batch_normalization: axis {0} of {1} is not "
                            "supported; only the last axis (-1, the "
                            "channels) is normalized over",
                            Axis, formatShape(InShape))
                        .str());
    Shape = InShape;
    auto Add = [&](const char *Suffix, InitKind Init, bool Trainable,
                   int &Index) -> Error {
      ParamInfo P;
      P.Name = Name + "/" + Suffix;
      P.Shape = {channels()};
      P.Init = Init;
      P.FanIn = P.FanOut = channels();
      P.Trainable = Trainable;
      P.Pointer = Pointer;
      auto I = B.addParam(std::move(P), Pointer);
      if (!I)
        return I.takeError();
      Index = *I;
      return Error::success();
    };
    if (Scale)
      if (Error E = Add("gamma", GammaInit, true, Gamma))
        return E;
    if (Center)
      if (Error E = Add("beta", BetaInit, true, Beta))
        return E;
    if (Error E = Add("moving_mean", MeanInit, false, MovingMean))
      return E;
    return Add("moving_variance", VarInit, false, MovingVar);
  }

  NormInfo info(bool Batch) const {
    NormInfo N;
    N.Channels = channels();
    N.Pixels = pixels();
    N.Epsilon = Epsilon;
    N.Momentum = Momentum;
    N.Batch = Batch;
    N.Scale = Gamma >= 0;
    N.Center = Beta >= 0;
    return N;
  }
  TensorInfo perChannel(const Twine &Suffix, int64_t Vectors) const {
    TensorInfo T;
    T.Name = ("%" + Name + Suffix).str();
    T.Role = TensorRole::Scratch;
    T.Cols = Vectors * channels();
    return T;
  }

  int forward(ProgramBuilder &B, int X) const override {
    std::vector<int> Ins;
    int Stats = -1;
    if (B.training()) {
      Stats = B.accumulator(perChannel(".stats", 2));
      Step S{StepKind::ChannelStats, {X, B.param(MovingMean)}, Stats};
      S.Norm = info(true);
      B.emit(S);
      Ins.push_back(Stats);
    }
    Ins.push_back(B.param(MovingMean));
    Ins.push_back(B.param(MovingVar));
    if (Gamma >= 0)
      Ins.push_back(B.param(Gamma));
    if (Beta >= 0)
      Ins.push_back(B.param(Beta));
    int F = B.tensor(perChannel(".coeffs" + B.suffix(), 5));
    Step N{StepKind::NormCoeffs, Ins, F};
    N.Norm = info(B.training());
    B.emit(N);
    int Y = B.value(Name + ".y" + B.suffix(), Out, Shape);
    Step A{StepKind::Affine, {X, F}, Y};
    A.Norm = N.Norm;
    B.emit(A);
    if (B.training()) {
      B.keep(F);
      // The backward coefficients, written by backwardParams.
      B.keep(B.tensor(perChannel(".dcoeffs", 4)));
      Step M{StepKind::MovingStats, {F}, B.param(MovingMean)};
      M.Out2 = B.param(MovingVar);
      M.Norm = N.Norm;
      B.emitOnUpdate(M);
    }
    return Y;
  }

  void backwardParams(ProgramBuilder &B, int X, int DY) const override {
    int Sums = B.accumulator(perChannel(".dstats", 2));
    Step S{StepKind::ChannelStats, {X, B.param(MovingMean), DY}, Sums};
    S.Norm = info(true);
    B.emit(S);
    std::vector<int> Ins = {Sums, B.forwardKept(0), B.param(MovingMean)};
    if (Gamma >= 0)
      Ins.push_back(B.param(Gamma));
    Step G{StepKind::NormGradCoeffs, Ins, B.forwardKept(1)};
    G.Out2 = Gamma >= 0 ? B.grad(Gamma) : -1;
    G.Out3 = Beta >= 0 ? B.grad(Beta) : -1;
    G.Norm = S.Norm;
    B.emit(G);
  }

  int backwardInput(ProgramBuilder &B, int DY) const override {
    int DX = B.value(Name + ".dx", In, InShape);
    Step A{StepKind::Affine, {DY, B.forwardKept(1), B.forwardInput()}, DX};
    A.Norm = info(true);
    B.emit(A);
    return DX;
  }

  Error reference(ReferenceValues &V) const override {
    // Training mode, as gradcheck differentiates it: the batch's
    // statistics, per channel over every row and pixel.
    int64_t C = channels(), N = V.Batch * pixels();
    std::vector<double> Mean(C, 0.0), Var(C, 0.0);
    for (size_t I = 0; I < V.H.size(); ++I)
      Mean[I % C] += V.H[I];
    for (double &M : Mean)
      M /= N;
    for (size_t I = 0; I < V.H.size(); ++I)
      Var[I % C] += (V.H[I] - Mean[I % C]) * (V.H[I] - Mean[I % C]);
    for (size_t I = 0; I < V.H.size(); ++I) {
      int64_t J = I % C;
      double G = Gamma >= 0 ? V.Params[Gamma][J] : 1.0;
      double Bt = Beta >= 0 ? V.Params[Beta][J] : 0.0;
      V.H[I] = G * (V.H[I] - Mean[J]) / std::sqrt(Var[J] / N + Epsilon) + Bt;
    }
    return Error::success();
  }

  void print(raw_ostream &OS) const override {
    OS << " " << channels() << " channels, momentum " << formatNumber(Momentum)
       << ", epsilon " << formatNumber(Epsilon);
    if (!Scale || !Center)
      OS << (Scale ? ", no beta" : Center ? ", no gamma" : ", no gamma or beta");
  }
  void identity(std::map<std::string, double> &Fields) const override {
    Fields["epsilon"] = Epsilon;
  }
};

const LayerField Fields[] = {
    {"axis", FieldType::Axis},
    {"momentum", FieldType::Fraction},
    {"epsilon", FieldType::Positive},
    {"center", FieldType::Flag},
    {"scale", FieldType::Flag},
    {"beta_initializer", FieldType::Initializer},
    {"gamma_initializer", FieldType::Initializer},
    {"moving_mean_initializer", FieldType::Initializer},
    {"moving_variance_initializer", FieldType::Initializer},
};

Expected<nlohmann::json> fromKeras(KerasLayer &K) {
  const nlohmann::json &C = K.config();
  nlohmann::json L = {{"type", "batch_normalization"}};
  if (K.isSet("axis")) {
    // Keras 2 writes a list of axes.
    nlohmann::json A = C["axis"];
    if (A.is_array()) {
      if (A.size() != 1)
        return K.fail("normalizing over several axes is not supported",
                      "axis");
      A = A[0];
    }
    L["axis"] = A;
  }
  for (const char *F : {"momentum", "epsilon", "center", "scale"})
    if (K.isSet(F))
      L[F] = C[F];
  for (const char *F : {"beta_initializer", "gamma_initializer",
                        "moving_mean_initializer",
                        "moving_variance_initializer"})
    if (K.isSet(F)) {
      auto I = K.initializer(F);
      if (!I)
        return I.takeError();
      L[F] = *I;
    }
  if (C.contains("renorm") && C["renorm"].is_boolean() && C["renorm"])
    return K.fail("'renorm' is not supported", "renorm");
  if (C.contains("synchronized") && C["synchronized"].is_boolean() &&
      C["synchronized"])
    return K.fail("'synchronized' is not supported", "synchronized");
  if (Error E = K.refuseSet({"beta_regularizer", "gamma_regularizer",
                             "beta_constraint", "gamma_constraint",
                             "virtual_batch_size", "adjustment"}))
    return std::move(E);
  return L;
}

const KerasClass Keras[] = {{"BatchNormalization", fromKeras}};

} // namespace

extern const LayerKindInfo batch_normalizationKind = {
    Fields, Keras,
    [] { return std::unique_ptr<Layer>(new BatchNormLayer); }};

} // namespace netjit
