// Svg.cpp - axes with round-number ticks, a light grid, one polyline per
// series and a legend, sized in pixels.
#include "netjit/Plot/Svg.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>

namespace netjit {

const std::vector<std::string> &paletteColors() {
  static const std::vector<std::string> P = {
      "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return P;
}

namespace {

std::string escape(const std::string &S) {
  std::string O;
  for (char C : S)
    switch (C) {
    case '&': O += "&amp;"; break;
    case '<': O += "&lt;"; break;
    case '>': O += "&gt;"; break;
    case '"': O += "&quot;"; break;
    default: O += C;
    }
  return O;
}

std::string num(double V) {
  char B[32];
  std::snprintf(B, sizeof B, "%.2f", V);
  return B;
}

/// Ticks at a round step (1, 2 or 5 times a power of ten) covering
/// [Lo, Hi] with about Want of them; widens Lo and Hi to whole steps.
std::vector<double> ticks(double &Lo, double &Hi, int Want, bool Integer) {
  if (!(Hi > Lo)) {
    double Pad = Lo == 0 ? 1 : std::fabs(Lo) * 0.1;
    Lo -= Pad;
    Hi += Pad;
  }
  double Raw = (Hi - Lo) / Want;
  double P = std::pow(10, std::floor(std::log10(Raw)));
  double Step = P;
  for (double M : {1.0, 2.0, 5.0, 10.0})
    if (M * P >= Raw) {
      Step = M * P;
      break;
    }
  if (Integer)
    Step = std::max(1.0, std::round(Step));
  Lo = std::floor(Lo / Step + 1e-9) * Step;
  Hi = std::ceil(Hi / Step - 1e-9) * Step;
  std::vector<double> T;
  for (double V = Lo; V <= Hi + Step * 1e-6; V += Step)
    T.push_back(std::fabs(V) < Step * 1e-9 ? 0 : V);
  return T;
}

std::string label(double V) {
  char B[32];
  std::snprintf(B, sizeof B, "%g", V);
  return B;
}

/// 10^K as 0.01, 1, 100, or 1e-5 and 1e+06 beyond (short tick labels).
std::string powerLabel(double K) {
  int E = int(std::lround(K));
  if (E >= -3 && E <= 4)
    return label(std::pow(10, E));
  return "1e" + std::to_string(E);
}

} // namespace

std::string renderLineChart(const LineChart &C) {
  // Y as drawn: its log10 on a log axis (NaN, a break, where Y <= 0).
  auto TY = [&](double Y) {
    return !C.LogY ? Y : Y > 0 ? std::log10(Y) : NAN;
  };
  double X0 = INFINITY, X1 = -INFINITY, Y0 = INFINITY, Y1 = -INFINITY;
  for (const Series &S : C.Lines)
    for (size_t I = 0; I < S.X.size() && I < S.Y.size(); ++I)
      if (std::isfinite(S.X[I]) && std::isfinite(TY(S.Y[I]))) {
        X0 = std::min(X0, S.X[I]);
        X1 = std::max(X1, S.X[I]);
        Y0 = std::min(Y0, TY(S.Y[I]));
        Y1 = std::max(Y1, TY(S.Y[I]));
      }
  if (!std::isfinite(X0)) {
    X0 = Y0 = 0;
    X1 = Y1 = 1;
  }
  std::vector<double> XT = ticks(X0, X1, 8, C.IntegerX);
  std::vector<double> YT = ticks(Y0, Y1, 6, C.LogY);
  // A margin inside the frame, as matplotlib leaves: no point on an edge.
  for (double *R : {&X0, &Y0}) {
    double *Hi = R == &X0 ? &X1 : &Y1;
    double M = (*Hi - *R) * 0.04;
    *R -= M;
    *Hi += M;
  }
  // The plot area, leaving room for the labels.
  const double L = 72, R = 20, T = C.Title.empty() ? 20 : 44, B = 56;
  double PW = C.Width - L - R, PH = C.Height - T - B;
  auto PX = [&](double X) { return L + (X - X0) / (X1 - X0) * PW; };
  auto PY = [&](double Y) { return T + PH - (Y - Y0) / (Y1 - Y0) * PH; };

  std::ostringstream O;
  O << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << C.Width
    << "\" height=\"" << C.Height << "\" viewBox=\"0 0 " << C.Width << " "
    << C.Height << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
    << "font-size=\"12\">\n";
  O << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!C.Title.empty())
    O << "<text x=\"" << num(L + PW / 2) << "\" y=\"26\" text-anchor=\"middle\" "
      << "font-size=\"15\">" << escape(C.Title) << "</text>\n";
  // Grid and ticks.
  O << "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
  for (double X : XT)
    O << "<line x1=\"" << num(PX(X)) << "\" y1=\"" << num(T) << "\" x2=\""
      << num(PX(X)) << "\" y2=\"" << num(T + PH) << "\"/>\n";
  for (double Y : YT)
    O << "<line x1=\"" << num(L) << "\" y1=\"" << num(PY(Y)) << "\" x2=\""
      << num(L + PW) << "\" y2=\"" << num(PY(Y)) << "\"/>\n";
  O << "</g>\n";
  O << "<rect x=\"" << num(L) << "\" y=\"" << num(T) << "\" width=\""
    << num(PW) << "\" height=\"" << num(PH)
    << "\" fill=\"none\" stroke=\"#333\" stroke-width=\"1\"/>\n";
  O << "<g fill=\"#333\">\n";
  for (double X : XT)
    O << "<text x=\"" << num(PX(X)) << "\" y=\"" << num(T + PH + 18)
      << "\" text-anchor=\"middle\">" << label(X) << "</text>\n";
  for (double Y : YT)
    O << "<text x=\"" << num(L - 8) << "\" y=\"" << num(PY(Y) + 4)
      << "\" text-anchor=\"end\">" << (C.LogY ? powerLabel(Y) : label(Y))
      << "</text>\n";
  O << "</g>\n";
  if (!C.XLabel.empty())
    O << "<text x=\"" << num(L + PW / 2) << "\" y=\"" << num(C.Height - 14)
      << "\" text-anchor=\"middle\">" << escape(C.XLabel) << "</text>\n";
  if (!C.YLabel.empty())
    O << "<text transform=\"translate(18," << num(T + PH / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">" << escape(C.YLabel)
      << "</text>\n";
  // Shaded spans under everything else.
  for (const Band &Bd : C.Bands) {
    double A = std::max(PX(Bd.X0), L), Z = std::min(PX(Bd.X1), L + PW);
    if (Z > A)
      O << "<rect x=\"" << num(A) << "\" y=\"" << num(T) << "\" width=\""
        << num(Z - A) << "\" height=\"" << num(PH) << "\" fill=\"" << Bd.Color
        << "\" fill-opacity=\"0.12\"/>\n";
  }
  // The lines, clipped to the plot area; a non-finite point breaks one.
  O << "<defs><clipPath id=\"plot\"><rect x=\"" << num(L) << "\" y=\""
    << num(T) << "\" width=\"" << num(PW) << "\" height=\"" << num(PH)
    << "\"/></clipPath></defs>\n<g clip-path=\"url(#plot)\" fill=\"none\" "
    << "stroke-width=\"2\" stroke-linejoin=\"round\">\n";
  std::vector<std::string> Colors;
  for (size_t K = 0; K < C.Lines.size(); ++K) {
    const Series &S = C.Lines[K];
    std::string Color = S.Color.empty()
                            ? paletteColors()[K % paletteColors().size()]
                            : S.Color;
    Colors.push_back(Color);
    std::string Pts;
    auto Flush = [&] {
      if (!Pts.empty())
        O << "<polyline stroke=\"" << Color << "\""
          << (S.Dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\""
          << Pts << "\"/>\n";
      Pts.clear();
    };
    for (size_t I = 0; I < S.X.size() && I < S.Y.size(); ++I) {
      if (!std::isfinite(TY(S.Y[I]))) {
        Flush();
        continue;
      }
      Pts += (Pts.empty() ? "" : " ") + num(PX(S.X[I])) + "," +
             num(PY(TY(S.Y[I])));
    }
    Flush();
    if (S.Markers)
      for (size_t I = 0; I < S.X.size() && I < S.Y.size(); ++I)
        if (std::isfinite(TY(S.Y[I])))
          O << "<circle cx=\"" << num(PX(S.X[I])) << "\" cy=\""
            << num(PY(TY(S.Y[I]))) << "\" r=\"3.5\" fill=\"" << Color
            << "\" stroke=\"none\"/>\n";
  }
  O << "</g>\n";
  // The legend, top right inside the plot.
  if (!C.Lines.empty()) {
    size_t Longest = 0;
    for (const Series &S : C.Lines)
      Longest = std::max(Longest, S.Name.size());
    if (!C.BandLabel.empty())
      Longest = std::max(Longest, C.BandLabel.size());
    size_t Rows = C.Lines.size() + (C.BandLabel.empty() ? 0 : 1);
    double W = 44 + 7.2 * Longest, H = 10 + 20 * Rows;
    // The corner whose box covers the fewest points of the lines (top
    // right on ties, as matplotlib's 'best' prefers the upper corners).
    double LX = L + PW - W - 10, LY = T + 10;
    size_t Fewest = SIZE_MAX;
    for (auto [CX, CY] : {std::pair(L + PW - W - 10, T + 10),
                          std::pair(L + 10, T + 10),
                          std::pair(L + PW - W - 10, T + PH - H - 10),
                          std::pair(L + 10, T + PH - H - 10)}) {
      size_t Covered = 0;
      for (const Series &S : C.Lines)
        for (size_t I = 0; I < S.X.size() && I < S.Y.size(); ++I) {
          double X = PX(S.X[I]), Y = PY(TY(S.Y[I]));
          Covered += X >= CX - 4 && X <= CX + W + 4 && Y >= CY - 4 && Y <= CY + H + 4;
        }
      if (Covered < Fewest) {
        Fewest = Covered;
        LX = CX, LY = CY;
      }
    }
    O << "<g><rect x=\"" << num(LX) << "\" y=\"" << num(LY) << "\" width=\""
      << num(W) << "\" height=\"" << num(H)
      << "\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#ccc\"/>\n";
    for (size_t K = 0; K < C.Lines.size(); ++K) {
      double Y = LY + 15 + 20 * K;
      O << "<line x1=\"" << num(LX + 8) << "\" y1=\"" << num(Y) << "\" x2=\""
        << num(LX + 32) << "\" y2=\"" << num(Y) << "\" stroke=\"" << Colors[K]
        << "\" stroke-width=\"2\""
        << (C.Lines[K].Dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
      O << "<text x=\"" << num(LX + 38) << "\" y=\"" << num(Y + 4) << "\">"
        << escape(C.Lines[K].Name) << "</text>\n";
    }
    if (!C.BandLabel.empty()) {
      double Y = LY + 15 + 20 * C.Lines.size();
      O << "<rect x=\"" << num(LX + 8) << "\" y=\"" << num(Y - 6)
        << "\" width=\"24\" height=\"12\" fill=\"#888\" fill-opacity=\"0.25\"/>\n"
        << "<text x=\"" << num(LX + 38) << "\" y=\"" << num(Y + 4) << "\">"
        << escape(C.BandLabel) << "</text>\n";
    }
    O << "</g>\n";
  }
  O << "</svg>\n";
  return O.str();
}

/// The Playground's colour scale: orange (0) through white to blue (1).
static std::string fieldColor(double V) {
  V = std::isfinite(V) ? std::min(1.0, std::max(0.0, V)) : 0.5;
  const double Orange[] = {245, 147, 34}, White[] = {232, 234, 235},
               Blue[] = {8, 119, 189};
  const double *A = V < 0.5 ? Orange : White, *B = V < 0.5 ? White : Blue;
  double T = V < 0.5 ? V * 2 : (V - 0.5) * 2;
  char Buf[16];
  std::snprintf(Buf, sizeof Buf, "#%02x%02x%02x", int(A[0] + (B[0] - A[0]) * T),
                int(A[1] + (B[1] - A[1]) * T), int(A[2] + (B[2] - A[2]) * T));
  return Buf;
}

std::string renderBoundaries(const std::vector<BoundaryPanel> &Panels,
                             int Size) {
  const int Pad = 10, Top = 28, Bottom = 22;
  int W = int(Panels.size()) * (Size + Pad) + Pad, H = Top + Size + Bottom;
  std::ostringstream O;
  O << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W
    << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H
    << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (size_t K = 0; K < Panels.size(); ++K) {
    const BoundaryPanel &P = Panels[K];
    double Left = Pad + K * (Size + Pad);
    double Cell = double(Size) / std::max(P.Cells, 1);
    O << "<text x=\"" << num(Left + Size / 2.0) << "\" y=\"19\" "
      << "text-anchor=\"middle\" font-size=\"14\">" << escape(P.Title)
      << "</text>\n<g shape-rendering=\"crispEdges\">\n";
    for (int R = 0; R < P.Cells; ++R)
      for (int C = 0; C < P.Cells; ++C)
        O << "<rect x=\"" << num(Left + C * Cell) << "\" y=\""
          << num(Top + R * Cell) << "\" width=\"" << num(Cell + 0.5)
          << "\" height=\"" << num(Cell + 0.5) << "\" fill=\""
          << fieldColor(P.Value[R * P.Cells + C]) << "\"/>\n";
    O << "</g>\n<g stroke=\"white\" stroke-width=\"1\">\n";
    for (size_t I = 0; I < P.PX.size(); ++I) {
      double X = Left + (P.PX[I] - P.X0) / (P.X1 - P.X0) * Size;
      double Y = Top + (P.Y1 - P.PY[I]) / (P.Y1 - P.Y0) * Size;
      if (X < Left || X > Left + Size || Y < Top || Y > Top + Size)
        continue;
      O << "<circle cx=\"" << num(X) << "\" cy=\"" << num(Y)
        << "\" r=\"3\" fill=\"" << (P.PLabel[I] ? "#0877bd" : "#f59322")
        << "\"/>\n";
    }
    O << "</g>\n<rect x=\"" << num(Left) << "\" y=\"" << Top << "\" width=\""
      << Size << "\" height=\"" << Size
      << "\" fill=\"none\" stroke=\"#333\"/>\n";
    O << "<text x=\"" << num(Left) << "\" y=\"" << H - 6 << "\" fill=\"#555\">"
      << "x " << num(P.X0) << "</text><text x=\"" << num(Left + Size)
      << "\" y=\"" << H - 6 << "\" text-anchor=\"end\" fill=\"#555\">"
      << num(P.X1)
      << "</text>\n";
  }
  O << "</svg>\n";
  return O.str();
}

} // namespace netjit
