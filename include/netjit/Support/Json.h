// Json.h - what every JSON reader in netjit (specs, Keras files, data
// objects, checkpoint headers) checks the same way. Internal: it exposes
// nlohmann::json.
#ifndef NETJIT_SUPPORT_JSON_H
#define NETJIT_SUPPORT_JSON_H

#include "netjit/Support/Diagnostics.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

namespace netjit {

/// A figure, or null where there is nothing to measure (NaN).
inline nlohmann::ordered_json orNull(double V) {
  return std::isnan(V) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(V);
}

/// How deep objects and arrays may nest in any JSON netjit reads. A Keras 3
/// functional model nests about 12 deep; copying, printing and comparing
/// nlohmann values recurses, so deeper documents are refused while they are
/// parsed, before anything walks them (docs/reliability.md).
constexpr unsigned MaxJsonDepth = 64;

/// Text parsed as one JSON document, or a located error of Kind in File:
/// syntax errors and numbers out of range at line:column (with ByteBase,
/// the document sits at that byte of a binary file: "byte N"); a duplicate
/// key (nlohmann would keep the last silently) and nesting past
/// MaxJsonDepth at their JSON pointer.
llvm::Expected<nlohmann::json>
parseJson(llvm::StringRef Text, ErrorKind Kind, llvm::StringRef File,
          std::optional<size_t> ByteBase = std::nullopt);

/// A JSON pointer's reference token: '~' and '/' escaped (RFC 6901).
std::string escapeJsonToken(llvm::StringRef Key);

/// V's first key not in Allowed as an error at Pointer/KEY naming the
/// closest allowed one, or success.
llvm::Error checkJsonKeys(ErrorKind Kind, llvm::StringRef File,
                          const nlohmann::json &V, llvm::StringRef Pointer,
                          llvm::ArrayRef<std::string> Allowed);

} // namespace netjit

#endif
