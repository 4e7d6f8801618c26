// Load.cpp - the spec's "data" object: a named data set, IDX files, CSV
// files or a synthetic set, read, checked and split (docs/spec.md, "Data").
#include "netjit/Data/Dataset.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Json.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

using namespace llvm;
using json = nlohmann::json;

namespace netjit {

std::string fashionMnistDir() {
  if (const char *D = std::getenv("NETJIT_FASHION_MNIST"))
    return D;
  return "/usr/share/datasets/fashion-mnist";
}

namespace {

const char *FashionClasses[] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                "Bag",         "Ankle boot"};

class DataReader {
public:
  DataReader(StringRef File, StringRef Dir) : File(File), Dir(Dir) {}
  Expected<Dataset> read(const json &V);

private:
  std::string File, Dir;

  Error fail(const Twine &Pointer, const Twine &Message) {
    return locatedError(ErrorKind::Spec, File, Pointer.str(), Message);
  }
  Error checkKeys(const json &V, StringRef P, ArrayRef<std::string> Allowed);
  std::string path(const std::string &P) {
    if (sys::path::is_absolute(P) || Dir.empty())
      return P;
    SmallString<256> Out(Dir);
    sys::path::append(Out, P);
    return std::string(Out);
  }
  Expected<std::string> string(const json &V, const std::string &P);
  Expected<DataSplit> idx(const json &V, const std::string &P);
  Expected<DataSplit> csv(const json &V, const std::string &P);
  Expected<DataSplit> split(const json &V, const std::string &P);
  Expected<Dataset> fashion();
  Expected<Dataset> synthetic(const json &V, const std::string &Name);
};

Error DataReader::checkKeys(const json &V, StringRef P,
                            ArrayRef<std::string> Allowed) {
  return checkJsonKeys(ErrorKind::Spec, File, V, P, Allowed);
}

Expected<std::string> DataReader::string(const json &V, const std::string &P) {
  if (!V.is_string() || V.get<std::string>().empty())
    return fail(P, "expected a file name");
  return V.get<std::string>();
}

/// {"images": PATH, "labels": PATH}: images [N, ...] of bytes scaled to
/// [0, 1], labels [N].
Expected<DataSplit> DataReader::idx(const json &V, const std::string &P) {
  auto ImagesName = string(V["images"], P + "/images");
  if (!ImagesName)
    return ImagesName.takeError();
  if (!V.contains("labels"))
    return fail(P, "missing field 'labels' (the IDX file of the labels)");
  auto LabelsName = string(V["labels"], P + "/labels");
  if (!LabelsName)
    return LabelsName.takeError();
  std::string ImagesPath = path(*ImagesName), LabelsPath = path(*LabelsName);
  auto Images = readIdx(ImagesPath);
  if (!Images)
    return Images.takeError();
  auto Labels = readIdx(LabelsPath);
  if (!Labels)
    return Labels.takeError();
  if (Labels->Dims.size() != 1)
    return locatedError(ErrorKind::Data, LabelsPath, "byte 3",
                        "a label file has one dimension, this has " +
                            Twine(Labels->Dims.size()));
  if (Labels->Dims[0] != Images->Dims[0])
    return locatedError(ErrorKind::Data, LabelsPath, "byte 4",
                        formatv("{0} labels for the {1} images of {2}",
                                Labels->Dims[0], Images->Dims[0], ImagesPath)
                            .str());
  DataSplit D = imageRows(*Images);
  D.Labels.assign(Labels->Data.begin(), Labels->Data.end());
  D.LabelWhere = [LabelsPath](int64_t Row) {
    return std::pair(LabelsPath, "byte " + std::to_string(8 + Row));
  };
  return D;
}

/// {"csv": PATH, "label_column": NAME | INDEX}.
Expected<DataSplit> DataReader::csv(const json &V, const std::string &P) {
  auto Name = string(V["csv"], P + "/csv");
  if (!Name)
    return Name.takeError();
  std::string Column = "-1";
  if (!V.contains("label_column"))
    return fail(P, "missing field 'label_column' (a header name or a 0-based "
                   "index)");
  const json &C = V["label_column"];
  if (C.is_string())
    Column = C.get<std::string>();
  else if (C.is_number_unsigned())
    Column = std::to_string(C.get<uint64_t>());
  else
    return fail(P + "/label_column",
                "expected a column name or a 0-based index");
  return readCsv(path(*Name), Column);
}

Expected<DataSplit> DataReader::split(const json &V, const std::string &P) {
  if (!V.is_object())
    return fail(P, "expected {\"images\": ..., \"labels\": ...} or "
                   "{\"csv\": ..., \"label_column\": ...}");
  if (V.contains("images")) {
    if (Error E = checkKeys(V, P, {"images", "labels"}))
      return E;
    return idx(V, P);
  }
  if (V.contains("csv")) {
    if (Error E = checkKeys(V, P, {"csv", "label_column"}))
      return E;
    return csv(V, P);
  }
  return fail(P, "expected \"images\" and \"labels\" (IDX files) or \"csv\" "
                 "and \"label_column\"");
}

Expected<Dataset> DataReader::fashion() {
  std::string D = fashionMnistDir();
  SmallString<256> Probe(D);
  sys::path::append(Probe, "train-images-idx3-ubyte.gz");
  if (!sys::fs::exists(Probe))
    return locatedError(
        ErrorKind::IO, File, "/data/dataset",
        "Fashion-MNIST is not installed in " + D +
            " (install Debian's dataset-fashion-mnist, or set "
            "NETJIT_FASHION_MNIST to a directory with its four .gz files)");
  DataReader Abs("", D);
  Dataset S;
  S.Name = "fashion_mnist";
  json Train = {{"images", "train-images-idx3-ubyte.gz"},
                {"labels", "train-labels-idx1-ubyte.gz"}};
  json Test = {{"images", "t10k-images-idx3-ubyte.gz"},
               {"labels", "t10k-labels-idx1-ubyte.gz"}};
  auto Tr = Abs.idx(Train, "/data");
  if (!Tr)
    return Tr.takeError();
  auto Te = Abs.idx(Test, "/data");
  if (!Te)
    return Te.takeError();
  S.Train = std::move(*Tr);
  S.Test = std::move(*Te);
  S.Shape = {28, 28, 1};
  S.Classes = 10;
  S.ClassNames.assign(std::begin(FashionClasses), std::end(FashionClasses));
  return S;
}

/// {"dataset": circle|xor|gauss|spiral|shapes, "samples", "noise", "seed"}:
/// as many test samples again, from another seed.
Expected<Dataset> DataReader::synthetic(const json &V, const std::string &Name) {
  if (Error E = checkKeys(V, "/data", {"dataset", "samples", "noise", "seed"}))
    return E;
  SyntheticSetInfo Info = syntheticSetInfo(Name);
  int64_t Samples = 500;
  double Noise = 0;
  uint64_t Seed = 0;
  if (V.contains("samples")) {
    const json &N = V["samples"];
    if (!N.is_number_unsigned() || N.get<uint64_t>() < 2 ||
        N.get<uint64_t>() > uint64_t(Info.MaxRows))
      return fail("/data/samples",
                  "expected an integer in [2, " +
                      (Info.MaxRows == (1 << 24)
                           ? std::string("2^24")
                           : std::to_string(Info.MaxRows)) +
                      "]");
    Samples = N.get<int64_t>();
  }
  if (V.contains("noise")) {
    const json &N = V["noise"];
    if (!N.is_number() || !(N.get<double>() >= 0 && N.get<double>() <= 1))
      return fail("/data/noise", "expected a number in [0, 1]");
    Noise = N.get<double>();
  }
  if (V.contains("seed")) {
    if (!V["seed"].is_number_unsigned())
      return fail("/data/seed", "expected a non-negative integer");
    Seed = V["seed"].get<uint64_t>();
  }
  Dataset S;
  S.Name = Name;
  auto Tr = syntheticSet(Name, Samples, Noise, 2 * Seed);
  if (!Tr)
    return Tr.takeError();
  auto Te = syntheticSet(Name, Samples, Noise, 2 * Seed + 1);
  if (!Te)
    return Te.takeError();
  S.Train = std::move(*Tr);
  S.Test = std::move(*Te);
  S.Shape = std::move(Info.Shape);
  S.Classes = Info.Classes;
  S.ClassNames = std::move(Info.ClassNames);
  return S;
}

Expected<Dataset> DataReader::read(const json &V) {
  if (!V.is_object())
    return fail("/data", "expected an object");
  if (V.contains("dataset")) {
    const json &N = V["dataset"];
    std::vector<std::string> Names = syntheticSetNames();
    Names.insert(Names.begin(), "fashion_mnist");
    if (!N.is_string() || !is_contained(Names, N.get<std::string>()))
      return fail("/data/dataset",
                  "unknown data set " + N.dump() +
                      (N.is_string() ? didYouMean(N.get<std::string>(), Names)
                                     : "") +
                      " (one of " + join(Names, ", ") + ")");
    std::string Name = N.get<std::string>();
    if (Name == "fashion_mnist") {
      if (Error E = checkKeys(V, "/data", {"dataset"}))
        return E;
      return fashion();
    }
    return synthetic(V, Name);
  }
  if (Error E = checkKeys(V, "/data", {"train", "test"}))
    return E;
  if (!V.contains("train")) {
    std::vector<std::string> Names = syntheticSetNames();
    Names.insert(Names.begin(), "fashion_mnist");
    return fail("/data", "expected \"dataset\" (" + join(Names, ", ") +
                             ") or \"train\" files");
  }
  Dataset S;
  auto Tr = split(V["train"], "/data/train");
  if (!Tr)
    return Tr.takeError();
  S.Train = std::move(*Tr);
  S.Name = sys::path::filename(File).str();
  if (V.contains("test")) {
    auto Te = split(V["test"], "/data/test");
    if (!Te)
      return Te.takeError();
    if (Te->Features != S.Train.Features)
      return fail("/data/test", formatv("{0} features per sample, the "
                                        "training data has {1}",
                                        Te->Features, S.Train.Features)
                                    .str());
    S.Test = std::move(*Te);
  }
  S.Shape = {S.Train.Features};
  // Classes when every label is a whole number from 0.
  double Max = -1;
  bool Whole = true;
  for (const DataSplit *D : {&S.Train, &S.Test})
    for (float L : D->Labels) {
      Whole &= L >= 0 && L == std::floor(L) && L < (1 << 24);
      Max = std::max<double>(Max, L);
    }
  S.Classes = Whole ? int64_t(Max) + 1 : 0;
  return S;
}

} // namespace

Expected<Dataset> loadDataset(StringRef DataJson, StringRef SpecFile,
                              StringRef Dir, double ValidationSplit) {
  auto V = parseJson(DataJson, ErrorKind::Spec, SpecFile);
  if (!V)
    return V.takeError();
  auto D = DataReader(SpecFile, Dir).read(*V);
  if (!D)
    return D.takeError();
  if (ValidationSplit > 0) {
    // The last rows, before any shuffling, as Keras' validation_split.
    DataSplit &T = D->Train;
    int64_t N = int64_t(T.Rows * ValidationSplit);
    if (N < 1 || N >= T.Rows)
      return locatedError(ErrorKind::Spec, SpecFile,
                          "/training/validation_split",
                          formatv("{0} of {1} rows leaves {2} for validation",
                                  ValidationSplit, T.Rows, N)
                              .str());
    DataSplit &Val = D->Validation;
    int64_t Keep = T.Rows - N;
    Val.Rows = N;
    Val.Features = T.Features;
    Val.X.assign(T.X.begin() + Keep * T.Features, T.X.end());
    Val.Labels.assign(T.Labels.begin() + Keep, T.Labels.end());
    Val.LabelWhere = T.LabelWhere;
    Val.FirstRow = Keep;
    T.X.resize(Keep * T.Features);
    T.Labels.resize(Keep);
    T.Rows = Keep;
  }
  return D;
}

Expected<Dataset> loadDataset(const Spec &S) {
  if (S.DataJson.empty())
    return locatedError(ErrorKind::Spec, S.File, "/data",
                        "the spec names no data (add \"data\": {\"dataset\": "
                        "\"fashion_mnist\"}, or give --data)");
  return loadDataset(S.DataJson, S.File, sys::path::parent_path(S.File),
                     S.Training.ValidationSplit);
}

} // namespace netjit
