// Memory.h - what the machine can still give this process, checked before
// the large allocations (the training arena, a data set) so that a run too
// big for it is an error naming what is too big, not an OOM kill later.
#ifndef NETJIT_SUPPORT_MEMORY_H
#define NETJIT_SUPPORT_MEMORY_H

#include <cstdint>
#include <string>

namespace netjit {

/// The least of: MemAvailable (/proc/meminfo), the cgroup's memory.max less
/// its memory.current, and RLIMIT_AS less the address space in use; with
/// which one it is. Bytes is UINT64_MAX when none is known.
struct MemoryBudget {
  uint64_t Bytes = UINT64_MAX;
  std::string Source;
};
MemoryBudget availableMemory();

/// "" when Bytes fit in availableMemory(), else the reason, as "more than
/// the 1.5 GiB this machine has available (MemAvailable)".
std::string memoryShortfall(uint64_t Bytes);

/// 1 GiB, 16 MiB, 2.5 GiB, 400 bytes.
std::string bytesText(uint64_t Bytes);

} // namespace netjit

#endif
