// Aot.h - what an ahead-of-time object adds to the training program: the
// initializer as code and a C header describing the object (docs/embedding.md).
#ifndef NETJIT_CODEGEN_AOT_H
#define NETJIT_CODEGEN_AOT_H

#include "netjit/Graph/TrainGraph.h"

#include "llvm/IR/Module.h"

namespace netjit {

/// Adds void PREFIX_init(float *arena, uint64_t seed): what
/// CompiledModel::initialize does (the arena cleared, the header set, every
/// parameter from its initializer's stream of the seed, Adagrad's
/// accumulators), as IR doing the same double arithmetic and calling libm's
/// log and cos, so the object's weights equal the JIT runtime's bit for bit.
void emitInitFunction(llvm::Module &M, const TrainGraph &T,
                      llvm::StringRef Prefix);

/// Adds void PREFIX_init_from_checkpoint(float *arena): the arena's
/// parameters, optimizer state and header as Arena holds them (a loaded
/// checkpoint), stored in the object.
void emitCheckpointFunction(llvm::Module &M, const TrainGraph &T,
                            llvm::StringRef Prefix, llvm::ArrayRef<float> Arena);

/// The C header for an object holding T's program under Prefix.
std::string aotHeader(const TrainGraph &T, llvm::StringRef Prefix,
                      llvm::StringRef Target, bool HasCheckpoint);

} // namespace netjit

#endif
