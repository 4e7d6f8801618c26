// GraphTest.cpp - networks as graphs: generated specs that branch and merge
// (add, multiply, concatenate), read values from several layers and
// normalize batches after convolutions and after dense layers, their
// compiled gradients in training mode against the float64 reference.
#include "TestUtil.h"

#include "llvm/Support/FormatVariadic.h"
#include <map>
#include <random>
#include <set>

using namespace netjit;

namespace {

using test::compileSpec;

/// A value the generator may read: its layer's name and shape, and how many
/// layers read it so far.
struct Value {
  std::string Name;
  std::vector<int64_t> Shape;
  int Readers = 0;
};

std::string shapeText(const std::vector<int64_t> &S) {
  std::string T = "[";
  for (size_t I = 0; I < S.size(); ++I)
    T += (I ? ", " : "") + std::to_string(S[I]);
  return T + "]";
}

/// A spec of Index's mix: a section over images (convolutions with "same"
/// padding, so every value keeps the image's extent) and a section over
/// features after global pooling, each a random DAG of layers and merges,
/// its unread values concatenated at its end so that every layer reaches
/// the output.
std::string generateGraphSpec(unsigned Index, std::mt19937 &R,
                              std::set<std::string> &Seen) {
  auto Pick = [&](unsigned N) { return unsigned(R() % N); };
  const char *Acts[] = {"tanh", "gelu", "sigmoid", "mish", "silu"};
  std::string Layers;
  int Next = 0;
  auto Add = [&](const std::string &Body, const std::string &Kind) {
    std::string Name = "l" + std::to_string(Next++);
    Layers += (Layers.empty() ? "" : ",\n  ") + std::string("{") + Body +
              ", \"name\": \"" + Name + "\"}";
    Seen.insert(Kind);
    return Name;
  };
  auto Inputs = [](std::initializer_list<const Value *> Vs) {
    std::string T = "\"inputs\": [";
    const char *Sep = "";
    for (const Value *V : Vs)
      T += std::exchange(Sep, ", ") + ("\"" + V->Name + "\"");
    return T + "]";
  };
  int64_t H = 4 + Pick(3), W = 4 + Pick(3), C = 2 + Pick(2);
  std::vector<Value> Pool = {{"input", {H, W, C}}};
  // Reads a value, noting a second reader.
  auto Read = [&](Value &V) -> const Value * {
    if (++V.Readers == 2)
      Seen.insert("several readers");
    return &V;
  };
  auto Section = [&](bool Images) {
    unsigned Steps = 3 + Pick(4);
    for (unsigned S = 0; S < Steps; ++S) {
      Value &A = Pool[Pick(Pool.size())];
      unsigned Op = Pick(6);
      // Another value of A's shape (or, for concatenate, of its extents
      // but the last).
      auto Partner = [&](bool AnyLast) -> Value * {
        std::vector<Value *> Fit;
        for (Value &V : Pool)
          if (&V != &A && V.Shape.size() == A.Shape.size() &&
              std::equal(V.Shape.begin(), V.Shape.end() - (AnyLast ? 1 : 0),
                         A.Shape.begin()))
            Fit.push_back(&V);
        return Fit.empty() ? nullptr : Fit[Pick(Fit.size())];
      };
      std::vector<int64_t> Shape = A.Shape;
      std::string Name;
      if (Op <= 1) {
        // A convolution or dense layer, batch normalization after it half
        // of the time, then its activation.
        int64_t Units = 2 + Pick(4);
        Shape.back() = Units;
        const char *Act = Acts[Pick(5)];
        bool Norm = Pick(2);
        std::string Kind = Images ? "conv2d" : "dense";
        std::string Body =
            Images ? llvm::formatv("\"type\": \"conv2d\", \"filters\": {0}, "
                                   "\"kernel_size\": {1}, \"padding\": \"same\"",
                                   Units, 1 + 2 * Pick(2))
                         .str()
                   : llvm::formatv("\"type\": \"dense\", \"units\": {0}", Units)
                         .str();
        // Before a batch normalization, no bias (Keras' advice: it cancels
        // out; its true gradient is 0, left to float rounding of sums whose
        // terms grow as the batch's spread shrinks).
        Body += Norm ? std::string(", \"use_bias\": false")
                     : std::string(", \"activation\": \"") + Act + "\"";
        Name = Add(Body + ", " + Inputs({Read(A)}), Kind);
        if (Norm) {
          Name = Add(llvm::formatv("\"type\": \"batch_normalization\", "
                                   "\"momentum\": 0.9, \"center\": {0}, "
                                   "\"scale\": {1}",
                                   Pick(4) ? "true" : "false",
                                   Pick(4) ? "true" : "false")
                         .str(),
                     "batch_normalization after " + Kind);
          Name = Add(std::string("\"type\": \"activation\", \"activation\": \"") +
                         Act + "\"",
                     "activation");
        }
      } else if (Op == 2) {
        Name = Add("\"type\": \"batch_normalization\", \"epsilon\": 0.01, " +
                       Inputs({Read(A)}),
                   "batch_normalization");
      } else if (Value *B = Partner(Op == 5)) {
        const char *Kinds[] = {"add", "multiply", "concatenate"};
        const char *Kind = Kinds[Op - 3];
        if (Op == 5)
          Shape.back() += B->Shape.back();
        Name = Add(std::string("\"type\": \"") + Kind + "\", " +
                       Inputs({Read(A), Read(*B)}),
                   Kind);
      } else {
        continue;
      }
      Pool.push_back({Name, Shape});
    }
    // The section's unread values side by side (its input's too, unless
    // something reads it).
    std::vector<const Value *> Leaves;
    for (Value &V : Pool)
      if (!V.Readers)
        Leaves.push_back(Read(V));
    Value Out = *Leaves.back();
    if (Leaves.size() > 1) {
      std::string Ins = "\"inputs\": [";
      int64_t Last = 0;
      for (size_t K = 0; K < Leaves.size(); ++K) {
        Ins += (K ? ", \"" : "\"") + Leaves[K]->Name + "\"";
        Last += Leaves[K]->Shape.back();
      }
      Out.Shape.back() = Last;
      Out.Name = Add("\"type\": \"concatenate\", " + Ins + "]", "concatenate");
    }
    Out.Readers = 0;
    return Out;
  };
  Value Images = Section(true);
  std::string Pooled =
      Add("\"type\": \"global_average_pooling2d\", \"inputs\": [\"" +
              Images.Name + "\"]",
          "global_average_pooling2d");
  Pool = {{Pooled, {Images.Shape.back()}}};
  Value Features = Section(false);
  Add("\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\", "
      "\"inputs\": [\"" +
          Features.Name + "\"]",
      "dense");
  (void)Index;
  return "{\"input\": {\"shape\": " + shapeText({H, W, C}) +
         "},\n \"layers\": [\n  " + Layers +
         "],\n \"loss\": \"sparse_categorical_crossentropy\", \"optimizer\": "
         "\"adam\"}";
}

const char *const Cases[] = {
    "add", "multiply", "concatenate", "several readers",
    "batch_normalization after conv2d", "batch_normalization after dense",
    "batch_normalization"};

TEST(GraphTest, GeneratedGraphsMatchTheFloat64Reference) {
  NETJIT_REQUIRE_JIT();
  std::mt19937 R(27);
  std::set<std::string> Seen;
  for (unsigned I = 0; I < 24; ++I) {
    std::string Text = generateGraphSpec(I, R, Seen);
    int64_t Batch = 2 + R() % 4;
    auto M = compileSpec(Text, Batch);
    ASSERT_TRUE(M) << Text;
    M->initialize(I);
    test::expectGradientsMatch(*M, Batch, I + 1,
                               "graph " + std::to_string(I) + ":\n" + Text);
  }
  std::string Missing;
  for (const char *K : Cases)
    if (!Seen.count(K))
      Missing += std::string(" '") + K + "'";
  EXPECT_EQ(Missing, "") << "the generator no longer covers every case";
}

} // namespace
