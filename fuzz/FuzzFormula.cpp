// FuzzFormula.cpp - libFuzzer: a formula parsed, differentiated with
// respect to x, simplified, printed; each printed form must parse back to
// the same expression (hash-consed: the same node).
#include "netjit/Expr/Differentiate.h"
#include "netjit/Expr/Parser.h"
#include "netjit/Expr/Simplify.h"

#include <cstdio>
#include <cstdlib>

using namespace netjit;

static void roundTrip(ExprContext &Ctx, ExprRef E, const ParseOptions &O) {
  std::string Text = print(E);
  auto Back = parseExpr(Ctx, Text, O);
  if (!Back || *Back != E) {
    std::fprintf(stderr, "printed form does not reparse to itself: %s\n",
                 Text.c_str());
    if (!Back)
      llvm::consumeError(Back.takeError());
    std::abort();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Text(reinterpret_cast<const char *>(Data), Size);
  ExprContext Ctx;
  ParseOptions O;
  O.Params = {"alpha", "beta"};
  auto E = parseExpr(Ctx, Text, O);
  if (!E) {
    llvm::consumeError(E.takeError());
    return 0;
  }
  roundTrip(Ctx, *E, O);
  ExprRef S = simplify(Ctx, *E);
  roundTrip(Ctx, S, O);
  for (const char *Var : {"x", "alpha"}) {
    auto D = differentiate(Ctx, S, Var);
    if (!D) {
      llvm::consumeError(D.takeError());
      continue;
    }
    roundTrip(Ctx, simplify(Ctx, *D), O);
  }
  return 0;
}
