// GoldenTest.cpp - the numbers training gives, kept: restructuring the
// compiler must not change what a step computes. 100 Adam steps of
// examples/fashion_mlp.json on the first 3200 Fashion-MNIST images (one
// thread, code for x86-64-v4 so that every AVX-512 host runs the same
// instructions) give these losses and weights, bit for bit.
#include "TestUtil.h"

#include "netjit/Data/Dataset.h"
#include "netjit/Runtime/Checkpoint.h"
#include "netjit/Graph/NetworkGraph.h"
#include "netjit/Runtime/Trainer.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/TargetParser/Host.h"
#include <cstring>

namespace netjit {
namespace {

uint64_t fnv(uint64_t H, const void *P, size_t N) {
  for (size_t I = 0; I < N; ++I)
    H = (H ^ static_cast<const unsigned char *>(P)[I]) * 0x100000001b3ull;
  return H;
}

struct Figures {
  std::vector<double> Losses; // the epoch's running mean after each step
  uint64_t LossHash = 0xcbf29ce484222325ull, WeightHash = 0xcbf29ce484222325ull;
  double WeightSum = 0, WeightSquares = 0;
};

TEST(Golden, FashionMlpHundredStepsAreUnchanged) {
  NETJIT_REQUIRE_JIT();
  llvm::StringMap<bool> Features = llvm::sys::getHostCPUFeatures();
  if (!Features.lookup("avx512f") || !Features.lookup("avx512bw") ||
      !Features.lookup("avx512dq") || !Features.lookup("avx512vl"))
    GTEST_SKIP() << "the kept figures are for x86-64-v4 (AVX-512) code";
  auto S = loadSpec(NETJIT_SOURCE_DIR "/examples/fashion_mlp.json");
  ASSERT_TRUE(bool(S)) << llvm::toString(S.takeError());
  auto D = loadDataset(*S);
  if (!D)
    GTEST_SKIP() << llvm::toString(D.takeError());
  const int64_t Rows = 3200; // 100 batches of 32
  D->Train.Rows = Rows;
  D->Train.X.resize(Rows * D->Train.Features);
  D->Train.Labels.resize(Rows);
  D->Validation = DataSplit();
  D->Test = DataSplit();
  uint64_t Seed = S->Training.Seed;
  auto G = NetworkGraph::build(std::move(*S));
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  CompileOptions CO;
  CO.Jit.UseCache = false;
  CO.Jit.Target.CPU = "x86-64-v4";
  CO.Threads = 1;
  auto M = CompiledModel::compile(std::move(*G), CO);
  ASSERT_TRUE(bool(M)) << llvm::toString(M.takeError());
  (*M)->initialize(Seed);
  TrainOptions O;
  O.Epochs = 1;
  O.Seed = Seed;
  Figures F;
  O.OnStep = [&](const TrainProgress &P) { F.Losses.push_back(P.Loss); };
  auto R = train(**M, *D, O);
  ASSERT_TRUE(bool(R)) << llvm::toString(R.takeError());
  ASSERT_EQ(F.Losses.size(), 100u);
  for (double L : F.Losses)
    F.LossHash = fnv(F.LossHash, &L, sizeof L);
  const TrainGraph &T = (*M)->graph();
  const auto &Params = T.network().params();
  for (size_t P = 0; P < Params.size(); ++P) {
    const float *W = (*M)->arena() + T.tensor(T.paramTensor(P)).Offset;
    int64_t N = Params[P].size();
    F.WeightHash = fnv(F.WeightHash, W, N * sizeof(float));
    for (int64_t I = 0; I < N; ++I) {
      F.WeightSum += W[I];
      F.WeightSquares += double(W[I]) * W[I];
    }
  }
  // Printed so that a deliberate change of rounding can be judged and the
  // figures renewed (within 1e-6 relative, the commit naming the reason).
  std::string Got = llvm::formatv(
      "losses {0:x-16} weights {1:x-16}; loss 1 {2:e}, 50 {3:e}, 100 {4:e}; "
      "weight sum {5:e}, sum of squares {6:e}",
      F.LossHash, F.WeightHash, F.Losses[0], F.Losses[49], F.Losses[99],
      F.WeightSum, F.WeightSquares).str();
  EXPECT_EQ(llvm::formatv("{0:x-16}", F.LossHash).str(), "7633fd98f7096f6e") << Got;
  EXPECT_EQ(llvm::formatv("{0:x-16}", F.WeightHash).str(), "fd7cbff58599e3c8") << Got;
}

} // namespace
} // namespace netjit

namespace netjit {
namespace {

// A checkpoint's identity is a canonical serialization of the graph: it must
// not move with a printout or the simplifier. These values change only with
// what the weights mean (then old checkpoints are refused, as they should).
TEST(Golden, CheckpointIdentityIsStable) {
  auto S = loadSpec(NETJIT_SOURCE_DIR "/examples/fashion_mlp.json");
  ASSERT_TRUE(bool(S)) << llvm::toString(S.takeError());
  auto G = NetworkGraph::build(std::move(*S));
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  EXPECT_EQ(specHash(**G, false), "22935de0665b51a8");
  EXPECT_EQ(specHash(**G, true), "232c963c7d60eac6");
  // Files written before carry the printout's hash: still read.
  CheckpointInfo Old;
  Old.NetworkHash = printoutHash(**G, false);
  Old.TrainingHash = printoutHash(**G, true);
  EXPECT_TRUE(hashMatches(Old, **G, false));
  EXPECT_TRUE(hashMatches(Old, **G, true));
  Old.TrainingHash = "0123456789abcdef";
  EXPECT_FALSE(hashMatches(Old, **G, true));
}

} // namespace
} // namespace netjit
