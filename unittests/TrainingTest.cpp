// TrainingTest.cpp - whole networks: compiled gradients of generated specs
// against the float64 reference, and one step of every optimizer against
// its formula in double.
#include "TestUtil.h"

#include "netjit/Runtime/GradCheck.h"
#include "netjit/Runtime/Model.h"

#include "llvm/Support/FormatVariadic.h"
#include <random>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

using namespace netjit;

namespace {

using test::compileSpec;

/// Hidden activations the generator draws from: catalogue names, names with
/// parameters (trained or not, shared or per unit), and formulas.
const char *Hidden[] = {
    "\"relu\"",
    "\"gelu\"",
    "\"sigmoid\"",
    "\"tanh\"",
    "\"mish\"",
    "\"gelu_tanh\"",
    "\"softplus\"",
    "\"selu\"",
    "{\"name\": \"leaky_relu\", \"alpha\": 0.3}",
    "{\"name\": \"prelu\"}",
    "{\"name\": \"prelu\", \"per_unit\": true}",
    "{\"name\": \"silu\", \"beta\": {\"init\": 1.5, \"trainable\": true}}",
    "{\"name\": \"elu\", \"alpha\": {\"init\": 0.7, \"trainable\": true}, "
    "\"per_unit\": true}",
    "{\"expr\": \"x * sigmoid(beta * x)\", \"params\": {\"beta\": {\"init\": "
    "0.8, \"trainable\": true}}}",
    "{\"expr\": \"x * tanh(softplus(x))\"}",
    "{\"expr\": \"where(x > 0, x, a * expm1(x)) + b * x\", \"params\": "
    "{\"a\": {\"init\": 1.2, \"trainable\": true}, \"b\": 0.1}}",
    "\"swish_decl\"",
};

const char *Losses[] = {"sparse_categorical_crossentropy",
                        "categorical_crossentropy", "binary_crossentropy",
                        "mse", "mae", "huber"};

std::string generateSpec(unsigned Index, std::mt19937 &R) {
  auto Pick = [&](unsigned N) { return R() % N; };
  std::string Loss = Losses[Index % 6];
  std::string Layers;
  unsigned Depth = 1 + Pick(3);
  for (unsigned D = 0; D < Depth; ++D) {
    unsigned Units = 3 + Pick(19);
    std::string Act = Hidden[(Index * 7 + D * 3 + Pick(5)) %
                             (sizeof(Hidden) / sizeof(*Hidden))];
    bool Bias = Pick(4) != 0;
    Layers += llvm::formatv("{{\"type\": \"dense\", \"units\": {0}, "
                            "\"activation\": {1}, \"use_bias\": {2}}, ",
                            Units, Act, Bias ? "true" : "false")
                  .str();
    if (Pick(4) == 0)
      Layers += "{\"type\": \"activation\", \"activation\": \"tanh\"}, ";
  }
  unsigned Out = Loss == "binary_crossentropy" ? 1 + Pick(3) : 2 + Pick(9);
  std::string OutAct = Loss.find("categorical") != std::string::npos
                           ? "\"softmax\""
                       : Loss == "binary_crossentropy" ? "\"sigmoid\""
                       : Pick(2)                       ? "\"tanh\""
                                                       : "\"linear\"";
  Layers += llvm::formatv("{{\"type\": \"dense\", \"units\": {0}, "
                          "\"activation\": {1}}",
                          Out, OutAct)
                .str();
  return llvm::formatv(
             R"js({{"input": {{"shape": [{0}, {1}]},
 "activations": {{"swish_decl": {{"expr": "x * sigmoid(x)"}},
 "layers": [{{"type": "flatten"}, {2}],
 "loss": "{3}", "optimizer": "adam"})js",
             1 + Pick(3), 2 + Pick(12), Layers, Loss)
      .str();
}

TEST(TrainingTest, GeneratedSpecsMatchTheFloat64Reference) {
  if (!test::jitUnavailable().empty())
    GTEST_SKIP() << test::jitUnavailable();
  std::mt19937 R(2026);
  for (unsigned I = 0; I < 24; ++I) {
    std::string Text = generateSpec(I, R);
    int64_t Batch = 3 + R() % 9;
    auto M = compileSpec(Text, Batch);
    if (!M)
      continue;
    M->initialize(I);
    auto Res = gradCheck(*M, Batch, 24, I + 1);
    ASSERT_TRUE(bool(Res)) << llvm::toString(Res.takeError());
    EXPECT_NEAR(Res->LossCompiled, Res->LossReference,
                1e-5 * std::max(1.0, std::fabs(Res->LossReference)))
        << Text;
    for (const GradCheckRow &Row : Res->Rows)
      EXPECT_LE(Row.RelError, 1e-3)
          << Row.Param << " (|grad| " << Row.RefNorm << ") in spec " << I
          << ":\n"
          << Text;
  }
}

TEST(TrainingTest, FashionSpecGradientsAtEveryBatchRemainder) {
  if (!test::jitUnavailable().empty())
    GTEST_SKIP() << test::jitUnavailable();
  auto M = compileSpec(R"({"input": {"shape": [28, 28]},
    "layers": [{"type": "flatten"},
               {"type": "dense", "units": 128, "activation": "relu"},
               {"type": "dense", "units": 10, "activation": "softmax"}],
    "loss": "sparse_categorical_crossentropy",
    "training": {"batch_size": 32}})",
                       32);
  ASSERT_TRUE(M);
  M->initialize(0);
  // 32 uses whole row blocks only; 31 and 1 the one-row kernel too.
  for (int64_t Batch : {32, 31, 1}) {
    auto Res = gradCheck(*M, Batch, 48, Batch);
    ASSERT_TRUE(bool(Res)) << llvm::toString(Res.takeError());
    for (const GradCheckRow &Row : Res->Rows)
      EXPECT_LE(Row.RelError, 1e-4) << Row.Param << " at batch " << Batch;
  }
}

/// One optimizer step in double from the state before it (Keras 3's
/// formulas, docs/spec.md).
struct RefState {
  std::vector<double> W, G, S0, S1;
};

void referenceStep(const OptimizerSpec &O, RefState &St, int64_t Step,
                   double L2) {
  double Lr = O.get("learning_rate");
  for (size_t I = 0; I < St.W.size(); ++I) {
    double W = St.W[I], G = St.G[I] + 2 * L2 * W;
    switch (O.Kind) {
    case OptimizerKind::sgd: {
      double Mom = O.get("momentum");
      if (Mom == 0) {
        W -= Lr * G;
        break;
      }
      double V = Mom * St.S0[I] - Lr * G;
      St.S0[I] = V;
      W = O.get("nesterov") ? W + Mom * V - Lr * G : W + V;
      break;
    }
    case OptimizerKind::adamw:
      W -= W * O.get("weight_decay") * Lr;
      [[fallthrough]];
    case OptimizerKind::adam: {
      double B1 = O.get("beta_1"), B2 = O.get("beta_2");
      double Alpha = Lr * std::sqrt(1 - std::pow(B2, Step)) /
                     (1 - std::pow(B1, Step));
      St.S0[I] += (G - St.S0[I]) * (1 - B1);
      St.S1[I] += (G * G - St.S1[I]) * (1 - B2);
      W -= St.S0[I] * Alpha / (std::sqrt(St.S1[I]) + O.get("epsilon"));
      break;
    }
    case OptimizerKind::rmsprop: {
      double Rho = O.get("rho");
      St.S0[I] = Rho * St.S0[I] + (1 - Rho) * G * G;
      double Inc = Lr * G / std::sqrt(St.S0[I] + O.get("epsilon"));
      if (O.get("momentum") > 0) {
        St.S1[I] = O.get("momentum") * St.S1[I] + Inc;
        W -= St.S1[I];
      } else {
        W -= Inc;
      }
      break;
    }
    case OptimizerKind::adagrad:
      St.S0[I] += G * G;
      W -= Lr * G / std::sqrt(St.S0[I] + O.get("epsilon"));
      break;
    }
    St.W[I] = W;
  }
}

TEST(TrainingTest, EveryOptimizerStepMatchesItsFormulaInDouble) {
  if (!test::jitUnavailable().empty())
    GTEST_SKIP() << test::jitUnavailable();
  const char *Optimizers[] = {
      R"("sgd")",
      R"({"type": "sgd", "momentum": 0.9})",
      R"({"type": "sgd", "momentum": 0.9, "nesterov": true})",
      R"({"type": "adam"})",
      R"({"type": "adamw", "weight_decay": 0.01})",
      R"({"type": "rmsprop"})",
      R"({"type": "rmsprop", "momentum": 0.5})",
      R"({"type": "adagrad", "learning_rate": 0.01})",
  };
  for (const char *Opt : Optimizers)
    for (double L2 : {0.0, 0.01}) {
      std::string Text = llvm::formatv(
          R"({{"input": {{"shape": [13]},
          "layers": [{{"type": "dense", "units": 21, "activation": "gelu",
                       "kernel_regularizer": {{"l2": {0}}},
                      {{"type": "dense", "units": 5, "activation": "softmax"}],
          "loss": "sparse_categorical_crossentropy", "optimizer": {1}})",
          L2, Opt);
      auto M = compileSpec(Text, 6);
      ASSERT_TRUE(M);
      M->initialize(3);
      std::vector<float> X, Targets;
      std::vector<int32_t> Labels;
      randomBatch(M->graph(), 6, 9, X, Labels, Targets);
      const TrainGraph &T = M->graph();
      const OptimizerSpec &O = M->network().spec().Optimizer;
      for (int Step = 1; Step <= 3; ++Step) {
        // The state before the step, and the gradients it will use.
        ASSERT_TRUE(bool(M->gradients(X.data(), Labels.data(), 6)));
        std::vector<RefState> Ref;
        for (size_t P = 0; P < M->network().params().size(); ++P) {
          int64_t N = M->network().params()[P].size();
          float *W = M->param(P);
          int64_t Rel = W - M->arena() - T.paramsOffset();
          RefState St;
          St.W.assign(W, W + N);
          St.G.assign(M->gradient(P), M->gradient(P) + N);
          St.S0.assign(N, 0);
          St.S1.assign(N, 0);
          if (T.numSlots() > 0)
            St.S0.assign(M->arena() + T.slotOffset(0) + Rel,
                         M->arena() + T.slotOffset(0) + Rel + N);
          if (T.numSlots() > 1)
            St.S1.assign(M->arena() + T.slotOffset(1) + Rel,
                         M->arena() + T.slotOffset(1) + Rel + N);
          Ref.push_back(std::move(St));
        }
        auto S = M->trainStep(X.data(), Labels.data(), 6);
        ASSERT_TRUE(bool(S));
        for (size_t P = 0; P < Ref.size(); ++P) {
          std::vector<double> Before = Ref[P].W;
          referenceStep(O, Ref[P], Step, M->network().params()[P].L2);
          // The update itself, not the weights, must agree (a wrong update
          // hides behind 1e-5 of the weights), to 1e-5 of it or the one
          // rounding of the stored float weight, whichever is larger.
          double Diff = 0, Norm = 0, WNorm = 0;
          for (size_t I = 0; I < Before.size(); ++I) {
            double Want = Ref[P].W[I] - Before[I];
            double Got = double(M->param(P)[I]) - Before[I];
            Diff += (Got - Want) * (Got - Want);
            Norm += Want * Want;
            WNorm += Ref[P].W[I] * Ref[P].W[I];
          }
          EXPECT_LE(std::sqrt(Diff),
                    std::max(1e-5 * std::sqrt(Norm), 0x1p-23 * std::sqrt(WNorm)))
              << Opt << " l2=" << L2 << " step " << Step << " "
              << M->network().params()[P].Name;
        }
        if (L2 > 0) {
          EXPECT_GT(S->Penalty, 0);
        }
      }
    }
}

TEST(TrainingTest, TrainingLowersTheLossOnALearnableTask) {
  if (!test::jitUnavailable().empty())
    GTEST_SKIP() << test::jitUnavailable();
  auto M = compileSpec(R"({"input": {"shape": [8]},
    "layers": [{"type": "dense", "units": 16, "activation": "gelu"},
               {"type": "dense", "units": 3, "activation": "softmax"}],
    "loss": "sparse_categorical_crossentropy",
    "optimizer": {"type": "adam", "learning_rate": 0.01}})",
                       32);
  ASSERT_TRUE(M);
  M->initialize(1);
  // Labels: which of the first three features is largest.
  std::mt19937 R(5);
  std::uniform_real_distribution<float> U(-1, 1);
  std::vector<float> X(32 * 8);
  std::vector<int32_t> L(32);
  double First = 0, Last = 0, Correct = 0;
  for (int Step = 0; Step < 300; ++Step) {
    for (int I = 0; I < 32; ++I) {
      for (int J = 0; J < 8; ++J)
        X[I * 8 + J] = U(R);
      L[I] = std::max_element(&X[I * 8], &X[I * 8 + 3]) - &X[I * 8];
    }
    auto S = M->trainStep(X.data(), L.data(), 32);
    ASSERT_TRUE(bool(S));
    if (Step == 0)
      First = S->LossSum / 32;
    Last = S->LossSum / 32;
    Correct = S->Correct;
  }
  EXPECT_LT(Last, 0.5 * First);
  EXPECT_GE(Correct, 24);
  EXPECT_EQ(M->header().Step, 300);
}

} // namespace

namespace {

const float *tensorNamed(CompiledModel &M, llvm::StringRef Name) {
  for (const TensorInfo &T : M.graph().tensors())
    if (T.Name == Name)
      return M.arena() + T.Offset;
  ADD_FAILURE() << "no tensor " << Name.str();
  return nullptr;
}

TEST(TrainingTest, DropoutDropsAtItsRateAndBackwardUsesTheSameMask) {
  if (!test::jitUnavailable().empty())
    GTEST_SKIP() << test::jitUnavailable();
  auto M = compileSpec(R"({"input": {"shape": [20]},
    "layers": [{"type": "dense", "units": 64, "activation": "tanh"},
               {"type": "dropout", "rate": 0.25, "name": "drop"},
               {"type": "dense", "units": 4, "activation": "softmax"}],
    "loss": "sparse_categorical_crossentropy"})",
                       32);
  ASSERT_TRUE(M);
  M->initialize(4);
  std::vector<float> X, Targets;
  std::vector<int32_t> Labels;
  randomBatch(M->graph(), 32, 3, X, Labels, Targets);
  std::vector<float> FirstMask;
  for (int Step = 0; Step < 2; ++Step) {
    ASSERT_TRUE(bool(M->gradients(X.data(), Labels.data(), 32)));
    const float *In = tensorNamed(*M, "%dense_0.y");
    const float *Out = tensorNamed(*M, "%drop.y");
    const float *DOut = tensorNamed(*M, "%dense_2.dx");
    const float *DIn = tensorNamed(*M, "%drop.dx");
    ASSERT_TRUE(In && Out && DOut && DIn);
    int Dropped = 0;
    std::vector<float> Mask(32 * 64);
    for (int I = 0; I < 32 * 64; ++I) {
      bool Kept = Out[I] != 0;
      Dropped += !Kept;
      Mask[I] = Kept;
      // Survivors scaled by 1 / (1 - rate), in both directions.
      EXPECT_FLOAT_EQ(Out[I], Kept ? In[I] / 0.75f : 0.0f) << I;
      EXPECT_FLOAT_EQ(DIn[I], Kept ? DOut[I] / 0.75f : 0.0f) << I;
    }
    EXPECT_NEAR(Dropped / 2048.0, 0.25, 0.04);
    // The same step draws the same mask; the next one another (gradients
    // does not advance the step, train_step does).
    if (Step == 0) {
      FirstMask = Mask;
      ASSERT_TRUE(bool(M->gradients(X.data(), Labels.data(), 32)));
      const float *Again = tensorNamed(*M, "%drop.y");
      for (int I = 0; I < 32 * 64; ++I)
        ASSERT_EQ(Again[I] != 0, Mask[I] != 0) << I;
      ASSERT_TRUE(bool(M->trainStep(X.data(), Labels.data(), 32)));
    } else {
      EXPECT_NE(Mask, FirstMask);
    }
  }
}

/// Two threads split the batch and the update: the same step as one thread
/// up to the order of the gradient sums, the same bits run after run, and
/// the same dropout mask (it hashes a row's index in the whole batch).
TEST(TrainingTest, TwoThreadsAgreeWithOne) {
  if (!test::jitUnavailable().empty())
    GTEST_SKIP() << test::jitUnavailable();
  std::string Spec = R"({"input": {"shape": [30]},
    "layers": [{"type": "dense", "units": 40, "activation": {"name": "prelu", "per_unit": true},
                "kernel_regularizer": {"l2": 0.01}},
               {"type": "dropout", "rate": 0.2},
               {"type": "dense", "units": 5, "activation": "softmax"}],
    "loss": "sparse_categorical_crossentropy",
    "optimizer": {"type": "adam", "learning_rate": 0.01}})";
  const int64_t Batch = 100; // slices of 48 and 52 rows
  auto One = compileSpec(Spec, Batch, 1);
  auto Two = compileSpec(Spec, Batch, 2);
  auto Again = compileSpec(Spec, Batch, 2);
  ASSERT_TRUE(One && Two && Again);
  ASSERT_EQ(One->threads(), 1u);
  ASSERT_EQ(Two->threads(), 2u);
  std::vector<float> X, Targets;
  std::vector<int32_t> Labels;
  randomBatch(One->graph(), Batch, 11, X, Labels, Targets);
  for (CompiledModel *M : {One.get(), Two.get(), Again.get()})
    M->initialize(5);
  for (int Step = 0; Step < 4; ++Step) {
    // A short last batch (under 2 x 32 rows) runs on one thread.
    int64_t Rows = Step == 3 ? 40 : Batch;
    auto S1 = One->trainStep(X.data(), Labels.data(), Rows);
    auto S2 = Two->trainStep(X.data(), Labels.data(), Rows);
    auto S3 = Again->trainStep(X.data(), Labels.data(), Rows);
    ASSERT_TRUE(S1 && S2 && S3);
    EXPECT_NEAR(S2->LossSum, S1->LossSum, 1e-4 * std::abs(S1->LossSum)) << Step;
    EXPECT_EQ(S2->Correct, S1->Correct) << Step;
    EXPECT_NEAR(S2->Penalty, S1->Penalty, 1e-4 * S1->Penalty) << Step;
    EXPECT_GT(S2->Penalty, 0);
    EXPECT_EQ(S2->LossSum, S3->LossSum) << Step;
  }
  EXPECT_EQ(Two->header().Step, 4);
  for (size_t P = 0; P < One->network().params().size(); ++P) {
    int64_t N = One->network().params()[P].size();
    const float *A = One->param(P), *B = Two->param(P), *C = Again->param(P);
    for (int64_t I = 0; I < N; ++I) {
      ASSERT_NEAR(B[I], A[I], 1e-4 * std::max(1.0f, std::abs(A[I])))
          << One->network().params()[P].Name << "[" << I << "]";
      ASSERT_EQ(B[I], C[I]) << One->network().params()[P].Name << "[" << I << "]";
    }
  }
}

#if defined(__x86_64__)
/// The entry points flush denormals while they run and give the caller its
/// floating-point mode back.
TEST(TrainingTest, EntryPointsRestoreTheCallersFloatMode) {
  if (!test::jitUnavailable().empty())
    GTEST_SKIP() << test::jitUnavailable();
  auto M = compileSpec(R"({"input": {"shape": [4]},
    "layers": [{"type": "dense", "units": 3, "activation": "relu"},
               {"type": "dense", "units": 2, "activation": "softmax"}]})",
                       8);
  ASSERT_TRUE(M);
  M->initialize(1);
  std::vector<float> X, Targets;
  std::vector<int32_t> Labels;
  randomBatch(M->graph(), 8, 2, X, Labels, Targets);
  unsigned Before = _mm_getcsr();
  ASSERT_EQ(Before & 0x8040, 0u) << "the test starts with denormals on";
  ASSERT_TRUE(bool(M->trainStep(X.data(), Labels.data(), 8)));
  std::vector<float> Out(16);
  ASSERT_FALSE(bool(M->predict(X.data(), Out.data(), 8)));
  EXPECT_EQ(_mm_getcsr(), Before);
  // Denormals still work in the caller.
  volatile float Tiny = 1e-39f;
  EXPECT_GT(Tiny * 1.0f, 0.0f);
}
#endif

} // namespace
