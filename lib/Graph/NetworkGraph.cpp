// NetworkGraph.cpp - shape inference, parameter layout and activation
// derivation for a spec.
#include "netjit/Graph/NetworkGraph.h"

#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Memory.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace netjit {

int64_t NetworkGraph::numWeights() const {
  int64_t N = 0;
  for (const ParamInfo &P : Params)
    N += P.size();
  return N;
}

const NetActivation *NetworkGraph::outputRowWise() const {
  const Layer &L = *Layers.back();
  if (L.Act >= 0 && Acts[L.Act]->Spec.RowWise)
    return Acts[L.Act].get();
  return nullptr;
}

/// Builds the graph layer by layer: each kind infers its shape and adds its
/// parameters (Graph/Layers/), then the activation it names is compiled.
class NetworkBuilder final : public GraphBuilder {
public:
  NetworkBuilder(NetworkGraph &G, const Spec &S) : G(G), S(S) {}
  Error build();

  Error fail(StringRef Pointer, const Twine &Message) const override {
    return locatedError(ErrorKind::Spec, S.File, S.locate(Pointer), Message);
  }
  Expected<int> addParam(ParamInfo P, StringRef LimitPointer) override {
    const int64_t Max = S.Limits.MaxWeights;
    int64_t N = 1;
    bool Over = false;
    for (int64_t D : P.Shape)
      Over |= __builtin_mul_overflow(N, D, &N) || N > Max;
    if (Over || (Weights += N) > Max)
      return fail(LimitPointer,
                  formatv("the network needs more than {0} weights (the "
                          "limit, {1} per copy of them)",
                          Max, bytesText(Max * 4)));
    int I = G.Params.size();
    G.Params.push_back(std::move(P));
    Current->Params.push_back(I);
    return I;
  }

private:
  NetworkGraph &G;
  const Spec &S;
  Layer *Current = nullptr;
  int64_t Weights = 0;
  Error addActivation(Layer &L, bool Last);
};

/// Every layer with an activation that does something gets it compiled.
Error NetworkBuilder::addActivation(Layer &L, bool Last) {
  const ActivationSpec *AS = L.activation();
  if (!AS || AS->isLinear())
    return Error::success();
  if (AS->RowWise && !Last)
    return fail(AS->Pointer, "'" + AS->Name +
                                 "' is supported on the output layer only");
  auto A = std::make_unique<NetActivation>();
  A->Spec = *AS;
  if (!AS->RowWise) {
    std::vector<std::string> Names;
    for (auto &[N, _] : AS->Params)
      Names.push_back(N);
    auto Forms = deriveActivation(*G.Ctx, AS->Formula, Names, S.File);
    if (!Forms)
      return Forms.takeError();
    A->Forms = std::move(*Forms);
    for (auto &[N, P] : AS->Params) {
      if (!P.Trainable) {
        A->Fixed[N] = P.Value;
        continue;
      }
      ParamInfo PI;
      PI.Name = L.Name + "/" + N;
      PI.Shape = {AS->PerUnit ? L.Out : 1};
      PI.UseConstant = true;
      PI.Constant = P.Value;
      PI.SummedOverRows = true;
      PI.Pointer = AS->Pointer;
      auto I = addParam(std::move(PI), AS->Pointer);
      if (!I)
        return I.takeError();
      A->Trained[N] = *I;
    }
  }
  L.Act = G.Acts.size();
  G.Acts.push_back(std::move(A));
  return Error::success();
}

Error NetworkBuilder::build() {
  // Weights past the limit are refused up front, not met as an allocation
  // failure. Features of the input: the product of its shape, checked for
  // overflow.
  const int64_t MaxWeights = S.Limits.MaxWeights;
  int64_t Features = 1;
  for (int64_t D : S.InputShape)
    if (__builtin_mul_overflow(Features, D, &Features) || Features > MaxWeights)
      return fail("/input/shape", "the input has " +
                                      formatShape(S.InputShape) +
                                      " features, more than the limit of " +
                                      Twine(MaxWeights));
  G.InputSize = Features;
  for (size_t I = 0; I < S.Layers.size(); ++I) {
    Layer &L = *S.Layers[I];
    Current = &L;
    // The spec reader checked each kind's number of inputs.
    L.InShapes.clear();
    for (int From : L.Inputs)
      L.InShapes.push_back(From < 0 ? S.InputShape : S.Layers[From]->Shape);
    int From = L.Inputs.front();
    L.InShape = L.InShapes.front();
    L.In = From < 0 ? G.InputSize : S.Layers[From]->Out;
    L.Params.clear();
    L.Kernel = L.Act = -1;
    if (Error E = L.build(*this))
      return E;
    L.Out = 1;
    for (int64_t D : L.Shape)
      L.Out *= D;
    if (Error E = addActivation(L, I + 1 == S.Layers.size()))
      return E;
    G.Layers.push_back(&L);
  }
  return Error::success();
}

Expected<std::unique_ptr<NetworkGraph>> NetworkGraph::build(Spec S) {
  std::unique_ptr<NetworkGraph> G(new NetworkGraph);
  G->Ctx = std::make_unique<ExprContext>();
  G->S = std::move(S);
  NetworkBuilder B(*G, G->S);
  if (Error E = B.build())
    return E;
  return G;
}

void NetworkGraph::print(raw_ostream &OS) const {
  OS << "network " << S.Name << " (" << S.File << ")\n";
  OS << "  input " << formatShape(S.InputShape) << "\n";
  for (size_t I = 0; I < Layers.size(); ++I) {
    const Layer &L = *Layers[I];
    OS << "  " << L.Name << ": " << layerName(L.Kind);
    L.print(OS);
    if (L.Act >= 0)
      OS << ", activation " << Acts[L.Act]->Spec.describe();
    OS << "  " << formatShape(L.Shape);
    // The wiring, where it is not the chain's.
    if (L.Inputs != std::vector<int>{int(I) - 1}) {
      const char *Sep = "  <- ";
      for (int In : L.Inputs)
        OS << std::exchange(Sep, ", ")
           << (In < 0 ? S.InputName : Layers[In]->Name);
    }
    OS << "\n";
    if (L.Act >= 0 && !Acts[L.Act]->Spec.RowWise) {
      const ActivationForms &F = Acts[L.Act]->Forms;
      OS << "      f(x)  = " << netjit::print(F.Forward) << "\n";
      OS << "      f'(x) = " << netjit::print(F.Derivative) << "\n";
      if (F.DerivativeY)
        OS << "      f'    = " << netjit::print(F.DerivativeY) << "  (in y = f(x))\n";
    }
  }
  OS << "  parameters (" << numWeights() << " floats):\n";
  for (const ParamInfo &P : Params) {
    OS << "    " << P.Name << " " << formatShape(P.Shape);
    if (P.UseConstant)
      OS << " = " << formatNumber(P.Constant);
    else
      OS << " " << initName(P.Init);
    if (P.L1 || P.L2)
      OS << " l1=" << formatNumber(P.L1) << " l2=" << formatNumber(P.L2);
    OS << "\n";
  }
}

} // namespace netjit
