// GradCheck.cpp - a float64 interpreter of a network's forward pass and
// loss, and the gradient check built on it.
#include "netjit/Runtime/GradCheck.h"

#include "netjit/Support/Diagnostics.h"

#include <cmath>
#include <random>

using namespace llvm;

namespace netjit {

double GradCheckResult::worst() const {
  double W = 0;
  for (const GradCheckRow &R : Rows)
    W = std::max(W, R.RelError);
  return W;
}

namespace {

using Matrix = std::vector<double>; // Batch rows

/// f applied to column J's values: evaluators per column when a parameter
/// is per unit, else one.
Expected<std::vector<Evaluator>>
evaluators(const NetActivation &A, const std::vector<std::vector<double>> &P,
           int64_t Cols) {
  std::vector<Evaluator> Out;
  bool PerUnit = false;
  for (auto &[N, I] : A.Trained)
    PerUnit |= P[I].size() > 1;
  for (int64_t J = 0; J < (PerUnit ? Cols : 1); ++J) {
    ParamValues V(A.Fixed.begin(), A.Fixed.end());
    for (auto &[N, I] : A.Trained)
      V[N] = P[I].size() > 1 ? P[I][J] : P[I][0];
    auto E = Evaluator::create(A.Forms.Forward, V);
    if (!E)
      return E.takeError();
    Out.push_back(std::move(*E));
  }
  return Out;
}

} // namespace

Expected<double> referenceLoss(const NetworkGraph &G,
                               const std::vector<std::vector<double>> &P,
                               const float *X, const void *Labels,
                               int64_t Batch) {
  int64_t Cols = G.inputSize();
  const Matrix Input(X, X + Batch * Cols);
  const LossSpec &Loss = G.spec().Loss;
  auto Layers = G.layers();
  std::vector<Matrix> Outs(Layers.size()); // each layer's output rows
  bool Logits = false;
  for (size_t I = 0; I < Layers.size(); ++I) {
    const Layer &L = *Layers[I];
    int From = L.Inputs.front();
    Matrix &H = Outs[I];
    H = From < 0 ? Input : Outs[From];
    ReferenceValues V{Batch, H, P};
    for (int In : L.Inputs)
      V.Inputs.push_back(In < 0 ? &Input : &Outs[In]);
    if (Error E = L.reference(V))
      return std::move(E);
    Cols = L.Out;
    if (L.Act < 0)
      continue;
    const NetActivation &A = G.activation(L.Act);
    bool Last = I + 1 == Layers.size();
    if (A.Spec.RowWise || (Last && lossReadsLogits(Loss, A.Spec.Base))) {
      Logits = true; // the loss reads the logits
      continue;
    }
    auto E = evaluators(A, P, Cols);
    if (!E)
      return E.takeError();
    for (int64_t R = 0; R < Batch; ++R)
      for (int64_t J = 0; J < Cols; ++J) {
        double &V = H[R * Cols + J];
        V = (*E)[E->size() > 1 ? J : 0](V);
      }
  }
  Logits |= Loss.FromLogits;
  const int32_t *Lab = static_cast<const int32_t *>(Labels);
  const float *Tg = static_cast<const float *>(Labels);
  double Sum = 0;
  int64_t N = Cols;
  const Matrix &H = Outs.back();
  for (int64_t R = 0; R < Batch; ++R) {
    const double *Z = &H[R * N];
    const float *T = Tg + R * N;
    switch (Loss.Kind) {
    case LossKind::sparse_categorical_crossentropy:
    case LossKind::categorical_crossentropy: {
      double M = -INFINITY, S = 0;
      for (int64_t J = 0; J < N; ++J)
        M = std::max(M, Z[J]);
      for (int64_t J = 0; J < N; ++J)
        S += std::exp(Z[J] - M);
      double Lse = M + std::log(S);
      if (Loss.Kind == LossKind::sparse_categorical_crossentropy) {
        Sum += Lse - Z[Lab[R]];
      } else {
        for (int64_t J = 0; J < N; ++J)
          Sum += T[J] * (Lse - Z[J]);
      }
      break;
    }
    default: {
      double Row = 0;
      for (int64_t J = 0; J < N; ++J) {
        double Y = Z[J], Tv = T[J], D = Y - Tv;
        switch (Loss.Kind) {
        case LossKind::mse:
          Row += D * D;
          break;
        case LossKind::mae:
          Row += std::fabs(D);
          break;
        case LossKind::huber:
          Row += std::fabs(D) <= Loss.Delta
                     ? 0.5 * D * D
                     : Loss.Delta * (std::fabs(D) - 0.5 * Loss.Delta);
          break;
        default: // binary cross-entropy
          if (Logits) {
            Row += std::max(Y, 0.0) - Y * Tv + std::log1p(std::exp(-std::fabs(Y)));
          } else {
            double Pc = std::min(std::max(Y, 1e-7), 1 - 1e-7);
            Row += -(Tv * std::log(Pc) + (1 - Tv) * std::log1p(-Pc));
          }
        }
      }
      Sum += Row / N;
    }
    }
  }
  return Sum / Batch;
}

void randomBatch(const TrainGraph &T, int64_t Batch, uint64_t Seed,
                 std::vector<float> &X, std::vector<int32_t> &Labels,
                 std::vector<float> &Targets) {
  const NetworkGraph &G = T.network();
  std::mt19937_64 R(Seed);
  std::uniform_real_distribution<double> U(-1, 1), U01(0, 1);
  X.resize(Batch * G.inputSize());
  for (float &V : X)
    V = U(R);
  int64_t N = G.outputSize();
  Labels.assign(Batch, 0);
  Targets.assign(Batch * N, 0.0f);
  for (int64_t I = 0; I < Batch; ++I) {
    Labels[I] = R() % N;
    if (G.spec().Loss.Kind == LossKind::categorical_crossentropy)
      Targets[I * N + Labels[I]] = 1;
    else
      for (int64_t J = 0; J < N; ++J)
        Targets[I * N + J] =
            G.spec().Loss.Kind == LossKind::binary_crossentropy
                ? (U01(R) < 0.5 ? 0.0f : 1.0f)
                : U01(R);
  }
}

Expected<GradCheckResult> gradCheck(CompiledModel &M, int64_t Batch, unsigned Samples,
                                    uint64_t Seed) {
  const NetworkGraph &G = M.network();
  std::vector<float> X, Targets;
  std::vector<int32_t> Labels;
  randomBatch(M.graph(), Batch, Seed, X, Labels, Targets);
  const void *L = M.graph().sparseLabels() ? (const void *)Labels.data()
                                           : (const void *)Targets.data();
  auto Stats = M.gradients(X.data(), L, Batch);
  if (!Stats)
    return Stats.takeError();
  std::vector<std::vector<double>> P(G.params().size());
  for (size_t I = 0; I < P.size(); ++I) {
    const float *V = M.param(I);
    P[I].assign(V, V + G.params()[I].size());
  }
  GradCheckResult Res;
  Res.LossCompiled = Stats->LossSum / Batch;
  auto L0 = referenceLoss(G, P, X.data(), L, Batch);
  if (!L0)
    return L0.takeError();
  Res.LossReference = *L0;
  std::mt19937_64 R(Seed + 1);
  std::vector<double> DiffNorm;
  for (size_t I = 0; I < P.size(); ++I) {
    if (!G.params()[I].Trainable)
      continue; // state the layer keeps (moving statistics): no gradient
    int64_t N = P[I].size();
    std::vector<int64_t> Which;
    if (N <= Samples) {
      for (int64_t K = 0; K < N; ++K)
        Which.push_back(K);
    } else {
      for (unsigned K = 0; K < Samples; ++K)
        Which.push_back(R() % N);
    }
    const float *Grad = M.gradient(I);
    double Diff2 = 0, Ref2 = 0;
    for (int64_t K : Which) {
      double W = P[I][K];
      // Central differences: truncation error O(h^2), rounding 1e-16 / h.
      double H = 1e-6 * std::max(1.0, std::fabs(W));
      P[I][K] = W + H;
      auto Up = referenceLoss(G, P, X.data(), L, Batch);
      P[I][K] = W - H;
      auto Down = referenceLoss(G, P, X.data(), L, Batch);
      P[I][K] = W;
      if (!Up)
        return Up.takeError();
      if (!Down)
        return Down.takeError();
      double Ref = (*Up - *Down) / (2 * H);
      Diff2 += (Grad[K] - Ref) * (Grad[K] - Ref);
      Ref2 += Ref * Ref;
    }
    GradCheckRow Row;
    Row.Param = G.params()[I].Name;
    Row.Checked = Which.size();
    Row.RefNorm = std::sqrt(Ref2);
    DiffNorm.push_back(std::sqrt(Diff2));
    Res.Rows.push_back(Row);
  }
  // A gradient that is zero in the reference (a bias before a batch
  // normalization) must be nearly zero: small next to the largest, as
  // float32 rounding leaves it.
  double Largest = 0;
  for (const GradCheckRow &Row : Res.Rows)
    Largest = std::max(Largest, Row.RefNorm);
  double Floor = std::max(1e-6, 1e-3 * Largest);
  for (size_t K = 0; K < Res.Rows.size(); ++K)
    Res.Rows[K].RelError =
        DiffNorm[K] / std::max(Res.Rows[K].RefNorm, Floor);
  return Res;
}

} // namespace netjit
