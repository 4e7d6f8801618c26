// ConvTest.cpp - networks over images: the compiled gradients of generated
// convolutional specs (every window layer, strides, paddings, dilations,
// groups, odd kernels, 1 and 3 channels, prime widths) against the float64
// reference, and the threaded step against the one-thread one.
#include "TestUtil.h"

#include "netjit/Runtime/GradCheck.h"

#include "llvm/Support/FormatVariadic.h"
#include <random>
#include <set>

using namespace netjit;

namespace {

using test::compileSpec;

const char *Acts[] = {"\"relu\"", "\"tanh\"", "\"gelu\"", "\"sigmoid\"",
                      "\"mish\"", "{\"name\": \"leaky_relu\", \"alpha\": 0.3}",
                      "{\"name\": \"prelu\"}", "\"linear\""};

/// Keras' output extent along one axis.
int64_t extent(int64_t In, int64_t K, int64_t S, int64_t D, bool Same) {
  int64_t Span = (K - 1) * D + 1;
  return Same ? (In + S - 1) / S : Span > In ? 0 : (In - Span) / S + 1;
}

/// A spec of Index's mix: a 2-D or 1-D image through one to three blocks
/// (zero padding, a convolution, pooling), then a global pooling, a
/// flatten or a reshape, and a dense softmax. Every value is drawn so
/// that the window fits.
std::string generateConvSpec(unsigned Index, std::mt19937 &R) {
  auto Pick = [&](unsigned N) { return unsigned(R() % N); };
  bool TwoD = Index % 4 != 3;
  const int64_t Sizes[] = {5, 7, 8, 11, 13};
  int64_t H = TwoD ? Sizes[Pick(5)] : 1, W = Sizes[Pick(5)];
  int64_t C = Index % 3 == 0 ? 1 : Index % 3 == 1 ? 3 : 2;
  std::string Dim = TwoD ? "2d" : "1d";
  auto Pair = [&](int64_t A, int64_t B) {
    return TwoD ? llvm::formatv("[{0}, {1}]", A, B).str() : std::to_string(B);
  };
  std::string Input = TwoD ? llvm::formatv("[{0}, {1}, {2}]", H, W, C).str()
                           : llvm::formatv("[{0}, {1}]", W, C).str();
  std::string Layers;
  unsigned Blocks = 1 + Pick(3);
  for (unsigned Bk = 0; Bk < Blocks; ++Bk) {
    if (Pick(4) == 0) {
      int64_t T = Pick(2), L = 1 + Pick(2);
      Layers += llvm::formatv("{{\"type\": \"zero_padding{0}\", \"padding\": "
                              "{1}}, ",
                              Dim, TwoD ? llvm::formatv("[[{0}, 1], [{1}, 0]]", T, L).str()
                                        : llvm::formatv("[[{0}, 1]]", L).str())
                    .str();
      if (TwoD)
        H += T + 1;
      W += L + (TwoD ? 0 : 1);
    }
    const int64_t Kernels[] = {1, 3, 5, 7, 2};
    int64_t Kh = TwoD ? Kernels[(Index + Bk + Pick(2)) % 5] : 1;
    int64_t Kw = Kernels[(Index + 2 * Bk + Pick(3)) % 5];
    bool Same = Pick(2);
    int64_t S = 1 + Pick(2), D = 1;
    if (S == 1 && Pick(3) == 0)
      D = 2;
    // Shrink the window until it fits the image.
    // (with "same" too: a window wider than the image would see only
    // padding at some pixels, a kink of relu or prelu at exactly 0).
    while (extent(H, Kh, S, D, false) < 1 || extent(W, Kw, S, D, false) < 1) {
      if (D > 1)
        D = 1;
      else if (Kh > 1 && extent(H, Kh, S, D, false) < 1)
        Kh -= 1;
      else
        Kw -= 1;
    }
    int64_t Filters = 1 + Pick(6);
    int64_t Groups = 1;
    if (C > 1 && Pick(3) == 0) {
      Groups = C;  // depthwise, with a multiplier
      Filters = C * (1 + Pick(2));
    }
    std::string Pad = Same ? "same" : (!TwoD && Pick(3) == 0 ? "causal" : "valid");
    if (Pad == "causal") {
      Same = false;
      // causal: (W - 1) / S + 1 outputs.
    }
    Layers += llvm::formatv(
                  "{{\"type\": \"conv{0}\", \"filters\": {1}, \"kernel_size\": "
                  "{2}, \"strides\": {3}, \"padding\": \"{4}\", "
                  "\"dilation_rate\": {5}, \"groups\": {6}, \"activation\": "
                  "{7}, \"use_bias\": {8}}, ",
                  Dim, Filters, Pair(Kh, Kw), Pair(S, S), Pad, Pair(D, D),
                  Groups, Acts[(Index + Bk) % 8], Pick(4) ? "true" : "false")
                  .str();
    if (Pad == "causal") {
      W = (W - 1) / S + 1;
    } else {
      H = TwoD ? extent(H, Kh, S, D, Same) : 1;
      W = extent(W, Kw, S, D, Same);
    }
    C = Filters;
    if (Pick(2) && (H >= 2 || !TwoD) && W >= 2) {
      int64_t P = 2 + Pick(2);
      bool PSame = Pick(2) || (TwoD && H < P) || W < P;
      int64_t PS = Pick(2) ? P : 1;
      Layers += llvm::formatv("{{\"type\": \"{0}_pooling{1}\", \"pool_size\": "
                              "{2}, \"strides\": {3}, \"padding\": \"{4}\"}, ",
                              Pick(2) ? "max" : "average", Dim, Pair(P, P),
                              Pair(PS, PS), PSame ? "same" : "valid")
                    .str();
      H = TwoD ? extent(H, P, PS, 1, PSame) : 1;
      W = extent(W, P, PS, 1, PSame);
    }
  }
  switch (Index % 5) {
  case 0:
  case 1:
    Layers += llvm::formatv("{{\"type\": \"global_{0}_pooling{1}\"}, ",
                            (Index / 5) % 2 ? "max" : "average", Dim)
                  .str();
    break;
  case 2:
    Layers += llvm::formatv("{{\"type\": \"global_max_pooling{0}\", "
                            "\"keepdims\": true}, {{\"type\": \"flatten\"}, ",
                            Dim)
                  .str();
    break;
  case 3:
    Layers += llvm::formatv("{{\"type\": \"reshape\", \"target_shape\": [-1, "
                            "{0}]}, {{\"type\": \"flatten\"}, ",
                            C)
                  .str();
    break;
  default:
    Layers += "{\"type\": \"flatten\"}, ";
  }
  Layers += llvm::formatv("{{\"type\": \"dense\", \"units\": {0}, "
                          "\"activation\": \"softmax\"}",
                          2 + Pick(4))
                .str();
  return llvm::formatv(R"js({{"input": {{"shape": {0}},
 "layers": [{1}],
 "loss": "sparse_categorical_crossentropy", "optimizer": "adam"})js",
                       Input, Layers)
      .str();
}

/// What the generated specs must cover between them.
const char *const Cases[] = {
    "conv1d", "conv2d", "max_pooling1d", "max_pooling2d",
    "average_pooling1d", "average_pooling2d", "global_max_pooling1d",
    "global_max_pooling2d", "global_average_pooling1d",
    "global_average_pooling2d", "zero_padding1d", "zero_padding2d",
    "reshape", "\"same\"", "\"causal\"", "\"groups\": 3",
    "\"dilation_rate\": [2, 2]", "[7, ", "[5, "};

TEST(ConvTest, GeneratedSpecsMatchTheFloat64Reference) {
  NETJIT_REQUIRE_JIT();
  std::mt19937 R(26);
  std::set<std::string> Seen; // every new kind and case, checked below
  for (unsigned I = 0; I < 40; ++I) {
    std::string Text = generateConvSpec(I, R);
    for (const char *K : Cases)
      if (Text.find(K) != std::string::npos)
        Seen.insert(K);
    int64_t Batch = 1 + R() % 5;
    auto M = compileSpec(Text, Batch);
    ASSERT_TRUE(M) << Text;
    M->initialize(I);
    // Biases off zero: a pixel that sees only padding would otherwise sit
    // on relu's kink (or tie in a max pool) at exactly 0.
    std::uniform_real_distribution<float> Noise(-0.2f, 0.2f);
    for (size_t P = 0; P < M->network().params().size(); ++P)
      for (int64_t K = 0; K < M->network().params()[P].size(); ++K)
        M->param(P)[K] += Noise(R);
    test::expectGradientsMatch(*M, Batch, I + 1,
                               "spec " + std::to_string(I) + ":\n" + Text);
  }
  std::string Missing;
  for (const char *K : Cases)
    if (!Seen.count(K))
      Missing += std::string(" ") + K;
  EXPECT_EQ(Missing, "") << "the generator no longer covers every case";
}

/// Two threads split the batch: the same step as one thread, up to the
/// order of the gradient sums.
TEST(ConvTest, TwoThreadsTrainLikeOne) {
  NETJIT_REQUIRE_JIT();
  std::string Text = R"({"input": {"shape": [12, 12, 3]},
    "layers": [{"type": "conv2d", "filters": 8, "kernel_size": 3, "activation": "relu", "padding": "same"},
               {"type": "max_pooling2d"},
               {"type": "conv2d", "filters": 6, "kernel_size": 3, "activation": "gelu"},
               {"type": "global_average_pooling2d"},
               {"type": "dense", "units": 4, "activation": "softmax"}],
    "loss": "sparse_categorical_crossentropy", "optimizer": "adam"})";
  const int64_t Batch = 128;
  auto One = compileSpec(Text, Batch, 1), Two = compileSpec(Text, Batch, 2);
  ASSERT_TRUE(One && Two);
  std::vector<float> X, Targets;
  std::vector<int32_t> Labels;
  randomBatch(One->graph(), Batch, 7, X, Labels, Targets);
  One->initialize(3);
  Two->initialize(3);
  for (int Step = 0; Step < 3; ++Step) {
    auto A = One->trainStep(X.data(), Labels.data(), Batch);
    auto B = Two->trainStep(X.data(), Labels.data(), Batch);
    ASSERT_TRUE(A && B);
    EXPECT_NEAR(A->LossSum, B->LossSum, 1e-5 * std::fabs(A->LossSum));
  }
  test::expectSameParams(*One, *Two, 1e-4);
}

} // namespace
