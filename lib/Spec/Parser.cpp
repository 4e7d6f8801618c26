// Parser.cpp - JSON network specs to Spec, validated field by field; every
// error names the file and the JSON pointer (docs/spec.md).
#include "netjit/Spec/Spec.h"
#include "netjit/Spec/Keras.h"

#include "netjit/Activations/Catalog.h"
#include "netjit/Expr/Expr.h"
#include "netjit/Expr/Parser.h"
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

#include "SpecReader.h"

using namespace llvm;

namespace netjit {
namespace spec_reader {

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
                          {"name", "input", "activations", "layers", "outputs",
                           "loss", "optimizer", "training", "data",
                           "metrics"}))
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
  if (Doc.contains("outputs")) {
    const json &O = Doc["outputs"];
    json List = O.is_string() ? json::array({O}) : O;
    if (!List.is_array() || List.empty() ||
        !all_of(List, [](const json &V) { return V.is_string(); }))
      return fail("/outputs", "expected a layer's name or a non-empty array "
                              "of them, got " + describeValue(O));
    if (List.size() > 1)
      return fail("/outputs", formatv("a network with {0} outputs is not "
                                      "supported yet; name one",
                                      List.size())
                                  .str());
    for (const json &V : List)
      S.OutputNames.push_back(V.get<std::string>());
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

} // namespace spec_reader

using namespace spec_reader;

Expected<Spec> parseSpec(StringRef Text, StringRef File) {
  auto Parsed = parseJson(Text, ErrorKind::Spec, File);
  if (!Parsed)
    return Parsed.takeError();
  json &Doc = *Parsed;
  if (isKerasModel(Doc)) {
    // Rewritten as a spec; what the reader then refuses is reported at
    // the spec's pointers, marked as such.
    std::vector<std::string> Layers;
    auto Converted = kerasToSpec(Doc, File, &Layers);
    if (!Converted)
      return Converted.takeError();
    auto S = SpecReader(File).read(*Converted);
    if (!S)
      return handleErrors(S.takeError(), [&](const LocatedError &L) {
        return locatedError(L.kind(), L.file(), kerasPointer(Layers, L.where()),
                            L.text());
      });
    S->FromKeras = true;
    S->KerasLayers = std::move(Layers);
    S->KerasCompiled = Doc.contains("compile_config");
    return S;
  }
  return SpecReader(File).read(Doc);
}

std::string Spec::locate(StringRef Pointer) const {
  return FromKeras ? kerasPointer(KerasLayers, Pointer) : Pointer.str();
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
