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

/// Resolves each layer's inputs: the layers it names (anywhere in the
/// list, or the network's input), else the layer before it; then orders the
/// layers so that each comes after its inputs (the file's order where it
/// already does). A value may feed several layers; every layer must lead to
/// the network's output (the last layer, or "outputs").
Error SpecReader::wire(Spec &S) {
  size_t N = S.Layers.size();
  std::map<std::string, int> Index;
  for (size_t I = 0; I < N; ++I)
    Index[S.Layers[I]->Name] = I;
  std::vector<std::string> Known = {S.InputName};
  for (const LayerPtr &L : S.Layers)
    Known.push_back(L->Name);
  auto Resolve = [&](const std::string &Name,
                     const std::string &P) -> Expected<int> {
    if (Name == S.InputName)
      return -1;
    auto It = Index.find(Name);
    if (It == Index.end())
      return fail(P, "no layer named '" + Name + "'" + didYouMean(Name, Known));
    return It->second;
  };
  for (size_t I = 0; I < N; ++I) {
    Layer &L = *S.Layers[I];
    L.Inputs.clear();
    if (L.InputNames.empty())
      L.Inputs.push_back(int(I) - 1);
    for (size_t K = 0; K < L.InputNames.size(); ++K) {
      auto In = Resolve(L.InputNames[K],
                        L.Pointer + "/inputs" +
                            (L.InputNames.size() > 1 ? "/" + std::to_string(K)
                                                     : ""));
      if (!In)
        return In.takeError();
      L.Inputs.push_back(*In);
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
  std::vector<int> Outputs;
  for (size_t K = 0; K < S.OutputNames.size(); ++K) {
    auto O = Resolve(S.OutputNames[K],
                     S.OutputNames.size() > 1 ? "/outputs/" + std::to_string(K)
                                              : "/outputs");
    if (!O)
      return O.takeError();
    if (*O < 0)
      return fail("/outputs", "the network's input cannot be its output");
    Outputs.push_back(*O);
  }
  if (Outputs.empty() && N)
    Outputs.push_back(N - 1);
  // Each pass places, in the file's order, the layers whose inputs are
  // placed; a pass that places none leaves a cycle.
  std::vector<int> Order, At(N, -1);
  while (Order.size() < N) {
    size_t Before = Order.size();
    for (size_t I = 0; I < N; ++I)
      if (At[I] < 0 && all_of(S.Layers[I]->Inputs,
                              [&](int In) { return In < 0 || At[In] >= 0; })) {
        At[I] = Order.size();
        Order.push_back(I);
      }
    if (Order.size() > Before)
      continue;
    // Walk back through unplaced inputs from an unplaced layer until a
    // layer repeats: the walk from its first visit is the cycle.
    std::vector<int> Walk;
    int Cur = find(At, -1) - At.begin();
    while (!is_contained(Walk, Cur)) {
      Walk.push_back(Cur);
      for (int In : S.Layers[Cur]->Inputs)
        if (In >= 0 && At[In] < 0) {
          Cur = In;
          break;
        }
    }
    std::string Path = "'" + S.Layers[Cur]->Name + "' reads ";
    for (auto It = find(Walk, Cur) + 1; It != Walk.end(); ++It)
      Path += "'" + S.Layers[*It]->Name + "', which reads ";
    return fail(S.Layers[Cur]->Pointer + "/inputs",
                "a cycle: " + Path + "'" + S.Layers[Cur]->Name +
                    "'; a layer cannot depend on its own output");
  }
  // Every layer must lead to an output: walk back from them.
  std::vector<bool> Reaches(N, false);
  for (int O : Outputs)
    Reaches[O] = true;
  for (size_t K = N; K-- > 0;)
    if (Reaches[Order[K]])
      for (int In : S.Layers[Order[K]]->Inputs)
        if (In >= 0)
          Reaches[In] = true;
  for (size_t I = 0; I < N; ++I)
    if (!Reaches[I])
      return fail(S.Layers[I]->Pointer,
                  "layer '" + S.Layers[I]->Name + "' reaches no output; " +
                      (S.OutputNames.empty()
                           ? "the network's output is its last layer"
                           : "the network's output is '" +
                                 S.Layers[Outputs[0]]->Name + "'"));
  // The layers in their order, the output last (every other layer leads
  // to it, so comes before it), their inputs renumbered.
  std::vector<LayerPtr> Sorted;
  for (int I : Order) {
    for (int &In : S.Layers[I]->Inputs)
      if (In >= 0)
        In = At[In];
    Sorted.push_back(std::move(S.Layers[I]));
  }
  S.Layers = std::move(Sorted);
  return Error::success();
}

} // namespace spec_reader
} // namespace netjit
