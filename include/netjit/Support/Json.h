// Json.h - what every JSON reader in netjit (specs, Keras files, data
// objects) checks the same way. Internal: it exposes nlohmann::json.
#ifndef NETJIT_SUPPORT_JSON_H
#define NETJIT_SUPPORT_JSON_H

#include "netjit/Support/Diagnostics.h"

#include <nlohmann/json.hpp>

namespace netjit {

/// A JSON pointer's reference token: '~' and '/' escaped (RFC 6901).
std::string escapeJsonToken(llvm::StringRef Key);

/// V's first key not in Allowed as an error at Pointer/KEY naming the
/// closest allowed one, or success.
llvm::Error checkJsonKeys(ErrorKind Kind, llvm::StringRef File,
                          const nlohmann::json &V, llvm::StringRef Pointer,
                          llvm::ArrayRef<std::string> Allowed);

} // namespace netjit

#endif
