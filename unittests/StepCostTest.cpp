// StepCostTest.cpp - the step cost estimate: chains add latencies, parallel
// work adds instructions only, and calls count as if inlined with equal
// operations merged (what lets the emitter tell latency-bound steps apart).
#include "netjit/CodeGen/StepCost.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"
#include <gtest/gtest.h>

using namespace netjit;
using namespace llvm;

namespace {

struct Probe {
  LLVMContext Ctx;
  Module M{"probe", Ctx};
  Type *VT = FixedVectorType::get(Type::getFloatTy(Ctx), 16);
  Function *function(const char *Name, unsigned Args) {
    return Function::Create(
        FunctionType::get(VT, SmallVector<Type *, 4>(Args, VT), false),
        GlobalValue::ExternalLinkage, Name, M);
  }
  Value *fma(IRBuilder<> &B, Value *A, Value *X, Value *C) {
    return B.CreateIntrinsic(Intrinsic::fma, {VT}, {A, X, C});
  }
};

TEST(StepCost, ChainsAddLatencyParallelWorkAddsInstructions) {
  Probe P;
  Function *F = P.function("chain", 1);
  IRBuilder<> B(BasicBlock::Create(P.Ctx, "entry", F));
  Value *X = F->getArg(0), *C = ConstantFP::get(P.VT, 0.5);
  // Three FMAs in a chain, and a division beside them.
  Value *V = P.fma(B, P.fma(B, P.fma(B, X, X, C), X, C), X, C);
  Value *D = B.CreateFDiv(C, X);
  B.CreateRet(B.CreateFAdd(V, D));
  StepCost S = estimateStepCost(*F);
  EXPECT_EQ(S.Latency, 3 * 4 + 3); // the chain, then the sum
  EXPECT_EQ(S.Instructions, 5);
}

TEST(StepCost, CallsCountAsInlinedWithEqualWorkMerged) {
  Probe P;
  // g(x) = 1 / (1 + |x|), called on x and on -x: |-x| = |x|, so after
  // inlining the second call adds nothing.
  Function *G = P.function("g", 1);
  {
    IRBuilder<> B(BasicBlock::Create(P.Ctx, "entry", G));
    Value *One = ConstantFP::get(P.VT, 1.0);
    Value *A = B.CreateUnaryIntrinsic(Intrinsic::fabs, G->getArg(0));
    B.CreateRet(B.CreateFDiv(One, B.CreateFAdd(A, One)));
  }
  Function *F = P.function("f", 1);
  IRBuilder<> B(BasicBlock::Create(P.Ctx, "entry", F));
  Value *X = F->getArg(0);
  Value *Y1 = B.CreateCall(G, {X});
  Value *Y2 = B.CreateCall(G, {B.CreateFNeg(X)});
  B.CreateRet(B.CreateFMul(Y2, Y1));
  StepCost S = estimateStepCost(*F);
  EXPECT_EQ(S.Instructions, 4); // fabs, fadd, fdiv, fmul (fneg folds)
  EXPECT_EQ(S.Latency, 1 + 3 + 10 + 3);
  EXPECT_DOUBLE_EQ(S.chainPerInstruction(), 17.0 / 4);
}

TEST(StepCost, DoubleVectorsTakeTwoRegisters) {
  Probe P;
  Function *F = P.function("widen", 1);
  IRBuilder<> B(BasicBlock::Create(P.Ctx, "entry", F));
  Type *DT = FixedVectorType::get(B.getDoubleTy(), 16);
  Value *W = B.CreateFPExt(F->getArg(0), DT);
  B.CreateRet(B.CreateFPTrunc(B.CreateFMul(W, W), P.VT));
  StepCost S = estimateStepCost(*F);
  EXPECT_EQ(S.Instructions, 2 + 2 + 1); // fpext, fmul in two zmm; fptrunc
  EXPECT_EQ(S.Latency, 4 + 3 + 4);
}

} // namespace
