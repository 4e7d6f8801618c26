// Files.cpp - temporary file, fsync, rename.
#include "netjit/Support/Files.h"
#include "netjit/Support/Diagnostics.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"
#include <atomic>
#include <fcntl.h>
#include <unistd.h>

using namespace llvm;

namespace netjit {

namespace {

/// The temporary files being written, for removeTemporaryFiles() to unlink
/// from a signal handler: fixed slots of pointers, set and cleared with
/// atomics (no allocation, no lock), each to a name that outlives its slot.
std::atomic<const char *> InFlight[16];

/// Holds one slot while its file may exist; a write with no free slot
/// still works, it is only not removed on a second interrupt.
class Registered {
public:
  explicit Registered(const char *Name) {
    for (auto &S : InFlight) {
      const char *Empty = nullptr;
      if (S.compare_exchange_strong(Empty, Name)) {
        Slot = &S;
        return;
      }
    }
  }
  ~Registered() {
    if (Slot)
      Slot->store(nullptr);
  }

private:
  std::atomic<const char *> *Slot = nullptr;
};

} // namespace

void removeTemporaryFiles() {
  for (auto &S : InFlight)
    if (const char *Name = S.load())
      ::unlink(Name);
}

Error writeFileAtomically(StringRef Path, StringRef Bytes, bool Sync) {
  auto Fail = [&](const Twine &What, std::error_code EC) {
    return locatedError(ErrorKind::IO, Path, "",
                        What + ": " + EC.message());
  };
  SmallString<256> Tmp(Path);
  Tmp += ".tmp" + std::to_string(sys::Process::getProcessId());
  Registered Held(Tmp.c_str());
  int FD;
  if (std::error_code EC = sys::fs::openFileForWrite(Tmp, FD))
    return Fail("cannot write", EC);
  {
    raw_fd_ostream OS(FD, /*shouldClose=*/false);
    OS << Bytes;
    OS.flush();
    if (OS.has_error()) {
      std::error_code EC = OS.error();
      OS.clear_error();
      ::close(FD);
      sys::fs::remove(Tmp);
      return Fail("cannot write", EC);
    }
  }
  if (Sync && ::fsync(FD) != 0) {
    std::error_code EC(errno, std::generic_category());
    ::close(FD);
    sys::fs::remove(Tmp);
    return Fail("cannot flush to disk", EC);
  }
  ::close(FD);
  if (std::error_code EC = sys::fs::rename(Tmp, Path)) {
    sys::fs::remove(Tmp);
    return Fail("cannot replace", EC);
  }
  if (Sync) {
    // The rename itself is durable once the directory is on disk.
    SmallString<256> Dir(sys::path::parent_path(Path));
    if (Dir.empty())
      Dir = ".";
    int DirFD = ::open(Dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (DirFD >= 0) {
      ::fsync(DirFD);
      ::close(DirFD);
    }
  }
  return Error::success();
}

Error checkOutputPath(StringRef Path, StringRef Option) {
  auto Fail = [&](const Twine &Why) {
    return locatedError(ErrorKind::IO, Path, "", Option + ": " + Why);
  };
  if (Path.empty())
    return plainError(ErrorKind::Usage, Option + ": the file name is empty");
  if (sys::fs::is_directory(Path))
    return Fail("is a directory; give a file name");
  SmallString<256> Dir(sys::path::parent_path(Path));
  if (Dir.empty())
    Dir = ".";
  if (!sys::fs::exists(Dir))
    return Fail("cannot write: the directory " + Dir + " does not exist");
  if (!sys::fs::is_directory(Dir))
    return Fail("cannot write: " + Dir + " is not a directory");
  // The temporary file is created in Dir, then renamed over Path.
  if (::access(Dir.c_str(), W_OK) != 0)
    return Fail("cannot write in " + Dir + ": " +
                std::error_code(errno, std::generic_category()).message());
  return Error::success();
}

} // namespace netjit
