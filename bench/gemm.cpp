// gemm.cpp - the machine's single-core FP32 peak (a JIT-compiled loop of
// independent FMAs in the widest vectors) and the generated GEMMs of the
// Fashion-MNIST MLP's first layer as a share of it, as JSON:
//   {"lanes", "peak_gflops", "gemms": [{"name", "m", "k", "n", "gflops",
//    "of_peak"}]}
// Run by bench/run; not a test.
//   netjit-bench-gemm [REPS]
#include "netjit/CodeGen/Gemm.h"
#include "netjit/JIT/Jit.h"

#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

using namespace netjit;
using namespace llvm;
using Clock = std::chrono::steady_clock;

namespace {

/// Best seconds per call over Reps timings of Calls calls each: the peak
/// and the GEMMs are compute-bound, so the fastest run is the one the
/// machine's noise touched least.
template <typename F> double best(int Reps, int Calls, F Fn) {
  Fn();
  double Best = 1e30;
  for (int R = 0; R < Reps; ++R) {
    auto A = Clock::now();
    for (int C = 0; C < Calls; ++C)
      Fn();
    Best = std::min(
        Best, std::chrono::duration<double>(Clock::now() - A).count() / Calls);
  }
  return Best;
}

/// float peak(int64 iters): Chains independent FMA chains per iteration,
/// enough to cover the FMA latency on every pipe; returns a lane so the
/// work is not dead.
void emitPeak(Module &M, unsigned Lanes, unsigned Chains) {
  LLVMContext &C = M.getContext();
  IRBuilder<> B(C);
  auto *VT = FixedVectorType::get(B.getFloatTy(), Lanes);
  Function *F = Function::Create(
      FunctionType::get(B.getFloatTy(), {B.getInt64Ty()}, false),
      GlobalValue::ExternalLinkage, "peak", M);
  F->addFnAttr("min-legal-vector-width", std::to_string(Lanes * 32));
  F->addFnAttr("prefer-vector-width", std::to_string(Lanes * 32));
  BasicBlock *Entry = BasicBlock::Create(C, "entry", F),
             *Loop = BasicBlock::Create(C, "loop", F),
             *Exit = BasicBlock::Create(C, "exit", F);
  B.SetInsertPoint(Entry);
  B.CreateBr(Loop);
  B.SetInsertPoint(Loop);
  PHINode *I = B.CreatePHI(B.getInt64Ty(), 2);
  I->addIncoming(B.getInt64(0), Entry);
  Value *Mul = ConstantFP::get(VT, 0.999), *Add = ConstantFP::get(VT, 1e-3);
  std::vector<PHINode *> Acc;
  std::vector<Value *> Next;
  for (unsigned K = 0; K < Chains; ++K) {
    Acc.push_back(B.CreatePHI(VT, 2));
    Acc.back()->addIncoming(ConstantFP::get(VT, 1.0 + K), Entry);
  }
  for (unsigned K = 0; K < Chains; ++K)
    Next.push_back(B.CreateIntrinsic(Intrinsic::fma, {VT}, {Acc[K], Mul, Add}));
  for (unsigned K = 0; K < Chains; ++K)
    Acc[K]->addIncoming(Next[K], Loop);
  Value *INext = B.CreateAdd(I, B.getInt64(1));
  I->addIncoming(INext, Loop);
  B.CreateCondBr(B.CreateICmpSLT(INext, F->getArg(0)), Loop, Exit);
  B.SetInsertPoint(Exit);
  Value *Sum = Next[0];
  for (unsigned K = 1; K < Chains; ++K)
    Sum = B.CreateFAdd(Sum, Next[K]);
  B.CreateRet(B.CreateExtractElement(Sum, uint64_t(0)));
}

struct Shape {
  const char *Name;
  int64_t M, K, N;
  bool TransA, TransB;
};

/// void NAME(const float *a, const float *b, float *c, float *pack): the
/// product as the training program emits it, no epilogue.
void emitProduct(Module &M, const Shape &S, unsigned Lanes) {
  LLVMContext &C = M.getContext();
  IRBuilder<> B(C);
  Type *Ptr = B.getPtrTy();
  Function *F = Function::Create(
      FunctionType::get(B.getVoidTy(), {Ptr, Ptr, Ptr, Ptr}, false),
      GlobalValue::ExternalLinkage, S.Name, M);
  F->addFnAttr("min-legal-vector-width", std::to_string(Lanes * 32));
  F->addFnAttr("prefer-vector-width", std::to_string(Lanes * 32));
  for (unsigned I = 0; I < 4; ++I)
    F->addParamAttr(I, Attribute::NoAlias);
  B.SetInsertPoint(BasicBlock::Create(C, "entry", F));
  GemmOperands Ops;
  Ops.A = F->getArg(0);
  Ops.B = F->getArg(1);
  Ops.C = F->getArg(2);
  Ops.Pack = S.TransB ? F->getArg(3) : nullptr;
  Ops.TransA = S.TransA;
  Ops.TransB = S.TransB;
  Ops.Lda = S.TransA ? S.M : S.K;
  Ops.Ldb = S.TransB ? S.K : S.N;
  Ops.Ldc = S.N;
  Ops.M = B.getInt64(S.M);
  Ops.K = B.getInt64(S.K);
  Ops.MHint = S.TransA ? S.M : 32;
  Ops.N = S.N;
  emitGemm(B, Ops, Lanes, [](Value *, Value *) {});
  B.CreateRetVoid();
}

} // namespace

int main(int argc, char **argv) {
  int Reps = argc > 1 ? std::atoi(argv[1]) : 7;
  if (argc > 2 || Reps < 1) {
    std::fprintf(stderr, "usage: netjit-bench-gemm [REPS >= 1]\n");
    return 2;
  }
  JitOptions JO;
  JO.UseCache = false;
  auto J = Jit::create(JO);
  if (!J) {
    std::fprintf(stderr, "netjit-bench-gemm: %s\n",
                 toString(J.takeError()).c_str());
    return 1;
  }
  unsigned Lanes = (*J)->lanes();
  // The first layer of 784-128-10 at batch 32: forward x W, the weight
  // gradient x^T dZ, and the input gradient dZ W^T.
  const Shape Shapes[] = {{"forward_32x784x128", 32, 784, 128, false, false},
                          {"weight_grad_784x32x128", 784, 32, 128, true, false},
                          {"input_grad_32x128x784", 32, 128, 784, false, true}};
  auto Ctx = std::make_unique<LLVMContext>();
  auto M = std::make_unique<Module>("bench", *Ctx);
  // Chains: 2 FMA pipes x 4 cycles of latency, doubled for slack.
  const unsigned Chains = 16;
  emitPeak(*M, Lanes, Chains);
  for (const Shape &S : Shapes)
    emitProduct(*M, S, Lanes);
  cantFail((*J)->addModule(std::move(M), std::move(Ctx)));
  auto *Peak = reinterpret_cast<float (*)(int64_t)>(cantFail((*J)->lookup("peak")));
  const int64_t Iters = 1 << 22;
  double PeakS = best(Reps, 1, [&] { (void)Peak(Iters); });
  double PeakGflops = 2.0 * Lanes * Chains * Iters / PeakS / 1e9;

  nlohmann::json Out = {{"lanes", Lanes}, {"peak_gflops", PeakGflops}};
  std::vector<float> A(784 * 784, 0.01f), Bm(784 * 784, 0.02f),
      C(784 * 784), Pack(784 * 784);
  for (const Shape &S : Shapes) {
    using Fn = void (*)(const float *, const float *, float *, float *);
    auto *G = reinterpret_cast<Fn>(cantFail((*J)->lookup(S.Name)));
    double Sec = best(Reps, 2000, [&] { G(A.data(), Bm.data(), C.data(), Pack.data()); });
    double Gf = 2.0 * S.M * S.K * S.N / Sec / 1e9;
    Out["gemms"].push_back({{"name", S.Name}, {"m", S.M}, {"k", S.K},
                            {"n", S.N}, {"gflops", Gf},
                            {"of_peak", Gf / PeakGflops}});
  }
  std::printf("%s\n", Out.dump().c_str());
  return 0;
}
