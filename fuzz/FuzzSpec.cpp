// FuzzSpec.cpp - libFuzzer: a spec (or a Keras model file) read, validated
// and built into its network and training program: every input is a spec
// or an error, never a crash or a hang.
#include "netjit/Graph/TrainGraph.h"
#include "netjit/Spec/Spec.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Text(reinterpret_cast<const char *>(Data), Size);
  auto S = netjit::parseSpec(Text, "fuzz.json");
  if (!S) {
    llvm::consumeError(S.takeError());
    return 0;
  }
  auto G = netjit::NetworkGraph::build(std::move(*S));
  if (!G) {
    llvm::consumeError(G.takeError());
    return 0;
  }
  // A small batch bounds the memory of absurd but valid sizes.
  auto T = netjit::TrainGraph::build(**G, 2);
  if (!T)
    llvm::consumeError(T.takeError());
  return 0;
}
