// Metrics.cpp - what train and compare report of their runs: the epoch
// lines, the diagnostics tables, the gradient plot and the metrics files
// (JSON or CSV).
#include "Training.h"

#include "netjit/Plot/Svg.h"
#include "netjit/Support/Files.h"
#include "netjit/Support/Json.h"

#include "llvm/Support/FormatAdapters.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <cstdio>

using namespace llvm;
using json = nlohmann::ordered_json;

namespace netjit {

std::string fmt(double V, const char *F) {
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
static std::vector<std::pair<const char *, double>> layerFigures(const LayerEpochStats &L) {
  return {{"weight_grad", L.WeightGrad},
          {"input_grad", L.InputGrad},
          {"saturated", L.Saturated},
          {"dead", L.Dead}};
}

static json historyJson(const TrainResult &R) {
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

static std::string sci(double V) {
  return std::isnan(V) ? "-" : formatv("{0:e2}", V).str();
}
static std::string pct(double V) {
  return std::isnan(V) ? "-" : formatv("{0:F1}%", 100 * V).str();
}

static const char *DiagnosticsLegend =
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

} // namespace netjit
