// Jit.cpp - target machines, the O3 pipeline, object emission, the object
// cache and the ORC LLJIT instance.
#include "netjit/JIT/Jit.h"

#include "llvm/ADT/ScopeExit.h"

#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Files.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/xxhash.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/Cloning.h"
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

using namespace llvm;

namespace netjit {

static void initializeTargets() {
  static std::once_flag Once;
  std::call_once(Once, [] {
    InitializeAllTargetInfos();
    InitializeAllTargets();
    InitializeAllTargetMCs();
    InitializeAllAsmPrinters();
    InitializeAllAsmParsers();
  });
}

static orc::JITTargetMachineBuilder builderFor(const TargetOptions &O) {
  bool Host = O.Triple.empty() && O.CPU.empty() && O.Features.empty();
  orc::JITTargetMachineBuilder JTMB(
      Triple(O.Triple.empty() ? sys::getProcessTriple() : O.Triple));
  if (Host) {
    if (auto Detected = orc::JITTargetMachineBuilder::detectHost())
      JTMB = std::move(*Detected);
    else
      consumeError(Detected.takeError());
  } else {
    if (!O.CPU.empty())
      JTMB.setCPU(O.CPU);
    else if (O.Triple.empty())
      JTMB.setCPU(sys::getHostCPUName().str());
    if (!O.Features.empty()) {
      SmallVector<StringRef> Fs;
      StringRef(O.Features).split(Fs, ',', -1, false);
      std::vector<std::string> V(Fs.begin(), Fs.end());
      JTMB.addFeatures(V);
    }
  }
  JTMB.setCodeGenOptLevel(CodeGenOptLevel::Aggressive);
  JTMB.setRelocationModel(Reloc::PIC_);
  // The JIT default is the large code model: every constant then costs a
  // movabs of its address, and loops short of registers reload splats that
  // way. JITLink places a module's sections together, so the small model's
  // RIP-relative constants (folded as {1to16} operands) always reach.
  JTMB.setCodeModel(CodeModel::Small);
  return JTMB;
}

Expected<std::unique_ptr<TargetMachine>>
createTargetMachine(const TargetOptions &O) {
  initializeTargets();
  std::string Err;
  Triple T(O.Triple.empty() ? sys::getProcessTriple() : O.Triple);
  if (!TargetRegistry::lookupTarget(T.str(), Err))
    return plainError(ErrorKind::Usage, "--triple " + O.Triple + ": " + Err);
  auto JTMB = builderFor(O);
  auto TM = JTMB.createTargetMachine();
  if (!TM)
    return plainError(ErrorKind::Compile, "cannot target '" + T.str() +
                                              "': " + toString(TM.takeError()));
  const MCSubtargetInfo *STI = (*TM)->getMCSubtargetInfo();
  if (!O.CPU.empty() && !STI->isCPUStringValid(O.CPU))
    return plainError(ErrorKind::Usage,
                      "--mcpu " + O.CPU + ": not a CPU of " + T.str());
  return std::move(*TM);
}

unsigned vectorLanes(const TargetMachine &TM) {
  const Triple &T = TM.getTargetTriple();
  const MCSubtargetInfo *STI = TM.getMCSubtargetInfo();
  if (T.isX86()) {
    if (STI->checkFeatures("+avx512f"))
      return 16;
    if (STI->checkFeatures("+avx"))
      return 8;
  }
  return 4;
}

/// Without FMA hardware (x86 before Haswell, generic x86-64) the backend
/// turns llvm.fma into a libm call per lane, which JIT code may not make.
/// So fma(a, b, c) is rewritten here. In float: a b = p + e exactly
/// (Dekker's product, by Veltkamp's 12-bit split), p + c = s + t exactly
/// (TwoSum), and s + (t + e) is within a fraction of an ULP of the fused
/// result, and exact for the error-free transformations netjit builds on
/// fma (fma(a, b, -p) is e). Past 2^100, where the split would overflow,
/// it is a b + c unfused. (Computing it in double instead would be
/// simpler, but LLVM 19 cannot select the SSE2 conversions it leads to.)
/// In double, netjit's fmas are polynomials and Cody-Waite reductions whose
/// products are exact: a product and a sum.
static void lowerFmaWithoutHardware(Module &M, const TargetMachine &TM) {
  if (!TM.getTargetTriple().isX86() ||
      TM.getMCSubtargetInfo()->checkFeatures("+fma"))
    return;
  SmallVector<CallInst *, 64> Calls;
  for (Function &F : M)
    for (Instruction &I : instructions(F))
      if (auto *C = dyn_cast<CallInst>(&I))
        if (C->getIntrinsicID() == Intrinsic::fma)
          Calls.push_back(C);
  for (CallInst *C : Calls) {
    IRBuilder<> B(C);
    Value *A = C->getArgOperand(0), *Bv = C->getArgOperand(1),
          *Cv = C->getArgOperand(2);
    Type *T = C->getType();
    Value *R;
    if (!T->getScalarType()->isFloatTy()) {
      R = B.CreateFAdd(B.CreateFMul(A, Bv), Cv);
    } else {
      auto K = [&](double V) { return ConstantFP::get(T, V); };
      auto Split = [&](Value *X) { // X = Hi + Lo, 12 bits each
        Value *S = B.CreateFMul(X, K(4097));
        Value *Hi = B.CreateFSub(S, B.CreateFSub(S, X));
        return std::make_pair(Hi, B.CreateFSub(X, Hi));
      };
      Value *P = B.CreateFMul(A, Bv);
      auto [AH, AL] = Split(A);
      auto [BH, BL] = Split(Bv);
      Value *E = B.CreateFSub(B.CreateFMul(AH, BH), P);
      E = B.CreateFAdd(E, B.CreateFMul(AH, BL));
      E = B.CreateFAdd(E, B.CreateFMul(AL, BH));
      E = B.CreateFAdd(E, B.CreateFMul(AL, BL));
      Value *S = B.CreateFAdd(P, Cv);
      Value *V = B.CreateFSub(S, P);
      Value *Tt = B.CreateFAdd(B.CreateFSub(P, B.CreateFSub(S, V)),
                               B.CreateFSub(Cv, V));
      Value *Fused = B.CreateFAdd(S, B.CreateFAdd(Tt, E));
      auto Fabs = [&](Value *X) {
        return B.CreateUnaryIntrinsic(Intrinsic::fabs, X);
      };
      Value *Small = B.CreateAnd(B.CreateFCmpOLT(Fabs(A), K(0x1p100)),
                                 B.CreateFCmpOLT(Fabs(Bv), K(0x1p100)));
      R = B.CreateSelect(Small, Fused, S);
    }
    C->replaceAllUsesWith(R);
    C->eraseFromParent();
  }
}

void optimizeModule(Module &M, TargetMachine &TM) {
  M.setTargetTriple(TM.getTargetTriple().str());
  M.setDataLayout(TM.createDataLayout());
  lowerFmaWithoutHardware(M, TM);
  LoopAnalysisManager LAM;
  FunctionAnalysisManager FAM;
  CGSCCAnalysisManager CGAM;
  ModuleAnalysisManager MAM;
  PassBuilder PB(&TM);
  PB.registerModuleAnalyses(MAM);
  PB.registerCGSCCAnalyses(CGAM);
  PB.registerFunctionAnalyses(FAM);
  PB.registerLoopAnalyses(LAM);
  PB.crossRegisterProxies(LAM, FAM, CGAM, MAM);
  PB.buildPerModuleDefaultPipeline(OptimizationLevel::O3).run(M, MAM);
}

static Expected<std::string> emitFile(Module &M, TargetMachine &TM,
                                      CodeGenFileType Kind) {
  M.setTargetTriple(TM.getTargetTriple().str());
  M.setDataLayout(TM.createDataLayout());
  SmallVector<char, 0> Buf;
  raw_svector_ostream OS(Buf);
  legacy::PassManager PM;
  if (TM.addPassesToEmitFile(PM, OS, nullptr, Kind))
    return plainError(ErrorKind::Compile,
                      "the target cannot emit this file type");
  PM.run(M);
  return std::string(Buf.begin(), Buf.end());
}

/// The objects of an optimized module, compiled in Parts parts on as many
/// threads: code generation is half a cold compile, and by then the
/// functions are independent. The functions are dealt to the parts largest
/// first, each to the one with the fewest instructions so far; each part
/// holds every global variable (they are constants) and declares what it
/// calls in the others, which are made external for it; each but the first
/// (what stays of M) travels as bitcode to a context and target machine of
/// its own. A module with a variable global is one part.
static Expected<std::vector<std::string>>
emitObjects(Module &M, const TargetOptions &O, TargetMachine &TM,
            unsigned Parts) {
  SmallVector<std::pair<size_t, Function *>, 32> Defs;
  for (Function &F : M)
    if (!F.isDeclaration())
      Defs.push_back({F.getInstructionCount(), &F});
  bool Constants = llvm::all_of(M.globals(), [](const GlobalVariable &G) {
    return G.isConstant();
  });
  Parts = Constants ? std::min<size_t>(Parts, Defs.size()) : 1;
  if (Parts <= 1) {
    auto Obj = emitObject(M, TM);
    if (!Obj)
      return Obj.takeError();
    return std::vector<std::string>{std::move(*Obj)};
  }
  llvm::stable_sort(Defs, [](auto &A, auto &C) { return A.first > C.first; });
  std::vector<size_t> Size(Parts, 0);
  DenseMap<const GlobalValue *, unsigned> PartOf;
  for (auto &[N, F] : Defs) {
    unsigned P = std::min_element(Size.begin(), Size.end()) - Size.begin();
    Size[P] += N;
    PartOf[F] = P;
    // Called from another part now: external, by its (unique) name.
    if (F->hasLocalLinkage())
      F->setLinkage(GlobalValue::ExternalLinkage);
  }
  std::vector<std::string> Bitcode(Parts), Objects(Parts), Errors(Parts);
  auto Compile = [&](unsigned P) {
    LLVMContext Ctx;
    auto Part = parseBitcodeFile(MemoryBufferRef(Bitcode[P], "part"), Ctx);
    auto PartTM = Part ? createTargetMachine(O)
                       : Expected<std::unique_ptr<TargetMachine>>(
                             Part.takeError());
    auto Obj = PartTM ? emitObject(**Part, **PartTM)
                      : Expected<std::string>(PartTM.takeError());
    if (Obj)
      Objects[P] = std::move(*Obj);
    else
      Errors[P] = toString(Obj.takeError());
  };
  // Each other part starts on its thread as soon as it is cut out.
  std::vector<std::thread> Threads;
  for (unsigned P = 1; P < Parts; ++P) {
    ValueToValueMapTy VMap;
    auto Part = CloneModule(M, VMap, [&](const GlobalValue *GV) {
      auto It = PartOf.find(GV);
      return It == PartOf.end() || It->second == P;
    });
    raw_string_ostream OS(Bitcode[P]);
    WriteBitcodeToFile(*Part, OS);
    Threads.emplace_back(Compile, P);
  }
  // Part 0 is what stays of M, compiled here with M's own target machine.
  for (auto &[N, F] : Defs)
    if (PartOf[F] != 0)
      F->deleteBody();
  auto Obj = emitObject(M, TM);
  if (Obj)
    Objects[0] = std::move(*Obj);
  else
    Errors[0] = toString(Obj.takeError());
  for (std::thread &T : Threads)
    T.join();
  for (const std::string &E : Errors)
    if (!E.empty())
      return plainError(ErrorKind::Compile, E);
  return Objects;
}

Expected<std::string> emitAssembly(Module &M, TargetMachine &TM) {
  return emitFile(M, TM, CodeGenFileType::AssemblyFile);
}
Expected<std::string> emitObject(Module &M, TargetMachine &TM) {
  return emitFile(M, TM, CodeGenFileType::ObjectFile);
}

/// What generated code may call: the copies and fills code generation may
/// lower large moves to, and libm's double log and cos, which the
/// initializer (PREFIX_init) calls for its normal draws.
static const std::pair<const char *, void *> AllowList[] = {
    {"memcpy", reinterpret_cast<void *>(&::memcpy)},
    {"memmove", reinterpret_cast<void *>(&::memmove)},
    {"memset", reinterpret_cast<void *>(&::memset)},
    {"log", reinterpret_cast<void *>(static_cast<double (*)(double)>(&::log))},
    {"cos", reinterpret_cast<void *>(static_cast<double (*)(double)>(&::cos))}};

ArrayRef<const char *> runtimeAllowList() {
  static const std::vector<const char *> Names = [] {
    std::vector<const char *> V;
    for (auto &[Name, Address] : AllowList)
      V.push_back(Name);
    return V;
  }();
  return Names;
}

static void *allowedAddress(StringRef Name) {
  for (auto &[N, Address] : AllowList)
    if (Name == N)
      return Address;
  return nullptr;
}

/// Every undefined symbol of the objects (the parts of one module) must be
/// defined by one of them or be on the allow-list.
static Error checkObjectSymbols(ArrayRef<std::unique_ptr<MemoryBuffer>> Objs) {
  std::vector<std::unique_ptr<object::ObjectFile>> Files;
  StringSet<> Defined;
  for (const auto &Obj : Objs) {
    auto File = object::ObjectFile::createObjectFile(Obj->getMemBufferRef());
    if (!File)
      return plainError(ErrorKind::Compile,
                        "bad object file: " + toString(File.takeError()));
    for (const object::SymbolRef &S : (*File)->symbols()) {
      auto Flags = S.getFlags();
      auto Name = S.getName();
      if (Flags && Name && !(*Flags & object::SymbolRef::SF_Undefined) &&
          (*Flags & object::SymbolRef::SF_Global))
        Defined.insert(*Name);
      if (!Flags)
        consumeError(Flags.takeError());
      if (!Name)
        consumeError(Name.takeError());
    }
    Files.push_back(std::move(*File));
  }
  for (const auto &File : Files)
    for (const object::SymbolRef &S : File->symbols()) {
      auto Flags = S.getFlags();
      if (!Flags) {
        consumeError(Flags.takeError());
        continue;
      }
      if (!(*Flags & object::SymbolRef::SF_Undefined))
        continue;
      auto Name = S.getName();
      if (!Name) {
        consumeError(Name.takeError());
        continue;
      }
      // The GOT is the JIT linker's own, not a runtime symbol.
      if (Name->empty() || *Name == "_GLOBAL_OFFSET_TABLE_" ||
          Defined.contains(*Name) ||
          llvm::is_contained(runtimeAllowList(), *Name))
        continue;
      return plainError(ErrorKind::Compile,
                        "generated code calls '" + *Name +
                            "', which is not in the JIT's runtime allow-list (" +
                            join(runtimeAllowList(), ", ") + ")");
    }
  return Error::success();
}

static std::string defaultCacheDir() {
  if (const char *D = std::getenv("NETJIT_CACHE_DIR"))
    return D;
  SmallString<256> P;
  if (const char *X = std::getenv("XDG_CACHE_HOME"))
    P = X;
  else if (const char *H = std::getenv("HOME"))
    sys::path::append(P, H, ".cache");
  else
    return "";
  sys::path::append(P, "netjit");
  return std::string(P);
}

Expected<std::unique_ptr<Jit>> Jit::create(const JitOptions &Opts) {
  if (!Opts.Target.Triple.empty() &&
      Triple(Opts.Target.Triple).getArch() !=
          Triple(sys::getProcessTriple()).getArch())
    return plainError(ErrorKind::Usage, "cannot run code for " +
                                            Opts.Target.Triple + " on this " +
                                            sys::getProcessTriple() + " host");
  auto TM = createTargetMachine(Opts.Target);
  if (!TM)
    return TM.takeError();
  std::unique_ptr<Jit> R(new Jit());
  R->TM = std::move(*TM);
  R->Lanes = vectorLanes(*R->TM);
  R->UseCache = Opts.UseCache && !std::getenv("NETJIT_NO_CACHE");
  R->Target = Opts.Target;
  R->Parts = Opts.CompileThreads;
  if (const char *N = std::getenv("NETJIT_COMPILE_THREADS"); N && !R->Parts)
    R->Parts = std::atoi(N);
  if (!R->Parts)
    R->Parts = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  R->CacheDir = Opts.CacheDir.empty() ? defaultCacheDir() : Opts.CacheDir;
  if (R->CacheDir.empty())
    R->UseCache = false;

  auto J = orc::LLJITBuilder()
               .setJITTargetMachineBuilder(builderFor(Opts.Target))
               .setLinkProcessSymbolsByDefault(false)
               // No ORC runtime or process symbols: plain object linking.
               .setPlatformSetUp(orc::setUpInactivePlatform)
               .create();
  if (!J)
    return plainError(ErrorKind::Compile,
                      "cannot start the JIT: " + toString(J.takeError()));
  R->J = std::move(*J);
  // The allow-list, and nothing else from this process.
  orc::SymbolMap Syms;
  for (const char *Name : runtimeAllowList())
    Syms[R->J->mangleAndIntern(Name)] = {
        orc::ExecutorAddr::fromPtr(allowedAddress(Name)),
        JITSymbolFlags::Exported | JITSymbolFlags::Callable};
  if (Error E = R->J->getMainJITDylib().define(orc::absoluteSymbols(Syms)))
    return E;
  return R;
}

Jit::~Jit() = default;

Error Jit::addModule(std::unique_ptr<Module> M,
                     std::unique_ptr<LLVMContext> Ctx) {
  // The module before its context, on every path: the order parameters die
  // in is the compiler's choice (clang's destroyed the context first).
  auto Release = make_scope_exit([&] {
    M.reset();
    Ctx.reset();
  });
  M->setTargetTriple(TM->getTargetTriple().str());
  M->setDataLayout(TM->createDataLayout());
  std::string Verify;
  raw_string_ostream VOS(Verify);
  if (verifyModule(*M, &VOS))
    return plainError(ErrorKind::Compile, "invalid IR: " + VOS.str());

  // The cache key: the unoptimized module's bitcode (a quarter of the
  // cost of printing it as text), the target, the parts it is compiled
  // in, and both versions.
  std::string Key;
  if (UseCache) {
    SmallVector<char, 0> Buf;
    raw_svector_ostream OS(Buf);
    WriteBitcodeToFile(*M, OS);
    OS << TM->getTargetTriple().str() << '|' << TM->getTargetCPU() << '|'
       << TM->getTargetFeatureString() << "|LLVM " LLVM_VERSION_STRING
       << "|parts " << Parts << "|netjit 4";
    Key = utohexstr(xxh3_64bits(arrayRefFromStringRef(OS.str())), true, 16);
  }
  // Part I of N is KEY-IofN.o.
  auto PathOf = [&](unsigned I, unsigned N) {
    SmallString<256> Path(CacheDir);
    sys::path::append(Path, Key + "-" + Twine(I) + "of" + Twine(N) + ".o");
    return Path;
  };
  std::vector<std::unique_ptr<MemoryBuffer>> Objs;
  for (unsigned N = 1; UseCache && Objs.empty() && N <= Parts; ++N)
    for (unsigned I = 0; I < N; ++I) {
      auto B = MemoryBuffer::getFile(PathOf(I, N));
      if (!B) {
        Objs.clear();
        break;
      }
      Objs.push_back(std::move(*B));
    }
  if (!Objs.empty()) {
    ++Hits;
  } else {
    optimizeModule(*M, *TM);
    auto Bytes = emitObjects(*M, Target, *TM, Parts);
    if (!Bytes)
      return Bytes.takeError();
    ++Misses;
    // A cache that cannot be written is only slower: no error.
    bool Write = UseCache && !sys::fs::create_directories(CacheDir);
    for (unsigned I = 0; I < Bytes->size(); ++I) {
      if (Write)
        consumeError(writeFileAtomically(PathOf(I, Bytes->size()),
                                         (*Bytes)[I], /*Sync=*/false));
      Objs.push_back(MemoryBuffer::getMemBufferCopy(
          (*Bytes)[I], M->getModuleIdentifier() + "." + Twine(I)));
    }
  }
  if (Error E = checkObjectSymbols(Objs))
    return E;
  for (auto &Obj : Objs)
    if (Error E = J->addObjectFile(std::move(Obj)))
      return plainError(ErrorKind::Compile, "cannot load the compiled code: " +
                                                toString(std::move(E)));
  return Error::success();
}

Error probeJit() {
  JitOptions O;
  O.UseCache = false;
  auto J = Jit::create(O);
  if (!J)
    return J.takeError();
  auto Ctx = std::make_unique<LLVMContext>();
  auto M = std::make_unique<Module>("probe", *Ctx);
  Type *I32 = Type::getInt32Ty(*Ctx);
  Function *F = Function::Create(FunctionType::get(I32, false),
                                 GlobalValue::ExternalLinkage, "probe", *M);
  ReturnInst::Create(*Ctx, ConstantInt::get(I32, 42),
                     BasicBlock::Create(*Ctx, "entry", F));
  if (Error E = (*J)->addModule(std::move(M), std::move(Ctx)))
    return E;
  auto Sym = (*J)->lookup("probe");
  if (!Sym)
    return Sym.takeError();
  if (reinterpret_cast<int (*)()>(*Sym)() != 42)
    return plainError(ErrorKind::Compile, "JIT code returned a wrong value");
  return Error::success();
}

Expected<void *> Jit::lookup(StringRef Symbol) {
  auto A = J->lookup(Symbol);
  if (!A)
    return plainError(ErrorKind::Compile, "no JIT symbol '" + Symbol +
                                              "': " + toString(A.takeError()));
  return A->toPtr<void *>();
}

} // namespace netjit
