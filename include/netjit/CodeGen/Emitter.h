// Emitter.h - activation expressions lowered to vectorized LLVM IR kernels.
#ifndef NETJIT_CODEGEN_EMITTER_H
#define NETJIT_CODEGEN_EMITTER_H

#include "netjit/Activations/Catalog.h"
#include "netjit/CodeGen/VectorMath.h"

#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"

namespace netjit {

class ExprLowering;

/// Each parameter's lanes for one step (a splat, or per-unit values), by name.
using ParamLanes = std::map<std::string, llvm::Value *>;

/// An activation's forms, chosen and planned as its kernels choose and plan
/// them, lowered at the caller's insertion point: a GEMM epilogue, a step of
/// the training program. L is the lanes of X, Y and the parameters.
class ActivationCode {
public:
  explicit ActivationCode(const ActivationForms &A);
  ~ActivationCode();
  /// Whether derivative() reads y (the form in y is as accurate as x's).
  bool derivativeFromY() const { return DY != nullptr; }
  /// Whether f calls a VectorMath function (exp, tanh, normcdf...).
  bool forwardCallsVectorMath() const;
  /// f(x).
  llvm::Expected<llvm::Value *> forward(llvm::IRBuilder<> &B, VectorMath &VM,
                                        unsigned L, llvm::Value *X,
                                        const ParamLanes &P) const;
  /// f(x) and f'(x), sharing their work (sigmoid's one exp).
  llvm::Expected<std::pair<llvm::Value *, llvm::Value *>>
  fused(llvm::IRBuilder<> &B, VectorMath &VM, unsigned L, llvm::Value *X,
        const ParamLanes &P) const;
  /// f'(x), from Y = f(x) where derivativeFromY(); the form in y may still
  /// test x's sign (relu's where(x > 0, 1, 0)), so X is always given.
  llvm::Expected<llvm::Value *> derivative(llvm::IRBuilder<> &B,
                                           VectorMath &VM, unsigned L,
                                           llvm::Value *X, llvm::Value *Y,
                                           const ParamLanes &P) const;
  /// df/dParam at x.
  llvm::Expected<llvm::Value *>
  paramDerivative(llvm::IRBuilder<> &B, VectorMath &VM, unsigned L,
                  llvm::StringRef Param, llvm::Value *X,
                  const ParamLanes &P) const;

private:
  std::unique_ptr<ExprLowering> lowering(llvm::IRBuilder<> &B, VectorMath &VM,
                                         unsigned L, llvm::Value *X,
                                         llvm::Value *Y, const ParamLanes &P,
                                         ExprRef Extra = nullptr) const;
  const ActivationForms &A;
  ExprRef Fwd, DX, DY, DFused;
  std::vector<ExprRef> Roots;
  std::vector<double> Budgets;
};

/// A loop's input stream: read at Base[i & IndexMask], so an IndexMask of 0
/// reads the same L floats every step (fused with dy == NULL reads ones).
struct InStream {
  llvm::Value *Base;
  llvm::Value *IndexMask = nullptr;
};

/// A loop body: output lane values, given a way to load input K's lanes
/// (called where the value is first needed, so it is not live for longer).
using LoadFn = llvm::function_ref<llvm::Value *(unsigned K)>;
using ComputeFn = llvm::function_ref<
    llvm::Expected<llvm::SmallVector<llvm::Value *, 2>>(LoadFn)>;

/// for (i = 0; i < N; i += L) Outs[k][i..] = Compute(Ins[..][i..]), L floats
/// at a time, the last N % L through masked loads and stores; emitted at
/// B's insertion point in F, which it leaves after the loop. With Live,
/// *Live is set, before Compute runs, to the body's <L x i1> mask of lanes
/// holding elements (all but the tail's idle ones, which load 0): what a
/// reduction that is not a sum must test. With Stream, a loop touching at
/// least StreamMinBytes writes its outputs with non-temporal stores (after a
/// head step that aligns them) and fences them before returning.
llvm::Error emitLoop(llvm::IRBuilder<> &B, llvm::Function *F, llvm::Value *N,
                     unsigned L, llvm::ArrayRef<InStream> Ins,
                     llvm::ArrayRef<llvm::Value *> Outs, ComputeFn Compute,
                     llvm::Value **Live = nullptr, bool Stream = false);

/// Bytes a streaming loop must touch (inputs and outputs) before it writes
/// around the cache: at least a last-level cache's worth (32 MiB on this
/// project's test machines; docs/performance.md).
constexpr uint64_t StreamMinBytes = 32u << 20;

/// Which kernels of an activation NAME to emit (docs/ir.md, "Kernels"):
///   void NAME_forward(const float *x, float *y, int64_t n, const float *p)
///   void NAME_backward(const float *x, const float *y, const float *dy,
///                      float *dx, int64_t n, const float *p)
///   void NAME_fused(const float *x, const float *dy, float *y, float *dx,
///                   int64_t n, const float *p)
/// p holds the parameters in ActivationForms::Params order. backward reads y
/// (which must hold f(x)) when the derivative has a stable form in y
/// (isStableInOutput), else recomputes from x. fused writes
/// y = f(x) and dx = dy * f'(x) in one pass sharing subexpressions; with
/// dy == NULL it writes dx = f'(x).
enum class KernelKind { Forward, Backward, Fused };

/// Adds the kernels to M, each a loop over Interleave native vectors of
/// Lanes floats at a time with a masked tail. Interleave 0 chooses per
/// kernel: with AVX-512, 8 for a forward kernel that calls vector math and
/// for a fused kernel whose step is bound by latency (StepCost), else
/// defaultInterleave.
llvm::Error emitActivationKernels(llvm::Module &M, const ActivationForms &A,
                                  llvm::StringRef Name, unsigned Lanes,
                                  llvm::ArrayRef<KernelKind> Kinds,
                                  unsigned Interleave = 0);

/// How many independent native vectors a kernel step works on: enough to
/// hide FMA latency, few enough to stay in registers (32 with AVX-512).
unsigned defaultInterleave(unsigned Lanes);

/// The kernels' parameter array p: Values in ActivationForms::Params order.
/// Fails naming a parameter that has no value.
llvm::Expected<std::vector<float>> packParams(const ActivationForms &A,
                                              const ParamValues &Values);

/// The symbol of a kernel: "NAME_forward", "NAME_backward", "NAME_fused".
std::string kernelSymbol(llvm::StringRef Name, KernelKind K);

} // namespace netjit

#endif
