// Keras.h - Keras model.to_json() files read as specs (docs/training.md, "Keras models").
#ifndef NETJIT_SPEC_KERAS_H
#define NETJIT_SPEC_KERAS_H

#include "llvm/Support/Error.h"
#include <nlohmann/json.hpp>

namespace netjit {

/// Whether a parsed JSON document is a Keras model ({"class_name": ...,
/// "config": ...}) rather than a netjit spec.
bool isKerasModel(const nlohmann::json &Doc);

/// The Keras Sequential model as a netjit spec document (layers, input
/// shape, and the loss and optimizer of a Keras 3 compile_config). Errors
/// name the Keras file, the JSON pointer, and the layer's index, name and
/// class.
llvm::Expected<nlohmann::json> kerasToSpec(const nlohmann::json &Doc,
                                           llvm::StringRef File);

} // namespace netjit

#endif
