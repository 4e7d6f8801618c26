// Plot.cpp - `netjit plot`: activations and their exact derivatives on one
// chart (f solid, f' dashed, a colour per activation), the saturation
// regions (|f'| < 0.01) shaded.
#include "Commands.h"

#include "netjit/Activations/Catalog.h"
#include "netjit/Activations/Shape.h"
#include "netjit/Expr/Evaluate.h"
#include "netjit/Plot/Svg.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Files.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <CLI/CLI.hpp>

using namespace llvm;

namespace netjit {

Error addActivationCurves(LineChart &C, const std::string &Label,
                          const ActivationForms &F, const ParamValues &Values,
                          double Lo, double Hi, const std::string &Color,
                          int Points) {
  auto Cv = Curve::create(F, Values);
  if (!Cv)
    return Cv.takeError();
  Series Fn{Label, {}, {}, false, Color, false};
  Series Df{Label + "'", {}, {}, true, Color, false};
  for (int I = 0; I < Points; ++I) {
    double X = Lo + (Hi - Lo) * I / (Points - 1);
    double Y = Cv->f(X);
    Fn.X.push_back(X);
    Fn.Y.push_back(Y);
    Df.X.push_back(X);
    Df.Y.push_back(Cv->df(X, Y));
  }
  // The saturated regions with their measured edges, not the points'.
  auto S = measureShape(F, Values);
  if (!S)
    return S.takeError();
  for (const Interval &R : S->Saturated)
    if (R.Hi > Lo && R.Lo < Hi)
      C.Bands.push_back({std::max(R.Lo, Lo), std::min(R.Hi, Hi), Color});
  C.Lines.push_back(std::move(Fn));
  C.Lines.push_back(std::move(Df));
  return Error::success();
}

const char *SaturationLabel = "|f'| < 0.01 (saturated)";

Error runPlot(const PlotArgs &A) {
  double Lo = A.Range.first, Hi = A.Range.second;
  if (!(Hi > Lo) || !std::isfinite(Lo) || !std::isfinite(Hi))
    return plainError(ErrorKind::Usage,
                      "--range: expected LO,HI with LO < HI, finite");
  if (Error E = checkOutputPath(A.Output, "-o"))
    return E;
  LineChart C;
  C.Title = "Activations and their derivatives";
  C.XLabel = "x";
  C.YLabel = "f(x) solid, f'(x) dashed";
  C.BandLabel = SaturationLabel;
  std::vector<std::string> Items;
  for (const std::string &L : A.Activations) {
    SmallVector<StringRef, 8> Parts;
    StringRef(L).split(Parts, ',', -1, false);
    for (StringRef P : Parts)
      Items.push_back(P.trim().str());
  }
  if (Items.empty())
    return plainError(ErrorKind::Usage, "give at least one activation");
  for (size_t K = 0; K < Items.size(); ++K) {
    const std::string &Item = Items[K];
    // A catalogue name (its formula and defaults, --param overriding
    // them), else a formula with the --param values.
    std::string Formula = Item;
    ParamValues Values;
    std::vector<std::string> Names;
    if (const ActivationInfo *I = findActivation(Item)) {
      if (I->RowWise)
        return plainError(ErrorKind::Usage,
                          "'" + Item + "' is row-wise (it normalizes a whole "
                                       "row) and has no curve to plot");
      Formula = I->Formula;
      Values = defaultParams(*I);
      Names = paramNames(*I);
    }
    for (auto &[N, V] : A.Params) {
      if (!Values.count(N) && !findActivation(Item))
        Names.push_back(N);
      if (Values.count(N) || !findActivation(Item))
        Values[N] = V;
    }
    ExprContext Ctx;
    auto F = deriveActivation(Ctx, Formula, Names);
    if (!F)
      return F.takeError();
    std::string Label = Item;
    for (auto &[N, V] : Values)
      if (findActivation(Item) && A.Params.count(N))
        Label += (Label == Item ? "(" : ", ") + N + "=" + formatNumber(V);
    if (Label != Item)
      Label += ")";
    if (Error E = addActivationCurves(C, Label, *F, Values, Lo, Hi,
                                      paletteColors()[K % paletteColors().size()]))
      return E;
  }
  if (Error E = writeFileAtomically(A.Output, renderLineChart(C)))
    return E;
  outs() << "wrote " << A.Output << " (" << Items.size()
         << " activations, x in [" << formatNumber(Lo) << ", "
         << formatNumber(Hi) << "])\n";
  return Error::success();
}

void registerPlotCommand(CLI::App &App, CommandTable &Commands) {
  struct Args {
    PlotArgs Plot;
    std::vector<std::string> Params;
    std::string Range = "-6,6";
  };
  auto A = std::make_shared<Args>();
  CLI::App *PlotCmd = App.add_subcommand(
      "plot", "Draw activations and their exact derivatives (SVG): f solid, "
              "f' dashed, saturation (|f'| < 0.01) shaded");
  PlotCmd->add_option("ACTIVATIONS", A->Plot.Activations,
                      "catalogue names or formulas in x, comma-separated "
                      "(relu,gelu,\"x * sigmoid(beta * x)\")")
      ->required();
  PlotCmd->add_option("--range", A->Range, "LO,HI of x (default -6,6)");
  PlotCmd->add_option("--param,-p", A->Params,
                      "NAME=VALUE: a parameter's value (repeatable)")
      ->allow_extra_args(false);
  PlotCmd->add_option("-o,--output", A->Plot.Output,
                      "the SVG to write (default activations.svg)");

  Commands.add(PlotCmd, [A]() -> Error {
    auto Values = parseParams(A->Params);
    if (!Values)
      return Values.takeError();
    auto [Lo, Hi] = StringRef(A->Range).split(',');
    if (Lo.trim().getAsDouble(A->Plot.Range.first) ||
        Hi.trim().getAsDouble(A->Plot.Range.second))
      return usage("--range: expected LO,HI, got '" + A->Range + "'");
    A->Plot.Params = *Values;
    return runPlot(A->Plot);
  });
}

} // namespace netjit
