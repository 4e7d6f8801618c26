// Predict.cpp - `netjit predict`: a spec with a checkpoint's weights over
// IDX images or CSV rows, a class and the outputs per row.
#include "Commands.h"

#include "netjit/Data/Dataset.h"
#include "netjit/Runtime/Checkpoint.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Files.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <nlohmann/json.hpp>
#include <CLI/CLI.hpp>

using namespace llvm;
using json = nlohmann::ordered_json;

namespace netjit {

/// Rows of features from IDX images (bytes scaled to [0, 1], as training
/// reads them) or CSV.
static Expected<DataSplit> readFeatures(const PredictArgs &A) {
  auto Head = MemoryBuffer::getFileSlice(A.Input, 4, 0);
  if (!Head)
    return locatedError(ErrorKind::IO, A.Input, "",
                        "cannot read: " + Head.getError().message());
  StringRef H = (*Head)->getBuffer();
  if (H.empty())
    return locatedError(ErrorKind::Data, A.Input, "", "the file is empty");
  bool Gz = H.size() >= 2 && uint8_t(H[0]) == 0x1f && uint8_t(H[1]) == 0x8b;
  bool Idx = H.size() == 4 && H[0] == 0 && H[1] == 0;
  if (!Gz && !Idx)
    return readCsv(A.Input, A.LabelColumn);
  auto I = readIdx(A.Input);
  if (!I)
    return I.takeError();
  DataSplit D = imageRows(*I);
  D.Labels.assign(D.Rows, 0.0f);
  return D;
}

Error runPredict(const PredictArgs &A) {
  if (!A.Output.empty())
    if (Error E = checkOutputPath(A.Output, "-o"))
      return E;
  auto S = loadSpec(A.Spec);
  if (!S)
    return S.takeError();
  auto M = compileSpec(std::move(*S), 0);
  if (!M)
    return M.takeError();
  if (auto Info = readCheckpoint(**M, A.Weights, false); !Info)
    return Info.takeError();
  auto D = readFeatures(A);
  if (!D)
    return D.takeError();
  const NetworkGraph &G = (*M)->network();
  if (D->Features != G.inputSize())
    return locatedError(ErrorKind::Data, A.Input, "",
                        formatv("{0} features per row; the network takes {1}",
                                D->Features, G.inputSize())
                            .str());
  int64_t Out = G.outputSize();
  std::vector<float> P(D->Rows * Out);
  for (int64_t R = 0; R < D->Rows; R += (*M)->maxBatch()) {
    int64_t B = std::min((*M)->maxBatch(), D->Rows - R);
    if (Error E = (*M)->predict(&D->X[R * D->Features], &P[R * Out], B))
      return E;
  }
  // A class per row: the largest output, or output > 0.5 for one sigmoid.
  auto ClassOf = [&](int64_t R) -> int64_t {
    const float *Row = &P[R * Out];
    if (Out == 1)
      return Row[0] > 0.5f;
    return std::max_element(Row, Row + Out) - Row;
  };
  std::string Text;
  raw_string_ostream OS(Text);
  if (A.Json) {
    json Rows = json::array();
    for (int64_t R = 0; R < D->Rows; ++R)
      Rows.push_back({{"row", R},
                      {"class", ClassOf(R)},
                      {"outputs", std::vector<float>(&P[R * Out], &P[R * Out] + Out)}});
    OS << json({{"predictions", Rows}}).dump(1) << "\n";
  } else {
    OS << "row,class";
    for (int64_t K = 0; K < Out; ++K)
      OS << ",output_" << K;
    OS << "\n";
    for (int64_t R = 0; R < D->Rows; ++R) {
      OS << R << "," << ClassOf(R);
      for (int64_t K = 0; K < Out; ++K)
        OS << "," << format("%.6g", P[R * Out + K]);
      OS << "\n";
    }
  }
  OS.flush();
  if (A.Output.empty()) {
    outs() << Text;
    return Error::success();
  }
  return writeFileAtomically(A.Output, Text);
}

void registerPredictCommand(CLI::App &App, CommandTable &Commands) {
  auto PAOwn = std::make_shared<PredictArgs>();
  PredictArgs &PA = *PAOwn;
  CLI::App *Predict = App.add_subcommand(
      "predict", "Predict with a spec and its trained weights: the class and "
                 "the outputs of every input row");
  Predict->add_option("SPEC", PA.Spec, "the network spec")->required();
  Predict->add_option("--weights,-w", PA.Weights,
                      "a checkpoint written by train --save")
      ->required();
  Predict->add_option("--input,-i", PA.Input,
                      "the samples: IDX images (.gz or raw) or CSV")
      ->required();
  Predict->add_option("--label-column", PA.LabelColumn,
                      "CSV: a column to leave out (a header name or a "
                      "0-based index)");
  Predict->add_option("--output,-o", PA.Output,
                      "write here instead of standard output");
  Predict->add_flag("--json", PA.Json, "JSON instead of CSV");

  Commands.add(Predict, [PAOwn] { return runPredict(*PAOwn); });
}

} // namespace netjit
