// TrainGraphPrinter.cpp - the --stage=train and --stage=fused text of the
// programs: the arena's tensors, then each program's steps.
#include "netjit/Graph/TrainGraph.h"

#include "netjit/Support/Diagnostics.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace netjit {

/// "[B, 28, 28]", "[784, 128]", "i32[B]": batch first.
static std::string shapeOf(const TensorInfo &I) {
  if (I.Role == TensorRole::Labels)
    return "i32[B]";
  std::vector<int64_t> S = I.Shape;
  if (S.empty())
    S = I.BatchRows ? std::vector<int64_t>{I.Cols}
                    : std::vector<int64_t>{I.Rows, I.Cols};
  std::string Text = formatShape(S);
  if (I.PerSample)
    return "[1, " + Text.substr(1); // one sample at a time
  return I.BatchRows ? "[B, " + Text.substr(1) : Text;
}

void printStep(raw_ostream &OS, const TrainGraph &T, const Step &S,
               unsigned Indent) {
  auto Name = [&](int I) { return T.tensor(I).Name; };
  OS.indent(Indent);
  if (S.Out >= 0)
    OS << Name(S.Out);
  if (S.Out2 >= 0 && S.Stat < 0)
    OS << ", " << Name(S.Out2);
  if (S.Out3 >= 0)
    OS << ", " << Name(S.Out3);
  bool Accum = S.Kind == StepKind::ColSum || S.Kind == StepKind::ActParamGrad ||
               S.Kind == StepKind::ConvGradWeight ||
               S.Kind == StepKind::SumTo || S.Kind == StepKind::ChannelStats;
  if (S.Out >= 0)
    OS << (Accum ? " += " : " = ");
  OS << stepName(S.Kind);
  // conv-epilogue: a bias (In[3]) and an activation on the accumulators.
  bool Folded = S.Kind == StepKind::Conv && (S.In.size() > 3 || S.Act >= 0);
  if (S.Act >= 0 && !Folded && S.DerivIn < 0)
    OS << " " << T.network().activation(S.Act).Spec.describe();
  if (S.Kind == StepKind::ActParamGrad)
    OS << " d/d" << S.Param;
  if (S.Kind == StepKind::Slice)
    OS << " from " << S.Offset << (S.Outer > 1 ? " of each block" : "");
  if (S.Kind == StepKind::Dropout || S.Kind == StepKind::DropoutGrad)
    OS << " rate " << formatNumber(S.Rate);
  if (S.Kind == StepKind::NormCoeffs)
    OS << (S.Norm.Batch ? " batch" : " moving") << " epsilon "
       << formatNumber(S.Norm.Epsilon);
  if (S.Kind == StepKind::MovingStats)
    OS << " momentum " << formatNumber(S.Norm.Momentum);
  if (!(S.Win == Window())) {
    const Window &W = S.Win;
    OS << " " << W.KH << "x" << W.KW;
    if (W.SH > 1 || W.SW > 1)
      OS << " stride " << W.SH << "x" << W.SW;
    if (W.DH > 1 || W.DW > 1)
      OS << " dilation " << W.DH << "x" << W.DW;
    if (W.PadTop || W.PadLeft)
      OS << " pad " << W.PadTop << "," << W.PadLeft;
    if (W.Groups > 1)
      OS << " groups " << W.Groups;
  }
  if (S.Kind == StepKind::PointLoss || S.Kind == StepKind::SoftmaxXent ||
      S.Kind == StepKind::SigmoidXent)
    OS << " " << lossName(T.network().spec().Loss.Kind);
  if (S.Kind == StepKind::Update) {
    OS << " " << optimizerName(T.network().spec().Optimizer.Kind)
       << " over every parameter";
    const char *Sep = "; |g|^2 of ";
    for (const LayerDiagnostics &D : T.Diagnostics)
      if (D.WeightSumSq >= 0)
        OS << std::exchange(Sep, ", ")
           << T.tensor(T.paramTensor(T.network().layers()[D.Layer]->Kernel)).Name
           << " -> stats[" << D.WeightSumSq << "]";
  }
  size_t Shown = S.DerivIn >= 0 ? S.DerivIn : S.In.size();
  for (size_t I = 0; I < Shown; ++I) {
    OS << (I ? ", " : " ") << Name(S.In[I]);
    if (S.Kind == StepKind::MatMul && ((I == 0 && S.TransA) || (I == 1 && S.TransB)))
      OS << "^T";
    if (S.Kind == StepKind::MatMul && I == 2)
      OS << " (packed)";
  }
  if (Folded) {
    bool Bias = S.In.size() > 3;
    OS << " (" << (Bias ? "+ bias" : "") << (Bias && S.Act >= 0 ? ", " : "")
       << (S.Act >= 0 ? T.network().activation(S.Act).Spec.describe() : "")
       << " on the accumulators)";
  }
  // pool-grad-act: the derivative applied as each value is written.
  if (S.DerivIn >= 0) {
    OS << " (times ";
    if (S.Act >= 0)
      OS << T.network().activation(S.Act).Spec.describe() << "' of ";
    for (size_t I = S.DerivIn; I < S.In.size(); ++I)
      OS << (I > size_t(S.DerivIn) ? ", " : "") << Name(S.In[I]);
    OS << (S.DerivAtMax ? " at each window's max" : "")
       << ", as each value is written)";
  }
  if (S.Out >= 0)
    OS << "  " << shapeOf(T.tensor(S.Out));
  if (S.Kind == StepKind::SumSquares || S.Kind == StepKind::CountAlive)
    OS << " -> stats[" << S.Stat << "]";
  else if (S.Stat >= 0)
    OS << "; |f'| < " << formatNumber(SaturationThreshold) << " counted in stats["
       << S.Stat << "], max |f'| in " << T.tensor(S.Out2).Name;
  OS << "\n";
  if (!S.Epilogue.empty()) {
    OS.indent(Indent + 2) << (stepInfo(S.Kind).Rows == RowsProducer::Samples
                                  ? "then, in the same loop per sample:\n"
                                  : "epilogue, per block of rows:\n");
    for (const Step &E : S.Epilogue)
      printStep(OS, T, E, Indent + 4);
  }
}

void TrainGraph::print(raw_ostream &OS) const {
  OS << "arena: " << ArenaFloats << " floats ("
     << formatv("{0:f1}", ArenaFloats * 4.0 / 1024) << " KiB), batch <= "
     << MaxBatch << "\n";
  for (const TensorInfo &I : Tensors) {
    if (I.Dropped)
      continue;
    OS << "  " << left_justify(I.Name, 28) << " " << left_justify(shapeOf(I), 12);
    if (I.Offset >= 0)
      OS << " @" << I.Offset;
    else
      OS << " (caller)";
    OS << "\n";
  }
  if (numSlots()) {
    OS << "  optimizer slots:";
    for (unsigned K = 0; K < numSlots(); ++K)
      OS << " " << slotName(K) << " @" << SlotBegin[K];
    OS << " (each laid out as the parameters)\n";
  }
  OS << "  workspace @" << workOffset() << ": " << workFloats()
     << " floats (gradients, values, scratch; one more per extra thread)\n";
  auto Program = [&](StringRef Name, ArrayRef<Step> Steps) {
    OS << Name << ":\n";
    for (const Step &S : Steps)
      printStep(OS, *this, S, 2);
  };
  Program("train_step(x, labels)", Train);
  if (!OnUpdate.empty())
    Program("on each update (after the gradients are found good)", OnUpdate);
  Program("evaluate(x, labels)", Evaluate);
  Program("predict(x) -> " + Tensors[Output].Name, Predict);
}

} // namespace netjit
