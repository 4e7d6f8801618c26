// Kernels.cpp - an activation's stand-alone kernels (Kernels.h): their
// signatures, how many vectors a step works on, and their loops.
#include "netjit/CodeGen/Kernels.h"

#include "netjit/CodeGen/ActivationCode.h"
#include "netjit/CodeGen/StepCost.h"
#include "netjit/Support/Diagnostics.h"

using namespace llvm;

namespace netjit {

namespace {

Function *declareKernel(Module &M, StringRef Symbol, unsigned NumPtrs,
                        unsigned Lanes) {
  LLVMContext &Ctx = M.getContext();
  Type *Ptr = PointerType::getUnqual(Ctx);
  SmallVector<Type *, 8> Params(NumPtrs, Ptr);
  Params.push_back(Type::getInt64Ty(Ctx));
  Params.push_back(Ptr);
  Function *F =
      Function::Create(FunctionType::get(Type::getVoidTy(Ctx), Params, false),
                       GlobalValue::ExternalLinkage, Symbol, M);
  F->addFnAttr(Attribute::NoUnwind);
  // Wide vectors are what we asked for: keep them whole on CPUs that
  // otherwise prefer 256-bit operations.
  F->addFnAttr("min-legal-vector-width", std::to_string(Lanes * 32));
  F->addFnAttr("prefer-vector-width", std::to_string(Lanes * 32));
  for (unsigned I = 0; I <= NumPtrs + 1; ++I)
    if (I != NumPtrs)
      F->addParamAttr(I, Attribute::NoAlias);
  return F;
}

/// L ones: the dy of a fused kernel called with dy == NULL.
GlobalVariable *onesArray(Module &M, unsigned L) {
  std::string Name = "netjit.ones." + std::to_string(L);
  if (GlobalVariable *G = M.getGlobalVariable(Name, true))
    return G;
  std::vector<float> One(L, 1.0f);
  Constant *Init = ConstantDataArray::get(M.getContext(), ArrayRef(One));
  auto *G = new GlobalVariable(M, Init->getType(), true,
                               GlobalValue::PrivateLinkage, Init, Name);
  G->setAlignment(Align(64));
  return G;
}

/// Kernel K's loop in F (at B, after the parameter splats): its streams
/// and what a step computes.
Error kernelLoop(Module &M, IRBuilder<> &B, KernelKind K,
                 const ActivationCode &Code, VectorMath &VM, unsigned L,
                 const ParamLanes &Splat) {
  Function *F = B.GetInsertBlock()->getParent();
  unsigned NumPtrs = K == KernelKind::Forward ? 2 : 4;
  Value *N = F->getArg(NumPtrs);
  LoopBuilder Loop(B);
  if (K == KernelKind::Forward) {
    // forward(x, y, n, p): y = f(x)
    return Loop.streams(
        N, L, {{F->getArg(0)}}, {F->getArg(1)},
        [&](LoadFn In) -> Expected<SmallVector<Value *, 2>> {
          auto Y = Code.forward(B, VM, L, In(0), Splat);
          if (!Y)
            return Y.takeError();
          return SmallVector<Value *, 2>{*Y};
        },
        nullptr, /*Stream=*/true);
  } else if (K == KernelKind::Backward) {
    // backward(x, y, dy, dx, n, p): dx = dy f'(x), from y where stable
    return Loop.streams(
        N, L, {{F->getArg(0)}, {F->getArg(1)}, {F->getArg(2)}}, {F->getArg(3)},
        [&](LoadFn In) -> Expected<SmallVector<Value *, 2>> {
          Value *Y = Code.derivativeFromY() ? In(1) : nullptr;
          auto D = Code.derivative(B, VM, L, In(0), Y, Splat);
          if (!D)
            return D.takeError();
          return SmallVector<Value *, 2>{B.CreateFMul(In(2), *D)};
        },
        nullptr, /*Stream=*/true);
  } else {
    // fused(x, dy, y, dx, n, p): y = f(x), dx = dy f'(x); dy == NULL reads
    // ones (index mask 0), so dx = f'(x) with the same code.
    GlobalVariable *Ones = onesArray(M, L);
    Value *DyArg = F->getArg(1);
    Value *NoDy = B.CreateIsNull(DyArg);
    InStream Dy{B.CreateSelect(NoDy, Ones, DyArg),
                B.CreateSelect(NoDy, B.getInt64(0), B.getInt64(-1))};
    return Loop.streams(
        N, L, {{F->getArg(0)}, Dy}, {F->getArg(2), F->getArg(3)},
        [&](LoadFn In) -> Expected<SmallVector<Value *, 2>> {
          auto YD = Code.fused(B, VM, L, In(0), Splat);
          if (!YD)
            return YD.takeError();
          return SmallVector<Value *, 2>{YD->first,
                                         B.CreateFMul(In(1), YD->second)};
        },
        nullptr, /*Stream=*/true);
  }
}

} // namespace

unsigned defaultInterleave(unsigned Lanes) {
  // Measured on AVX-512 (docs/performance.md): 4 beats 2 by 20-50% on
  // sigmoid, silu and softplus; 16 ymm or xmm registers hold about half.
  return Lanes >= 16 ? 4 : 2;
}

/// The cost of one native vector of A's fused step (y = f(x), dx = dy
/// f'(x)): the step emitted at Lanes lanes into a probe module, and walked
/// as O3 will leave it (estimateStepCost).
static StepCost fusedStepCost(LLVMContext &Ctx, const ActivationForms &A,
                              const ActivationCode &Code, unsigned Lanes) {
  Module Probe("netjit.probe", Ctx);
  Type *VT = FixedVectorType::get(Type::getFloatTy(Ctx), Lanes);
  SmallVector<Type *, 8> Args(2 + A.Params.size(), VT);
  Args.push_back(PointerType::get(Ctx, 0));
  Function *F =
      Function::Create(FunctionType::get(Type::getVoidTy(Ctx), Args, false),
                       GlobalValue::ExternalLinkage, "step", Probe);
  IRBuilder<> B(BasicBlock::Create(Ctx, "entry", F));
  VectorMath VM(Probe, Lanes, /*Avx512=*/Lanes == 16);
  ParamLanes P;
  for (size_t I = 0; I < A.Params.size(); ++I)
    P[A.Params[I]] = F->getArg(2 + I);
  auto YD = Code.fused(B, VM, Lanes, F->getArg(0), P);
  if (!YD) { // the kernel's own lowering reports it
    consumeError(YD.takeError());
    return {};
  }
  Value *Out = F->getArg(Args.size() - 1);
  B.CreateStore(YD->first, Out);
  B.CreateStore(B.CreateFMul(F->getArg(1), YD->second),
                B.CreateConstGEP1_64(VT, Out, 1));
  B.CreateRetVoid();

  return estimateStepCost(*F);
}

/// Cycles of dependency chain per instruction above which a fused step is
/// bound by latency, so that 8 vectors per step beat 4. Measured on AVX-512
/// (docs/performance.md): sigmoid (1.90) and mish (1.68) gain 5-20%;
/// tanh (1.55) gains 0-4% and, with softplus (1.52), silu (1.45), gelu
/// (0.77) and gelu_tanh (0.72), loses up to 17% somewhere.
constexpr double LatencyBoundChain = 1.6;
/// Instructions per vector below which a step is bound by memory whatever
/// its chain: exponential's fused step (21, chain 2.5 per instruction) ran
/// 4% slower in cache and 27% out of cache with 8 vectors; sigmoid's is 40.
constexpr double LatencyBoundMinSize = 30;

/// Vectors per step of kernel K when the caller leaves it open. A forward
/// kernel that calls vector math is bound by its call's dependency chain,
/// and with one input and one output 8 vectors still fit AVX-512's 32
/// registers: 3-29% faster than 4 for every such catalogue activation, in
/// cache and out. A fused kernel takes 8 where its step is bound by latency
/// (LatencyBoundChain); where it is not, 8 vectors spill more than they
/// hide. relu's kernels, bound by memory, lose 5-11% with 8. Backward
/// kernels keep 4: with 8, half the catalogue loses (gelu_tanh -15%).
static unsigned kernelInterleave(LLVMContext &Ctx, const ActivationForms &A,
                                 unsigned Lanes, KernelKind K,
                                 const ActivationCode &Code) {
  if (Lanes < 16 || K == KernelKind::Backward || !Code.forwardCallsVectorMath())
    return defaultInterleave(Lanes);
  if (K == KernelKind::Forward)
    return 8;
  StepCost C = fusedStepCost(Ctx, A, Code, Lanes);
  return C.Instructions >= LatencyBoundMinSize &&
                 C.chainPerInstruction() > LatencyBoundChain
             ? 8
             : defaultInterleave(Lanes);
}

Expected<std::vector<float>> packParams(const ActivationForms &A,
                                        const ParamValues &Values) {
  std::vector<float> P;
  for (const std::string &N : A.Params) {
    auto It = Values.find(N);
    if (It == Values.end())
      return plainError(ErrorKind::Compile,
                        "no value for parameter '" + N + "'");
    P.push_back(static_cast<float>(It->second));
  }
  return P;
}

std::string kernelSymbol(StringRef Name, KernelKind K) {
  switch (K) {
  case KernelKind::Forward:
    return (Name + "_forward").str();
  case KernelKind::Backward:
    return (Name + "_backward").str();
  case KernelKind::Fused:
    return (Name + "_fused").str();
  }
  return Name.str();
}

Error emitActivationKernels(Module &M, const ActivationForms &A, StringRef Name,
                            unsigned Lanes, ArrayRef<KernelKind> Kinds,
                            unsigned Interleave) {
  if (Interleave != 0 && (!isPowerOf2_32(Interleave) || Interleave > 8))
    return plainError(ErrorKind::Usage,
                      "interleave must be 1, 2, 4 or 8, not " +
                          Twine(Interleave));
  LLVMContext &Ctx = M.getContext();
  ActivationCode Code(A);
  // One VectorMath per step width (its functions are named by their lanes).
  std::map<unsigned, std::unique_ptr<VectorMath>> VMs;

  for (KernelKind K : Kinds) {
    // U native vectors per step: the backend splits each <U*Lanes x float>
    // operation into U independent ones, whose latency chains then overlap
    // (one chain of a polynomial's FMAs is latency-bound).
    unsigned L =
        Lanes *
        (Interleave ? Interleave : kernelInterleave(Ctx, A, Lanes, K, Code));
    std::unique_ptr<VectorMath> &VMP = VMs[L];
    if (!VMP) // 16 native lanes means x86 with AVX-512F (vectorLanes()).
      VMP = std::make_unique<VectorMath>(M, L, /*Avx512=*/Lanes == 16);
    VectorMath &VM = *VMP;
    unsigned NumPtrs = K == KernelKind::Forward ? 2 : 4;
    Function *F = declareKernel(M, kernelSymbol(Name, K), NumPtrs, Lanes);
    IRBuilder<> B(BasicBlock::Create(Ctx, "entry", F));
    Value *P = F->getArg(NumPtrs + 1);
    // Parameter splats, hoisted out of the loop.
    ParamLanes Splat;
    for (size_t I = 0; I < A.Params.size(); ++I) {
      Value *S =
          B.CreateLoad(B.getFloatTy(),
                       B.CreateConstGEP1_64(B.getFloatTy(), P, I), A.Params[I]);
      Splat[A.Params[I]] = B.CreateVectorSplat(L, S);
    }

    if (Error E = kernelLoop(M, B, K, Code, VM, L, Splat))
      return E;
    B.CreateRetVoid();
  }
  return Error::success();
}

} // namespace netjit
