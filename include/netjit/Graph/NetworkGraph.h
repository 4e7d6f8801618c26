// NetworkGraph.h - a spec's layers with shapes inferred, its parameter
// tensors, and each activation compiled to expressions (--emit=graph).
#ifndef NETJIT_GRAPH_NETWORKGRAPH_H
#define NETJIT_GRAPH_NETWORKGRAPH_H

#include "netjit/Activations/Catalog.h"
#include "netjit/Graph/Layer.h"

#include "llvm/Support/raw_ostream.h"
#include <memory>

namespace netjit {

/// An activation a layer applies, compiled.
struct NetActivation {
  ActivationSpec Spec;
  ActivationForms Forms; // unused for row-wise ones
  /// Each formula parameter: a fixed value, or the ParamInfo it is read from.
  std::map<std::string, double> Fixed;
  std::map<std::string, int> Trained;
};

class NetworkGraph {
public:
  /// Infers shapes, lays out parameters and derives every activation;
  /// errors name the spec's file and the layer's JSON pointer.
  static llvm::Expected<std::unique_ptr<NetworkGraph>> build(Spec S);

  const Spec &spec() const { return S; }
  /// The layers in order (the spec's, with shapes and parameters).
  llvm::ArrayRef<const Layer *> layers() const { return Layers; }
  llvm::ArrayRef<ParamInfo> params() const { return Params; }
  const NetActivation &activation(int I) const { return *Acts[I]; }
  size_t numActivations() const { return Acts.size(); }
  int64_t inputSize() const { return InputSize; }
  int64_t outputSize() const { return Layers.back()->Out; }
  int64_t numWeights() const;
  /// The output layer's row-wise activation (softmax) or nullptr.
  const NetActivation *outputRowWise() const;

  void print(llvm::raw_ostream &OS) const;

private:
  NetworkGraph() = default;
  friend class NetworkBuilder;
  Spec S;
  std::unique_ptr<ExprContext> Ctx;
  std::vector<const Layer *> Layers; // into S.Layers
  std::vector<ParamInfo> Params;
  std::vector<std::unique_ptr<NetActivation>> Acts;
  int64_t InputSize = 0;
};

} // namespace netjit

#endif
