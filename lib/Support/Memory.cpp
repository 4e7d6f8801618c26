// Memory.cpp - /proc/meminfo, cgroup v2 and RLIMIT_AS read at the moment
// of asking (other processes come and go).
#include "netjit/Support/Memory.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sys/resource.h>
#include <unistd.h>

namespace netjit {

namespace {

/// The first number in a file, or UINT64_MAX ("max", missing, unreadable).
uint64_t readNumber(const char *Path) {
  std::ifstream F(Path);
  unsigned long long V;
  if (F >> V)
    return V;
  return UINT64_MAX;
}

uint64_t memAvailable() {
  std::ifstream F("/proc/meminfo");
  std::string Key;
  unsigned long long KiB;
  std::string Unit;
  while (F >> Key >> KiB >> Unit)
    if (Key == "MemAvailable:")
      return KiB * 1024;
  return UINT64_MAX;
}

} // namespace

MemoryBudget availableMemory() {
  MemoryBudget B;
  auto Take = [&](uint64_t Bytes, const char *Source) {
    if (Bytes < B.Bytes) {
      B.Bytes = Bytes;
      B.Source = Source;
    }
  };
  Take(memAvailable(), "MemAvailable in /proc/meminfo");
  uint64_t Max = readNumber("/sys/fs/cgroup/memory.max");
  uint64_t Cur = readNumber("/sys/fs/cgroup/memory.current");
  if (Max != UINT64_MAX && Cur != UINT64_MAX)
    Take(Max > Cur ? Max - Cur : 0, "the cgroup's memory.max");
  struct rlimit L;
  if (getrlimit(RLIMIT_AS, &L) == 0 && L.rlim_cur != RLIM_INFINITY) {
    // /proc/self/statm: the address space in use, in pages.
    uint64_t Pages = readNumber("/proc/self/statm");
    uint64_t Used = Pages == UINT64_MAX ? 0 : Pages * sysconf(_SC_PAGESIZE);
    Take(L.rlim_cur > Used ? L.rlim_cur - Used : 0, "ulimit -v (RLIMIT_AS)");
  }
  return B;
}

std::string memoryShortfall(uint64_t Bytes) {
  MemoryBudget B = availableMemory();
  if (Bytes <= B.Bytes)
    return "";
  return "more than the " + bytesText(B.Bytes) + " this machine has available (" +
         B.Source + ")";
}

std::string bytesText(uint64_t Bytes) {
  const uint64_t GiB = uint64_t(1) << 30, MiB = uint64_t(1) << 20;
  char Buf[32];
  if (Bytes >= GiB && Bytes % GiB == 0)
    return std::to_string(Bytes / GiB) + " GiB";
  if (Bytes >= MiB && Bytes % MiB == 0)
    return std::to_string(Bytes / MiB) + " MiB";
  if (Bytes >= GiB)
    std::snprintf(Buf, sizeof Buf, "%.1f GiB", double(Bytes) / GiB);
  else if (Bytes >= MiB)
    std::snprintf(Buf, sizeof Buf, "%.1f MiB", double(Bytes) / MiB);
  else
    return std::to_string(Bytes) + " bytes";
  return Buf;
}

} // namespace netjit
