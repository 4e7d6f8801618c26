// Spatial.h - what the layers over images share (conv, pooling, padding):
// an input's spatial axes and channels, and an output extent by Keras'
// padding rules.
#ifndef NETJIT_GRAPH_LAYERS_SPATIAL_H
#define NETJIT_GRAPH_LAYERS_SPATIAL_H

#include "netjit/Graph/Layer.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/Support/FormatVariadic.h"

namespace netjit {

/// The axis names for an error: "[height, width, channels]".
inline const char *spatialAxes(unsigned Rank) {
  return Rank == 1 ? "[steps, channels]" : "[height, width, channels]";
}

/// W's input extents from a layer's InShape of Rank spatial axes and
/// channels; an error at the layer otherwise.
inline llvm::Error spatialInput(GraphBuilder &B, const Layer &L, unsigned Rank,
                                Window &W) {
  if (L.InShape.size() != Rank + 1)
    return B.fail(L.Pointer,
                  llvm::formatv("a {0} layer needs an input of {1}, got {2}",
                                layerName(L.Kind), spatialAxes(Rank),
                                formatShape(L.InShape))
                      .str());
  W.H = Rank == 2 ? L.InShape[0] : 1;
  W.W = L.InShape[Rank - 1];
  W.C = L.InShape[Rank];
  return llvm::Error::success();
}

/// One axis of a window: the output extent and the padding before it, by
/// Keras' rules for "valid" (no padding), "same" (ceil(In / Stride)
/// outputs, the padding split with the larger half after) and "causal"
/// (all of it before). An error at Pointer when the window is larger
/// than its padded input.
inline llvm::Error windowAxis(GraphBuilder &B, llvm::StringRef Pointer,
                              llvm::StringRef Padding, int64_t In, int64_t K,
                              int64_t Stride, int64_t Dilation, int64_t &Out,
                              int64_t &Before) {
  int64_t Span = (K - 1) * Dilation + 1;
  Before = 0;
  if (Padding == "same") {
    Out = (In + Stride - 1) / Stride;
    Before = std::max<int64_t>((Out - 1) * Stride + Span - In, 0) / 2;
    return llvm::Error::success();
  }
  if (Padding == "causal")
    Before = Span - 1;
  if (Span > In + Before)
    return B.fail(Pointer,
                  llvm::formatv("the window spans {0} but its input is {1} "
                                "wide (padding '{2}')",
                                Span, In, Padding)
                      .str());
  Out = (In + Before - Span) / Stride + 1;
  return llvm::Error::success();
}

/// The image's extents as a layer's Shape: [OH, OW, C] or [OW, C].
inline std::vector<int64_t> spatialShape(unsigned Rank, int64_t H, int64_t W,
                                         int64_t C) {
  if (Rank == 1)
    return {W, C};
  return {H, W, C};
}

/// Extents of Rank axes (from a Window field) as H and W: a 1-D layer's
/// one axis is W.
inline void spatialPair(const std::vector<int64_t> &E, unsigned Rank,
                        int64_t &H, int64_t &W) {
  H = Rank == 2 ? E[0] : 1;
  W = E[Rank - 1];
}

/// Extents H x W as the layer's rank spells them: "3x3", or "3" in 1-D.
inline std::string spatialText(unsigned Rank, int64_t H, int64_t W) {
  return Rank == 2 ? std::to_string(H) + "x" + std::to_string(W)
                   : std::to_string(W);
}

/// Keras' spatial fields pass through to the spec as they are (an integer
/// or a list per axis); data_format only says where channels are, which
/// the Keras reader settles for the whole model.
inline void copyKerasFields(const KerasLayer &K, nlohmann::json &L,
                            std::initializer_list<const char *> Fields) {
  for (const char *F : Fields)
    if (K.isSet(F))
      L[F] = K.config()[F];
}

} // namespace netjit

#endif
