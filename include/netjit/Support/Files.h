// Files.h - writing files so that a crash or a concurrent reader never
// sees half of one.
#ifndef NETJIT_SUPPORT_FILES_H
#define NETJIT_SUPPORT_FILES_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace netjit {

/// Writes Bytes to a temporary file beside Path, flushes it to disk (fsync),
/// renames it over Path and flushes the directory (unless Sync is off: a
/// cache needs no durability): Path holds either its old contents or all
/// of the new ones, even after a crash or power loss. An error names Path.
llvm::Error writeFileAtomically(llvm::StringRef Path, llvm::StringRef Bytes,
                                bool Sync = true);

/// Unlinks the temporary files writeFileAtomically is writing now, and
/// nothing else. Async-signal-safe: what a handler calls before _exit, so
/// an exit at once leaves no litter (the targets keep their old contents).
void removeTemporaryFiles();

/// An error naming Path and Option (the flag that gave it) unless a later
/// writeFileAtomically(Path) can succeed: its directory exists and is
/// writable and Path is not a directory. Creates nothing, so a run checks
/// where its outputs go before its first step and loses nothing to a typo.
llvm::Error checkOutputPath(llvm::StringRef Path, llvm::StringRef Option);

} // namespace netjit

#endif
