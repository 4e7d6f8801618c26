// Program.cpp - lowers the train, gradients, evaluate and predict programs
// to LLVM IR: GEMMs with their fused epilogues, row kernels for the losses,
// and the optimizer update as one loop over the parameters.
#include "netjit/CodeGen/Program.h"

#include "netjit/CodeGen/Emitter.h"
#include "netjit/CodeGen/Gemm.h"
#include "netjit/CodeGen/VectorMath.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/bit.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/IntrinsicsX86.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/TargetParser/Triple.h"
#include <cmath>

using namespace llvm;

namespace netjit {

StringRef entryPointName(EntryPoint E) {
  switch (E) {
  case EntryPoint::GradientsPart:
    return "gradients_part";
  case EntryPoint::TrainStep:
    return "train_step";
  case EntryPoint::Gradients:
    return "gradients";
  case EntryPoint::Evaluate:
    return "evaluate";
  case EntryPoint::Predict:
    return "predict";
  case EntryPoint::Advance:
    return "advance";
  case EntryPoint::UpdatePart:
    return "update_part";
  }
  return "?";
}

namespace {

/// The function being emitted and what its code addresses: the arena, the
/// workspace (gradients, values, scratch: the arena's own or a thread's),
/// the caller's rows (Batch of them, the first being row Row0 of a batch of
/// Total), the stats. Kernels read the same from their caller's copy in
/// memory (Slot); row functions (epilogues) take it as arguments.
struct Frame {
  Function *F = nullptr;
  Value *Arena = nullptr, *Work = nullptr, *X = nullptr, *IO = nullptr,
        *Batch = nullptr, *Stats = nullptr, *Total = nullptr, *Row0 = nullptr;
  Value *Slot = nullptr;
  /// In a kernel: what it was passed for the layer calling it (KernelUses),
  /// by tensor, stats field and dropout layer.
  const struct KernelUses *Uses = nullptr;
  DenseMap<int, Value *> TensorArg, StatArg, StreamArg;
};

/// What a kernel (a GEMM with its epilogue, a loss, a row-wise step) is
/// passed instead of addressing the calling layer's own: its tensors, its
/// diagnostics' stats fields and its dropout streams, in the order its steps
/// first name them. Key spells the steps with these numbered, so layers
/// whose steps differ only in them call one function: compile time grows
/// with the distinct kernels, not with depth.
struct KernelUses {
  StringRef Kind; // "gemm", "loss", "rows": the start of its name
  std::vector<int> Tensors, Stats, Streams;
  std::string Key;
};

/// Dropout's constant for a layer's stream of masks.
uint32_t streamConstant(int Layer) { return Layer * 0x9E3779B9u; }

/// The signatures: an entry point's, a part's (gradients_part; row
/// functions append their row range, then what KernelUses lists),
/// a kernel's, update_part's and advance's.
enum class Sig { Entry, Part, Rows, Kernel, Update, Range, Advance };

class ProgramEmitter {
public:
  ProgramEmitter(Module &M, const TrainGraph &T, StringRef Prefix,
                 unsigned Lanes, unsigned Threads)
      : M(M), T(T), G(T.network()), Prefix(Prefix), Lanes(Lanes),
        Threads(Threads),
        L(Lanes * defaultInterleave(Lanes)), Avx512(Lanes == 16),
        VMRow(M, L, Avx512), VMLane(M, Lanes, Avx512), B(M.getContext()) {
    FlushDenormals = Triple(M.getTargetTriple()).isX86();
    Fl = B.getFloatTy();
    VT = FixedVectorType::get(Fl, Lanes);
    for (size_t I = 0; I < G.numActivations(); ++I) {
      Codes.push_back(G.activation(I).Spec.RowWise
                          ? nullptr
                          : std::make_unique<ActivationCode>(
                                G.activation(I).Forms));
      ActClass.push_back(I);
      for (size_t J = 0; J < I; ++J)
        if (sameActivation(G.activation(J), G.activation(I))) {
          ActClass[I] = ActClass[J];
          break;
        }
    }
  }

  Error emit(EntryPoint E);

private:
  Module &M;
  const TrainGraph &T;
  const NetworkGraph &G;
  std::string Prefix;
  unsigned Lanes, Threads, L;
  bool Avx512;
  VectorMath VMRow, VMLane;
  IRBuilder<> B;
  Type *Fl;
  FixedVectorType *VT;
  std::vector<std::unique_ptr<ActivationCode>> Codes;
  /// Each activation's first equal one: layers with the same formula and
  /// fixed parameters share kernels.
  std::vector<int> ActClass;
  Frame Fr;
  unsigned RowFns = 0, KernelFns = 0;
  /// The kernels emitted so far, by KernelUses::Key.
  StringMap<Function *> Kernels;
  /// Set where a kernel's code named something it was not passed.
  bool Unbound = false;

  static bool sameActivation(const NetActivation &A, const NetActivation &C) {
    const ActivationForms &F = A.Forms, &H = C.Forms;
    // Expressions are hash-consed in the graph's context: equal formulas
    // are the same nodes.
    return !A.Spec.RowWise && !C.Spec.RowWise && F.Forward == H.Forward &&
           F.Derivative == H.Derivative && F.DerivativeY == H.DerivativeY &&
           F.ParamDerivatives == H.ParamDerivatives && F.Params == H.Params &&
           A.Fixed == C.Fixed &&
           llvm::equal(llvm::make_first_range(A.Trained),
                       llvm::make_first_range(C.Trained));
  }

  Value *i64(int64_t V) { return B.getInt64(V); }
  Value *f32(double V) { return ConstantFP::get(Fl, V); }
  Value *splat(unsigned N, Value *S) { return B.CreateVectorSplat(N, S); }
  Value *splatF(unsigned N, double V) { return splat(N, f32(V)); }

  /// x86 keeps denormals in MXCSR, per thread: an entry point flushes
  /// them (FTZ and DAZ) and restores the caller's mode on return. Adam's
  /// first moment shrinks by beta_1 at every step a unit's gradient is 0
  /// (a dead relu unit) and is denormal after about 800 steps, where x86
  /// arithmetic is many times slower: the relu MLP's epoch measured 0.158 s
  /// against 0.131 s flushed. TensorFlow flushes them on CPU too.
  bool FlushDenormals = false;
  Value *SavedMode = nullptr;
  void flushDenormals() {
    if (!FlushDenormals)
      return;
    IRBuilder<> EB(&Fr.F->getEntryBlock(), Fr.F->getEntryBlock().begin());
    SavedMode = EB.CreateAlloca(B.getInt32Ty(), nullptr, "mxcsr.caller");
    Value *Ours = EB.CreateAlloca(B.getInt32Ty(), nullptr, "mxcsr");
    B.CreateIntrinsic(Intrinsic::x86_sse_stmxcsr, {}, {SavedMode});
    B.CreateStore(B.CreateOr(B.CreateLoad(B.getInt32Ty(), SavedMode),
                             B.getInt32(0x8040)),
                  Ours);
    B.CreateIntrinsic(Intrinsic::x86_sse_ldmxcsr, {}, {Ours});
  }
  void restoreDenormals() {
    if (FlushDenormals)
      B.CreateIntrinsic(Intrinsic::x86_sse_ldmxcsr, {}, {SavedMode});
  }

  Function *declare(const Twine &Name, Sig S,
                    const KernelUses *U = nullptr) {
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
      F = Function::Create(
          FunctionType::get(Type::getVoidTy(Ctx), Params, false),
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

  void enter(Function *F, Sig S, const KernelUses *U = nullptr) {
    B.SetInsertPoint(BasicBlock::Create(M.getContext(), "entry", F));
    auto A = [&](unsigned I) { return F->getArg(I); };
    Fr = Frame();
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
      break;
    }
    if (S == Sig::Entry || S == Sig::Part || S == Sig::Update)
      flushDenormals();
    if (S == Sig::Entry || S == Sig::Part)
      storeFrame();
  }

  /// The frame as kernels read it: {arena, work, x, io, batch, stats,
  /// total, row0}, in the entry block.
  StructType *frameType() {
    Type *Ptr = B.getPtrTy(), *I64 = B.getInt64Ty();
    return StructType::get(M.getContext(),
                           {Ptr, Ptr, Ptr, Ptr, I64, Ptr, I64, I64});
  }
  void storeFrame() {
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
  void enterKernel(const KernelUses &U) {
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
      return B.CreateLoad(B.getInt64Ty(), B.CreateConstInBoundsGEP1_64(
                                              B.getInt64Ty(), F->getArg(1),
                                              Next++));
    };
    for (int Id : U.Tensors)
      Fr.TensorArg[Id] =
          B.CreateInBoundsGEP(Fl, tensorBase(T.tensor(Id).Role), Word());
    for (int Field : U.Stats)
      Fr.StatArg[Field] =
          B.CreateInBoundsGEP(B.getDoubleTy(), Fr.Stats, Word());
    for (int Layer : U.Streams)
      Fr.StreamArg[Layer] = B.CreateTrunc(Word(), B.getInt32Ty());
  }

  /// A tensor's first float.
  Value *ptr(int Tensor) {
    if (Fr.Uses) {
      auto It = Fr.TensorArg.find(Tensor);
      if (It != Fr.TensorArg.end())
        return It->second;
      Unbound = true;
    }
    const TensorInfo &I = T.tensor(Tensor);
    int64_t Offset = tensorOffset(I);
    Value *Base = tensorBase(I.Role);
    return Offset ? B.CreateConstInBoundsGEP1_64(Fl, Base, Offset) : Base;
  }
  /// Where a tensor of role R lives: the caller's x or io, the workspace
  /// (gradients, values, scratch) or the arena; and its offset there.
  Value *tensorBase(TensorRole R) {
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
  int64_t tensorOffset(const TensorInfo &I) {
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
  Value *rowPtr(int Tensor, Value *Row) {
    return B.CreateInBoundsGEP(
        Fl, ptr(Tensor), B.CreateMul(Row, i64(T.tensor(Tensor).Cols)));
  }
  int64_t cols(int Tensor) { return T.tensor(Tensor).Cols; }

  /// The header's fields (HeaderWord).
  Value *header(unsigned Field) {
    return B.CreateConstInBoundsGEP1_64(B.getInt64Ty(), Fr.Arena, Field);
  }

  /// Parameter lanes for activation A inside a loop of N lanes: fixed values
  /// and shared parameters as splats made here, per-unit ones as column
  /// streams appended to Ins (their index in Streams).
  struct ParamPlan {
    ParamLanes Splats;
    std::vector<std::pair<std::string, unsigned>> Streams;
    ParamLanes bind(LoadFn In) const {
      ParamLanes P = Splats;
      for (auto &[N, K] : Streams)
        P[N] = In(K);
      return P;
    }
  };
  ParamPlan params(const NetActivation &A, unsigned N,
                   SmallVectorImpl<InStream> &Ins) {
    ParamPlan P;
    for (auto &[Name, V] : A.Fixed)
      P.Splats[Name] = splatF(N, V);
    for (auto &[Name, Index] : A.Trained) {
      int Tensor = T.paramTensor(Index);
      if (cols(Tensor) == 1) {
        P.Splats[Name] = splat(N, B.CreateLoad(Fl, ptr(Tensor), Name));
      } else {
        P.Streams.push_back({Name, (unsigned)Ins.size()});
        Ins.push_back({ptr(Tensor)});
      }
    }
    return P;
  }

  Error rowStep(const Step &S, Value *Row);
  Error rowSteps(ArrayRef<Step> Steps, Value *Row0, Value *Rows);
  Expected<Function *> rowFunction(ArrayRef<Step> Steps);
  KernelUses uses(ArrayRef<Step> Steps, StringRef Kind);
  void collectUses(const Step &S, KernelUses &U, raw_ostream &OS);
  Expected<Function *> kernel(const KernelUses &U, Sig S,
                              function_ref<Error(Function *)> Body);
  /// Calls kernel K with the frame, Extra (a row range) and what U lists,
  /// as this frame addresses them.
  void callKernel(Function *K, const KernelUses &U);
  void callRows(Function *RF, Value *Row0, Value *Rows);
  /// Every kernel call's i64s, one array for the module (KernelArgs, a
  /// placeholder until finish() knows them all).
  std::vector<int64_t> ArgWords;
  GlobalVariable *KernelArgs = nullptr;

public:
  /// Emits the kernels' argument array.
  void finish();

private:
  Error step(const Step &S);
  Error matMul(const Step &S);
  Error lossRows(const Step &S);
  Error lossRow(const Step &S, Value *Row);
  Value *dropoutKey(const Step &S, Value *Row);
  Value *dropoutScale(const Step &S, Value *Key, Value *ColIdx);
  GlobalVariable *columnIndices(int64_t N);
  void advance();
  Error update(Value *Lo, Value *Hi, unsigned NExtra, Value *Extra);
  Expected<Function *> updateKernel(double L1, double L2, bool SumSq,
                                    unsigned NExtra);
  Error updateRange(Value *Lo, Value *Hi, Value *Begin, Value *Count,
                    double L1, double L2, Value *SumSqAt, unsigned NExtra,
                    Value *Extra);
  void addStat(unsigned Field, Value *V);
  void addStatAt(Value *P, Value *V);
  /// A stats field: a kernel's argument for a diagnostics field it names.
  Value *statPtr(unsigned Field) {
    if (Fr.Uses) {
      auto It = Fr.StatArg.find(Field);
      if (It != Fr.StatArg.end())
        return It->second;
    }
    return B.CreateConstInBoundsGEP1_64(B.getDoubleTy(), Fr.Stats, Field);
  }
  /// Dropout's layer constant (a kernel's argument).
  Value *streamKey(int Layer) {
    if (Fr.Uses) {
      auto It = Fr.StreamArg.find(Layer);
      if (It != Fr.StreamArg.end())
        return It->second;
      Unbound = true;
    }
    return B.getInt32(streamConstant(Layer));
  }

  /// Chunks of Lanes floats over [0, N): whole ones in a loop, then the
  /// last N % Lanes under a mask (null for whole chunks).
  void forChunks(int64_t N, function_ref<void(Value *Col, Value *Mask)> Body) {
    int64_t Full = N / Lanes, Part = N % Lanes;
    if (Full)
      emitFor(B, i64(0), i64(Full * Lanes), Lanes,
              [&](Value *J) { Body(J, nullptr); }, "c");
    if (Part) {
      SmallVector<Constant *, 16> Bits;
      for (unsigned J = 0; J < Lanes; ++J)
        Bits.push_back(B.getInt1(J < Part));
      Body(i64(Full * Lanes), ConstantVector::get(Bits));
    }
  }
  Value *load(Value *Base, Value *Col, Value *Mask, double Pass = 0) {
    Value *P = B.CreateInBoundsGEP(Fl, Base, Col);
    if (!Mask)
      return B.CreateAlignedLoad(VT, P, Align(4));
    return B.CreateMaskedLoad(VT, P, Align(4), Mask, splatF(Lanes, Pass));
  }
  void store(Value *V, Value *Base, Value *Col, Value *Mask) {
    Value *P = B.CreateInBoundsGEP(Fl, Base, Col);
    if (!Mask)
      B.CreateAlignedStore(V, P, Align(4));
    else
      B.CreateMaskedStore(V, P, Align(4), Mask);
  }
  /// A vector accumulator: an entry-block slot SROA turns into a register.
  Value *accumulator(Type *Ty, Value *Init) {
    IRBuilder<> EB(&Fr.F->getEntryBlock(), Fr.F->getEntryBlock().begin());
    AllocaInst *A = EB.CreateAlloca(Ty);
    B.CreateStore(Init, A);
    return A;
  }
  void accumulate(Value *Acc, Value *V, Intrinsic::ID Op = Intrinsic::not_intrinsic) {
    Value *Old = B.CreateLoad(V->getType(), Acc);
    Value *New = Op == Intrinsic::not_intrinsic
                     ? B.CreateFAdd(Old, V)
                     : B.CreateBinaryIntrinsic(Op, Old, V);
    B.CreateStore(New, Acc);
  }
  /// The sum of an accumulator's Width lanes (default: one vector).
  Value *reduceAdd(Value *Acc, unsigned Width = 0) {
    Value *V = B.CreateLoad(Width ? FixedVectorType::get(Fl, Width) : VT, Acc);
    CallInst *R = B.CreateFAddReduce(f32(-0.0), V);
    R->setHasAllowReassoc(true);
    return R;
  }
  Value *reduceMax(Value *Acc) {
    return B.CreateFPMaxReduce(B.CreateLoad(VT, Acc));
  }
  /// Our log of a scalar (lane 0 of a splat).
  Value *scalarLog(Value *S) {
    return B.CreateExtractElement(VMLane.call(B, Op::Log, splat(Lanes, S)),
                                  uint64_t(0));
  }
};

void ProgramEmitter::addStat(unsigned Field, Value *V) {
  addStatAt(statPtr(Field), V);
}

void ProgramEmitter::addStatAt(Value *P, Value *V) {
  Value *D = V->getType()->isDoubleTy() ? V : B.CreateFPExt(V, B.getDoubleTy());
  B.CreateStore(B.CreateFAdd(B.CreateLoad(B.getDoubleTy(), P), D), P);
}

/// murmur3's finalizer: every input bit flips each output bit with
/// probability about 1/2.
static Value *mix32(IRBuilder<> &B, Value *H) {
  auto C = [&](uint32_t K) -> Value * {
    Value *S = B.getInt32(K);
    if (auto *VT = dyn_cast<FixedVectorType>(H->getType()))
      return B.CreateVectorSplat(VT->getNumElements(), S);
    return S;
  };
  H = B.CreateXor(H, B.CreateLShr(H, C(16)));
  H = B.CreateMul(H, C(0x85ebca6b));
  H = B.CreateXor(H, B.CreateLShr(H, C(13)));
  H = B.CreateMul(H, C(0xc2b2ae35));
  return B.CreateXor(H, B.CreateLShr(H, C(16)));
}

/// Dropout's key for one row: a hash of (seed, step, layer, row), so the
/// backward pass regenerates the forward pass's mask instead of storing it.
Value *ProgramEmitter::dropoutKey(const Step &S, Value *Row) {
  Type *I32 = B.getInt32Ty();
  Value *Step = B.CreateTrunc(B.CreateLoad(B.getInt64Ty(), header(HeaderWord::Step)), I32);
  Value *Seed = B.CreateLoad(B.getInt64Ty(), header(HeaderWord::Seed));
  Value *Key = B.CreateXor(B.CreateTrunc(Seed, I32),
                           B.CreateTrunc(B.CreateLShr(Seed, 32), I32));
  Key = mix32(B, B.CreateXor(Key, streamKey(S.Layer)));
  Key = mix32(B, B.CreateXor(Key, Step));
  // The row within the whole batch: the mask does not depend on how the
  // batch is split between threads.
  Row = B.CreateAdd(Row, Fr.Row0);
  return mix32(B, B.CreateXor(Key, B.CreateTrunc(Row, I32)));
}

/// 1 / (1 - rate) where column j's hash of Key lands at or above rate, else 0.
Value *ProgramEmitter::dropoutScale(const Step &S, Value *Key, Value *ColIdx) {
  Type *I32V = VectorType::get(B.getInt32Ty(), L, false);
  Value *H = mix32(B, B.CreateXor(splat(L, Key), B.CreateFPToUI(ColIdx, I32V)));
  // The top 24 bits as a float in [0, 1).
  Value *U = B.CreateFMul(
      B.CreateUIToFP(B.CreateLShr(H, splat(L, B.getInt32(8))),
                     VectorType::get(Fl, L, false)),
      splatF(L, 1.0 / (1 << 24)));
  return B.CreateSelect(B.CreateFCmpOGE(U, splatF(L, S.Rate)),
                        splatF(L, 1.0 / (1.0 - S.Rate)), splatF(L, 0.0));
}

/// Column indices 0..N-1 as floats (exact below 2^24 columns), read like
/// data by the loops that need a lane's column; one array per width.
GlobalVariable *ProgramEmitter::columnIndices(int64_t N) {
  std::string Name = "netjit.columns." + std::to_string(N);
  if (GlobalVariable *G = M.getGlobalVariable(Name, true))
    return G;
  std::vector<float> Iota(N);
  for (int64_t J = 0; J < N; ++J)
    Iota[J] = J;
  auto *Init = ConstantDataArray::get(M.getContext(), ArrayRef(Iota));
  return new GlobalVariable(M, Init->getType(), true,
                            GlobalValue::PrivateLinkage, Init, Name);
}

/// One row of an element-wise step, as a loop over its columns.
Error ProgramEmitter::rowStep(const Step &S, Value *Row) {
  Function *F = Fr.F;
  SmallVector<InStream, 6> Ins;
  SmallVector<Value *, 2> Outs;
  int64_t N = cols(S.Out >= 0 ? S.Out : S.In[0]);
  Value *Live = nullptr; // the loop body's lanes holding elements
  auto Loop = [&](ComputeFn C) {
    return emitLoop(B, F, i64(N), L, Ins, Outs, C, &Live);
  };
  using Vals = SmallVector<Value *, 2>;
  auto Row0 = [&](int Tensor) { return InStream{rowPtr(Tensor, Row)}; };
  switch (S.Kind) {
  case StepKind::BiasAdd:
    Ins = {Row0(S.In[0]), {ptr(S.In[1])}};
    Outs = {rowPtr(S.Out, Row)};
    return Loop([&](LoadFn In) -> Expected<Vals> {
      return Vals{B.CreateFAdd(In(0), In(1))};
    });
  case StepKind::Act:
  case StepKind::ActWithGrad: {
    const ActivationCode &Code = *Codes[S.Act];
    Ins = {Row0(S.In[0])};
    ParamPlan P = params(G.activation(S.Act), L, Ins);
    Outs = {rowPtr(S.Out, Row)};
    if (S.Kind == StepKind::Act)
      return Loop([&](LoadFn In) -> Expected<Vals> {
        auto Y = Code.forward(B, VMRow, L, In(0), P.bind(In));
        if (!Y)
          return Y.takeError();
        return Vals{*Y};
      });
    Outs.push_back(rowPtr(S.Out2, Row));
    return Loop([&](LoadFn In) -> Expected<Vals> {
      auto YD = Code.fused(B, VMRow, L, In(0), P.bind(In));
      if (!YD)
        return YD.takeError();
      return Vals{YD->first, YD->second};
    });
  }
  case StepKind::ActGrad:
  case StepKind::Mul: {
    // dz = dy f'(z), f' computed here (ActGrad) or stored by the forward
    // pass (Mul). With diagnostics (S.Stat), the same loop counts the
    // saturated lanes and keeps each unit's max |f'| in S.Out2.
    Ins = {Row0(S.In[0]), Row0(S.In[1])};
    ParamPlan P;
    if (S.Kind == StepKind::ActGrad) {
      Ins.push_back(Row0(S.In[2]));
      P = params(G.activation(S.Act), L, Ins);
    }
    Outs = {rowPtr(S.Out, Row)};
    Value *Saturated = nullptr;
    unsigned MaxIn = Ins.size();
    if (S.Stat >= 0) {
      Ins.push_back({ptr(S.Out2)});
      Outs.push_back(ptr(S.Out2));
      Saturated = accumulator(FixedVectorType::get(Fl, L), splatF(L, 0));
    }
    if (Error E = Loop([&](LoadFn In) -> Expected<Vals> {
          Value *D = In(1);
          if (S.Kind == StepKind::ActGrad) {
            auto DA = Codes[S.Act]->derivative(B, VMRow, L, In(2), In(1),
                                                P.bind(In));
            if (!DA)
              return DA.takeError();
            D = *DA;
          }
          Vals R{B.CreateFMul(In(0), D)};
          if (Saturated) {
            Value *A = B.CreateUnaryIntrinsic(Intrinsic::fabs, D);
            Value *Sat = B.CreateAnd(
                B.CreateFCmpOLT(A, splatF(L, SaturationThreshold)), Live);
            accumulate(Saturated,
                       B.CreateSelect(Sat, splatF(L, 1), splatF(L, 0)));
            R.push_back(B.CreateBinaryIntrinsic(Intrinsic::maxnum, In(MaxIn), A));
          }
          return R;
        }))
      return E;
    if (Saturated)
      addStat(S.Stat, reduceAdd(Saturated, L));
    return Error::success();
  }
  case StepKind::SumSquares: {
    // stats += batch^2 sum of squares: the rows are the mean loss's
    // gradient, each sample's own scaled by 1 / batch.
    Ins = {Row0(S.In[0])};
    Value *Sum = accumulator(FixedVectorType::get(Fl, L), splatF(L, 0));
    if (Error E = Loop([&](LoadFn In) -> Expected<Vals> {
          Value *V = In(0);
          accumulate(Sum, B.CreateFMul(V, V));
          return Vals{};
        }))
      return E;
    Value *Total = B.CreateSIToFP(Fr.Total, B.getDoubleTy());
    addStat(S.Stat, B.CreateFMul(B.CreateFPExt(reduceAdd(Sum, L), B.getDoubleTy()),
                                 B.CreateFMul(Total, Total)));
    return Error::success();
  }
  case StepKind::ColSum:
    Ins = {{ptr(S.Out)}, Row0(S.In[0])};
    Outs = {ptr(S.Out)};
    return Loop([&](LoadFn In) -> Expected<Vals> {
      return Vals{B.CreateFAdd(In(0), In(1))};
    });
  case StepKind::ActParamGrad: {
    const ActivationCode &Code = *Codes[S.Act];
    N = cols(S.In[0]);
    Ins = {{ptr(S.Out)}, Row0(S.In[0]), Row0(S.In[1])};
    ParamPlan P = params(G.activation(S.Act), L, Ins);
    Outs = {ptr(S.Out)};
    return Loop([&](LoadFn In) -> Expected<Vals> {
      auto D = Code.paramDerivative(B, VMRow, L, S.Param, In(2), P.bind(In));
      if (!D)
        return D.takeError();
      return Vals{B.CreateFAdd(In(0), B.CreateFMul(In(1), *D))};
    });
  }
  case StepKind::Dropout:
  case StepKind::DropoutGrad: {
    Value *Key = dropoutKey(S, Row);
    Ins = {Row0(S.In[0]), {columnIndices(N)}};
    Outs = {rowPtr(S.Out, Row)};
    return Loop([&](LoadFn In) -> Expected<Vals> {
      return Vals{B.CreateFMul(In(0), dropoutScale(S, Key, In(1)))};
    });
  }
  case StepKind::Softmax:
  case StepKind::LogSoftmax: {
    Value *X = rowPtr(S.In[0], Row), *Y = rowPtr(S.Out, Row);
    Value *VMax = accumulator(VT, splatF(Lanes, -INFINITY));
    forChunks(N, [&](Value *J, Value *Mask) {
      accumulate(VMax, load(X, J, Mask, -INFINITY), Intrinsic::maxnum);
    });
    Value *Max = splat(Lanes, reduceMax(VMax));
    Value *VSum = accumulator(VT, splatF(Lanes, 0));
    forChunks(N, [&](Value *J, Value *Mask) {
      Value *E = VMLane.call(B, Op::Exp, B.CreateFSub(load(X, J, Mask), Max));
      if (Mask)
        E = B.CreateSelect(Mask, E, splatF(Lanes, 0));
      accumulate(VSum, E);
      if (S.Kind == StepKind::Softmax)
        store(E, Y, J, Mask);
    });
    Value *Sum = reduceAdd(VSum);
    Value *Inv = splat(Lanes, B.CreateFDiv(f32(1), Sum));
    Value *Lse = splat(Lanes, scalarLog(Sum));
    forChunks(N, [&](Value *J, Value *Mask) {
      if (S.Kind == StepKind::Softmax)
        store(B.CreateFMul(load(Y, J, Mask), Inv), Y, J, Mask);
      else
        store(B.CreateFSub(B.CreateFSub(load(X, J, Mask), Max), Lse), Y, J,
              Mask);
    });
    return Error::success();
  }
  case StepKind::SoftmaxXent:
  case StepKind::SigmoidXent:
  case StepKind::PointLoss:
    return lossRow(S, Row);
  case StepKind::MatMul:
  case StepKind::SumTo:
  case StepKind::Zero:
  case StepKind::Update:
  case StepKind::CountAlive:
    break; // not row-wise (Steps.def): step() lowers them
  }
  return plainError(ErrorKind::Compile,
                    "no row lowering for " + stepName(S.Kind));
}

Error ProgramEmitter::rowSteps(ArrayRef<Step> Steps, Value *Row0,
                               Value *Rows) {
  Error E = Error::success();
  emitFor(B, Row0, B.CreateAdd(Row0, Rows), 1, [&](Value *R) {
    for (const Step &S : Steps)
      if (!E)
        E = rowStep(S, R);
  }, "r");
  return E;
}

/// An internal function running Steps over rows [row0, row0 + rows): a
/// GEMM kernel's epilogue, called after each block of rows, passed what
/// the kernel was.
Expected<Function *> ProgramEmitter::rowFunction(ArrayRef<Step> Steps) {
  assert(Fr.Uses && "an epilogue belongs to a kernel");
  Frame Saved = Fr;
  IRBuilderBase::InsertPoint IP = B.saveIP();
  Function *RF = declare(Fr.F->getName() + ".rows", Sig::Rows, Saved.Uses);
  enter(RF, Sig::Rows, Saved.Uses);
  Error E = rowSteps(Steps, RF->getArg(8), RF->getArg(9));
  if (!E)
    B.CreateRetVoid();
  Fr = Saved;
  B.restoreIP(IP);
  if (E)
    return E;
  return RF;
}

/// Steps' kernel key: each step's kind and constants, its tensors (shape
/// and role where first named, else their number), its activation (the
/// first equal one) and its stats fields and dropout layers by number.
void ProgramEmitter::collectUses(const Step &S, KernelUses &U,
                                 raw_ostream &OS) {
  auto Number = [](std::vector<int> &List, int X) {
    auto It = llvm::find(List, X);
    if (It != List.end())
      return unsigned(It - List.begin());
    List.push_back(X);
    return unsigned(List.size() - 1);
  };
  auto Tensor = [&](int Id) {
    if (Id < 0) {
      OS << " -";
      return;
    }
    size_t Known = U.Tensors.size();
    unsigned N = Number(U.Tensors, Id);
    OS << " t" << N;
    if (N == Known) {
      const TensorInfo &I = T.tensor(Id);
      OS << ':' << int(I.Role) << (I.BatchRows ? 'B' : 'F') << I.Rows << 'x'
         << I.Cols;
    }
  };
  OS << " (" << int(S.Kind) << (S.TransA ? 'T' : 'N') << (S.TransB ? 'T' : 'N');
  for (int I : S.In)
    Tensor(I);
  OS << " ->";
  Tensor(S.Out);
  Tensor(S.Out2);
  if (S.Act >= 0) {
    OS << " a" << ActClass[S.Act];
    for (auto &[Name, Index] : G.activation(S.Act).Trained)
      Tensor(T.paramTensor(Index));
  }
  OS << " p" << S.Param << " r" << llvm::bit_cast<uint64_t>(S.Rate);
  if (S.Stat >= 0)
    OS << " s" << Number(U.Stats, S.Stat);
  if (S.Layer >= 0)
    OS << " l" << Number(U.Streams, S.Layer);
  for (const Step &E : S.Epilogue)
    collectUses(E, U, OS);
  OS << ')';
}

KernelUses ProgramEmitter::uses(ArrayRef<Step> Steps, StringRef Kind) {
  KernelUses U;
  U.Kind = Kind;
  raw_string_ostream OS(U.Key);
  OS << Kind;
  for (const Step &S : Steps)
    collectUses(S, U, OS);
  return U;
}

/// The kernel U describes: emitted by Body the first time, in a function
/// of its own, the same function for every later layer with its key.
Expected<Function *>
ProgramEmitter::kernel(const KernelUses &U, Sig S,
                       function_ref<Error(Function *)> Body) {
  if (Function *F = Kernels.lookup(U.Key))
    return F;
  Frame Saved = Fr;
  IRBuilderBase::InsertPoint IP = B.saveIP();
  Function *F =
      declare(Prefix + "." + U.Kind + "." + Twine(KernelFns++), S, &U);
  // Inlined, it would be compiled again for every layer calling it; a call
  // per GEMM or pass over the batch costs nothing measurable.
  F->addFnAttr(Attribute::NoInline);
  enter(F, S, &U);
  Error E = Body(F);
  if (!E)
    B.CreateRetVoid();
  Fr = Saved;
  B.restoreIP(IP);
  if (E)
    return E;
  Kernels[U.Key] = F;
  return F;
}

void ProgramEmitter::callKernel(Function *K, const KernelUses &U) {
  assert(!Fr.Uses && "kernels are called from the entry points");
  if (!KernelArgs)
    KernelArgs = new GlobalVariable(M, B.getInt64Ty(), true,
                                    GlobalValue::PrivateLinkage, nullptr,
                                    Prefix + ".args");
  Value *Args = B.CreateConstInBoundsGEP1_64(B.getInt64Ty(), KernelArgs,
                                             ArgWords.size());
  for (int Id : U.Tensors)
    ArgWords.push_back(tensorOffset(T.tensor(Id)));
  for (int Field : U.Stats)
    ArgWords.push_back(Field);
  for (int Layer : U.Streams)
    ArgWords.push_back(streamConstant(Layer));
  B.CreateCall(K, {Fr.Slot, Args});
}

void ProgramEmitter::callRows(Function *RF, Value *Row0, Value *Rows) {
  SmallVector<Value *, 16> Args = {Fr.Arena, Fr.Work,  Fr.X,     Fr.IO,
                                   Fr.Batch, Fr.Stats, Fr.Total, Fr.Row0,
                                   Row0,     Rows};
  for (int Id : Fr.Uses->Tensors)
    Args.push_back(ptr(Id));
  for (int Field : Fr.Uses->Stats)
    Args.push_back(statPtr(Field));
  for (int Layer : Fr.Uses->Streams)
    Args.push_back(streamKey(Layer));
  B.CreateCall(RF, Args);
}

void ProgramEmitter::finish() {
  if (!KernelArgs)
    return;
  Constant *Init = ConstantDataArray::get(M.getContext(), ArrayRef(ArgWords));
  auto *G = new GlobalVariable(M, Init->getType(), true,
                               GlobalValue::PrivateLinkage, Init);
  G->takeName(KernelArgs);
  KernelArgs->replaceAllUsesWith(G);
  KernelArgs->eraseFromParent();
  KernelArgs = nullptr;
}

/// One row of a loss: its value and correct count into the stats, its
/// gradient (with respect to the logits, or to the outputs) into Out.
Error ProgramEmitter::lossRow(const Step &S, Value *Row) {
  const LossSpec &Loss = G.spec().Loss;
  int64_t N = cols(S.In[0]);
  Value *Z = rowPtr(S.In[0], Row), *D = rowPtr(S.Out, Row);
  // Averaged over the whole batch, of which these rows may be a part.
  Value *BatchF = B.CreateSIToFP(Fr.Total, Fl);
  Value *InvB = B.CreateFDiv(f32(1), BatchF);
  bool Sparse = T.sparseLabels();
  Value *Tr = Sparse ? nullptr : rowPtr(S.In[1], Row);
  Value *Zero = splatF(Lanes, 0);
  auto Masked = [&](Value *V, Value *Mask) {
    return Mask ? B.CreateSelect(Mask, V, Zero) : V;
  };

  if (S.Kind == StepKind::SoftmaxXent) {
    Value *VMax = accumulator(VT, splatF(Lanes, -INFINITY));
    forChunks(N, [&](Value *J, Value *Mask) {
      accumulate(VMax, load(Z, J, Mask, -INFINITY), Intrinsic::maxnum);
    });
    Value *MaxS = reduceMax(VMax);
    Value *Max = splat(Lanes, MaxS);
    Value *VSum = accumulator(VT, Zero);
    Value *VT1 = accumulator(VT, Zero), *VTZ = accumulator(VT, Zero);
    Value *VTMax = accumulator(VT, splatF(Lanes, -INFINITY));
    Value *VTAtMax = accumulator(VT, splatF(Lanes, -INFINITY));
    forChunks(N, [&](Value *J, Value *Mask) {
      Value *Zv = load(Z, J, Mask, -INFINITY);
      Value *E = Masked(VMLane.call(B, Op::Exp, B.CreateFSub(Zv, Max)), Mask);
      accumulate(VSum, E);
      store(E, D, J, Mask);
      if (!Sparse) {
        Value *Tv = load(Tr, J, Mask);
        accumulate(VT1, Tv);
        accumulate(VTZ, Masked(B.CreateFMul(Tv, Zv), Mask));
        accumulate(VTMax, load(Tr, J, Mask, -INFINITY), Intrinsic::maxnum);
        accumulate(VTAtMax,
                   B.CreateSelect(B.CreateFCmpOEQ(Zv, Max), Tv,
                                  splatF(Lanes, -INFINITY)),
                   Intrinsic::maxnum);
      }
    });
    Value *Sum = reduceAdd(VSum);
    Value *Lse = B.CreateFAdd(MaxS, scalarLog(Sum));
    if (Sparse) {
      // dz = softmax / batch, then -1 / batch at the label.
      Value *Scale = splat(Lanes, B.CreateFDiv(InvB, Sum));
      forChunks(N, [&](Value *J, Value *Mask) {
        store(B.CreateFMul(load(D, J, Mask), Scale), D, J, Mask);
      });
      Value *Label = B.CreateSExt(
          B.CreateLoad(B.getInt32Ty(),
                       B.CreateInBoundsGEP(B.getInt32Ty(), Fr.IO, Row)),
          B.getInt64Ty());
      Value *Valid = B.CreateICmpULT(Label, i64(N));
      Value *Safe = B.CreateSelect(Valid, Label, i64(0));
      Value *DL = B.CreateInBoundsGEP(Fl, D, Safe);
      Value *ZL = B.CreateLoad(Fl, B.CreateInBoundsGEP(Fl, Z, Safe));
      B.CreateStore(B.CreateSelect(Valid,
                                   B.CreateFSub(B.CreateLoad(Fl, DL), InvB),
                                   B.CreateLoad(Fl, DL)),
                    DL);
      addStat(StatWord::LossSum, B.CreateSelect(Valid, B.CreateFSub(Lse, ZL), f32(NAN)));
      addStat(StatWord::Correct, B.CreateUIToFP(
                     B.CreateAnd(Valid, B.CreateFCmpOEQ(ZL, MaxS)), Fl));
    } else {
      // Targets t (summing to 1 for a distribution): loss = lse sum(t) -
      // t.z, dz = (softmax sum(t) - t) / batch.
      Value *SumT = reduceAdd(VT1), *TZ = reduceAdd(VTZ);
      Value *Scale = splat(Lanes, B.CreateFMul(B.CreateFDiv(InvB, Sum), SumT));
      Value *InvBv = splat(Lanes, InvB);
      forChunks(N, [&](Value *J, Value *Mask) {
        Value *V = B.CreateFSub(B.CreateFMul(load(D, J, Mask), Scale),
                                B.CreateFMul(load(Tr, J, Mask), InvBv));
        store(V, D, J, Mask);
      });
      addStat(StatWord::LossSum, B.CreateFSub(B.CreateFMul(Lse, SumT), TZ));
      addStat(StatWord::Correct, B.CreateUIToFP(
                     B.CreateFCmpOEQ(reduceMax(VTAtMax), reduceMax(VTMax)), Fl));
    }
    return Error::success();
  }

  // Element-wise losses, averaged over the outputs as Keras does.
  Value *GScale = splat(Lanes, B.CreateFMul(InvB, f32(1.0 / N)));
  Value *VLoss = accumulator(VT, Zero), *VCorrect = accumulator(VT, Zero);
  Value *One = splatF(Lanes, 1), *Half = splatF(Lanes, 0.5);
  forChunks(N, [&](Value *J, Value *Mask) {
    Value *Zv = load(Z, J, Mask), *Tv = load(Tr, J, Mask);
    Value *Lv, *Gv, *Cv = nullptr;
    if (S.Kind == StepKind::SigmoidXent) {
      // softplus(z) - t z; d/dz = sigmoid(z) - t.
      Lv = B.CreateFSub(VMLane.call(B, Op::Softplus, Zv), B.CreateFMul(Tv, Zv));
      Gv = B.CreateFSub(VMLane.call(B, Op::Sigmoid, Zv), Tv);
      Cv = B.CreateSelect(B.CreateICmpEQ(B.CreateFCmpOGT(Zv, Zero),
                                         B.CreateFCmpOGT(Tv, Half)),
                          One, Zero);
    } else {
      Value *Dv = B.CreateFSub(Zv, Tv);
      Value *Abs = B.CreateUnaryIntrinsic(Intrinsic::fabs, Dv);
      Value *Sgn = B.CreateSelect(B.CreateFCmpOGT(Dv, Zero), One,
                                  B.CreateSelect(B.CreateFCmpOLT(Dv, Zero),
                                                 splatF(Lanes, -1), Zero));
      switch (Loss.Kind) {
      case LossKind::mse:
        Lv = B.CreateFMul(Dv, Dv);
        Gv = B.CreateFMul(splatF(Lanes, 2), Dv);
        break;
      case LossKind::mae:
        Lv = Abs;
        Gv = Sgn;
        break;
      case LossKind::huber: {
        Value *Delta = splatF(Lanes, Loss.Delta);
        Value *Small = B.CreateFCmpOLE(Abs, Delta);
        Lv = B.CreateSelect(Small, B.CreateFMul(Half, B.CreateFMul(Dv, Dv)),
                            B.CreateFMul(Delta, B.CreateFSub(
                                                    Abs, B.CreateFMul(Half, Delta))));
        Gv = B.CreateSelect(Small, Dv, B.CreateFMul(Delta, Sgn));
        break;
      }
      default: {
        // Binary cross-entropy on probabilities, clipped to [eps, 1 - eps]
        // as Keras does (the clip passes no gradient).
        double Eps = 1e-7;
        Value *Lo = splatF(Lanes, Eps), *Hi = splatF(Lanes, 1 - Eps);
        Value *P = B.CreateBinaryIntrinsic(
            Intrinsic::minnum, B.CreateBinaryIntrinsic(Intrinsic::maxnum, Zv, Lo),
            Hi);
        Value *LogP = VMLane.call(B, Op::Log, P);
        Value *Log1mP = VMLane.call(B, Op::Log1p, B.CreateFNeg(P));
        Lv = B.CreateFNeg(B.CreateFAdd(B.CreateFMul(Tv, LogP),
                                       B.CreateFMul(B.CreateFSub(One, Tv), Log1mP)));
        Value *Inside = B.CreateAnd(B.CreateFCmpOGT(Zv, Lo), B.CreateFCmpOLT(Zv, Hi));
        Gv = B.CreateSelect(Inside,
                            B.CreateFDiv(B.CreateFSub(P, Tv),
                                         B.CreateFMul(P, B.CreateFSub(One, P))),
                            Zero);
        Cv = B.CreateSelect(B.CreateICmpEQ(B.CreateFCmpOGT(Zv, Half),
                                           B.CreateFCmpOGT(Tv, Half)),
                            One, Zero);
      }
      }
    }
    accumulate(VLoss, Masked(Lv, Mask));
    if (Cv)
      accumulate(VCorrect, Masked(Cv, Mask));
    store(B.CreateFMul(Gv, GScale), D, J, Mask);
  });
  addStat(StatWord::LossSum, B.CreateFMul(reduceAdd(VLoss), f32(1.0 / N)));
  addStat(StatWord::Correct, B.CreateFMul(reduceAdd(VCorrect), f32(1.0 / N)));
  return Error::success();
}

Error ProgramEmitter::step(const Step &S) {
  switch (S.Kind) {
  case StepKind::Zero:
    for (int I : S.In)
      B.CreateMemSet(ptr(I), B.getInt8(0),
                     T.tensor(I).Rows * T.tensor(I).Cols * 4, Align(64));
    return Error::success();
  case StepKind::MatMul:
  case StepKind::SoftmaxXent:
  case StepKind::SigmoidXent:
  case StepKind::PointLoss: {
    bool Gemm = S.Kind == StepKind::MatMul;
    KernelUses U = uses(S, Gemm ? "gemm" : "loss");
    auto K = kernel(U, Sig::Kernel, [&](Function *) {
      return Gemm ? matMul(S) : lossRows(S);
    });
    if (!K)
      return K.takeError();
    callKernel(*K, U);
    return Error::success();
  }
  case StepKind::SumTo: {
    Value *Src = ptr(S.In[0]);
    int64_t N = cols(S.In[0]);
    Value *Acc = accumulator(VT, splatF(Lanes, 0));
    forChunks(N, [&](Value *J, Value *Mask) { accumulate(Acc, load(Src, J, Mask)); });
    Value *Dst = ptr(S.Out);
    B.CreateStore(B.CreateFAdd(B.CreateLoad(Fl, Dst), reduceAdd(Acc)), Dst);
    return Error::success();
  }
  case StepKind::CountAlive: {
    // A unit is alive in a step when some row had f'(z) != 0 (NaN too).
    Type *Dbl = B.getDoubleTy();
    Value *Src = ptr(S.In[0]);
    Value *Dst = B.CreateConstInBoundsGEP1_64(Dbl, Fr.Stats, S.Stat);
    emitFor(B, i64(0), i64(cols(S.In[0])), 1, [&](Value *J) {
      Value *V = B.CreateLoad(Fl, B.CreateInBoundsGEP(Fl, Src, J));
      Value *P = B.CreateInBoundsGEP(Dbl, Dst, J);
      Value *One = B.CreateSelect(B.CreateFCmpUNE(V, f32(0)),
                                  ConstantFP::get(Dbl, 1), ConstantFP::get(Dbl, 0));
      B.CreateStore(B.CreateFAdd(B.CreateLoad(Dbl, P), One), P);
    }, "u");
    return Error::success();
  }
  case StepKind::Update:
    return plainError(ErrorKind::Compile, "the update is not a step of a part");
  case StepKind::BiasAdd:
  case StepKind::Act:
  case StepKind::ActWithGrad:
  case StepKind::ActGrad:
  case StepKind::Mul:
  case StepKind::ColSum:
  case StepKind::ActParamGrad:
  case StepKind::Dropout:
  case StepKind::DropoutGrad:
  case StepKind::Softmax:
  case StepKind::LogSoftmax:
  case StepKind::SumSquares: {
    // A row-wise step no producer took: its own pass over the batch.
    KernelUses U = uses(S, "rows");
    auto F = kernel(U, Sig::Kernel,
                    [&](Function *) { return rowSteps(S, i64(0), Fr.Batch); });
    if (!F)
      return F.takeError();
    callKernel(*F, U);
    return Error::success();
  }
  }
  return plainError(ErrorKind::Compile, "no lowering for " + stepName(S.Kind));
}

/// A GEMM and its epilogue (the body of its kernel).
Error ProgramEmitter::matMul(const Step &S) {
  const TensorInfo &A = T.tensor(S.In[0]), &Bt = T.tensor(S.In[1]),
                   &C = T.tensor(S.Out);
  auto Dim = [&](const TensorInfo &I, bool Rows) -> Value * {
    if (Rows && I.BatchRows)
      return Fr.Batch;
    return i64(Rows ? I.Rows : I.Cols);
  };
  GemmOperands Ops;
  Ops.A = ptr(S.In[0]);
  Ops.B = ptr(S.In[1]);
  Ops.C = ptr(S.Out);
  Ops.Lda = A.Cols;
  Ops.Ldb = Bt.Cols;
  Ops.Ldc = C.Cols;
  Ops.TransA = S.TransA;
  Ops.TransB = S.TransB;
  Ops.M = S.TransA ? Dim(A, false) : Dim(A, true);
  Ops.K = S.TransA ? Dim(A, true) : Dim(A, false);
  Ops.N = C.Cols;
  Ops.MHint = T.maxBatch();
  if (S.TransB)
    Ops.Pack = ptr(S.In[2]);
  Function *RF = nullptr;
  if (!S.Epilogue.empty()) {
    auto F = rowFunction(S.Epilogue);
    if (!F)
      return F.takeError();
    RF = *F;
  }
  emitGemm(B, Ops, Lanes, [&](Value *Row0, Value *Rows) {
    if (RF)
      callRows(RF, Row0, Rows);
  });
  return Error::success();
}

/// A loss over the batch's rows, each row's epilogue after it (the body of
/// its kernel).
Error ProgramEmitter::lossRows(const Step &S) {
  Error E = Error::success();
  emitFor(B, i64(0), Fr.Batch, 1, [&](Value *R) {
    E = lossRow(S, R);
    for (const Step &Ep : S.Epilogue)
      if (!E)
        E = rowStep(Ep, R);
  }, "r");
  return E;
}

/// The header's per-step counters: the step count and Adam's beta powers
/// (in double), once per step before the update reads them.
void ProgramEmitter::advance() {
  const OptimizerSpec &O = G.spec().Optimizer;
  Type *Dbl = B.getDoubleTy();
  Value *StepP = header(HeaderWord::Step);
  B.CreateStore(B.CreateAdd(B.CreateLoad(B.getInt64Ty(), StepP), i64(1)),
                StepP);
  if (!optimizerUsesBetaPowers(O.Kind))
    return;
  for (auto [Field, Beta] : {std::pair(HeaderWord::Beta1Power, O.get("beta_1")),
                             std::pair(HeaderWord::Beta2Power, O.get("beta_2"))}) {
    Value *P = B.CreateConstInBoundsGEP1_64(Dbl, Fr.Arena, Field);
    B.CreateStore(B.CreateFMul(B.CreateLoad(Dbl, P), ConstantFP::get(Dbl, Beta)),
                  P);
  }
}

/// One loop of the optimizer: over the parameter floats [Begin, Begin +
/// Count) clipped to [Lo, Hi) (relative to the parameter region), after
/// advance(). The gradient is the arena's plus, when threads split the
/// batch, the same floats of NExtra other workspaces (Extra, an array of
/// pointers); the sum is stored back in the arena's. SumSqAt, if any, gets
/// the gradient's squared norm (diagnostics).
Error ProgramEmitter::updateRange(Value *Lo, Value *Hi, Value *Begin,
                                  Value *Count, double L1, double L2,
                                  Value *SumSqAt, unsigned NExtra,
                                  Value *Extra) {
  const OptimizerSpec &O = G.spec().Optimizer;
  Type *Dbl = B.getDoubleTy();
  double Lr = O.get("learning_rate");
  Value *Alpha = nullptr;
  if (optimizerUsesBetaPowers(O.Kind)) {
    auto Power = [&](unsigned Field) {
      return B.CreateLoad(Dbl, B.CreateConstInBoundsGEP1_64(Dbl, Fr.Arena, Field));
    };
    Value *B1 = Power(HeaderWord::Beta1Power), *B2 = Power(HeaderWord::Beta2Power);
    Value *One = ConstantFP::get(Dbl, 1.0);
    Value *A = B.CreateFDiv(
        B.CreateFMul(ConstantFP::get(Dbl, Lr),
                     B.CreateUnaryIntrinsic(Intrinsic::sqrt,
                                            B.CreateFSub(One, B2))),
        B.CreateFSub(One, B1));
    Alpha = splat(L, B.CreateFPTrunc(A, Fl));
  }
  auto C = [&](double V) { return splatF(L, V); };
  unsigned Slots = T.numSlots();

  // Slot K's stream is input 2 + K; the extra gradients follow.
  {
    // [Begin, Begin + Count) clipped to [Lo, Hi).
    Value *From = B.CreateBinaryIntrinsic(Intrinsic::smax, Lo, Begin);
    Value *To =
        B.CreateBinaryIntrinsic(Intrinsic::smin, Hi, B.CreateAdd(Begin, Count));
    Value *N = B.CreateBinaryIntrinsic(Intrinsic::smax,
                                       B.CreateSub(To, From), i64(0));
    auto At = [&](Value *Base, int64_t Region) {
      return B.CreateInBoundsGEP(
          Fl, B.CreateConstInBoundsGEP1_64(Fl, Base, Region), From);
    };
    Value *W = At(Fr.Arena, T.paramsOffset());
    Value *Gp = At(Fr.Arena, T.gradOffset());
    SmallVector<InStream, 6> Ins = {{W}, {Gp}};
    SmallVector<Value *, 3> Outs = {W};
    for (unsigned K = 0; K < Slots; ++K) {
      Value *P = At(Fr.Arena, T.slotOffset(K));
      Ins.push_back({P});
      Outs.push_back(P);
    }
    for (unsigned K = 0; K < NExtra; ++K) {
      Value *Work = B.CreateLoad(
          B.getPtrTy(), B.CreateConstInBoundsGEP1_64(B.getPtrTy(), Extra, K));
      Ins.push_back({At(Work, T.gradOffset() - T.workOffset())});
    }
    if (NExtra)
      Outs.push_back(Gp);
    // The penalty l1 |w| + l2 w^2 on the weights before the update, as
    // Keras adds it to the loss (the tail's idle lanes load 0).
    Value *Penalty = (L1 || L2)
                         ? accumulator(FixedVectorType::get(Fl, L), splatF(L, 0))
                         : nullptr;
    // Diagnostics: the squared norm of the loss's gradient, summed here
    // where the threads' parts are summed anyway.
    Value *SumSq = SumSqAt
                       ? accumulator(FixedVectorType::get(Fl, L), splatF(L, 0))
                       : nullptr;
    if (Error E = emitLoop(
        B, Fr.F, N, L, Ins, Outs,
        [&](LoadFn In) -> Expected<SmallVector<Value *, 2>> {
          Value *Wv = In(0), *Gv = In(1);
          for (unsigned K = 0; K < NExtra; ++K)
            Gv = B.CreateFAdd(Gv, In(2 + Slots + K));
          if (SumSq)
            accumulate(SumSq, B.CreateFMul(Gv, Gv));
          if (Penalty)
            accumulate(Penalty,
                       B.CreateFAdd(B.CreateFMul(C(L1), B.CreateUnaryIntrinsic(
                                                            Intrinsic::fabs, Wv)),
                                    B.CreateFMul(C(L2), B.CreateFMul(Wv, Wv))));
          if (L1 || L2) {
            Value *Sgn = B.CreateSelect(
                B.CreateFCmpOGT(Wv, C(0)), C(1),
                B.CreateSelect(B.CreateFCmpOLT(Wv, C(0)), C(-1), C(0)));
            Gv = B.CreateFAdd(Gv, B.CreateFAdd(B.CreateFMul(C(L1), Sgn),
                                               B.CreateFMul(C(2 * L2), Wv)));
          }
          auto Sqrt = [&](Value *V) {
            return B.CreateUnaryIntrinsic(Intrinsic::sqrt, V);
          };
          SmallVector<Value *, 2> R;
          switch (O.Kind) {
          case OptimizerKind::sgd: {
            Value *Step = B.CreateFMul(C(Lr), Gv);
            double Mom = O.get("momentum");
            if (!Slots) {
              R = {B.CreateFSub(Wv, Step)};
              break;
            }
            Value *Mv = B.CreateFSub(B.CreateFMul(C(Mom), In(2)), Step);
            Value *Wn = O.get("nesterov")
                            ? B.CreateFSub(B.CreateFAdd(Wv, B.CreateFMul(C(Mom), Mv)),
                                           Step)
                            : B.CreateFAdd(Wv, Mv);
            R = {Wn, Mv};
            break;
          }
          case OptimizerKind::adamw:
            Wv = B.CreateFSub(Wv, B.CreateFMul(Wv, C(Lr * O.get("weight_decay"))));
            [[fallthrough]];
          case OptimizerKind::adam: {
            Value *Mv = B.CreateFAdd(
                In(2), B.CreateFMul(B.CreateFSub(Gv, In(2)), C(1 - O.get("beta_1"))));
            Value *Vv = B.CreateFAdd(
                In(3), B.CreateFMul(B.CreateFSub(B.CreateFMul(Gv, Gv), In(3)),
                                    C(1 - O.get("beta_2"))));
            Value *Wn = B.CreateFSub(
                Wv, B.CreateFDiv(B.CreateFMul(Mv, Alpha),
                                 B.CreateFAdd(Sqrt(Vv), C(O.get("epsilon")))));
            R = {Wn, Mv, Vv};
            break;
          }
          case OptimizerKind::rmsprop: {
            double Rho = O.get("rho");
            Value *Vv = B.CreateFAdd(B.CreateFMul(C(Rho), In(2)),
                                     B.CreateFMul(C(1 - Rho), B.CreateFMul(Gv, Gv)));
            Value *Inc = B.CreateFDiv(B.CreateFMul(C(Lr), Gv),
                                      Sqrt(B.CreateFAdd(Vv, C(O.get("epsilon")))));
            if (Slots == 2) {
              Value *Mo = B.CreateFAdd(B.CreateFMul(C(O.get("momentum")), In(3)), Inc);
              R = {B.CreateFSub(Wv, Mo), Vv, Mo};
            } else {
              R = {B.CreateFSub(Wv, Inc), Vv};
            }
            break;
          }
          case OptimizerKind::adagrad: {
            Value *Av = B.CreateFAdd(In(2), B.CreateFMul(Gv, Gv));
            Value *Wn = B.CreateFSub(
                Wv, B.CreateFDiv(B.CreateFMul(C(Lr), Gv),
                                 Sqrt(B.CreateFAdd(Av, C(O.get("epsilon"))))));
            R = {Wn, Av};
            break;
          }
          }
          if (NExtra)
            R.push_back(Gv);
          return R;
        }))
      return E;
    if (Penalty) {
      CallInst *Sum = B.CreateFAddReduce(
          f32(-0.0), B.CreateLoad(FixedVectorType::get(Fl, L), Penalty));
      Sum->setHasAllowReassoc(true);
      addStat(StatWord::Penalty, Sum);
    }
    if (SumSq)
      addStatAt(SumSqAt, reduceAdd(SumSq, L));
    return Error::success();
  }
}


/// The optimizer over the parameter floats [Lo, Hi) (relative to the
/// parameter region), after advance(): one loop where no tensor is
/// regularized, else one per tensor, each a call of the loop's kernel
/// (tensors with the same regularizer and diagnostics share it).
Error ProgramEmitter::update(Value *Lo, Value *Hi, unsigned NExtra,
                             Value *Extra) {
  auto Range = [&](int64_t Begin, int64_t Count, double L1, double L2,
                   int SumSqStat) -> Error {
    auto K = updateKernel(L1, L2, SumSqStat >= 0, NExtra);
    if (!K)
      return K.takeError();
    B.CreateCall(*K, {Fr.Arena, Extra ? Extra : Constant::getNullValue(B.getPtrTy()),
                      Lo, Hi, Fr.Stats, i64(Begin - T.paramsOffset()),
                      i64(Count), i64(SumSqStat)});
    return Error::success();
  };

  bool AnyReg = false;
  for (const ParamInfo &P : G.params())
    AnyReg |= P.L1 || P.L2;
  if (!AnyReg && T.Diagnostics.empty())
    return Range(T.paramsOffset(), T.paramsSpan(), 0, 0, -1);
  std::vector<int> SumSqStat(G.params().size(), -1);
  for (const LayerDiagnostics &D : T.Diagnostics)
    if (D.WeightSumSq >= 0)
      SumSqStat[G.layers()[D.Layer]->Kernel] = D.WeightSumSq;
  for (size_t P = 0; P < G.params().size(); ++P) {
    const ParamInfo &PI = G.params()[P];
    const TensorInfo &TI = T.tensor(T.paramTensor(P));
    if (Error E = Range(TI.Offset, PI.size(), PI.L1, PI.L2, SumSqStat[P]))
      return E;
  }
  return Error::success();
}

Expected<Function *> ProgramEmitter::updateKernel(double L1, double L2,
                                                  bool SumSq,
                                                  unsigned NExtra) {
  std::string Key = formatv("update {0} {1} {2} {3}", bit_cast<uint64_t>(L1),
                            bit_cast<uint64_t>(L2), SumSq, NExtra);
  if (Function *F = Kernels.lookup(Key))
    return F;
  Frame Saved = Fr;
  IRBuilderBase::InsertPoint IP = B.saveIP();
  Function *F = declare(Prefix + ".update." + Twine(KernelFns++), Sig::Range);
  F->addFnAttr(Attribute::NoInline);
  enter(F, Sig::Range);
  auto A = [&](unsigned I) { return F->getArg(I); };
  Value *SumSqAt = SumSq ? B.CreateInBoundsGEP(B.getDoubleTy(), Fr.Stats, A(7))
                         : nullptr;
  Error E = updateRange(A(2), A(3), A(5), A(6), L1, L2, SumSqAt, NExtra, A(1));
  if (!E)
    B.CreateRetVoid();
  Fr = Saved;
  B.restoreIP(IP);
  if (E)
    return E;
  Kernels[Key] = F;
  return F;
}

Error ProgramEmitter::emit(EntryPoint EP) {
  const char *Name = entryPointName(EP).data();
  SavedMode = nullptr;
  switch (EP) {
  case EntryPoint::GradientsPart:
    // The body the other training entry points call.
    enter(declare(Prefix + "_" + Name, Sig::Part), Sig::Part);
    for (const Step &S : T.Train)
      if (S.Kind != StepKind::Update)
        if (Error E = step(S))
          return E;
    break;
  case EntryPoint::Advance:
    enter(declare(Prefix + "_" + Name, Sig::Advance), Sig::Advance);
    advance();
    break;
  case EntryPoint::UpdatePart: {
    Function *F = declare(Prefix + "_" + Name, Sig::Update);
    enter(F, Sig::Update);
    if (Error E = update(F->getArg(2), F->getArg(3), Threads - 1, F->getArg(1)))
      return E;
    break;
  }
  case EntryPoint::Gradients:
  case EntryPoint::TrainStep: {
    // The whole batch as one part in the arena's own workspace.
    enter(declare(Prefix + "_" + Name, Sig::Entry), Sig::Entry);
    B.CreateCall(M.getFunction(Prefix + "_gradients_part"),
                 {Fr.Arena, Fr.Work, Fr.X, Fr.IO, Fr.Batch, Fr.Stats, Fr.Total,
                  Fr.Row0});
    if (EP == EntryPoint::TrainStep) {
      advance();
      if (Threads == 1) {
        // update_part sums no other workspace: it is this update, compiled
        // once for both.
        Function *UP = declare(Prefix + "_update_part", Sig::Update);
        CallInst *C = B.CreateCall(UP, {Fr.Arena, Constant::getNullValue(B.getPtrTy()),
                                        i64(0), i64(T.paramsSpan()), Fr.Stats});
        C->addFnAttr(Attribute::NoInline);
      } else if (Error E = update(i64(0), i64(T.paramsSpan()), 0, nullptr)) {
        return E;
      }
    }
    break;
  }
  case EntryPoint::Evaluate:
  case EntryPoint::Predict: {
    enter(declare(Prefix + "_" + Name, Sig::Entry), Sig::Entry);
    for (const Step &S : EP == EntryPoint::Evaluate ? T.Evaluate : T.Predict)
      if (Error E = step(S))
        return E;
    if (EP == EntryPoint::Predict) {
      // The outputs, batch rows of them, to the caller.
      int Out = T.outputTensor();
      B.CreateMemCpy(Fr.IO, Align(4), ptr(Out), Align(64),
                     B.CreateMul(Fr.Batch, i64(cols(Out) * 4)));
    }
    break;
  }
  }
  if (SavedMode)
    restoreDenormals();
  B.CreateRetVoid();
  if (Unbound)
    return plainError(ErrorKind::Compile,
                      "a kernel addresses a tensor it was not passed");
  return Error::success();
}

} // namespace

Error emitProgram(Module &M, const TrainGraph &T, StringRef Prefix,
                  unsigned Lanes, unsigned Threads) {
  ProgramEmitter E(M, T, Prefix, Lanes, std::max(Threads, 1u));
  for (EntryPoint EP : AllEntryPoints)
    if (Error Err = E.emit(EP))
      return Err;
  E.finish();
  return Error::success();
}

} // namespace netjit
