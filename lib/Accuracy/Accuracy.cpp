// Accuracy.cpp - float kernels measured in ULPs against long double, with
// MPFR (256 bits) where long double itself cannot be trusted.
#include "netjit/Accuracy/Accuracy.h"

#include "netjit/Activations/Catalog.h"
#include "netjit/CodeGen/Kernels.h"
#include "netjit/Expr/Evaluate.h"
#include "netjit/Support/Diagnostics.h"

#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <mpfr.h>
#include <mutex>
#include <random>
#include <thread>

using namespace llvm;

namespace netjit {

const char *kindName(AccuracyKind K) {
  switch (K) {
  case AccuracyKind::Function:
    return "function";
  case AccuracyKind::Forward:
    return "forward";
  case AccuracyKind::Derivative:
    return "derivative";
  }
  return "";
}

std::vector<AccuracyBudget> accuracyBudgets() {
  std::vector<AccuracyBudget> V = {
      {"exp", AccuracyKind::Function, 1},
      {"expm1", AccuracyKind::Function, 1},
      {"log", AccuracyKind::Function, 1},
      {"log1p", AccuracyKind::Function, 1},
      {"tanh", AccuracyKind::Function, 2},
      {"sigmoid", AccuracyKind::Function, 2},
      {"softplus", AccuracyKind::Function, 2},
      {"erf", AccuracyKind::Function, 2},
      {"erfc", AccuracyKind::Function, 2},
      {"normcdf", AccuracyKind::Function, 2},
      {"normpdf", AccuracyKind::Function, 2},
      {"sin", AccuracyKind::Function, 2},
      {"cos", AccuracyKind::Function, 2}};
  for (const ActivationInfo &I : activationCatalog()) {
    if (I.RowWise)
      continue;
    V.push_back({I.Name, AccuracyKind::Forward, 3});
    V.push_back({I.Name, AccuracyKind::Derivative, 4});
  }
  return V;
}

// Ranges where the formula itself is ill-conditioned (docs/accuracy.md says
// why for each); there the absolute error is bounded instead.
// Tails: a float factor (erfc, sigmoid) is below FLT_MIN, so it keeps fewer
// than 24 bits, and the result is tiny next to x. Roots: f' is a sum of terms
// that cancel (f' = 0 inside the range), so the terms' rounding errors count
// against a small result. The bounds are the measured maxima, rounded up.
static const IllConditioned IllTable[] = {
    {"gelu", AccuracyKind::Forward, -INFINITY, -13, 1e-42,
     "erfc(-x/sqrt 2) subnormal"},
    {"gelu", AccuracyKind::Derivative, -INFINITY, -13, 1e-41,
     "exp(-x^2/2) subnormal"},
    {"gelu", AccuracyKind::Derivative, -1, -0.5, 1e-7,
     "root of f' at -0.7518: Phi(x) + x phi(x) cancels"},
    {"gelu_tanh", AccuracyKind::Forward, -INFINITY, -9.9, 1e-42,
     "sigmoid of the tanh argument subnormal"},
    {"gelu_tanh", AccuracyKind::Derivative, -INFINITY, -9.9, 1e-41,
     "sigmoid of the tanh argument subnormal"},
    {"gelu_tanh", AccuracyKind::Derivative, -1.35, -0.5, 1e-7,
     "root of f' at -0.7524: its two terms cancel"},
    {"gelu_sigmoid", AccuracyKind::Forward, -INFINITY, -51, 1e-42,
     "sigmoid(1.702 x) subnormal"},
    {"gelu_sigmoid", AccuracyKind::Derivative, -INFINITY, -51, 1e-41,
     "sigmoid(1.702 x) subnormal"},
    {"gelu_sigmoid", AccuracyKind::Derivative, -1.05, -0.45, 1e-7,
     "root of f' at -0.7512: its two terms cancel"},
    {"silu", AccuracyKind::Forward, -INFINITY, -87, 1e-42,
     "sigmoid(x) subnormal"},
    {"silu", AccuracyKind::Derivative, -INFINITY, -87, 1e-41,
     "sigmoid(x) subnormal"},
    {"silu", AccuracyKind::Derivative, -1.75, -0.8, 1e-7,
     "root of f' at -1.2785: sigmoid(x) (1 + x sigmoid(-x)) cancels"},
    {"mish", AccuracyKind::Forward, -INFINITY, -87, 1e-42,
     "tanh(softplus(x)) subnormal"},
    {"mish", AccuracyKind::Derivative, -INFINITY, -87, 1e-41,
     "tanh(softplus(x)) subnormal"},
    {"mish", AccuracyKind::Derivative, -2.5, -0.7, 1e-7,
     "root of f' at -1.1925: its two terms cancel"},
    {"hard_swish", AccuracyKind::Derivative, -1.75, -1.25, 1e-7,
     "root of f' at -1.5: x/6 + (3 + x)/6 cancels"},
};

ArrayRef<IllConditioned> illConditionedRanges() { return IllTable; }

bool AccuracyReport::withinBudget() const {
  return MaxUlp <= Budget.MaxUlp && IllWorst <= 1;
}

double ulpError(float Got, long double Want) {
  if (std::isnan(Want))
    return std::isnan(Got) ? 0 : INFINITY;
  if (std::isnan(Got))
    return INFINITY;
  // The float nearest to Want, and the spacing of floats there.
  float Rounded = static_cast<float>(Want);
  if (std::isinf(Rounded) || std::isinf(Got))
    return Got == Rounded ? 0 : INFINITY;
  // The spacing is 2^(e - 24) for |Want| in [2^(e-1), 2^e), from the
  // exponent bits of the double nearest to it (exhaustive runs call this
  // 2^32 times: no libm).
  double A = std::max(std::fabs(static_cast<double>(Want)), double(FLT_MIN));
  uint64_t Bits;
  std::memcpy(&Bits, &A, sizeof Bits);
  int E = static_cast<int>(Bits >> 52) - 1022; // A = m 2^E, m in [1/2, 1)
  uint64_t InvBits = static_cast<uint64_t>(1023 - (E - 24)) << 52;
  double InvUlp;
  std::memcpy(&InvUlp, &InvBits, sizeof InvUlp);
  return static_cast<double>(std::fabs(static_cast<long double>(Got) - Want) *
                             InvUlp);
}

std::vector<float> samplePoints(size_t N, uint64_t Seed) {
  std::vector<float> P = {0.0f,
                          -0.0f,
                          1.0f,
                          -1.0f,
                          0.5f,
                          -0.5f,
                          2.0f,
                          -2.0f,
                          FLT_MIN,
                          -FLT_MIN,
                          FLT_MAX,
                          -FLT_MAX,
                          std::numeric_limits<float>::denorm_min(),
                          -std::numeric_limits<float>::denorm_min(),
                          std::nextafter(FLT_MIN, 0.0f),
                          -std::nextafter(FLT_MIN, 0.0f),
                          INFINITY,
                          -INFINITY,
                          NAN,
                          88.72283935546875f,
                          88.7228469848632812f,
                          89.0f,
                          -87.33654022216796875f,
                          -103.972076416015625f,
                          -104.0f,
                          9.5f,
                          -9.5f,
                          10.05f,
                          10.1f,
                          -10.1f,
                          0.5f,
                          1.25f,
                          2.5f,
                          -1.25f,
                          -2.5f,
                          1e4f,
                          -1e4f,
                          1e-8f,
                          -1e-8f,
                          3.0f,
                          -3.0f,
                          6.0f,
                          1.0000001f,
                          0.99999994f,
                          16.635532f,
                          -16.635532f,
                          0.34657359f,
                          -0.34657359f};
  std::mt19937_64 Rng(Seed);
  std::uniform_real_distribution<float> Mid(-30.0f, 30.0f);
  for (size_t I = 0; I < N; ++I) {
    if (I % 2) {
      P.push_back(Mid(Rng));
    } else {
      uint32_t Bits = static_cast<uint32_t>(Rng());
      float F;
      std::memcpy(&F, &Bits, sizeof F);
      P.push_back(F);
    }
  }
  return P;
}

namespace {

/// The expression at 256 bits, over an Evaluator's flattened nodes.
class MpfrEval {
public:
  MpfrEval(const MpfrEval &) = delete;
  explicit MpfrEval(const Evaluator &Ev) : Ev(Ev), Slots(Ev.order().size()) {
    for (__mpfr_struct &S : Slots)
      mpfr_init2(&S, 256);
    mpfr_init2(T, 256);
  }
  ~MpfrEval() {
    for (__mpfr_struct &S : Slots)
      mpfr_clear(&S);
    mpfr_clear(T);
  }

  long double operator()(long double X) {
    const auto &Order = Ev.order();
    for (size_t I = 0; I < Order.size(); ++I) {
      ExprRef E = Order[I];
      const auto &A = Ev.args()[I];
      mpfr_ptr R = &Slots[I];
      auto Arg = [&](unsigned K) -> mpfr_ptr { return &Slots[A[K]]; };
      switch (E->op()) {
      case Op::Const:
      case Op::Param:
        mpfr_set_d(R, Ev.leaves()[I], MPFR_RNDN);
        break;
      case Op::Var:
        mpfr_set_ld(R, X, MPFR_RNDN);
        break;
      case Op::Lt:
        mpfr_set_ui(R, mpfr_less_p(Arg(0), Arg(1)), MPFR_RNDN);
        break;
      case Op::Le:
        mpfr_set_ui(R, mpfr_lessequal_p(Arg(0), Arg(1)), MPFR_RNDN);
        break;
      case Op::Gt:
        mpfr_set_ui(R, mpfr_greater_p(Arg(0), Arg(1)), MPFR_RNDN);
        break;
      case Op::Ge:
        mpfr_set_ui(R, mpfr_greaterequal_p(Arg(0), Arg(1)), MPFR_RNDN);
        break;
      case Op::Add:
        mpfr_add(R, Arg(0), Arg(1), MPFR_RNDN);
        break;
      case Op::Sub:
        mpfr_sub(R, Arg(0), Arg(1), MPFR_RNDN);
        break;
      case Op::Mul:
        mpfr_mul(R, Arg(0), Arg(1), MPFR_RNDN);
        break;
      case Op::Div:
        mpfr_div(R, Arg(0), Arg(1), MPFR_RNDN);
        break;
      case Op::Neg:
        mpfr_neg(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Pow:
        mpfr_pow(R, Arg(0), Arg(1), MPFR_RNDN);
        break;
      case Op::Exp:
        mpfr_exp(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Expm1:
        mpfr_expm1(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Log:
        mpfr_log(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Log1p:
        mpfr_log1p(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Sqrt:
        mpfr_sqrt(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Abs:
        mpfr_abs(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Sign:
        if (mpfr_nan_p(Arg(0)))
          mpfr_set_nan(R);
        else
          mpfr_set_si(R, mpfr_sgn(Arg(0)), MPFR_RNDN);
        break;
      case Op::Tanh:
        mpfr_tanh(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Sigmoid: // 1 / (1 + e^-u)
        mpfr_neg(T, Arg(0), MPFR_RNDN);
        mpfr_exp(T, T, MPFR_RNDN);
        mpfr_add_ui(T, T, 1, MPFR_RNDN);
        mpfr_ui_div(R, 1, T, MPFR_RNDN);
        break;
      case Op::Softplus: // log1p(e^u): MPFR's exponent range never overflows
        mpfr_exp(T, Arg(0), MPFR_RNDN);
        mpfr_log1p(R, T, MPFR_RNDN);
        break;
      case Op::Erf:
        mpfr_erf(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Erfc:
        mpfr_erfc(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Normcdf: // erfc(-u / sqrt 2) / 2
        mpfr_sqrt_ui(T, 2, MPFR_RNDN);
        mpfr_div(T, Arg(0), T, MPFR_RNDN);
        mpfr_neg(T, T, MPFR_RNDN);
        mpfr_erfc(R, T, MPFR_RNDN);
        mpfr_div_2ui(R, R, 1, MPFR_RNDN);
        break;
      case Op::Normpdf: // exp(-u^2 / 2) / sqrt(2 pi)
        mpfr_sqr(T, Arg(0), MPFR_RNDN);
        mpfr_div_2ui(T, T, 1, MPFR_RNDN);
        mpfr_neg(T, T, MPFR_RNDN);
        mpfr_exp(R, T, MPFR_RNDN);
        mpfr_const_pi(T, MPFR_RNDN);
        mpfr_mul_2ui(T, T, 1, MPFR_RNDN);
        mpfr_sqrt(T, T, MPFR_RNDN);
        mpfr_div(R, R, T, MPFR_RNDN);
        break;
      case Op::Sin:
        mpfr_sin(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Cos:
        mpfr_cos(R, Arg(0), MPFR_RNDN);
        break;
      case Op::Min:
      case Op::Max: {
        if (mpfr_nan_p(Arg(0)) || mpfr_nan_p(Arg(1))) {
          mpfr_set_nan(R);
          break;
        }
        bool First = E->op() == Op::Min ? mpfr_lessequal_p(Arg(0), Arg(1))
                                        : mpfr_greaterequal_p(Arg(0), Arg(1));
        mpfr_set(R, First ? Arg(0) : Arg(1), MPFR_RNDN);
        break;
      }
      case Op::Where:
        mpfr_set(R, mpfr_zero_p(Arg(0)) ? Arg(2) : Arg(1), MPFR_RNDN);
        break;
      }
    }
    return mpfr_get_ld(&Slots.back(), MPFR_RNDN);
  }

private:
  const Evaluator &Ev;
  std::vector<__mpfr_struct> Slots;
  mpfr_t T;
};

/// The exact value at X: double where that is safe, else long double, unless
/// a sum cancelled or it disagrees with double (range trouble), then MPFR.
struct Reference {
  Evaluator Ev;
  MpfrEval Mp;
  explicit Reference(Evaluator E) : Ev(std::move(E)), Mp(Ev) {}
  Reference(const Reference &) = delete; // Mp points into Ev
  /// Whether the formula is NaN at X in long double: at +-inf the kernel
  /// may return that NaN (x / (1 + |x|) is inf / inf) or the limit.
  bool indeterminate(float X) { return std::isnan(Ev.evalLong(X)); }
  long double operator()(float X) {
    // Double is enough where no sum cancelled and nothing left its normal
    // range (glibc's double functions err by less than 2^-52): most points.
    double Cancelled = 0;
    double D = Ev(X, 0, &Cancelled);
    if (!Cancelled && std::isfinite(D) &&
        (D == 0 || std::fabs(D) > 0x1p-1000) && std::isfinite(X))
      return D;
    // Past double's range from a float input (|x| < 2^128): far past float's,
    // which is all the ULP measure needs (exp overflows for a quarter of all
    // floats; long double would cost them an feholdexcept each).
    if (!Cancelled && std::isinf(D) && std::isfinite(X))
      return D;
    double CancelledL = 0;
    long double L = Ev.evalLong(X, 0, &CancelledL);
    bool Agree = std::isfinite(L) && std::isfinite(D) &&
                 std::fabs(L - D) <= 1e-13L * std::fabs(L) + 1e-300L;
    if (!CancelledL && Agree)
      return L;
    // Both cancelled, yet they agree, and the result is not small next to
    // what cancelled: the sum's lost digits do not reach it (mish' = x s
    // (1 - tanh(softplus(x))^2) + tanh(softplus(x)) for large x, where
    // 1 - tanh^2 is 0 in both and f' is 1). A result the size of the lost
    // digits goes to MPFR.
    if (Agree && L != 0 && std::fabs(L) >= 0x1p-20L * CancelledL)
      return L;
    if (std::isnan(L) && std::isnan(D)) {
      // At +-inf a formula such as x sigmoid(-x) is inf * 0; the kernels
      // give its limit, which MPFR's wide exponent range reaches at +-1e300.
      if (std::isinf(X))
        return Mp(std::copysign(1e300L, X));
      return L;
    }
    return Mp(X);
  }
};

using FusedFn = void (*)(const float *, const float *, float *, float *,
                         int64_t, const float *);

struct Target {
  ExprContext Ctx;
  ActivationForms Forms;
  ParamValues Values;        // the reference's parameters
  std::vector<float> Params; // the same, as the kernel takes them
  FusedFn Kernel = nullptr;
};

Expected<std::unique_ptr<Target>> compileTarget(Jit &J,
                                                const AccuracyBudget &B) {
  auto T = std::make_unique<Target>();
  std::string Formula = B.Name + "(x)";
  if (B.Kind != AccuracyKind::Function) {
    const ActivationInfo *I = findActivation(B.Name);
    if (!I || I->RowWise)
      return plainError(ErrorKind::Usage,
                        "no elementwise activation '" + B.Name + "'");
    Formula = I->Formula;
    T->Values = defaultParams(*I);
  }
  std::vector<std::string> Names;
  for (auto &[N, V] : T->Values)
    Names.push_back(N);
  auto Forms = deriveActivation(T->Ctx, Formula, Names);
  if (!Forms)
    return Forms.takeError();
  T->Forms = *Forms;
  // The reference sees the float values the kernel sees.
  for (auto &[N, V] : T->Values)
    V = static_cast<float>(V);
  auto P = packParams(T->Forms, T->Values);
  if (!P)
    return P.takeError();
  T->Params = std::move(*P);
  static std::atomic<unsigned> Counter{0};
  std::string Sym = "acc" + std::to_string(Counter++);
  auto Ctx = std::make_unique<LLVMContext>();
  auto M = std::make_unique<Module>("accuracy", *Ctx);
  if (Error E = emitActivationKernels(*M, T->Forms, Sym, J.lanes(),
                                      {KernelKind::Fused}))
    return E;
  if (Error E = J.addModule(std::move(M), std::move(Ctx)))
    return E;
  auto Addr = J.lookup(kernelSymbol(Sym, KernelKind::Fused));
  if (!Addr)
    return Addr.takeError();
  T->Kernel = reinterpret_cast<FusedFn>(*Addr);
  return T;
}

/// Accumulates one chunk of points into R.
void measureChunk(const Target &T, Reference &Ref, const AccuracyBudget &B,
                  const float *X, size_t N, AccuracyReport &R) {
  std::vector<float> Y(N), D(N);
  T.Kernel(X, nullptr, Y.data(), D.data(), static_cast<int64_t>(N),
           T.Params.data());
  const std::vector<float> &Got = B.Kind == AccuracyKind::Derivative ? D : Y;
  SmallVector<const IllConditioned *, 4> Ranges; // this target's
  for (const IllConditioned &C : illConditionedRanges())
    if (C.Name == B.Name && C.Kind == B.Kind)
      Ranges.push_back(&C);
  for (size_t I = 0; I < N; ++I) {
    double Xi = X[I];
    ++R.Points;
    const IllConditioned *Ill = nullptr;
    for (const IllConditioned *C : Ranges)
      if (Xi >= C->Lo && Xi <= C->Hi)
        Ill = C;
    if (std::isinf(Xi) && std::isnan(Got[I]) && Ref.indeterminate(X[I]))
      continue;
    long double Want = Ref(X[I]);
    if (Ill) {
      ++R.IllPoints;
      double Abs = std::fabs(static_cast<double>(Got[I] - Want));
      if (std::isnan(Abs))
        Abs = INFINITY;
      R.IllMaxAbs = std::max(R.IllMaxAbs, Abs);
      R.IllWorst = std::max(R.IllWorst, Abs / Ill->MaxAbs);
      continue;
    }
    if (!(Xi >= B.Lo && Xi <= B.Hi) && !std::isnan(Xi))
      continue;
    double U = ulpError(Got[I], Want);
    if (U > R.MaxUlp || (std::isnan(U) && !std::isnan(R.MaxUlp))) {
      R.MaxUlp = U;
      R.WorstX = X[I];
      R.WorstGot = Got[I];
      R.WorstWant = static_cast<double>(Want);
    }
  }
}

void merge(AccuracyReport &Into, const AccuracyReport &R) {
  Into.Points += R.Points;
  Into.IllPoints += R.IllPoints;
  Into.IllMaxAbs = std::max(Into.IllMaxAbs, R.IllMaxAbs);
  Into.IllWorst = std::max(Into.IllWorst, R.IllWorst);
  if (R.MaxUlp > Into.MaxUlp) {
    Into.MaxUlp = R.MaxUlp;
    Into.WorstX = R.WorstX;
    Into.WorstGot = R.WorstGot;
    Into.WorstWant = R.WorstWant;
  }
}

} // namespace

Expected<AccuracyReport> measureAccuracy(Jit &J, const AccuracyBudget &B,
                                         const std::vector<float> &Points) {
  auto T = compileTarget(J, B);
  if (!T)
    return T.takeError();
  ExprRef E = B.Kind == AccuracyKind::Derivative ? (*T)->Forms.Derivative
                                                 : (*T)->Forms.Forward;
  auto Ev = Evaluator::create(E, (*T)->Values);
  if (!Ev)
    return Ev.takeError();
  Reference Ref(std::move(*Ev));
  AccuracyReport R;
  R.Budget = B;
  measureChunk(**T, Ref, B, Points.data(), Points.size(), R);
  return R;
}

Expected<AccuracyReport> measureExhaustive(Jit &J, const AccuracyBudget &B,
                                           unsigned Threads) {
  auto T = compileTarget(J, B);
  if (!T)
    return T.takeError();
  AccuracyReport Total;
  Total.Budget = B;
  std::mutex Mu;
  std::atomic<uint64_t> Next{0};
  constexpr uint64_t Chunk = 1 << 20, End = uint64_t(1) << 32;
  Error Failure = Error::success();
  auto Work = [&] {
    ExprRef E = B.Kind == AccuracyKind::Derivative ? (*T)->Forms.Derivative
                                                   : (*T)->Forms.Forward;
    auto Ev = Evaluator::create(E, (*T)->Values);
    if (!Ev) {
      std::lock_guard<std::mutex> L(Mu);
      Failure = joinErrors(std::move(Failure), Ev.takeError());
      return;
    }
    Reference Ref(std::move(*Ev));
    std::vector<float> X(Chunk);
    for (uint64_t Start; (Start = Next.fetch_add(Chunk)) < End;) {
      for (uint64_t I = 0; I < Chunk; ++I) {
        uint32_t Bits = static_cast<uint32_t>(Start + I);
        std::memcpy(&X[I], &Bits, sizeof(float));
      }
      AccuracyReport R;
      R.Budget = B;
      measureChunk(**T, Ref, B, X.data(), Chunk, R);
      std::lock_guard<std::mutex> L(Mu);
      merge(Total, R);
    }
  };
  std::vector<std::thread> Pool;
  for (unsigned I = 0; I < std::max(1u, Threads); ++I)
    Pool.emplace_back(Work);
  for (std::thread &Th : Pool)
    Th.join();
  if (Failure)
    return Failure;
  return Total;
}

} // namespace netjit
