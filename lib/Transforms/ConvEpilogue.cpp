// ConvEpilogue.cpp - a convolution's bias and activation applied to its
// accumulators before they are stored (CodeGen/WindowSteps.cpp), instead
// of as passes over each sample's output: in the Fashion-MNIST CNN those
// passes were a fifth of the forward time. The conv then writes y, and its
// z, which nothing else reads when the activation's derivative has a form
// in y alone (relu's y > 0), is dropped.
#include "netjit/Transforms/Passes.h"

using namespace llvm;

namespace netjit {
namespace {

/// The activation step after the bias, reading z alone: no trained
/// parameters (whose rows the GEMM's registers do not have) and no
/// diagnostics counting its lanes.
bool foldable(const Step &A, int Z) {
  return A.Kind == StepKind::Act && A.In.size() == 1 && A.In[0] == Z &&
         A.Stat < 0 && A.Out2 < 0;
}

class ConvEpilogue : public Pass {
public:
  StringRef name() const override { return "conv-epilogue"; }
  void run(TrainGraph &T, std::vector<Step> &Program) override {
    std::map<int, int> Refs = tensorRefs(T);
    // A conv leads its loop over the samples, or is a step inside it; the
    // steps after it in that loop are its candidates.
    forEachWithFollowers(
        Program, [](StepKind K) { return K == StepKind::Conv; },
        [&](Step &S, std::vector<Step> &Next, size_t At) {
          fold(T, S, Next, At, Refs);
        });
  }

private:
  /// Folds Next[At] (bias_add on the conv's z, if the layer has a bias) and
  /// the act after it into Conv where they match.
  static void fold(TrainGraph &T, Step &Conv, std::vector<Step> &Next,
                   size_t At, std::map<int, int> &Refs) {
    int Z = Conv.Out;
    if (At < Next.size() && Next[At].Kind == StepKind::BiasAdd &&
        Next[At].In[0] == Z && Next[At].Out == Z && Next[At].Stat < 0) {
      Conv.In.push_back(Next[At].In[1]);
      Next.erase(Next.begin() + At);
      Refs[Z] -= 2;
    }
    // Left: the conv's write and, if nothing else reads z, the act's read.
    if (Refs[Z] != 2 || At >= Next.size() || !foldable(Next[At], Z))
      return;
    Conv.Act = Next[At].Act;
    Conv.Out = Next[At].Out;
    Next.erase(Next.begin() + At);
    T.dropValue(Z);
  }
};

} // namespace

std::unique_ptr<Pass> createConvEpiloguePass() {
  return std::make_unique<ConvEpilogue>();
}

} // namespace netjit
