// Json.cpp - JSON pointer tokens and unknown-field errors.
#include "netjit/Support/Json.h"

#include "llvm/ADT/STLExtras.h"

using namespace llvm;

namespace netjit {

std::string escapeJsonToken(StringRef Key) {
  std::string Out;
  for (char C : Key)
    Out += C == '~' ? "~0" : C == '/' ? "~1" : std::string(1, C);
  return Out;
}

Error checkJsonKeys(ErrorKind Kind, StringRef File, const nlohmann::json &V,
                    StringRef Pointer, ArrayRef<std::string> Allowed) {
  for (auto &[K, _] : V.items())
    if (!is_contained(Allowed, K))
      return locatedError(Kind, File, (Pointer + "/" + escapeJsonToken(K)).str(),
                          "unknown field '" + K + "'" + didYouMean(K, Allowed));
  return Error::success();
}

} // namespace netjit
