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

struct LineChart {
  std::string Title, XLabel, YLabel;
  std::vector<Series> Lines;
  int Width = 760, Height = 480;
  /// Ticks on whole numbers only (epochs).
  bool IntegerX = false;
};

/// The chart as an SVG document.
std::string renderLineChart(const LineChart &C);

/// matplotlib's default colours (tab10), in order.
const std::vector<std::string> &paletteColors();

} // namespace netjit

#endif
