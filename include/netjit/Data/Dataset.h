// Dataset.h - what the trainer reads: features as float rows and a label
// per row, from Fashion-MNIST (Debian's dataset-fashion-mnist), IDX files,
// CSV or a synthetic set (2-D points, colour images); every reader
// validates and locates its errors (docs/spec.md, "Data").
#ifndef NETJIT_DATA_DATASET_H
#define NETJIT_DATA_DATASET_H

#include "netjit/Spec/Spec.h"

#include "llvm/Support/Error.h"
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace netjit {

/// Rows of features and their labels. A label is a class index (an integer
/// from 0) or, for regression, any finite number; LabelRows turns them into
/// what the loss takes.
struct DataSplit {
  int64_t Rows = 0;
  int64_t Features = 0;
  std::vector<float> X;      // Rows x Features
  std::vector<float> Labels; // Rows
  /// Where the label of the file's row R is (file, "byte N" or "row R,
  /// column C"), for errors; empty for generated data.
  std::function<std::pair<std::string, std::string>(int64_t)> LabelWhere;
  /// This split's first row in its file (a validation split's is not 0).
  int64_t FirstRow = 0;
};

struct Dataset {
  std::string Name;           // "fashion_mnist", "spiral", a file name
  std::vector<int64_t> Shape; // of one sample, e.g. [28, 28]
  /// Class count when the labels are classes (max label + 1, or the data
  /// set's own count), 0 for real-valued labels.
  int64_t Classes = 0;
  std::vector<std::string> ClassNames; // when known
  DataSplit Train, Validation, Test;
};

/// Reads the spec's "data" (relative paths against the spec's directory),
/// checks it against the network's input size, and splits the last
/// training.validation_split of the training rows off as validation (as
/// Keras' fit does). Errors name the file and the JSON pointer, the byte
/// offset (IDX) or the row:column (CSV).
llvm::Expected<Dataset> loadDataset(const Spec &S);

/// A "data" object on its own (the command line's --data NAME is
/// {"dataset": NAME}); Dir resolves relative paths; SpecFile names the
/// object's file in errors.
llvm::Expected<Dataset> loadDataset(llvm::StringRef DataJson,
                                    llvm::StringRef SpecFile,
                                    llvm::StringRef Dir,
                                    double ValidationSplit = 0);

/// The readers.
/// An IDX file (gzipped or raw): magic, dimensions, then unsigned bytes.
struct IdxArray {
  std::vector<int64_t> Dims;
  std::vector<uint8_t> Data;
};
llvm::Expected<IdxArray> readIdx(llvm::StringRef Path);
/// The same from the file's bytes; Name stands for the file in errors.
llvm::Expected<IdxArray> parseIdx(llvm::StringRef Bytes, llvm::StringRef Name);
/// An IDX array as rows (its first dimension) of pixels scaled to [0, 1];
/// no labels.
DataSplit imageRows(const IdxArray &A);

/// A CSV file of numeric columns; the header is detected (a first row with
/// a non-numeric field). LabelColumn is a header name or a 0-based index,
/// or "" when every column is a feature (the labels are then 0).
llvm::Expected<DataSplit> readCsv(llvm::StringRef Path,
                                  llvm::StringRef LabelColumn);
llvm::Expected<DataSplit> parseCsv(llvm::StringRef Text, llvm::StringRef Name,
                                   llvm::StringRef LabelColumn);

/// The TensorFlow Playground's 2-D sets: circle, xor, gauss, spiral; Rows
/// points with labels 0/1, noise in [0, 1] as in the Playground. And
/// shapes: Rows 32x32 RGB images (NHWC, 3072 floats in [0, 1] a row) of a
/// square, disc, triangle or cross (labels 0 to 3, a quarter each) on a
/// coloured background, noise in [0, 1] scaling per-pixel noise
/// (lib/Data/Synthetic.cpp describes the sets).
llvm::Expected<DataSplit> syntheticSet(llvm::StringRef Name, int64_t Rows,
                                       double Noise, uint64_t Seed);
/// The synthetic set names, for messages.
std::vector<std::string> syntheticSetNames();
/// What a synthetic set's rows are: the shape of a sample, the class count
/// and names, the most rows it generates.
struct SyntheticSetInfo {
  std::vector<int64_t> Shape;
  int64_t Classes = 2;
  std::vector<std::string> ClassNames; // when named
  int64_t MaxRows = 1 << 24;
};
/// For a name of syntheticSetNames().
SyntheticSetInfo syntheticSetInfo(llvm::StringRef Name);

/// The JSON Schema of a spec's "data" object, as JSON text.
std::string dataSchema();

/// Where dataset-fashion-mnist installs its files ($NETJIT_FASHION_MNIST
/// overrides it).
std::string fashionMnistDir();

} // namespace netjit

#endif
