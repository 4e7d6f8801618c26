// DeepTest.cpp - inputs at and past every depth limit, run on a thread with
// a stack much smaller than the main thread's 8 MiB: each recursive walk
// (parser, printer, simplifier, differentiator, y-rewrite, evaluator, code
// generation, the spec and JSON readers) stays bounded, and what is past a
// limit is an error, never a stack overflow.
#include "TestUtil.h"

#include "netjit/Activations/Catalog.h"
#include "netjit/CodeGen/Kernels.h"
#include "netjit/Expr/Evaluate.h"
#include "netjit/Expr/Parser.h"
#include "netjit/Spec/Spec.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/thread.h"

using namespace netjit;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr unsigned StackBytes = 8u << 20; // ASan's frames are several times larger
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr unsigned StackBytes = 8u << 20;
#else
constexpr unsigned StackBytes = 1u << 20;
#endif
#else
constexpr unsigned StackBytes = 1u << 20;
#endif

/// Runs F on a thread with StackBytes of stack.
void onSmallStack(std::function<void()> F) {
  llvm::thread T(std::optional<unsigned>(StackBytes), F);
  T.join();
}

std::string repeat(const std::string &S, int N) {
  std::string Out;
  for (int I = 0; I < N; ++I)
    Out += S;
  return Out;
}

/// A balanced sum of Terms, nested about log2(size) deep: within the
/// parser's limits, yet canonical sums would be chains as long as it is.
std::string balanced(const std::vector<std::string> &Terms, size_t Lo, size_t Hi) {
  if (Hi - Lo == 1)
    return Terms[Lo];
  size_t Mid = (Lo + Hi) / 2;
  return "(" + balanced(Terms, Lo, Mid) + " + " + balanced(Terms, Mid, Hi) + ")";
}

/// The whole formula pipeline; an error is fine, a crash is not.
void pipeline(const std::string &Formula, bool Kernels) {
  ExprContext Ctx;
  auto F = deriveActivation(Ctx, Formula, {"alpha"});
  if (!F) {
    llvm::consumeError(F.takeError());
    return;
  }
  for (ExprRef E : {F->Formula, F->Forward, F->Derivative, F->DerivativeY}) {
    if (!E)
      continue;
    std::string Text = print(E);
    ParseOptions O;
    O.Params = {"alpha"};
    O.AllowOutput = E == F->DerivativeY;
    auto Back = parseExpr(Ctx, Text, O);
    ASSERT_TRUE(bool(Back)) << llvm::toString(Back.takeError());
    auto V = evaluate(E, 0.3, {{"alpha", 0.5}}, 0.2);
    if (!V)
      llvm::consumeError(V.takeError());
  }
  if (Kernels) {
    llvm::LLVMContext LC;
    llvm::Module M("deep", LC);
    llvm::Error E = emitActivationKernels(
        M, *F, "deep", 8,
        {KernelKind::Forward, KernelKind::Backward, KernelKind::Fused});
    if (E)
      llvm::consumeError(std::move(E));
  }
}

TEST(Deep, FormulasAtTheLimitsStayInAOneMegabyteStack) {
  std::vector<std::string> Wheres, Powers;
  for (int I = 0; I < 2500; ++I)
    Wheres.push_back("where(x > " + std::to_string(I) + ", alpha, 0)");
  onSmallStack([&] {
    // MaxNesting: calls, parentheses, unary minus, powers.
    pipeline(repeat("tanh(", 255) + "x" + repeat(")", 255), true);
    pipeline(repeat("(x - ", 255) + "x" + repeat(")", 255), true);
    pipeline(repeat("-", 255) + "x", false);
    pipeline(repeat("x^", 255) + "x", false);
    // MaxDepth: a chain of 2047 operators.
    pipeline("x" + repeat(" - sin(x)", 2047), true);
    pipeline("x" + repeat(" / exp(alpha * x)", 2047), false);
    // Shallow, but collected into chains past MaxDepth by the simplifier.
    pipeline(balanced(Wheres, 0, Wheres.size()), false);
    // Ten times past each limit: errors.
    pipeline(repeat("(", 2560) + "x" + repeat(")", 2560), false);
    pipeline("x" + repeat(" + x", 20480), false);
  });
}

TEST(Deep, JsonTenTimesPastItsLimitIsAnError) {
  onSmallStack([] {
    std::string Deep = repeat("[", 640) + repeat("]", 640);
    auto S = parseSpec("{\"input\": {\"shape\": [4]}, \"layers\": " + Deep + "}",
                       "deep.json");
    ASSERT_FALSE(bool(S));
    std::string Message = llvm::toString(S.takeError());
    EXPECT_NE(Message.find("nested deeper than 64 levels"), std::string::npos)
        << Message;
    auto A = parseActivation("{\"expr\": " + Deep + "}", "", "--activations");
    ASSERT_FALSE(bool(A));
    llvm::consumeError(A.takeError());
    // At the limit (64 levels, the spec and its layer included) it is read,
    // and refused as an unknown field, not for its depth.
    std::string AtLimit = repeat("[", 61) + repeat("]", 61);
    auto B = parseSpec("{\"input\": {\"shape\": [4]}, \"layers\": [{\"type\": "
                       "\"dense\", \"units\": 2, \"x\": " + AtLimit + "}]}",
                       "limit.json");
    ASSERT_FALSE(bool(B));
    Message = llvm::toString(B.takeError());
    EXPECT_NE(Message.find("unknown field 'x'"), std::string::npos) << Message;
  });
}

} // namespace
