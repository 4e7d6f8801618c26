// Step.h - the training program's vocabulary: its tensors (role and
// shape) and its steps (Steps.def), which layer kinds emit (Graph/Layer.h)
// and the fusion pass and codegen rewrite and lower.
#ifndef NETJIT_GRAPH_STEP_H
#define NETJIT_GRAPH_STEP_H

#include "llvm/ADT/StringRef.h"
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace netjit {

enum class TensorRole {
  Input,   // x, the caller's [batch x features] floats
  Labels,  // the caller's int32 class per sample (sparse losses)
  Targets, // the caller's [batch x outputs] floats (other losses)
  Param,   // a trained tensor
  Grad,    // its gradient
  Slot,    // an optimizer state tensor (moments, accumulators)
  Value,   // an intermediate [batch x n] (the rows the caller passes)
  Scratch, // per-column partial sums, packed operands
};

struct TensorInfo {
  std::string Name;
  TensorRole Role;
  bool BatchRows = false; // Rows is the batch: Value, Input, Labels, Targets
  /// The matrix codegen lowers: Rows x Cols floats, row-major.
  int64_t Rows = 1, Cols = 1;
  /// Its extents (a sample's where BatchRows, NHWC for images), where they
  /// are not just [Rows, Cols] or, per sample, [Cols].
  std::vector<int64_t> Shape;
  /// A value only the steps of one loop over the samples use: one row,
  /// which each sample reuses (Rows is 1; Transforms' sample-local).
  bool PerSample = false;
  /// No step uses it (TrainGraph::dropValue): no space, not printed.
  bool Dropped = false;
  int Param = -1;      // Param, Grad, Slot: the NetworkGraph parameter
  int64_t Offset = -1; // in floats from the arena's start (-1: the caller's)
};

enum class StepKind {
#define NETJIT_STEP(Kind, Spelling, RowWise, Rows, Summary) Kind,
#include "netjit/Graph/Steps.def"
};

/// Which steps finish the batch's rows block by block, or sample by
/// sample (Steps.def).
enum class RowsProducer { Never, Always, BatchGemm, Samples };

/// A step kind's row of Steps.def.
struct StepInfo {
  llvm::StringRef Spelling;
  bool RowWise;
  RowsProducer Rows;
  llvm::StringRef Summary;
};
const StepInfo &stepInfo(StepKind K);

inline llvm::StringRef stepName(StepKind K) { return stepInfo(K).Spelling; }

/// A window sliding over each sample's NHWC image (conv, pooling, zero
/// padding; a 1-D layer has H = OH = KH = 1): input H x W x C, output
/// OH x OW x OC; output pixel (oh, ow) reads input rows oh * SH + kh * DH -
/// PadTop (kh < KH; outside [0, H) is zero, or left out by pooling) and
/// columns likewise. Groups split C and OC (a convolution's).
struct Window {
  int64_t H = 1, W = 1, C = 1, OH = 1, OW = 1, OC = 1;
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1;
  int64_t PadTop = 0, PadLeft = 0, Groups = 1;
  int64_t inPixels() const { return H * W; }
  int64_t outPixels() const { return OH * OW; }
  /// A convolution's product per group: K = taps x group channels.
  int64_t taps() const { return KH * KW; }
  int64_t groupC() const { return C / Groups; }
  int64_t groupOC() const { return OC / Groups; }
  /// The image with its padding: what the windows span, before and after.
  int64_t paddedH() const {
    return std::max(H + PadTop, (OH - 1) * SH + (KH - 1) * DH + 1);
  }
  int64_t paddedW() const {
    return std::max(W + PadLeft, (OW - 1) * SW + (KW - 1) * DW + 1);
  }
  /// Whether some tap falls outside the image.
  bool padded() const {
    return PadTop > 0 || PadLeft > 0 || paddedH() > H || paddedW() > W;
  }
  /// Whether each input pixel is in at most one window (pooling's
  /// gradient then writes each once instead of summing).
  bool disjoint() const {
    return !padded() && (SH >= KH || OH == 1) && (SW >= KW || OW == 1);
  }
  bool operator==(const Window &O) const {
    return H == O.H && W == O.W && C == O.C && OH == O.OH && OW == O.OW &&
           OC == O.OC && KH == O.KH && KW == O.KW && SH == O.SH &&
           SW == O.SW && DH == O.DH && DW == O.DW && PadTop == O.PadTop &&
           PadLeft == O.PadLeft && Groups == O.Groups;
  }
};

/// Batch normalization's constants (NormCoeffs, NormGradCoeffs,
/// MovingStats).
struct NormInfo {
  int64_t Channels = 0, Pixels = 1; // per sample
  double Epsilon = 0, Momentum = 0;
  bool Batch = false;               // the batch's statistics, not the moving
  bool Scale = false, Center = false; // gamma, beta among In
};

struct Step {
  Step(StepKind Kind, std::vector<int> In = {}, int Out = -1)
      : Kind(Kind), In(std::move(In)), Out(Out) {}
  StepKind Kind;
  std::vector<int> In;  // tensors read
  int Out = -1, Out2 = -1, Out3 = -1;
  bool TransA = false, TransB = false; // MatMul
  int Act = -1;         // NetworkGraph activation
  std::string Param;    // ActParamGrad: the activation parameter
  double Rate = 0;      // Dropout
  int Layer = -1;       // Dropout: its seed stream
  Window Win;           // Conv*, *Pool*, Pad*
  /// Concat, Slice: each row is Outer blocks (the extents before the
  /// axis); Slice's block starts Offset floats into the wider one's.
  int64_t Outer = 1, Offset = 0;
  /// MaxPoolGrad, AvgPoolGrad (pool-grad-act): In[DerivIn...] are the
  /// operands of the activation's derivative applied to each value as it
  /// is written: y[, z] of Act, or f'(z) itself when Act < 0. With
  /// DerivAtMax (max pooling, f' from y alone) the one operand is the
  /// pool's output: y at each window's max, f' taken once per window.
  int DerivIn = -1;
  bool DerivAtMax = false;
  /// Diagnostics: the stats field added to (SumSquares, CountAlive; for
  /// ActGrad and Mul, the count of |f'| < 0.01, with Out2 the per-unit
  /// max |f'| so far this step).
  int Stat = -1;
  NormInfo Norm;
  /// Row-wise steps fused into this one, run on each block of its rows as
  /// soon as they are written (Transforms/Fusion).
  std::vector<Step> Epilogue;
};

} // namespace netjit

#endif
