// JitTest.cpp - compiled kernels against the double reference, tails, the
// allow-list, and the object cache.
#include "TestUtil.h"

#include "netjit/Activations/Catalog.h"
#include "netjit/CodeGen/Kernels.h"
#include "netjit/JIT/Jit.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace netjit;
using namespace netjit::test;

namespace {

using FwdFn = void (*)(const float *, float *, int64_t, const float *);
using BwdFn = void (*)(const float *, const float *, const float *, float *,
                       int64_t, const float *);
using FusedFn = void (*)(const float *, const float *, float *, float *,
                         int64_t, const float *);

/// A JIT for the host (tests call NETJIT_REQUIRE_JIT() first).
std::unique_ptr<Jit> makeJit(bool Cache = false, std::string Dir = "") {
  JitOptions O;
  O.UseCache = Cache;
  O.CacheDir = Dir;
  auto J = Jit::create(O);
  if (!J) {
    ADD_FAILURE() << toString(J.takeError());
    return nullptr;
  }
  return std::move(*J);
}

struct Kernels {
  FwdFn Fwd;
  BwdFn Bwd;
  FusedFn Fused;
};

Kernels compile(Jit &J, const ActivationForms &F, const std::string &Name) {
  auto Ctx = std::make_unique<llvm::LLVMContext>();
  auto M = std::make_unique<llvm::Module>(Name, *Ctx);
  llvm::cantFail(emitActivationKernels(
      *M, F, Name, J.lanes(),
      {KernelKind::Forward, KernelKind::Backward, KernelKind::Fused}));
  llvm::cantFail(J.addModule(std::move(M), std::move(Ctx)));
  auto Sym = [&](KernelKind K) {
    return llvm::cantFail(J.lookup(kernelSymbol(Name, K)));
  };
  return {reinterpret_cast<FwdFn>(Sym(KernelKind::Forward)),
          reinterpret_cast<BwdFn>(Sym(KernelKind::Backward)),
          reinterpret_cast<FusedFn>(Sym(KernelKind::Fused))};
}

} // namespace

class KernelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KernelTest, MatchesTheReferenceInEveryKernel) {
  NETJIT_REQUIRE_JIT();
  auto J = makeJit();
  ASSERT_TRUE(J);
  const ActivationInfo &I = *findActivation(GetParam());
  ExprContext C;
  auto F = llvm::cantFail(deriveActivation(C, I.Formula, paramNames(I)));
  Kernels K = compile(*J, F, "k_" + I.Name);
  ParamValues PV = defaultParams(I);
  for (auto &[Name, V] : PV)
    V = static_cast<float>(V); // what the kernel sees
  std::vector<float> P = llvm::cantFail(packParams(F, PV));
  // An odd count exercises the masked tail.
  const int64_t N = 1037;
  std::vector<float> X(N), DY(N), Y(N), DX(N), Y2(N), DX2(N), DX3(N);
  for (int64_t K2 = 0; K2 < N; ++K2) {
    X[K2] = -8.0f + 16.0f * (K2 + 0.31f) / N;
    DY[K2] = 0.5f + (K2 % 7) * 0.25f;
  }
  K.Fwd(X.data(), Y.data(), N, P.data());
  K.Bwd(X.data(), Y.data(), DY.data(), DX.data(), N, P.data());
  K.Fused(X.data(), DY.data(), Y2.data(), DX2.data(), N, P.data());
  K.Fused(X.data(), nullptr, Y2.data(), DX3.data(), N, P.data());
  auto Fr = llvm::cantFail(Evaluator::create(F.Forward, PV));
  auto Dr = llvm::cantFail(Evaluator::create(F.Derivative, PV));
  for (int64_t K2 = 0; K2 < N; ++K2) {
    double Want = Fr(X[K2]), WantD = Dr(X[K2]);
    EXPECT_TRUE(closeRel(Y[K2], Want, 1e-5))
        << I.Name << "(" << X[K2] << ") = " << Y[K2] << " vs " << Want;
    EXPECT_EQ(Y[K2], Y2[K2]) << "forward and fused disagree at " << X[K2];
    EXPECT_TRUE(closeRel(DX[K2], DY[K2] * WantD, 1e-5))
        << I.Name << "' at " << X[K2] << ": " << DX[K2] << " vs "
        << DY[K2] * WantD;
    EXPECT_TRUE(closeRel(DX2[K2], DY[K2] * WantD, 1e-5))
        << I.Name << " fused at " << X[K2];
    EXPECT_TRUE(closeRel(DX3[K2], WantD, 1e-5)) << I.Name << " f' at " << X[K2];
  }
}

static std::vector<std::string> kernelNames() {
  std::vector<std::string> N;
  for (const ActivationInfo &I : activationCatalog())
    if (!I.RowWise)
      N.push_back(I.Name);
  return N;
}

INSTANTIATE_TEST_SUITE_P(Catalog, KernelTest,
                         ::testing::ValuesIn(kernelNames()),
                         [](const auto &Info) { return Info.param; });

TEST(Kernel, TailsWriteExactlyNElements) {
  NETJIT_REQUIRE_JIT();
  auto J = makeJit();
  ASSERT_TRUE(J);
  // Two kernels of different sizes (their loop bodies differ in registers
  // and spills; the tail runs the same body through stack buffers).
  const float Th = std::tanh(0.5f), Sg = 1 / (1 + std::exp(-0.5f));
  struct Case {
    const char *F;
    float Y, D;
  } Cases[] = {{"tanh(x)", Th, 1 - Th * Th}, {"sigmoid(x)", Sg, Sg * (1 - Sg)}};
  for (const Case &C : Cases) {
    ExprContext Ctx;
    auto F = llvm::cantFail(deriveActivation(Ctx, C.F, {}));
    Kernels K = compile(*J, F, C.F[0] == 't' ? "tails_t" : "tails_s");
    // Every count through two whole steps and a tail, in every kernel.
    const int64_t Step = J->lanes() * 8; // at least two steps of any kernel
    for (int64_t N = 0; N <= 2 * Step + 3; ++N) {
      std::vector<float> X(N + 8, 0.5f), DY(N + 8, 2.0f), Y(N + 8, -7.0f),
          DX(N + 8, -7.0f), Y2(N + 8, -7.0f), DX2(N + 8, -7.0f);
      K.Fwd(X.data(), Y.data(), N, nullptr);
      K.Bwd(X.data(), Y.data(), DY.data(), DX.data(), N, nullptr);
      K.Fused(X.data(), nullptr, Y2.data(), DX2.data(), N, nullptr);
      for (int64_t I = 0; I < N; ++I) {
        EXPECT_FLOAT_EQ(Y[I], C.Y) << C.F << ", n = " << N;
        EXPECT_FLOAT_EQ(DX[I], 2 * C.D) << C.F << ", n = " << N;
        EXPECT_FLOAT_EQ(Y2[I], C.Y) << C.F << ", n = " << N;
        EXPECT_FLOAT_EQ(DX2[I], C.D) << C.F << ", n = " << N;
      }
      for (int64_t I = N; I < N + 8; ++I)
        for (auto *Out : {&Y, &DX, &Y2, &DX2})
          EXPECT_EQ((*Out)[I], -7.0f) << C.F << ": wrote past n = " << N;
    }
    // A negative n writes nothing, before or after the pointers.
    std::vector<float> X(3 * Step, 0.5f), Out(3 * Step, -7.0f);
    float *Mid = Out.data() + Step;
    for (int64_t N : {int64_t(-1), int64_t(-5), -Step - 3}) {
      K.Fwd(X.data() + Step, Mid, N, nullptr);
      K.Fused(X.data() + Step, nullptr, Mid, Mid + Step / 2, N, nullptr);
    }
    EXPECT_EQ(std::count(Out.begin(), Out.end(), -7.0f), 3 * Step)
        << C.F << ": a negative n wrote";
  }
}

/// Past StreamMinBytes the kernels store around the cache after a head step
/// aligning the outputs; outputs that sit unlike modulo 64 bytes take the
/// plain stores. Either way the values are those of small calls (each lane
/// computes alone), and nothing outside [0, n) is written.
static void checkLargeArrays(Jit &J) {
  ExprContext Ctx;
  auto F = llvm::cantFail(deriveActivation(Ctx, "x * sigmoid(x)", {}));
  Kernels K = compile(J, F, "stream");
  const int64_t N = StreamMinBytes / 8 + 37; // forward: 2 streams; a tail
  const int64_t Chunk = 1000;                // far below the threshold
  const int64_t Stride = (N + 64) / 16 * 16; // 64-byte aligned regions
  auto *Buf = static_cast<float *>(std::aligned_alloc(64, 5 * Stride * 4));
  ASSERT_TRUE(Buf);
  std::unique_ptr<float, void (*)(void *)> Own(Buf, std::free);
  float *X = Buf, *DY = Buf + Stride, *Want = Buf + 2 * Stride;
  for (int64_t I = 0; I < N; ++I) {
    X[I] = -9.0f + 18.0f * float(I % 4099) / 4099;
    DY[I] = 0.5f + float(I % 5);
  }
  for (auto [OffY, OffD] : {std::pair(3, 3), std::pair(0, 0),
                            std::pair(16, 1), std::pair(15, 7)}) {
    // Offsets in floats from 64-byte boundaries; the guard at -1 lies in
    // the previous region's slack.
    float *Y = Buf + 3 * Stride + OffY, *DX = Buf + 4 * Stride + OffD;
    auto Check = [&](const char *Kernel, float *Out, float *Ref) {
      for (int64_t I = 0; I < N; ++I)
        if (Out[I] != Ref[I]) {
          ADD_FAILURE() << Kernel << ", outputs at +" << OffY << "/+" << OffD
                        << ": element " << I << " is " << Out[I] << ", not "
                        << Ref[I];
          return;
        }
      EXPECT_EQ(Out[-1], -7.0f) << Kernel << " wrote before its output";
      EXPECT_EQ(Out[N], -7.0f) << Kernel << " wrote past n";
    };
    auto Poison = [&] {
      std::fill(Y - 1, Y + N + 1, -7.0f);
      std::fill(DX - 1, DX + N + 1, -7.0f);
    };
    Poison();
    K.Fwd(X, Y, N, nullptr);
    for (int64_t I = 0; I < N; I += Chunk)
      K.Fwd(X + I, Want + I, std::min(Chunk, N - I), nullptr);
    Check("forward", Y, Want);
    Poison();
    K.Fused(X, DY, Y, DX, N, nullptr);
    Check("fused y", Y, Want);
    for (int64_t I = 0; I < N; I += Chunk)
      K.Bwd(X + I, Y + I, DY + I, Want + I, std::min(Chunk, N - I), nullptr);
    Check("fused dx", DX, Want);
    Poison();
    K.Fwd(X, Y, N, nullptr);
    K.Bwd(X, Y, DY, DX, N, nullptr);
    Check("backward", DX, Want);
  }
}

TEST(Kernel, LargeArraysWriteTheSameAroundTheCache) {
  NETJIT_REQUIRE_JIT();
  // The host's build and, on x86 hosts that run them, the 4- and 8-lane
  // builds (stores aligned to 32 and 64 bytes).
  std::vector<TargetOptions> Targets = {{}};
  if (llvm::Triple(llvm::sys::getProcessTriple()).isX86()) {
    Targets.push_back({"", "x86-64", ""});
    llvm::StringMap<bool> Host = llvm::sys::getHostCPUFeatures();
    if (Host.lookup("avx2") && Host.lookup("fma"))
      Targets.push_back({"", "x86-64-v3", ""});
  }
  for (const TargetOptions &T : Targets) {
    JitOptions O;
    O.Target = T;
    O.UseCache = false;
    auto J = Jit::create(O);
    ASSERT_TRUE(bool(J)) << toString(J.takeError());
    SCOPED_TRACE("cpu '" + T.CPU + "', " + std::to_string((*J)->lanes()) +
                 " lanes");
    checkLargeArrays(**J);
  }
}

TEST(Kernel, SpecialValues) {
  NETJIT_REQUIRE_JIT();
  auto J = makeJit();
  ASSERT_TRUE(J);
  struct Case {
    const char *F;
    float X, Want;
  } Cases[] = {{"tanh(x)", INFINITY, 1},      {"tanh(x)", -INFINITY, -1},
               {"sigmoid(x)", -INFINITY, 0},  {"sigmoid(x)", INFINITY, 1},
               {"softplus(x)", 1e30f, 1e30f}, {"softplus(x)", 100, 100},
               {"exp(x)", -INFINITY, 0},      {"exp(x)", INFINITY, INFINITY},
               {"log(x)", 0, -INFINITY},      {"log1p(x)", -1, -INFINITY},
               {"erf(x)", INFINITY, 1},       {"erfc(x)", INFINITY, 0},
               {"erfc(x)", -INFINITY, 2}};
  int Id = 0;
  for (auto &K : Cases) {
    ExprContext C;
    auto F = llvm::cantFail(deriveActivation(C, K.F, {}));
    Kernels Ks = compile(*J, F, "sv" + std::to_string(Id++));
    float Y;
    Ks.Fwd(&K.X, &Y, 1, nullptr);
    EXPECT_EQ(Y, K.Want) << K.F << " at " << K.X;
  }
  // NaN propagates through every function; nothing overflows inside.
  const char *All[] = {"exp(x)",  "expm1(x)",   "log(x)",      "log1p(x)",
                       "tanh(x)", "sigmoid(x)", "softplus(x)", "erf(x)",
                       "erfc(x)", "sin(x)",     "cos(x)"};
  for (const char *Fn : All) {
    ExprContext C;
    auto F = llvm::cantFail(deriveActivation(C, Fn, {}));
    Kernels Ks = compile(*J, F, "nan" + std::to_string(Id++));
    float X = NAN, Y = 0;
    Ks.Fwd(&X, &Y, 1, nullptr);
    EXPECT_TRUE(std::isnan(Y)) << Fn;
  }
  struct Finite {
    const char *Name;
    float X;
  } Finites[] = {{"mish", 100},
                 {"silu", -100},
                 {"gelu", -20},
                 {"mish", -100},
                 {"gelu", 100}};
  for (auto &Fi : Finites) {
    ExprContext C;
    const ActivationInfo &I = *findActivation(Fi.Name);
    auto F = llvm::cantFail(deriveActivation(C, I.Formula, paramNames(I)));
    std::vector<float> P = llvm::cantFail(packParams(F, defaultParams(I)));
    Kernels Ks = compile(*J, F, "fin" + std::to_string(Id++));
    float Y = NAN, D = NAN;
    Ks.Fused(&Fi.X, nullptr, &Y, &D, 1, P.data());
    EXPECT_TRUE(std::isfinite(Y) && std::isfinite(D))
        << Fi.Name << "(" << Fi.X << ")";
    double Want = *evaluate(F.Forward, Fi.X, defaultParams(I));
    EXPECT_TRUE(closeRel(Y, Want, 1e-6))
        << Fi.Name << "(" << Fi.X << ") = " << Y << " vs " << Want;
  }
}

TEST(Jit, CallsOutsideTheAllowListAreAClearError) {
  NETJIT_REQUIRE_JIT();
  auto J = makeJit();
  ASSERT_TRUE(J);
  auto Ctx = std::make_unique<llvm::LLVMContext>();
  auto M = std::make_unique<llvm::Module>("bad", *Ctx);
  llvm::Type *F = llvm::Type::getFloatTy(*Ctx);
  llvm::FunctionCallee Expf =
      M->getOrInsertFunction("expf", llvm::FunctionType::get(F, {F}, false));
  llvm::Function *Fn = llvm::Function::Create(
      llvm::FunctionType::get(F, {F}, false),
      llvm::GlobalValue::ExternalLinkage, "calls_expf", *M);
  llvm::IRBuilder<> B(llvm::BasicBlock::Create(*Ctx, "entry", Fn));
  B.CreateRet(B.CreateCall(Expf, {Fn->getArg(0)}));
  llvm::Error E = J->addModule(std::move(M), std::move(Ctx));
  ASSERT_TRUE(bool(E));
  EXPECT_EQ(toString(std::move(E)),
            "generated code calls 'expf', which is not in the JIT's runtime "
            "allow-list (memcpy, memmove, memset, log, cos)");
}

TEST(Jit, ObjectCacheHitsOnTheSecondCompile) {
  NETJIT_REQUIRE_JIT();
  llvm::SmallString<128> Dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("netjit-cache", Dir));
  auto Run = [&](const char *Name) {
    auto J = makeJit(/*Cache=*/true, std::string(Dir));
    ExprContext C;
    auto F = llvm::cantFail(deriveActivation(C, "x * tanh(softplus(x))", {}));
    Kernels K = compile(*J, F, Name);
    float X = 1, Y = 0;
    K.Fwd(&X, &Y, 1, nullptr);
    EXPECT_NEAR(Y, 0.865098f, 1e-5);
    return std::make_pair(J->cacheHits(), J->cacheMisses());
  };
  EXPECT_EQ(Run("cached"), std::make_pair(0u, 1u));
  EXPECT_EQ(Run("cached"), std::make_pair(1u, 0u));
  EXPECT_EQ(Run("other"), std::make_pair(0u, 1u)); // different IR, new entry
  llvm::sys::fs::remove_directories(Dir);
}
