// Expr.cpp - `netjit expr` (a formula's derivative, simplified forms,
// values and kernels) and `netjit accuracy` (the generated float code
// against a high-precision reference, in ULPs).
#include "Commands.h"

#include "netjit/Accuracy/Accuracy.h"
#include "netjit/Activations/Catalog.h"
#include "netjit/CodeGen/Kernels.h"
#include "netjit/Expr/Differentiate.h"
#include "netjit/Expr/Evaluate.h"
#include "netjit/Expr/Simplify.h"
#include "netjit/JIT/Jit.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <thread>

using json = nlohmann::ordered_json;

namespace netjit {

/// "NAME=VALUE" pairs into a map, each value a finite number.
llvm::Expected<ParamValues> parseParams(const std::vector<std::string> &Args) {
  ParamValues P;
  for (const std::string &A : Args) {
    auto [Name, Value] = llvm::StringRef(A).split('=');
    Name = Name.trim();
    Value = Value.trim();
    if (Name.empty() || Value.empty() || A.find('=') == std::string::npos)
      return usage("--param expects NAME=VALUE, got '" + A + "'");
    if (!llvm::all_of(Name,
                      [](char C) { return llvm::isAlnum(C) || C == '_'; }) ||
        llvm::isDigit(Name[0]))
      return usage("--param: '" + Name + "' is not a valid parameter name");
    if (Name == "x" || Name == "y" || Name == "pi" || Name == "e" ||
        Name == "inf" || Name == "nan")
      return usage("--param: '" + Name + "' is reserved");
    double V;
    std::string S = Value.str();
    char *End = nullptr;
    V = std::strtod(S.c_str(), &End);
    if (End == S.c_str() || *End != '\0' || !std::isfinite(V))
      return usage("--param " + Name + ": expected a finite number, got '" +
                   Value + "'");
    P[Name.str()] = V;
  }
  return P;
}

namespace {

/// "0.5,1,-2" into numbers.
llvm::Expected<std::vector<double>> parsePoints(const std::string &Text) {
  std::vector<double> Xs;
  llvm::SmallVector<llvm::StringRef> Parts;
  llvm::StringRef(Text).split(Parts, ',');
  for (llvm::StringRef P : Parts) {
    std::string S = P.trim().str();
    char *End = nullptr;
    double V = std::strtod(S.c_str(), &End);
    if (S.empty() || *End != '\0')
      return usage("--eval expects numbers separated by commas, got '" + P +
                   "'");
    Xs.push_back(V);
  }
  return Xs;
}

json number(double V) {
  if (std::isfinite(V))
    return V;
  return std::isnan(V) ? json("nan") : json(V > 0 ? "inf" : "-inf");
}

struct ExprArgs {
  std::string Text;
  std::vector<std::string> Params;
  std::string Emit = "simplified";
  std::string Wrt = "x";
  std::string Eval;
  bool Json = false;
  std::string Kernel = "fused";
  bool RunJit = false;
  unsigned Interleave = 0;
  TargetOptions Target;
};

/// --emit=llvm|opt|asm: the kernels of the formula for the chosen target.
llvm::Error emitCode(const ExprArgs &A, const ActivationForms &Forms) {
  auto TM = createTargetMachine(A.Target);
  if (!TM)
    return TM.takeError();
  llvm::LLVMContext Ctx;
  llvm::Module M("netjit", Ctx);
  std::vector<KernelKind> Kinds;
  if (A.Kernel == "forward" || A.Kernel == "all")
    Kinds.push_back(KernelKind::Forward);
  if (A.Kernel == "backward" || A.Kernel == "all")
    Kinds.push_back(KernelKind::Backward);
  if (A.Kernel == "fused" || A.Kernel == "all")
    Kinds.push_back(KernelKind::Fused);
  M.setTargetTriple((*TM)->getTargetTriple().str());
  M.setDataLayout((*TM)->createDataLayout());
  if (llvm::Error E =
          emitActivationKernels(M, Forms, "act", vectorLanes(**TM), Kinds,
                                A.Interleave))
    return E;
  return printCodeStage(M, **TM, A.Emit);
}

/// --eval with --jit: the compiled float kernel (fused: y and f') at Xs.
llvm::Error evalJit(const ExprArgs &A, const ActivationForms &Forms,
                    const ParamValues &Bound, const std::vector<double> &Xs) {
  JitOptions JO;
  JO.Target = A.Target;
  auto J = Jit::create(JO);
  if (!J)
    return J.takeError();
  auto Ctx = std::make_unique<llvm::LLVMContext>();
  auto M = std::make_unique<llvm::Module>("eval", *Ctx);
  if (llvm::Error E = emitActivationKernels(*M, Forms, "act", (*J)->lanes(),
                                            {KernelKind::Fused}, A.Interleave))
    return E;
  if (llvm::Error E = (*J)->addModule(std::move(M), std::move(Ctx)))
    return E;
  auto Sym = (*J)->lookup(kernelSymbol("act", KernelKind::Fused));
  if (!Sym)
    return Sym.takeError();
  auto Fn = reinterpret_cast<void (*)(const float *, const float *, float *,
                                      float *, int64_t, const float *)>(*Sym);
  auto P = packParams(Forms, Bound);
  if (!P)
    return P.takeError();
  std::vector<float> X(Xs.begin(), Xs.end()), Y(Xs.size()), D(Xs.size());
  Fn(X.data(), nullptr, Y.data(), D.data(), static_cast<int64_t>(X.size()),
     P->data());
  if (A.Json) {
    json Points = json::array();
    for (size_t I = 0; I < X.size(); ++I)
      Points.push_back(
          {{"x", number(X[I])}, {"f", number(Y[I])}, {"df", number(D[I])}});
    llvm::outs() << json({{"expr", print(Forms.Formula)},
                          {"derivative", print(Forms.Derivative)},
                          {"points", Points}})
                        .dump(2)
                 << "\n";
    return llvm::Error::success();
  }
  llvm::outs() << llvm::format("%-16s %-16s %s\n", (const char *)"x",
                               (const char *)"f (float)",
                               (const char *)"df (float)");
  for (size_t I = 0; I < X.size(); ++I)
    llvm::outs() << llvm::format("%-16.9g %-16.9g %.9g\n", (double)X[I],
                                 (double)Y[I], (double)D[I]);
  return llvm::Error::success();
}

llvm::Error runExpr(const ExprArgs &A) {
  auto Values = parseParams(A.Params);
  if (!Values)
    return Values.takeError();
  // A catalogue name stands for its formula with its default parameters.
  std::string Formula = A.Text;
  ParamValues Bound;
  if (const ActivationInfo *Info = findActivation(A.Text)) {
    if (Info->RowWise)
      return usage("'" + A.Text + "' is row-wise (" + Info->Formula +
                   "); it is compiled by a network layer, not as a formula");
    Formula = Info->Formula;
    Bound = defaultParams(*Info);
  }
  for (auto &[N, V] : *Values)
    Bound[N] = V;
  std::vector<std::string> Names;
  for (auto &[N, V] : Bound)
    Names.push_back(N);

  ExprContext Ctx;
  auto Forms = deriveActivation(Ctx, Formula, Names);
  if (!Forms)
    return Forms.takeError();
  for (auto &[N, V] : *Values)
    if (!llvm::is_contained(Forms->Params, N))
      return usage("--param " + N + ": the formula has no parameter '" + N +
                   "'");

  if (A.Wrt != "x" && !Forms->ParamDerivatives.count(A.Wrt))
    return usage("--wrt " + A.Wrt + ": the formula has no parameter '" + A.Wrt +
                 "'" + didYouMean(A.Wrt, Forms->Params));

  if (!A.Eval.empty()) {
    auto Xs = parsePoints(A.Eval);
    if (!Xs)
      return Xs.takeError();
    ExprRef DF =
        A.Wrt == "x" ? Forms->Derivative : Forms->ParamDerivatives[A.Wrt];
    if (A.RunJit)
      return evalJit(A, *Forms, Bound, *Xs);
    auto F = Evaluator::create(Forms->Forward, Bound);
    if (!F)
      return F.takeError();
    auto D = Evaluator::create(DF, Bound);
    if (!D)
      return D.takeError();
    if (A.Json) {
      json Points = json::array();
      for (double X : *Xs)
        Points.push_back({{"x", number(X)},
                          {"f", number((*F)(X))},
                          {"df", number((*D)(X))}});
      json Out = {{"expr", print(Forms->Formula)},
                  {"derivative", print(DF)},
                  {"points", Points}};
      if (A.Wrt != "x")
        Out["wrt"] = A.Wrt;
      llvm::outs() << Out.dump(2) << "\n";
      return llvm::Error::success();
    }
    llvm::outs() << "f = " << print(Forms->Forward) << "\n"
                 << "d/d" << A.Wrt << " = " << print(DF) << "\n";
    llvm::outs() << llvm::format("%-24s %-24s %s\n", (const char *)"x",
                                 (const char *)"f", (const char *)"df");
    for (double X : *Xs)
      llvm::outs() << llvm::format("%-24.17g %-24.17g %.17g\n", X, (*F)(X),
                                   (*D)(X));
    return llvm::Error::success();
  }

  if (A.Emit == "llvm" || A.Emit == "opt" || A.Emit == "asm")
    return emitCode(A, *Forms);
  if (A.Emit == "expr") {
    llvm::outs() << print(Forms->Formula) << "\n";
  } else if (A.Emit == "grad") {
    ExprRef G = Forms->RawDerivative;
    if (A.Wrt != "x") {
      auto R = differentiate(Ctx, Forms->Forward, A.Wrt);
      if (!R)
        return R.takeError();
      G = *R;
    }
    llvm::outs() << print(G) << "\n";
  } else {
    llvm::outs() << "f = " << print(Forms->Forward) << "\n";
    llvm::outs() << "df/dx = " << print(Forms->Derivative) << "\n";
    llvm::outs() << "df/dx in y = "
                 << (Forms->DerivativeY ? print(Forms->DerivativeY)
                                        : std::string("none"))
                 << "\n";
    for (auto &[N, D] : Forms->ParamDerivatives)
      llvm::outs() << "df/d" << N << " = " << print(D) << "\n";
  }
  return llvm::Error::success();
}

struct AccuracyArgs {
  std::vector<std::string> Names;
  bool Exhaustive = false, Json = false, Check = false;
  size_t Samples = 1 << 20;
  unsigned Threads = 0;
};

llvm::Error runAccuracy(const AccuracyArgs &A) {
  std::vector<AccuracyBudget> Selected;
  std::vector<std::string> Known;
  for (const AccuracyBudget &B : accuracyBudgets())
    Known.push_back(B.Name);
  for (const std::string &N : A.Names)
    if (!llvm::is_contained(Known, N))
      return usage("accuracy: no function or activation '" + N + "'" +
                   didYouMean(N, Known));
  for (const AccuracyBudget &B : accuracyBudgets())
    if (A.Names.empty() || llvm::is_contained(A.Names, B.Name))
      Selected.push_back(B);
  auto J = Jit::create();
  if (!J)
    return J.takeError();
  unsigned Threads =
      A.Threads ? A.Threads : std::thread::hardware_concurrency();
  std::vector<float> Points = samplePoints(A.Samples);
  json Rows = json::array();
  bool AllOk = true;
  if (!A.Json)
    llvm::outs() << llvm::format(
        "%-14s %-10s %6s %10s %14s %12s %s\n", (const char *)"name",
        (const char *)"kind", (const char *)"budget", (const char *)"max ulp",
        (const char *)"worst x", (const char *)"points", (const char *)"");
  for (const AccuracyBudget &B : Selected) {
    auto R = A.Exhaustive ? measureExhaustive(**J, B, Threads)
                          : measureAccuracy(**J, B, Points);
    if (!R)
      return R.takeError();
    AllOk &= R->withinBudget();
    json Row = {{"name", B.Name},
                {"kind", kindName(B.Kind)},
                {"budget_ulp", B.MaxUlp},
                {"max_ulp", number(R->MaxUlp)},
                {"worst_x", number(R->WorstX)},
                {"got", number(R->WorstGot)},
                {"want", number(R->WorstWant)},
                {"points", R->Points},
                {"ok", R->withinBudget()}};
    if (R->IllPoints) {
      Row["ill_conditioned_points"] = R->IllPoints;
      Row["ill_conditioned_max_abs"] = number(R->IllMaxAbs);
    }
    Rows.push_back(Row);
    if (!A.Json) {
      llvm::outs() << llvm::format("%-14s %-10s %6g %10.3f %14.8g %12llu %s\n",
                                   B.Name.c_str(), kindName(B.Kind), B.MaxUlp,
                                   R->MaxUlp, (double)R->WorstX,
                                   (unsigned long long)R->Points,
                                   R->withinBudget() ? "ok" : "OVER BUDGET");
      llvm::outs().flush();
    }
  }
  if (A.Json)
    llvm::outs()
        << json({{"exhaustive", A.Exhaustive}, {"results", Rows}}).dump(2)
        << "\n";
  if (A.Check && !AllOk)
    return plainError(ErrorKind::Compile,
                      "accuracy: some results are over budget");
  return llvm::Error::success();
}

} // namespace

void registerExprCommand(CLI::App &App, CommandTable &Commands) {
  auto EAOwn = std::make_shared<ExprArgs>();
  ExprArgs &EA = *EAOwn;
  CLI::App *Expr = App.add_subcommand(
      "expr", "Differentiate and simplify a formula or a catalogue activation");
  Expr->add_option("EXPR", EA.Text,
                   "a formula in x (\"x * tanh(softplus(x))\") or a catalogue "
                   "name (\"gelu\"); put a formula that starts with '-' after "
                   "--")
      ->required();
  Expr->add_option("--param,-p", EA.Params,
                   "NAME=VALUE: declare a parameter and its value (repeatable)")
      ->allow_extra_args(false); // one value per -p, never the formula
  Expr->add_option("--emit", EA.Emit,
                   "stage to print: expr (as parsed), grad (raw derivative), "
                   "simplified (forward, derivative, derivative in y), llvm "
                   "(the kernels' IR), opt (after O3), asm (machine code)")
      ->check(
          CLI::IsMember({"expr", "grad", "simplified", "llvm", "opt", "asm"}))
      ->default_str("simplified");
  Expr->add_option("--kernel", EA.Kernel,
                   "with --emit=llvm|opt|asm: which kernels (docs/ir.md)")
      ->check(CLI::IsMember({"forward", "backward", "fused", "all"}))
      ->default_str("fused");
  addTargetOptions(Expr, EA.Target, " for --emit=llvm|opt|asm");
  Expr->add_option("--interleave", EA.Interleave,
                   "native vectors per loop step: 1, 2, 4 or 8 (default "
                   "with AVX-512: 8 for a forward kernel that calls vector "
                   "math and a fused one bound by latency, else 4; 2 "
                   "without)")
      ->check(CLI::IsMember({1, 2, 4, 8}));
  Expr->add_option("--wrt", EA.Wrt,
                   "differentiate with respect to this parameter instead of x");
  Expr->add_option("--eval", EA.Eval,
                   "X1,X2,...: evaluate f and its derivative in double at "
                   "these points");
  Expr->add_flag("--json", EA.Json, "with --eval: print JSON");
  Expr->add_flag("--jit", EA.RunJit,
                 "with --eval: run the JIT-compiled float kernel instead of "
                 "the double-precision reference");

  Commands.add(Expr, [EAOwn] {
    if (EAOwn->Json && EAOwn->Eval.empty())
      return usage(
          "--json goes with --eval (netjit expr EXPR --eval X1,X2 --json)");
    return runExpr(*EAOwn);
  });
}

void registerAccuracyCommand(CLI::App &App, CommandTable &Commands) {
  auto AAOwn = std::make_shared<AccuracyArgs>();
  AccuracyArgs &AA = *AAOwn;
  CLI::App *Acc = App.add_subcommand(
      "accuracy", "Measure generated float code in ULPs against a "
                  "high-precision reference (docs/accuracy.md)");
  Acc->add_option("NAME", AA.Names,
                  "functions (exp, log, ...) or activations; default: all");
  Acc->add_flag("--exhaustive", AA.Exhaustive, "every one of the 2^32 floats");
  Acc->add_option("--samples", AA.Samples,
                  "random inputs besides the edge cases (default 2^20)")
      ->check(CLI::Range(size_t(1), size_t(1) << 32));
  Acc->add_option("--threads", AA.Threads,
                  "threads for --exhaustive (default: all cores)");
  Acc->add_flag("--json", AA.Json, "print JSON");
  Acc->add_flag("--check", AA.Check,
                "exit non-zero if anything is over budget");

  Commands.add(Acc, [AAOwn] { return runAccuracy(*AAOwn); });
}

} // namespace netjit
