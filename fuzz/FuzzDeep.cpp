// FuzzDeep.cpp - libFuzzer: deep inputs, which byte-level fuzzing of a few
// kilobytes never reaches. The input is a recipe: its first byte picks a
// reader, its second how often (up to 4095 times) the opening part (up to
// the first '|') is repeated, and the rest closes it, repeated as often:
// "(|)" nests parentheses, "x - |" makes a chain, "[|]" nests JSON. Each
// result goes through its reader and what follows (a formula through the
// whole derivation and its printed forms): an error or a result, never a
// crash, a stack overflow or a hang.
#include "netjit/Activations/Catalog.h"
#include "netjit/Expr/Evaluate.h"
#include "netjit/Expr/Parser.h"
#include "netjit/Graph/TrainGraph.h"
#include "netjit/Spec/Spec.h"

#include <cstddef>
#include <cstdint>

using namespace netjit;

static void formula(const std::string &Text) {
  ExprContext Ctx;
  auto F = deriveActivation(Ctx, Text, {"alpha"});
  if (!F) {
    llvm::consumeError(F.takeError());
    return;
  }
  for (ExprRef E : {F->Forward, F->Derivative, F->DerivativeY})
    if (E) {
      (void)print(E);
      auto V = evaluate(E, 0.5, {{"alpha", 1.0}}, 0.25);
      if (!V)
        llvm::consumeError(V.takeError());
    }
}

static void spec(const std::string &Text) {
  auto S = parseSpec(Text, "deep.json");
  if (!S) {
    llvm::consumeError(S.takeError());
    return;
  }
  auto G = NetworkGraph::build(std::move(*S));
  if (!G) {
    llvm::consumeError(G.takeError());
    return;
  }
  auto T = TrainGraph::build(**G, 2);
  if (!T)
    llvm::consumeError(T.takeError());
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  if (Size < 3)
    return 0;
  unsigned Reader = Data[0] % 3, Times = (Data[1] * 16u) % 4096;
  llvm::StringRef Recipe(reinterpret_cast<const char *>(Data + 2), Size - 2);
  auto [Open, Close] = Recipe.split('|');
  std::string Text;
  for (unsigned I = 0; I < Times; ++I)
    Text += Open;
  Text += Reader == 0 ? "x" : "1";
  for (unsigned I = 0; I < Times; ++I)
    Text += Close;
  switch (Reader) {
  case 0:
    formula(Text);
    break;
  case 1: // the repeated part inside a layer of a spec
    spec("{\"input\": {\"shape\": [2]}, \"layers\": [{\"type\": \"dense\", "
         "\"units\": 2, \"activation\": {\"expr\": \"" +
         std::string(Open) + "x" + std::string(Close) + "\"}, \"x\": " + Text +
         "}]}");
    break;
  default: // a whole document
    spec(Text);
    break;
  }
  return 0;
}
