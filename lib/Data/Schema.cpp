// Schema.cpp - the JSON Schema of a spec's "data" object (what the data
// reader accepts), for the spec's schema (Spec/Spec.h, specSchema).
#include "netjit/Data/Dataset.h"

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
  json Data = {
      {"description", "the data set the trainer reads (docs/spec.md)"},
      {"oneOf",
       {{{"type", "object"},
         {"properties", {{"dataset", {{"const", "fashion_mnist"}}}}},
         {"required", {"dataset"}},
         {"additionalProperties", false}},
        {{"type", "object"},
         {"properties",
          {{"dataset", {{"enum", syntheticSetNames()}}},
           {"samples", {{"type", "integer"}, {"minimum", 2}, {"maximum", 1 << 24}}},
           {"noise", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
           {"seed", {{"type", "integer"}, {"minimum", 0}}}}},
         {"required", {"dataset"}},
         {"additionalProperties", false}},
        {{"type", "object"},
         {"properties", {{"train", Split}, {"test", Split}}},
         {"required", {"train"}},
         {"additionalProperties", false}}}}};
  return Data.dump();
}

} // namespace netjit
