// DiagnosticsTest.cpp - training diagnostics (CompileOptions::Diagnostics)
// against a small network's backward pass written out by hand in double:
// gradient norms, saturated and dead units, in the body and the masked tail
// of the compiled loops, on one thread and on two.
#include "TestUtil.h"

#include "netjit/Runtime/GradCheck.h"
#include "netjit/Runtime/Trainer.h"

#include <random>

using namespace netjit;

namespace {

// 2 -> 5 sigmoid (f' stored by the forward pass) -> 67 relu (f' from y; 67
// lanes: a full 64-lane step and a masked tail) -> 3 softmax.
const char *Spec = R"({"input": {"shape": [2]},
  "layers": [{"type": "dense", "units": 5, "activation": "sigmoid"},
             {"type": "dense", "units": 67, "activation": "relu"},
             {"type": "dense", "units": 3, "activation": "softmax"}],
  "loss": "sparse_categorical_crossentropy",
  "optimizer": {"type": "sgd", "learning_rate": 0.1}})";

std::unique_ptr<CompiledModel> compile(int64_t Batch, unsigned Threads,
                                       bool Diagnostics = true) {
  return test::compileSpec(Spec, Batch, Threads, Diagnostics);
}

/// Weights that make the figures worth checking: the sigmoid layer's large
/// enough to saturate some samples, every fifth relu unit dead (bias -100).
void setWeights(CompiledModel &M) {
  std::mt19937_64 R(7);
  std::uniform_real_distribution<double> U(-1, 1);
  const NetworkGraph &G = M.network();
  for (size_t P = 0; P < G.params().size(); ++P) {
    const ParamInfo &I = G.params()[P];
    float *W = M.param(P);
    for (int64_t K = 0; K < I.size(); ++K)
      W[K] = U(R) * (P == 0 ? 8 : 1);
    if (I.Name == "dense_1/bias")
      for (int64_t K = 0; K < I.size(); K += 5)
        W[K] = -100;
  }
}

/// The counters one step adds, computed in double from the weights before
/// it: the forward pass, the softmax cross-entropy's gradient averaged over
/// the batch, and back through both hidden layers.
struct Expected {
  double W0 = 0, W1 = 0, W2 = 0;      // |dL/dW|^2 per layer
  double In1 = 0, In2 = 0;            // B^2 sum |dL/dx|^2 (layers 1, 2)
  double Sat0 = 0, Sat1 = 0;          // |f'(z)| < 0.01
  std::vector<double> Alive0, Alive1; // some sample with f'(z) != 0
  double Closest = 1;                 // min | |f'| - 0.01 | seen
};

Expected reference(CompiledModel &M, const std::vector<float> &X,
                   const std::vector<int32_t> &Labels, int64_t B) {
  const int64_t N[4] = {2, 5, 67, 3};
  std::vector<std::vector<double>> W(3), Bias(3);
  for (int L = 0; L < 3; ++L) {
    W[L].assign(M.param(2 * L), M.param(2 * L) + N[L] * N[L + 1]);
    Bias[L].assign(M.param(2 * L + 1), M.param(2 * L + 1) + N[L + 1]);
  }
  // Forward: H[0] = x, Z[l] = H[l] W[l] + b[l], H[l+1] = f(Z[l]).
  std::vector<std::vector<double>> H(4), Z(3), Df(2);
  H[0].assign(X.begin(), X.begin() + B * 2);
  for (int L = 0; L < 3; ++L) {
    Z[L].assign(B * N[L + 1], 0);
    for (int64_t R = 0; R < B; ++R)
      for (int64_t J = 0; J < N[L + 1]; ++J) {
        double S = Bias[L][J];
        for (int64_t K = 0; K < N[L]; ++K)
          S += H[L][R * N[L] + K] * W[L][K * N[L + 1] + J];
        Z[L][R * N[L + 1] + J] = S;
      }
    H[L + 1] = Z[L];
    if (L == 2)
      break;
    Df[L].resize(Z[L].size());
    for (size_t I = 0; I < Z[L].size(); ++I) {
      double V = Z[L][I];
      if (L == 0) { // sigmoid
        double Sg = 1 / (1 + std::exp(-V));
        H[L + 1][I] = Sg;
        Df[L][I] = Sg * (1 - Sg);
      } else { // relu
        H[L + 1][I] = V > 0 ? V : 0;
        Df[L][I] = V > 0 ? 1 : 0;
      }
    }
  }
  // Backward: G = dL/dZ[2] = (softmax - onehot) / B.
  Expected E;
  std::vector<double> G(B * 3);
  for (int64_t R = 0; R < B; ++R) {
    double Mx = -INFINITY, Sum = 0;
    for (int J = 0; J < 3; ++J)
      Mx = std::max(Mx, Z[2][R * 3 + J]);
    for (int J = 0; J < 3; ++J)
      Sum += std::exp(Z[2][R * 3 + J] - Mx);
    for (int J = 0; J < 3; ++J)
      G[R * 3 + J] =
          (std::exp(Z[2][R * 3 + J] - Mx) / Sum - (Labels[R] == J)) / B;
  }
  double *WSq[3] = {&E.W0, &E.W1, &E.W2};
  double *InSq[3] = {nullptr, &E.In1, &E.In2};
  double *Sat[2] = {&E.Sat0, &E.Sat1};
  std::vector<double> *Alive[2] = {&E.Alive0, &E.Alive1};
  for (int L = 2; L >= 0; --L) {
    // dW = H^T G; dX = G W^T.
    for (int64_t K = 0; K < N[L]; ++K)
      for (int64_t J = 0; J < N[L + 1]; ++J) {
        double S = 0;
        for (int64_t R = 0; R < B; ++R)
          S += H[L][R * N[L] + K] * G[R * N[L + 1] + J];
        *WSq[L] += S * S;
      }
    if (L == 0)
      break;
    std::vector<double> DX(B * N[L], 0);
    for (int64_t R = 0; R < B; ++R)
      for (int64_t K = 0; K < N[L]; ++K) {
        double S = 0;
        for (int64_t J = 0; J < N[L + 1]; ++J)
          S += G[R * N[L + 1] + J] * W[L][K * N[L + 1] + J];
        DX[R * N[L] + K] = S;
        *InSq[L] += double(B) * B * S * S;
      }
    // Through layer L-1's activation.
    int A = L - 1;
    Alive[A]->assign(N[L], 0);
    G.assign(B * N[L], 0);
    for (int64_t R = 0; R < B; ++R)
      for (int64_t K = 0; K < N[L]; ++K) {
        double D = Df[A][R * N[L] + K];
        G[R * N[L] + K] = DX[R * N[L] + K] * D;
        *Sat[A] += std::fabs(D) < SaturationThreshold;
        if (D != 0)
          (*Alive[A])[K] = 1;
        if (D != 0)
          E.Closest = std::min(E.Closest, std::fabs(std::fabs(D) - 0.01));
      }
  }
  return E;
}

bool step(CompiledModel &M, const std::vector<float> &X,
          const std::vector<int32_t> &Labels, int64_t Batch) {
  auto S = M.trainStep(X.data(), Labels.data(), Batch);
  if (!S) {
    ADD_FAILURE() << llvm::toString(S.takeError());
    return false;
  }
  return true;
}

/// The counters by field, from the graph's records.
struct Fields {
  const LayerDiagnostics *L[3];
};

Fields fields(const CompiledModel &M) {
  Fields F{};
  EXPECT_EQ(M.graph().Diagnostics.size(), 3u);
  for (int I = 0; I < 3; ++I)
    F.L[I] = &M.graph().Diagnostics[I];
  return F;
}

void expectNear(double Got, double Want, const char *What) {
  EXPECT_NEAR(Got, Want, 2e-5 * std::max(1e-3, std::fabs(Want))) << What;
}

void checkOneStep(unsigned Threads, int64_t Batch) {
  auto M = compile(Batch, Threads);
  ASSERT_TRUE(M);
  std::vector<float> X, Targets;
  std::vector<int32_t> Labels;
  randomBatch(M->graph(), Batch, 3, X, Labels, Targets);
  M->initialize(1);
  setWeights(*M);
  Expected E = reference(*M, X, Labels, Batch);
  // The data keeps every |f'| clear of the threshold, so float and double
  // count the same lanes.
  ASSERT_GT(E.Closest, 1e-5);
  ASSERT_GT(E.Sat0, 0);
  ASSERT_LT(E.Sat0, Batch * 5);
  ASSERT_TRUE(step(*M, X, Labels, Batch));
  std::vector<double> C = M->diagnosticCounters();
  auto At = [&](int Field) { return C[Field - 4]; };
  Fields F = fields(*M);
  // The first layer's input gradient is never computed; the output layer
  // meets the loss through its logits.
  EXPECT_EQ(F.L[0]->InputSumSq, -1);
  EXPECT_EQ(F.L[2]->Saturated, -1);
  EXPECT_EQ(F.L[2]->Alive, -1);
  expectNear(At(F.L[0]->WeightSumSq), E.W0, "dense_0 |dW|^2");
  expectNear(At(F.L[1]->WeightSumSq), E.W1, "dense_1 |dW|^2");
  expectNear(At(F.L[2]->WeightSumSq), E.W2, "dense_2 |dW|^2");
  expectNear(At(F.L[1]->InputSumSq), E.In1, "dense_1 input");
  expectNear(At(F.L[2]->InputSumSq), E.In2, "dense_2 input");
  EXPECT_EQ(At(F.L[0]->Saturated), E.Sat0);
  EXPECT_EQ(At(F.L[1]->Saturated), E.Sat1);
  // Per unit: 1 where alive this step (a thread's slice each, so with two
  // threads up to 2).
  for (int64_t J = 0; J < 5; ++J)
    EXPECT_EQ(At(F.L[0]->Alive + J) > 0, E.Alive0[J] > 0) << "dense_0 unit " << J;
  int64_t Dead = 0;
  for (int64_t J = 0; J < 67; ++J) {
    EXPECT_EQ(At(F.L[1]->Alive + J) > 0, E.Alive1[J] > 0) << "dense_1 unit " << J;
    Dead += E.Alive1[J] == 0;
  }
  EXPECT_GE(Dead, 14); // the fourteen with bias -100, and any others

  // The per-epoch figures.
  std::vector<LayerEpochStats> S = layerEpochStats(*M, 1, Batch);
  ASSERT_EQ(S.size(), 3u);
  EXPECT_EQ(S[1].Layer, "dense_1");
  EXPECT_EQ(S[1].Units, 67);
  expectNear(S[0].WeightGrad, std::sqrt(E.W0), "dense_0 weight grad");
  EXPECT_TRUE(std::isnan(S[0].InputGrad));
  expectNear(S[2].InputGrad, std::sqrt(E.In2 / Batch), "dense_2 input grad");
  expectNear(S[1].Saturated, E.Sat1 / (Batch * 67.0), "dense_1 saturated");
  EXPECT_DOUBLE_EQ(S[1].Dead, Dead / 67.0);
  EXPECT_TRUE(std::isnan(S[2].Dead));

  // Counters add up over steps until reset; a reset clears them.
  ASSERT_TRUE(step(*M, X, Labels, Batch));
  EXPECT_GT(M->diagnosticCounters()[F.L[0]->WeightSumSq - 4], E.W0 * 0.5);
  M->resetDiagnostics();
  for (double V : M->diagnosticCounters())
    EXPECT_EQ(V, 0);
}

TEST(DiagnosticsTest, OneStepMatchesTheHandWrittenBackwardPass) {
  NETJIT_REQUIRE_JIT();
  checkOneStep(1, 6);
}

TEST(DiagnosticsTest, TwoThreadsCountTheSameAsOne) {
  NETJIT_REQUIRE_JIT();
  checkOneStep(2, 100); // slices of 48 and 52 rows
}

TEST(DiagnosticsTest, TrainingIsUnchangedByDiagnostics) {
  NETJIT_REQUIRE_JIT();
  auto With = compile(16, 1, true), Without = compile(16, 1, false);
  ASSERT_TRUE(With && Without);
  EXPECT_TRUE(Without->graph().Diagnostics.empty());
  EXPECT_TRUE(Without->diagnosticCounters().empty());
  std::vector<float> X, Targets;
  std::vector<int32_t> Labels;
  randomBatch(With->graph(), 16, 5, X, Labels, Targets);
  for (CompiledModel *M : {With.get(), Without.get()}) {
    M->initialize(2);
    for (int S = 0; S < 3; ++S)
      ASSERT_TRUE(step(*M, X, Labels, 16));
  }
  for (size_t P = 0; P < With->network().params().size(); ++P)
    for (int64_t I = 0; I < With->network().params()[P].size(); ++I)
      ASSERT_EQ(With->param(P)[I], Without->param(P)[I])
          << With->network().params()[P].Name << "[" << I << "]";
}

} // namespace
