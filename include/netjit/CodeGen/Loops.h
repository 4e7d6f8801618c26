// Loops.h - the loop builder every part of codegen emits its loops with:
// counted loops, chunks of a vector's lanes with a masked last one, and the
// kernels' streaming loop over input and output arrays.
#ifndef NETJIT_CODEGEN_LOOPS_H
#define NETJIT_CODEGEN_LOOPS_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/Support/Error.h"

namespace netjit {

/// A streaming loop's input: read at Base[i & IndexMask], so an IndexMask of
/// 0 reads the same L floats every step (fused with dy == NULL reads ones).
struct InStream {
  llvm::Value *Base;
  llvm::Value *IndexMask = nullptr;
};

/// A streaming loop's body: output lane values, given a way to load input
/// K's lanes (called where the value is first needed, so it is not live for
/// longer).
using LoadFn = llvm::function_ref<llvm::Value *(unsigned K)>;
using ComputeFn =
    llvm::function_ref<llvm::Expected<llvm::SmallVector<llvm::Value *, 2>>(
        LoadFn)>;

/// Bytes a streaming loop must touch (inputs and outputs) before it writes
/// around the cache: at least a last-level cache's worth (32 MiB on this
/// project's test machines; docs/performance.md).
constexpr uint64_t StreamMinBytes = 32u << 20;

/// The first Live of L lanes as an <L x i1> constant; null when all are.
llvm::Constant *prefixMask(llvm::IRBuilder<> &B, unsigned L, int64_t Live);

/// Emits loops at B's insertion point, which each leaves after its loop.
class LoopBuilder {
public:
  explicit LoopBuilder(llvm::IRBuilder<> &B) : B(B) {}

  /// for (I = Begin; I < End; I += Step) Body(I).
  void counted(llvm::Value *Begin, llvm::Value *End, int64_t Step,
               llvm::function_ref<void(llvm::Value *I)> Body,
               const llvm::Twine &Name = "i");

  /// Chunks of Lanes floats over [0, N): whole ones in a counted loop, then
  /// the last N % Lanes under a mask (null for whole chunks).
  void
  chunks(int64_t N, unsigned Lanes,
         llvm::function_ref<void(llvm::Value *Col, llvm::Value *Mask)> Body);

  /// for (i = 0; i < N; i += L) Outs[k][i..] = Compute(Ins[..][i..]), L
  /// floats at a time, the last N % L through masked loads and stores. With
  /// Live, *Live is set, before Compute runs, to the body's <L x i1> mask of
  /// lanes holding elements (all but the tail's idle ones, which load 0):
  /// what a reduction that is not a sum must test. With Stream, a loop
  /// touching at least StreamMinBytes writes its outputs with non-temporal
  /// stores (after a head step that aligns them) and fences them before
  /// returning.
  llvm::Error streams(llvm::Value *N, unsigned L, llvm::ArrayRef<InStream> Ins,
                      llvm::ArrayRef<llvm::Value *> Outs, ComputeFn Compute,
                      llvm::Value **Live = nullptr, bool Stream = false);

private:
  llvm::IRBuilder<> &B;
};

} // namespace netjit

#endif
