// Svg.h - line charts as standalone SVG (no scripts, no external fonts):
// the loss curves of `netjit compare` and the plots of activations.
#ifndef NETJIT_PLOT_SVG_H
#define NETJIT_PLOT_SVG_H

#include <string>
#include <vector>

namespace netjit {

struct Series {
  std::string Name;
  std::vector<double> X, Y; // non-finite Y values break the line
  bool Dashed = false;
  std::string Color; // "" = the palette's next
  bool Markers = false;
};

/// A shaded span of x (a saturation region), full height.
struct Band {
  double X0, X1;
  std::string Color;
};

struct LineChart {
  std::string Title, XLabel, YLabel;
  std::vector<Series> Lines;
  std::vector<Band> Bands;
  /// A note under the legend (what the bands mean).
  std::string BandLabel;
  int Width = 760, Height = 480;
  /// Ticks on whole numbers only (epochs).
  bool IntegerX = false;
  /// A logarithmic y axis, ticks at powers of ten (Y <= 0 is left out).
  bool LogY = false;
};

/// The chart as an SVG document.
std::string renderLineChart(const LineChart &C);

/// A classifier's output over a 2-D square and the data in it, as the
/// TensorFlow Playground draws it: Value in [0, 1] per cell (the
/// probability of class 1), orange for 0 through white to blue for 1.
struct BoundaryPanel {
  std::string Title;
  double X0, X1, Y0, Y1;     // the square
  int Cells = 0;             // per side
  std::vector<double> Value; // Cells x Cells, row 0 at Y1 (the top)
  std::vector<double> PX, PY;
  std::vector<int> PLabel; // 0 or 1
};

/// Panels side by side, each Size pixels square, in one SVG document.
std::string renderBoundaries(const std::vector<BoundaryPanel> &Panels,
                             int Size = 300);

/// matplotlib's default colours (tab10), in order.
const std::vector<std::string> &paletteColors();

} // namespace netjit

#endif
