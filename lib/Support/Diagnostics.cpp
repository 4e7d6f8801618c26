// Diagnostics.cpp - formatting of located errors and typo suggestions.
#include "netjit/Support/Diagnostics.h"

#include "llvm/Support/raw_ostream.h"
#include <algorithm>

using namespace llvm;

namespace netjit {

char LocatedError::ID = 0;

LocatedError::LocatedError(ErrorKind Kind, std::string File, std::string Where,
                           std::string Message, std::string Snippet)
    : Kind(Kind), File(std::move(File)), Where(std::move(Where)),
      Message(std::move(Message)), Snippet(std::move(Snippet)) {}

// line:column locations read clang-style ("f:1:5: error: ..."); every other
// location is a field of its own ("f: /layers/1/units: ...").
static bool isLineColumn(StringRef Where) {
  auto [Line, Col] = Where.split(':');
  unsigned N;
  return !Line.empty() && !Col.empty() && !Line.getAsInteger(10, N) &&
         !Col.getAsInteger(10, N);
}

void LocatedError::log(raw_ostream &OS) const {
  if (isLineColumn(Where)) {
    if (!File.empty())
      OS << File << ':';
    OS << Where << ": error: " << Message;
    return;
  }
  if (!File.empty())
    OS << File << ": ";
  if (!Where.empty())
    OS << Where << ": ";
  OS << Message;
}

std::error_code LocatedError::convertToErrorCode() const {
  return inconvertibleErrorCode();
}

Error sourceError(ErrorKind Kind, StringRef File, StringRef Source,
                  size_t Offset, const Twine &Message) {
  Offset = std::min(Offset, Source.size());
  size_t LineStart = Source.rfind('\n', Offset == 0 ? 0 : Offset - 1);
  LineStart = (LineStart == StringRef::npos || Offset == 0) ? 0 : LineStart + 1;
  if (Offset > 0 && Source[Offset - 1] == '\n')
    LineStart = Offset;
  size_t LineNo = 1 + Source.take_front(LineStart).count('\n');
  size_t LineEnd = Source.find('\n', LineStart);
  StringRef Line = Source.slice(LineStart, LineEnd);
  size_t Col = Offset - LineStart + 1;
  // A long line (a Keras file is one) shows 80 characters around the caret.
  size_t From = 0, Width = Line.size();
  if (Width > 100) {
    Width = 80;
    if (Col > Width / 2)
      From = std::min(Col - 1 - Width / 2, Line.size() - Width);
  }
  std::string Shown = (From ? "..." : "") + Line.substr(From, Width).str() +
                      (From + Width < Line.size() ? "..." : "");
  size_t Caret = Col - 1 - From + (From ? 3 : 0);
  std::string Snippet = Shown + "\n" + std::string(Caret, ' ') + "^";
  return make_error<LocatedError>(Kind, File.str(),
                                  (Twine(LineNo) + ":" + Twine(Col)).str(),
                                  Message.str(), std::move(Snippet));
}

Error locatedError(ErrorKind Kind, StringRef File, StringRef Where,
                   const Twine &Message) {
  return make_error<LocatedError>(Kind, File.str(), Where.str(), Message.str());
}

Error plainError(ErrorKind Kind, const Twine &Message) {
  return make_error<LocatedError>(Kind, "", "", Message.str());
}

Error prefixError(Error E, const Twine &Prefix) {
  std::string P = Prefix.str();
  return handleErrors(std::move(E), [&](const LocatedError &L) -> Error {
    return make_error<LocatedError>(L.kind(), L.file(), L.where(),
                                    P + L.text(), L.snippet());
  });
}

std::string closestMatch(StringRef Name, ArrayRef<std::string> Candidates) {
  // A typo is a few edits away (a swap of two letters counts two), and never
  // the whole name.
  unsigned Limit = std::max<unsigned>(2, (Name.size() + 1) / 3);
  std::string Best;
  unsigned BestDist = Limit + 1;
  for (const std::string &C : Candidates) {
    unsigned D = Name.edit_distance(C, /*AllowReplacements=*/true, Limit);
    if (D < BestDist && D < Name.size()) {
      BestDist = D;
      Best = C;
    }
  }
  return Best;
}

std::string didYouMean(StringRef Name, ArrayRef<std::string> Candidates) {
  std::string M = closestMatch(Name, Candidates);
  return M.empty() ? "" : " (did you mean '" + M + "'?)";
}

std::string formatShape(ArrayRef<int64_t> Shape) {
  std::string S = "[";
  for (size_t I = 0; I < Shape.size(); ++I)
    S += (I ? ", " : "") + std::to_string(Shape[I]);
  return S + "]";
}

} // namespace netjit
