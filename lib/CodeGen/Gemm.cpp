// Gemm.cpp - register-blocked matrix products emitted as LLVM IR.
#include "netjit/CodeGen/Gemm.h"

#include "netjit/CodeGen/Loops.h"

#include "llvm/IR/Intrinsics.h"

using namespace llvm;

namespace netjit {

GemmBlocking gemmBlocking(int64_t N, unsigned Lanes) {
  unsigned Regs = Lanes >= 16 ? 32 : 16;
  int64_t Vecs = (N + Lanes - 1) / Lanes;
  // Tall blocks first: each step of k loads NR vectors of B (streamed from
  // L2 when B is large) for MR x NR FMAs, so 8 rows by 2 or 3 vectors beat
  // 6 by 4 (measured on the 32x784x128 forward product: 94% of the FMA peak
  // against 70% for 4 by 4, docs/performance.md). With AVX-512, 2 vectors
  // where they divide the row and 3 do not: a kernel for a tail of vectors
  // costs compile time.
  unsigned NR = Lanes >= 16 && (Vecs % 2 || Vecs % 3 == 0) ? 3 : 2;
  NR = std::min<int64_t>(Vecs, NR);
  unsigned MR = std::min(8u, (Regs - NR - 2) / NR);
  return {MR, NR};
}

namespace {

struct GemmEmitter {
  IRBuilder<> &B;
  const GemmOperands &Ops;
  unsigned L;
  Type *Fl, *VT;
  Value *BBase; // B, or its packed copy
  LoopBuilder Loop{B};

  Value *gep(Value *Base, Value *Index) { return B.CreateGEP(Fl, Base, Index); }
  Value *i64(int64_t V) { return B.getInt64(V); }

  /// A(m, k) as a scalar.
  Value *loadA(Value *M, Value *K) {
    Value *Idx = Ops.TransA ? B.CreateAdd(B.CreateMul(K, i64(Ops.Lda)), M)
                            : B.CreateAdd(B.CreateMul(M, i64(Ops.Lda)), K);
    return B.CreateLoad(Fl, gep(Ops.A, Idx));
  }

  /// Mask of the first Live lanes, or null when all are live.
  Value *mask(int64_t Live) { return prefixMask(B, L, Live); }

  Value *loadVec(Value *Ptr, Value *Mask) {
    if (!Mask)
      return B.CreateAlignedLoad(VT, Ptr, Align(4));
    return B.CreateMaskedLoad(VT, Ptr, Align(4), Mask,
                              ConstantFP::get(VT, 0.0));
  }
  void storeVec(Value *V, Value *Ptr, Value *Mask) {
    if (!Mask)
      B.CreateAlignedStore(V, Ptr, Align(4));
    else
      B.CreateMaskedStore(V, Ptr, Align(4), Mask);
  }

  /// Rows [M0, M0 + MR) by NR vectors from column N0; the last vector has
  /// LastLive live lanes.
  void micro(Value *M0, unsigned MR, Value *N0, unsigned NR, int64_t LastLive) {
    Function *F = B.GetInsertBlock()->getParent();
    LLVMContext &Ctx = B.getContext();
    BasicBlock *Pre = B.GetInsertBlock();
    BasicBlock *Body = BasicBlock::Create(Ctx, "k.body", F);
    BasicBlock *Done = BasicBlock::Create(Ctx, "k.done", F);
    Value *Zero = ConstantFP::get(VT, 0.0);
    // An implicit GEMM's rows start where their table says, loaded once.
    SmallVector<Value *, 8> RowAt;
    if (Ops.MOff)
      for (unsigned R = 0; R < MR; ++R)
        RowAt.push_back(B.CreateLoad(
            B.getInt64Ty(),
            B.CreateGEP(B.getInt64Ty(), Ops.MOff, B.CreateAdd(M0, i64(R)))));
    // The batch is never empty, so K >= 1: no guard before the loop.
    B.CreateBr(Body);
    B.SetInsertPoint(Body);
    PHINode *K = B.CreatePHI(B.getInt64Ty(), 2, "k");
    K->addIncoming(i64(0), Pre);
    SmallVector<PHINode *, 32> Acc;
    for (unsigned I = 0; I < MR * NR; ++I) {
      Acc.push_back(B.CreatePHI(VT, 2, "acc"));
      Acc.back()->addIncoming(Zero, Pre);
    }
    SmallVector<Value *, 4> BV;
    Value *Row = B.CreateMul(K, i64(Ops.TransB ? Ops.N : Ops.Ldb));
    for (unsigned V = 0; V < NR; ++V) {
      Value *Col = B.CreateAdd(N0, i64(V * L));
      BV.push_back(loadVec(gep(BBase, B.CreateAdd(Row, Col)),
                           V + 1 == NR ? mask(LastLive) : nullptr));
    }
    SmallVector<Value *, 32> Next(MR * NR);
    Value *KAt = Ops.KOff ? B.CreateLoad(B.getInt64Ty(),
                                         B.CreateGEP(B.getInt64Ty(), Ops.KOff, K))
                          : nullptr;
    for (unsigned R = 0; R < MR; ++R) {
      Value *A = B.CreateVectorSplat(
          L, Ops.MOff ? B.CreateLoad(Fl, gep(Ops.A, B.CreateAdd(RowAt[R], KAt)))
                      : loadA(B.CreateAdd(M0, i64(R)), K));
      for (unsigned V = 0; V < NR; ++V)
        Next[R * NR + V] = B.CreateIntrinsic(Intrinsic::fma, {VT},
                                             {A, BV[V], Acc[R * NR + V]});
    }
    Value *KNext = B.CreateAdd(K, i64(1), "k.next", true, true);
    for (unsigned I = 0; I < MR * NR; ++I)
      Acc[I]->addIncoming(Next[I], Body);
    K->addIncoming(KNext, Body);
    BranchInst *Back =
        B.CreateCondBr(B.CreateICmpSLT(KNext, Ops.K), Body, Done);
    // The block is already MR x NR FMAs per step: O3's unrolling of it added
    // a third to the training step's compile time (220 -> 295 ms) and no
    // measurable speed.
    MDNode *Disable =
        MDNode::get(Ctx, MDString::get(Ctx, "llvm.loop.unroll.disable"));
    MDNode *Loop = MDNode::getDistinct(Ctx, {nullptr, Disable});
    Loop->replaceOperandWith(0, Loop);
    Back->setMetadata(LLVMContext::MD_loop, Loop);
    B.SetInsertPoint(Done);
    auto Entry = [&](Value *Table, Value *I) {
      return B.CreateLoad(B.getInt64Ty(),
                          B.CreateGEP(B.getInt64Ty(), Table, I));
    };
    for (unsigned R = 0; R < MR; ++R) {
      Value *RowOff =
          Ops.CMOff ? Entry(Ops.CMOff, B.CreateAdd(M0, i64(R)))
                    : B.CreateMul(B.CreateAdd(M0, i64(R)), i64(Ops.Ldc));
      for (unsigned V = 0; V < NR; ++V) {
        Value *Col = B.CreateAdd(N0, i64(V * L));
        Value *At = gep(Ops.C, B.CreateAdd(RowOff, Ops.CMOff
                                                       ? Entry(Ops.CNOff, Col)
                                                       : Col));
        Value *Mask = V + 1 == NR ? mask(LastLive) : nullptr;
        Value *Sum = Next[R * NR + V];
        if (Ops.Accumulate)
          Sum = B.CreateFAdd(loadVec(At, Mask), Sum);
        if (Ops.Finish)
          Sum = Ops.Finish(Sum, Col, Mask);
        storeVec(Sum, At, Mask);
      }
    }
  }

  /// Every column of rows [M0, M0 + MR).
  void rows(Value *M0, unsigned MR, unsigned NR) {
    int64_t Full = Ops.N / L;          // whole vectors
    int64_t Part = Ops.N % L;          // lanes of a last partial one
    int64_t Blocks = Full / NR;        // whole NR-vector blocks
    int64_t TailVecs = Full % NR + (Part ? 1 : 0);
    if (Blocks == 1)
      micro(M0, MR, i64(0), NR, L);
    else if (Blocks > 1)
      Loop.counted(i64(0), i64(Blocks * NR * L), NR * L,
              [&](Value *N0) { micro(M0, MR, N0, NR, L); }, "nb");
    if (TailVecs)
      micro(M0, MR, i64(Blocks * NR * L), TailVecs, Part ? Part : L);
  }

  /// The transpose of an L x L tile held as L row vectors: swap the
  /// off-diagonal D x D blocks of every 2D x 2D block, for D = L/2 down to
  /// 1 (log2 L rounds of one shuffle per row).
  void transposeTile(SmallVectorImpl<Value *> &R) {
    for (unsigned D = L / 2; D >= 1; D /= 2) {
      SmallVector<int, 16> Lo, Hi;
      for (unsigned J = 0; J < L; ++J) {
        Lo.push_back(J & D ? L + J - D : J);
        Hi.push_back(J & D ? L + J : J + D);
      }
      for (unsigned I = 0; I < L; ++I)
        if (!(I & D)) {
          Value *A = R[I], *C = R[I + D];
          R[I] = B.CreateShuffleVector(A, C, Lo);
          R[I + D] = B.CreateShuffleVector(A, C, Hi);
        }
    }
  }

  /// Dst[c][r] = Src[r][c] for r < Rows, c < Cols (row strides LdS, LdD):
  /// whole L x L tiles in registers (about a sixth of a scalar copy's
  /// instructions), the edges one float at a time.
  void transpose(Value *Src, int64_t LdS, Value *Rows, Value *Cols,
                 Value *Dst, int64_t LdD) {
    Value *RT = B.CreateAnd(Rows, i64(~int64_t(L - 1)));
    Value *CT = B.CreateAnd(Cols, i64(~int64_t(L - 1)));
    auto At = [&](Value *Base, Value *R, int64_t Ld, Value *C) {
      return gep(Base, B.CreateAdd(B.CreateMul(R, i64(Ld)), C));
    };
    auto Copy = [&](Value *R, Value *C) {
      B.CreateStore(B.CreateLoad(Fl, At(Src, R, LdS, C)), At(Dst, C, LdD, R));
    };
    Loop.counted(i64(0), RT, L, [&](Value *R0) {
      Loop.counted(i64(0), CT, L, [&](Value *C0) {
        SmallVector<Value *, 16> T;
        for (unsigned I = 0; I < L; ++I)
          T.push_back(B.CreateAlignedLoad(
              VT, At(Src, B.CreateAdd(R0, i64(I)), LdS, C0), Align(4)));
        transposeTile(T);
        for (unsigned I = 0; I < L; ++I)
          B.CreateAlignedStore(T[I], At(Dst, B.CreateAdd(C0, i64(I)), LdD, R0),
                               Align(4));
      }, "tc");
    }, "tr");
    // Columns past the whole tiles (every row), then rows past them.
    Loop.counted(i64(0), RT, 1, [&](Value *R) {
      Loop.counted(CT, Cols, 1, [&](Value *C) { Copy(R, C); }, "ec");
    }, "er");
    Loop.counted(RT, Rows, 1, [&](Value *R) {
      Loop.counted(i64(0), Cols, 1, [&](Value *C) { Copy(R, C); }, "rc");
    }, "rr");
  }

  /// C = A B^T computed as its transpose C^T = B A^T, for few rows of C
  /// and many columns: A^T (M x K floats, the small operand) is packed
  /// instead of B^T, and each L x L tile of C^T, accumulated in L
  /// registers (rows n of B broadcast, vectors of A^T along m), is
  /// transposed in registers on its way to C.
  void transposedProduct(int64_t LdP) {
    // PackA[k][m] = A[m][k].
    transpose(Ops.A, Ops.Lda, Ops.M, Ops.K, Ops.Pack, LdP);
    int64_t NFull = Ops.N / L * L, NPart = Ops.N % L;
    Value *MTail = B.CreateSub(Ops.M, B.CreateAnd(Ops.M, i64(~int64_t(L - 1))));
    auto Tile = [&](Value *N0, unsigned NRows) {
      Loop.counted(i64(0), Ops.M, L, [&](Value *M0) {
        // Lanes of A^T past M are not loaded; rows of C past M not stored.
        Value *Live = B.CreateSelect(
            B.CreateICmpSLE(B.CreateAdd(M0, i64(L)), Ops.M), i64(L), MTail);
        SmallVector<Constant *, 16> Iota;
        for (unsigned J = 0; J < L; ++J)
          Iota.push_back(B.getInt64(J));
        Value *Mask = B.CreateICmpSLT(ConstantVector::get(Iota),
                                      B.CreateVectorSplat(L, Live));
        Function *F = B.GetInsertBlock()->getParent();
        LLVMContext &Ctx = B.getContext();
        BasicBlock *Pre = B.GetInsertBlock();
        BasicBlock *Body = BasicBlock::Create(Ctx, "tk.body", F);
        BasicBlock *Done = BasicBlock::Create(Ctx, "tk.done", F);
        Value *Zero = ConstantFP::get(VT, 0.0);
        B.CreateBr(Body);
        B.SetInsertPoint(Body);
        PHINode *K = B.CreatePHI(B.getInt64Ty(), 2, "k");
        K->addIncoming(i64(0), Pre);
        SmallVector<PHINode *, 16> Acc;
        SmallVector<Value *, 16> Next;
        for (unsigned R = 0; R < NRows; ++R) {
          Acc.push_back(B.CreatePHI(VT, 2, "acc"));
          Acc.back()->addIncoming(Zero, Pre);
        }
        Value *AV = B.CreateMaskedLoad(
            VT, gep(Ops.Pack, B.CreateAdd(B.CreateMul(K, i64(LdP)), M0)),
            Align(4), Mask, Zero);
        for (unsigned R = 0; R < NRows; ++R) {
          Value *Bv = B.CreateLoad(
              Fl, gep(Ops.B, B.CreateAdd(B.CreateMul(B.CreateAdd(N0, i64(R)),
                                                     i64(Ops.Ldb)),
                                         K)));
          Next.push_back(B.CreateIntrinsic(Intrinsic::fma, {VT},
                                           {B.CreateVectorSplat(L, Bv), AV,
                                            Acc[R]}));
        }
        Value *KNext = B.CreateAdd(K, i64(1), "k.next", true, true);
        for (unsigned R = 0; R < NRows; ++R)
          Acc[R]->addIncoming(Next[R], Body);
        K->addIncoming(KNext, Body);
        B.CreateCondBr(B.CreateICmpSLT(KNext, Ops.K), Body, Done);
        B.SetInsertPoint(Done);
        // Rows of C^T (n) to rows of C (m); missing rows of a partial
        // tile are zeros, and their lanes are not stored.
        SmallVector<Value *, 16> T(Next.begin(), Next.end());
        T.resize(L, Zero);
        transposeTile(T);
        Value *StoreMask = mask(NRows);
        for (unsigned I = 0; I < L; ++I) {
          Value *Row = B.CreateAdd(M0, i64(I));
          BasicBlock *Store = BasicBlock::Create(Ctx, "tstore", F);
          BasicBlock *After = BasicBlock::Create(Ctx, "tafter", F);
          B.CreateCondBr(B.CreateICmpSLT(Row, Ops.M), Store, After);
          B.SetInsertPoint(Store);
          storeVec(T[I],
                   gep(Ops.C, B.CreateAdd(B.CreateMul(Row, i64(Ops.Ldc)), N0)),
                   StoreMask);
          B.CreateBr(After);
          B.SetInsertPoint(After);
        }
      }, "tm");
    };
    if (NFull)
      Loop.counted(i64(0), i64(NFull), L, [&](Value *N0) { Tile(N0, L); }, "tn");
    if (NPart)
      Tile(i64(NFull), NPart);
  }

  /// Bt = B^T: Pack[k][n] = B[n][k].
  void pack() { transpose(Ops.B, Ops.Ldb, i64(Ops.N), Ops.K, Ops.Pack, Ops.N); }
};

} // namespace

void emitGemm(IRBuilder<> &B, const GemmOperands &Ops, unsigned Lanes,
              function_ref<void(Value *, Value *)> Epilogue) {
  Type *Fl = B.getFloatTy();
  GemmEmitter G{B, Ops, Lanes, Fl, FixedVectorType::get(Fl, Lanes), Ops.B};
  // Few rows, many columns, B transposed (a batch's input gradient): pack
  // the small A^T, not B^T, and transpose C's tiles in registers instead
  // (the 32x128x784 product: 67% -> 79% of the FMA peak). Pack holds K x N
  // floats, so A^T fits when M, rounded up to vectors, is at most N.
  int64_t LdP = (Ops.MHint + Lanes - 1) / Lanes * Lanes;
  if (Ops.TransB && !Ops.TransA && Ops.MHint && LdP < Ops.N &&
      !Ops.Accumulate && !Ops.MOff && !Ops.Finish && !Ops.CMOff) {
    G.transposedProduct(LdP);
    Epilogue(B.getInt64(0), Ops.M);
    return;
  }
  if (Ops.TransB) {
    G.pack();
    G.BBase = Ops.Pack;
  }
  GemmBlocking Blk = gemmBlocking(Ops.N, Lanes);
  // Rows in blocks of MR, and the last M % MR one at a time: one kernel
  // height more, not one per remainder (compile time grows with each).
  unsigned MR = Blk.MR;
  if (auto *C = dyn_cast<ConstantInt>(Ops.M))
    MR = gemmRowBlock(C->getSExtValue(), Blk, Lanes);
  else if (Ops.MHint)
    MR = gemmRowBlock(Ops.MHint, Blk, Lanes);
  Value *MFull = B.CreateMul(B.CreateUDiv(Ops.M, B.getInt64(MR)),
                             B.getInt64(MR));
  G.Loop.counted(B.getInt64(0), MFull, MR, [&](Value *M0) {
    G.rows(M0, MR, Blk.NR);
    Epilogue(M0, B.getInt64(MR));
  }, "mb");
  if (MR == 1)
    return;
  G.Loop.counted(MFull, Ops.M, 1, [&](Value *M0) {
    G.rows(M0, 1, Blk.NR);
    Epilogue(M0, B.getInt64(1));
  }, "mr");
}

void emitTranspose(IRBuilder<> &B, Value *Src, int64_t LdS, Value *Rows,
                   Value *Cols, Value *Dst, int64_t LdD, unsigned Lanes) {
  Type *Fl = B.getFloatTy();
  GemmOperands None;
  GemmEmitter G{B, None, Lanes, Fl, FixedVectorType::get(Fl, Lanes), nullptr};
  G.transpose(Src, LdS, Rows, Cols, Dst, LdD);
}

unsigned gemmRowBlock(int64_t M, GemmBlocking Blk, unsigned Lanes) {
  // The tallest block up to the register-limited one that divides M, so no
  // rows are left for the one-row kernel; below 4 rows that costs more
  // than the remainder does.
  for (unsigned MR = Blk.MR; MR >= 4; --MR)
    if (M % MR == 0)
      return MR;
  return Blk.MR;
}

} // namespace netjit
