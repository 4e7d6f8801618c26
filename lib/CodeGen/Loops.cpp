// Loops.cpp - the loop builder (Loops.h): counted loops, lane chunks, and
// the streaming loop whose body is emitted once for full and partial steps.
#include "netjit/CodeGen/Loops.h"

#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/Intrinsics.h"

using namespace llvm;

namespace netjit {

Constant *prefixMask(IRBuilder<> &B, unsigned L, int64_t Live) {
  if (Live >= L)
    return nullptr;
  SmallVector<Constant *, 16> Bits;
  for (unsigned J = 0; J < L; ++J)
    Bits.push_back(B.getInt1(J < Live));
  return ConstantVector::get(Bits);
}

void LoopBuilder::counted(Value *Begin, Value *End, int64_t Step,
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

void LoopBuilder::chunks(int64_t N, unsigned Lanes,
                         function_ref<void(Value *, Value *)> Body) {
  int64_t Full = N / Lanes, Part = N % Lanes;
  if (Full)
    counted(
        B.getInt64(0), B.getInt64(Full * Lanes), Lanes,
        [&](Value *J) { Body(J, nullptr); }, "c");
  if (Part)
    Body(B.getInt64(Full * Lanes), prefixMask(B, Lanes, Part));
}

namespace {

/// for (i = 0; i < n; i += L) out[i..] = compute(in[i..]). The computation
/// is emitted once (compile time grows with its size): it reads and writes
/// through address phis, which point into the arrays for full steps and, for
/// a partial step, at stack buffers filled and drained by masked loads and
/// stores around one more run of it. The partial steps are the last
/// (n - p) % L elements and, when streaming, the first p, which align the
/// outputs for non-temporal stores. The phases below run in this order.
class StreamLoop {
public:
  StreamLoop(IRBuilder<> &B, Value *N, unsigned L, ArrayRef<InStream> Ins,
             ArrayRef<Value *> Outs, bool Stream);
  /// Non-temporal stores where they pay and the outputs can be aligned:
  /// the head step's length p, and where the full steps end.
  void alignOutputs();
  /// The partial steps' and the body's phis.
  void statePhis();
  /// The entry's branches into the head step, the full steps or the tail.
  void enter();
  Error body(ComputeFn Compute, Value **Live);
  /// The full steps' latch, the partial steps' buffers, the exit.
  void finish();

private:
  BasicBlock *block(const char *Name) {
    return BasicBlock::Create(Ctx, Name, F);
  }
  Value *at(Value *Base, Value *Index, Value *IndexMask = nullptr) {
    if (IndexMask)
      Index = B.CreateAnd(Index, IndexMask);
    return B.CreateGEP(Fl, Base, Index);
  }
  /// Into the body from the current block: a partial step's start and
  /// count, or a full step at Index.
  void enterPart(Value *Start, Value *Count);
  void enterStep(Value *Index, bool Part);
  /// A full step at Index (in block Step) if More, else (in Else) the tail
  /// step if there is one, else the exit.
  void stepOrTail(Value *More, BasicBlock *Step, Value *Index,
                  BasicBlock *Else);
  void store(ArrayRef<Value *> Res, bool NT);

  IRBuilder<> &B;
  LLVMContext &Ctx;
  Function *F;
  Value *N;
  unsigned L;
  ArrayRef<InStream> Ins;
  ArrayRef<Value *> Outs;
  bool Stream;
  Type *I64, *Fl, *Ptr, *VT;
  BasicBlock *Entry, *ToHead, *AfterHead, *First, *NoFull, *Head, *Next, *Again,
      *AfterFull, *Fill, *ToTail, *Drain, *Exit;
  Value *Zero;
  SmallVector<Value *, 4> InBuf, OutBuf;
  uint64_t AlignBytes;
  Value *UseNT = nullptr, *P = nullptr, *End = nullptr, *HasTail = nullptr;
  SmallVector<Constant *, 64> Iota;
  Constant *AllLanes = nullptr;
  PHINode *PartAt = nullptr, *PartCount = nullptr, *I = nullptr,
          *Mask = nullptr, *IsPart = nullptr;
  Value *PartMask = nullptr;
  SmallVector<PHINode *, 4> InAddr, OutAddr;
};

StreamLoop::StreamLoop(IRBuilder<> &B, Value *N, unsigned L,
                       ArrayRef<InStream> Ins, ArrayRef<Value *> Outs,
                       bool Stream)
    : B(B), Ctx(B.getContext()), F(B.GetInsertBlock()->getParent()), L(L),
      Ins(Ins), Outs(Outs), Stream(Stream) {
  I64 = B.getInt64Ty();
  Fl = B.getFloatTy();
  Ptr = B.getPtrTy();
  VT = FixedVectorType::get(Fl, L);
  Entry = B.GetInsertBlock();
  ToHead = Stream ? block("to.head") : nullptr;
  AfterHead = block("after.head");
  First = block("first");
  NoFull = block("no.full");
  Head = block("body");
  Next = block("next");
  Again = block("again");
  AfterFull = block("after.full");
  Fill = block("part.fill");
  ToTail = block("to.tail");
  Drain = block("part.drain");
  Exit = block("exit");
  Zero = ConstantInt::get(I64, 0);
  // n <= 0 writes nothing (a negative n would otherwise make a tail of it).
  this->N = B.CreateBinaryIntrinsic(Intrinsic::smax, N, Zero);
  // Partial-step buffers live in the entry block, so a loop around this one
  // does not grow the stack.
  IRBuilder<> EntryB(&F->getEntryBlock(), F->getEntryBlock().begin());
  auto Buffer = [&] {
    AllocaInst *A = EntryB.CreateAlloca(VT);
    A->setAlignment(Align(64));
    return A;
  };
  for (size_t K = 0; K < Ins.size(); ++K)
    InBuf.push_back(Buffer());
  for (size_t K = 0; K < Outs.size(); ++K)
    OutBuf.push_back(Buffer());
  // With two or more input streams, their buffers' addresses go to an
  // empty inline asm, which emits nothing: a buffer whose address escapes
  // stays in memory, so SROA does not turn the step's loads through the
  // address phis into phis of loads issued at the end of the step before.
  // Hoisted so, a fused kernel's dy (read last) lived across the whole body
  // and was spilled: with 8 vectors per step, out of cache, that ran 2-3x
  // slower. One stream (a forward kernel's x, read first) gains from being
  // loaded a step ahead (docs/performance.md).
  if (InBuf.size() > 1) {
    FunctionType *EscapeTy = FunctionType::get(B.getVoidTy(), {Ptr}, false);
    for (Value *Buf : InBuf)
      EntryB.CreateCall(
          InlineAsm::get(EscapeTy, "", "r", /*hasSideEffects=*/true), {Buf});
  }
}

void StreamLoop::alignOutputs() {
  // Streaming: where the loop touches more than a last-level cache holds,
  // its outputs are gone from the cache before anyone reads them, so they
  // are written around it (no read for ownership, nothing evicted). That
  // needs every output aligned to the store width, reached by a head step
  // of p < L elements when all outputs sit alike modulo it.
  AlignBytes = std::min<uint64_t>(64, 4 * L);
  UseNT = B.getFalse();
  P = Zero;
  if (Stream && !Outs.empty()) {
    uint64_t Footprint = 4 * (Ins.size() + Outs.size());
    Value *Off = B.CreatePtrToInt(Outs[0], I64);
    UseNT = B.CreateAnd(
        B.CreateICmpUGE(N, ConstantInt::get(I64, StreamMinBytes / Footprint)),
        B.CreateICmpEQ(B.CreateAnd(Off, 3), Zero));
    Off = B.CreateAnd(Off, AlignBytes - 1);
    for (Value *O : Outs.drop_front())
      UseNT = B.CreateAnd(
          UseNT,
          B.CreateICmpEQ(B.CreateAnd(B.CreatePtrToInt(O, I64), AlignBytes - 1),
                         Off));
    P = B.CreateSelect(
        UseNT,
        B.CreateLShr(B.CreateAnd(B.CreateSub(Zero, Off), AlignBytes - 1), 2),
        Zero);
  }
  // Full steps run over [p, end).
  End = B.CreateAdd(P, B.CreateAnd(B.CreateSub(N, P),
                                   ConstantInt::get(I64, ~uint64_t(L - 1))));
  // Lane j is live in a partial step of c elements when j < c.
  for (unsigned J = 0; J < L; ++J)
    Iota.push_back(ConstantInt::get(I64, J));
  HasTail = B.CreateICmpSGT(N, End);
  AllLanes = ConstantInt::getTrue(VectorType::get(B.getInt1Ty(), L, false));
}

void StreamLoop::statePhis() {
  // A partial step's start and element count: the head's [0, p) or the
  // tail's [end, n).
  B.SetInsertPoint(Fill);
  PartAt = B.CreatePHI(I64, 2, "part.at");
  PartCount = B.CreatePHI(I64, 2, "part.count");
  PartMask = B.CreateICmpSLT(ConstantVector::get(Iota),
                             B.CreateVectorSplat(L, PartCount));
  // The step's state: index, lanes, partial flag, one address per stream.
  B.SetInsertPoint(Head);
  I = B.CreatePHI(I64, 3, "i");
  Mask = B.CreatePHI(PartMask->getType(), 3, "live");
  IsPart = B.CreatePHI(B.getInt1Ty(), 3, "is.part");
  for (size_t K = 0; K < Ins.size(); ++K)
    InAddr.push_back(B.CreatePHI(Ptr, 3, "in"));
  for (size_t K = 0; K < Outs.size(); ++K)
    OutAddr.push_back(B.CreatePHI(Ptr, 3, "out"));
}

void StreamLoop::enterPart(Value *Start, Value *Count) {
  BasicBlock *From = B.GetInsertBlock();
  PartAt->addIncoming(Start, From);
  PartCount->addIncoming(Count, From);
  B.CreateBr(Fill);
}

void StreamLoop::enterStep(Value *Index, bool Part) {
  BasicBlock *From = B.GetInsertBlock();
  I->addIncoming(Index, From);
  Mask->addIncoming(Part ? (Value *)PartMask : AllLanes, From);
  IsPart->addIncoming(B.getInt1(Part), From);
  for (size_t K = 0; K < Ins.size(); ++K)
    InAddr[K]->addIncoming(
        Part ? InBuf[K] : at(Ins[K].Base, Index, Ins[K].IndexMask), From);
  for (size_t K = 0; K < Outs.size(); ++K)
    OutAddr[K]->addIncoming(Part ? OutBuf[K] : at(Outs[K], Index), From);
  B.CreateBr(Head);
}

void StreamLoop::stepOrTail(Value *More, BasicBlock *Step, Value *Index,
                            BasicBlock *Else) {
  B.CreateCondBr(More, Step, Else);
  B.SetInsertPoint(Step);
  enterStep(Index, false);
  B.SetInsertPoint(Else);
  B.CreateCondBr(HasTail, ToTail, Exit);
}

void StreamLoop::enter() {
  B.SetInsertPoint(Entry);
  if (Stream) {
    B.CreateCondBr(B.CreateICmpSGT(P, Zero), ToHead, AfterHead);
    B.SetInsertPoint(ToHead);
    enterPart(Zero, P);
  } else {
    B.CreateBr(AfterHead);
  }
  B.SetInsertPoint(AfterHead);
  stepOrTail(B.CreateICmpSGT(End, P), First, P, NoFull);
  B.SetInsertPoint(ToTail);
  enterPart(End, B.CreateSub(N, End));
}

void StreamLoop::store(ArrayRef<Value *> Res, bool NT) {
  for (size_t K = 0; K < Outs.size(); ++K) {
    StoreInst *S =
        B.CreateAlignedStore(Res[K], OutAddr[K], Align(NT ? AlignBytes : 4));
    if (NT)
      S->setMetadata(LLVMContext::MD_nontemporal,
                     MDNode::get(Ctx, ConstantAsMetadata::get(B.getInt32(1))));
  }
}

Error StreamLoop::body(ComputeFn Compute, Value **Live) {
  B.SetInsertPoint(Head);
  if (Live)
    *Live = Mask;
  auto Res = Compute(
      [&](unsigned K) { return B.CreateAlignedLoad(VT, InAddr[K], Align(4)); });
  if (!Res)
    return Res.takeError();
  if (Stream) {
    BasicBlock *NT = block("store.nt"), *Plain = block("store"),
               *Stored = block("stored");
    B.CreateCondBr(B.CreateAnd(UseNT, B.CreateNot(IsPart)), NT, Plain);
    for (auto [BB, IsNT] : {std::pair(NT, true), std::pair(Plain, false)}) {
      B.SetInsertPoint(BB);
      store(*Res, IsNT);
      B.CreateBr(Stored);
    }
    B.SetInsertPoint(Stored);
  } else {
    store(*Res, false);
  }
  B.CreateCondBr(IsPart, Drain, Next);
  return Error::success();
}

void StreamLoop::finish() {
  B.SetInsertPoint(Next);
  Value *INext = B.CreateAdd(I, ConstantInt::get(I64, L), "i.next", true, true);
  stepOrTail(B.CreateICmpSLT(INext, End), Again, INext, AfterFull);

  B.SetInsertPoint(Fill);
  for (size_t K = 0; K < Ins.size(); ++K)
    B.CreateAlignedStore(
        B.CreateMaskedLoad(VT, at(Ins[K].Base, PartAt, Ins[K].IndexMask),
                           Align(4), PartMask, ConstantFP::get(VT, 0)),
        InBuf[K], Align(64));
  enterStep(PartAt, true);

  B.SetInsertPoint(Drain);
  for (size_t K = 0; K < Outs.size(); ++K)
    B.CreateMaskedStore(B.CreateAlignedLoad(VT, OutBuf[K], Align(64)),
                        at(Outs[K], I), Align(4), Mask);
  // The head step starts below p, the tail at end >= p.
  B.CreateCondBr(B.CreateICmpSLT(I, P), AfterHead, Exit);
  B.SetInsertPoint(Exit);
  if (Stream) {
    // Non-temporal stores are weakly ordered: fence them before the caller
    // hands the outputs on (to another thread, say).
    BasicBlock *Fence = block("fence"), *Done = block("done");
    B.CreateCondBr(UseNT, Fence, Done);
    B.SetInsertPoint(Fence);
    B.CreateFence(AtomicOrdering::SequentiallyConsistent);
    B.CreateBr(Done);
    B.SetInsertPoint(Done);
  }
}

} // namespace

Error LoopBuilder::streams(Value *N, unsigned L, ArrayRef<InStream> Ins,
                           ArrayRef<Value *> Outs, ComputeFn Compute,
                           Value **Live, bool Stream) {
  StreamLoop S(B, N, L, Ins, Outs, Stream);
  S.alignOutputs();
  S.statePhis();
  S.enter();
  if (Error E = S.body(Compute, Live))
    return E;
  S.finish();
  return Error::success();
}

} // namespace netjit
