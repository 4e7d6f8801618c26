// Fusion.cpp - epilogue fusion: the row-wise steps after a producer of rows
// run on each block of rows while it is in cache, not as passes of their own.
#include "netjit/Transforms/Passes.h"

using namespace llvm;

namespace netjit {
namespace {

/// Steps that read and write row r of batch tensors only at row r (and
/// per-column vectors), so they can run block by block.
bool isRowWise(StepKind K) {
  switch (K) {
  case StepKind::BiasAdd:
  case StepKind::Act:
  case StepKind::ActWithGrad:
  case StepKind::ActGrad:
  case StepKind::Mul:
  case StepKind::ColSum:
  case StepKind::ActParamGrad:
  case StepKind::Dropout:
  case StepKind::DropoutGrad:
  case StepKind::Softmax:
  case StepKind::LogSoftmax:
  case StepKind::SoftmaxXent:
  case StepKind::SigmoidXent:
  case StepKind::PointLoss:
  case StepKind::SumSquares:
    return true;
  default:
    return false;
  }
}

/// Producers that finish rows block by block: a GEMM whose rows are the
/// batch's (not the weight gradient, whose rows are features) and the loss
/// kernels, which go row by row.
bool producesRows(const TrainGraph &T, const Step &S) {
  if (S.Kind == StepKind::MatMul)
    return !S.TransA && T.tensor(S.Out).BatchRows;
  return S.Kind == StepKind::SoftmaxXent || S.Kind == StepKind::SigmoidXent ||
         S.Kind == StepKind::PointLoss;
}

class EpilogueFusion : public Pass {
public:
  StringRef name() const override { return "fuse-epilogues"; }
  void run(const TrainGraph &T, std::vector<Step> &Program) override {
    std::vector<Step> Out;
    for (size_t I = 0; I < Program.size(); ++I) {
      Step S = Program[I];
      if (producesRows(T, S))
        // A consecutive run of row-wise steps reads only rows the producer
        // (or an earlier step of the run) has finished, or tensors complete
        // before it.
        while (I + 1 < Program.size() && isRowWise(Program[I + 1].Kind))
          S.Epilogue.push_back(Program[++I]);
      Out.push_back(std::move(S));
    }
    Program = std::move(Out);
  }
};

} // namespace

std::unique_ptr<Pass> createEpilogueFusionPass() {
  return std::make_unique<EpilogueFusion>();
}

void runPasses(TrainGraph &T) {
  std::unique_ptr<Pass> Passes[] = {
#define NETJIT_PASS(Name, Factory, Summary) Factory(),
#include "netjit/Transforms/Passes.def"
  };
  for (auto &P : Passes)
    for (std::vector<Step> *Prog : {&T.Train, &T.Evaluate, &T.Predict})
      P->run(T, *Prog);
}

} // namespace netjit
