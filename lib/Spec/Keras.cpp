// Keras.cpp - a Keras `model.to_json()` Sequential or functional model
// (Functional, or Model in Keras 2: layers wired by their inbound_nodes,
// Keras 2's nested lists or Keras 3's __keras_tensor__ histories), in the Keras 2
// form (class_name/config, batch_input_shape; in 2.0, config is the list of
// layers), the tf.keras 2.13+ mix (module and registered_name with
// batch_input_shape) or the Keras 3 form (module, registered_name,
// batch_shape, build_config, compile_config), rewritten as a netjit spec
// document; the spec reader validates the result. Errors point into the
// Keras file (docs/training.md, "Keras models").
#include "netjit/Spec/Keras.h"
#include "netjit/Expr/Expr.h"
#include "netjit/Graph/Layer.h"
#include "netjit/Support/Diagnostics.h"

#include "SpecReader.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include <cmath>

using namespace llvm;

namespace netjit {

bool isKerasModel(const nlohmann::json &Doc) {
  return Doc.is_object() && Doc.contains("class_name") && Doc.contains("config");
}

namespace {

using json = nlohmann::json;
using spec_reader::describeValue;

/// Keras' activation names and netjit's (Keras 3 names, and Keras 2's
/// swish).
const std::pair<const char *, const char *> Activations[] = {
    {"linear", "linear"},         {"relu", "relu"},
    {"sigmoid", "sigmoid"},       {"tanh", "tanh"},
    {"softmax", "softmax"},       {"log_softmax", "log_softmax"},
    {"gelu", "gelu"},             {"elu", "elu"},
    {"selu", "selu"},             {"softplus", "softplus"},
    {"softsign", "softsign"},     {"swish", "silu"},
    {"silu", "silu"},             {"mish", "mish"},
    {"hard_sigmoid", "hard_sigmoid"}, {"leaky_relu", "leaky_relu"},
    {"relu6", "relu6"},           {"exponential", "exponential"}};

/// O[K] if O is an object holding a string there, else Def: never throws,
/// whatever the file holds.
std::string str(const json &O, const char *K, const char *Def) {
  if (O.is_object()) {
    auto It = O.find(K);
    if (It != O.end() && It->is_string())
      return It->get<std::string>();
  }
  return Def;
}

class KerasReader {
  friend class Mapper;

public:
  explicit KerasReader(StringRef File) : File(File) {}
  Expected<json> read(const json &Doc);

private:
  std::string File;

  Error fail(const std::string &P, const Twine &Message) {
    return locatedError(ErrorKind::Spec, File, P, Message);
  }
  /// A layer's error: "layer 3 (dense_1, Dense): ..." at its pointer.
  Error layerFail(const std::string &P, size_t Index, const json &Layer,
                  const Twine &Message) {
    std::string Name = str(Layer.value("config", json()), "name", "?");
    return fail(P, formatv("layer {0} ({1}, {2}): ", Index, Name,
                           str(Layer, "class_name", "?"))
                       .str() +
                       Message);
  }
  Expected<json> activation(const json &V, const std::string &P, size_t Index,
                            const json &Layer);
  Expected<json> initializer(const json &V, const std::string &P, size_t Index,
                             const json &Layer);
  Expected<json> regularizer(const json &V, const std::string &P, size_t Index,
                             const json &Layer);
  Expected<json> loss(const json &V, const std::string &P);
  Expected<json> optimizer(const json &V, const std::string &P);
  /// A functional model's layer's inputs, by name (none for an input).
  Expected<std::vector<std::string>> inbound(const json &L,
                                             const std::string &P,
                                             size_t Index);
  Expected<std::vector<std::string>> endpoints(const json &V,
                                               const std::string &P);
  std::string InputName, InputPointer; // a functional model's InputLayer
public:
  std::vector<std::string> Origins; // per spec layer, its Keras pointer
};

/// A number field with a default, from Keras 2's or Keras 3's name.
double numberOr(const json &C, std::initializer_list<const char *> Keys,
                double Default) {
  for (const char *K : Keys)
    if (C.contains(K) && C[K].is_number())
      return C[K].get<double>();
  return Default;
}

/// The shape without the batch axis, from [null, d1, d2, ...]; null if S
/// is not one.
json shapeOf(const json &S) {
  if (!S.is_array() || S.size() < 2)
    return json();
  json Out = json::array();
  for (size_t I = 1; I < S.size(); ++I) {
    if (!S[I].is_number_unsigned())
      return json();
    Out.push_back(S[I]);
  }
  return Out;
}

Expected<json> KerasReader::activation(const json &V, const std::string &P,
                                       size_t Index, const json &Layer) {
  std::string Name;
  if (V.is_null())
    return json("linear");
  if (V.is_string())
    Name = V.get<std::string>();
  else if (V.is_object() && V.contains("class_name") && V["class_name"].is_string())
    Name = V["class_name"].get<std::string>(); // a serialized function
  else
    return layerFail(P, Index, Layer, "expected an activation name");
  std::vector<std::string> Names;
  for (auto &[K, N] : Activations) {
    if (Name == K)
      return json(N);
    Names.push_back(K);
  }
  return layerFail(P, Index, Layer,
                   "activation '" + Name + "' is not supported" +
                       didYouMean(Name, Names) + " (supported: " +
                       join(Names, ", ") + ")");
}

Expected<json> KerasReader::initializer(const json &V, const std::string &P,
                                        size_t Index, const json &Layer) {
  std::string Class = V.is_string() ? V.get<std::string>()
                                    : V.is_object() ? str(V, "class_name", "")
                                                    : "";
  const json C = V.is_object() && V.contains("config") ? V["config"] : json::object();
  // CamelCase class names and Keras' snake_case aliases.
  static const std::pair<const char *, const char *> Plain[] = {
      {"GlorotUniform", "glorot_uniform"}, {"GlorotNormal", "glorot_normal"},
      {"HeUniform", "he_uniform"},         {"HeNormal", "he_normal"},
      {"LecunUniform", "lecun_uniform"},   {"LecunNormal", "lecun_normal"},
      {"Zeros", "zeros"},                  {"Ones", "ones"}};
  for (auto &[K, N] : Plain)
    if (Class == K || Class == N)
      return json(N);
  if (Class == "VarianceScaling") {
    // scale / fan (mode) with a distribution: the named initializers are
    // its special cases, the only ones netjit has.
    double Scale = numberOr(C, {"scale"}, 1.0);
    std::string Mode = str(C, "mode", "fan_in");
    std::string Dist = str(C, "distribution", "truncated_normal");
    bool Uniform = Dist == "uniform";
    bool Normal = Dist == "truncated_normal" || Dist == "normal";
    if (Scale == 1 && Mode == "fan_avg" && (Uniform || Normal))
      return json(Uniform ? "glorot_uniform" : "glorot_normal");
    if (Scale == 2 && Mode == "fan_in" && (Uniform || Normal))
      return json(Uniform ? "he_uniform" : "he_normal");
    if (Scale == 1 && Mode == "fan_in" && (Uniform || Normal))
      return json(Uniform ? "lecun_uniform" : "lecun_normal");
    return layerFail(P + "/config", Index, Layer,
                     formatv("VarianceScaling(scale={0}, mode={1}, "
                             "distribution={2}) is not one of glorot, he or "
                             "lecun, the forms netjit supports",
                             formatNumber(Scale), Mode, Dist)
                         .str());
  }
  return layerFail(P, Index, Layer,
                   "initializer '" + Class + "' is not supported (GlorotUniform, "
                   "GlorotNormal, HeUniform, HeNormal, LecunUniform, "
                   "LecunNormal, Zeros, Ones, VarianceScaling)");
}

Expected<json> KerasReader::regularizer(const json &V, const std::string &P,
                                        size_t Index, const json &Layer) {
  std::string Class = V.is_object() ? str(V, "class_name", "") : "";
  const json C = V.is_object() && V.contains("config") ? V["config"] : json::object();
  if (Class == "L1L2" || Class == "L1" || Class == "L2") {
    json R = json::object();
    if (Class != "L2")
      R["l1"] = numberOr(C, {"l1"}, Class == "L1L2" ? 0.0 : 0.01);
    if (Class != "L1")
      R["l2"] = numberOr(C, {"l2"}, Class == "L1L2" ? 0.0 : 0.01);
    return R;
  }
  return layerFail(P, Index, Layer,
                   "regularizer '" + Class + "' is not supported (L1, L2, L1L2)");
}

Expected<json> KerasReader::loss(const json &V, const std::string &P) {
  static const std::pair<const char *, const char *> Names[] = {
      {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"},
      {"CategoricalCrossentropy", "categorical_crossentropy"},
      {"BinaryCrossentropy", "binary_crossentropy"},
      {"MeanSquaredError", "mse"},
      {"MeanAbsoluteError", "mae"},
      {"Huber", "huber"},
      {"mean_squared_error", "mse"},
      {"mean_absolute_error", "mae"},
      {"huber_loss", "huber"}};
  std::string Class = V.is_string() ? V.get<std::string>()
                                    : V.is_object() ? str(V, "class_name", "")
                                                    : "";
  for (auto &[K, N] : Names)
    if (Class == K)
      Class = N;
  json Out = {{"type", Class}};
  if (V.is_object() && V.contains("config") && V["config"].is_object()) {
    const json &C = V["config"];
    if (C.contains("from_logits") && C["from_logits"].is_boolean() &&
        C["from_logits"].get<bool>())
      Out["from_logits"] = true;
    if (C.contains("delta") && C["delta"].is_number())
      Out["delta"] = C["delta"];
  }
  // Unknown names are left to the spec reader, which suggests the closest.
  return Out;
}

Expected<json> KerasReader::optimizer(const json &V, const std::string &P) {
  std::string Class = V.is_string() ? V.get<std::string>()
                                    : V.is_object() ? str(V, "class_name", "")
                                                    : "";
  std::string Type = StringRef(Class).lower();
  json Out = {{"type", Type}};
  if (!V.is_object() || !V.contains("config") || !V["config"].is_object())
    return Out;
  const json &C = V["config"];
  static const char *Hyper[] = {"learning_rate", "beta_1", "beta_2", "epsilon",
                                "momentum", "nesterov", "rho", "weight_decay",
                                "initial_accumulator_value"};
  for (const char *H : Hyper) {
    if (!C.contains(H) || C[H].is_null())
      continue;
    if (std::string(H) == "learning_rate" && C[H].is_object())
      return fail(P + "/config/learning_rate",
                  "a learning-rate schedule is not supported; give a number");
    if (std::string(H) == "weight_decay" && Type != "adamw")
      return fail(P + "/config/weight_decay",
                  "weight decay is supported with AdamW only");
    Out[H] = C[H];
  }
  // Options netjit does not implement must be off.
  for (const char *Off : {"amsgrad", "centered", "use_ema"})
    if (C.contains(Off) && C[Off].is_boolean() && C[Off].get<bool>())
      return fail(P + "/config/" + Off, "'" + std::string(Off) +
                                            "' is not supported");
  for (const char *Off : {"clipnorm", "clipvalue", "global_clipnorm"})
    if (C.contains(Off) && !C[Off].is_null())
      return fail(P + "/config/" + Off,
                  "gradient clipping ('" + std::string(Off) +
                      "') is not supported");
  return Out;
}

/// A layer as its kind's Keras mapping sees it (Graph/Layers/).
class Mapper final : public KerasLayer {
public:
  Mapper(KerasReader &R, std::string CP, size_t Index, const json &Layer)
      : R(R), CP(std::move(CP)), Index(Index), Layer(Layer) {}
  const json &config() const override { return Layer["config"]; }
  Error fail(const Twine &Message, StringRef Field) const override {
    return R.layerFail(at(Field), Index, Layer, Message);
  }
  Expected<json> activation(StringRef Field) override {
    return R.activation(config().value(Field.str(), json()), at(Field), Index,
                        Layer);
  }
  Expected<json> initializer(StringRef Field) override {
    return R.initializer(config()[Field.str()], at(Field), Index, Layer);
  }
  Expected<json> regularizer(StringRef Field) override {
    return R.regularizer(config()[Field.str()], at(Field), Index, Layer);
  }

private:
  KerasReader &R;
  std::string CP;
  size_t Index;
  const json &Layer;
  std::string at(StringRef Field) const {
    return Field.empty() ? CP : CP + "/" + Field.str();
  }
};

/// Every Keras class a layer kind reads, in Layers.def order.
std::vector<const KerasClass *> kerasClasses() {
  std::vector<const KerasClass *> Out;
#define NETJIT_LAYER(Name, Summary)                                            \
  for (const KerasClass &C : layerKind(LayerKind::Name).Keras)                  \
    Out.push_back(&C);
#include "netjit/Spec/Layers.def"
  return Out;
}

const KerasClass *findClass(StringRef Name) {
  for (const KerasClass *C : kerasClasses())
    if (Name == C->Name)
      return C;
  return nullptr;
}

std::vector<std::string> classNames() {
  std::vector<std::string> Out;
  for (const KerasClass *C : kerasClasses())
    Out.push_back(C->Name);
  return Out;
}

/// The keras_history entries [layer, node, tensor] of a Keras 3 node's
/// arguments, wherever they nest (a merge's list of tensors).
void kerasTensors(const json &V, std::vector<const json *> &Out) {
  if (V.is_array()) {
    for (const json &E : V)
      kerasTensors(E, Out);
  } else if (V.is_object()) {
    if (str(V, "class_name", "") == "__keras_tensor__" &&
        V.contains("config") && V["config"].is_object() &&
        V["config"].contains("keras_history"))
      Out.push_back(&V["config"]["keras_history"]);
  }
}

Expected<std::vector<std::string>>
KerasReader::inbound(const json &L, const std::string &P, size_t Index) {
  std::vector<std::string> Names;
  if (!L.contains("inbound_nodes") || !L["inbound_nodes"].is_array())
    return layerFail(P, Index, L,
                     "missing field 'inbound_nodes' (a functional model's "
                     "layer names its inputs there)");
  const json &Nodes = L["inbound_nodes"];
  if (Nodes.empty())
    return Names;
  if (Nodes.size() > 1)
    return layerFail(P + "/inbound_nodes", Index, L,
                     formatv("the layer is called {0} times; shared layers "
                             "are not supported",
                             Nodes.size())
                         .str());
  const json &Node = Nodes[0];
  std::vector<const json *> History;
  if (Node.is_object()) {
    // Keras 3: {"args": [...], "kwargs": {...}} holding __keras_tensor__s.
    if (Node.contains("args"))
      kerasTensors(Node["args"], History);
  } else if (Node.is_array()) {
    // Keras 2: [[name, node, tensor, kwargs], ...].
    for (const json &E : Node)
      History.push_back(&E);
  }
  std::string NP = P + "/inbound_nodes/0";
  for (const json *H : History) {
    if (!H->is_array() || H->size() < 3 || !(*H)[0].is_string() ||
        !(*H)[1].is_number_integer() || !(*H)[2].is_number_integer())
      return layerFail(NP, Index, L,
                       "expected inputs as [layer, node, tensor], got " +
                           describeValue(*H));
    std::string From = (*H)[0].get<std::string>();
    if ((*H)[1].get<int64_t>() != 0 || (*H)[2].get<int64_t>() != 0)
      return layerFail(NP, Index, L,
                       "it reads '" + From +
                           "' at a later call or a second output; shared "
                           "layers and layers with several outputs are not "
                           "supported");
    Names.push_back(From);
  }
  if (Names.empty())
    return layerFail(NP, Index, L, "the node names no input tensor");
  return Names;
}

/// [layer, node, tensor] or a list of them (input_layers, output_layers):
/// the layers' names.
Expected<std::vector<std::string>> KerasReader::endpoints(const json &V,
                                                          const std::string &P) {
  json List = V.is_array() && !V.empty() && V[0].is_string() ? json::array({V}) : V;
  std::vector<std::string> Names;
  if (!List.is_array() || List.empty())
    return fail(P, "expected [[layer, node, tensor], ...], got " +
                       describeValue(V));
  for (const json &E : List) {
    if (!E.is_array() || E.empty() || !E[0].is_string())
      return fail(P, "expected [layer, node, tensor], got " + describeValue(E));
    Names.push_back(E[0].get<std::string>());
  }
  return Names;
}

Expected<json> KerasReader::read(const json &Doc) {
  std::string Model = str(Doc, "class_name", "");
  bool Functional = Model == "Functional" || Model == "Model";
  if (Model != "Sequential" && !Functional)
    return fail("/class_name",
                "expected a Sequential or functional (Functional, Model) "
                "model, got " +
                    Doc["class_name"].dump());
  const json &Config = Doc["config"];
  // Keras 2 stores the layers under config.layers (or config itself as a
  // list in very old versions).
  const json *Layers = nullptr;
  std::string LP;
  if (Config.is_object() && Config.contains("layers")) {
    Layers = &Config["layers"];
    LP = "/config/layers";
  } else if (Config.is_array() && !Functional) {
    Layers = &Config;
    LP = "/config";
  }
  if (!Layers || !Layers->is_array() || Layers->empty())
    return fail("/config", "missing field 'layers' (the model's list of "
                           "layers)");
  json Spec = json::object();
  if (Config.is_object() && Config.contains("name") && Config["name"].is_string())
    Spec["name"] = Config["name"];
  json Out = json::array();
  json Input;
  // The model's input shape, from the model or its first layer.
  for (const json *S : {&Config, &Doc})
    if (S->is_object()) {
      for (const char *K : {"build_input_shape"})
        if (S->contains(K) && Input.is_null())
          Input = shapeOf((*S)[K]);
      if (S->contains("build_config") && (*S)["build_config"].is_object() &&
          Input.is_null())
        Input = shapeOf((*S)["build_config"].value("input_shape", json()));
    }
  for (size_t I = 0; I < Layers->size(); ++I) {
    const json &L = (*Layers)[I];
    std::string P = LP + "/" + std::to_string(I);
    if (!L.is_object() || !L.contains("class_name") || !L["class_name"].is_string())
      return fail(P, "expected a layer {\"class_name\": ..., \"config\": ...}");
    if (!L.contains("config") || !L["config"].is_object())
      return fail(P, formatv("layer {0} ({1}): missing field 'config'", I,
                             L["class_name"].get<std::string>())
                         .str());
    const json &C = L["config"];
    std::string Class = L["class_name"];
    std::string CP = P + "/config";
    // A first layer may carry the input shape.
    for (const char *K : {"batch_input_shape", "batch_shape"})
      if (C.contains(K) && Input.is_null())
        Input = shapeOf(C[K]);
    const KerasClass *Kind = findClass(Class);
    if (!Kind)
      return layerFail(P + "/class_name", I, L,
                       "layer type " + Class + " is not supported (" +
                           join(classNames(), ", ") + ")");
    std::string Name = str(C, "name", str(L, "name", "").c_str());
    if (!Kind->Map) {
      InputPointer = P;
      // InputLayer: its shape was read above; a functional model's layers
      // name it.
      if (Functional) {
        if (!InputName.empty())
          return layerFail(P, I, L,
                           "a second input ('" + InputName +
                               "' is the first); models with several inputs "
                               "are not supported");
        InputName = Name;
      }
      continue;
    }
    Mapper M(*this, CP, I, L);
    auto Layer = Kind->Map(M);
    if (!Layer)
      return Layer.takeError();
    if (!Name.empty())
      (*Layer)["name"] = Name;
    if (Functional) {
      auto Ins = inbound(L, P, I);
      if (!Ins)
        return Ins.takeError();
      if (Ins->empty())
        return layerFail(P + "/inbound_nodes", I, L,
                         "the layer reads nothing (no inbound node)");
      (*Layer)["inputs"] = *Ins;
    }
    Out.push_back(std::move(*Layer));
    Origins.push_back(P);
  }
  if (Functional) {
    if (InputName.empty())
      return fail(LP, "no InputLayer: a functional model's input is one");
    for (const char *K : {"input_layers", "output_layers"})
      if (!Config.contains(K))
        return fail("/config", std::string("missing field '") + K + "'");
    auto Ins = endpoints(Config["input_layers"], "/config/input_layers");
    if (!Ins)
      return Ins.takeError();
    if (Ins->size() != 1 || Ins->front() != InputName)
      return fail("/config/input_layers",
                  "expected the one input layer '" + InputName + "', got " +
                      Config["input_layers"].dump());
    auto Outs = endpoints(Config["output_layers"], "/config/output_layers");
    if (!Outs)
      return Outs.takeError();
    Spec["outputs"] = *Outs;
  }
  // channels_first models (Theano's order) become channels_last: netjit's
  // images are NHWC, so the input's channel axis moves last. The weights
  // are not in to_json's file, so nothing else needs transposing.
  bool ChannelsFirst = false;
  for (const json &L : *Layers)
    if (L.is_object() &&
        str(L.value("config", json()), "data_format", "") == "channels_first")
      ChannelsFirst = true;
  if (ChannelsFirst && Input.is_array() && Input.size() >= 2) {
    json Moved = json::array();
    for (size_t I = 1; I < Input.size(); ++I)
      Moved.push_back(Input[I]);
    Moved.push_back(Input[0]);
    Input = Moved;
  }
  if (Input.is_null())
    return fail(LP + "/0/config",
                "no input shape: expected batch_input_shape (Keras 2) or "
                "batch_shape (Keras 3) on the first layer, or build_config");
  if (Functional) {
    Out.insert(Out.begin(),
               json{{"type", "input"}, {"shape", Input}, {"name", InputName}});
    Origins.insert(Origins.begin(), InputPointer);
  }
  else
    Spec["input"] = {{"shape", Input}};
  Spec["layers"] = Out;
  // compile_config (Keras 3) gives the loss and the optimizer.
  if (Doc.contains("compile_config") && Doc["compile_config"].is_object()) {
    const json &CC = Doc["compile_config"];
    if (CC.contains("loss") && !CC["loss"].is_null()) {
      auto Lo = loss(CC["loss"], "/compile_config/loss");
      if (!Lo)
        return Lo.takeError();
      Spec["loss"] = *Lo;
    }
    if (CC.contains("optimizer") && !CC["optimizer"].is_null()) {
      auto O = optimizer(CC["optimizer"], "/compile_config/optimizer");
      if (!O)
        return O.takeError();
      Spec["optimizer"] = *O;
    }
  }
  return Spec;
}

} // namespace

Expected<nlohmann::json> kerasToSpec(const nlohmann::json &Doc, StringRef File,
                                     std::vector<std::string> *Layers) {
  KerasReader R(File);
  auto Spec = R.read(Doc);
  if (Spec && Layers)
    *Layers = std::move(R.Origins);
  return Spec;
}

std::string kerasPointer(ArrayRef<std::string> Layers, StringRef P) {
  StringRef Rest = P;
  unsigned N;
  if (Rest.consume_front("/layers/") && !Rest.consumeInteger(10, N) &&
      N < Layers.size() && (Rest.empty() || Rest.starts_with("/"))) {
    if (Rest.starts_with("/inputs"))
      return Layers[N] + "/inbound_nodes";
    return Rest.empty() ? Layers[N] : Layers[N] + "/config" + Rest.str();
  }
  return ("(as a netjit spec) " + P).str();
}

} // namespace netjit
