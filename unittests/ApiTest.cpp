// ApiTest.cpp - the C++ host API (netjit.h): compile, train, predict,
// parameters, checkpoints, errors as Status, and two Models used from two
// threads at once.
#include "TestUtil.h"

#include "netjit/netjit.h"

#include "llvm/Support/FileSystem.h"
#include <atomic>
#include <cmath>
#include <thread>

namespace {

const char *Spec = R"({"input": {"shape": [4]},
  "layers": [{"type": "dense", "units": 16, "activation": "tanh"},
             {"type": "dense", "units": 3, "activation": "softmax"}],
  "optimizer": {"type": "adam", "learning_rate": 0.05},
  "training": {"batch_size": 20, "seed": 3}})";

/// A learnable task: the class is the index of the largest of the first 3
/// features.
void task(int64_t Rows, unsigned Seed, std::vector<float> &X,
          std::vector<int32_t> &Y) {
  std::mt19937 R(Seed);
  std::uniform_real_distribution<float> U(-1, 1);
  X.resize(Rows * 4);
  Y.resize(Rows);
  for (int64_t I = 0; I < Rows; ++I) {
    for (int K = 0; K < 4; ++K)
      X[I * 4 + K] = U(R);
    Y[I] = std::max_element(&X[I * 4], &X[I * 4 + 3]) - &X[I * 4];
  }
}

netjit::CompilerOptions noCache() {
  netjit::CompilerOptions O;
  O.UseCache = false;
  return O;
}

TEST(ApiTest, CompileTrainPredictAndParameters) {
  if (!netjit::test::jitUnavailable().empty())
    GTEST_SKIP() << netjit::test::jitUnavailable();
  auto M = netjit::Compiler(noCache()).compileJson(Spec, "api.json");
  ASSERT_TRUE(M.ok()) << M.status().message();
  EXPECT_EQ(M->inputSize(), 4);
  EXPECT_EQ(M->outputSize(), 3);
  EXPECT_EQ(M->maxBatch(), 20);
  EXPECT_TRUE(M->sparseLabels());
  std::vector<float> X;
  std::vector<int32_t> Y;
  task(20, 1, X, Y);
  double First = 0, Last = 0;
  for (int Step = 0; Step < 200; ++Step) {
    auto R = M->trainStep(X.data(), Y.data(), 20);
    ASSERT_TRUE(R.ok()) << R.status().message();
    (Step ? Last : First) = R->Loss;
  }
  EXPECT_LT(Last, First / 4);
  std::vector<float> Out(20 * 3);
  ASSERT_TRUE(M->predict(X.data(), 20, Out.data()).ok());
  for (int I = 0; I < 20; ++I)
    EXPECT_NEAR(Out[I * 3] + Out[I * 3 + 1] + Out[I * 3 + 2], 1, 1e-5);
  auto Ev = M->evaluate(X.data(), Y.data(), 20);
  ASSERT_TRUE(Ev.ok());
  EXPECT_GT(Ev->Accuracy, 0.9);

  auto Ps = M->parameters();
  ASSERT_EQ(Ps.size(), 4u);
  EXPECT_EQ(Ps[0].Name, "dense_0/kernel");
  EXPECT_EQ(Ps[0].shape(), (std::vector<int64_t>{4, 16}));
  EXPECT_EQ(Ps[1].Name, "dense_0/bias");
  EXPECT_EQ(Ps[1].shape(), (std::vector<int64_t>{16})); // rank 1, as Keras
  EXPECT_EQ(Ps[1].size(), 16);
  std::vector<float> B(3, 7.0f), Got(3);
  ASSERT_TRUE(M->setParameter("dense_1/bias", B.data(), 3).ok());
  ASSERT_TRUE(M->getParameter("dense_1/bias", Got.data(), 3).ok());
  EXPECT_EQ(Got, B);
  netjit::Status S = M->getParameter("dense_1/bais", Got.data(), 3);
  EXPECT_EQ(S.code(), 2);
  EXPECT_EQ(S.message(), "no parameter 'dense_1/bais' (did you mean 'dense_1/bias'?)");
  EXPECT_EQ(M->setParameter("dense_1/bias", B.data(), 2).message(),
            "dense_1/bias has 3 floats, not 2");
}

TEST(ApiTest, DiagnosticsOfTheStepsSinceTheLastReset) {
  if (!netjit::test::jitUnavailable().empty())
    GTEST_SKIP() << netjit::test::jitUnavailable();
  netjit::CompilerOptions O = noCache();
  O.Diagnostics = true;
  auto M = netjit::Compiler(O).compileJson(Spec, "api.json");
  ASSERT_TRUE(M.ok()) << M.status().message();
  std::vector<float> X;
  std::vector<int32_t> Y;
  task(20, 1, X, Y);
  for (int Step = 0; Step < 3; ++Step)
    ASSERT_TRUE(M->trainStep(X.data(), Y.data(), 20).ok());
  std::vector<netjit::LayerReport> L = M->diagnostics();
  ASSERT_EQ(L.size(), 2u);
  EXPECT_EQ(L[0].Layer, "dense_0");
  EXPECT_EQ(L[0].Units, 16);
  EXPECT_GT(L[0].WeightGrad, 0);
  EXPECT_TRUE(std::isnan(L[0].InputGrad)); // the first layer's: never computed
  EXPECT_GE(L[0].Saturated, 0);
  EXPECT_EQ(L[0].Dead, 0); // tanh' > 0 everywhere
  EXPECT_GT(L[1].InputGrad, 0);
  EXPECT_TRUE(std::isnan(L[1].Saturated)); // softmax meets the loss
  // Reset: nothing measured since.
  EXPECT_TRUE(std::isnan(M->diagnostics()[0].WeightGrad));
  // Without the option there is nothing to report.
  auto Plain = netjit::Compiler(noCache()).compileJson(Spec, "api.json");
  ASSERT_TRUE(Plain.ok());
  EXPECT_TRUE(Plain->diagnostics().empty());
}

TEST(ApiTest, ErrorsAreStatusesAndTheHostCarriesOn) {
  netjit::Compiler C(noCache());
  auto Bad = C.compileJson(R"({"input": {"shape": [4]}, "layers": [{"type": "dense", "units": -3}]})",
                           "bad.json");
  ASSERT_FALSE(Bad.ok());
  EXPECT_EQ(Bad.status().code(), 4);
  EXPECT_EQ(Bad.status().message(),
            "bad.json: /layers/0/units: expected a positive integer, got -3");
  auto Missing = C.compileFile("/nonexistent/spec.json");
  EXPECT_EQ(Missing.status().code(), 9);
  if (!netjit::test::jitUnavailable().empty())
    return;
  auto M = C.compileJson(Spec);
  ASSERT_TRUE(M.ok());
  std::vector<float> X(40 * 4);
  std::vector<int32_t> Y(40, 1);
  EXPECT_EQ(M->trainStep(X.data(), Y.data(), 40).status().message(),
            "batch of 40 rows; this model takes 1 to 20");
  Y[3] = 9;
  EXPECT_EQ(M->trainStep(X.data(), Y.data(), 20).status().message(),
            "row 3: label 9 is not a class of 0..2");
  std::vector<float> T(20 * 3);
  EXPECT_EQ(M->trainStep(X.data(), T.data(), 20).status().code(), 2);
  netjit::Model Empty;
  EXPECT_EQ(Empty.predict(X.data(), 1, T.data()).code(), 2);
}

TEST(ApiTest, CheckpointsRoundTrip) {
  if (!netjit::test::jitUnavailable().empty())
    GTEST_SKIP() << netjit::test::jitUnavailable();
  netjit::Compiler C(noCache());
  auto A = C.compileJson(Spec), B = C.compileJson(Spec);
  ASSERT_TRUE(A.ok() && B.ok());
  std::vector<float> X;
  std::vector<int32_t> Y;
  task(20, 2, X, Y);
  for (int I = 0; I < 5; ++I)
    ASSERT_TRUE(A->trainStep(X.data(), Y.data(), 20).ok());
  llvm::SmallString<128> Path;
  llvm::sys::fs::createTemporaryFile("api", "st", Path);
  ASSERT_TRUE(A->save(std::string(Path), 1).ok());
  ASSERT_TRUE(B->load(std::string(Path)).ok());
  // Same weights and optimizer state: the next steps agree exactly.
  for (int I = 0; I < 3; ++I) {
    auto RA = A->trainStep(X.data(), Y.data(), 20);
    auto RB = B->trainStep(X.data(), Y.data(), 20);
    ASSERT_TRUE(RA.ok() && RB.ok());
    EXPECT_EQ(RA->Loss, RB->Loss);
  }
  llvm::sys::fs::remove(Path);
  EXPECT_EQ(B->load("/nonexistent.st").code(), 9);
}

/// Two Models compiled and trained at once from two threads give what each
/// gives alone.
TEST(ApiTest, TwoModelsOnTwoThreads) {
  if (!netjit::test::jitUnavailable().empty())
    GTEST_SKIP() << netjit::test::jitUnavailable();
  auto Run = [](unsigned Seed, std::vector<float> &Weights) {
    auto M = netjit::Compiler(noCache()).compileJson(Spec);
    ASSERT_TRUE(M.ok()) << M.status().message();
    M->initialize(Seed);
    std::vector<float> X;
    std::vector<int32_t> Y;
    task(20, Seed, X, Y);
    for (int I = 0; I < 100; ++I)
      ASSERT_TRUE(M->trainStep(X.data(), Y.data(), 20).ok());
    Weights.resize(64);
    ASSERT_TRUE(M->getParameter("dense_0/kernel", Weights.data(), 64).ok());
  };
  std::vector<float> Alone1, Alone2, Both1, Both2;
  Run(1, Alone1);
  Run(2, Alone2);
  std::thread T1([&] { Run(1, Both1); }), T2([&] { Run(2, Both2); });
  T1.join();
  T2.join();
  EXPECT_EQ(Both1, Alone1);
  EXPECT_EQ(Both2, Alone2);
  EXPECT_NE(Alone1, Alone2);
}

} // namespace

namespace {

/// After compiling a whole training program, no mapping of the process is
/// writable and executable at once: the JIT writes code, then makes it
/// read-only and executable.
TEST(ApiTest, NoMappingIsWritableAndExecutable) {
  if (!netjit::test::jitUnavailable().empty())
    GTEST_SKIP() << netjit::test::jitUnavailable();
  auto M = netjit::Compiler(noCache()).compileJson(Spec);
  ASSERT_TRUE(M.ok());
  std::vector<float> X(20 * 4, 0.1f);
  std::vector<int32_t> Y(20, 1);
  ASSERT_TRUE(M->trainStep(X.data(), Y.data(), 20).ok());
  std::FILE *F = std::fopen("/proc/self/maps", "r");
  ASSERT_NE(F, nullptr);
  char Line[512];
  int Mappings = 0;
  while (std::fgets(Line, sizeof Line, F)) {
    ++Mappings;
    char Perms[8] = {};
    ASSERT_EQ(std::sscanf(Line, "%*s %7s", Perms), 1) << Line;
    EXPECT_FALSE(Perms[1] == 'w' && Perms[2] == 'x') << Line;
  }
  std::fclose(F);
  EXPECT_GT(Mappings, 10);
}

} // namespace

namespace {

/// A host's limits for untrusted specs: refused with the field named,
/// before anything is allocated.
TEST(ApiTest, ResourceLimitsAreTheHosts) {
  netjit::CompilerOptions O = noCache();
  O.MaxWeights = 100; // the spec has 4 x 16 + 16 + 16 x 3 + 3 = 131
  auto M = netjit::Compiler(O).compileJson(Spec, "small.json");
  ASSERT_FALSE(M.ok());
  EXPECT_EQ(M.status().code(), 4);
  EXPECT_EQ(M.status().message(),
            "small.json: /layers/1/units: the network needs more than 100 "
            "weights (the limit, 400 bytes per copy of them)");
  O.MaxWeights = 1000;
  O.MaxActivations = 500; // 20 rows x (4 + 6 x (16 + 3)) floats
  auto N = netjit::Compiler(O).compileJson(Spec, "small.json");
  ASSERT_FALSE(N.ok());
  EXPECT_EQ(N.status().message(),
            "small.json: /training/batch_size: a batch of 20 needs 2360 "
            "floats of activations, more than the limit of 500");
}

} // namespace

namespace {

const char *FitSpec = R"({"input": {"shape": [2]},
  "layers": [{"type": "dense", "units": 32, "activation": "tanh"},
             {"type": "dropout", "rate": 0.1},
             {"type": "dense", "units": 1, "activation": "sigmoid"}],
  "loss": "binary_crossentropy",
  "optimizer": {"type": "adam", "learning_rate": 0.01},
  "training": {"batch_size": 4, "epochs": 4, "seed": 5},
  "data": {"dataset": "circle", "samples": 2000, "seed": 1}})";

std::vector<float> kernel(netjit::Model &M) {
  std::vector<float> W(64);
  EXPECT_TRUE(M.getParameter("dense_0/kernel", W.data(), W.size()).ok());
  return W;
}

/// requestStop() from another thread ends fit after a step; the next fit,
/// here in another Model after save() and load(), continues from that step
/// and ends with the weights of a fit never stopped.
TEST(ApiTest, AStoppedFitLosesNothing) {
  if (!netjit::test::jitUnavailable().empty())
    GTEST_SKIP() << netjit::test::jitUnavailable();
  netjit::Compiler C(noCache());
  auto Full = C.compileJson(FitSpec), A = C.compileJson(FitSpec),
       B = C.compileJson(FitSpec);
  ASSERT_TRUE(Full.ok() && A.ok() && B.ok()) << Full.status().message();
  auto Whole = Full->fit();
  ASSERT_TRUE(Whole.ok()) << Whole.status().message();
  ASSERT_EQ(Whole->size(), 4u);

  // Stopped from a thread of the host's once the first epoch is reported
  // (the callback waits for it, so the stop falls in the second epoch).
  netjit::Result<std::vector<netjit::EpochReport>> Part =
      netjit::Status(1, "not run");
  std::thread T([&] {
    Part = A->fit(0, [&](const netjit::EpochReport &R) {
      if (R.Epoch == 1) {
        std::thread Host([&] { A->requestStop(); });
        Host.join();
      }
    });
  });
  T.join();
  ASSERT_TRUE(Part.ok()) << Part.status().message();
  ASSERT_FALSE(Part->empty());
  EXPECT_TRUE(Part->back().Stopped);
  EXPECT_LT(Part->back().Epoch, 4);
  EXPECT_NE(kernel(*A), kernel(*Full));

  llvm::SmallString<128> Path;
  llvm::sys::fs::createTemporaryFile("stopped", "st", Path);
  ASSERT_TRUE(A->save(std::string(Path)).ok());
  ASSERT_TRUE(B->load(std::string(Path)).ok());
  llvm::sys::fs::remove(Path);
  auto Rest = B->fit();
  ASSERT_TRUE(Rest.ok()) << Rest.status().message();
  ASSERT_FALSE(Rest->empty());
  EXPECT_FALSE(Rest->back().Stopped);
  EXPECT_EQ(Rest->back().Epoch, 4);
  EXPECT_EQ(Rest->back().Loss, Whole->back().Loss);
  EXPECT_EQ(Rest->back().TestAccuracy, Whole->back().TestAccuracy);
  EXPECT_EQ(kernel(*B), kernel(*Full));
}

} // namespace
