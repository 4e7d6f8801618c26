// Csv.cpp - numeric CSV: comma-separated fields, an optional header (a
// first row with a field that is not a number), double quotes around a
// field allowed. Every row must have the header's field count and finite
// numbers; errors name the row (the file's line) and column (1-based).
#include "netjit/Data/Dataset.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Memory.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cmath>
#include <memory>

using namespace llvm;

namespace netjit {

namespace {

/// The fields of one line; quotes stripped.
SmallVector<StringRef, 32> fields(StringRef Line) {
  SmallVector<StringRef, 32> F;
  Line.split(F, ',');
  for (StringRef &S : F) {
    S = S.trim();
    if (S.size() >= 2 && S.front() == '"' && S.back() == '"')
      S = S.drop_front().drop_back();
  }
  return F;
}

bool isNumber(StringRef S, double &V) {
  if (S.empty())
    return false;
  // getAsDouble accepts "nan" and "inf"; they are numbers here and are
  // refused below with their own message.
  return !S.getAsDouble(V, /*AllowInexact=*/true);
}

} // namespace

Expected<DataSplit> readCsv(StringRef Path, StringRef LabelColumn) {
  auto Buf = MemoryBuffer::getFile(Path, /*IsText=*/true);
  if (!Buf)
    return locatedError(ErrorKind::IO, Path, "",
                        "cannot read: " + Buf.getError().message());
  // At most a float per two bytes ("0,"), and a line index.
  uint64_t Size = (*Buf)->getBufferSize();
  if (std::string Short = memoryShortfall(Size * 3); !Short.empty())
    return locatedError(ErrorKind::Data, Path, "",
                        "a " + bytesText(Size) + " file may need " +
                            bytesText(Size * 3) + " to read, " + Short);
  return parseCsv((*Buf)->getBuffer(), Path, LabelColumn);
}

Expected<DataSplit> parseCsv(StringRef Text, StringRef Path,
                             StringRef LabelColumn) {
  auto At = [&](size_t Row, size_t Col, const Twine &Message) {
    return locatedError(ErrorKind::Data, Path,
                        ("row " + Twine(Row) + ", column " + Twine(Col)).str(),
                        Message);
  };
  SmallVector<StringRef, 0> Lines;
  Text.split(Lines, '\n');
  DataSplit D;
  auto LineOf = std::make_shared<std::vector<uint32_t>>();
  size_t Width = 0, Label = 0;
  bool Header = false, HaveLabel = false;
  std::vector<std::string> Names;
  for (size_t L = 0; L < Lines.size(); ++L) {
    StringRef Line = Lines[L].rtrim("\r");
    if (Line.trim().empty())
      continue;
    auto F = fields(Line);
    size_t Row = L + 1;
    if (!Width) {
      Width = F.size();
      double V;
      Header = any_of(F, [&](StringRef S) { return !isNumber(S, V); });
      if (Header)
        for (StringRef S : F)
          Names.push_back(S.str());
      // The label column: a header name, else a 0-based index; none at
      // all for features only (predict's input).
      unsigned Index;
      if (LabelColumn.empty()) {
        Label = Width;
      } else if (Header && is_contained(Names, LabelColumn.str())) {
        Label = find(Names, LabelColumn.str()) - Names.begin();
      } else if (!LabelColumn.getAsInteger(10, Index)) {
        if (Index >= Width)
          return At(Row, Width,
                    "label column " + Twine(Index) + " is past the " +
                        Twine(Width) + " columns (indices are 0-based)");
        Label = Index;
      } else {
        return locatedError(
            ErrorKind::Data, Path, "row 1",
            "no column named '" + LabelColumn + "'" +
                (Header ? didYouMean(LabelColumn, Names) +
                              " (columns: " + join(Names, ", ") + ")"
                        : std::string(" (the file has no header; give a "
                                      "0-based index)")));
      }
      if (Width < 2 && !LabelColumn.empty())
        return At(Row, 1, "a CSV needs a label column and at least one feature");
      D.Features = LabelColumn.empty() ? Width : Width - 1;
      HaveLabel = true;
      if (Header)
        continue;
    }
    if (F.size() != Width)
      // The first missing or extra field.
      return At(Row, std::min(F.size(), Width) + 1,
                formatv("{0} fields, expected {1} as in the {2}", F.size(),
                        Width, Header ? "header" : "first row")
                    .str());
    for (size_t C = 0; C < F.size(); ++C) {
      double V;
      if (!isNumber(F[C], V))
        return At(Row, C + 1,
                  F[C].empty() ? Twine("empty field, expected a number")
                               : "expected a number, got '" + F[C] + "'");
      if (!std::isfinite(V))
        return At(Row, C + 1, "'" + F[C] + "' is not a finite number");
      if (std::fabs(V) > 3.4028234663852886e38)
        return At(Row, C + 1, "'" + F[C] + "' is past float's range");
      if (C == Label)
        D.Labels.push_back(V);
      else
        D.X.push_back(V);
    }
    ++D.Rows;
    LineOf->push_back(Row);
  }
  if (!HaveLabel || !D.Rows)
    return locatedError(ErrorKind::Data, Path, "", "no data rows");
  if (LabelColumn.empty())
    D.Labels.assign(D.Rows, 0.0f);
  D.LabelWhere = [File = Path.str(), LineOf, Label](int64_t R) {
    return std::pair(File, "row " + std::to_string((*LineOf)[R]) +
                               ", column " + std::to_string(Label + 1));
  };
  return D;
}

} // namespace netjit
