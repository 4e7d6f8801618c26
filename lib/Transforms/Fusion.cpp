// Fusion.cpp - epilogue fusion: the row-wise steps after a producer of rows
// run on each block of rows while it is in cache, not as passes of their own.
#include "netjit/Transforms/Passes.h"

using namespace llvm;

namespace netjit {
namespace {

bool isRowWise(StepKind K) { return stepInfo(K).RowWise; }

/// Steps over images run one sample at a time; consecutive ones, with the
/// row-wise steps between them, share one loop over the samples: sample
/// r's steps read only sample r's rows (and tensors complete before).
bool perSample(StepKind K) {
  return stepInfo(K).Rows == RowsProducer::Samples;
}

/// Producers that finish rows block by block (Steps.def): the loss kernels,
/// which go row by row, and a GEMM whose rows are the batch's (not the
/// weight gradient, whose rows are features).
bool producesRows(const TrainGraph &T, const Step &S) {
  switch (stepInfo(S.Kind).Rows) {
  case RowsProducer::Never:
    return false;
  case RowsProducer::Always:
  case RowsProducer::Samples:
    return true;
  case RowsProducer::BatchGemm:
    return !S.TransA && T.tensor(S.Out).BatchRows;
  }
  return false;
}

class EpilogueFusion : public Pass {
public:
  StringRef name() const override { return "fuse-epilogues"; }
  void run(TrainGraph &T, std::vector<Step> &Program) override {
    std::vector<Step> Out;
    for (size_t I = 0; I < Program.size(); ++I) {
      Step S = Program[I];
      if (producesRows(T, S))
        // A consecutive run of row-wise steps reads only rows the producer
        // (or an earlier step of the run) has finished, or tensors complete
        // before it.
        while (I + 1 < Program.size() &&
               (isRowWise(Program[I + 1].Kind) ||
                (perSample(S.Kind) && perSample(Program[I + 1].Kind))))
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

std::map<int, int> tensorRefs(const TrainGraph &T) {
  std::map<int, int> Refs;
  auto Count = [&](const Step &X) {
    for (int In : X.In)
      ++Refs[In];
    ++Refs[X.Out];
    ++Refs[X.Out2];
    ++Refs[X.Out3];
  };
  for (const std::vector<Step> *P :
       {&T.Train, &T.Evaluate, &T.Predict, &T.OnUpdate})
    for (const Step &S : *P) {
      Count(S);
      for (const Step &E : S.Epilogue)
        Count(E);
    }
  return Refs;
}

void forEachWithFollowers(
    std::vector<Step> &Program, function_ref<bool(StepKind)> IsKind,
    function_ref<void(Step &S, std::vector<Step> &Next, size_t At)> Fold) {
  for (Step &S : Program) {
    if (IsKind(S.Kind))
      Fold(S, S.Epilogue, 0);
    for (size_t I = 0; I < S.Epilogue.size(); ++I)
      if (IsKind(S.Epilogue[I].Kind))
        Fold(S.Epilogue[I], S.Epilogue, I + 1);
  }
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
