// Kernels.h - an activation's stand-alone kernels (forward, backward,
// fused), each a streaming loop of its forms over arrays (docs/ir.md,
// "Kernels").
#ifndef NETJIT_CODEGEN_KERNELS_H
#define NETJIT_CODEGEN_KERNELS_H

#include "netjit/Activations/Catalog.h"
#include "netjit/CodeGen/Loops.h"

#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"

namespace netjit {

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
