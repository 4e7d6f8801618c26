// netjit.cpp - the command line; the only place that prints errors and picks
// exit statuses (docs/errors.md).
#include "Commands.h"
#include "netjit/Accuracy/Accuracy.h"
#include "netjit/Activations/Catalog.h"
#include "netjit/CodeGen/Emitter.h"
#include "netjit/Expr/Differentiate.h"
#include "netjit/Expr/Evaluate.h"
#include "netjit/Expr/Parser.h"
#include "netjit/Expr/Simplify.h"
#include "netjit/JIT/Jit.h"
#include "netjit/Spec/Spec.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"
#include <CLI/CLI.hpp>
#include <csignal>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <thread>

using namespace netjit;
using json = nlohmann::ordered_json;

#ifndef NETJIT_VERSION
#define NETJIT_VERSION "0.1.0"
#endif

namespace {

/// Prints E and returns its exit status: located errors as they log (with the
/// source line and caret for formulas), others as "netjit: error: ...".
int report(llvm::Error E) {
  int Status = 1;
  llvm::handleAllErrors(
      std::move(E),
      [&](const LocatedError &L) {
        Status = static_cast<int>(L.kind());
        if (L.file().empty() && L.where().empty())
          llvm::errs() << "netjit: error: " << L.text() << "\n";
        else {
          L.log(llvm::errs());
          llvm::errs() << "\n";
        }
        if (!L.snippet().empty())
          llvm::errs() << L.snippet() << "\n";
      },
      [&](const llvm::ErrorInfoBase &B) {
        llvm::errs() << "netjit: error: " << B.message() << "\n";
      });
  return Status;
}

llvm::Error usage(const llvm::Twine &Msg) {
  return plainError(ErrorKind::Usage, Msg);
}

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

int main(int argc, char **argv) {
  recordCommandLine(argc, argv);
  // Past `ulimit -f` a write fails with EFBIG, reported and cleaned up like
  // a full disk, instead of the signal killing netjit halfway.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App App{"netjit: compiles neural-network training from a JSON spec.\n"
               "Activations are formulas: differentiated exactly, simplified,\n"
               "fused and JIT-compiled with LLVM.",
               "netjit"};
  App.set_version_flag("--version", "netjit " NETJIT_VERSION);
  App.require_subcommand(1);
  App.fallthrough(false);

  ExprArgs EA;
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
  Expr->add_option("--mcpu", EA.Target.CPU,
                   "target CPU for --emit=llvm|opt|asm (default: this host)");
  Expr->add_option("--mattr", EA.Target.Features,
                   "target features, e.g. +avx2,-avx512f");
  Expr->add_option("--triple", EA.Target.Triple,
                   "target triple, e.g. aarch64-linux-gnu");
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

  bool ActJson = false;
  std::string ActMarkdown;
  CLI::App *Acts = App.add_subcommand(
      "activations", "List the activation catalogue with exact derivatives, "
                     "ranges, slopes and saturation");
  auto *ActJsonOpt = Acts->add_flag("--json", ActJson, "print JSON");
  Acts->add_option("--markdown", ActMarkdown,
                   "write FILE.md (docs/activations.md) and a picture per "
                   "activation into FILE/ (docs/activations/), keeping what "
                   "follows the file's end-of-generated-part marker")
      ->type_name("FILE.md")
      ->excludes(ActJsonOpt);

  AccuracyArgs AA;
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

  EmitArgs EmA;
  CLI::App *Emit = App.add_subcommand(
      "emit", "Print a network spec at one stage of the pipeline "
              "(docs/ir.md)");
  Emit->add_option("SPEC", EmA.Spec, "the network spec (JSON)")->required();
  Emit->add_option("--stage", EmA.Stage,
                   "graph (layers, shapes, activations and derivatives), "
                   "train (the training program and arena), fused (after "
                   "fusion), llvm, opt (after O3), asm")
      ->check(CLI::IsMember(
          {"graph", "train", "fused", "llvm", "opt", "asm"}))
      ->default_str("fused");
  Emit->add_option("--batch", EmA.Batch,
                   "rows per call (default: the spec's batch size)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  Emit->add_option("--prefix", EmA.Prefix,
                   "symbol prefix of the entry points (default netjit)");
  Emit->add_option("--mcpu", EmA.Target.CPU,
                   "target CPU for llvm|opt|asm (default: this host)");
  Emit->add_option("--mattr", EmA.Target.Features,
                   "target features, e.g. +avx2,-avx512f");
  Emit->add_option("--triple", EmA.Target.Triple,
                   "target triple, e.g. aarch64-linux-gnu");
  Emit->add_flag("--diagnostics", EmA.Diagnostics,
                 "the training program with train --diagnostics' counters "
                 "(docs/ir.md)");

  GradcheckArgs GA;
  CLI::App *Grad = App.add_subcommand(
      "gradcheck", "Check a spec's compiled float32 gradients against "
                   "float64 central differences on a random batch");
  Grad->add_option("SPEC", GA.Spec, "the network spec (JSON)")->required();
  Grad->add_option("--batch", GA.Batch,
                   "rows in the batch (default: the spec's, at most 8)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 16));
  Grad->add_option("--samples", GA.Samples,
                   "elements checked per parameter (default 64)")
      ->check(CLI::Range(1u, 1u << 20));
  Grad->add_option("--seed", GA.Seed, "seed of the random batch (default 1)");
  Grad->add_option("--tolerance", GA.Tolerance,
                   "largest relative error accepted (default 1e-3)");

  // train and compare share the overrides.
  auto TrainOptions = [](CLI::App *C, TrainArgs &T) {
    C->add_option("--data", T.Data,
                  "a named data set instead of the spec's: fashion_mnist, "
                  "circle, xor, gauss, spiral");
    C->add_option("--epochs", T.Epochs, "epochs (default: the spec's)")
        ->check(CLI::Range(1, 1 << 20));
    C->add_option("--batch-size", T.BatchSize,
                  "samples per step (default: the spec's)")
        ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
    C->add_option("--seed", T.Seed,
                  "seed of the initial weights and the data order (default: "
                  "the spec's)");
    C->add_option("--lr", T.LearningRate,
                  "the optimizer's learning rate (default: the spec's)")
        ->check(CLI::PositiveNumber);
    C->add_option("--threads", T.Threads,
                  "threads a step may use (batches of 64 and more split; "
                  "default: all cores). Same seed and threads, same numbers")
        ->check(CLI::Range(0u, 256u));
    C->add_option("--metrics", T.Metrics,
                  "write per-epoch metrics to FILE.json, or FILE.csv");
    C->add_flag("--quiet,-q", T.Quiet,
                "no progress and no per-epoch lines: only the results");
    C->add_option("--save", T.Save,
                  "write a checkpoint (safetensors: weights and optimizer "
                  "state) after the last epoch, and where the run stopped on "
                  "Ctrl-C or SIGTERM (exit 130/143; --resume continues it). "
                  "Every output path is checked before the first step");
    C->add_option("--save-every", T.SaveEvery,
                  "with --save: also after every N epochs")
        ->check(CLI::Range(1, 1 << 20));
    C->add_option("--loss", T.Loss,
                  "the loss, by name (a Keras 2 file has none; this "
                  "overrides a spec's)");
    C->add_option("--optimizer", T.Optimizer,
                  "the optimizer, by name with Keras' defaults (--lr sets "
                  "its learning rate)");
    C->add_option("--csv", T.Csv,
                  "train on a CSV file instead of the spec's data (relative "
                  "to the working directory)");
    C->add_option("--label-column", T.LabelColumn,
                  "with --csv: the label column, a header name or a 0-based "
                  "index");
    C->add_option("--plot-boundary", T.PlotBoundary,
                  "2-D data with two classes: draw the learned decision "
                  "boundary and the test points (SVG; compare: a panel per "
                  "activation)");
    C->add_option("--nan-policy", T.NanPolicy,
                  "a batch with a non-finite loss or gradient: stop (the "
                  "default: an error naming the epoch, step and tensor) or "
                  "skip-batch (checked before the update, left out)")
        ->check(CLI::IsMember({"stop", "skip-batch"}));
    C->add_flag("--diagnostics", T.Diagnostics,
                "measure per layer and epoch, inside the compiled step: the "
                "gradient norms of the weights and of the layer's input, the "
                "saturated (|f'(z)| < 0.01) and dead (f'(z) = 0 for every "
                "sample) units; a table at the end, and in --metrics");
    C->add_option("--plot-gradients", T.PlotGradients,
                  "with --diagnostics: draw the weight gradient norm per "
                  "layer (SVG; train: across epochs, compare: across layers "
                  "per activation)")
        ->type_name("FILE.svg");
    C->add_option("--resume", T.Resume,
                  "continue from a checkpoint of the same spec: the final "
                  "weights equal an uninterrupted run's (same threads); "
                  "compare also restores the runs it had finished");
  };
  TrainArgs TA;
  CLI::App *TrainCmd = App.add_subcommand(
      "train", "Train a spec on its data: progress, per-epoch metrics, test "
               "loss and accuracy");
  TrainCmd->add_option("SPEC", TA.Spec,
                       "the network spec (default: the bundled "
                       "Fashion-MNIST MLP, examples/fashion_mlp.json)");
  TrainOptions(TrainCmd, TA);

  CompareArgs CA;
  CLI::App *Compare = App.add_subcommand(
      "compare", "Train a spec once per activation (same data order and "
                 "initial weights) and plot the loss curves");
  Compare->add_option("SPEC", CA.Train.Spec,
                      "the network spec (default: the bundled Fashion-MNIST "
                      "MLP)");
  Compare->add_option("--activations,-a", CA.Activations,
                      "the hidden layers' activations, comma-separated: "
                      "names (relu), names with parameters "
                      "(leaky_relu:alpha=0.3), formulas in x, or JSON")
      ->required();
  Compare->add_option("--plot", CA.Plot,
                      "the loss plot to write (SVG; default loss.svg)");
  TrainOptions(Compare, CA.Train);

  PredictArgs PA;
  CLI::App *Predict = App.add_subcommand(
      "predict", "Predict with a spec and its trained weights: the class and "
                 "the outputs of every input row");
  Predict->add_option("SPEC", PA.Spec, "the network spec")->required();
  Predict->add_option("--weights,-w", PA.Weights,
                      "a checkpoint written by train --save")
      ->required();
  Predict->add_option("--input,-i", PA.Input,
                      "the samples: IDX images (.gz or raw) or CSV")
      ->required();
  Predict->add_option("--label-column", PA.LabelColumn,
                      "CSV: a column to leave out (a header name or a "
                      "0-based index)");
  Predict->add_option("--output,-o", PA.Output,
                      "write here instead of standard output");
  Predict->add_flag("--json", PA.Json, "JSON instead of CSV");

  CompileArgs CoA;
  CLI::App *CompileCmd = App.add_subcommand(
      "compile", "Compile a spec's training program ahead of time: an object "
                 "file and a C header a program links with libc and libm only");
  CompileCmd->add_option("SPEC", CoA.Spec, "the network spec")->required();
  CompileCmd->add_option("-o,--output", CoA.Output, "the object file to write")
      ->required();
  CompileCmd->add_option("--header", CoA.Header,
                         "the C header to write (default: the object's name "
                         "with .h)");
  CompileCmd->add_option("--prefix", CoA.Prefix,
                         "the entry points' prefix, a C identifier (default "
                         "model: model_train_step, ...)");
  CompileCmd->add_option("--mcpu", CoA.Target.CPU,
                         "target CPU (default: this host)");
  CompileCmd->add_option("--mattr", CoA.Target.Features,
                         "target features, e.g. +avx2,-avx512f");
  CompileCmd->add_option("--triple", CoA.Target.Triple,
                         "target triple (default: this host's)");
  CompileCmd->add_option("--batch", CoA.Batch,
                         "rows per call at most (default: the spec's batch size)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  CompileCmd->add_option("--threads", CoA.Threads,
                         "threads update_part sums workspaces of (default 1)")
      ->check(CLI::Range(1u, 256u));
  CompileCmd->add_option("--weights", CoA.Weights,
                         "a checkpoint to build in: PREFIX_init_from_checkpoint");

  PlotArgs PlA;
  std::vector<std::string> PlotParams;
  std::string PlotRange = "-6,6";
  CLI::App *PlotCmd = App.add_subcommand(
      "plot", "Draw activations and their exact derivatives (SVG): f solid, "
              "f' dashed, saturation (|f'| < 0.01) shaded");
  PlotCmd->add_option("ACTIVATIONS", PlA.Activations,
                      "catalogue names or formulas in x, comma-separated "
                      "(relu,gelu,\"x * sigmoid(beta * x)\")")
      ->required();
  PlotCmd->add_option("--range", PlotRange, "LO,HI of x (default -6,6)");
  PlotCmd->add_option("--param,-p", PlotParams,
                      "NAME=VALUE: a parameter's value (repeatable)")
      ->allow_extra_args(false);
  PlotCmd->add_option("-o,--output", PlA.Output,
                      "the SVG to write (default activations.svg)");

  CLI::App *Schema = App.add_subcommand(
      "schema", "Print the spec's JSON Schema (docs/spec.schema.json), "
                "generated from netjit's registries");

  // An unknown command gets a suggestion, not "a subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> Commands;
    for (const CLI::App *Sub : App.get_subcommands({}))
      Commands.push_back(Sub->get_name());
    if (!llvm::is_contained(Commands, std::string(argv[1]))) {
      llvm::errs() << "netjit: error: unknown command '" << argv[1] << "'"
                   << didYouMean(argv[1], Commands)
                   << " (commands: " << llvm::join(Commands, ", ") << ")\n";
      return static_cast<int>(ErrorKind::Usage);
    }
  }

  try {
    App.parse(argc, argv);
  } catch (const CLI::CallForHelp &E) {
    return App.exit(E);
  } catch (const CLI::CallForAllHelp &E) {
    return App.exit(E);
  } catch (const CLI::CallForVersion &E) {
    return App.exit(E);
  } catch (const CLI::ParseError &E) {
    llvm::errs() << "netjit: error: " << E.what() << " (see netjit --help)\n";
    return static_cast<int>(ErrorKind::Usage);
  }

  llvm::Error Err = llvm::Error::success();
  if (*Expr) {
    if (EA.Json && EA.Eval.empty())
      Err = usage(
          "--json goes with --eval (netjit expr EXPR --eval X1,X2 --json)");
    else
      Err = runExpr(EA);
  } else if (*Acts) {
    Err = runActivations(ActJson, ActMarkdown);
  } else if (*Acc) {
    Err = runAccuracy(AA);
  } else if (*Emit) {
    Err = runEmit(EmA);
  } else if (*Grad) {
    Err = runGradcheck(GA);
  } else if (*TrainCmd) {
    Err = runTrain(TA);
  } else if (*Compare) {
    Err = runCompare(CA);
  } else if (*Predict) {
    Err = runPredict(PA);
  } else if (*CompileCmd) {
    Err = runCompile(CoA);
  } else if (*PlotCmd) {
    auto Values = parseParams(PlotParams);
    auto [Lo, Hi] = llvm::StringRef(PlotRange).split(',');
    if (!Values)
      Err = Values.takeError();
    else if (Lo.trim().getAsDouble(PlA.Range.first) ||
             Hi.trim().getAsDouble(PlA.Range.second))
      Err = usage("--range: expected LO,HI, got '" + PlotRange + "'");
    else {
      PlA.Params = *Values;
      Err = runPlot(PlA);
    }
  } else if (*Schema) {
    llvm::outs() << specSchema();
  }
  if (Err)
    return report(std::move(Err));
  // Stopped by a signal after saving: the status a shell expects of one.
  if (int Sig = interruptSignal())
    return 128 + Sig;
  return 0;
}
