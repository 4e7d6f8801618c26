// netjit.cpp - the C++ host API over the library: llvm::Error becomes
// Status at this boundary and nowhere else.
#include "netjit/netjit.h"

#include "netjit/Data/Dataset.h"
#include "netjit/Runtime/Checkpoint.h"
#include "netjit/Runtime/Model.h"
#include "netjit/Runtime/Trainer.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <atomic>
#include <cmath>
#include <cstring>
#include <optional>

using namespace llvm;

namespace netjit {

struct Model::Impl {
  std::unique_ptr<CompiledModel> M;
  int Epochs = 5;
  uint64_t Seed = 0;
  /// Training steps and their samples since the diagnostics' last reset.
  int64_t Steps = 0, Samples = 0;
  std::atomic<bool> StopRequested{false};
  /// Where a stopped fit (or a checkpoint of one) left off.
  std::optional<TrainState> Resume;
};

struct ModelAccess {
  static Model::Impl &impl(Model &M) { return *M.P; }
};

namespace {

/// The error as one line (LocatedError's own format) and its class.
Status toStatus(Error E) {
  int Code = 1;
  std::string Message;
  handleAllErrors(
      std::move(E),
      [&](const LocatedError &L) {
        Code = int(L.kind());
        raw_string_ostream OS(Message);
        L.log(OS);
      },
      [&](const ErrorInfoBase &B) { Message = B.message(); });
  return Status(Code, Message);
}

Status noModel() {
  return Status(int(ErrorKind::Usage), "this Model holds no compiled network "
                                       "(moved from, or never compiled)");
}

Metrics metrics(const StepStats &S, int64_t Batch) {
  Metrics M;
  M.Loss = S.LossSum / Batch + S.Penalty;
  M.Accuracy = S.Correct / Batch;
  M.Samples = Batch;
  return M;
}

Result<Model> compileSpec(Expected<Spec> S, const CompilerOptions &O) {
  if (!S)
    return toStatus(S.takeError());
  int Epochs = S->Training.Epochs;
  uint64_t Seed = S->Training.Seed;
  S->Limits.MaxWeights = O.MaxWeights;
  S->Limits.MaxActivations = O.MaxActivations;
  auto G = NetworkGraph::build(std::move(*S));
  if (!G)
    return toStatus(G.takeError());
  CompileOptions CO;
  CO.Jit.Target.CPU = O.CPU;
  CO.Jit.UseCache = O.UseCache;
  CO.Jit.CacheDir = O.CacheDir;
  CO.Threads = O.Threads;
  CO.MaxBatch = O.MaxBatch;
  CO.Diagnostics = O.Diagnostics;
  auto M = CompiledModel::compile(std::move(*G), CO);
  if (!M)
    return toStatus(M.takeError());
  (*M)->initialize(Seed);
  Model Out;
  Model::Impl &I = ModelAccess::impl(Out);
  I.M = std::move(*M);
  I.Epochs = Epochs;
  I.Seed = Seed;
  return Out;
}

} // namespace

Result<Model> Compiler::compileFile(const std::string &Path) const {
  return compileSpec(loadSpec(Path), Opts);
}

Result<Model> Compiler::compileJson(const std::string &Text,
                                    const std::string &Name) const {
  return compileSpec(parseSpec(Text, Name), Opts);
}

Model::Model() : P(std::make_unique<Impl>()) {}
Model::Model(Model &&) noexcept = default;
Model &Model::operator=(Model &&) noexcept = default;
Model::~Model() = default;

void Model::initialize(uint64_t Seed) {
  if (P && P->M)
    P->M->initialize(Seed);
}

int64_t Model::inputSize() const {
  return P && P->M ? P->M->network().inputSize() : 0;
}
int64_t Model::outputSize() const {
  return P && P->M ? P->M->network().outputSize() : 0;
}
int64_t Model::maxBatch() const { return P && P->M ? P->M->maxBatch() : 0; }
bool Model::sparseLabels() const {
  return P && P->M && P->M->graph().sparseLabels();
}

/// The labels' kind must be the loss's: int32 classes for sparse losses,
/// float rows otherwise.
static Status checkLabels(const Model::Impl *P, bool Sparse, const float *X,
                          const void *L) {
  if (!P || !P->M)
    return noModel();
  if (!X || !L)
    return Status(int(ErrorKind::Usage), "no inputs or no labels given");
  if (Sparse != P->M->graph().sparseLabels())
    return Status(int(ErrorKind::Usage),
                  Sparse ? "this model's loss takes target rows (float), "
                           "not int32 classes"
                         : "this model's loss takes int32 classes, not "
                           "target rows");
  return Status();
}

/// A training or evaluation step with labels of the loss's kind.
static Result<Metrics> step(Model::Impl *P, bool Train, bool Sparse,
                            const float *X, const void *Labels, int64_t Batch) {
  if (Status S = checkLabels(P, Sparse, X, Labels); !S)
    return S;
  auto R = Train ? P->M->trainStep(X, Labels, Batch)
                 : P->M->evaluate(X, Labels, Batch);
  if (!R)
    return toStatus(R.takeError());
  if (Train) {
    ++P->Steps;
    P->Samples += Batch;
  }
  return metrics(*R, Batch);
}

static std::vector<LayerReport> layerReports(const std::vector<LayerEpochStats> &L) {
  std::vector<LayerReport> Out;
  for (const LayerEpochStats &S : L)
    Out.push_back({S.Layer, S.Units, S.WeightGrad, S.InputGrad, S.Saturated, S.Dead});
  return Out;
}

std::vector<LayerReport> Model::diagnostics(bool Reset) {
  if (!P || !P->M)
    return {};
  auto R = layerReports(layerEpochStats(*P->M, P->Steps, P->Samples));
  if (Reset) {
    P->M->resetDiagnostics();
    P->Steps = P->Samples = 0;
  }
  return R;
}

Result<Metrics> Model::trainStep(const float *X, const int32_t *Labels,
                                 int64_t Batch) {
  return step(P.get(), true, true, X, Labels, Batch);
}
Result<Metrics> Model::trainStep(const float *X, const float *Targets,
                                 int64_t Batch) {
  return step(P.get(), true, false, X, Targets, Batch);
}
Result<Metrics> Model::evaluate(const float *X, const int32_t *Labels,
                                int64_t Batch) {
  return step(P.get(), false, true, X, Labels, Batch);
}
Result<Metrics> Model::evaluate(const float *X, const float *Targets,
                                int64_t Batch) {
  return step(P.get(), false, false, X, Targets, Batch);
}

Status Model::predict(const float *X, int64_t Batch, float *Out) {
  if (!P || !P->M)
    return noModel();
  if (Error E = P->M->predict(X, Out, Batch))
    return toStatus(std::move(E));
  return Status();
}

Result<std::vector<EpochReport>>
Model::fit(int Epochs, std::function<void(const EpochReport &)> Progress,
           const std::string &DataJson) {
  if (!P || !P->M)
    return noModel();
  const Spec &S = P->M->network().spec();
  auto D = DataJson.empty()
               ? loadDataset(S)
               : loadDataset(DataJson, "<data>", sys::path::parent_path(S.File),
                             S.Training.ValidationSplit);
  if (!D)
    return toStatus(D.takeError());
  TrainOptions O;
  O.Epochs = Epochs ? Epochs : P->Epochs;
  O.Seed = P->Seed;
  if (P->Resume)
    O.Start = *P->Resume;
  O.ShouldStop = [&] { return P->StopRequested.load(); };
  std::vector<EpochReport> Reports;
  O.OnEpoch = [&](const EpochMetrics &E, const TrainState &) -> Error {
    Reports.push_back({E.Epoch, O.Epochs, E.Loss, E.Accuracy, NAN, NAN,
                       E.Seconds, layerReports(E.Layers)});
    if (Progress && E.Epoch < O.Epochs)
      Progress(Reports.back());
    return Error::success();
  };
  auto R = train(*P->M, *D, O);
  if (!R)
    return toStatus(R.takeError());
  P->Resume.reset();
  if (R->Stopped) {
    P->StopRequested = false;
    const TrainState &St = R->State;
    P->Resume = St;
    EpochReport Last = {St.Epoch, O.Epochs,
                        St.Seen ? St.Loss / St.Seen : NAN,
                        St.Seen ? St.Correct / St.Seen : NAN,
                        NAN, NAN, NAN, {}, true};
    Reports.push_back(Last);
    if (Progress)
      Progress(Reports.back());
    return Reports;
  }
  if (!Reports.empty()) {
    Reports.back().TestLoss = R->TestLoss;
    Reports.back().TestAccuracy = R->TestAccuracy;
    if (Progress)
      Progress(Reports.back());
  }
  return Reports;
}

std::vector<ParameterInfo> Model::parameters() const {
  std::vector<ParameterInfo> Out;
  if (P && P->M)
    for (const ParamInfo &I : P->M->network().params())
      Out.push_back({I.Name, I.Shape});
  return Out;
}

/// The index of the parameter called Name, checking Count against it.
static Result<int> findParam(const Model::Impl *P, const std::string &Name,
                             size_t Count) {
  if (!P || !P->M)
    return noModel();
  const auto &Ps = P->M->network().params();
  std::vector<std::string> Names;
  for (size_t I = 0; I < Ps.size(); ++I) {
    if (Ps[I].Name == Name) {
      if (Count != size_t(Ps[I].size()))
        return Status(int(ErrorKind::Usage),
                      Name + " has " + std::to_string(Ps[I].size()) +
                          " floats, not " + std::to_string(Count));
      return int(I);
    }
    Names.push_back(Ps[I].Name);
  }
  return Status(int(ErrorKind::Usage),
                "no parameter '" + Name + "'" + didYouMean(Name, Names));
}

Status Model::getParameter(const std::string &Name, float *Out,
                           size_t Count) const {
  auto I = findParam(P.get(), Name, Count);
  if (!I)
    return I.status();
  std::memcpy(Out, P->M->param(*I), Count * sizeof(float));
  return Status();
}

Status Model::setParameter(const std::string &Name, const float *In,
                           size_t Count) {
  auto I = findParam(P.get(), Name, Count);
  if (!I)
    return I.status();
  std::memcpy(P->M->param(*I), In, Count * sizeof(float));
  return Status();
}

void Model::requestStop() {
  if (P)
    P->StopRequested = true;
}

Status Model::save(const std::string &Path, int Epoch) {
  if (!P || !P->M)
    return noModel();
  if (Error E = saveCheckpoint(*P->M, Path, Epoch,
                               P->Resume ? &*P->Resume : nullptr))
    return toStatus(std::move(E));
  return Status();
}

Status Model::load(const std::string &Path) {
  if (!P || !P->M)
    return noModel();
  auto Info = loadCheckpoint(*P->M, Path);
  if (!Info)
    return toStatus(Info.takeError());
  // A checkpoint of a run that tracked its progress (a stopped fit's,
  // `netjit train --save`'s) says where the next fit continues.
  P->Resume = Info->Progress;
  return Status();
}

} // namespace netjit
