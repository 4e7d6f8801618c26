// Jit.h - a small ORC LLJIT wrapper: host (or pinned) target, O3 with the new
// pass manager, an on-disk object cache, and a runtime symbol allow-list.
#ifndef NETJIT_JIT_JIT_H
#define NETJIT_JIT_JIT_H

#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Target/TargetMachine.h"
#include <memory>
#include <string>

namespace llvm::orc {
class LLJIT;
}

namespace netjit {

/// What to compile for. Empty fields mean the host's.
struct TargetOptions {
  std::string Triple;
  std::string CPU;
  std::string Features; // "+avx2,-avx512f"
};

/// A TargetMachine for Opts at O3 (every LLVM target is available, so
/// --triple can pin a foreign one for --emit).
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const TargetOptions &Opts);

/// Float lanes per vector on TM: 16 with AVX-512, 8 with AVX, else 4.
unsigned vectorLanes(const llvm::TargetMachine &TM);

/// Prepares M for TM (triple, data layout) and runs the O3 pipeline.
void optimizeModule(llvm::Module &M, llvm::TargetMachine &TM);
/// Assembly text or an object file for M (already optimized).
llvm::Expected<std::string> emitAssembly(llvm::Module &M,
                                         llvm::TargetMachine &TM);
llvm::Expected<std::string> emitObject(llvm::Module &M,
                                       llvm::TargetMachine &TM);

/// The only external symbols JIT code may reference.
llvm::ArrayRef<const char *> runtimeAllowList();

/// Whether this host can run JIT code: compiles, links and calls a function
/// returning 42, without the cache. An error says why not (no target for
/// the host, executable memory refused); tests skip the JIT's on it.
llvm::Error probeJit();

struct JitOptions {
  TargetOptions Target; // Triple must be empty (the host's) to run code
  bool UseCache = true;
  /// "" = $NETJIT_CACHE_DIR, else $XDG_CACHE_HOME/netjit, else ~/.cache/netjit.
  std::string CacheDir;
  /// Threads a module's code generation is split between (its functions
  /// dealt to parts, an object each); 0 = $NETJIT_COMPILE_THREADS, else
  /// the machine's cores, up to 4.
  unsigned CompileThreads = 0;
};

class Jit {
public:
  static llvm::Expected<std::unique_ptr<Jit>>
  create(const JitOptions &Opts = {});
  ~Jit();

  /// Optimizes and compiles M (or loads its objects from the cache, keyed
  /// by the IR, CPU, features and LLVM version) and makes its symbols
  /// callable; code generation runs on CompileThreads threads.
  /// Fails, naming the symbol, if M needs anything outside the allow-list.
  llvm::Error addModule(std::unique_ptr<llvm::Module> M,
                        std::unique_ptr<llvm::LLVMContext> Ctx);
  llvm::Expected<void *> lookup(llvm::StringRef Symbol);

  llvm::TargetMachine &targetMachine() { return *TM; }
  unsigned lanes() const { return Lanes; }
  unsigned cacheHits() const { return Hits; }
  unsigned cacheMisses() const { return Misses; }
  const std::string &cacheDir() const { return CacheDir; }

private:
  Jit() = default;
  std::unique_ptr<llvm::orc::LLJIT> J;
  std::unique_ptr<llvm::TargetMachine> TM;
  unsigned Lanes = 4, Hits = 0, Misses = 0, Parts = 1;
  bool UseCache = true;
  std::string CacheDir;
  TargetOptions Target;
};

} // namespace netjit

#endif
