// ProgramFrame.cpp - the training program's ABI: its functions'
// signatures and attributes, the frame each one addresses the arena,
// workspace, caller's rows and stats through, and the vector helpers its
// steps share.
#include "netjit/CodeGen/ProgramEmitter.h"

#include "netjit/CodeGen/Kernels.h"
#include "llvm/IR/IntrinsicsX86.h"
#include "llvm/TargetParser/Triple.h"

using namespace llvm;

namespace netjit {

ProgramEmitter::ProgramEmitter(Module &M, const TrainGraph &T, StringRef Prefix,
                               unsigned Lanes, unsigned Threads)
    : M(M), T(T), G(T.network()), Prefix(Prefix), Lanes(Lanes),
      Threads(Threads), L(Lanes * defaultInterleave(Lanes)),
      Avx512(Lanes == 16), VMRow(M, L, Avx512), VMLane(M, Lanes, Avx512),
      B(M.getContext()) {
  FlushDenormals = Triple(M.getTargetTriple()).isX86();
  Fl = B.getFloatTy();
  VT = FixedVectorType::get(Fl, Lanes);
  for (size_t I = 0; I < G.numActivations(); ++I) {
    Codes.push_back(
        G.activation(I).Spec.RowWise
            ? nullptr
            : std::make_unique<ActivationCode>(G.activation(I).Forms));
    ActClass.push_back(I);
    for (size_t J = 0; J < I; ++J)
      if (sameActivation(G.activation(J), G.activation(I))) {
        ActClass[I] = ActClass[J];
        break;
      }
  }
}

Value *ProgramEmitter::load(Value *Base, Value *Col, Value *Mask, double Pass) {
  Value *P = B.CreateInBoundsGEP(Fl, Base, Col);
  if (!Mask)
    return B.CreateAlignedLoad(VT, P, Align(4));
  return B.CreateMaskedLoad(VT, P, Align(4), Mask, splatF(Lanes, Pass));
}

void ProgramEmitter::store(Value *V, Value *Base, Value *Col, Value *Mask) {
  Value *P = B.CreateInBoundsGEP(Fl, Base, Col);
  if (!Mask)
    B.CreateAlignedStore(V, P, Align(4));
  else
    B.CreateMaskedStore(V, P, Align(4), Mask);
}

Value *ProgramEmitter::accumulator(Type *Ty, Value *Init) {
  IRBuilder<> EB(&Fr.F->getEntryBlock(), Fr.F->getEntryBlock().begin());
  AllocaInst *A = EB.CreateAlloca(Ty);
  B.CreateStore(Init, A);
  return A;
}

void ProgramEmitter::accumulate(Value *Acc, Value *V, Intrinsic::ID Op) {
  Value *Old = B.CreateLoad(V->getType(), Acc);
  Value *New = Op == Intrinsic::not_intrinsic
                   ? B.CreateFAdd(Old, V)
                   : B.CreateBinaryIntrinsic(Op, Old, V);
  B.CreateStore(New, Acc);
}

Value *ProgramEmitter::reduceAdd(Value *Acc, unsigned Width) {
  Value *V = B.CreateLoad(Width ? FixedVectorType::get(Fl, Width) : VT, Acc);
  CallInst *R = B.CreateFAddReduce(f32(-0.0), V);
  R->setHasAllowReassoc(true);
  return R;
}

Value *ProgramEmitter::reduceMax(Value *Acc) {
  return B.CreateFPMaxReduce(B.CreateLoad(VT, Acc));
}

Value *ProgramEmitter::scalarLog(Value *S) {
  return B.CreateExtractElement(VMLane.call(B, Op::Log, splat(Lanes, S)),
                                uint64_t(0));
}

void ProgramEmitter::flushDenormals() {
  if (!FlushDenormals)
    return;
  IRBuilder<> EB(&Fr.F->getEntryBlock(), Fr.F->getEntryBlock().begin());
  SavedMode = EB.CreateAlloca(B.getInt32Ty(), nullptr, "mxcsr.caller");
  Value *Ours = EB.CreateAlloca(B.getInt32Ty(), nullptr, "mxcsr");
  B.CreateIntrinsic(Intrinsic::x86_sse_stmxcsr, {}, {SavedMode});
  B.CreateStore(
      B.CreateOr(B.CreateLoad(B.getInt32Ty(), SavedMode), B.getInt32(0x8040)),
      Ours);
  B.CreateIntrinsic(Intrinsic::x86_sse_ldmxcsr, {}, {Ours});
}

void ProgramEmitter::restoreDenormals() {
  if (FlushDenormals)
    B.CreateIntrinsic(Intrinsic::x86_sse_ldmxcsr, {}, {SavedMode});
}

Function *ProgramEmitter::declare(const Twine &Name, Sig S,
                                  const KernelUses *U) {
  LLVMContext &Ctx = M.getContext();
  Type *Ptr = PointerType::getUnqual(Ctx), *I64 = Type::getInt64Ty(Ctx);
  SmallVector<Type *, 8> Params;
  SmallVector<unsigned, 6> NoAlias;
  switch (S) {
  case Sig::Entry: // arena, x, io, batch, stats
    Params = {Ptr, Ptr, Ptr, I64, Ptr};
    NoAlias = {0, 1, 2, 4};
    break;
  case Sig::Part: // arena, work, x, io, rows, stats, total, row0
  case Sig::Rows: // ... row0, rows, then what KernelUses lists
    Params = {Ptr, Ptr, Ptr, Ptr, I64, Ptr, I64, I64};
    if (S == Sig::Rows)
      Params.append({I64, I64});
    if (U) {
      Params.append(U->Tensors.size() + U->Stats.size(), Ptr);
      Params.append(U->Streams.size(), Type::getInt32Ty(Ctx));
    }
    NoAlias = {0, 1, 2, 3, 5};
    break;
  case Sig::Kernel: // the caller's frame, what KernelUses lists (i64s)
    // Two arguments, not a dozen: the calls are most of what grows with
    // depth, and a long argument list costs instruction selection.
    Params = {Ptr, Ptr};
    break;
  case Sig::Update: // arena, extra workspaces, lo, hi, stats
  case Sig::Range:  // ... begin, count, stats field
    Params = {Ptr, Ptr, I64, I64, Ptr};
    if (S == Sig::Range)
      Params.append({I64, I64, I64});
    NoAlias = {0, 4};
    break;
  case Sig::Advance: // arena
    Params = {Ptr};
    break;
  }
  // An entry point called before its body is emitted is declared first.
  Function *F = M.getFunction(Name.str());
  if (!F || !F->isDeclaration())
    F = Function::Create(FunctionType::get(Type::getVoidTy(Ctx), Params, false),
                         S == Sig::Rows || S == Sig::Kernel || S == Sig::Range
                             ? GlobalValue::InternalLinkage
                             : GlobalValue::ExternalLinkage,
                         Name, M);
  F->addFnAttr(Attribute::NoUnwind);
  F->addFnAttr("min-legal-vector-width", std::to_string(Lanes * 32));
  F->addFnAttr("prefer-vector-width", std::to_string(Lanes * 32));
  // The caller's x, io and stats never alias the arena or a workspace.
  for (unsigned I : NoAlias)
    F->addParamAttr(I, Attribute::NoAlias);
  return F;
}

void ProgramEmitter::enter(Function *F, Sig S, const KernelUses *U) {
  B.SetInsertPoint(BasicBlock::Create(M.getContext(), "entry", F));
  auto A = [&](unsigned I) { return F->getArg(I); };
  Fr = ProgramFrame();
  Fr.F = F;
  Fr.Arena = A(0);
  switch (S) {
  case Sig::Entry:
    Fr.Work = B.CreateConstInBoundsGEP1_64(Fl, A(0), T.workOffset());
    Fr.X = A(1);
    Fr.IO = A(2);
    Fr.Batch = Fr.Total = A(3);
    Fr.Stats = A(4);
    Fr.Row0 = i64(0);
    break;
  case Sig::Kernel:
    enterKernel(*U);
    break;
  case Sig::Part:
  case Sig::Rows: {
    Fr.Work = A(1);
    Fr.X = A(2);
    Fr.IO = A(3);
    Fr.Batch = A(4);
    Fr.Stats = A(5);
    Fr.Total = A(6);
    Fr.Row0 = A(7);
    if (!U)
      break;
    Fr.Uses = U;
    unsigned Next = S == Sig::Rows ? 10 : 8;
    for (int T : U->Tensors)
      Fr.TensorArg[T] = A(Next++);
    for (int St : U->Stats)
      Fr.StatArg[St] = A(Next++);
    for (int L : U->Streams)
      Fr.StreamArg[L] = A(Next++);
    break;
  }
  case Sig::Update:
  case Sig::Range:
    Fr.Stats = A(4);
    break;
  case Sig::Advance:
    // The moving statistics read what the step left in the arena's own
    // workspace (a batch-coupled step runs on one thread).
    Fr.Work = B.CreateConstInBoundsGEP1_64(Fl, A(0), T.workOffset());
    break;
  }
  if (S == Sig::Entry || S == Sig::Part || S == Sig::Update)
    flushDenormals();
  if (S == Sig::Entry || S == Sig::Part)
    storeFrame();
}

/// F's body by Body, emitted aside: the frame and insertion point of the
/// function being emitted are kept.
Error ProgramEmitter::emitAside(Function *F, Sig S, const KernelUses *U,
                                function_ref<Error(Function *)> Body) {
  ProgramFrame Saved = Fr;
  IRBuilderBase::InsertPoint IP = B.saveIP();
  enter(F, S, U);
  Error E = Body(F);
  if (!E)
    B.CreateRetVoid();
  Fr = Saved;
  B.restoreIP(IP);
  return E;
}

/// The frame as kernels read it: {arena, work, x, io, batch, stats,
/// total, row0}, in the entry block.
StructType *ProgramEmitter::frameType() {
  Type *Ptr = B.getPtrTy(), *I64 = B.getInt64Ty();
  return StructType::get(M.getContext(),
                         {Ptr, Ptr, Ptr, Ptr, I64, Ptr, I64, I64});
}

void ProgramEmitter::storeFrame() {
  StructType *Ty = frameType();
  Fr.Slot = B.CreateAlloca(Ty, nullptr, "frame");
  Value *Fields[] = {Fr.Arena, Fr.Work,  Fr.X,     Fr.IO,
                     Fr.Batch, Fr.Stats, Fr.Total, Fr.Row0};
  for (unsigned I = 0; I < 8; ++I)
    B.CreateStore(Fields[I], B.CreateStructGEP(Ty, Fr.Slot, I));
}

/// A kernel's frame from its caller's, and what U lists from the i64s
/// its second argument points at: tensors as offsets in floats from their
/// base (the role's: the key keeps roles apart), stats fields as indices,
/// dropout streams as their 32-bit keys.
void ProgramEmitter::enterKernel(const KernelUses &U) {
  Function *F = Fr.F;
  StructType *Ty = frameType();
  Value *Fields[8];
  for (unsigned I = 0; I < 8; ++I)
    Fields[I] = B.CreateLoad(Ty->getElementType(I),
                             B.CreateStructGEP(Ty, F->getArg(0), I));
  Fr.Arena = Fields[0];
  Fr.Work = Fields[1];
  Fr.X = Fields[2];
  Fr.IO = Fields[3];
  Fr.Batch = Fields[4];
  Fr.Stats = Fields[5];
  Fr.Total = Fields[6];
  Fr.Row0 = Fields[7];
  Fr.Uses = &U;
  unsigned Next = 0;
  auto Word = [&] {
    return B.CreateLoad(
        B.getInt64Ty(),
        B.CreateConstInBoundsGEP1_64(B.getInt64Ty(), F->getArg(1), Next++));
  };
  for (int Id : U.Tensors)
    Fr.TensorArg[Id] =
        B.CreateInBoundsGEP(Fl, tensorBase(T.tensor(Id).Role), Word());
  for (int Field : U.Stats)
    Fr.StatArg[Field] = B.CreateInBoundsGEP(B.getDoubleTy(), Fr.Stats, Word());
  for (int Layer : U.Streams)
    Fr.StreamArg[Layer] = B.CreateTrunc(Word(), B.getInt32Ty());
}

Value *ProgramEmitter::passed(const DenseMap<int, Value *> &Args, int Key,
                              bool Required) {
  if (!Fr.Uses)
    return nullptr;
  if (Value *V = Args.lookup(Key))
    return V;
  // The kernel would address its first caller's own, for every caller.
  Unbound |= Required;
  return nullptr;
}

Value *ProgramEmitter::ptr(int Tensor) {
  if (Value *V = passed(Fr.TensorArg, Tensor, true))
    return V;
  const TensorInfo &I = T.tensor(Tensor);
  int64_t Offset = tensorOffset(I);
  Value *Base = tensorBase(I.Role);
  return Offset ? B.CreateConstInBoundsGEP1_64(Fl, Base, Offset) : Base;
}

Value *ProgramEmitter::tensorBase(TensorRole R) {
  switch (R) {
  case TensorRole::Input:
    return Fr.X;
  case TensorRole::Labels:
  case TensorRole::Targets:
    return Fr.IO;
  case TensorRole::Grad:
  case TensorRole::Value:
  case TensorRole::Scratch:
    return Fr.Work;
  case TensorRole::Param:
  case TensorRole::Slot:
    break;
  }
  return Fr.Arena;
}

int64_t ProgramEmitter::tensorOffset(const TensorInfo &I) {
  switch (I.Role) {
  case TensorRole::Input:
  case TensorRole::Labels:
  case TensorRole::Targets:
    return 0;
  case TensorRole::Grad:
  case TensorRole::Value:
  case TensorRole::Scratch:
    return I.Offset - T.workOffset();
  case TensorRole::Param:
  case TensorRole::Slot:
    break;
  }
  return I.Offset;
}

Value *ProgramEmitter::rowPtr(int Tensor, Value *Row) {
  const TensorInfo &I = T.tensor(Tensor);
  if (I.PerSample)
    return ptr(Tensor); // every sample's row is the one row
  return B.CreateInBoundsGEP(Fl, ptr(Tensor), B.CreateMul(Row, i64(I.Cols)));
}

Value *ProgramEmitter::header(unsigned Field) {
  return B.CreateConstInBoundsGEP1_64(B.getInt64Ty(), Fr.Arena, Field);
}

Value *ProgramEmitter::statPtr(unsigned Field) {
  // StepStats' own fields are every caller's; a diagnostics field is passed.
  if (Value *V = passed(Fr.StatArg, Field, false))
    return V;
  return B.CreateConstInBoundsGEP1_64(B.getDoubleTy(), Fr.Stats, Field);
}

void ProgramEmitter::addStat(unsigned Field, Value *V) {
  addStatAt(statPtr(Field), V);
}

void ProgramEmitter::addStatAt(Value *P, Value *V) {
  Value *D = V->getType()->isDoubleTy() ? V : B.CreateFPExt(V, B.getDoubleTy());
  B.CreateStore(B.CreateFAdd(B.CreateLoad(B.getDoubleTy(), P), D), P);
}

Value *ProgramEmitter::streamKey(int Layer) {
  if (Value *V = passed(Fr.StreamArg, Layer, true))
    return V;
  return B.getInt32(streamConstant(Layer));
}

} // namespace netjit
