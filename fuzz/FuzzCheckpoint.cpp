// FuzzCheckpoint.cpp - libFuzzer: checkpoints of a fixed network read into
// its arena or refused; a refused one leaves the arena untouched.
#include "netjit/Runtime/Checkpoint.h"

#include <cstdlib>
#include <cstring>

using namespace netjit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  static std::unique_ptr<NetworkGraph> G;
  static std::unique_ptr<TrainGraph> T;
  if (!G) {
    auto S = parseSpec(R"({"input": {"shape": [2]},
      "layers": [{"type": "dense", "units": 3, "activation": "relu"},
                 {"type": "dense", "units": 2, "activation": "softmax"}]})",
                       "net.json");
    G = std::move(*NetworkGraph::build(std::move(*S)));
    T = std::move(*TrainGraph::build(*G, 4));
  }
  std::vector<float> Arena(T->arenaFloats(), 0.5f), Before = Arena;
  auto Info = parseCheckpoint(
      *T, Arena.data(),
      llvm::StringRef(reinterpret_cast<const char *>(Data), Size), "fuzz.st");
  if (!Info) {
    llvm::consumeError(Info.takeError());
    if (std::memcmp(Arena.data(), Before.data(), Arena.size() * 4) != 0)
      std::abort(); // a refused checkpoint changed the model
  }
  return 0;
}
