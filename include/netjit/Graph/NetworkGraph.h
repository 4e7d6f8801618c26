// NetworkGraph.h - a spec's layers with shapes inferred, its parameter
// tensors, and each activation compiled to expressions (--emit=graph).
#ifndef NETJIT_GRAPH_NETWORKGRAPH_H
#define NETJIT_GRAPH_NETWORKGRAPH_H

#include "netjit/Activations/Catalog.h"
#include "netjit/Spec/Spec.h"

#include "llvm/Support/raw_ostream.h"
#include <memory>

namespace netjit {

/// A tensor the optimizer trains: a dense kernel [In x Out] (row-major, so
/// row i holds input feature i's weights), a bias [Out], or an activation
/// parameter ([1] shared or [Out] per unit).
struct ParamInfo {
  std::string Name; // "dense_1/kernel", "dense_1/alpha"
  int64_t Rows = 1, Cols = 1;
  InitKind Init = InitKind::zeros;
  bool UseConstant = false; // activation parameters start at Constant
  double Constant = 0;
  int64_t FanIn = 1, FanOut = 1;
  double L1 = 0, L2 = 0;
  std::string Pointer;
  int64_t size() const { return Rows * Cols; }
};

/// An activation a layer applies, compiled.
struct NetActivation {
  ActivationSpec Spec;
  ActivationForms Forms; // unused for row-wise ones
  /// Each formula parameter: a fixed value, or the ParamInfo it is read from.
  std::map<std::string, double> Fixed;
  std::map<std::string, int> Trained;
};

struct NetLayer {
  LayerKind Kind;
  std::string Name, Pointer;
  int64_t In = 0, Out = 0;    // features in and out (flattened)
  std::vector<int64_t> Shape; // the output's shape, batch excluded
  int Kernel = -1, Bias = -1; // dense: ParamInfo indices
  int Act = -1;               // dense, activation: NetActivation index
  double Rate = 0;            // dropout
};

class NetworkGraph {
public:
  /// Infers shapes, lays out parameters and derives every activation;
  /// errors name the spec's file and the layer's JSON pointer.
  static llvm::Expected<std::unique_ptr<NetworkGraph>> build(Spec S);

  const Spec &spec() const { return S; }
  llvm::ArrayRef<NetLayer> layers() const { return Layers; }
  llvm::ArrayRef<ParamInfo> params() const { return Params; }
  const NetActivation &activation(int I) const { return *Acts[I]; }
  size_t numActivations() const { return Acts.size(); }
  int64_t inputSize() const { return InputSize; }
  int64_t outputSize() const { return Layers.back().Out; }
  int64_t numWeights() const;
  /// The output layer's row-wise activation (softmax) or nullptr.
  const NetActivation *outputRowWise() const;

  void print(llvm::raw_ostream &OS) const;

private:
  NetworkGraph() = default;
  Spec S;
  std::unique_ptr<ExprContext> Ctx;
  std::vector<NetLayer> Layers;
  std::vector<ParamInfo> Params;
  std::vector<std::unique_ptr<NetActivation>> Acts;
  int64_t InputSize = 0;
};

/// "[28, 28]".
std::string formatShape(llvm::ArrayRef<int64_t> Shape);

} // namespace netjit

#endif
