// FuzzCsv.cpp - libFuzzer: CSV files with a label column by index, by
// name, or none, read or refused.
#include "netjit/Data/Dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Text(reinterpret_cast<const char *>(Data), Size);
  for (const char *Column : {"0", "label", ""}) {
    auto D = netjit::parseCsv(Text, "fuzz.csv", Column);
    if (!D)
      llvm::consumeError(D.takeError());
    else if (D->LabelWhere && D->Rows)
      (void)D->LabelWhere(D->Rows - 1);
  }
  return 0;
}
