// GemmTest.cpp - the generated matrix products against a double-precision
// triple loop, for every transpose combination, shapes with and without
// whole register blocks, vectors and transpose tiles, and sizes known only
// at run time; the epilogue sees every row exactly once.
#include "TestUtil.h"

#include "netjit/CodeGen/Gemm.h"
#include "netjit/CodeGen/Loops.h"

#include "llvm/IR/Module.h"

using namespace netjit;
using namespace llvm;

namespace {

struct Case {
  int64_t M, K, N;
  bool TransA, TransB;
};

// gemm(a, b, c, pack, m, k, rowsSeen): C = op(A) op(B), rowsSeen[r] += 1
// for every row the epilogue is given.
using GemmFn = void (*)(const float *, const float *, float *, float *,
                        int64_t, int64_t, int32_t *);

void emitCase(Module &M, const Case &C, const std::string &Name,
              unsigned Lanes) {
  LLVMContext &Ctx = M.getContext();
  IRBuilder<> B(Ctx);
  Type *Ptr = B.getPtrTy(), *I64 = B.getInt64Ty();
  Function *F = Function::Create(
      FunctionType::get(B.getVoidTy(), {Ptr, Ptr, Ptr, Ptr, I64, I64, Ptr},
                        false),
      GlobalValue::ExternalLinkage, Name, M);
  B.SetInsertPoint(BasicBlock::Create(Ctx, "entry", F));
  GemmOperands Ops;
  Ops.A = F->getArg(0);
  Ops.B = F->getArg(1);
  Ops.C = F->getArg(2);
  Ops.Pack = C.TransB ? F->getArg(3) : nullptr;
  Ops.TransA = C.TransA;
  Ops.TransB = C.TransB;
  Ops.Lda = C.TransA ? C.M : C.K;
  Ops.Ldb = C.TransB ? C.K : C.N;
  Ops.Ldc = C.N;
  Ops.M = F->getArg(4);
  Ops.K = F->getArg(5);
  Ops.MHint = C.M;
  Ops.N = C.N;
  emitGemm(B, Ops, Lanes, [&](Value *Row0, Value *Rows) {
    LoopBuilder(B).counted(Row0, B.CreateAdd(Row0, Rows), 1, [&](Value *R) {
      Value *P = B.CreateGEP(B.getInt32Ty(), F->getArg(6), R);
      B.CreateStore(B.CreateAdd(B.CreateLoad(B.getInt32Ty(), P), B.getInt32(1)),
                    P);
    });
  });
  B.CreateRetVoid();
}

TEST(GemmTest, EveryTransposeAndShapeMatchesATripleLoop) {
  if (!test::jitUnavailable().empty())
    GTEST_SKIP() << test::jitUnavailable();
  JitOptions JO;
  JO.UseCache = false;
  auto J = Jit::create(JO);
  ASSERT_TRUE(bool(J)) << toString(J.takeError());
  unsigned L = (*J)->lanes();
  // Whole blocks and tiles; partial vectors; partial tiles on both sides
  // of a transposed B; a single row; K of 1.
  std::vector<Case> Cases;
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{32, 32, 64},
                         {33, 35, 37}, {5, 3, 7}, {1, 16, 16},
                         {17, 1, 3 * L + 5}, {24, 2 * L, 2 * L + 1}})
    for (bool TA : {false, true})
      for (bool TB : {false, true})
        Cases.push_back({M, K, N, TA, TB});
  auto Ctx = std::make_unique<LLVMContext>();
  auto Mod = std::make_unique<Module>("gemm", *Ctx);
  for (size_t I = 0; I < Cases.size(); ++I)
    emitCase(*Mod, Cases[I], "gemm" + std::to_string(I), L);
  ASSERT_FALSE(bool((*J)->addModule(std::move(Mod), std::move(Ctx))));
  std::mt19937 R(3);
  std::uniform_real_distribution<float> U(-1, 1);
  for (size_t I = 0; I < Cases.size(); ++I) {
    const Case &C = Cases[I];
    auto Sym = (*J)->lookup("gemm" + std::to_string(I));
    ASSERT_TRUE(bool(Sym)) << toString(Sym.takeError());
    std::vector<float> A(C.M * C.K), Bm(C.K * C.N), Out(C.M * C.N, NAN),
        Pack(C.K * C.N);
    for (float &V : A)
      V = U(R);
    for (float &V : Bm)
      V = U(R);
    std::vector<int32_t> Seen(C.M);
    reinterpret_cast<GemmFn>(*Sym)(A.data(), Bm.data(), Out.data(),
                                   Pack.data(), C.M, C.K, Seen.data());
    for (int64_t Mi = 0; Mi < C.M; ++Mi) {
      ASSERT_EQ(Seen[Mi], 1) << "case " << I << " row " << Mi;
      for (int64_t Ni = 0; Ni < C.N; ++Ni) {
        double Ref = 0, Mag = 0;
        for (int64_t Ki = 0; Ki < C.K; ++Ki) {
          double Av = C.TransA ? A[Ki * C.M + Mi] : A[Mi * C.K + Ki];
          double Bv = C.TransB ? Bm[Ni * C.K + Ki] : Bm[Ki * C.N + Ni];
          Ref += Av * Bv;
          Mag += std::fabs(Av * Bv);
        }
        ASSERT_NEAR(Out[Mi * C.N + Ni], Ref, 1e-6 * Mag + 1e-30)
            << "case " << I << " (" << C.M << "x" << C.K << "x" << C.N
            << (C.TransA ? " A^T" : "") << (C.TransB ? " B^T" : "") << ") at "
            << Mi << "," << Ni;
      }
    }
  }
}

} // namespace
