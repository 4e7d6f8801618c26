// Commands.h - the subcommands implemented outside netjit.cpp, and their
// arguments.
#ifndef NETJIT_TOOLS_COMMANDS_H
#define NETJIT_TOOLS_COMMANDS_H

#include "netjit/JIT/Jit.h"

#include "llvm/Support/Error.h"
#include <string>

namespace netjit {

/// Prints M (prepared for TM) at Stage: llvm as built, opt after O3, asm.
llvm::Error printCodeStage(llvm::Module &M, llvm::TargetMachine &TM,
                           llvm::StringRef Stage);

struct EmitArgs {
  std::string Spec;
  std::string Stage = "fused";
  int64_t Batch = 0;
  std::string Prefix = "netjit";
  TargetOptions Target;
};
llvm::Error runEmit(const EmitArgs &A);

struct GradcheckArgs {
  std::string Spec;
  int64_t Batch = 0;
  unsigned Samples = 64;
  uint64_t Seed = 1;
  double Tolerance = 1e-3;
};
llvm::Error runGradcheck(const GradcheckArgs &A);

} // namespace netjit

#endif
