// NormTest.cpp - batch normalization against a float64 implementation of
// Keras' rule: ten SGD steps of a dense layer and batch normalization (and
// of batch normalization over image channels), then the weights, gamma,
// beta, the moving statistics and the evaluate-mode outputs compared; and
// two threads (which must not split a batch-coupled step) against one.
#include "TestUtil.h"

#include "netjit/Runtime/GradCheck.h"

#include <random>

using namespace netjit;

namespace {

using test::compileSpec;
using Vec = std::vector<double>;

/// Keras' BatchNormalization over the channels (the last axis) of Rows
/// rows of Pixels x C values, in float64: training mode normalizes with the
/// batch's mean and biased variance and moves the moving statistics,
/// inference mode uses the moving ones.
struct BatchNormRef {
  int64_t C, Pixels;
  double Momentum, Epsilon;
  Vec Gamma, Beta, MovingMean, MovingVar;
  // The last training forward pass, for backward.
  Vec Mean, Var, XHat;

  Vec forward(const Vec &X, int64_t Rows, bool Training) {
    int64_t N = Rows * Pixels;
    Mean.assign(C, 0);
    Var.assign(C, 0);
    if (Training) {
      for (size_t I = 0; I < X.size(); ++I)
        Mean[I % C] += X[I] / N;
      for (size_t I = 0; I < X.size(); ++I)
        Var[I % C] += (X[I] - Mean[I % C]) * (X[I] - Mean[I % C]) / N;
    } else {
      Mean = MovingMean;
      Var = MovingVar;
    }
    Vec Y(X.size());
    XHat.resize(X.size());
    for (size_t I = 0; I < X.size(); ++I) {
      int64_t J = I % C;
      XHat[I] = (X[I] - Mean[J]) / std::sqrt(Var[J] + Epsilon);
      Y[I] = Gamma[J] * XHat[I] + Beta[J];
    }
    return Y;
  }
  /// dx from dy; gamma's and beta's gradients into DGamma, DBeta.
  Vec backward(const Vec &DY, int64_t Rows, Vec &DGamma, Vec &DBeta) const {
    double N = Rows * Pixels;
    DGamma.assign(C, 0);
    DBeta.assign(C, 0);
    for (size_t I = 0; I < DY.size(); ++I) {
      DGamma[I % C] += DY[I] * XHat[I];
      DBeta[I % C] += DY[I];
    }
    Vec DX(DY.size());
    for (size_t I = 0; I < DY.size(); ++I) {
      int64_t J = I % C;
      DX[I] = Gamma[J] / std::sqrt(Var[J] + Epsilon) *
              (DY[I] - DBeta[J] / N - XHat[I] * DGamma[J] / N);
    }
    return DX;
  }
  void moveStatistics() {
    for (int64_t J = 0; J < C; ++J) {
      MovingMean[J] = Momentum * MovingMean[J] + (1 - Momentum) * Mean[J];
      MovingVar[J] = Momentum * MovingVar[J] + (1 - Momentum) * Var[J];
    }
  }
};

int paramIndex(CompiledModel &M, const std::string &Name) {
  const auto &Ps = M.network().params();
  for (size_t P = 0; P < Ps.size(); ++P)
    if (Ps[P].Name == Name)
      return P;
  ADD_FAILURE() << "no parameter " << Name;
  return 0;
}

Vec paramValues(CompiledModel &M, const std::string &Name) {
  int P = paramIndex(M, Name);
  const float *V = M.param(P);
  return Vec(V, V + M.network().params()[P].size());
}

void expectClose(const Vec &Compiled, const Vec &Ref, const std::string &What) {
  ASSERT_EQ(Compiled.size(), Ref.size()) << What;
  for (size_t I = 0; I < Ref.size(); ++I)
    EXPECT_NEAR(Compiled[I], Ref[I], 1e-5 * std::max(1.0, std::fabs(Ref[I])))
        << What << "[" << I << "]";
}

/// Ten steps of SGD on mse, Dense (if In) then BatchNorm over Shape's last
/// axis, compiled and in float64, from the same initial weights.
void trainAgainstReference(const std::string &Input, int64_t Features,
                           int64_t DenseUnits, int64_t C) {
  const int64_t Batch = 8, Steps = 10;
  const double Lr = 0.1, Momentum = 0.9, Epsilon = 1e-3;
  std::string Layers;
  if (DenseUnits)
    Layers += R"({"type": "dense", "units": )" + std::to_string(DenseUnits) +
              R"(, "use_bias": false, "name": "d"}, )";
  Layers += R"({"type": "batch_normalization", "name": "bn", "momentum": 0.9})";
  std::string Text = R"({"input": {"shape": )" + Input + R"(}, "layers": [)" +
                     Layers +
                     R"(], "loss": "mse", "optimizer": {"type": "sgd",
                     "learning_rate": 0.1}})";
  auto M = compileSpec(Text, Batch);
  ASSERT_TRUE(M);
  M->initialize(5);
  int64_t Out = M->network().outputSize(), Pixels = Out / C;
  BatchNormRef Ref{C, Pixels, Momentum, Epsilon};
  // Gamma and beta off their initial ones and zeros, through the arena.
  std::mt19937 R(11);
  std::uniform_real_distribution<double> U(-1, 1);
  for (const char *P : {"bn/gamma", "bn/beta"}) {
    float *V = M->param(paramIndex(*M, P));
    for (int64_t J = 0; J < C; ++J)
      V[J] = (P[3] == 'g' ? 1.0 : 0.0) + 0.5 * U(R);
  }
  Ref.Gamma = paramValues(*M, "bn/gamma");
  Ref.Beta = paramValues(*M, "bn/beta");
  Ref.MovingMean = paramValues(*M, "bn/moving_mean");
  Ref.MovingVar = paramValues(*M, "bn/moving_variance");
  Vec W = DenseUnits ? paramValues(*M, "d/kernel") : Vec();
  EXPECT_EQ(Ref.MovingMean, Vec(C, 0.0));
  EXPECT_EQ(Ref.MovingVar, Vec(C, 1.0));

  // Inputs with a mean and scale of their own per feature, so that the
  // moving statistics have somewhere to go.
  auto Draw = [&](std::vector<float> &X, std::vector<float> &T) {
    X.resize(Batch * Features);
    T.resize(Batch * Out);
    for (int64_t I = 0; I < Batch * Features; ++I)
      X[I] = 0.7 * (I % Features) - 1 + (1 + I % 3) * U(R);
    for (float &V : T)
      V = U(R);
  };
  auto Linear = [&](const std::vector<float> &X) {
    Vec Z(X.begin(), X.end());
    if (!DenseUnits)
      return Z;
    Z.assign(Batch * DenseUnits, 0);
    for (int64_t B = 0; B < Batch; ++B)
      for (int64_t K = 0; K < Features; ++K)
        for (int64_t J = 0; J < DenseUnits; ++J)
          Z[B * DenseUnits + J] += X[B * Features + K] * W[K * DenseUnits + J];
    return Z;
  };
  std::vector<float> X, T;
  for (int64_t S = 0; S < Steps; ++S) {
    Draw(X, T);
    auto St = M->trainStep(X.data(), T.data(), Batch);
    ASSERT_TRUE(bool(St)) << llvm::toString(St.takeError());
    Vec Y = Ref.forward(Linear(X), Batch, true);
    // mse: the mean over rows and outputs of (y - t)^2.
    Vec DY(Y.size());
    for (size_t I = 0; I < Y.size(); ++I)
      DY[I] = 2 * (Y[I] - T[I]) / (Batch * Out);
    Vec DGamma, DBeta;
    Vec DZ = Ref.backward(DY, Batch, DGamma, DBeta);
    if (DenseUnits) {
      Vec DW(W.size(), 0);
      for (int64_t B = 0; B < Batch; ++B)
        for (int64_t K = 0; K < Features; ++K)
          for (int64_t J = 0; J < DenseUnits; ++J)
            DW[K * DenseUnits + J] +=
                X[B * Features + K] * DZ[B * DenseUnits + J];
      for (size_t I = 0; I < W.size(); ++I)
        W[I] -= Lr * DW[I];
    }
    for (int64_t J = 0; J < C; ++J) {
      Ref.Gamma[J] -= Lr * DGamma[J];
      Ref.Beta[J] -= Lr * DBeta[J];
    }
    Ref.moveStatistics();
  }
  expectClose(paramValues(*M, "bn/gamma"), Ref.Gamma, "gamma");
  expectClose(paramValues(*M, "bn/beta"), Ref.Beta, "beta");
  expectClose(paramValues(*M, "bn/moving_mean"), Ref.MovingMean, "moving_mean");
  expectClose(paramValues(*M, "bn/moving_variance"), Ref.MovingVar,
              "moving_variance");
  if (DenseUnits)
    expectClose(paramValues(*M, "d/kernel"), W, "kernel");
  // Predict normalizes with the moving statistics.
  Draw(X, T);
  std::vector<float> Pred(Batch * Out);
  ASSERT_FALSE(bool(M->predict(X.data(), Pred.data(), Batch)));
  expectClose(Vec(Pred.begin(), Pred.end()), Ref.forward(Linear(X), Batch, false),
              "predict");
  // So does evaluate: its loss is the mse of those outputs.
  auto Ev = M->evaluate(X.data(), T.data(), Batch);
  ASSERT_TRUE(bool(Ev));
  Vec Y = Ref.forward(Linear(X), Batch, false);
  double Loss = 0;
  for (size_t I = 0; I < Y.size(); ++I)
    Loss += (Y[I] - T[I]) * (Y[I] - T[I]) / Out;
  EXPECT_NEAR(Ev->LossSum, Loss, 1e-5 * std::max(1.0, Loss));
}

TEST(NormTest, BatchNormAfterDenseFollowsKerasRule) {
  NETJIT_REQUIRE_JIT();
  trainAgainstReference("[6]", 6, 5, 5);
}

TEST(NormTest, BatchNormOverImageChannelsFollowsKerasRule) {
  NETJIT_REQUIRE_JIT();
  // 20 channels: a whole vector and a masked one at 16 lanes.
  trainAgainstReference("[3, 2, 20]", 120, 0, 20);
}

/// A step whose rows depend on each other runs on one thread: two threads
/// train it exactly as one does.
TEST(NormTest, TwoThreadsTrainLikeOne) {
  NETJIT_REQUIRE_JIT();
  std::string Text = R"({"input": {"shape": [8, 8, 3]},
    "layers": [{"type": "conv2d", "filters": 8, "kernel_size": 3, "use_bias": false},
               {"type": "batch_normalization"},
               {"type": "activation", "activation": "relu"},
               {"type": "global_average_pooling2d"},
               {"type": "dense", "units": 6},
               {"type": "batch_normalization"},
               {"type": "dense", "units": 4, "activation": "softmax"}],
    "loss": "sparse_categorical_crossentropy", "optimizer": "adam"})";
  const int64_t Batch = 96;
  auto One = compileSpec(Text, Batch, 1), Two = compileSpec(Text, Batch, 2);
  ASSERT_TRUE(One && Two);
  EXPECT_TRUE(One->graph().batchCoupled());
  std::vector<float> X, Targets;
  std::vector<int32_t> Labels;
  randomBatch(One->graph(), Batch, 7, X, Labels, Targets);
  One->initialize(3);
  Two->initialize(3);
  for (int Step = 0; Step < 3; ++Step) {
    auto A = One->trainStep(X.data(), Labels.data(), Batch);
    auto B = Two->trainStep(X.data(), Labels.data(), Batch);
    ASSERT_TRUE(A && B);
    EXPECT_EQ(A->LossSum, B->LossSum);
  }
  test::expectSameParams(*One, *Two, 0);
}

} // namespace
