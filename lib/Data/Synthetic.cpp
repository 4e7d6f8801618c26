// Synthetic.cpp - the TensorFlow Playground's 2-D classification sets,
// with its geometry (points in [-6, 6]^2) and its noise, labels 0 and 1:
//   circle  label 1 inside radius 2.5, 0 in the ring from 3.5 to 5
//   xor     label 1 where x y >= 0, points kept 0.3 away from the axes
//   gauss   two Gaussians at (2, 2) (label 1) and (-2, -2) (label 0)
//   spiral  two interleaved spirals, half the points each
// Noise in [0, 1] is the Playground's slider over 100.
#include "netjit/Data/Dataset.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Random.h"

#include <cmath>

using namespace llvm;

namespace netjit {

std::vector<std::string> syntheticSetNames() {
  return {"circle", "xor", "gauss", "spiral"};
}

Expected<DataSplit> syntheticSet(StringRef Name, int64_t Rows, double Noise,
                                 uint64_t Seed) {
  DataSplit D;
  D.Features = 2;
  Rng R{Seed * 0x9E3779B97F4A7C15ull + 0x5EED};
  auto Add = [&](double X, double Y, bool Label) {
    D.X.push_back(X);
    D.X.push_back(Y);
    D.Labels.push_back(Label ? 1 : 0);
  };
  if (Name == "circle") {
    const double Radius = 5;
    for (int64_t I = 0; I < Rows; ++I) {
      bool Inside = I < Rows / 2;
      double Rr = Inside ? R.uniform(0, Radius * 0.5)
                         : R.uniform(Radius * 0.7, Radius);
      double Angle = R.uniform(0, 2 * M_PI);
      double X = Rr * std::sin(Angle), Y = Rr * std::cos(Angle);
      double NX = R.uniform(-Radius, Radius) * Noise;
      double NY = R.uniform(-Radius, Radius) * Noise;
      // The label is the noisy point's, as the Playground's.
      Add(X + NX, Y + NY, std::hypot(X + NX, Y + NY) < Radius * 0.5);
    }
  } else if (Name == "xor") {
    const double Pad = 0.3;
    for (int64_t I = 0; I < Rows; ++I) {
      double X = R.uniform(-5, 5), Y = R.uniform(-5, 5);
      X += X > 0 ? Pad : -Pad;
      Y += Y > 0 ? Pad : -Pad;
      double NX = R.uniform(-5, 5) * Noise, NY = R.uniform(-5, 5) * Noise;
      Add(X + NX, Y + NY, (X + NX) * (Y + NY) >= 0);
    }
  } else if (Name == "gauss") {
    // The variance grows with the noise from 0.5 to 4 (noise 0 to 0.5).
    double Var = 0.5 + std::min(Noise, 0.5) / 0.5 * 3.5;
    for (int64_t I = 0; I < Rows; ++I) {
      bool Pos = I < Rows / 2;
      double C = Pos ? 2 : -2;
      Add(C + R.normal() * std::sqrt(Var), C + R.normal() * std::sqrt(Var), Pos);
    }
  } else if (Name == "spiral") {
    int64_t Half = Rows / 2;
    for (int64_t I = 0; I < Rows; ++I) {
      bool Pos = I < Half;
      int64_t K = Pos ? I : I - Half, N = Pos ? Half : Rows - Half;
      double Rr = double(K) / N * 5;
      double T = 1.75 * K / N * 2 * M_PI + (Pos ? 0 : M_PI);
      Add(Rr * std::sin(T) + R.uniform(-1, 1) * Noise,
          Rr * std::cos(T) + R.uniform(-1, 1) * Noise, Pos);
    }
  } else {
    return plainError(ErrorKind::Data, "unknown synthetic set '" + Name + "'");
  }
  D.Rows = Rows;
  // Interleave the classes: training sees both from the first batch.
  for (int64_t I = Rows - 1; I > 0; --I) {
    int64_t J = R.below(I + 1);
    std::swap(D.X[2 * I], D.X[2 * J]);
    std::swap(D.X[2 * I + 1], D.X[2 * J + 1]);
    std::swap(D.Labels[I], D.Labels[J]);
  }
  return D;
}

} // namespace netjit
