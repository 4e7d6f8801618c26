// Gemm.h - matrix products specialized to their shapes: register-blocked
// micro-kernels over the host's widest vectors, emitted inline as LLVM IR.
#ifndef NETJIT_CODEGEN_GEMM_H
#define NETJIT_CODEGEN_GEMM_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/IR/IRBuilder.h"

namespace netjit {

/// C[M x N] = op(A)[M x K] op(B)[K x N], row-major with row strides Lda,
/// Ldb, Ldc. op(A) = A^T reads A as [K x M]; op(B) = B^T reads B as [N x K]
/// and is first packed into Pack (K x N floats) so that the micro-kernel
/// loads rows of B as whole vectors. M and K may be known only at run time
/// (the batch); N is fixed, and the blocking is chosen for it.
struct GemmOperands {
  llvm::Value *A = nullptr, *B = nullptr, *C = nullptr;
  int64_t Lda = 0, Ldb = 0, Ldc = 0;
  bool TransA = false, TransB = false;
  llvm::Value *M = nullptr, *K = nullptr; // i64
  int64_t MHint = 0; // the M expected most (the batch), to pick blocks by
  int64_t N = 0;
  llvm::Value *Pack = nullptr;
  /// C += the product (a convolution's weight gradient, summed sample by
  /// sample), not C = it.
  bool Accumulate = false;
  /// An implicit GEMM (a convolution without im2col): A(m, k) is
  /// A[MOff[m] + KOff[k]], two i64 tables, instead of an Lda-strided matrix.
  llvm::Value *MOff = nullptr, *KOff = nullptr;
  /// C(m, n) is C[CMOff[m] + CNOff[n]], two i64 tables, instead of an
  /// Ldc-strided matrix: a convolution's input gradient added (Accumulate)
  /// straight onto the image's pixels. Each vector of columns must stay
  /// contiguous (within one tap's channels).
  llvm::Value *CMOff = nullptr, *CNOff = nullptr;
  /// What each vector of accumulators becomes before it is stored: C's
  /// columns [Col, Col + lanes), Mask their live lanes or null (a
  /// convolution's bias and activation, in registers).
  llvm::function_ref<llvm::Value *(llvm::Value *Acc, llvm::Value *Col,
                                   llvm::Value *Mask)>
      Finish;
};

/// Rows by vectors of accumulators in registers: as many as fit in 32
/// (AVX-512) or 16 vector registers next to one row of B and a broadcast.
struct GemmBlocking {
  unsigned MR, NR;
};
GemmBlocking gemmBlocking(int64_t N, unsigned Lanes);
/// The block height for M rows: one that fits and divides M if any does.
unsigned gemmRowBlock(int64_t M, GemmBlocking Blk, unsigned Lanes);

/// Emits the product at B's insertion point in the current function. Rows
/// are done in blocks of MR (gemmRowBlock for a known M, else the blocking's
/// MR), the last M % MR one at a time; after each block [Row0, Row0 + Rows)
/// is written (all N columns), Epilogue(Row0, Rows) emits what must follow
/// it while those rows are in cache (twice: for the blocks and the rest).
void emitGemm(llvm::IRBuilder<> &B, const GemmOperands &Ops, unsigned Lanes,
              llvm::function_ref<void(llvm::Value *Row0, llvm::Value *Rows)>
                  Epilogue);

/// Dst[c][r] = Src[r][c] for r < Rows, c < Cols, row strides LdS and LdD:
/// whole Lanes x Lanes tiles in registers, the edges one float at a time.
void emitTranspose(llvm::IRBuilder<> &B, llvm::Value *Src, int64_t LdS,
                   llvm::Value *Rows, llvm::Value *Cols, llvm::Value *Dst,
                   int64_t LdD, unsigned Lanes);

} // namespace netjit

#endif
