// SampleLocal.cpp - values that live inside one loop over the samples. A
// fused group of steps over images (fuse-epilogues: a Samples producer and
// the steps in its loop) passes gradients and intermediates from step to
// step one sample at a time; a value no step outside the group reads needs
// only that sample's row, which stays in cache, instead of the batch's,
// which every step would write back to memory (a conv layer's gradient is
// 11 MB at batch 128 in the Fashion-MNIST CNN).
#include "netjit/Transforms/Passes.h"

#include <map>

using namespace llvm;

namespace netjit {
namespace {

class SampleLocal : public Pass {
public:
  StringRef name() const override { return "sample-local"; }
  void run(TrainGraph &T, std::vector<Step> &Program) override {
    // The group (index in Program) of each step that reads or writes a
    // tensor; -1 once two groups, or a step outside every group, use it.
    std::map<int, int> Group;
    auto Use = [&](int Id, int G) {
      if (Id < 0)
        return;
      auto [It, New] = Group.try_emplace(Id, G);
      if (!New && It->second != G)
        It->second = -1;
    };
    for (size_t I = 0; I < Program.size(); ++I) {
      const Step &S = Program[I];
      int G = stepInfo(S.Kind).Rows == RowsProducer::Samples ? int(I) : -1;
      auto All = [&](const Step &X) {
        for (int In : X.In)
          Use(In, G);
        Use(X.Out, G);
        Use(X.Out2, G);
        Use(X.Out3, G);
      };
      All(S);
      for (const Step &E : S.Epilogue)
        All(E);
    }
    // The other programs' tensors are theirs (each program names its own
    // values), but a value they share is not local to any group here.
    for (std::vector<Step> *Other : {&T.Train, &T.Evaluate, &T.Predict})
      if (Other != &Program)
        for (const Step &S : *Other)
          for (const Step *X : [&] {
                 std::vector<const Step *> V = {&S};
                 for (const Step &E : S.Epilogue)
                   V.push_back(&E);
                 return V;
               }()) {
            for (int In : X->In)
              Use(In, -1);
            Use(X->Out, -1);
            Use(X->Out2, -1);
            Use(X->Out3, -1);
          }
    for (auto [Id, G] : Group) {
      const TensorInfo &I = T.tensor(Id);
      if (G >= 0 && I.Role == TensorRole::Value && I.BatchRows &&
          !I.PerSample && Id != T.outputTensor())
        T.keepOneSample(Id);
    }
  }
};

} // namespace

std::unique_ptr<Pass> createSampleLocalPass() {
  return std::make_unique<SampleLocal>();
}

} // namespace netjit
