// TrainGraph.cpp - builds the train, evaluate and predict programs of a
// network and lays their tensors out in the arena.
#include "netjit/Graph/TrainGraph.h"

#include "netjit/Expr/Simplify.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace netjit {

const StepInfo &stepInfo(StepKind K) {
  static const StepInfo Infos[] = {
#define NETJIT_STEP(Kind, Spelling, RowWise, Rows, Summary)                    \
  {Spelling, RowWise, RowsProducer::Rows, Summary},
#include "netjit/Graph/Steps.def"
  };
  return Infos[unsigned(K)];
}

int TrainGraph::add(TensorInfo T) {
  Tensors.push_back(std::move(T));
  return Tensors.size() - 1;
}


/// Builds the programs: each layer kind emits its own steps (Graph/Layers/)
/// through the ProgramBuilder interface; the activations, the loss, the
/// diagnostics and the update are the same for every kind.
class TrainGraphBuilder final : public ProgramBuilder {
public:
  TrainGraphBuilder(TrainGraph &T, bool Diagnostics)
      : T(T), G(T.G), S(T.G.spec()), WithDiagnostics(Diagnostics) {}
  Error build();

  bool training() const override { return CurMode == Mode::Train; }
  StringRef suffix() const override {
    return CurMode == Mode::Train ? "" : CurMode == Mode::Evaluate ? ".eval" : ".pred";
  }
  int layerIndex() const override { return CurLayer; }
  int value(const Twine &Name, int64_t Cols,
            ArrayRef<int64_t> Shape = {}) override {
    TensorInfo I;
    I.Name = ("%" + Name).str();
    I.Role = TensorRole::Value;
    I.BatchRows = true;
    I.Rows = T.MaxBatch;
    I.Cols = Cols;
    if (Shape.size() > 1)
      I.Shape = Shape;
    return T.add(std::move(I));
  }
  int forwardInput() const override { return State[CurLayer].Ins.front(); }
  int forwardOutput() const override { return State[CurLayer].Z; }
  void keep(int Tensor) override { Kept.push_back(Tensor); }
  int forwardKept(unsigned I) const override {
    return I < State[CurLayer].Kept.size() ? State[CurLayer].Kept[I] : -1;
  }
  int accumulator(TensorInfo I) override {
    I.Role = TensorRole::Scratch;
    Accumulated.push_back(T.add(std::move(I)));
    return Accumulated.back();
  }
  void emitOnUpdate(Step S) override { T.OnUpdate.push_back(std::move(S)); }
  ArrayRef<int> inputs() const override { return CurInputs; }
  int tensor(TensorInfo I) override { return T.add(std::move(I)); }
  int param(int P) const override { return T.paramTensor(P); }
  int grad(int P) const override { return GradTensor[P]; }
  void emit(Step S) override { Steps->push_back(std::move(S)); }

private:
  enum class Mode { Train, Evaluate, Predict };
  Mode CurMode = Mode::Train;
  int CurLayer = -1;
  std::vector<Step> *Steps = nullptr; // the program being built
  TrainGraph &T;
  const NetworkGraph &G;
  const Spec &S;
  /// What the forward pass left for the backward one, per layer.
  struct LayerState {
    std::vector<int> Ins; // every input's tensor
    int Z = -1, Y = -1, DAct = -1;
    std::vector<int> Kept;
    bool FromY = false;
  };
  std::vector<LayerState> State;
  std::vector<int> Kept; // what the current layer's forward keep()s
  std::vector<int> CurInputs; // the current layer's input tensors
  std::vector<int> GradTensor, Partial; // per parameter
  std::vector<int> Accumulated;         // zeroed before each step
  bool WithDiagnostics;
  /// Per layer: its T.Diagnostics record and per-unit max |f'| tensor.
  std::vector<int> DiagOf, AliveTensor;

  Error fail(StringRef Pointer, const Twine &Message) const {
    return locatedError(ErrorKind::Spec, S.File, S.locate(Pointer), Message);
  }
  /// How the output layer meets the loss: through its logits (softmax or
  /// sigmoid with a cross-entropy, or from_logits), or through its outputs.
  bool lossFromLogits() const;
  Error checkLoss() const;
  std::vector<Step> forward(Mode M);
  /// Whether the activation of layer I has a backward step of its own (not
  /// a row-wise one, not folded into the loss).
  bool hasActGrad(size_t I) const;
  /// Per layer I, whether a layer feeding it (through any others) trains
  /// something: only then does the gradient flow past I.
  std::vector<bool> trainsBelow() const;
  void addDiagnostics();
  int activationGrad(size_t R, int DY, const LayerDiagnostics *Diag);
  void backward(int DOut);
  void layout();
};

/// The output layer's catalogue activation ("linear" without one, "" for a
/// formula).
static StringRef outputActivation(const NetworkGraph &G) {
  const Layer &Last = *G.layers().back();
  return Last.Act >= 0 ? StringRef(G.activation(Last.Act).Spec.Base) : "linear";
}

/// The step predict applies a row-wise activation with (Catalog.def).
static StepKind rowWiseStep(StringRef Base) {
#define NETJIT_ROWWISE(Name, Step, Definition, Summary)                        \
  if (Base == #Name)                                                           \
    return StepKind::Step;
#include "netjit/Activations/Catalog.def"
  llvm_unreachable("a row-wise activation is a catalogue entry");
}

bool TrainGraphBuilder::lossFromLogits() const {
  return lossReadsLogits(S.Loss, outputActivation(G));
}

Error TrainGraphBuilder::checkLoss() const {
  const LossSpec &L = S.Loss;
  const Layer &Last = *G.layers().back();
  const NetActivation *A = Last.Act >= 0 ? &G.activation(Last.Act) : nullptr;
  // An inline formula has no name: "" matches no catalogue entry below.
  StringRef Name = outputActivation(G);
  std::string Shown = A ? A->Spec.describe() : "linear";
  // Losses.def: which output a loss from logits needs.
  StringRef LogitsOf = lossLogitsOf(L.Kind), Also = lossAlsoProbabilities(L.Kind);
  if (!LogitsOf.empty() && !lossFromLogits() && (Also.empty() || Name != Also))
    return fail(L.Pointer,
                lossName(L.Kind) + " needs a " + LogitsOf +
                    (Also.empty() ? "" : " or " + Also) +
                    " output layer, or \"from_logits\": true with a linear "
                    "one; the output activation is '" +
                    Shown + "'");
  if (L.FromLogits && A && Name != "linear")
    return fail(L.Pointer, "\"from_logits\": true needs a linear output "
                           "layer; the output activation is '" +
                               Shown + "'");
  // A row-wise output (softmax) trains only with the loss of its logits.
  if (A && A->Spec.RowWise && Name != LogitsOf)
    return fail(L.Pointer, "a " + Name + " output trains only with a "
                                         "categorical cross-entropy, not " +
                               lossName(L.Kind));
  if (L.Kind == LossKind::sparse_categorical_crossentropy && G.outputSize() < 2)
    return fail(L.Pointer, "sparse_categorical_crossentropy needs at least 2 "
                           "output units");
  return Error::success();
}

std::vector<Step> TrainGraphBuilder::forward(Mode M) {
  std::vector<Step> Out;
  CurMode = M;
  Steps = &Out;
  bool Training = M == Mode::Train;
  auto Layers = G.layers();
  if (Training)
    State.assign(Layers.size(), {});
  std::vector<int> Outs(Layers.size(), -1); // each layer's output tensor
  int Cur = -1;
  for (size_t I = 0; I < Layers.size(); ++I) {
    const Layer &L = *Layers[I];
    CurLayer = I;
    bool Last = I + 1 == Layers.size();
    LayerState St;
    CurInputs.clear();
    for (int From : L.Inputs)
      CurInputs.push_back(From < 0 ? T.inputTensor() : Outs[From]);
    Cur = CurInputs.front();
    St.Ins = CurInputs;
    Kept.clear();
    St.Z = Cur = L.forward(*this, Cur);
    St.Kept = Kept;
    if (L.Act >= 0) {
      const NetActivation &A = G.activation(L.Act);
      if (A.Spec.RowWise) {
        // Training and evaluation read the logits (the loss applies
        // softmax itself); predict applies it.
        if (M == Mode::Predict) {
          int Y = value(L.Name + ".y" + suffix(), L.Out, L.Shape);
          emit({rowWiseStep(A.Spec.Base), {Cur}, Y});
          Cur = Y;
        }
      } else if (!(Last && lossFromLogits() && M != Mode::Predict)) {
        int Y = value(L.Name + ".y" + suffix(), L.Out, L.Shape);
        Step A1{StepKind::Act, {Cur}, Y};
        A1.Act = L.Act;
        for (auto &[N, P] : A.Trained)
          A1.In.push_back(T.paramTensor(P));
        // Training keeps what the derivative needs: y where the derivative
        // has an exact stable form in y, else f'(x) computed with f(x).
        const ActivationForms &F = A.Forms;
        St.FromY = F.DerivativeY && isStableInOutput(F.DerivativeY);
        if (Training && !St.FromY) {
          A1.Kind = StepKind::ActWithGrad;
          A1.Out2 = St.DAct = value(L.Name + ".dact", L.Out, L.Shape);
        }
        emit(A1);
        Cur = Y;
      }
      St.Y = Cur;
    }
    Outs[I] = Cur;
    if (Training)
      State[I] = St;
  }
  T.Output = Cur;
  if (M == Mode::Predict)
    return Out;
  // The loss. Its gradient is written even when evaluating (the tensor is
  // there); evaluate only reads the stats.
  const Layer &LastL = *Layers.back();
  int D = Training ? value(LastL.Name + (lossFromLogits() ? ".dz" : ".dy"),
                           LastL.Out)
                   : value(LastL.Name + ".d" + suffix(), LastL.Out);
  StepKind K = StepKind::PointLoss;
  if (lossFromLogits())
    K = S.Loss.Kind == LossKind::binary_crossentropy ? StepKind::SigmoidXent
                                                     : StepKind::SoftmaxXent;
  emit({K, {Cur, T.labelTensor()}, D});
  if (Training)
    backward(D);
  return Out;
}

bool TrainGraphBuilder::hasActGrad(size_t I) const {
  const Layer &L = *G.layers()[I];
  return L.Act >= 0 && !G.activation(L.Act).Spec.RowWise &&
         !(I + 1 == G.layers().size() && lossFromLogits());
}

std::vector<bool> TrainGraphBuilder::trainsBelow() const {
  auto Layers = G.layers();
  std::vector<bool> Below(Layers.size(), false);
  for (size_t I = 0; I < Layers.size(); ++I)
    for (int In : Layers[I]->Inputs)
      if (In >= 0)
        Below[I] = Below[I] || Below[In] || !Layers[In]->Params.empty();
  return Below;
}

/// A record per layer with weights or an activation step of its own, its
/// fields numbered in layer order.
void TrainGraphBuilder::addDiagnostics() {
  auto Layers = G.layers();
  std::vector<bool> Below = trainsBelow();
  DiagOf.assign(Layers.size(), -1);
  AliveTensor.assign(Layers.size(), -1);
  auto Fields = [&](int64_t N) {
    int F = T.StatsDoubles;
    T.StatsDoubles += N;
    return F;
  };
  for (size_t I = 0; I < Layers.size(); ++I) {
    const Layer &L = *Layers[I];
    if (L.Kernel < 0 && !hasActGrad(I))
      continue;
    LayerDiagnostics D;
    D.Layer = I;
    D.Units = L.Out;
    if (L.Kernel >= 0)
      D.WeightSumSq = Fields(1);
    if (Below[I])
      D.InputSumSq = Fields(1);
    if (hasActGrad(I)) {
      D.Saturated = Fields(1);
      D.Alive = Fields(L.Out);
      TensorInfo A;
      A.Name = "%" + L.Name + ".max_dact";
      A.Role = TensorRole::Scratch;
      A.Cols = L.Out;
      AliveTensor[I] = T.add(A);
      Accumulated.push_back(AliveTensor[I]);
    }
    DiagOf[I] = T.Diagnostics.size();
    T.Diagnostics.push_back(D);
  }
}

/// Through the activation of layer R: DZ = DY f'(z), and its parameters'
/// gradients.
int TrainGraphBuilder::activationGrad(size_t R, int DY,
                                      const LayerDiagnostics *Diag) {
  const Layer &L = *G.layers()[R];
  const LayerState &St = State[R];
  const NetActivation &A = G.activation(L.Act);
  int DZ = value(L.Name + ".dz", L.Out, L.Shape);
  Step AG{StepKind::Mul, {DY, St.DAct}, DZ};
  if (St.FromY) {
    AG = Step{StepKind::ActGrad, {DY, St.Y}, DZ};
    if (A.Forms.yFormReadsX())
      AG.In.push_back(St.Z);
    AG.Act = L.Act;
    for (auto &[N, P] : A.Trained)
      AG.In.push_back(T.paramTensor(P));
  }
  if (Diag) {
    AG.Stat = Diag->Saturated;
    AG.Out2 = AliveTensor[R];
  }
  emit(AG);
  for (auto &[N, P] : A.Trained) {
    const ParamInfo &PI = G.params()[P];
    int Acc = PI.size() == 1 ? Partial[P] : GradTensor[P];
    Step PG{StepKind::ActParamGrad, {DY, St.Z}, Acc};
    PG.Act = L.Act;
    PG.Param = N;
    for (auto &[N2, P2] : A.Trained)
      PG.In.push_back(T.paramTensor(P2));
    emit(PG);
  }
  return DZ;
}

void TrainGraphBuilder::backward(int DOut) {
  auto Layers = G.layers();
  std::vector<bool> Below = trainsBelow();
  // The gradient of each layer's output, once its consumer has written it.
  std::vector<int> DOutOf(Layers.size(), -1);
  DOutOf.back() = DOut;
  for (size_t R = Layers.size(); R-- > 0;) {
    const Layer &L = *Layers[R];
    CurLayer = R;
    CurInputs = State[R].Ins;
    int Cur = DOutOf[R];
    if (Cur < 0)
      continue; // nothing below trains
    const LayerDiagnostics *Diag =
        WithDiagnostics && DiagOf[R] >= 0 ? &T.Diagnostics[DiagOf[R]] : nullptr;
    if (hasActGrad(R))
      Cur = activationGrad(R, Cur, Diag);
    L.backwardParams(*this, State[R].Ins.front(), Cur);
    // Shared activation parameters: their per-column partial sums, added up
    // once every row is in.
    if (L.Act >= 0)
      for (auto &[N, P] : G.activation(L.Act).Trained)
        if (G.params()[P].size() == 1)
          emit({StepKind::SumTo, {Partial[P]}, GradTensor[P]});
    // The gradient flows on only while a layer below trains something.
    if (!Below[R])
      continue;
    std::vector<int> DX = L.backwardInputs(*this, Cur);
    for (size_t K = 0; K < DX.size(); ++K) {
      int From = L.Inputs[K];
      // Only into a branch that trains something.
      if (DX[K] < 0 || From < 0 ||
          !(Below[From] || !Layers[From]->Params.empty()))
        continue;
      if (Diag && Diag->InputSumSq >= 0 && K == 0) {
        Step SS{StepKind::SumSquares, {DX[K]}};
        SS.Stat = Diag->InputSumSq;
        emit(SS);
      }
      // A value read by several layers: the sum of their gradients.
      int &D = DOutOf[From];
      if (D >= 0) {
        int Sum = value(Layers[From]->Name + ".dsum" + std::to_string(R),
                        Layers[From]->Out, Layers[From]->Shape);
        emit({StepKind::Add, {D, DX[K]}, Sum});
        D = Sum;
      } else {
        D = DX[K];
      }
    }
  }
  if (WithDiagnostics)
    for (size_t R = 0; R < Layers.size(); ++R)
      if (DiagOf[R] >= 0 && AliveTensor[R] >= 0) {
        Step CA{StepKind::CountAlive, {AliveTensor[R]}};
        CA.Stat = T.Diagnostics[DiagOf[R]].Alive;
        emit(CA);
      }
  emit({StepKind::Update, {}, -1});
}

void TrainGraphBuilder::layout() {
  // Parameters, gradients and each slot group share one relative layout, so
  // the update is one loop over them all.
  auto Align = [](int64_t N) { return (N + 15) & ~int64_t(15); };
  // The trained parameters come first: the update runs over them only.
  int64_t Rel = 0, Trained = 0;
  std::vector<int64_t> RelOf(G.params().size());
  for (bool Trainable : {true, false}) {
    for (size_t P = 0; P < G.params().size(); ++P)
      if (G.params()[P].Trainable == Trainable) {
        RelOf[P] = Rel;
        Rel = Align(Rel + G.params()[P].size());
      }
    if (Trainable)
      Trained = Rel;
  }
  int64_t Span = std::max<int64_t>(Rel, 16);
  int64_t Header = sizeof(ArenaHeader) / sizeof(float);
  T.ParamsBegin = Header;
  T.ParamsEnd = Header + Span;
  T.TrainedEnd = Header + std::max<int64_t>(Trained, 16);
  int64_t Next = T.ParamsEnd;
  for (unsigned K = 0; K < T.SlotBegin.size(); ++K) {
    T.SlotBegin[K] = Next;
    Next += Span;
  }
  // What one thread writes while computing gradients (gradients, values,
  // scratch) comes last: the workspace another thread gets a copy of.
  T.GradBegin = Next;
  Next += Span;
  for (TensorInfo &I : T.Tensors) {
    switch (I.Role) {
    case TensorRole::Param:
      I.Offset = T.ParamsBegin + RelOf[I.Param];
      break;
    case TensorRole::Grad:
      I.Offset = T.GradBegin + RelOf[I.Param];
      break;
    default:
      break;
    }
  }
  T.ValuesBegin = Next;
  T.layoutValues();
}

void TrainGraph::layoutValues() {
  int64_t Next = ValuesBegin;
  for (TensorInfo &I : Tensors)
    if (I.Role == TensorRole::Value || I.Role == TensorRole::Scratch) {
      I.Offset = Next;
      Next = (Next + I.Rows * I.Cols + 15) & ~int64_t(15);
    }
  ArenaFloats = Next;
}

void TrainGraph::dropValue(int I) {
  Tensors[I].Dropped = true;
  Tensors[I].Rows = 0;
  layoutValues();
}

void TrainGraph::keepOneSample(int I) {
  Tensors[I].PerSample = true;
  Tensors[I].Rows = 1;
  layoutValues();
}

Error TrainGraphBuilder::build() {
  if (Error E = checkLoss())
    return E;
  int64_t B = T.MaxBatch;
  // Every batch-sized tensor together must stay under the weights' limit.
  int64_t Widths = G.inputSize();
  for (const Layer *L : G.layers())
    Widths += 6 * L->Out;
  int64_t Max = G.spec().Limits.MaxActivations;
  if (Widths > Max / B)
    return fail("/training/batch_size",
                formatv("a batch of {0} needs {1} floats of activations, "
                        "more than the limit of {2}",
                        B, B * Widths, Max));
  TensorInfo X;
  X.Name = "%x";
  X.Role = TensorRole::Input;
  X.BatchRows = true;
  X.Rows = B;
  X.Cols = G.inputSize();
  X.Shape = S.InputShape;
  T.add(X);
  TensorInfo Lab;
  Lab.BatchRows = true;
  Lab.Rows = B;
  if (T.sparseLabels()) {
    Lab.Name = "%labels";
    Lab.Role = TensorRole::Labels;
  } else {
    Lab.Name = "%targets";
    Lab.Role = TensorRole::Targets;
    Lab.Cols = G.outputSize();
  }
  T.add(Lab);
  for (size_t P = 0; P < G.params().size(); ++P) {
    TensorInfo I;
    I.Name = "@" + G.params()[P].Name;
    I.Role = TensorRole::Param;
    I.Shape = G.params()[P].Shape;
    I.Rows = G.params()[P].rows();
    I.Cols = G.params()[P].cols();
    I.Param = P;
    T.ParamTensor.push_back(T.add(I));
  }
  for (size_t P = 0; P < G.params().size(); ++P) {
    TensorInfo I = T.Tensors[T.ParamTensor[P]];
    I.Name += ".grad";
    I.Role = TensorRole::Grad;
    GradTensor.push_back(T.add(I));
    Partial.push_back(-1);
  }
  T.Slots = optimizerSlots(S.Optimizer);
  T.SlotBegin.assign(T.Slots.size(), 0);
  // Gradients summed over rows (biases, activation parameters) start each
  // step at zero; a shared parameter sums per column first.
  for (const Layer *L : G.layers())
    for (int P : L->Params) {
      const ParamInfo &PI = G.params()[P];
      if (!PI.SummedOverRows)
        continue;
      Accumulated.push_back(GradTensor[P]);
      if (PI.size() != 1 || L->Act < 0 ||
          !is_contained(make_second_range(G.activation(L->Act).Trained), P))
        continue;
      TensorInfo I;
      I.Name = "%" + PI.Name + ".partial";
      I.Role = TensorRole::Scratch;
      I.Cols = L->Out;
      I.Param = P;
      Partial[P] = T.add(I);
      Accumulated.push_back(Partial[P]);
    }
  if (WithDiagnostics)
    addDiagnostics();
  // The layers add accumulators of their own as they emit their steps.
  std::vector<Step> Fwd = forward(Mode::Train);
  T.Train.push_back({StepKind::Zero, Accumulated, -1});
  T.Train.insert(T.Train.end(), Fwd.begin(), Fwd.end());
  T.Evaluate = forward(Mode::Evaluate);
  T.Predict = forward(Mode::Predict);
  layout();
  return Error::success();
}

Expected<std::unique_ptr<TrainGraph>> TrainGraph::build(const NetworkGraph &G,
                                                        int64_t MaxBatch,
                                                        bool Diagnostics) {
  std::unique_ptr<TrainGraph> T(new TrainGraph(G));
  T->MaxBatch = MaxBatch;
  TrainGraphBuilder B(*T, Diagnostics);
  if (Error E = B.build())
    return E;
  return T;
}

bool TrainGraph::batchCoupled() const {
  return any_of(Train, [](const Step &S) {
    return S.Kind == StepKind::NormCoeffs && S.Norm.Batch;
  });
}

} // namespace netjit
