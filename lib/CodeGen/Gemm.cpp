// Gemm.cpp - register-blocked matrix products emitted as LLVM IR.
#include "netjit/CodeGen/Gemm.h"

#include "llvm/IR/Intrinsics.h"

using namespace llvm;

namespace netjit {

void emitFor(IRBuilder<> &B, Value *Begin, Value *End, int64_t Step,
             function_ref<void(Value *)> Body, const Twine &Name) {
  LLVMContext &Ctx = B.getContext();
  Function *F = B.GetInsertBlock()->getParent();
  BasicBlock *Pre = B.GetInsertBlock();
  BasicBlock *Head = BasicBlock::Create(Ctx, Name + ".body", F);
  BasicBlock *Exit = BasicBlock::Create(Ctx, Name + ".exit", F);
  B.CreateCondBr(B.CreateICmpSLT(Begin, End), Head, Exit);
  B.SetInsertPoint(Head);
  PHINode *I = B.CreatePHI(B.getInt64Ty(), 2, Name);
  I->addIncoming(Begin, Pre);
  Body(I);
  Value *Next = B.CreateAdd(I, B.getInt64(Step), Name + ".next", true, true);
  I->addIncoming(Next, B.GetInsertBlock());
  B.CreateCondBr(B.CreateICmpSLT(Next, End), Head, Exit);
  B.SetInsertPoint(Exit);
}

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

  Value *gep(Value *Base, Value *Index) { return B.CreateGEP(Fl, Base, Index); }
  Value *i64(int64_t V) { return B.getInt64(V); }

  /// A(m, k) as a scalar.
  Value *loadA(Value *M, Value *K) {
    Value *Idx = Ops.TransA ? B.CreateAdd(B.CreateMul(K, i64(Ops.Lda)), M)
                            : B.CreateAdd(B.CreateMul(M, i64(Ops.Lda)), K);
    return B.CreateLoad(Fl, gep(Ops.A, Idx));
  }

  /// Mask of the first Live lanes, or null when all are live.
  Value *mask(int64_t Live) {
    if (Live >= L)
      return nullptr;
    SmallVector<Constant *, 16> Bits;
    for (unsigned J = 0; J < L; ++J)
      Bits.push_back(B.getInt1(J < Live));
    return ConstantVector::get(Bits);
  }

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
    for (unsigned R = 0; R < MR; ++R) {
      Value *A = B.CreateVectorSplat(L, loadA(B.CreateAdd(M0, i64(R)), K));
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
    for (unsigned R = 0; R < MR; ++R) {
      Value *RowOff = B.CreateMul(B.CreateAdd(M0, i64(R)), i64(Ops.Ldc));
      for (unsigned V = 0; V < NR; ++V) {
        Value *Col = B.CreateAdd(N0, i64(V * L));
        storeVec(Next[R * NR + V], gep(Ops.C, B.CreateAdd(RowOff, Col)),
                 V + 1 == NR ? mask(LastLive) : nullptr);
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
      emitFor(B, i64(0), i64(Blocks * NR * L), NR * L,
              [&](Value *N0) { micro(M0, MR, N0, NR, L); }, "nb");
    if (TailVecs)
      micro(M0, MR, i64(Blocks * NR * L), TailVecs, Part ? Part : L);
  }

  /// Bt = B^T: Pack[k][n] = B[n][k]. Whole L x L tiles are transposed in
  /// registers (log2 L rounds of block swaps, one shuffle per row each:
  /// about a sixth of the scalar copy's instructions); the edges past the
  /// last whole tile are copied one float at a time.
  void pack() {
    int64_t NT = Ops.N / L * L;
    Value *KT = B.CreateAnd(Ops.K, i64(~int64_t(L - 1)));
    auto Copy = [&](Value *N, Value *K) {
      Value *V = B.CreateLoad(
          Fl, gep(Ops.B, B.CreateAdd(B.CreateMul(N, i64(Ops.Ldb)), K)));
      B.CreateStore(V, gep(Ops.Pack, B.CreateAdd(B.CreateMul(K, i64(Ops.N)), N)));
    };
    if (NT)
      emitFor(B, i64(0), KT, L, [&](Value *K0) {
        emitFor(B, i64(0), i64(NT), L, [&](Value *N0) {
          SmallVector<Value *, 16> R;
          for (unsigned I = 0; I < L; ++I)
            R.push_back(B.CreateAlignedLoad(
                VT,
                gep(Ops.B, B.CreateAdd(B.CreateMul(B.CreateAdd(N0, i64(I)),
                                                   i64(Ops.Ldb)),
                                       K0)),
                Align(4)));
          // Swap the off-diagonal D x D blocks of every 2D x 2D block, for
          // D = L/2 down to 1: the tile's transpose.
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
          for (unsigned I = 0; I < L; ++I)
            B.CreateAlignedStore(
                R[I],
                gep(Ops.Pack, B.CreateAdd(B.CreateMul(B.CreateAdd(K0, i64(I)),
                                                      i64(Ops.N)),
                                          N0)),
                Align(4));
        }, "pn");
      }, "pk");
    // Columns past the whole tiles (every k), then rows k past them.
    if (NT < Ops.N)
      emitFor(B, i64(0), KT, 1, [&](Value *K) {
        emitFor(B, i64(NT), i64(Ops.N), 1, [&](Value *N) { Copy(N, K); }, "en");
      }, "ek");
    emitFor(B, KT, Ops.K, 1, [&](Value *K) {
      emitFor(B, i64(0), i64(Ops.N), 1, [&](Value *N) { Copy(N, K); }, "rn");
    }, "rk");
  }
};

} // namespace

void emitGemm(IRBuilder<> &B, const GemmOperands &Ops, unsigned Lanes,
              function_ref<void(Value *, Value *)> Epilogue) {
  Type *Fl = B.getFloatTy();
  GemmEmitter G{B, Ops, Lanes, Fl, FixedVectorType::get(Fl, Lanes), Ops.B};
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
  emitFor(B, B.getInt64(0), MFull, MR, [&](Value *M0) {
    G.rows(M0, MR, Blk.NR);
    Epilogue(M0, B.getInt64(MR));
  }, "mb");
  if (MR == 1)
    return;
  emitFor(B, MFull, Ops.M, 1, [&](Value *M0) {
    G.rows(M0, 1, Blk.NR);
    Epilogue(M0, B.getInt64(1));
  }, "mr");
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
