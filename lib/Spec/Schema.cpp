// Schema.cpp - the spec's JSON Schema, generated from the registries (each
// layer kind's field table, Losses/Optimizers/Initializers.def, the
// activation catalogue) so it cannot drift from the reader;
// docs/spec.schema.json is its output.
#include "netjit/Activations/Catalog.h"
#include "netjit/Graph/Layer.h"
#include "netjit/Spec/Spec.h"

#include <nlohmann/json.hpp>

using json = nlohmann::ordered_json;

namespace netjit {

namespace {

json enumOf(std::vector<std::string> Names, const char *Description) {
  return {{"description", Description}, {"enum", std::move(Names)}};
}

json parameterValue() {
  return {{"description", "a fixed value, or an initial value that may be trained"},
          {"oneOf",
           {{{"type", "number"}},
            {{"type", "object"},
             {"properties",
              {{"init", {{"type", "number"}}}, {"trainable", {{"type", "boolean"}}}}},
             {"required", {"init"}},
             {"additionalProperties", false}}}}};
}

json activation() {
  std::vector<std::string> Catalogue;
  for (const ActivationInfo &I : activationCatalog())
    Catalogue.push_back(I.Name);
  return {
      {"description",
       "a catalogue name (netjit activations), a name declared under "
       "\"activations\", a name with parameters, or a formula in x"},
      {"oneOf",
       {{{"type", "string"}, {"examples", Catalogue}},
        {{"type", "object"},
         {"properties",
          {{"name", {{"type", "string"}}}, {"per_unit", {{"type", "boolean"}}}}},
         {"required", {"name"}},
         {"additionalProperties", {{"$ref", "#/$defs/parameter"}}}},
        {{"type", "object"},
         {"properties",
          {{"expr", {{"type", "string"}, {"description", "a formula in x and the params"}}},
           {"params", {{"type", "object"},
                       {"additionalProperties", {{"$ref", "#/$defs/parameter"}}}}},
           {"per_unit", {{"type", "boolean"}}}}},
         {"required", {"expr"}},
         {"additionalProperties", false}}}}};
}

json positiveInt(int64_t Max) {
  return {{"type", "integer"}, {"minimum", 1}, {"maximum", Max}};
}

/// A layer field's schema, by its type (Graph/Layer.h).
json fieldSchema(const LayerField &F) {
  switch (F.Type) {
  case FieldType::Shape:
    return {{"type", "array"}, {"items", positiveInt(1 << 28)}, {"minItems", 1}};
  case FieldType::Count:
    return positiveInt(F.Max);
  case FieldType::Flag:
    return {{"type", "boolean"}};
  case FieldType::Fraction:
    return {{"type", "number"}, {"minimum", 0}, {"exclusiveMaximum", 1}};
  case FieldType::Axis:
    return {{"type", "integer"}, {"minimum", -64}, {"maximum", 64}};
  case FieldType::Positive:
    return {{"type", "number"}, {"exclusiveMinimum", 0}, {"maximum", 1e6}};
  case FieldType::Initializer: {
    std::vector<std::string> Inits;
#define NETJIT_INIT(Name, Summary) Inits.push_back(#Name);
#include "netjit/Spec/Initializers.def"
    return enumOf(Inits, "an initializer");
  }
  case FieldType::Regularizer:
    return {{"type", "object"},
            {"properties",
             {{"l1", {{"type", "number"}, {"minimum", 0}}},
              {"l2", {{"type", "number"}, {"minimum", 0}}}}},
            {"additionalProperties", false}};
  case FieldType::Activation:
    return {{"$ref", "#/$defs/activation"}};
  case FieldType::Window: {
    json One = positiveInt(1 << 20);
    return {{"oneOf", {One, {{"type", "array"}, {"items", One},
                             {"minItems", F.Max}, {"maxItems", F.Max}}}}};
  }
  case FieldType::Choice: {
    return enumOf(choicesOf(F), F.Name);
  }
  case FieldType::Padding: {
    json One = {{"type", "integer"}, {"minimum", 0}, {"maximum", 1 << 20}};
    json Pair = {{"type", "array"}, {"items", One}, {"minItems", 2},
                 {"maxItems", 2}};
    auto PerAxis = [&](const json &E) {
      return json{{"type", "array"}, {"items", E}, {"minItems", F.Max},
                  {"maxItems", F.Max}};
    };
    return {{"oneOf", {One, PerAxis(One), PerAxis(Pair)}}};
  }
  case FieldType::TargetShape:
    return {{"type", "array"},
            {"items", {{"oneOf", {positiveInt(1 << 28), {{"const", -1}}}}}},
            {"minItems", 1}};
  }
  return json();
}

/// Each layer kind's object, from its field table.
json layers() {
  json One = json::array();
  auto Layer = [&](const char *Type, const char *Summary,
                   const LayerKindInfo &Info) {
    json Props = json::object();
    std::vector<std::string> Required = {"type"};
    for (const LayerField &F : Info.Fields) {
      Props[F.Name] = fieldSchema(F);
      if (F.Required)
        Required.push_back(F.Name);
    }
    Props["type"] = {{"const", Type}};
    Props["name"] = {{"type", "string"}};
    Props["inputs"] = {
        {"description", "the layers it reads (their names, anywhere in the "
                        "list, or the input layer's, default \"input\"); "
                        "default: the layer before it"},
        {"oneOf",
         {{{"type", "string"}},
          {{"type", "array"}, {"items", {{"type", "string"}}}, {"minItems", 1}}}}};
    One.push_back({{"description", Summary},
                   {"type", "object"},
                   {"properties", std::move(Props)},
                   {"required", Required},
                   {"additionalProperties", false}});
  };
#define NETJIT_LAYER(Name, Summary)                                            \
  Layer(#Name, Summary, layerKind(LayerKind::Name));
#include "netjit/Spec/Layers.def"
  return {{"type", "array"}, {"minItems", 1}, {"items", {{"oneOf", One}}}};
}

json loss() {
  std::vector<std::string> Names;
#define NETJIT_LOSS(Name, Sparse, LogitsOf, Also, Summary) Names.push_back(#Name);
#include "netjit/Spec/Losses.def"
  json Name = enumOf(Names, "a loss");
  return {{"oneOf",
           {Name,
            {{"type", "object"},
             {"properties",
              {{"type", Name},
               {"from_logits", {{"type", "boolean"}}},
               {"delta", {{"type", "number"}, {"exclusiveMinimum", 0}}}}},
             {"required", {"type"}},
             {"additionalProperties", false}}}}};
}

json optimizer() {
  std::vector<std::string> Names;
  json Forms = json::array();
  auto Add = [&](const char *Name, OptimizerKind K, const char *Summary) {
    Names.push_back(Name);
    json Props = {{"type", {{"const", Name}}}};
    for (auto &[H, Default] : optimizerDefaults(K)) {
      // The reader's ranges (Parser.cpp): rates and epsilons positive,
      // decay factors below 1.
      if (H == "nesterov")
        Props[H] = {{"type", "boolean"}, {"default", false}};
      else if (H == "learning_rate" || H == "epsilon")
        Props[H] = {{"type", "number"}, {"exclusiveMinimum", 0},
                    {"maximum", 1e6}, {"default", Default}};
      else if (H.rfind("beta", 0) == 0 || H == "rho" || H == "momentum")
        Props[H] = {{"type", "number"}, {"minimum", 0},
                    {"exclusiveMaximum", 1}, {"default", Default}};
      else
        Props[H] = {{"type", "number"}, {"minimum", 0}, {"maximum", 1e6},
                    {"default", Default}};
    }
    Forms.push_back({{"description", Summary},
                     {"type", "object"},
                     {"properties", Props},
                     {"required", {"type"}},
                     {"additionalProperties", false}});
  };
#define NETJIT_OPTIMIZER(Name, BetaPowers, Summary) Add(#Name, OptimizerKind::Name, Summary);
#include "netjit/Spec/Optimizers.def"
  Forms.insert(Forms.begin(), enumOf(Names, "an optimizer with Keras' defaults"));
  return {{"oneOf", Forms}};
}

} // namespace

std::string specSchema(llvm::StringRef DataSchema) {
  json S = {
      {"$schema", "https://json-schema.org/draft/2020-12/schema"},
      {"$id", "https://netjit.dev/spec.schema.json"},
      {"title", "netjit network spec"},
      {"description", "generated by `netjit schema` from netjit's registries; "
                      "docs/spec.md explains every field"},
      {"type", "object"},
      {"properties",
       {{"name", {{"type", "string"}}},
        {"input",
         {{"type", "object"},
          {"properties", {{"shape", {{"type", "array"}, {"items", positiveInt(1 << 28)}, {"minItems", 1}}}}},
          {"required", {"shape"}},
          {"additionalProperties", false}}},
        {"activations",
         {{"type", "object"}, {"additionalProperties", {{"$ref", "#/$defs/activation"}}}}},
        {"layers", layers()},
        {"outputs",
         {{"description", "the output layer's name; default: the last layer"},
          {"oneOf",
           {{{"type", "string"}},
            {{"type", "array"}, {"items", {{"type", "string"}}}, {"minItems", 1},
             {"maxItems", 1}}}}}},
        {"loss", loss()},
        {"optimizer", optimizer()},
        {"training",
         {{"type", "object"},
          {"properties",
           {{"batch_size", positiveInt(1 << 20)},
            {"epochs", positiveInt(1 << 20)},
            {"seed", {{"type", "integer"}, {"minimum", 0}}},
            {"validation_split", {{"type", "number"}, {"minimum", 0}, {"exclusiveMaximum", 1}}}}},
          {"additionalProperties", false}}},
        {"metrics", {{"type", "array"}, {"items", {{"const", "accuracy"}}}}},
        {"data", json::parse(DataSchema.str())}}},
      {"required", {"layers"}},
      {"additionalProperties", false},
      {"$defs", {{"activation", activation()}, {"parameter", parameterValue()}}}};
  return S.dump(2) + "\n";
}

} // namespace netjit
