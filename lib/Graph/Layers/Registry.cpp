// Registry.cpp - the layer kinds of Layers.def, each defined in its own
// file here, and the ownership of a spec's layers.
#include "netjit/Graph/Layer.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/Support/FormatVariadic.h"

namespace netjit {

#define NETJIT_LAYER(Name, Summary) extern const LayerKindInfo Name##Kind;
#include "netjit/Spec/Layers.def"

llvm::StringRef layerName(LayerKind K) {
  switch (K) {
#define NETJIT_LAYER(Name, Summary)                                            \
  case LayerKind::Name:                                                        \
    return #Name;
#include "netjit/Spec/Layers.def"
  }
  return "?";
}

const LayerKindInfo &layerKind(LayerKind K) {
  static const LayerKindInfo *const Kinds[] = {
#define NETJIT_LAYER(Name, Summary) &Name##Kind,
#include "netjit/Spec/Layers.def"
  };
  return *Kinds[unsigned(K)];
}

std::unique_ptr<Layer> createLayer(LayerKind K) {
  std::unique_ptr<Layer> L = layerKind(K).Create();
  L->Kind = K;
  return L;
}

Layer::~Layer() = default;

llvm::Expected<size_t> inputAxis(GraphBuilder &B, const Layer &L,
                                 int64_t Axis) {
  int64_t Rank = L.InShape.size() + 1;
  int64_t A = Axis < 0 ? Axis + Rank : Axis;
  if (A < 1 || A >= Rank)
    return B.fail(L.Pointer + "/axis",
                  llvm::formatv("{0}: axis {1} is out of range for the input "
                                "{2} (rank {3} with the batch axis: 1 to {4}, "
                                "or -1 to -{4})",
                                layerName(L.Kind), Axis,
                                formatShape(L.InShape), Rank, Rank - 1)
                      .str());
  return A - 1;
}

LayerPtr::LayerPtr(std::unique_ptr<Layer> L) : P(std::move(L)) {}
LayerPtr::LayerPtr(const LayerPtr &O) : P(O.P->clone()) {}
LayerPtr::LayerPtr(LayerPtr &&O) noexcept = default;
LayerPtr &LayerPtr::operator=(const LayerPtr &O) {
  if (this != &O)
    P = O.P->clone();
  return *this;
}
LayerPtr &LayerPtr::operator=(LayerPtr &&O) noexcept = default;
LayerPtr::~LayerPtr() = default;

} // namespace netjit
