// Synthetic.cpp - generated data sets, deterministic from a seed.
//
// The TensorFlow Playground's 2-D classification sets, with its geometry
// (points in [-6, 6]^2) and its noise, labels 0 and 1:
//   circle  label 1 inside radius 2.5, 0 in the ring from 3.5 to 5
//   xor     label 1 where x y >= 0, points kept 0.3 away from the axes
//   gauss   two Gaussians at (2, 2) (label 1) and (-2, -2) (label 0)
//   spiral  two interleaved spirals, half the points each
// Noise in [0, 1] is the Playground's slider over 100.
//
// A colour image set:
//   shapes  32x32 RGB images (NHWC rows of 32*32*3 floats in [0, 1]), one
//           filled shape each, labelled by its kind: 0 square, 1 disc,
//           2 triangle (equilateral), 3 cross (two bars), a quarter of the
//           images each in shuffled order. The background is a random
//           colour with a random linear gradient (each channel changes by
//           up to 0.15 over half the image along a random direction); the
//           shape's colour is redrawn until it is at least 0.5 (RGB
//           distance) from the background's; its size is 8 to 20 pixels
//           (the square's side, the disc's diameter, the cross's bar
//           length; the triangle's side is 1.2 times it), its rotation
//           random, and it lies wholly inside the image with a pixel to
//           spare. Edges are 2x2 supersampled. Noise in [0, 1] adds a
//           uniform draw from [-0.25 noise, 0.25 noise] to every channel of
//           every pixel (from a stream of its own: the shapes do not depend
//           on the noise), then clamps to [0, 1].
#include "netjit/Data/Dataset.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Random.h"

#include <algorithm>
#include <cmath>

using namespace llvm;

namespace netjit {

namespace {

constexpr int Side = 32, Channels = 3;
constexpr int64_t ImageFloats = Side * Side * Channels;
/// 2^18 images of 12 KiB: 3 GiB of floats per split.
constexpr int64_t ShapesMaxRows = 1 << 18;

/// A convex polygon as the half-planes A x + B y + C >= 0 of its edges.
struct Convex {
  int N = 0;
  float A[4], B[4], C[4];
  bool inside(float X, float Y) const {
    for (int E = 0; E < N; ++E)
      if (A[E] * X + B[E] * Y + C[E] < 0)
        return false;
    return true;
  }
};

/// One image's shape: a disc or a union of up to two convex polygons, and
/// the pixel box that holds it.
struct Figure {
  bool Disc = false;
  float Cx = 0, Cy = 0, R2 = 0;
  int Parts = 0;
  Convex Part[2];
  int X0 = 0, X1 = 0, Y0 = 0, Y1 = 0; // pixels [X0, X1) x [Y0, Y1)
  bool inside(float X, float Y) const {
    if (Disc)
      return (X - Cx) * (X - Cx) + (Y - Cy) * (Y - Cy) <= R2;
    for (int P = 0; P < Parts; ++P)
      if (Part[P].inside(X, Y))
        return true;
    return false;
  }
};

/// Kind 0 square, 1 disc, 2 triangle, 3 cross, of size Size, turned by
/// Angle, placed at random wholly inside the image with Margin to spare.
Figure figure(int Kind, double Size, double Angle, Rng &R) {
  const double Margin = 1;
  Figure F;
  // The polygons' vertices about the origin, counter-clockwise.
  double Vx[2][4], Vy[2][4];
  int Count[2] = {0, 0};
  auto Rect = [&](int P, double HalfW, double HalfH) {
    const double Xs[4] = {-HalfW, HalfW, HalfW, -HalfW};
    const double Ys[4] = {-HalfH, -HalfH, HalfH, HalfH};
    for (int I = 0; I < 4; ++I) {
      Vx[P][I] = Xs[I];
      Vy[P][I] = Ys[I];
    }
    Count[P] = 4;
  };
  double Extent = Size / 2; // the disc's radius
  if (Kind == 0) {
    F.Parts = 1;
    Rect(0, Size / 2, Size / 2);
  } else if (Kind == 2) {
    F.Parts = 1;
    double Circum = 1.2 * Size / std::sqrt(3.0);
    for (int I = 0; I < 3; ++I) {
      Vx[0][I] = Circum * std::cos(2 * M_PI * I / 3);
      Vy[0][I] = Circum * std::sin(2 * M_PI * I / 3);
    }
    Count[0] = 3;
  } else if (Kind == 3) {
    F.Parts = 2;
    Rect(0, Size / 2, Size / 6);
    Rect(1, Size / 6, Size / 2);
  } else {
    F.Disc = true;
  }
  // Turn, and find the box about the origin.
  double MinX = -Extent, MaxX = Extent, MinY = -Extent, MaxY = Extent;
  if (!F.Disc) {
    double C = std::cos(Angle), S = std::sin(Angle);
    MinX = MinY = 1e9;
    MaxX = MaxY = -1e9;
    for (int P = 0; P < F.Parts; ++P)
      for (int I = 0; I < Count[P]; ++I) {
        double X = C * Vx[P][I] - S * Vy[P][I];
        double Y = S * Vx[P][I] + C * Vy[P][I];
        Vx[P][I] = X;
        Vy[P][I] = Y;
        MinX = std::min(MinX, X);
        MaxX = std::max(MaxX, X);
        MinY = std::min(MinY, Y);
        MaxY = std::max(MaxY, Y);
      }
  }
  double Cx = R.uniform(Margin - MinX, Side - Margin - MaxX);
  double Cy = R.uniform(Margin - MinY, Side - Margin - MaxY);
  if (F.Disc) {
    F.Cx = float(Cx);
    F.Cy = float(Cy);
    F.R2 = float(Extent * Extent);
  }
  for (int P = 0; P < F.Parts; ++P) {
    Convex &K = F.Part[P];
    K.N = Count[P];
    for (int I = 0; I < K.N; ++I) {
      double X0 = Vx[P][I] + Cx, Y0 = Vy[P][I] + Cy;
      int J = (I + 1) % K.N;
      double Dx = Vx[P][J] - Vx[P][I], Dy = Vy[P][J] - Vy[P][I];
      // Left of the edge (X0, Y0) + t (Dx, Dy): Dx (y - Y0) - Dy (x - X0).
      K.A[I] = float(-Dy);
      K.B[I] = float(Dx);
      K.C[I] = float(Dy * X0 - Dx * Y0);
    }
  }
  F.X0 = std::max(0, int(std::floor(Cx + MinX)));
  F.X1 = std::min(Side, int(std::ceil(Cx + MaxX)));
  F.Y0 = std::max(0, int(std::floor(Cy + MinY)));
  F.Y1 = std::min(Side, int(std::ceil(Cy + MaxY)));
  return F;
}

DataSplit shapes(int64_t Rows, double Noise, uint64_t Seed) {
  DataSplit D;
  D.Rows = Rows;
  D.Features = ImageFloats;
  D.X.resize(Rows * ImageFloats);
  D.Labels.resize(Rows);
  Rng R{Seed * 0x9E3779B97F4A7C15ull + 0x5EED};
  Rng PixelNoise{R.next()};
  // A quarter of each kind, shuffled.
  for (int64_t I = 0; I < Rows; ++I)
    D.Labels[I] = float(I % 4);
  for (int64_t I = Rows - 1; I > 0; --I)
    std::swap(D.Labels[I], D.Labels[R.below(I + 1)]);
  const float Amplitude = float(0.25 * Noise);
  float Pixel[Side * Side]; // the shape's cover of each pixel, 0 to 1
  for (int64_t I = 0; I < Rows; ++I) {
    int Kind = int(D.Labels[I]);
    double Bg[Channels], Grad[Channels], Fg[Channels];
    for (double &C : Bg)
      C = R.uniform();
    double Dir = R.uniform(0, 2 * M_PI);
    for (double &G : Grad)
      G = R.uniform(-0.15, 0.15);
    for (;;) {
      double Dist2 = 0;
      for (int C = 0; C < Channels; ++C) {
        Fg[C] = R.uniform();
        Dist2 += (Fg[C] - Bg[C]) * (Fg[C] - Bg[C]);
      }
      if (Dist2 >= 0.25)
        break;
    }
    double Size = R.uniform(8, 20);
    // Angles up to the shape's symmetry (none for the disc).
    const double Turn[4] = {M_PI / 2, 0, 2 * M_PI / 3, M_PI / 2};
    double Angle = R.uniform(0, Turn[Kind]);
    Figure F = figure(Kind, Size, Angle, R);

    std::fill(std::begin(Pixel), std::end(Pixel), 0.0f);
    for (int Y = F.Y0; Y < F.Y1; ++Y)
      for (int X = F.X0; X < F.X1; ++X) {
        int In = 0;
        for (float Dy : {0.25f, 0.75f})
          for (float Dx : {0.25f, 0.75f})
            In += F.inside(X + Dx, Y + Dy);
        Pixel[Y * Side + X] = In * 0.25f;
      }
    // The gradient: the colour changes by Grad per half image along Dir.
    float Gx = float(std::cos(Dir) / Side), Gy = float(std::sin(Dir) / Side);
    float *Out = D.X.data() + I * ImageFloats;
    for (int Y = 0; Y < Side; ++Y)
      for (int X = 0; X < Side; ++X) {
        float T = (X + 0.5f - Side / 2) * Gx + (Y + 0.5f - Side / 2) * Gy;
        float Cover = Pixel[Y * Side + X];
        uint64_t Bits = Amplitude > 0 ? PixelNoise.next() : 0;
        for (int C = 0; C < Channels; ++C) {
          float B = float(Bg[C]) + float(Grad[C]) * 2 * T;
          float V = B + (float(Fg[C]) - B) * Cover;
          if (Amplitude > 0) {
            // Three 21-bit uniforms from one draw.
            float U = float((Bits >> (21 * C)) & 0x1FFFFF) * 0x1.0p-21f;
            V += Amplitude * (2 * U - 1);
          }
          *Out++ = std::clamp(V, 0.0f, 1.0f);
        }
      }
  }
  return D;
}

} // namespace

std::vector<std::string> syntheticSetNames() {
  return {"circle", "xor", "gauss", "spiral", "shapes"};
}

SyntheticSetInfo syntheticSetInfo(StringRef Name) {
  if (Name == "shapes")
    return {{Side, Side, Channels},
            4,
            {"square", "disc", "triangle", "cross"},
            ShapesMaxRows};
  return {{2}, 2, {}, 1 << 24};
}

Expected<DataSplit> syntheticSet(StringRef Name, int64_t Rows, double Noise,
                                 uint64_t Seed) {
  if (Name == "shapes") {
    if (Rows < 0 || Rows > ShapesMaxRows)
      return plainError(ErrorKind::Data,
                        "the shapes set takes at most " + Twine(ShapesMaxRows) +
                            " images, not " + Twine(Rows));
    return shapes(Rows, Noise, Seed);
  }
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
