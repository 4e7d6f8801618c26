// Registry.cpp - the layer kinds of Layers.def, each defined in its own
// file here, and the ownership of a spec's layers.
#include "netjit/Graph/Layer.h"

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
