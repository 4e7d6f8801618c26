//===- StepCost.cpp - A loop step's dependency chain and size -------------===//

#include "netjit/CodeGen/StepCost.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/IntrinsicsX86.h"
#include <algorithm>
#include <map>
#include <vector>

using namespace llvm;

namespace netjit {

namespace {

/// Latency in cycles of I's operation on AVX-512 (AMD Zen 4/5 figures, and
/// this project's measurements: an FMA 4 cycles, vdivps 10, vdivpd 13).
double latencyOf(const Instruction &I) {
  bool Dbl = I.getType()->getScalarType()->isDoubleTy();
  switch (I.getOpcode()) {
  case Instruction::FAdd:
  case Instruction::FSub:
  case Instruction::FMul:
    return 3;
  case Instruction::FDiv:
  case Instruction::FRem:
    return Dbl ? 13 : 10;
  case Instruction::FPExt:
  case Instruction::FPTrunc:
  case Instruction::SIToFP:
  case Instruction::UIToFP:
  case Instruction::FPToSI:
  case Instruction::FPToUI:
    return 4;
  case Instruction::BitCast:
  case Instruction::FNeg: // folds into the FMA or subtraction that takes it
  case Instruction::Load:
    return 0;
  case Instruction::Call:
    break;
  default: // integer and mask arithmetic, compares, selects, shuffles
    return 1;
  }
  const auto *II = dyn_cast<IntrinsicInst>(&I);
  if (!II)
    return 1;
  switch (II->getIntrinsicID()) {
  case Intrinsic::fma:
  case Intrinsic::fmuladd:
  case Intrinsic::x86_avx512_mask_scalef_ps_512:
  case Intrinsic::x86_avx512_mask_scalef_pd_512:
    return 4;
  case Intrinsic::roundeven:
  case Intrinsic::rint:
  case Intrinsic::nearbyint:
  case Intrinsic::floor:
  case Intrinsic::ceil:
  case Intrinsic::trunc:
  case Intrinsic::x86_avx512_permvar_sf_512:
  case Intrinsic::x86_avx512_permvar_si_512:
    return 3;
  case Intrinsic::sqrt:
    return Dbl ? 20 : 15;
  default: // fabs, copysign, minnum, maxnum: one logic or min/max op
    return 1;
  }
}

/// Machine instructions for I: one per 512 bits of its result; none for a
/// bitcast or a negation (folded into its user).
double instructionsOf(const Instruction &I) {
  if (isa<BitCastInst>(I) || I.getOpcode() == Instruction::FNeg)
    return 0;
  Type *T = I.getType();
  if (auto *S = dyn_cast<StoreInst>(&I))
    T = S->getValueOperand()->getType();
  unsigned Bits = T->getPrimitiveSizeInBits().getFixedValue();
  return std::max(1u, (Bits + 511) / 512);
}

/// Walks a function as if its calls were inlined and equal operations
/// merged (what O3's inliner, InstCombine and EarlyCSE make of the calls
/// that sigmoid(x) and sigmoid(-x) share): each distinct operation on
/// distinct operands is counted once.
class Walker {
public:
  StepCost Cost;

  /// Walks F with its arguments bound to Args (value numbers); returns the
  /// value number of what F returns (0 for void).
  unsigned walk(const Function &F, ArrayRef<unsigned> Args) {
    DenseMap<const Value *, unsigned> Local; // F's values, unless leaves
    for (const Argument &A : F.args())
      if (A.getArgNo() < Args.size())
        Local[&A] = Args[A.getArgNo()];
    unsigned Returned = 0;
    for (const BasicBlock &BB : F)
      for (const Instruction &I : BB) {
        if (auto *R = dyn_cast<ReturnInst>(&I)) {
          if (R->getReturnValue())
            Returned = number(Local, R->getReturnValue());
          continue;
        }
        SmallVector<unsigned, 4> Ops;
        for (const Value *Op : I.operands())
          if (!isa<Function>(Op))
            Ops.push_back(number(Local, Op));
        const auto *Call = dyn_cast<CallInst>(&I);
        const Function *Callee = Call ? Call->getCalledFunction() : nullptr;
        // (A recursive call, which netjit never emits, counts as one
        // operation rather than recursing without end.)
        if (Callee && !Callee->isDeclaration() && !Active.contains(Callee)) {
          Active.insert(Callee);
          Local[&I] = walk(*Callee, Ops);
          Active.erase(Callee);
          continue;
        }
        Local[&I] = operation(I, Callee, Ops);
      }
    return Returned;
  }

private:
  std::map<std::vector<uintptr_t>, unsigned> Seen;
  SmallPtrSet<const Function *, 8> Active; // on the walk's stack
  DenseMap<const Value *, unsigned> Leaves; // arguments and constants
  std::vector<double> Ready{0};             // by value number
  DenseMap<unsigned, unsigned> Negated;     // fneg a -> a

  unsigned fresh(double At) {
    Ready.push_back(At);
    return Ready.size() - 1;
  }

  unsigned number(DenseMap<const Value *, unsigned> &Local, const Value *V) {
    if (auto It = Local.find(V); It != Local.end())
      return It->second;
    auto [It, New] = Leaves.try_emplace(V, 0);
    if (New)
      It->second = fresh(0);
    return It->second;
  }

  unsigned operation(const Instruction &I, const Function *Callee,
                     SmallVectorImpl<unsigned> &Ops) {
    bool Fabs = Callee && Callee->getIntrinsicID() == Intrinsic::fabs;
    if (I.getOpcode() == Instruction::FNeg || Fabs)
      if (auto It = Negated.find(Ops[0]); It != Negated.end()) {
        if (!Fabs) // -(-a) = a
          return It->second;
        Ops[0] = It->second; // |-a| = |a|
      }
    // a + b = b + a, and fma(a, b, c) = fma(b, a, c).
    if (I.isCommutative() && Ops.size() == 2)
      std::sort(Ops.begin(), Ops.end());
    if (Callee && Callee->getIntrinsicID() == Intrinsic::fma && Ops[0] > Ops[1])
      std::swap(Ops[0], Ops[1]);
    // The operation, its result type (types are unique per context) and
    // its operands' value numbers.
    std::vector<uintptr_t> Key = {
        I.getOpcode(), Callee ? uintptr_t(Callee->getIntrinsicID()) : 0,
        reinterpret_cast<uintptr_t>(I.getType())};
    if (auto *Cmp = dyn_cast<CmpInst>(&I))
      Key.push_back(Cmp->getPredicate());
    Key.insert(Key.end(), Ops.begin(), Ops.end());
    auto [It, New] = Seen.try_emplace(std::move(Key), 0);
    if (!New)
      return It->second;
    double Start = 0;
    for (unsigned Op : Ops)
      Start = std::max(Start, Ready[Op]);
    double Done = Start + latencyOf(I);
    Cost.Latency = std::max(Cost.Latency, Done);
    Cost.Instructions += instructionsOf(I);
    It->second = fresh(Done);
    if (I.getOpcode() == Instruction::FNeg)
      Negated[It->second] = Ops[0];
    return It->second;
  }
};

} // namespace

StepCost estimateStepCost(const Function &F) {
  Walker W;
  W.walk(F, {}); // F's own arguments are leaves, ready at 0
  return W.Cost;
}

} // namespace netjit
