// Keras.h - Keras model.to_json() files read as specs (docs/training.md, "Keras models").
#ifndef NETJIT_SPEC_KERAS_H
#define NETJIT_SPEC_KERAS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <nlohmann/json.hpp>

namespace netjit {

/// Whether a parsed JSON document is a Keras model ({"class_name": ...,
/// "config": ...}) rather than a netjit spec.
bool isKerasModel(const nlohmann::json &Doc);

/// The Keras Sequential or functional model as a netjit spec document (layers, input
/// shape, and the loss and optimizer of a Keras 3 compile_config). Errors
/// name the Keras file, the JSON pointer, and the layer's index, name and
/// class.
/// Layers gets, per layer of the spec, the pointer of the Keras layer it
/// came from (kerasPointer maps errors back with them).
llvm::Expected<nlohmann::json>
kerasToSpec(const nlohmann::json &Doc, llvm::StringRef File,
            std::vector<std::string> *Layers = nullptr);

/// A pointer into the spec kerasToSpec wrote, as a pointer into the Keras
/// file: a layer's field in its config, its inputs at its inbound_nodes;
/// anything else marked "(as a netjit spec)".
std::string kerasPointer(llvm::ArrayRef<std::string> Layers,
                         llvm::StringRef SpecPointer);

} // namespace netjit

#endif
