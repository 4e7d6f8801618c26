// Train.cpp - `netjit train` and `netjit compare`: a spec (or the bundled
// Fashion-MNIST one) trained on its data with live progress, per-epoch
// metrics, and for compare one run per activation and the loss plot.
#include "Training.h"

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
#include <CLI/CLI.hpp>

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

} // namespace

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
                           StringRef Resume, ArrayRef<FinishedRun> Before) {
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
  if (!hashMatches(*Info, M.network(), Training))
    return locatedError(
        ErrorKind::Checkpoint, Path,
        Training ? "/__metadata__/training_hash" : "/__metadata__/network_hash",
        formatv("written for another {0} (hash {1}; this spec's is {2})",
                Training ? "network, loss or optimizer" : "network", Have, Want)
            .str());
  return Info;
}

namespace {

/// The options train and compare share: the overrides, the outputs and
/// --resume.
void addTrainOptions(CLI::App *C, TrainArgs &T) {
  C->add_option("--data", T.Data,
                "a named data set instead of the spec's: fashion_mnist, "
                "circle, xor, gauss, spiral");
  C->add_option("--epochs", T.Epochs, "epochs (default: the spec's)")
      ->check(CLI::Range(1, 1 << 20));
  C->add_option("--batch-size", T.BatchSize,
                "samples per step (default: the spec's)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  C->add_option("--seed", T.Seed,
                "seed of the initial weights and the data order (default: "
                "the spec's)");
  C->add_option("--lr", T.LearningRate,
                "the optimizer's learning rate (default: the spec's)")
      ->check(CLI::PositiveNumber);
  C->add_option("--threads", T.Threads,
                "threads a step may use (batches of 64 and more split; "
                "default: all cores). Same seed and threads, same numbers")
      ->check(CLI::Range(0u, 256u));
  C->add_option("--metrics", T.Metrics,
                "write per-epoch metrics to FILE.json, or FILE.csv");
  C->add_flag("--quiet,-q", T.Quiet,
              "no progress and no per-epoch lines: only the results");
  C->add_option("--save", T.Save,
                "write a checkpoint (safetensors: weights and optimizer "
                "state) after the last epoch, and where the run stopped on "
                "Ctrl-C or SIGTERM (exit 130/143; --resume continues it). "
                "Every output path is checked before the first step");
  C->add_option("--save-every", T.SaveEvery,
                "with --save: also after every N epochs")
      ->check(CLI::Range(1, 1 << 20));
  C->add_option("--loss", T.Loss,
                "the loss, by name (a Keras 2 file has none; this "
                "overrides a spec's)");
  C->add_option("--optimizer", T.Optimizer,
                "the optimizer, by name with Keras' defaults (--lr sets "
                "its learning rate)");
  C->add_option("--csv", T.Csv,
                "train on a CSV file instead of the spec's data (relative "
                "to the working directory)");
  C->add_option("--label-column", T.LabelColumn,
                "with --csv: the label column, a header name or a 0-based "
                "index");
  C->add_option("--plot-boundary", T.PlotBoundary,
                "2-D data with two classes: draw the learned decision "
                "boundary and the test points (SVG; compare: a panel per "
                "activation)");
  C->add_option("--nan-policy", T.NanPolicy,
                "a batch with a non-finite loss or gradient: stop (the "
                "default: an error naming the epoch, step and tensor) or "
                "skip-batch (checked before the update, left out)")
      ->check(CLI::IsMember({"stop", "skip-batch"}));
  C->add_flag("--diagnostics", T.Diagnostics,
              "measure per layer and epoch, inside the compiled step: the "
              "gradient norms of the weights and of the layer's input, the "
              "saturated (|f'(z)| < 0.01) and dead (f'(z) = 0 for every "
              "sample) units; a table at the end, and in --metrics");
  C->add_option("--plot-gradients", T.PlotGradients,
                "with --diagnostics: draw the weight gradient norm per "
                "layer (SVG; train: across epochs, compare: across layers "
                "per activation)")
      ->type_name("FILE.svg");
  C->add_option("--resume", T.Resume,
                "continue from a checkpoint of the same spec: the final "
                "weights equal an uninterrupted run's (same threads); "
                "compare also restores the runs it had finished");
}

} // namespace

void registerTrainCommands(CLI::App &App, CommandTable &Commands) {
  auto TAOwn = std::make_shared<TrainArgs>();
  TrainArgs &TA = *TAOwn;
  CLI::App *TrainCmd = App.add_subcommand(
      "train", "Train a spec on its data: progress, per-epoch metrics, test "
               "loss and accuracy");
  TrainCmd->add_option("SPEC", TA.Spec,
                       "the network spec (default: the bundled "
                       "Fashion-MNIST MLP, examples/fashion_mlp.json)");
  addTrainOptions(TrainCmd, TA);

  auto CAOwn = std::make_shared<CompareArgs>();
  CompareArgs &CA = *CAOwn;
  CLI::App *Compare = App.add_subcommand(
      "compare", "Train a spec once per activation (same data order and "
                 "initial weights) and plot the loss curves");
  Compare->add_option("SPEC", CA.Train.Spec,
                      "the network spec (default: the bundled Fashion-MNIST "
                      "MLP)");
  Compare->add_option("--activations,-a", CA.Activations,
                      "the hidden layers' activations, comma-separated: "
                      "names (relu), names with parameters "
                      "(leaky_relu:alpha=0.3), formulas in x, or JSON")
      ->required();
  Compare->add_option("--plot", CA.Plot,
                      "the loss plot to write (SVG; default loss.svg)");
  addTrainOptions(Compare, CA.Train);

  Commands.add(TrainCmd, [TAOwn] { return runTrain(*TAOwn); });
  Commands.add(Compare, [CAOwn] { return runCompare(*CAOwn); });
}

} // namespace netjit
