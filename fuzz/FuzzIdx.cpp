// FuzzIdx.cpp - libFuzzer: IDX files, raw or gzipped, read or refused.
#include "netjit/Data/Dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  auto A = netjit::parseIdx(
      llvm::StringRef(reinterpret_cast<const char *>(Data), Size), "fuzz.idx");
  if (!A) {
    llvm::consumeError(A.takeError());
    return 0;
  }
  netjit::DataSplit D = netjit::imageRows(*A);
  (void)D;
  return 0;
}
