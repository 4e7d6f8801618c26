// LayerReader.cpp - a spec's layers: each checked against its kind's field
// table (Graph/Layer.h), then wired by their "inputs" (docs/spec.md).
#include "SpecReader.h"

using namespace llvm;

namespace netjit {
namespace spec_reader {

Error SpecReader::field(const json &V, StringRef P, const LayerField &F,
                        FieldValue &Out) {
  switch (F.Type) {
  case FieldType::Shape: {
    auto S = shape(V, P);
    if (!S)
      return S.takeError();
    Out.Shape = std::move(*S);
    return Error::success();
  }
  case FieldType::Count: {
    auto U = positiveInt(V, P, F.Max);
    if (!U)
      return U.takeError();
    Out.Count = *U;
    return Error::success();
  }
  case FieldType::Flag: {
    auto B = boolean(V, P);
    if (!B)
      return B.takeError();
    Out.Flag = *B;
    return Error::success();
  }
  case FieldType::Fraction: {
    auto R = numberIn(V, P, 0, 1, false, true);
    if (!R)
      return R.takeError();
    Out.Number = *R;
    return Error::success();
  }
  case FieldType::Axis: {
    if (!V.is_number_integer() ||
        (V.is_number_unsigned() ? V.get<uint64_t>() > 64
                                : V.get<int64_t>() < -64 || V.get<int64_t>() > 64))
      return fail(P, "expected an axis (an integer, negative from the end), "
                     "got " + describeValue(V));
    Out.Count = V.get<int64_t>();
    return Error::success();
  }
  case FieldType::Positive: {
    auto R = numberIn(V, P, 0, 1e6, true, false);
    if (!R)
      return R.takeError();
    Out.Number = *R;
    return Error::success();
  }
  case FieldType::Initializer: {
    auto I = oneOf(V, P, "initializer", InitNames);
    if (!I)
      return I.takeError();
    Out.Init = *I;
    return Error::success();
  }
  case FieldType::Regularizer: {
    if (Error E = expectObject(V, P))
      return E;
    if (Error E = checkKeys(V, P, {"l1", "l2"}))
      return E;
    for (auto [Key, Slot] : {std::pair{"l1", &Out.L1}, std::pair{"l2", &Out.L2}})
      if (V.contains(Key)) {
        auto D = numberIn(V[Key], P.str() + "/" + Key, 0, 1e6, false, false);
        if (!D)
          return D.takeError();
        *Slot = *D;
      }
    return Error::success();
  }
  case FieldType::Activation: {
    auto A = activation(V, P);
    if (!A)
      return A.takeError();
    Out.Activation = std::move(*A);
    return Error::success();
  }
  case FieldType::Window:
    return window(V, P, F.Max, Out.Shape);
  case FieldType::Choice: {
    std::vector<std::string> Names = choicesOf(F);
    std::string List = join(Names, ", ");
    if (!V.is_string())
      return fail(P, "expected one of " + List + ", got " + describeValue(V));
    Out.Choice = V.get<std::string>();
    if (!is_contained(Names, Out.Choice))
      return fail(P, "unknown " + Twine(F.Name) + " '" + Out.Choice + "'" +
                         didYouMean(Out.Choice, Names) +
                         " (one of " + List + ")");
    return Error::success();
  }
  case FieldType::Padding:
    return padding(V, P, F.Max, Out.Shape);
  case FieldType::TargetShape: {
    if (!V.is_array() || V.empty())
      return fail(P, "expected a non-empty array of positive integers (one "
                     "may be -1), got " +
                         describeValue(V));
    bool Free = false;
    for (size_t I = 0; I < V.size(); ++I) {
      std::string EP = P.str() + "/" + std::to_string(I);
      if (V[I].is_number_integer() && V[I].get<int64_t>() == -1) {
        if (std::exchange(Free, true))
          return fail(EP, "only one extent may be -1");
        Out.Shape.push_back(-1);
        continue;
      }
      auto D = positiveInt(V[I], EP, int64_t(1) << 28);
      if (!D)
        return D.takeError();
      Out.Shape.push_back(*D);
    }
    return Error::success();
  }
  }
  llvm_unreachable("every field type is read above");
}

/// An extent per spatial axis: one positive integer for all of them, or
/// one each (Keras writes kernel_size as 3 or [3, 3]).
Error SpecReader::window(const json &V, StringRef P, int64_t Axes,
                         std::vector<int64_t> &Out) {
  const int64_t Max = int64_t(1) << 20;
  if (V.is_number()) {
    auto D = positiveInt(V, P, Max);
    if (!D)
      return D.takeError();
    Out.assign(Axes, *D);
    return Error::success();
  }
  if (!V.is_array() || int64_t(V.size()) != Axes)
    return fail(P, formatv("expected a positive integer or an array of {0}, "
                           "got {1}",
                           Axes, describeValue(V)));
  for (size_t I = 0; I < V.size(); ++I) {
    auto D = positiveInt(V[I], P.str() + "/" + std::to_string(I), Max);
    if (!D)
      return D.takeError();
    Out.push_back(*D);
  }
  return Error::success();
}

/// [before, after] per spatial axis, from N (all), [n per axis] or
/// [[before, after] per axis].
Error SpecReader::padding(const json &V, StringRef P, int64_t Axes,
                          std::vector<int64_t> &Out) {
  auto Count = [&](const json &E, const std::string &EP) -> Expected<int64_t> {
    if (!E.is_number_integer() || E.get<int64_t>() < 0 ||
        E.get<int64_t>() > (int64_t(1) << 20))
      return fail(EP, "expected a non-negative integer up to 1048576, got " +
                          describeValue(E));
    return E.get<int64_t>();
  };
  if (V.is_number()) {
    auto N = Count(V, P.str());
    if (!N)
      return N.takeError();
    Out.assign(2 * Axes, *N);
    return Error::success();
  }
  if (!V.is_array() || int64_t(V.size()) != Axes)
    return fail(P, formatv("expected a non-negative integer, an array of {0} "
                           "or an array of {0} [before, after] pairs, got {1}",
                           Axes, describeValue(V)));
  for (size_t I = 0; I < V.size(); ++I) {
    std::string EP = P.str() + "/" + std::to_string(I);
    const json &E = V[I];
    if (E.is_array()) {
      if (E.size() != 2)
        return fail(EP, "expected a [before, after] pair, got " +
                            describeValue(E));
      for (size_t K = 0; K < 2; ++K) {
        auto N = Count(E[K], EP + "/" + std::to_string(K));
        if (!N)
          return N.takeError();
        Out.push_back(*N);
      }
      continue;
    }
    auto N = Count(E, EP);
    if (!N)
      return N.takeError();
    Out.insert(Out.end(), 2, *N);
  }
  return Error::success();
}

/// A layer: its type, name and the fields its kind's table lists.
Expected<LayerPtr> SpecReader::layer(const json &V, StringRef P, size_t Index) {
  if (Error E = expectObject(V, P))
    return E;
  if (!V.contains("type"))
    return fail(P, "missing field 'type' (one of " +
                       join(namesOf(LayerNames), ", ") + ")");
  auto K = oneOf(V["type"], P.str() + "/type", "layer type", LayerNames);
  if (!K)
    return K.takeError();
  const LayerKindInfo &Info = layerKind(*K);
  std::vector<std::string> Allowed = {"type", "name", "inputs"};
  for (const LayerField &F : Info.Fields)
    Allowed.push_back(F.Name);
  if (Error E = checkKeys(V, P, Allowed))
    return E;
  auto Field = [&](StringRef F) { return P.str() + "/" + F.str(); };
  std::string Name = (layerName(*K) + "_" + Twine(Index)).str();
  if (V.contains("name")) {
    if (!V["name"].is_string() || V["name"].get<std::string>().empty())
      return fail(Field("name"),
                  "expected a non-empty string, got " + describeValue(V["name"]));
    Name = V["name"].get<std::string>();
  }
  std::vector<std::string> Inputs;
  if (V.contains("inputs")) {
    const json &In = V["inputs"];
    std::string IP = Field("inputs");
    json List = In.is_string() ? json::array({In}) : In;
    if (!List.is_array() || List.empty())
      return fail(IP, "expected a layer's name or a non-empty array of "
                      "them, got " +
                          describeValue(In));
    for (size_t K = 0; K < List.size(); ++K) {
      if (!List[K].is_string())
        return fail(In.is_string() ? IP : IP + "/" + std::to_string(K),
                    "expected a layer's name, got " + describeValue(List[K]));
      Inputs.push_back(List[K].get<std::string>());
    }
  }
  LayerFields Fields;
  for (const LayerField &F : Info.Fields) {
    if (!V.contains(F.Name)) {
      if (F.Required)
        return fail(P, "missing field '" + Twine(F.Name) + "' for a " +
                           layerName(*K) + " layer");
      continue;
    }
    if (Error E = field(V[F.Name], Field(F.Name), F, Fields.Values[F.Name]))
      return E;
  }
  std::unique_ptr<Layer> L = createLayer(*K);
  L->Pointer = P.str();
  L->Name = std::move(Name);
  L->InputNames = std::move(Inputs);
  L->read(Fields);
  return LayerPtr(std::move(L));
}

/// Resolves each layer's inputs: the layers it names (earlier ones, or
/// the network's input), else the layer before it. A value may feed several
/// layers; every layer must lead to the network's output, the last layer.
Error SpecReader::wire(Spec &S) {
  std::map<std::string, int> Index;
  for (size_t I = 0; I < S.Layers.size(); ++I)
    Index[S.Layers[I]->Name] = I;
  for (size_t I = 0; I < S.Layers.size(); ++I) {
    Layer &L = *S.Layers[I];
    L.Inputs.clear();
    if (L.InputNames.empty())
      L.Inputs.push_back(int(I) - 1);
    for (size_t K = 0; K < L.InputNames.size(); ++K) {
      const std::string &N = L.InputNames[K];
      std::string P = L.Pointer + "/inputs" +
                      (L.InputNames.size() > 1 ? "/" + std::to_string(K) : "");
      auto It = Index.find(N);
      if (N == S.InputName) {
        L.Inputs.push_back(-1);
      } else if (It == Index.end()) {
        std::vector<std::string> Names = {S.InputName};
        for (size_t J = 0; J < I; ++J)
          Names.push_back(S.Layers[J]->Name);
        return fail(P, "no layer named '" + N + "'" + didYouMean(N, Names));
      } else if (It->second >= int(I)) {
        return fail(P, "layer '" + N + "' does not come before this one; a "
                                       "layer's inputs are listed before it");
      } else {
        L.Inputs.push_back(It->second);
      }
    }
    unsigned Arity = layerKind(L.Kind).Inputs;
    if (Arity ? L.Inputs.size() != Arity : L.Inputs.size() < 2)
      return fail(L.Pointer + "/inputs",
                  Arity ? formatv("a {0} layer takes {1} input{2}, got {3}",
                                  layerName(L.Kind), Arity,
                                  Arity == 1 ? "" : "s", L.Inputs.size())
                              .str()
                        : formatv("'{0}' takes two or more inputs, got {1}",
                                  layerName(L.Kind), L.Inputs.size())
                              .str());
  }
  // Every layer must lead to the output, the last layer: walk back from it.
  std::vector<bool> Reaches(S.Layers.size(), false);
  if (!S.Layers.empty())
    Reaches.back() = true;
  for (size_t I = S.Layers.size(); I-- > 0;)
    if (Reaches[I])
      for (int In : S.Layers[I]->Inputs)
        if (In >= 0)
          Reaches[In] = true;
  for (size_t I = 0; I + 1 < S.Layers.size(); ++I)
    if (!Reaches[I])
      return fail(S.Layers[I]->Pointer,
                  "layer '" + S.Layers[I]->Name +
                      "' reaches no output; the network's output is its "
                      "last layer");
  return Error::success();
}

} // namespace spec_reader
} // namespace netjit
