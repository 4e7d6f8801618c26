// VectorMath.cpp - the table of netjit's vector functions (op, emitter,
// use of the argument's rounding error, error bound) and VectorMath, which
// emits each once per module and calls it.
//
// Every function is written once over <N x float> with FMAs; the x86 backend
// turns the selects and integer bit tricks into blends and shifts, so nothing
// becomes a per-lane libm call.
#include "netjit/CodeGen/VectorMath.h"

#include "netjit/CodeGen/VectorMathIR.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"
#include <cmath>

using namespace llvm;

namespace netjit {

using namespace vm;

namespace {

/// What rounding error of its argument a function can use.
enum class LoUse { None, OfX, OfAbsX };

using EmitFn = Value *(*)(VB &V, Value *X, Value *Lo);

/// Every function once: its op, how it is emitted (in float, or in double
/// and then rounded once), its use of lo, and the error it is held to (ULPs
/// of the float result, checked by the accuracy sweep).
struct Entry {
  Op O;
  EmitFn Emit;
  LoUse Lo;
  double MaxUlp;
  EmitFn EmitDouble = nullptr;
};

const Entry Table[] = {
    {Op::Exp, emitExp, LoUse::OfX, 1},
    {Op::Expm1, emitExpm1, LoUse::OfX, 1},
    {Op::Log, emitLog, LoUse::OfX, 1},
    {Op::Log1p, emitLog1p, LoUse::OfX, 1},
    {Op::Tanh, emitTanh, LoUse::OfAbsX, 1.5},
    {Op::Sigmoid, emitSigmoid, LoUse::OfAbsX, 1.5},
    {Op::Softplus, emitSoftplus, LoUse::OfAbsX, 1.7},
    {Op::Erf, [](VB &V, Value *X, Value *) { return emitErf(V, X); },
     LoUse::None, 2},
    {Op::Erfc, nullptr, LoUse::OfX, 0.55, emitErfcD},
    {Op::Sin, [](VB &V, Value *X, Value *) { return emitSinCos(V, X, false); },
     LoUse::None, 0.5},
    {Op::Cos, [](VB &V, Value *X, Value *) { return emitSinCos(V, X, true); },
     LoUse::None, 0.5},
    // The AVX-512 build's (exhaustive 1.946, 1.715); the double one's 0.52.
    {Op::Normcdf, nullptr, LoUse::None, 2, emitNormcdfD},
    {Op::Normpdf, nullptr, LoUse::None, 1.75, emitNormpdfD},
};

const Entry *find(Op O) {
  for (const Entry &E : Table)
    if (E.O == O)
      return &E;
  return nullptr;
}

} // namespace

bool VectorMath::provides(Op O) { return find(O); }

double VectorMath::maxUlp(Op O) {
  const Entry *E = find(O);
  return E ? E->MaxUlp : INFINITY;
}

bool VectorMath::hasDoubleResult(Op O) {
  const Entry *E = find(O);
  return E && E->EmitDouble;
}

bool VectorMath::takesLo(Op O) {
  const Entry *E = find(O);
  return E && E->Lo != LoUse::None;
}

bool VectorMath::takesAbsLo(Op O) {
  const Entry *E = find(O);
  return E && E->Lo == LoUse::OfAbsX;
}

Function *VectorMath::get(Op O, bool WithLo, bool Double) {
  const Entry *E = find(O);
  assert(E && "VectorMath::provides() said no");
  return get(
      opInfo(O).Spelling, WithLo, Double, [&](VB &V, Value *X, Value *Lo) {
        return Double    ? E->EmitDouble(V, X, Lo)
               : E->Emit ? E->Emit(V, X, Lo)
                         : V.B.CreateFPTrunc(E->EmitDouble(V, X, Lo), V.F);
      });
}

Function *VectorMath::get(StringRef Spelling, bool WithLo, bool Double,
                          EmitRef Emit) {
  std::string Name = ("netjit.vm." + Spelling).str() + (WithLo ? ".lo" : "") +
                     (Double ? ".d" : "") + ".v" + std::to_string(Lanes) +
                     "f32";
  if (Function *F = M.getFunction(Name))
    return F;
  LLVMContext &Ctx = M.getContext();
  Type *VT = FixedVectorType::get(Type::getFloatTy(Ctx), Lanes);
  Type *RT = Double ? FixedVectorType::get(Type::getDoubleTy(Ctx), Lanes) : VT;
  SmallVector<Type *, 2> Args(WithLo ? 2 : 1, VT);
  Function *F = Function::Create(FunctionType::get(RT, Args, false),
                                 GlobalValue::InternalLinkage, Name, M);
  F->addFnAttr(Attribute::AlwaysInline);
  F->addFnAttr(Attribute::NoUnwind);
  IRBuilder<> B(BasicBlock::Create(Ctx, "entry", F));
  VB V(B, Lanes, Avx512);
  B.CreateRet(Emit(V, F->getArg(0), WithLo ? F->getArg(1) : nullptr));
  return F;
}

Value *VectorMath::callFloat(IRBuilder<> &B, StringRef Spelling, Value *X,
                             Value *Lo, EmitRef Emit) {
  Function *F = get(Spelling, Lo, false, Emit);
  return Lo ? B.CreateCall(F, {X, Lo}) : B.CreateCall(F, {X});
}

Value *VectorMath::sigmoidProduct(IRBuilder<> &B, Value *X, Value *AbsLo) {
  return callFloat(B, "sigmoid_product", X, AbsLo, emitSigmoidProduct);
}

Value *VectorMath::gelu(IRBuilder<> &B, Value *X, bool Derivative) {
  assert(Avx512 && "gelu's float build needs AVX-512's lookups");
  return Derivative ? callFloat(B, "gelu_grad", X, nullptr, emitGeluGrad)
                    : callFloat(B, "gelu", X, nullptr, emitGelu);
}

Value *VectorMath::xSigmoidCubic(IRBuilder<> &B, Value *X, double K1, double K3,
                                 bool Derivative) {
  // One function per (k1, k3), named by their bits.
  std::string Name =
      formatv("x_sigmoid_cubic{0}.{1:x}.{2:x}", Derivative ? "_grad" : "",
              llvm::bit_cast<uint64_t>(K1), llvm::bit_cast<uint64_t>(K3));
  return callFloat(B, Name, X, nullptr, [&](VB &V, Value *X, Value *) {
    return Derivative ? emitXSigmoidCubicGrad(V, X, K1, K3)
                      : emitXSigmoidCubic(V, X, K1, K3);
  });
}

Value *VectorMath::siluGrad(IRBuilder<> &B, Value *X, Value *AbsLo) {
  return callFloat(B, "silu_grad", X, AbsLo, emitSiluGrad);
}

Value *VectorMath::call(IRBuilder<> &B, Op O, Value *X, Value *Lo,
                        bool Double) {
  Double = Double && hasDoubleResult(O);
  if (Lo && takesLo(O))
    return B.CreateCall(get(O, true, Double), {X, Lo});
  return B.CreateCall(get(O, false, Double), {X});
}

} // namespace netjit
