// NetworkGraph.cpp - shape inference, parameter layout and activation
// derivation for a spec.
#include "netjit/Graph/NetworkGraph.h"

#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Memory.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace netjit {

std::string formatShape(ArrayRef<int64_t> Shape) {
  std::string S = "[";
  for (size_t I = 0; I < Shape.size(); ++I)
    S += (I ? ", " : "") + std::to_string(Shape[I]);
  return S + "]";
}

int64_t NetworkGraph::numWeights() const {
  int64_t N = 0;
  for (const ParamInfo &P : Params)
    N += P.size();
  return N;
}

const NetActivation *NetworkGraph::outputRowWise() const {
  const NetLayer &L = Layers.back();
  if (L.Act >= 0 && Acts[L.Act]->Spec.RowWise)
    return Acts[L.Act].get();
  return nullptr;
}

Expected<std::unique_ptr<NetworkGraph>> NetworkGraph::build(Spec S) {
  std::unique_ptr<NetworkGraph> G(new NetworkGraph);
  G->Ctx = std::make_unique<ExprContext>();
  auto Fail = [&](StringRef Pointer, const Twine &Message) {
    return locatedError(ErrorKind::Spec, S.File, Pointer, Message);
  };
  // Weights past the limit are refused up front, not met as an allocation
  // failure. Features of the input: the product of its shape, checked for
  // overflow.
  const int64_t MaxWeights = S.Limits.MaxWeights;
  int64_t Features = 1;
  for (int64_t D : S.InputShape)
    if (__builtin_mul_overflow(Features, D, &Features) || Features > MaxWeights)
      return Fail("/input/shape", "the input has " +
                                      formatShape(S.InputShape) +
                                      " features, more than the limit of " +
                                      Twine(MaxWeights));
  G->InputSize = Features;
  std::vector<int64_t> Shape = S.InputShape;
  int64_t Weights = 0;

  for (size_t I = 0; I < S.Layers.size(); ++I) {
    const LayerSpec &LS = S.Layers[I];
    NetLayer L;
    L.Kind = LS.Kind;
    L.Name = LS.Name;
    L.Pointer = LS.Pointer;
    L.In = Features;
    L.Rate = LS.Rate;
    switch (LS.Kind) {
    case LayerKind::input:
      break; // the parser moved it into S.InputShape
    case LayerKind::flatten:
      Shape = {Features};
      break;
    case LayerKind::dense: {
      if (Shape.size() != 1)
        return Fail(LS.Pointer, "a dense layer needs one feature axis, got " +
                                    formatShape(Shape) +
                                    "; put a flatten layer before it");
      Features = LS.Units;
      Shape = {Features};
      ParamInfo K;
      K.Name = LS.Name + "/kernel";
      K.Rows = L.In;
      K.Cols = LS.Units;
      K.Init = LS.KernelInit;
      K.FanIn = L.In;
      K.FanOut = LS.Units;
      K.L1 = LS.L1;
      K.L2 = LS.L2;
      K.Pointer = LS.Pointer;
      Weights += K.size() + (LS.UseBias ? LS.Units : 0);
      if (K.Rows > MaxWeights / K.Cols || Weights > MaxWeights)
        return Fail(LS.Pointer + "/units",
                    formatv("the network needs more than {0} weights (the "
                            "limit, {1} per copy of them)",
                            MaxWeights, bytesText(MaxWeights * 4)));
      L.Kernel = G->Params.size();
      G->Params.push_back(std::move(K));
      if (LS.UseBias) {
        ParamInfo B;
        B.Name = LS.Name + "/bias";
        B.Cols = LS.Units;
        B.Init = LS.BiasInit;
        B.FanIn = L.In;
        B.FanOut = LS.Units;
        B.Pointer = LS.Pointer;
        L.Bias = G->Params.size();
        G->Params.push_back(std::move(B));
      }
      break;
    }
    case LayerKind::activation:
      break;
    case LayerKind::dropout:
      break;
    }
    L.Out = Features;
    L.Shape = Shape;
    // Every layer with an activation that does something gets it compiled.
    if ((LS.Kind == LayerKind::dense || LS.Kind == LayerKind::activation) &&
        !LS.Activation.isLinear()) {
      const ActivationSpec &AS = LS.Activation;
      if (AS.RowWise && I + 1 != S.Layers.size())
        return Fail(AS.Pointer, "'" + AS.Name +
                                    "' is supported on the output layer "
                                    "only");
      auto A = std::make_unique<NetActivation>();
      A->Spec = AS;
      if (!AS.RowWise) {
        std::vector<std::string> Names;
        for (auto &[N, _] : AS.Params)
          Names.push_back(N);
        auto Forms = deriveActivation(*G->Ctx, AS.Formula, Names, S.File);
        if (!Forms)
          return Forms.takeError();
        A->Forms = std::move(*Forms);
        for (auto &[N, P] : AS.Params) {
          if (!P.Trainable) {
            A->Fixed[N] = P.Value;
            continue;
          }
          ParamInfo PI;
          PI.Name = LS.Name + "/" + N;
          PI.Cols = AS.PerUnit ? Features : 1;
          PI.UseConstant = true;
          PI.Constant = P.Value;
          PI.Pointer = AS.Pointer;
          Weights += PI.size();
          A->Trained[N] = G->Params.size();
          G->Params.push_back(std::move(PI));
        }
      }
      L.Act = G->Acts.size();
      G->Acts.push_back(std::move(A));
    }
    G->Layers.push_back(std::move(L));
  }
  G->S = std::move(S);
  return G;
}

void NetworkGraph::print(raw_ostream &OS) const {
  OS << "network " << S.Name << " (" << S.File << ")\n";
  OS << "  input " << formatShape(S.InputShape) << "\n";
  for (const NetLayer &L : Layers) {
    OS << "  " << L.Name << ": " << layerName(L.Kind);
    if (L.Kind == LayerKind::dense)
      OS << " " << L.In << " -> " << L.Out;
    if (L.Kind == LayerKind::dropout)
      OS << " rate " << formatNumber(L.Rate);
    if (L.Act >= 0)
      OS << ", activation " << Acts[L.Act]->Spec.describe();
    OS << "  " << formatShape(L.Shape) << "\n";
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
    OS << "    " << P.Name << " " << formatShape({P.Rows, P.Cols});
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
