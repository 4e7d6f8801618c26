// Diagnostics.h - located errors: file plus JSON pointer, line:column or
// offset.
#ifndef NETJIT_SUPPORT_DIAGNOSTICS_H
#define NETJIT_SUPPORT_DIAGNOSTICS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <string>

namespace netjit {

/// What went wrong, coarsely; tools/netjit maps each kind to a stable exit
/// status (docs/errors.md).
enum class ErrorKind {
  Usage = 2,   // command-line misuse
  Formula = 3, // an expression that does not parse or differentiate
  Spec = 4,    // a network spec or Keras file
  Data = 5,    // a data set file
  Checkpoint = 6,
  Compile = 7,  // code generation or JIT
  Training = 8, // a numerical fault during training
  IO = 9,       // a file that cannot be read or written
};

/// An error that says where: `File: /json/pointer: message`,
/// `File:line:col: error: message` (with the source line and a caret in
/// snippet()), `File: byte N: message` or `File: row R, column C: message`.
class LocatedError : public llvm::ErrorInfo<LocatedError> {
public:
  static char ID;
  LocatedError(ErrorKind Kind, std::string File, std::string Where,
               std::string Message, std::string Snippet = "");

  /// One line: where and what.
  void log(llvm::raw_ostream &OS) const override;
  std::error_code convertToErrorCode() const override;

  ErrorKind kind() const { return Kind; }
  const std::string &file() const { return File; }
  const std::string &where() const { return Where; }
  const std::string &text() const { return Message; }
  /// The offending source line and a caret under the column, or "".
  const std::string &snippet() const { return Snippet; }

private:
  ErrorKind Kind;
  std::string File, Where, Message, Snippet;
};

/// An error at a byte offset of a text (a formula, a CSV file): reported as
/// line:column (1-based) with the source line and a caret.
llvm::Error sourceError(ErrorKind Kind, llvm::StringRef File,
                        llvm::StringRef Source, size_t Offset,
                        const llvm::Twine &Message);

/// An error with a free-form location (a JSON pointer, "byte 16", ...).
llvm::Error locatedError(ErrorKind Kind, llvm::StringRef File,
                         llvm::StringRef Where, const llvm::Twine &Message);

/// An error with no location beyond its kind (a bad option value).
llvm::Error plainError(ErrorKind Kind, const llvm::Twine &Message);

/// E with Prefix before its message (which run of several failed), its
/// kind and location kept.
llvm::Error prefixError(llvm::Error E, const llvm::Twine &Prefix);

/// The candidate closest to Name by edit distance, or "" when none is close
/// enough to be a plausible typo.
std::string closestMatch(llvm::StringRef Name,
                         llvm::ArrayRef<std::string> Candidates);

/// " (did you mean 'X'?)" for the closest candidate, or "".
std::string didYouMean(llvm::StringRef Name,
                       llvm::ArrayRef<std::string> Candidates);

/// "[28, 28]".
std::string formatShape(llvm::ArrayRef<int64_t> Shape);

} // namespace netjit

#endif
