// Parser.cpp - JSON network specs to Spec, validated field by field; every
// error names the file and the JSON pointer (docs/spec.md).
#include "netjit/Spec/Spec.h"
#include "netjit/Spec/Keras.h"

#include "netjit/Activations/Catalog.h"
#include "netjit/Expr/Expr.h"
#include "netjit/Expr/Parser.h"
#include "netjit/Graph/Layer.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Json.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

using namespace llvm;
using json = nlohmann::json;

namespace netjit {

namespace {

template <typename Kind, size_t N>
std::vector<std::string> namesOf(const std::pair<const char *, Kind> (&T)[N]) {
  std::vector<std::string> Out;
  for (auto &E : T)
    Out.push_back(E.first);
  return Out;
}

const std::pair<const char *, LayerKind> LayerNames[] = {
#define NETJIT_LAYER(Name, Summary) {#Name, LayerKind::Name},
#include "netjit/Spec/Layers.def"
};
const std::pair<const char *, LossKind> LossNames[] = {
#define NETJIT_LOSS(Name, Sparse, LogitsOf, Also, Summary) {#Name, LossKind::Name},
#include "netjit/Spec/Losses.def"
};
const std::pair<const char *, OptimizerKind> OptimizerNames[] = {
#define NETJIT_OPTIMIZER(Name, BetaPowers, Summary) {#Name, OptimizerKind::Name},
#include "netjit/Spec/Optimizers.def"
};
const std::pair<const char *, InitKind> InitNames[] = {
#define NETJIT_INIT(Name, Summary) {#Name, InitKind::Name},
#include "netjit/Spec/Initializers.def"
};

std::string escapeToken(StringRef Key) { return escapeJsonToken(Key); }

std::string describeValue(const json &V) {
  std::string S = V.dump();
  if (S.size() > 40)
    S = S.substr(0, 37) + "...";
  return S;
}

/// Walks the document, checking each field against what it may be.
class SpecReader {
public:
  SpecReader(StringRef File) : File(File) {}

  Expected<Spec> read(const json &Doc);

private:
  std::string File;
  const json *Declared = nullptr; // the top-level "activations" object
  std::vector<std::string> Resolving; // declared names being resolved

  Error fail(StringRef Pointer, const Twine &Message) {
    return locatedError(ErrorKind::Spec, File, Pointer.empty() ? "/" : Pointer,
                        Message);
  }

  Error expectObject(const json &V, StringRef P) {
    if (!V.is_object())
      return fail(P, "expected an object, got " + describeValue(V));
    return Error::success();
  }

  /// Every key of V must be in Allowed.
  Error checkKeys(const json &V, StringRef P, ArrayRef<std::string> Allowed) {
    return checkJsonKeys(ErrorKind::Spec, File, V, P, Allowed);
  }

  Expected<int64_t> positiveInt(const json &V, StringRef P,
                                int64_t Max = int64_t(1) << 31) {
    if (!V.is_number_integer() || V.get<int64_t>() <= 0)
      return fail(P, "expected a positive integer, got " + describeValue(V));
    if (V.is_number_unsigned() ? V.get<uint64_t>() > uint64_t(Max)
                               : V.get<int64_t>() > Max)
      return fail(P, "expected at most " + Twine(Max) + ", got " +
                         describeValue(V));
    return V.get<int64_t>();
  }

  Expected<double> finiteNumber(const json &V, StringRef P) {
    if (!V.is_number())
      return fail(P, "expected a number, got " + describeValue(V));
    double D = V.get<double>();
    if (!std::isfinite(D))
      return fail(P, "expected a finite number, got " + describeValue(V));
    return D;
  }

  Expected<double> numberIn(const json &V, StringRef P, double Lo, double Hi,
                            bool LoOpen, bool HiOpen) {
    auto D = finiteNumber(V, P);
    if (!D)
      return D.takeError();
    bool Ok = (LoOpen ? *D > Lo : *D >= Lo) && (HiOpen ? *D < Hi : *D <= Hi);
    if (!Ok)
      return fail(P, formatv("expected a number in {0}{1}, {2}{3}, got {4}",
                             LoOpen ? "(" : "[", formatNumber(Lo),
                             formatNumber(Hi), HiOpen ? ")" : "]",
                             describeValue(V)));
    return *D;
  }

  Expected<bool> boolean(const json &V, StringRef P) {
    if (!V.is_boolean())
      return fail(P, "expected true or false, got " + describeValue(V));
    return V.get<bool>();
  }

  template <typename Kind, size_t N>
  Expected<Kind> oneOf(const json &V, StringRef P, StringRef What,
                       const std::pair<const char *, Kind> (&Table)[N]) {
    if (!V.is_string())
      return fail(P, "expected the " + What + " as a string, got " +
                         describeValue(V));
    std::string S = V.get<std::string>();
    for (auto &E : Table)
      if (S == E.first)
        return E.second;
    return fail(P, "unknown " + What + " '" + S + "'" +
                       didYouMean(S, namesOf(Table)));
  }

  Expected<std::vector<int64_t>> shape(const json &V, StringRef P) {
    if (!V.is_array() || V.empty())
      return fail(P, "expected a non-empty array of positive integers, got " +
                         describeValue(V));
    std::vector<int64_t> S;
    for (size_t I = 0; I < V.size(); ++I) {
      auto D = positiveInt(V[I], P.str() + "/" + std::to_string(I));
      if (!D)
        return D.takeError();
      S.push_back(*D);
    }
    return S;
  }

  Expected<ActivationSpec> activation(const json &V, StringRef P);
  Expected<ActivationSpec> named(StringRef Name, StringRef P);
  Error checkFormula(ActivationSpec &A, StringRef P);
  Error paramValue(ActivationSpec &A, StringRef Name, const json &V,
                   StringRef P);
  Error field(const json &V, StringRef P, const LayerField &F, FieldValue &Out);
  Expected<LayerPtr> layer(const json &V, StringRef P, size_t Index);
  Error wire(Spec &S);
  Error loss(const json &V, LossSpec &L);
  Error optimizer(const json &V, OptimizerSpec &O);
  Error training(const json &V, TrainingSpec &T);
};

/// A catalogue entry or a declared activation, at its defaults.
Expected<ActivationSpec> SpecReader::named(StringRef Name, StringRef P) {
  if (Declared && Declared->contains(Name.str())) {
    if (is_contained(Resolving, Name))
      return fail(P, "activation '" + Name +
                         "' is defined in terms of itself (" +
                         join(Resolving, " -> ") + " -> " + Name + ")");
    // Each level is a recursive call, and a spec needs few.
    if (Resolving.size() == MaxJsonDepth)
      return fail(P, "activation '" + Resolving.front() +
                         "' is declared through more than " +
                         Twine(MaxJsonDepth) + " other names");
    Resolving.push_back(Name.str());
    auto A = activation((*Declared)[Name.str()],
                        "/activations/" + escapeToken(Name));
    Resolving.pop_back();
    if (!A)
      return A.takeError();
    A->Name = Name.str();
    A->Pointer = P.str();
    return A;
  }
  if (const ActivationInfo *I = findActivation(Name)) {
    ActivationSpec A;
    A.Name = A.Base = I->Name;
    A.Formula = I->Formula;
    A.RowWise = I->RowWise;
    A.Pointer = P.str();
    for (const ActivationParam &Par : I->Params)
      A.Params[Par.Name] = {Par.Default, Par.Trainable};
    return A;
  }
  std::vector<std::string> Names = activationNames();
  if (Declared)
    for (auto &[K, _] : Declared->items())
      Names.push_back(K);
  return fail(P, "unknown activation '" + Name + "'" + didYouMean(Name, Names));
}

/// A parameter's value: a number, or {"init": number, "trainable": bool}.
Error SpecReader::paramValue(ActivationSpec &A, StringRef Name, const json &V,
                             StringRef P) {
  ActivationParamSpec &Par = A.Params[Name.str()];
  if (V.is_object()) {
    if (Error E = checkKeys(V, P, {"init", "trainable"}))
      return E;
    if (V.contains("init")) {
      auto D = finiteNumber(V["init"], P.str() + "/init");
      if (!D)
        return D.takeError();
      Par.Value = *D;
    }
    if (V.contains("trainable")) {
      auto T = boolean(V["trainable"], P.str() + "/trainable");
      if (!T)
        return T.takeError();
      Par.Trainable = *T;
    }
    return Error::success();
  }
  auto D = finiteNumber(V, P);
  if (!D)
    return fail(P, "expected a number or {\"init\": number, \"trainable\": "
                   "bool}, got " +
                       describeValue(V));
  Par.Value = *D;
  return Error::success();
}

/// Parses the formula (catching syntax errors, unknown names and a
/// derivative the rules cannot take) and reports them at its pointer.
Error SpecReader::checkFormula(ActivationSpec &A, StringRef P) {
  if (A.RowWise)
    return Error::success();
  std::vector<std::string> Names;
  for (auto &[N, _] : A.Params)
    Names.push_back(N);
  ExprContext Ctx;
  auto Forms = deriveActivation(Ctx, A.Formula, Names);
  if (Forms)
    return Error::success();
  std::string Message, Where;
  handleAllErrors(Forms.takeError(), [&](const LocatedError &E) {
    Where = E.where();
    Message = E.text();
  });
  if (!Where.empty())
    Message = "formula " + Where + ": " + Message;
  return fail(P, Message);
}

Expected<ActivationSpec> SpecReader::activation(const json &V, StringRef P) {
  if (V.is_string())
    return named(V.get<std::string>(), P);
  if (!V.is_object())
    return fail(P, "expected an activation name, {\"name\": ...} or "
                   "{\"expr\": ...}, got " +
                       describeValue(V));
  ActivationSpec A;
  if (V.contains("expr")) {
    if (Error E = checkKeys(V, P, {"expr", "params", "per_unit"}))
      return E;
    if (!V["expr"].is_string())
      return fail(P.str() + "/expr",
                  "expected a formula string, got " + describeValue(V["expr"]));
    A.Formula = V["expr"].get<std::string>();
    A.FormulaPointer = P.str() + "/expr";
    if (V.contains("params")) {
      const json &Ps = V["params"];
      std::string PP = P.str() + "/params";
      if (Error E = expectObject(Ps, PP))
        return E;
      for (auto &[K, PV] : Ps.items())
        if (Error E = paramValue(A, K, PV, PP + "/" + escapeToken(K)))
          return E;
    }
    if (Error E = checkFormula(A, A.FormulaPointer))
      return E;
  } else if (V.contains("name")) {
    if (!V["name"].is_string())
      return fail(P.str() + "/name", "expected an activation name, got " +
                                         describeValue(V["name"]));
    auto Base = named(V["name"].get<std::string>(), P.str() + "/name");
    if (!Base)
      return Base.takeError();
    A = std::move(*Base);
    std::vector<std::string> Allowed = {"name", "per_unit"};
    for (auto &[N, _] : A.Params)
      Allowed.push_back(N);
    if (Error E = checkKeys(V, P, Allowed))
      return E;
    for (auto &[K, PV] : V.items())
      if (A.Params.count(K))
        if (Error E = paramValue(A, K, PV, P.str() + "/" + escapeToken(K)))
          return E;
  } else {
    return fail(P, "expected \"name\" (a catalogue or declared activation) "
                   "or \"expr\" (a formula)");
  }
  if (V.contains("per_unit")) {
    auto B = boolean(V["per_unit"], P.str() + "/per_unit");
    if (!B)
      return B.takeError();
    A.PerUnit = *B;
  }
  A.Pointer = P.str();
  return A;
}

/// One field of a layer, checked as its type says (Graph/Layer.h).
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
  }
  llvm_unreachable("every field type is read above");
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
/// the network's input), else the layer before it. Every layer but the last
/// feeds exactly one other, so the network's output is the last layer.
Error SpecReader::wire(Spec &S) {
  std::map<std::string, int> Index;
  for (size_t I = 0; I < S.Layers.size(); ++I)
    Index[S.Layers[I]->Name] = I;
  std::vector<int> Consumer(S.Layers.size() + 1, -1); // by input + 1
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
    if (L.Inputs.size() != Arity)
      return fail(L.Pointer + "/inputs",
                  formatv("a {0} layer takes {1} input{2}, got {3}",
                          layerName(L.Kind), Arity, Arity == 1 ? "" : "s",
                          L.Inputs.size()));
    for (int In : L.Inputs) {
      int &C = Consumer[In + 1];
      std::string From = In < 0 ? S.InputName : S.Layers[In]->Name;
      if (C >= 0)
        return fail(L.Pointer + (L.InputNames.empty() ? "" : "/inputs"),
                    "'" + From + "' already feeds '" + S.Layers[C]->Name +
                        "': a value with several consumers is not supported "
                        "yet");
      C = I;
    }
  }
  for (size_t I = 0; I + 1 < S.Layers.size(); ++I)
    if (Consumer[I + 1] < 0)
      return fail(S.Layers[I]->Pointer,
                  "layer '" + S.Layers[I]->Name +
                      "' feeds no other layer; the network's output is its "
                      "last layer");
  return Error::success();
}

Error SpecReader::loss(const json &V, LossSpec &L) {
  const json *Type = &V;
  if (V.is_object()) {
    if (Error E = checkKeys(V, "/loss", {"type", "from_logits", "delta"}))
      return E;
    if (!V.contains("type"))
      return fail("/loss", "missing field 'type'");
    Type = &V["type"];
  }
  auto K = oneOf(*Type, V.is_object() ? "/loss/type" : "/loss", "loss",
                 LossNames);
  if (!K)
    return K.takeError();
  L.Kind = *K;
  if (!V.is_object())
    return Error::success();
  if (V.contains("from_logits")) {
    if (L.Kind == LossKind::mse || L.Kind == LossKind::mae ||
        L.Kind == LossKind::huber)
      return fail("/loss/from_logits", "only cross-entropy losses take it");
    auto B = boolean(V["from_logits"], "/loss/from_logits");
    if (!B)
      return B.takeError();
    L.FromLogits = *B;
  }
  if (V.contains("delta")) {
    if (L.Kind != LossKind::huber)
      return fail("/loss/delta", "only the huber loss takes it");
    auto D = numberIn(V["delta"], "/loss/delta", 0, 1e30, true, false);
    if (!D)
      return D.takeError();
    L.Delta = *D;
  }
  return Error::success();
}

Error SpecReader::optimizer(const json &V, OptimizerSpec &O) {
  const json *Type = &V;
  if (V.is_object()) {
    if (!V.contains("type"))
      return fail("/optimizer", "missing field 'type'");
    Type = &V["type"];
  }
  auto K = oneOf(*Type, V.is_object() ? "/optimizer/type" : "/optimizer",
                 "optimizer", OptimizerNames);
  if (!K)
    return K.takeError();
  O.Kind = *K;
  std::vector<std::string> Allowed = {"type"};
  for (auto &[N, D] : optimizerDefaults(*K)) {
    O.Hyper[N] = D;
    Allowed.push_back(N);
  }
  if (!V.is_object())
    return Error::success();
  if (Error E = checkKeys(V, "/optimizer", Allowed))
    return E;
  for (auto &[N, D] : optimizerDefaults(*K)) {
    if (!V.contains(N))
      continue;
    std::string P = "/optimizer/" + N;
    Expected<double> X = 0.0;
    if (N == "nesterov") {
      auto B = boolean(V[N], P);
      if (!B)
        return B.takeError();
      X = *B ? 1.0 : 0.0;
    } else if (N == "learning_rate" || N == "epsilon") {
      X = numberIn(V[N], P, 0, 1e6, true, false);
    } else if (StringRef(N).starts_with("beta") || N == "rho" ||
               N == "momentum") {
      X = numberIn(V[N], P, 0, 1, false, true);
    } else {
      X = numberIn(V[N], P, 0, 1e6, false, false);
    }
    if (!X)
      return X.takeError();
    O.Hyper[N] = *X;
  }
  return Error::success();
}

Error SpecReader::training(const json &V, TrainingSpec &T) {
  if (Error E = expectObject(V, "/training"))
    return E;
  if (Error E = checkKeys(V, "/training",
                          {"batch_size", "epochs", "seed", "validation_split"}))
    return E;
  if (V.contains("batch_size")) {
    auto B = positiveInt(V["batch_size"], "/training/batch_size", 1 << 20);
    if (!B)
      return B.takeError();
    T.BatchSize = *B;
  }
  if (V.contains("epochs")) {
    auto B = positiveInt(V["epochs"], "/training/epochs", 1 << 20);
    if (!B)
      return B.takeError();
    T.Epochs = *B;
  }
  if (V.contains("seed")) {
    const json &S = V["seed"];
    if (!S.is_number_integer() || (!S.is_number_unsigned() && S.get<int64_t>() < 0))
      return fail("/training/seed",
                  "expected a non-negative integer, got " + describeValue(S));
    T.Seed = S.get<uint64_t>();
  }
  if (V.contains("validation_split")) {
    auto D = numberIn(V["validation_split"], "/training/validation_split", 0,
                      1, false, true);
    if (!D)
      return D.takeError();
    T.ValidationSplit = *D;
  }
  return Error::success();
}

Expected<Spec> SpecReader::read(const json &Doc) {
  if (Error E = expectObject(Doc, ""))
    return E;
  if (Error E = checkKeys(Doc, "",
                          {"name", "input", "activations", "layers", "loss",
                           "optimizer", "training", "data", "metrics"}))
    return E;
  Spec S;
  S.File = File;
  S.Name = sys::path::stem(File).str();
  if (Doc.contains("name")) {
    if (!Doc["name"].is_string())
      return fail("/name", "expected a string, got " + describeValue(Doc["name"]));
    S.Name = Doc["name"].get<std::string>();
  }
  if (Doc.contains("activations")) {
    Declared = &Doc["activations"];
    if (Error E = expectObject(*Declared, "/activations"))
      return E;
    S.DeclaredJson = Declared->dump();
    for (auto &[K, V] : Declared->items()) {
      std::string P = "/activations/" + escapeToken(K);
      if (findActivation(K))
        return fail(P, "'" + K + "' is a catalogue activation; declare it "
                                  "under another name");
      auto A = named(K, P);
      if (!A)
        return A.takeError();
    }
  }
  if (Doc.contains("input")) {
    const json &I = Doc["input"];
    if (Error E = expectObject(I, "/input"))
      return E;
    if (Error E = checkKeys(I, "/input", {"shape"}))
      return E;
    if (!I.contains("shape"))
      return fail("/input", "missing field 'shape'");
    auto Sh = shape(I["shape"], "/input/shape");
    if (!Sh)
      return Sh.takeError();
    S.InputShape = *Sh;
  }
  if (!Doc.contains("layers"))
    return fail("", "missing field 'layers'");
  const json &Ls = Doc["layers"];
  if (!Ls.is_array() || Ls.empty())
    return fail("/layers", "expected a non-empty array of layers, got " +
                               describeValue(Ls));
  std::set<std::string> Names;
  for (size_t I = 0; I < Ls.size(); ++I) {
    std::string P = "/layers/" + std::to_string(I);
    auto L = layer(Ls[I], P, I);
    if (!L)
      return L.takeError();
    if (!Names.insert((*L)->Name).second)
      return fail(P + "/name", "layer name '" + (*L)->Name + "' is used twice");
    if (const std::vector<int64_t> *In = (*L)->declaredInput()) {
      if (I != 0)
        return fail(P, "an input layer must come first");
      if (!S.InputShape.empty())
        return fail(P, "the input shape is given twice (also at /input)");
      S.InputShape = *In;
      S.InputName = (*L)->Name;
      continue;
    }
    S.Layers.push_back(std::move(*L));
  }
  if (Error E = wire(S))
    return E;
  if (S.InputShape.empty())
    return fail("", "missing the input shape: give \"input\": {\"shape\": "
                    "[...]} or an input layer first");
  if (S.Layers.empty())
    return fail("/layers", "the network has no layers after its input");
  if (Doc.contains("loss"))
    if (Error E = loss(Doc["loss"], S.Loss))
      return E;
  if (!Doc.contains("optimizer"))
    for (auto &[N, D] : optimizerDefaults(S.Optimizer.Kind))
      S.Optimizer.Hyper[N] = D;
  else if (Error E = optimizer(Doc["optimizer"], S.Optimizer))
    return E;
  if (Doc.contains("training"))
    if (Error E = training(Doc["training"], S.Training))
      return E;
  if (Doc.contains("metrics")) {
    const json &M = Doc["metrics"];
    if (!M.is_array())
      return fail("/metrics", "expected an array, got " + describeValue(M));
    for (size_t I = 0; I < M.size(); ++I)
      if (M[I] != "accuracy")
        return fail("/metrics/" + std::to_string(I),
                    "unknown metric " + describeValue(M[I]) +
                        " (loss and accuracy are always reported)");
  }
  if (Doc.contains("data")) {
    if (Error E = expectObject(Doc["data"], "/data"))
      return E;
    S.DataJson = Doc["data"].dump();
  }
  return S;
}

} // namespace

Expected<Spec> parseSpec(StringRef Text, StringRef File) {
  auto Parsed = parseJson(Text, ErrorKind::Spec, File);
  if (!Parsed)
    return Parsed.takeError();
  json &Doc = *Parsed;
  if (isKerasModel(Doc)) {
    // Rewritten as a spec; what the reader then refuses is reported at
    // the spec's pointers, marked as such.
    auto Converted = kerasToSpec(Doc, File);
    if (!Converted)
      return Converted.takeError();
    auto S = SpecReader(File).read(*Converted);
    if (!S)
      return handleErrors(S.takeError(), [&](const LocatedError &L) {
        return locatedError(L.kind(), L.file(),
                            "(as a netjit spec) " + L.where(), L.text());
      });
    S->FromKeras = true;
    S->KerasCompiled = Doc.contains("compile_config");
    return S;
  }
  return SpecReader(File).read(Doc);
}

Expected<ActivationSpec> parseActivation(StringRef Json, StringRef DeclaredJson,
                                         StringRef Where) {
  auto Parsed = parseJson(Json, ErrorKind::Usage, Where);
  if (!Parsed)
    return Parsed.takeError();
  json &A = *Parsed;
  // Read as the activation of a one-layer spec: the same checks, messages
  // and declared names as everywhere else.
  json Doc = {{"input", {{"shape", {1}}}},
              {"layers", {{{"type", "dense"}, {"units", 1}, {"activation", A}}}}};
  if (!DeclaredJson.empty()) {
    auto Declared = parseJson(DeclaredJson, ErrorKind::Spec, Where);
    if (!Declared)
      return Declared.takeError();
    Doc["activations"] = std::move(*Declared);
  }
  auto One = parseSpec(Doc.dump(), Where);
  if (!One)
    return One.takeError();
  return *One->Layers.back()->activation();
}

Expected<Spec> loadSpec(StringRef Path) {
  auto Buf = MemoryBuffer::getFile(Path, /*IsText=*/true);
  if (!Buf)
    return locatedError(ErrorKind::IO, Path, "",
                        "cannot read: " + Buf.getError().message());
  return parseSpec((*Buf)->getBuffer(), Path);
}

} // namespace netjit
