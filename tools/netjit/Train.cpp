// Train.cpp - `netjit train` and `netjit compare`: a spec (or the bundled
// Fashion-MNIST one) trained on its data with live progress, per-epoch
// metrics, and for compare one run per activation and the loss plot.
#include "Commands.h"

#include "netjit/Plot/Svg.h"
#include "netjit/Runtime/Checkpoint.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Files.h"
#include "netjit/Support/Json.h"
#include "netjit/Runtime/Trainer.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatAdapters.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unistd.h>

using namespace llvm;
using json = nlohmann::ordered_json;

namespace netjit {

std::string bundledSpec() {
  // Next to an installed binary (PREFIX/bin -> PREFIX/share/netjit), else
  // the source tree's examples/.
  SmallString<256> Exe(sys::fs::getMainExecutable(nullptr, nullptr));
  SmallString<256> Installed = sys::path::parent_path(sys::path::parent_path(Exe));
  sys::path::append(Installed, "share", "netjit", "examples", "fashion_mlp.json");
  if (sys::fs::exists(Installed))
    return std::string(Installed);
  return NETJIT_SOURCE_DIR "/examples/fashion_mlp.json";
}

namespace {

/// The spec with the command line's overrides applied.
Expected<Spec> loadWithOverrides(const TrainArgs &A) {
  std::string Path = A.Spec.empty() ? bundledSpec() : A.Spec;
  auto S = loadSpec(Path);
  if (!S)
    return S.takeError();
  if (S->FromKeras && !S->KerasCompiled && A.Loss.empty())
    return locatedError(ErrorKind::Usage, S->File, "",
                        "this Keras model has no compile_config (Keras 2 "
                        "writes none): give its loss with --loss (and "
                        "--optimizer, default adam)");
  if (A.Epochs)
    S->Training.Epochs = A.Epochs;
  if (A.BatchSize)
    S->Training.BatchSize = A.BatchSize;
  if (A.Seed)
    S->Training.Seed = *A.Seed;
  if (A.LearningRate)
    S->Optimizer.Hyper["learning_rate"] = *A.LearningRate;
  if (!A.Data.empty())
    S->DataJson = json({{"dataset", A.Data}}).dump();
  if (!A.Csv.empty()) {
    if (A.LabelColumn.empty())
      return plainError(ErrorKind::Usage,
                        "--csv needs --label-column NAME or INDEX (0-based)");
    // The working directory's, not the spec's.
    SmallString<256> Csv(A.Csv);
    sys::fs::make_absolute(Csv);
    S->DataJson = json({{"train",
                         {{"csv", std::string(Csv)}, {"label_column", A.LabelColumn}}}})
                      .dump();
  }
  if (!A.Loss.empty() || !A.Optimizer.empty()) {
    // Read as the spec reader reads them, with their defaults.
    json Doc = {{"input", {{"shape", {1}}}},
                {"layers", {{{"type", "dense"}, {"units", 1}}}}};
    if (!A.Loss.empty())
      Doc["loss"] = A.Loss;
    if (!A.Optimizer.empty())
      Doc["optimizer"] = A.Optimizer;
    auto O = parseSpec(Doc.dump(), "--loss/--optimizer");
    if (!O)
      return O.takeError();
    if (!A.Loss.empty())
      S->Loss = O->Loss;
    if (!A.Optimizer.empty()) {
      double Lr = S->Optimizer.get("learning_rate");
      bool Same = S->Optimizer.Kind == O->Optimizer.Kind;
      S->Optimizer = O->Optimizer;
      if (Same || A.LearningRate)
        S->Optimizer.Hyper["learning_rate"] = A.LearningRate ? *A.LearningRate : Lr;
    }
  }
  return S;
}

/// One line that rewrites itself on a terminal; nothing otherwise.
class Progress {
public:
  explicit Progress(bool Enabled) : Enabled(Enabled && isatty(2)) {}
  void step(const TrainProgress &P, int64_t BatchSize) {
    if (!Enabled)
      return;
    auto Now = std::chrono::steady_clock::now();
    if (P.Step != P.Steps && Now - Last < std::chrono::milliseconds(100))
      return;
    Last = Now;
    double Rate = P.Step * BatchSize / std::max(P.Seconds, 1e-9);
    double Eta = P.Seconds / P.Step * (P.Steps - P.Step);
    std::string Line =
        formatv("epoch {0}/{1} {2}/{3}  loss {4:F4}  accuracy {5:F4}  "
                "{6:F0} samples/s  ETA {7:F1} s",
                P.Epoch, P.Epochs, P.Step, P.Steps, P.Loss, P.Accuracy, Rate,
                Eta)
            .str();
    std::fprintf(stderr, "\r%s\033[K", Line.c_str());
    Dirty = true;
  }
  void clear() {
    if (Dirty)
      std::fprintf(stderr, "\r\033[K");
    Dirty = false;
  }

private:
  bool Enabled, Dirty = false;
  std::chrono::steady_clock::time_point Last;
};

std::string fmt(double V, const char *F = "{0:F4}") {
  return std::isnan(V) ? "-" : formatv(F, V).str();
}

void printEpoch(const EpochMetrics &M, int Epochs) {
  std::string Val = std::isnan(M.ValLoss)
                        ? ""
                        : formatv("  val_loss {0:F4}  val_accuracy {1:F4}",
                                  M.ValLoss, M.ValAccuracy)
                              .str();
  std::string Skipped =
      M.SkippedBatches
          ? formatv("  ({0} batches skipped: non-finite)", M.SkippedBatches).str()
          : "";
  outs() << formatv("epoch {0}/{1}: loss {2:F4}  accuracy {3:F4}{4}  "
                    "{5:F3} s  {6:F0} samples/s{7}\n",
                    M.Epoch, Epochs, M.Loss, M.Accuracy, Val, M.Seconds,
                    M.SamplesPerSecond, Skipped);
  outs().flush();
}

/// The diagnostics' figures, by name, as the metrics files write them.
std::vector<std::pair<const char *, double>> layerFigures(const LayerEpochStats &L) {
  return {{"weight_grad", L.WeightGrad},
          {"input_grad", L.InputGrad},
          {"saturated", L.Saturated},
          {"dead", L.Dead}};
}

json historyJson(const TrainResult &R) {
  json Epochs = json::array();
  for (const EpochMetrics &M : R.History) {
    json E = {{"epoch", M.Epoch},
              {"loss", M.Loss},
              {"accuracy", M.Accuracy},
              {"seconds", orNull(M.Seconds)},
              {"samples_per_second", orNull(M.SamplesPerSecond)},
              {"skipped_batches", M.SkippedBatches}};
    if (!std::isnan(M.ValLoss)) {
      E["val_loss"] = M.ValLoss;
      E["val_accuracy"] = M.ValAccuracy;
    }
    if (!M.Layers.empty()) {
      json Layers = json::array();
      for (const LayerEpochStats &L : M.Layers) {
        json One = {{"layer", L.Layer}, {"units", L.Units}};
        for (auto &[K, V] : layerFigures(L))
          One[K] = orNull(V);
        Layers.push_back(One);
      }
      E["layers"] = Layers;
    }
    Epochs.push_back(E);
  }
  json Out = {{"epochs", Epochs}};
  if (!std::isnan(R.TestLoss))
    Out["test"] = {{"loss", R.TestLoss}, {"accuracy", R.TestAccuracy}};
  return Out;
}

std::string sci(double V) {
  return std::isnan(V) ? "-" : formatv("{0:e2}", V).str();
}
std::string pct(double V) {
  return std::isnan(V) ? "-" : formatv("{0:F1}%", 100 * V).str();
}

const char *DiagnosticsLegend =
    "RMS gradient norms over the epoch (weights: per step; input: per "
    "sample); saturated: |f'(z)| < 0.01; dead: f'(z) = 0 for every sample";

/// One run's last epoch of diagnostics, a row per layer.
void printLayerTable(const EpochMetrics &M) {
  size_t W = 5;
  for (const LayerEpochStats &L : M.Layers)
    W = std::max(W, L.Layer.size());
  outs() << formatv("\ndiagnostics, epoch {0} ({1}):\n", M.Epoch,
                    DiagnosticsLegend)
         << formatv("{0}  {1,5}  {2,11}  {3,11}  {4,9}  {5,6}\n",
                    fmt_align("layer", AlignStyle::Left, W), "units",
                    "weight grad", "input grad", "saturated", "dead");
  for (const LayerEpochStats &L : M.Layers)
    outs() << formatv("{0}  {1,5}  {2,11}  {3,11}  {4,9}  {5,6}\n",
                      fmt_align(L.Layer, AlignStyle::Left, W), L.Units,
                      sci(L.WeightGrad), sci(L.InputGrad), pct(L.Saturated),
                      pct(L.Dead));
}

/// compare: the runs' last epochs side by side, a table per figure with
/// the layers down and the activations across.
void printLayerMatrix(ArrayRef<std::pair<std::string, TrainResult>> Runs) {
  const std::vector<LayerEpochStats> &Rows = Runs.front().second.History.back().Layers;
  size_t W = 14, CW = 15;
  for (const LayerEpochStats &L : Rows)
    W = std::max(W, L.Layer.size());
  for (auto &[N, R] : Runs)
    CW = std::max(CW, N.size());
  outs() << formatv("\ndiagnostics, last epoch ({0}):\n", DiagnosticsLegend);
  auto Table = [&](StringRef Title,
                   function_ref<std::string(const LayerEpochStats &)> Cell) {
    outs() << "\n" << left_justify(Title, W);
    for (auto &[N, R] : Runs)
      outs() << "  " << right_justify(N, CW);
    outs() << "\n";
    for (size_t K = 0; K < Rows.size(); ++K) {
      outs() << left_justify(Rows[K].Layer, W);
      for (auto &[N, R] : Runs)
        outs() << "  " << right_justify(Cell(R.History.back().Layers[K]), CW);
      outs() << "\n";
    }
  };
  Table("weight grad", [](const LayerEpochStats &L) { return sci(L.WeightGrad); });
  Table("input grad", [](const LayerEpochStats &L) { return sci(L.InputGrad); });
  Table("saturated/dead", [](const LayerEpochStats &L) {
    return pct(L.Saturated) + " / " + pct(L.Dead);
  });
}

/// The weight gradient norm per layer on a log scale: one run across its
/// epochs (a line per layer), or several across the layers (a line per
/// run, its last epoch).
Error plotGradients(StringRef Path, StringRef Title,
                    ArrayRef<std::pair<std::string, TrainResult>> Runs) {
  LineChart C;
  C.Title = Title.str();
  C.YLabel = "weight gradient norm (RMS per step; log scale, 0 left out)";
  C.LogY = true;
  C.IntegerX = true;
  if (Runs.size() == 1) {
    const TrainResult &R = Runs.front().second;
    C.XLabel = "epoch";
    for (size_t K = 0; K < R.History.front().Layers.size(); ++K) {
      Series S;
      S.Name = R.History.front().Layers[K].Layer;
      S.Markers = true;
      for (const EpochMetrics &M : R.History) {
        S.X.push_back(M.Epoch);
        S.Y.push_back(M.Layers[K].WeightGrad);
      }
      C.Lines.push_back(S);
    }
  } else {
    C.XLabel = "layer (0 = next to the input), last epoch";
    for (auto &[N, R] : Runs) {
      Series S;
      S.Name = N;
      S.Markers = true;
      const std::vector<LayerEpochStats> &Ls = R.History.back().Layers;
      for (size_t K = 0; K < Ls.size(); ++K) {
        S.X.push_back(K);
        S.Y.push_back(Ls[K].WeightGrad);
      }
      C.Lines.push_back(S);
    }
  }
  if (Error E = writeFileAtomically(Path, renderLineChart(C)))
    return E;
  outs() << "gradient plot: " << Path << "\n";
  return Error::success();
}

/// The checks that come before the first step: a run is not lost to a
/// flag given wrong or a path that cannot be written at its end.
Error checkTrainArgs(const TrainArgs &A) {
  if (!A.PlotGradients.empty() && !A.Diagnostics)
    return plainError(ErrorKind::Usage,
                      "--plot-gradients draws what --diagnostics measures: "
                      "give both");
  for (auto [Path, Option] : {std::pair{&A.Save, "--save"},
                              {&A.Metrics, "--metrics"},
                              {&A.PlotBoundary, "--plot-boundary"},
                              {&A.PlotGradients, "--plot-gradients"}})
    if (!Path->empty())
      if (Error E = checkOutputPath(*Path, Option))
        return E;
  return Error::success();
}

/// Runs (name, result) as JSON, or as CSV (one row per run and epoch) when
/// the file name ends in .csv; written whole to a temporary file, then
/// renamed over the target.
Error writeMetrics(StringRef Path, const json &Meta,
                   ArrayRef<std::pair<std::string, TrainResult>> Runs) {
  std::string Text;
  if (Path.ends_with_insensitive(".csv")) {
    Text = "activation,epoch,loss,accuracy,val_loss,val_accuracy,seconds,"
           "samples_per_second,test_loss,test_accuracy";
    // Diagnostics: LAYER:FIGURE columns (every run has the same layers).
    // (an interrupted first run may have none)
    if (!Runs.front().second.History.empty())
      for (const LayerEpochStats &L : Runs.front().second.History.front().Layers)
        for (auto &[K, V] : layerFigures(L))
          Text += "," + L.Layer + ":" + K;
    Text += "\n";
    for (auto &[Name, R] : Runs)
      for (const EpochMetrics &M : R.History) {
        bool Last = &M == &R.History.back();
        auto N = [](double V) { // all the digits a float32 figure has
          if (std::isnan(V))
            return std::string();
          char B[32];
          std::snprintf(B, sizeof B, "%.9g", V);
          return std::string(B);
        };
        Text += formatv("\"{0}\",{1},{2},{3},{4},{5},{6},{7},{8},{9}", Name,
                        M.Epoch, N(M.Loss), N(M.Accuracy), N(M.ValLoss),
                        N(M.ValAccuracy), N(M.Seconds), N(M.SamplesPerSecond),
                        Last ? N(R.TestLoss) : "", Last ? N(R.TestAccuracy) : "")
                    .str();
        for (const LayerEpochStats &L : M.Layers)
          for (auto &[K, V] : layerFigures(L))
            Text += "," + N(V);
        Text += "\n";
      }
  } else {
    json J = Meta;
    json RunsJ = json::array();
    for (auto &[Name, R] : Runs) {
      json One = {{"activation", Name}};
      One.update(historyJson(R));
      RunsJ.push_back(One);
    }
    J["runs"] = RunsJ;
    Text = J.dump(2) + "\n";
  }
  return writeFileAtomically(Path, Text);
}

/// Splits a comma list at depth 0 of parentheses and braces, so formulas
/// and JSON objects keep their commas.
std::vector<std::string> splitTopLevel(StringRef List) {
  std::vector<std::string> Out;
  int Depth = 0;
  std::string Cur;
  for (char C : List) {
    Depth += (C == '(' || C == '{' || C == '[') - (C == ')' || C == '}' || C == ']');
    if (C == ',' && Depth == 0) {
      Out.push_back(StringRef(Cur).trim().str());
      Cur.clear();
    } else {
      Cur += C;
    }
  }
  if (!StringRef(Cur).trim().empty())
    Out.push_back(StringRef(Cur).trim().str());
  return Out;
}

/// NAME, NAME:P=V:P=V, a JSON activation object, or a formula in x, read
/// as the spec reader reads an activation (with the spec's named ones).
Expected<ActivationSpec> activationArg(const Spec &S, StringRef Arg) {
  if (Arg.starts_with("{"))
    return parseActivation(Arg, S.DeclaredJson, "--activations");
  json A;
  if (Arg.find_first_of("()+-*/^ ") != StringRef::npos) {
    A = {{"expr", Arg.str()}};
  } else {
    SmallVector<StringRef, 4> Parts;
    Arg.split(Parts, ':');
    A = {{"name", Parts[0].str()}};
    for (StringRef P : ArrayRef(Parts).drop_front()) {
      auto [K, V] = P.split('=');
      double D;
      if (K.empty() || V.trim().getAsDouble(D))
        return plainError(ErrorKind::Usage,
                          "--activations: expected NAME:PARAM=NUMBER, got '" +
                              Arg + "'");
      A[K.str()] = D;
    }
    if (Parts.size() == 1)
      A = Parts[0].str();
  }
  // The spec's declared activations resolve too.
  return parseActivation(A.dump(), S.DeclaredJson, "--activations");
}

/// The hidden layers' activation replaced (dense and activation layers
/// whose activation is element-wise and not linear).
unsigned replaceHidden(Spec &S, const ActivationSpec &A) {
  unsigned N = 0;
  for (size_t I = 0; I + 1 < S.Layers.size(); ++I) {
    LayerSpec &L = S.Layers[I];
    if ((L.Kind == LayerKind::dense || L.Kind == LayerKind::activation) &&
        !L.Activation.RowWise && !L.Activation.isLinear()) {
      L.Activation = A;
      ++N;
    }
  }
  return N;
}

struct Run {
  std::string Name;
  TrainResult Result;
};

struct Trained {
  TrainResult Result;
  std::unique_ptr<CompiledModel> M;
};

/// The square around D's points, with the test points (else the training
/// points) on top: a decision-boundary panel without its values.
Expected<BoundaryPanel> boundaryFrame(const Dataset &D, int64_t Outputs,
                                      std::string Title) {
  if (D.Train.Features != 2 || Outputs > 2)
    return plainError(ErrorKind::Usage,
                      "--plot-boundary draws 2-D data with two classes; this "
                      "data has " + Twine(D.Train.Features) +
                          " features and the network " + Twine(Outputs) +
                          " outputs");
  BoundaryPanel P;
  P.Title = std::move(Title);
  const DataSplit &Pts = D.Test.Rows ? D.Test : D.Train;
  double Lo[2] = {INFINITY, INFINITY}, Hi[2] = {-INFINITY, -INFINITY};
  for (const DataSplit *S : {&D.Train, &D.Test})
    for (int64_t R = 0; R < S->Rows; ++R)
      for (int K = 0; K < 2; ++K) {
        Lo[K] = std::min<double>(Lo[K], S->X[2 * R + K]);
        Hi[K] = std::max<double>(Hi[K], S->X[2 * R + K]);
      }
  // A square around the points with a margin, as the Playground's.
  double C[2] = {(Lo[0] + Hi[0]) / 2, (Lo[1] + Hi[1]) / 2};
  double Half = std::max(Hi[0] - Lo[0], Hi[1] - Lo[1]) * 0.55 + 1e-9;
  P.X0 = C[0] - Half, P.X1 = C[0] + Half, P.Y0 = C[1] - Half, P.Y1 = C[1] + Half;
  P.Cells = 80;
  for (int64_t R = 0; R < Pts.Rows; ++R) {
    P.PX.push_back(Pts.X[2 * R]);
    P.PY.push_back(Pts.X[2 * R + 1]);
    P.PLabel.push_back(Pts.Labels[R] > 0.5);
  }
  return P;
}

/// What M predicts over the frame's cells: the probability of class 1
/// (one sigmoid output, or the second of two).
Expected<BoundaryPanel> boundaryPanel(CompiledModel &M, const Dataset &D,
                                      std::string Title) {
  int64_t Out = M.network().outputSize();
  auto P = boundaryFrame(D, Out, std::move(Title));
  if (!P)
    return P.takeError();
  std::vector<float> Grid;
  for (int R = 0; R < P->Cells; ++R)
    for (int K = 0; K < P->Cells; ++K) {
      Grid.push_back(P->X0 + (K + 0.5) / P->Cells * (P->X1 - P->X0));
      Grid.push_back(P->Y1 - (R + 0.5) / P->Cells * (P->Y1 - P->Y0));
    }
  int64_t N = P->Cells * P->Cells;
  std::vector<float> Y(N * Out);
  for (int64_t R = 0; R < N; R += M.maxBatch()) {
    int64_t B = std::min(M.maxBatch(), N - R);
    if (Error E = M.predict(&Grid[2 * R], &Y[R * Out], B))
      return E;
  }
  for (int64_t I = 0; I < N; ++I)
    P->Value.push_back(Y[I * Out + Out - 1]);
  return P;
}

/// S trained on D, resuming from the checkpoint Resume if given; its
/// checkpoints hold Before, the runs finished before it (compare's).
Expected<Trained> trainOne(Spec S, const Dataset &D, const TrainArgs &A,
                           StringRef Resume,
                           ArrayRef<FinishedRun> Before = {}) {
  int Epochs = S.Training.Epochs;
  uint64_t Seed = S.Training.Seed;
  int64_t Batch = S.Training.BatchSize;
  auto M = compileSpec(std::move(S), A.Threads, A.Diagnostics);
  if (!M)
    return M.takeError();
  (*M)->initialize(Seed);
  TrainOptions O;
  O.Epochs = Epochs;
  O.Seed = Seed;
  O.OnNonFinite = A.NanPolicy == "skip-batch" ? NanPolicy::SkipBatch
                                              : NanPolicy::Stop;
  if (!Resume.empty()) {
    auto Info = readCheckpoint(**M, Resume, true);
    if (!Info)
      return Info.takeError();
    // The run continues as it was: its seed orders the data, its progress
    // (an interrupted run's) says where in the epoch it stopped.
    O.Seed = Info->Seed;
    O.Start.Epoch = Info->Epoch + 1;
    if (Info->Progress)
      O.Start = *Info->Progress;
    if (!A.Quiet)
      outs() << formatv("resuming from {0}: {1} epochs and {2} steps done\n",
                        Resume, Info->Epoch, Info->Step);
  }
  O.ShouldStop = [] { return interruptSignal() != 0; };
  Progress P(!A.Quiet);
  O.OnStep = [&](const TrainProgress &TP) { P.step(TP, Batch); };
  O.OnEpoch = [&](const EpochMetrics &Mx, const TrainState &Next) -> Error {
    P.clear();
    if (!A.Quiet)
      printEpoch(Mx, Epochs);
    bool Save = !A.Save.empty() &&
                (Mx.Epoch == Epochs || (A.SaveEvery && Mx.Epoch % A.SaveEvery == 0));
    return Save ? saveCheckpoint(**M, A.Save, Mx.Epoch, &Next, Before)
                : Error::success();
  };
  auto R = train(**M, D, O);
  if (!R)
    return R.takeError();
  P.clear();
  if (R->Stopped && !A.Save.empty())
    if (Error E = saveCheckpoint(**M, A.Save, 0, &R->State, Before))
      return E;
  return Trained{std::move(*R), std::move(*M)};
}

/// The one line an interrupted run ends with: where it stopped, what it
/// saved, and the command that resumes it.
void reportStop(const TrainArgs &A, const TrainState &S, StringRef What) {
  std::string Line =
      formatv("netjit: interrupted{0} in epoch {1} after {2} steps: ", What,
              S.Epoch, S.Step)
          .str();
  std::vector<std::string> Saved;
  if (!A.Save.empty())
    Saved.push_back("the checkpoint " + A.Save);
  if (!A.Metrics.empty())
    Saved.push_back("the metrics of the epochs done in " + A.Metrics);
  Line += Saved.empty() ? "nothing saved (no --save or --metrics)"
                        : "saved " + join(Saved, " and ");
  if (!A.Save.empty())
    Line += "; resume with: " + resumeCommand(A.Save);
  errs() << Line << "\n";
}

/// What a metrics file says of the run besides its epochs.
json runMeta(const Spec &S, const Dataset &D) {
  return {{"spec", S.File},
          {"data", D.Name},
          {"batch_size", S.Training.BatchSize},
          {"seed", S.Training.Seed}};
}

} // namespace

Error runTrain(const TrainArgs &A) {
  catchInterrupts();
  if (Error E = checkTrainArgs(A))
    return E;
  auto S = loadWithOverrides(A);
  if (!S)
    return S.takeError();
  auto T0 = std::chrono::steady_clock::now();
  auto D = loadDataset(*S);
  if (!D)
    return D.takeError();
  double ReadS = std::chrono::duration<double>(std::chrono::steady_clock::now() - T0).count();
  std::string Name = S->Name;
  if (!A.Quiet)
    outs() << formatv("training {0} on {1}: {2} samples ({3} validation, {4} "
                      "test, read in {7:F2} s), batch {5}, {6} epochs\n",
                      Name, D->Name, D->Train.Rows, D->Validation.Rows,
                      D->Test.Rows, S->Training.BatchSize, S->Training.Epochs,
                      ReadS);
  json Meta = runMeta(*S, *D);
  auto T = trainOne(*S, *D, A, A.Resume);
  if (!T)
    return T.takeError();
  const TrainResult *R = &T->Result;
  if (R->Stopped) {
    if (!A.Metrics.empty())
      if (Error E = writeMetrics(A.Metrics, Meta, {{"spec", *R}}))
        return E;
    reportStop(A, R->State, "");
    return Error::success();
  }
  if (!std::isnan(R->TestLoss))
    outs() << formatv("test: loss {0:F4}  accuracy {1:F4}  ({2} samples)\n",
                      R->TestLoss, R->TestAccuracy, D->Test.Rows);
  if (!A.PlotBoundary.empty()) {
    auto P = boundaryPanel(*T->M, *D, Name);
    if (!P)
      return P.takeError();
    if (Error E = writeFileAtomically(A.PlotBoundary, renderBoundaries({*P})))
      return E;
    outs() << "boundary plot: " << A.PlotBoundary << "\n";
  }
  if (!A.Save.empty() && !A.Quiet)
    outs() << "checkpoint: " << A.Save << "\n";
  if (A.Diagnostics) {
    printLayerTable(R->History.back());
    if (!A.PlotGradients.empty())
      if (Error E = plotGradients(A.PlotGradients,
                                  "Weight gradient norm per layer: " + Name,
                                  {{"spec", *R}}))
        return E;
  }
  if (!A.Metrics.empty())
    return writeMetrics(A.Metrics, Meta, {{"spec", *R}});
  return Error::success();
}

Error runCompare(const CompareArgs &C) {
  catchInterrupts();
  if (Error E = checkTrainArgs(C.Train))
    return E;
  if (Error E = checkOutputPath(C.Plot, "--plot"))
    return E;
  auto S = loadWithOverrides(C.Train);
  if (!S)
    return S.takeError();
  std::vector<std::string> Names;
  for (const std::string &L : C.Activations)
    for (std::string &N : splitTopLevel(L))
      Names.push_back(N);
  if (Names.empty())
    return plainError(ErrorKind::Usage,
                      "--activations: give at least one, e.g. "
                      "relu,gelu,sigmoid,leaky_relu:alpha=0.3");
  std::vector<ActivationSpec> Acts;
  for (const std::string &N : Names) {
    auto Act = activationArg(*S, N);
    if (!Act)
      return Act.takeError();
    Acts.push_back(*Act);
  }
  {
    Spec Probe = *S;
    if (!replaceHidden(Probe, Acts[0]))
      return locatedError(ErrorKind::Spec, S->File, "/layers",
                          "no hidden layer with an activation to compare");
  }
  auto D = loadDataset(*S);
  if (!D)
    return D.takeError();
  if (!C.Train.Quiet)
    outs() << formatv("comparing {0} activations on {1} ({2}): {3} samples, "
                      "batch {4}, {5} epochs, seed {6}\n",
                      Acts.size(), S->Name, D->Name, D->Train.Rows,
                      S->Training.BatchSize, S->Training.Epochs,
                      S->Training.Seed);
  std::vector<std::string> Labels;
  for (const ActivationSpec &Act : Acts)
    Labels.push_back(Act.describe());
  // What the checkpoints keep of the runs done; resuming restores them.
  std::vector<FinishedRun> Finished;
  const std::string &Resume = C.Train.Resume;
  if (!Resume.empty()) {
    auto Info = readCheckpointInfo(Resume);
    if (!Info)
      return Info.takeError();
    Finished = std::move(Info->Before);
    std::vector<std::string> Done;
    for (const FinishedRun &F : Finished)
      Done.push_back(F.Label);
    // The finished runs begin the list and the checkpoint holds the next.
    bool Same = Done.size() < Labels.size() &&
                std::equal(Done.begin(), Done.end(), Labels.begin());
    if (Same) {
      Spec Next = *S;
      replaceHidden(Next, Acts[Done.size()]);
      auto G = NetworkGraph::build(std::move(Next));
      if (!G)
        return G.takeError();
      Same = specHash(**G, true) == Info->TrainingHash;
    }
    if (!Same)
      return locatedError(
          ErrorKind::Checkpoint, Resume, "/__metadata__",
          formatv("written by another comparison: it finished [{0}] and "
                  "holds the next run, which is not {1} on this spec; "
                  "resume with the spec, options and --activations it "
                  "was written with",
                  join(Done, ", "),
                  Done.size() < Labels.size() ? Labels[Done.size()]
                                              : std::string("in the list"))
              .str());
  }
  std::vector<std::pair<std::string, TrainResult>> Runs;
  std::vector<BoundaryPanel> Panels;
  for (const FinishedRun &F : Finished) {
    if (!C.Train.Quiet)
      outs() << "== " << F.Label << ": finished before, restored from "
             << Resume << "\n";
    TrainResult R;
    R.History = F.History;
    R.TestLoss = F.TestLoss;
    R.TestAccuracy = F.TestAccuracy;
    Runs.push_back({F.Label, std::move(R)});
    if (!C.Train.PlotBoundary.empty()) {
      auto P = boundaryFrame(*D, 1, F.Label);
      if (!P)
        return P.takeError();
      if (F.Boundary.size() != size_t(P->Cells * P->Cells))
        return locatedError(ErrorKind::Checkpoint, Resume,
                            "/__metadata__/finished_runs",
                            "it keeps no decision boundary of " + F.Label +
                                " (that comparison had no --plot-boundary)");
      P->Value = F.Boundary;
      Panels.push_back(std::move(*P));
    }
  }
  size_t Resumed = Resume.empty() ? Acts.size() : Finished.size();
  for (size_t I = Finished.size(); I < Acts.size(); ++I) {
    Spec One = *S;
    replaceHidden(One, Acts[I]);
    const std::string &Label = Labels[I];
    if (!C.Train.Quiet)
      outs() << "== " << Label << "\n";
    auto T = trainOne(std::move(One), *D, C.Train,
                      I == Resumed ? StringRef(Resume) : "", Finished);
    if (!T) // which run failed
      return prefixError(T.takeError(), Label + ": ");
    if (T->Result.Stopped) {
      // The finished runs, and this one's epochs done.
      Runs.push_back({Label, std::move(T->Result)});
      if (!C.Train.Metrics.empty())
        if (Error E = writeMetrics(C.Train.Metrics, runMeta(*S, *D), Runs))
          return E;
      reportStop(C.Train, Runs.back().second.State,
                 formatv(" ({0}, run {1} of {2})", Label, I + 1, Acts.size())
                     .str());
      return Error::success();
    }
    FinishedRun F{Label, T->Result.History, T->Result.TestLoss,
                  T->Result.TestAccuracy, {}};
    if (!C.Train.PlotBoundary.empty()) {
      auto P = boundaryPanel(*T->M, *D, Label);
      if (!P)
        return P.takeError();
      F.Boundary = P->Value;
      Panels.push_back(std::move(*P));
    }
    Finished.push_back(std::move(F));
    Runs.push_back({Label, std::move(T->Result)});
  }
  // The table.
  size_t W = 10;
  for (auto &[N, R] : Runs)
    W = std::max(W, N.size());
  outs() << "\n"
         << formatv("{0}  {1,10}  {2,9}  {3,9}  {4,9}\n",
                    fmt_align("activation", AlignStyle::Left, W), "train loss",
                    "test loss", "test acc", "s/epoch");
  for (auto &[N, R] : Runs) {
    double Sec = 0;
    for (const EpochMetrics &M : R.History)
      Sec += M.Seconds;
    outs() << formatv("{0}  {1,10}  {2,9}  {3,9}  {4,9}\n",
                      fmt_align(N, AlignStyle::Left, W),
                      fmt(R.History.back().Loss), fmt(R.TestLoss),
                      fmt(R.TestAccuracy), fmt(Sec / R.History.size(), "{0:F3}"));
  }
  // The loss curves, as the Keras study plots history['loss'].
  LineChart Chart;
  Chart.Title = "Training loss per epoch: " + S->Name + " on " + D->Name;
  Chart.XLabel = "epoch";
  Chart.YLabel = "loss";
  Chart.IntegerX = true;
  for (auto &[N, R] : Runs) {
    Series L;
    L.Name = N;
    L.Markers = true;
    for (const EpochMetrics &M : R.History) {
      L.X.push_back(M.Epoch);
      L.Y.push_back(M.Loss);
    }
    Chart.Lines.push_back(L);
  }
  if (C.Train.Diagnostics)
    printLayerMatrix(Runs);
  if (Error E = writeFileAtomically(C.Plot, renderLineChart(Chart)))
    return E;
  outs() << "\nloss plot: " << C.Plot << "\n";
  if (!C.Train.PlotGradients.empty())
    if (Error E = plotGradients(C.Train.PlotGradients,
                                "Weight gradient norm per layer: " + S->Name +
                                    " on " + D->Name,
                                Runs))
      return E;
  if (!Panels.empty()) {
    if (Error E = writeFileAtomically(C.Train.PlotBoundary, renderBoundaries(Panels)))
      return E;
    outs() << "boundary plot: " << C.Train.PlotBoundary << "\n";
  }
  if (!C.Train.Metrics.empty())
    if (Error E = writeMetrics(C.Train.Metrics, runMeta(*S, *D), Runs))
      return E;
  return Error::success();
}

Expected<std::unique_ptr<CompiledModel>> compileSpec(Spec S, unsigned Threads,
                                                     bool Diagnostics) {
  auto G = NetworkGraph::build(std::move(S));
  if (!G)
    return G.takeError();
  CompileOptions CO;
  CO.Threads = Threads;
  CO.Diagnostics = Diagnostics;
  return CompiledModel::compile(std::move(*G), CO);
}

Expected<CheckpointInfo> readCheckpoint(CompiledModel &M, StringRef Path,
                                        bool Training) {
  auto Info = loadCheckpoint(M, Path);
  if (!Info)
    return Info.takeError();
  std::string Have = Training ? Info->TrainingHash : Info->NetworkHash;
  std::string Want = specHash(M.network(), Training);
  if (Have != Want)
    return locatedError(
        ErrorKind::Checkpoint, Path,
        Training ? "/__metadata__/training_hash" : "/__metadata__/network_hash",
        formatv("written for another {0} (hash {1}; this spec's is {2})",
                Training ? "network, loss or optimizer" : "network", Have, Want)
            .str());
  return Info;
}

} // namespace netjit
