// Schema.cpp - the JSON Schema of a spec's "data" object (what the data
// reader accepts), for the spec's schema (Spec/Spec.h, specSchema).
#include "netjit/Data/Dataset.h"

#include "llvm/ADT/STLExtras.h"
#include <nlohmann/json.hpp>

using json = nlohmann::ordered_json;

namespace netjit {

std::string dataSchema() {
  json Split = {
      {"oneOf",
       {{{"type", "object"},
         {"properties", {{"images", {{"type", "string"}}}, {"labels", {{"type", "string"}}}}},
         {"required", {"images", "labels"}},
         {"additionalProperties", false}},
        {{"type", "object"},
         {"properties",
          {{"csv", {{"type", "string"}}},
           {"label_column", {{"oneOf", {{{"type", "string"}}, {{"type", "integer"}, {"minimum", 0}}}}}}}},
         {"required", {"csv", "label_column"}},
         {"additionalProperties", false}}}}};
  json Forms = json::array();
  Forms.push_back({{"type", "object"},
                   {"properties", {{"dataset", {{"const", "fashion_mnist"}}}}},
                   {"required", {"dataset"}},
                   {"additionalProperties", false}});
  // The synthetic sets, one form per largest sample count (in the order of
  // their first set).
  std::vector<int64_t> Maxima;
  for (const std::string &Name : syntheticSetNames())
    if (!llvm::is_contained(Maxima, syntheticSetInfo(Name).MaxRows))
      Maxima.push_back(syntheticSetInfo(Name).MaxRows);
  for (int64_t Max : Maxima) {
    std::vector<std::string> Names;
    for (const std::string &Name : syntheticSetNames())
      if (syntheticSetInfo(Name).MaxRows == Max)
        Names.push_back(Name);
    Forms.push_back(
        {{"type", "object"},
         {"properties",
          {{"dataset", {{"enum", Names}}},
           {"samples", {{"type", "integer"}, {"minimum", 2}, {"maximum", Max}}},
           {"noise", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
           {"seed", {{"type", "integer"}, {"minimum", 0}}}}},
         {"required", {"dataset"}},
         {"additionalProperties", false}});
  }
  Forms.push_back({{"type", "object"},
                   {"properties", {{"train", Split}, {"test", Split}}},
                   {"required", {"train"}},
                   {"additionalProperties", false}});
  json Data = {
      {"description", "the data set the trainer reads (docs/spec.md)"},
      {"oneOf", Forms}};
  return Data.dump();
}

} // namespace netjit
