// PoolGradAct.cpp - the activation's derivative applied by pooling's
// gradient as it writes each value (CodeGen/WindowSteps.cpp), where no two
// windows share a pixel so that each is written once: dz = dx * f'(y)
// without a pass of its own over the conv's output, and dx is never kept.
// In the Fashion-MNIST CNN that pass read and wrote 26x26x32 floats per
// sample, a few percent of the step; and since max pooling's gradient goes
// to each window's max, where y is the pool's output, a derivative from y
// alone reads that instead of the conv's y.
#include "netjit/Transforms/Passes.h"

using namespace llvm;

namespace netjit {
namespace {

bool poolGrad(StepKind K) {
  return K == StepKind::MaxPoolGrad || K == StepKind::AvgPoolGrad;
}

class PoolGradAct : public Pass {
public:
  StringRef name() const override { return "pool-grad-act"; }
  void run(TrainGraph &T, std::vector<Step> &Program) override {
    std::map<int, int> Refs = tensorRefs(T);
    // The derivative follows the pooling's gradient in its loop over the
    // samples.
    forEachWithFollowers(Program, poolGrad,
                         [&](Step &S, std::vector<Step> &Next, size_t At) {
                           fold(T, S, Next, At, Refs);
                         });
  }

private:
  /// The max pool whose argmax is Arg.
  static const Step *maxPool(const TrainGraph &T, int Arg) {
    for (const Step &S : T.Train) {
      if (S.Kind == StepKind::MaxPool && S.Out2 == Arg)
        return &S;
      for (const Step &E : S.Epilogue)
        if (E.Kind == StepKind::MaxPool && E.Out2 == Arg)
          return &E;
    }
    return nullptr;
  }
  static void fold(TrainGraph &T, Step &Pool, std::vector<Step> &Next,
                   size_t At, std::map<int, int> &Refs) {
    int DX = Pool.Out;
    if (!Pool.Win.disjoint() || At >= Next.size() || Refs[DX] != 2)
      return;
    const Step &D = Next[At];
    // act_grad of an activation without trained parameters (whose rows the
    // pooling's loop does not have), or the product with a stored f'(z);
    // no diagnostics counting its lanes.
    bool Act = D.Kind == StepKind::ActGrad &&
               T.network().activation(D.Act).Trained.empty();
    if (!(Act || D.Kind == StepKind::Mul) || D.In[0] != DX || D.Stat >= 0 ||
        D.Out2 >= 0)
      return;
    Pool.DerivIn = Pool.In.size();
    // Max pooling's gradient lands only on each window's max, where y is
    // the pool's output: f' from y alone is then taken once per window
    // from that, and the conv's y is not read back at all. (Only where the
    // pool reads that y itself.)
    const Step *Fwd = Pool.Kind == StepKind::MaxPoolGrad && Act &&
                              !T.network().activation(D.Act).Forms.yFormReadsX()
                          ? maxPool(T, Pool.In[1])
                          : nullptr;
    if (Fwd && Fwd->In[0] == D.In[1]) {
      Pool.In.push_back(Fwd->Out);
      Pool.DerivAtMax = true;
    } else {
      Pool.In.insert(Pool.In.end(), D.In.begin() + 1, D.In.end());
    }
    Pool.Act = Act ? D.Act : -1;
    Pool.Out = D.Out;
    Next.erase(Next.begin() + At);
    T.dropValue(DX);
  }
};

} // namespace

std::unique_ptr<Pass> createPoolGradActPass() {
  return std::make_unique<PoolGradAct>();
}

} // namespace netjit
