// Aot.cpp - the initializer in IR (the one implementation: the JIT runs it
// too, so an AOT object and a Model give the same weights) and the C header
// of an ahead-of-time object. Its generator is Support/Random.h's splitmix64
// draw for draw, with the same double products, quotients and libm calls.
#include "netjit/CodeGen/Aot.h"

#include "netjit/CodeGen/Loops.h"
#include "netjit/Expr/Expr.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>

using namespace llvm;

namespace netjit {

namespace {

/// splitmix64's state in an alloca and its draws, as Support/Random.h.
struct IRRng {
  IRBuilder<> &B;
  Value *State;
  Function *Log, *Cos;

  Value *next() {
    Value *S = B.CreateAdd(B.CreateLoad(B.getInt64Ty(), State),
                           B.getInt64(0x9E3779B97F4A7C15ull));
    B.CreateStore(S, State);
    Value *Z = B.CreateMul(B.CreateXor(S, B.CreateLShr(S, 30)),
                           B.getInt64(0xBF58476D1CE4E5B9ull));
    Z = B.CreateMul(B.CreateXor(Z, B.CreateLShr(Z, 27)),
                    B.getInt64(0x94D049BB133111EBull));
    return B.CreateXor(Z, B.CreateLShr(Z, 31));
  }
  Value *d(double V) { return ConstantFP::get(B.getDoubleTy(), V); }
  /// (next() >> 11) * 2^-53.
  Value *uniform() {
    return B.CreateFMul(B.CreateUIToFP(B.CreateLShr(next(), 11), B.getDoubleTy()),
                        d(0x1.0p-53));
  }
  /// Box-Muller cut at two standard deviations, redrawn outside (and for
  /// U1 = 0), as Rng::truncatedNormal.
  Value *truncatedNormal() {
    Function *F = B.GetInsertBlock()->getParent();
    LLVMContext &C = B.getContext();
    BasicBlock *Loop = BasicBlock::Create(C, "draw", F);
    BasicBlock *Positive = BasicBlock::Create(C, "u1.positive", F);
    BasicBlock *Done = BasicBlock::Create(C, "drawn", F);
    B.CreateBr(Loop);
    B.SetInsertPoint(Loop);
    Value *U1 = uniform(), *U2 = uniform();
    B.CreateCondBr(B.CreateFCmpOGT(U1, d(0)), Positive, Loop);
    B.SetInsertPoint(Positive);
    Value *R = B.CreateCall(
        Intrinsic::getDeclaration(B.GetInsertBlock()->getModule(),
                                  Intrinsic::sqrt, {B.getDoubleTy()}),
        {B.CreateFMul(d(-2), B.CreateCall(Log, {U1}))});
    Value *Z = B.CreateFMul(R, B.CreateCall(Cos, {B.CreateFMul(d(2 * M_PI), U2)}));
    Value *Abs = B.CreateCall(
        Intrinsic::getDeclaration(B.GetInsertBlock()->getModule(),
                                  Intrinsic::fabs, {B.getDoubleTy()}),
        {Z});
    B.CreateCondBr(B.CreateFCmpOLE(Abs, d(2)), Done, Loop);
    B.SetInsertPoint(Done);
    return Z;
  }
};

Function *libm(Module &M, StringRef Name) {
  Type *D = Type::getDoubleTy(M.getContext());
  Function *F = cast<Function>(
      M.getOrInsertFunction(Name, FunctionType::get(D, {D}, false)).getCallee());
  F->setDoesNotThrow();
  return F;
}

/// An internal function of the initializer, at O0 like it (run once per
/// model), taking (float *out, i64 n) and then Extra.
Function *initHelper(Module &M, const Twine &Name, ArrayRef<Type *> Extra) {
  LLVMContext &C = M.getContext();
  SmallVector<Type *, 4> Params = {PointerType::getUnqual(C),
                                   Type::getInt64Ty(C)};
  Params.append(Extra.begin(), Extra.end());
  Function *F = Function::Create(
      FunctionType::get(Type::getVoidTy(C), Params, false),
      GlobalValue::InternalLinkage, Name, M);
  F->addFnAttr(Attribute::NoUnwind);
  F->addFnAttr(Attribute::OptimizeNone);
  F->addFnAttr(Attribute::NoInline);
  return F;
}

/// void fill(float *out, i64 n, float v): out[0, n) = v.
Function *fillFunction(Module &M, StringRef Prefix) {
  std::string Name = (Prefix + ".init.fill").str();
  if (Function *F = M.getFunction(Name))
    return F;
  Function *F = initHelper(M, Name, {Type::getFloatTy(M.getContext())});
  IRBuilder<> B(BasicBlock::Create(M.getContext(), "entry", F));
  LoopBuilder(B).counted(B.getInt64(0), F->getArg(1), 1, [&](Value *K) {
    B.CreateStore(F->getArg(2), B.CreateGEP(B.getFloatTy(), F->getArg(0), K));
  });
  B.CreateRetVoid();
  return F;
}

/// void draw(float *out, i64 n, i64 state, double scale): n draws from
/// splitmix64 at state (one discarded first), as Rng: uniform on
/// [-scale, scale), or normal (the cut Box-Muller) of deviation scale.
/// One function per distribution, however many tensors draw from it.
Function *drawFunction(Module &M, StringRef Prefix, bool Normal) {
  std::string Name = (Prefix + (Normal ? ".init.normal" : ".init.uniform")).str();
  if (Function *F = M.getFunction(Name))
    return F;
  LLVMContext &C = M.getContext();
  Function *F = initHelper(M, Name, {Type::getInt64Ty(C), Type::getDoubleTy(C)});
  IRBuilder<> B(BasicBlock::Create(C, "entry", F));
  IRRng R{B, B.CreateAlloca(B.getInt64Ty(), nullptr, "rng"), libm(M, "log"),
          libm(M, "cos")};
  const double CutStd = 0.87962566103423978;
  B.CreateStore(F->getArg(2), R.State);
  R.next();
  Value *Scale = F->getArg(3);
  LoopBuilder(B).counted(B.getInt64(0), F->getArg(1), 1, [&](Value *K) {
    Value *V = Normal
                   ? B.CreateFDiv(B.CreateFMul(R.truncatedNormal(), Scale),
                                  R.d(CutStd))
                   : B.CreateFMul(B.CreateFSub(B.CreateFMul(R.d(2), R.uniform()),
                                               R.d(1)),
                                  Scale);
    B.CreateStore(B.CreateFPTrunc(V, B.getFloatTy()),
                  B.CreateGEP(B.getFloatTy(), F->getArg(0), K));
  });
  B.CreateRetVoid();
  return F;
}

} // namespace

void emitInitFunction(Module &M, const TrainGraph &T, StringRef Prefix) {
  LLVMContext &C = M.getContext();
  IRBuilder<> B(C);
  Function *F = Function::Create(
      FunctionType::get(B.getVoidTy(), {B.getPtrTy(), B.getInt64Ty()}, false),
      GlobalValue::ExternalLinkage, Prefix + "_init", M);
  F->addFnAttr(Attribute::NoUnwind);
  // Run once per model: not worth O3's time in every compile (the JIT
  // builds it too). The arithmetic is IEEE either way: the same floats.
  F->addFnAttr(Attribute::OptimizeNone);
  F->addFnAttr(Attribute::NoInline);
  B.SetInsertPoint(BasicBlock::Create(C, "entry", F));
  Value *Arena = F->getArg(0), *Seed = F->getArg(1);
  Type *Fl = B.getFloatTy();
  auto Dbl = [&](double V) { return ConstantFP::get(B.getDoubleTy(), V); };
  B.CreateMemSet(Arena, B.getInt8(0), T.arenaFloats() * 4, Align(64));
  // The header: step 0, the seed, beta powers 1.
  B.CreateStore(Seed, B.CreateConstInBoundsGEP1_64(B.getInt64Ty(), Arena,
                                                     HeaderWord::Seed));
  for (unsigned Field : {HeaderWord::Beta1Power, HeaderWord::Beta2Power})
    B.CreateStore(Dbl(1.0),
                  B.CreateConstInBoundsGEP1_64(B.getDoubleTy(), Arena, Field));
  // A tensor is one call: the initializer grows by a call per tensor, not
  // by a loop of draws.
  auto Fill = [&](Value *Out, int64_t N, float V) {
    if (V != 0 || std::signbit(V)) // the memset wrote +0
      B.CreateCall(fillFunction(M, Prefix),
                   {Out, B.getInt64(N), ConstantFP::get(Fl, V)});
  };
  const NetworkGraph &G = T.network();
  for (size_t P = 0; P < G.params().size(); ++P) {
    const ParamInfo &I = G.params()[P];
    Value *Out = B.CreateConstInBoundsGEP1_64(Fl, Arena,
                                              T.tensor(T.paramTensor(P)).Offset);
    if (I.UseConstant || I.Init == InitKind::zeros || I.Init == InitKind::ones) {
      Fill(Out, I.size(),
           I.UseConstant ? I.Constant : I.Init == InitKind::ones ? 1.0 : 0.0);
      continue;
    }
    double In = I.FanIn, OutF = I.FanOut;
    double Limit = 0, Std = 0;
    switch (I.Init) {
    case InitKind::glorot_uniform: Limit = std::sqrt(6 / (In + OutF)); break;
    case InitKind::glorot_normal: Std = std::sqrt(2 / (In + OutF)); break;
    case InitKind::he_uniform: Limit = std::sqrt(6 / In); break;
    case InitKind::he_normal: Std = std::sqrt(2 / In); break;
    case InitKind::lecun_uniform: Limit = std::sqrt(3 / In); break;
    case InitKind::lecun_normal: Std = std::sqrt(1 / In); break;
    default: break;
    }
    // Rng{Seed * 0x100000001B3 ^ (Index + 1) << 32}.
    Value *State = B.CreateXor(B.CreateMul(Seed, B.getInt64(0x100000001B3ull)),
                               B.getInt64(uint64_t(P + 1) << 32));
    B.CreateCall(drawFunction(M, Prefix, !Limit),
                 {Out, B.getInt64(I.size()), State, Dbl(Limit ? Limit : Std)});
  }
  // Slots that start away from 0 (Adagrad's accumulators, as Keras).
  for (unsigned K = 0; K < T.numSlots(); ++K)
    Fill(B.CreateConstInBoundsGEP1_64(Fl, Arena, T.slotOffset(K)),
         T.paramsSpan(), T.slotInit(K));
  B.CreateRetVoid();
}

void emitCheckpointFunction(Module &M, const TrainGraph &T, StringRef Prefix,
                            ArrayRef<float> Arena) {
  LLVMContext &C = M.getContext();
  IRBuilder<> B(C);
  // The header, the parameters and the optimizer slots: everything before
  // the workspace.
  ArrayRef<float> State = Arena.take_front(T.workOffset());
  auto *Init = ConstantDataArray::get(C, State);
  auto *G = new GlobalVariable(M, Init->getType(), true,
                               GlobalValue::PrivateLinkage, Init,
                               Prefix + ".checkpoint");
  G->setAlignment(Align(64));
  Function *F = Function::Create(
      FunctionType::get(B.getVoidTy(), {B.getPtrTy()}, false),
      GlobalValue::ExternalLinkage, Prefix + "_init_from_checkpoint", M);
  F->addFnAttr(Attribute::NoUnwind);
  B.SetInsertPoint(BasicBlock::Create(C, "entry", F));
  B.CreateMemSet(F->getArg(0), B.getInt8(0), T.arenaFloats() * 4, Align(64));
  B.CreateMemCpy(F->getArg(0), Align(64), G, Align(64), State.size() * 4);
  B.CreateRetVoid();
}

std::string aotHeader(const TrainGraph &T, StringRef Prefix, StringRef Target,
                      bool HasCheckpoint) {
  const NetworkGraph &G = T.network();
  std::string P = Prefix.str(), U = StringRef(P).upper();
  std::string S;
  raw_string_ostream O(S);
  O << "/* " << P << ".h - the training program of '" << G.spec().Name
    << "' compiled ahead of time by netjit for " << Target << ".\n"
    << " * Link the object with libc and libm only. The arena is "
    << U << "_ARENA_FLOATS floats,\n"
    << " * 64-byte aligned: aligned_alloc(64, " << U << "_ARENA_BYTES).\n"
    << " * Entry points: docs/ir.md (\"The training program\"). */\n"
    << "#ifndef " << U << "_H\n#define " << U << "_H\n\n"
    << "#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  int64_t ArenaBytes = (T.arenaFloats() * 4 + 63) / 64 * 64;
  O << "#define " << U << "_ARENA_FLOATS " << T.arenaFloats() << "\n"
    << "#define " << U << "_ARENA_BYTES " << ArenaBytes << "\n"
    << "#define " << U << "_MAX_BATCH " << T.maxBatch() << "\n"
    << "#define " << U << "_INPUT_SIZE " << G.inputSize() << "\n"
    << "#define " << U << "_OUTPUT_SIZE " << G.outputSize() << "\n"
    << "/* 1: labels are int32 classes; 0: rows of OUTPUT_SIZE float targets. */\n"
    << "#define " << U << "_SPARSE_LABELS " << (T.sparseLabels() ? 1 : 0) << "\n"
    << "/* The step count (int64) and the seed (uint64): the arena's first two\n"
    << " * 8-byte words. */\n"
    << "#define " << U << "_PARAM_COUNT " << G.params().size() << "\n\n";
  size_t MaxRank = 1;
  for (const ParamInfo &I : G.params())
    MaxRank = std::max(MaxRank, I.Shape.size());
  O << "#define " << U << "_MAX_RANK " << MaxRank << "\n\n";
  O << "/* Where each parameter lives: floats from the arena's start, row-major;\n"
    << " * its extents (rank of them), and the same as a rows x cols matrix\n"
    << " * (a bias is 1 x n). */\n"
    << "typedef struct {\n  const char *name;\n  int64_t offset, rows, cols;\n"
    << "  int rank;\n  int64_t shape[" << U << "_MAX_RANK];\n} " << P
    << "_param;\n"
    << "static const " << P << "_param " << P << "_params[" << U
    << "_PARAM_COUNT] = {\n";
  for (size_t K = 0; K < G.params().size(); ++K) {
    const ParamInfo &I = G.params()[K];
    O << "    {\"" << I.Name << "\", " << T.tensor(T.paramTensor(K)).Offset
      << ", " << I.rows() << ", " << I.cols() << ", " << I.Shape.size() << ", {";
    for (size_t D = 0; D < I.Shape.size(); ++D)
      O << (D ? ", " : "") << I.Shape[D];
    O << "}},\n";
  }
  O << "};\n\n";
  O << "/* Every parameter from its initializer seeded by seed (the JIT's\n"
    << " * initialize, bit for bit), optimizer state and step count cleared. */\n"
    << "void " << P << "_init(float *arena, uint64_t seed);\n";
  if (HasCheckpoint)
    O << "/* The weights, optimizer state and counters of the checkpoint the\n"
      << " * object was compiled with. */\n"
      << "void " << P << "_init_from_checkpoint(float *arena);\n";
  O << "\n/* stats: four doubles added to: the loss summed over the samples, the\n"
    << " * samples predicted right, the regularization penalty, reserved. io:\n"
    << " * the labels (or targets); predict writes its outputs there. */\n";
  for (const char *E : {"train_step", "gradients", "evaluate", "predict"})
    O << "void " << P << "_" << E
      << "(float *arena, const float *x, void *io, int64_t batch, double *stats);\n";
  O << "\n/* A step split between threads (docs/ir.md). */\n"
    << "void " << P << "_gradients_part(float *arena, float *work, const float *x,\n"
    << "    void *io, int64_t rows, double *stats, int64_t total, int64_t row0);\n"
    << "void " << P << "_advance(float *arena);\n"
    << "void " << P << "_update_part(float *arena, float *const *extra, int64_t lo,\n"
    << "    int64_t hi, double *stats);\n"
    << "#define " << U << "_WORK_OFFSET " << T.workOffset() << "\n"
    << "#define " << U << "_WORK_FLOATS " << T.workFloats() << "\n"
    // update_part's range: the trained parameters (laid out first), not
    // the state layers keep (moving statistics), which weight decay would
    // otherwise shrink.
    << "#define " << U << "_PARAMS_SPAN " << T.trainedSpan() << "\n";
  O << "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
  O.flush();
  return S;
}

} // namespace netjit
