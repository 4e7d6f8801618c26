// Trainer.cpp - the training loop around a compiled CompiledModel.
#include "netjit/Runtime/Trainer.h"

#include "netjit/Expr/Expr.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Random.h"

#include "llvm/Support/FormatVariadic.h"
#include <chrono>
#include <cstring>
#include <numeric>

using namespace llvm;

namespace netjit {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point T) {
  return std::chrono::duration<double>(Clock::now() - T).count();
}

Error labelError(const DataSplit &S, int64_t Row, const Twine &Message) {
  if (!S.LabelWhere)
    return plainError(ErrorKind::Data,
                      "sample " + Twine(Row) + ": " + Message);
  auto [File, Where] = S.LabelWhere(S.FirstRow + Row);
  return locatedError(ErrorKind::Data, File, Where, Message);
}

} // namespace

Expected<Labels> Labels::prepare(const CompiledModel &M, const DataSplit &S) {
  Labels L;
  int64_t Outputs = M.network().outputSize();
  L.Sparse = M.graph().sparseLabels();
  L.Width = L.Sparse ? 1 : Outputs;
  auto ClassOf = [&](int64_t R) -> Expected<int32_t> {
    float V = S.Labels[R];
    if (V != std::floor(V) || V < 0 || V >= Outputs)
      return labelError(S, R,
                        formatv("label {0} is not a class of the network's "
                                "{1} outputs (0..{2})",
                                formatNumber(V), Outputs, Outputs - 1)
                            .str());
    return int32_t(V);
  };
  if (L.Sparse) {
    L.Classes.resize(S.Rows);
    for (int64_t R = 0; R < S.Rows; ++R) {
      auto C = ClassOf(R);
      if (!C)
        return C.takeError();
      L.Classes[R] = *C;
    }
  } else if (Outputs == 1) {
    L.Targets = S.Labels;
  } else {
    L.Targets.assign(S.Rows * Outputs, 0.0f);
    for (int64_t R = 0; R < S.Rows; ++R) {
      auto C = ClassOf(R);
      if (!C)
        return C.takeError();
      L.Targets[R * Outputs + *C] = 1;
    }
  }
  return L;
}

const void *Labels::row(int64_t R) const {
  return Sparse ? static_cast<const void *>(&Classes[R])
                : static_cast<const void *>(&Targets[R * Width]);
}

Error checkDataFits(const CompiledModel &M, const Dataset &D) {
  const NetworkGraph &G = M.network();
  if (D.Train.Features != G.inputSize()) {
    std::string Shape;
    for (int64_t S : D.Shape)
      Shape += (Shape.empty() ? "" : "x") + std::to_string(S);
    return locatedError(ErrorKind::Spec, G.spec().File, G.spec().locate("/input/shape"),
                        formatv("the network takes {0} features per sample; "
                                "the data ({1}) has {2} ({3})",
                                G.inputSize(), D.Name, D.Train.Features, Shape)
                            .str());
  }
  if (!D.Train.Rows)
    return plainError(ErrorKind::Data, "the training data is empty");
  return Error::success();
}

Expected<std::pair<double, double>> evaluateSplit(CompiledModel &M, const DataSplit &S) {
  auto L = Labels::prepare(M, S);
  if (!L)
    return L.takeError();
  double Loss = 0, Correct = 0;
  for (int64_t R = 0; R < S.Rows; R += M.maxBatch()) {
    int64_t B = std::min(M.maxBatch(), S.Rows - R);
    auto St = M.evaluate(S.X.data() + R * S.Features, L->row(R), B);
    if (!St)
      return St.takeError();
    Loss += St->LossSum + St->Penalty * B;
    Correct += St->Correct;
  }
  return std::pair(Loss / S.Rows, Correct / S.Rows);
}

std::vector<LayerEpochStats> layerEpochStats(const CompiledModel &M,
                                             int64_t Updates, int64_t Samples) {
  std::vector<LayerEpochStats> Out;
  std::vector<double> C = M.diagnosticCounters();
  auto Field = [&](int F) { return C[F - 4]; };
  for (const LayerDiagnostics &D : M.graph().Diagnostics) {
    LayerEpochStats S;
    S.Layer = M.network().layers()[D.Layer]->Name;
    S.Units = D.Units;
    if (D.WeightSumSq >= 0 && Updates)
      S.WeightGrad = std::sqrt(Field(D.WeightSumSq) / Updates);
    if (D.InputSumSq >= 0 && Samples)
      S.InputGrad = std::sqrt(Field(D.InputSumSq) / Samples);
    if (D.Saturated >= 0 && Samples)
      S.Saturated = Field(D.Saturated) / (double(Samples) * D.Units);
    if (D.Alive >= 0) {
      int64_t Dead = 0;
      for (int64_t J = 0; J < D.Units; ++J)
        Dead += Field(D.Alive + J) == 0;
      S.Dead = double(Dead) / D.Units;
    }
    Out.push_back(std::move(S));
  }
  return Out;
}

Expected<TrainResult> train(CompiledModel &M, const Dataset &D, const TrainOptions &O) {
  if (Error E = checkDataFits(M, D))
    return E;
  auto L = Labels::prepare(M, D.Train);
  if (!L)
    return L.takeError();
  // Check the other splits' labels before the first epoch, not after it.
  for (const DataSplit *S : {&D.Validation, &D.Test})
    if (S->Rows)
      if (auto Check = Labels::prepare(M, *S); !Check)
        return Check.takeError();
  const DataSplit &T = D.Train;
  int64_t Batch = M.maxBatch(), F = T.Features;
  int64_t Steps = (T.Rows + Batch - 1) / Batch;
  std::vector<int64_t> Order(T.Rows);
  std::iota(Order.begin(), Order.end(), 0);
  std::vector<float> X(Batch * F);
  std::vector<char> Y(Batch * L->rowBytes());
  TrainResult Res;
  Res.History = O.Start.History;
  auto Start = Clock::now();
  for (int E = O.Start.Epoch; E <= O.Epochs; ++E) {
    bool Resumed = E == O.Start.Epoch;
    if (O.Shuffle) {
      // A fresh Fisher-Yates order from (seed, epoch): resuming at an
      // epoch reproduces it.
      Rng R{O.Seed * 0xD1B54A32D192ED03ull + uint64_t(E) * 0x9E3779B97F4A7C15ull};
      std::iota(Order.begin(), Order.end(), 0);
      for (int64_t I = T.Rows - 1; I > 0; --I)
        std::swap(Order[I], Order[R.below(I + 1)]);
    }
    auto EpochStart = Clock::now();
    M.resetDiagnostics();
    double Loss = 0, Correct = 0;
    int64_t Seen = 0, Skipped = 0, First = 0;
    if (Resumed) {
      const TrainState &St = O.Start;
      Loss = St.Loss, Correct = St.Correct;
      Seen = St.Seen, Skipped = St.Skipped, First = St.Step;
      M.setDiagnosticCounters(St.Diagnostics);
    }
    int64_t SeenBefore = Seen;
    for (int64_t S = First; S < Steps; ++S) {
      if (O.ShouldStop && O.ShouldStop()) {
        Res.Stopped = true;
        Res.State = {E,       S,   Loss, Correct, Seen, Skipped,
                     M.diagnosticCounters(), Res.History};
        Res.Seconds = since(Start);
        return Res;
      }
      int64_t R0 = S * Batch, B = std::min(Batch, T.Rows - R0);
      const float *XB;
      const void *YB;
      if (O.Shuffle) {
        for (int64_t I = 0; I < B; ++I) {
          int64_t Src = Order[R0 + I];
          std::memcpy(&X[I * F], &T.X[Src * F], F * sizeof(float));
          std::memcpy(&Y[I * L->rowBytes()], L->row(Src), L->rowBytes());
        }
        XB = X.data();
        YB = Y.data();
      } else {
        XB = &T.X[R0 * F];
        YB = L->row(R0);
      }
      std::string Bad;
      auto St = O.OnNonFinite == NanPolicy::SkipBatch
                    ? M.trainStepGuarded(XB, YB, B, Bad)
                    : M.trainStep(XB, YB, B);
      if (!St)
        return St.takeError();
      if (!Bad.empty()) {
        ++Skipped;
        continue;
      }
      if (!std::isfinite(St->LossSum + St->Penalty)) {
        std::string First = M.firstNonFiniteTensor();
        return plainError(
            ErrorKind::Training,
            formatv("epoch {0}, step {1}: the loss is {2}; {3} (the last "
                    "checkpoint written is intact; --nan-policy=skip-batch "
                    "skips such batches)",
                    E, S + 1, St->LossSum + St->Penalty,
                    First.empty() ? std::string("every parameter is finite")
                                  : "the first non-finite tensor is " + First)
                .str());
      }
      Loss += St->LossSum + St->Penalty * B;
      Correct += St->Correct;
      Seen += B;
      if (O.OnStep)
        O.OnStep({E, O.Epochs, S + 1, Steps, Loss / Seen, Correct / Seen,
                  since(EpochStart)});
    }
    EpochMetrics Mx;
    Mx.Epoch = E;
    Mx.Loss = Seen ? Loss / Seen : NAN;
    Mx.Accuracy = Seen ? Correct / Seen : NAN;
    Mx.SkippedBatches = Skipped;
    Mx.Layers = layerEpochStats(M, Steps - Skipped, T.Rows);
    Mx.Seconds = since(EpochStart);
    Mx.SamplesPerSecond = (Seen - SeenBefore) / Mx.Seconds;
    if (!Seen)
      return plainError(ErrorKind::Training,
                        formatv("epoch {0}: every batch had a non-finite loss "
                                "or gradient and was skipped", E)
                            .str());
    if (D.Validation.Rows) {
      auto V = evaluateSplit(M, D.Validation);
      if (!V)
        return V.takeError();
      std::tie(Mx.ValLoss, Mx.ValAccuracy) = *V;
    }
    Res.History.push_back(Mx);
    if (O.OnEpoch) {
      TrainState Next;
      Next.Epoch = E + 1;
      Next.History = Res.History;
      if (Error Err = O.OnEpoch(Mx, Next))
        return Err;
    }
  }
  if (D.Test.Rows) {
    auto V = evaluateSplit(M, D.Test);
    if (!V)
      return V.takeError();
    std::tie(Res.TestLoss, Res.TestAccuracy) = *V;
  }
  Res.Seconds = since(Start);
  return Res;
}

} // namespace netjit
