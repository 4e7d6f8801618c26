// Checkpoint.cpp - safetensors out and in, validated before anything is
// overwritten.
#include "netjit/Runtime/Checkpoint.h"

#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Files.h"
#include "netjit/Support/Json.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <cstring>
#include <nlohmann/json.hpp>
#include <zlib.h>

using namespace llvm;
using json = nlohmann::ordered_json;

namespace netjit {

namespace {

const char *Format = "netjit-checkpoint-1";

/// Every tensor of a checkpoint: its name and where it lives in the arena.
struct Entry {
  std::string Name;
  const ParamInfo *Param; // its shape
  float *Data;
  int64_t size() const { return Param->size(); }
};

std::vector<Entry> entries(const TrainGraph &T, float *Arena) {
  const auto &Params = T.network().params();
  std::vector<Entry> Out;
  for (size_t P = 0; P < Params.size(); ++P)
    Out.push_back({Params[P].Name, &Params[P],
                   Arena + T.tensor(T.paramTensor(P)).Offset});
  for (unsigned K = 0; K < T.numSlots(); ++K)
    for (size_t P = 0; P < Params.size(); ++P) {
      const ParamInfo &I = Params[P];
      if (!I.Trainable)
        continue; // the optimizer keeps no state for it
      float *Slot = Arena + T.tensor(T.paramTensor(P)).Offset -
                    T.paramsOffset() + T.slotOffset(K);
      Out.push_back({I.Name + "/" + T.slotName(K), &I, Slot});
    }
  return Out;
}

std::string exact(double V) { return formatv("{0}", format("%.17g", V)).str(); }


json historyJson(ArrayRef<EpochMetrics> Hs) {
  json History = json::array();
  for (const EpochMetrics &M : Hs) {
    json Layers = json::array();
    for (const LayerEpochStats &L : M.Layers)
      Layers.push_back({L.Layer, L.Units, orNull(L.WeightGrad),
                        orNull(L.InputGrad), orNull(L.Saturated),
                        orNull(L.Dead)});
    History.push_back({M.Epoch, orNull(M.Loss), orNull(M.Accuracy),
                       orNull(M.ValLoss), orNull(M.ValAccuracy),
                       M.SkippedBatches, Layers});
  }
  return History;
}

double num(const nlohmann::json &V) { return V.is_null() ? NAN : V.get<double>(); }

/// The inverse of historyJson; throws nlohmann's exceptions.
std::vector<EpochMetrics> parseHistory(const nlohmann::json &J) {
  std::vector<EpochMetrics> Out;
  for (const nlohmann::json &H : J) {
    EpochMetrics M;
    M.Epoch = H.at(0).get<int>();
    M.Loss = num(H.at(1)), M.Accuracy = num(H.at(2));
    M.ValLoss = num(H.at(3)), M.ValAccuracy = num(H.at(4));
    M.Seconds = M.SamplesPerSecond = NAN; // not kept
    M.SkippedBatches = H.at(5).get<int64_t>();
    for (const nlohmann::json &L : H.at(6))
      M.Layers.push_back({L.at(0).get<std::string>(), L.at(1).get<int64_t>(),
                          num(L.at(2)), num(L.at(3)), num(L.at(4)),
                          num(L.at(5))});
    Out.push_back(std::move(M));
  }
  return Out;
}

/// TrainState as the metadata's "progress" (safetensors metadata values
/// are strings: this is JSON in one). Doubles round-trip exactly.
std::string progressJson(const TrainState &S) {
  return json({{"epoch", S.Epoch},
               {"step", S.Step},
               {"loss", S.Loss},
               {"correct", S.Correct},
               {"seen", S.Seen},
               {"skipped", S.Skipped},
               {"diagnostics", S.Diagnostics},
               {"history", historyJson(S.History)}})
      .dump();
}

/// Text parsed as JSON, or null (the caller names the field).
nlohmann::json jsonOrNull(StringRef Text, StringRef Field) {
  auto Parsed = parseJson(Text, ErrorKind::Checkpoint, Field);
  if (!Parsed) {
    consumeError(Parsed.takeError());
    return nullptr;
  }
  return std::move(*Parsed);
}

/// The inverse of progressJson; false if Text is not what it writes.
bool parseProgress(StringRef Text, TrainState &S) {
  nlohmann::json J = jsonOrNull(Text, "progress");
  try {
    S.Epoch = J.at("epoch").get<int>();
    S.Step = J.at("step").get<int64_t>();
    S.Loss = J.at("loss").get<double>();
    S.Correct = J.at("correct").get<double>();
    S.Seen = J.at("seen").get<int64_t>();
    S.Skipped = J.at("skipped").get<int64_t>();
    S.Diagnostics = J.at("diagnostics").get<std::vector<double>>();
    S.History = parseHistory(J.at("history"));
  } catch (const nlohmann::json::exception &) {
    return false;
  }
  return S.Epoch >= 1 && S.Step >= 0 && S.Seen >= 0;
}

/// The runs finished before this checkpoint's as "finished_runs".
std::string finishedJson(ArrayRef<FinishedRun> Runs) {
  json Out = json::array();
  for (const FinishedRun &R : Runs)
    Out.push_back({{"label", R.Label},
                   {"history", historyJson(R.History)},
                   {"test_loss", orNull(R.TestLoss)},
                   {"test_accuracy", orNull(R.TestAccuracy)},
                   {"boundary", R.Boundary}});
  return Out.dump();
}

bool parseFinished(StringRef Text, std::vector<FinishedRun> &Runs) {
  nlohmann::json J = jsonOrNull(Text, "finished_runs");
  if (!J.is_array())
    return false;
  try {
    for (const nlohmann::json &R : J)
      Runs.push_back({R.at("label").get<std::string>(),
                      parseHistory(R.at("history")), num(R.at("test_loss")),
                      num(R.at("test_accuracy")),
                      R.at("boundary").get<std::vector<double>>()});
  } catch (const nlohmann::json::exception &) {
    return false;
  }
  return true;
}

} // namespace

static std::string fnv16(StringRef Text) {
  uint64_t H = 0xcbf29ce484222325ull; // FNV-1a
  for (unsigned char C : Text)
    H = (H ^ C) * 0x100000001b3ull;
  return formatv("{0:x-16}", H).str();
}

std::string specHash(const NetworkGraph &G, bool Training) {
  // A canonical serialization of what the weights mean: the layers, their
  // activations as written (formula and parameters, not the simplifier's
  // forms) and the parameters' shapes. Printouts and the simplifier may
  // change without invalidating a checkpoint.
  const Spec &S = G.spec();
  json Layers = json::array();
  // Every network is a chain so far (the spec reader refuses a value with
  // several consumers), so the layers in order say how they are wired; once
  // layers branch, their inputs belong here.
  for (const Layer *LP : G.layers()) {
    const Layer &L = *LP;
    json J = {{"kind", layerName(L.Kind)}, {"name", L.Name},
              {"in", L.In},                {"out", L.Out},
              {"shape", L.Shape}};
    // What the kind adds (dropout's rate); every layer has carried a rate,
    // 0 where it has none, since identities were first written this way.
    std::map<std::string, double> Fields = {{"rate", 0.0}};
    L.identity(Fields);
    for (auto &[K, V] : Fields)
      J[K] = exact(V);
    if (L.Act >= 0) {
      const ActivationSpec &A = G.activation(L.Act).Spec;
      json Params = json::object();
      for (auto &[N, P] : A.Params)
        Params[N] = {exact(P.Value), P.Trainable};
      J["activation"] = {{"formula", A.Formula}, {"row_wise", A.RowWise},
                         {"per_unit", A.PerUnit}, {"params", Params}};
    }
    Layers.push_back(J);
  }
  json Params = json::array();
  for (const ParamInfo &P : G.params()) {
    // The matrix view, as identities were first written (a bias as
    // [1, n]); the layers' shapes above give the rest.
    json J = {{"name", P.Name}, {"shape", {P.rows(), P.cols()}}};
    if (Training)
      J["regularizer"] = {exact(P.L1), exact(P.L2)};
    Params.push_back(J);
  }
  json Doc = {{"input", S.InputShape}, {"layers", Layers}, {"params", Params}};
  if (Training) {
    json Hyper = json::object();
    for (auto &[K, V] : S.Optimizer.Hyper)
      Hyper[K] = exact(V);
    Doc["loss"] = {lossName(S.Loss.Kind), S.Loss.FromLogits, exact(S.Loss.Delta)};
    Doc["optimizer"] = {optimizerName(S.Optimizer.Kind), Hyper};
  }
  return fnv16(Doc.dump());
}

std::string printoutHash(const NetworkGraph &G, bool Training) {
  std::string Text;
  raw_string_ostream OS(Text);
  G.print(OS);
  OS.flush();
  // Past the first line, which names the network and its file.
  Text = Text.substr(std::min(Text.size(), Text.find('\n') + 1));
  // Those printouts gave every parameter as a matrix (a bias as [1, n]).
  for (const ParamInfo &P : G.params()) {
    std::string Now = "    " + P.Name + " " + formatShape(P.Shape) + " ";
    size_t At = Text.find(Now);
    if (At != std::string::npos)
      Text.replace(At, Now.size(),
                   "    " + P.Name + " " + formatShape({P.rows(), P.cols()}) + " ");
  }
  const Spec &S = G.spec();
  if (Training) {
    Text += lossName(S.Loss.Kind).str() + optimizerName(S.Optimizer.Kind).str();
    for (auto &[K, V] : S.Optimizer.Hyper)
      Text += K + "=" + exact(V);
  }
  return fnv16(Text);
}

bool hashMatches(const CheckpointInfo &Info, const NetworkGraph &G,
                 bool Training) {
  const std::string &Have = Training ? Info.TrainingHash : Info.NetworkHash;
  return Have == specHash(G, Training) || Have == printoutHash(G, Training);
}

Error saveCheckpoint(CompiledModel &M, StringRef Path, int Epoch,
                     const TrainState *Progress,
                     ArrayRef<FinishedRun> Before) {
  if (Progress)
    Epoch = Progress->Epoch - 1;
  const TrainGraph &T = M.graph();
  std::vector<Entry> Es = entries(T, M.arena());
  std::string Data;
  json Header = json::object();
  for (const Entry &E : Es) {
    size_t Begin = Data.size();
    // Little-endian float32, as safetensors specifies (x86 and aarch64
    // Linux are little-endian).
    Data.append(reinterpret_cast<const char *>(E.Data), E.size() * 4);
    Header[E.Name] = {{"dtype", "F32"},
                      {"shape", E.Param->Shape},
                      {"data_offsets", {Begin, Data.size()}}};
  }
  const ArenaHeader &H = *reinterpret_cast<ArenaHeader *>(M.arena());
  uLong Crc = crc32(0, reinterpret_cast<const Bytef *>(Data.data()), Data.size());
  json Meta = {{"format", Format},
               {"network_hash", specHash(T.network(), false)},
               {"training_hash", specHash(T.network(), true)},
               {"epoch", std::to_string(Epoch)},
               {"step", std::to_string(H.Step)},
               {"seed", std::to_string(H.Seed)},
               {"beta_1_power", exact(H.Beta1Power)},
               {"beta_2_power", exact(H.Beta2Power)},
               {"crc32", formatv("{0:x-8}", uint32_t(Crc)).str()}};
  if (Progress)
    Meta["progress"] = progressJson(*Progress);
  if (!Before.empty())
    Meta["finished_runs"] = finishedJson(Before);
  json Doc = {{"__metadata__", Meta}};
  Doc.update(Header);
  std::string Text = Doc.dump();
  // Pad the header with spaces so the data starts 8-byte aligned.
  Text.append((8 - (8 + Text.size()) % 8) % 8, ' ');
  std::string Out(8, '\0');
  uint64_t N = Text.size();
  for (int I = 0; I < 8; ++I)
    Out[I] = char(N >> (8 * I));
  Out += Text;
  Out += Data;
  return writeFileAtomically(Path, Out);
}

namespace {

/// A checkpoint's header, checked: its metadata and the CRC of its data.
struct Header {
  CheckpointInfo Info;
  nlohmann::json Doc;
  StringRef Data;
  double Beta1Power, Beta2Power;
};

Expected<Header> parseHeader(StringRef F, StringRef Path) {
  auto Fail = [&](const Twine &Where, const Twine &Message) {
    return locatedError(ErrorKind::Checkpoint, Path, Where.str(), Message);
  };
  if (F.size() < 8)
    return Fail("byte 0", "not a safetensors file: " + Twine(F.size()) +
                              " bytes, shorter than the header length");
  uint64_t N = 0;
  for (int I = 7; I >= 0; --I)
    N = N << 8 | uint8_t(F[I]);
  if (N > F.size() - 8)
    return Fail("byte 0", formatv("the header length {0} is past the end of "
                                  "the file ({1} bytes)",
                                  N, F.size())
                              .str());
  auto Parsed = parseJson(F.substr(8, N), ErrorKind::Checkpoint, Path, 8);
  if (!Parsed)
    return Parsed.takeError();
  Header Hd;
  Hd.Doc = std::move(*Parsed);
  const nlohmann::json &Doc = Hd.Doc;
  if (!Doc.is_object())
    return Fail("byte 8", "the header is not a JSON object");
  StringRef Data = F.substr(8 + N);
  static const nlohmann::json None;
  const nlohmann::json &Meta = Doc.contains("__metadata__") ? Doc["__metadata__"] : None;
  auto MetaString = [&](const char *Key) -> Expected<std::string> {
    if (!Meta.is_object() || !Meta.contains(Key) || !Meta[Key].is_string())
      return Fail(std::string("/__metadata__/") + Key,
                  "missing (not a netjit checkpoint?)");
    return Meta[Key].get<std::string>();
  };
  auto Fmt = MetaString("format");
  if (!Fmt)
    return Fmt.takeError();
  if (*Fmt != Format)
    return Fail("/__metadata__/format",
                "'" + *Fmt + "', this netjit reads " + Format);
  CheckpointInfo &Info = Hd.Info;
  std::string Fields[8];
  const char *Keys[] = {"network_hash", "epoch", "step", "seed",
                        "beta_1_power", "beta_2_power", "crc32",
                        "training_hash"};
  for (int I = 0; I < 8; ++I) {
    auto V = MetaString(Keys[I]);
    if (!V)
      return V.takeError();
    Fields[I] = *V;
  }
  Info.NetworkHash = Fields[0];
  Info.TrainingHash = Fields[7];
  unsigned long long Epoch, Step, Seed, Crc;
  double B1, B2;
  if (StringRef(Fields[1]).getAsInteger(10, Epoch) ||
      StringRef(Fields[2]).getAsInteger(10, Step) ||
      StringRef(Fields[3]).getAsInteger(10, Seed) ||
      StringRef(Fields[4]).getAsDouble(B1) || StringRef(Fields[5]).getAsDouble(B2) ||
      StringRef(Fields[6]).getAsInteger(16, Crc))
    return Fail("/__metadata__", "a counter is not a number");
  Info.Epoch = Epoch;
  Info.Step = Step;
  Info.Seed = Seed;
  if (Meta.contains("progress")) {
    TrainState P;
    if (!Meta["progress"].is_string() ||
        !parseProgress(Meta["progress"].get<std::string>(), P) ||
        P.Epoch != int(Epoch) + 1)
      return Fail("/__metadata__/progress",
                  "not the progress a netjit run writes");
    Info.Progress = std::move(P);
  }
  if (Meta.contains("finished_runs") &&
      (!Meta["finished_runs"].is_string() ||
       !parseFinished(Meta["finished_runs"].get<std::string>(), Info.Before)))
    return Fail("/__metadata__/finished_runs",
                "not the finished runs a netjit compare writes");
  uLong Have = crc32(0, reinterpret_cast<const Bytef *>(Data.data()), Data.size());
  if (Have != Crc)
    return Fail("byte " + Twine(8 + N),
                formatv("the data's CRC-32 is {0:x-8}, the header says {1:x-8} "
                        "(the file is damaged or truncated)",
                        uint32_t(Have), uint32_t(Crc))
                    .str());
  Hd.Data = Data;
  Hd.Beta1Power = B1;
  Hd.Beta2Power = B2;
  return Hd;
}

Expected<std::unique_ptr<MemoryBuffer>> readBytes(StringRef Path) {
  auto Buf = MemoryBuffer::getFile(Path, /*IsText=*/false,
                                   /*RequiresNullTerminator=*/false);
  if (!Buf)
    return locatedError(ErrorKind::IO, Path, "",
                        "cannot read: " + Buf.getError().message());
  return std::move(*Buf);
}

} // namespace

Expected<CheckpointInfo> readCheckpointInfo(StringRef Path) {
  auto Buf = readBytes(Path);
  if (!Buf)
    return Buf.takeError();
  auto H = parseHeader((*Buf)->getBuffer(), Path);
  if (!H)
    return H.takeError();
  return std::move(H->Info);
}

Expected<CheckpointInfo> loadCheckpoint(CompiledModel &M, StringRef Path) {
  return loadCheckpoint(M.graph(), M.arena(), Path);
}

Expected<CheckpointInfo> loadCheckpoint(const TrainGraph &T, float *Arena,
                                        StringRef Path) {
  auto Buf = readBytes(Path);
  if (!Buf)
    return Buf.takeError();
  return parseCheckpoint(T, Arena, (*Buf)->getBuffer(), Path);
}

Expected<CheckpointInfo> parseCheckpoint(const TrainGraph &T, float *Arena,
                                         StringRef F, StringRef Path) {
  auto Fail = [&](const Twine &Where, const Twine &Message) {
    return locatedError(ErrorKind::Checkpoint, Path, Where.str(), Message);
  };
  auto Hd = parseHeader(F, Path);
  if (!Hd)
    return Hd.takeError();
  const nlohmann::json &Doc = Hd->Doc;
  StringRef Data = Hd->Data;
  // Every tensor first, then copy: a bad one leaves the model untouched.
  std::vector<Entry> Es = entries(T, Arena);
  std::vector<std::pair<const Entry *, StringRef>> Copies;
  for (const Entry &E : Es) {
    std::string P = "/" + E.Name;
    if (!Doc.contains(E.Name))
      return Fail(P, "missing: the spec has this tensor, the checkpoint "
                     "does not (written for another network or optimizer?)");
    const nlohmann::json &T = Doc[E.Name];
    if (!T.is_object() || !T.contains("dtype") || T["dtype"] != "F32")
      return Fail(P + "/dtype", "expected \"F32\"");
    // Files from before parameters had their rank hold the matrix view
    // (a bias as [1, n]); the same floats in the same order.
    nlohmann::json Want = E.Param->Shape;
    const nlohmann::json Shape = T.value("shape", nlohmann::json());
    if (Shape != Want &&
        Shape != nlohmann::json({E.Param->rows(), E.Param->cols()}))
      return Fail(P + "/shape", "the checkpoint's " + Shape.dump() +
                                    ", the spec's " + Want.dump());
    const nlohmann::json O = T.value("data_offsets", nlohmann::json());
    if (!O.is_array() || O.size() != 2 || !O[0].is_number_unsigned() ||
        !O[1].is_number_unsigned())
      return Fail(P + "/data_offsets", "expected [begin, end]");
    uint64_t B = O[0], End = O[1];
    if (End < B || End > Data.size() || End - B != uint64_t(E.size() * 4))
      return Fail(P + "/data_offsets",
                  formatv("[{0}, {1}] does not hold {2} floats in the {3} "
                          "bytes of data",
                          B, End, E.size(), Data.size())
                      .str());
    Copies.push_back({&E, Data.substr(B, End - B)});
  }
  for (auto &[E, Bytes] : Copies)
    std::memcpy(E->Data, Bytes.data(), Bytes.size());
  ArenaHeader &H = *reinterpret_cast<ArenaHeader *>(Arena);
  H.Step = Hd->Info.Step;
  H.Seed = Hd->Info.Seed;
  H.Beta1Power = Hd->Beta1Power;
  H.Beta2Power = Hd->Beta2Power;
  return std::move(Hd->Info);
}

} // namespace netjit
