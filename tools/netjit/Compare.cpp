// Compare.cpp - `netjit compare`: the spec trained once per activation
// with the same data order and initial weights, the table, the loss plot,
// and resuming an interrupted comparison where it stopped.
#include "Training.h"

#include "netjit/Graph/NetworkGraph.h"
#include "netjit/Plot/Svg.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Files.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatAdapters.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using json = nlohmann::ordered_json;

namespace netjit {

namespace {

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
    ActivationSpec *Old = S.Layers[I]->activation();
    if (Old && !Old->RowWise && !Old->isLinear()) {
      *Old = A;
      ++N;
    }
  }
  return N;
}

} // namespace

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
      Same = hashMatches(*Info, **G, true);
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

} // namespace netjit
