// Idx.cpp - IDX files (MNIST's format), gzipped or raw: a 4-byte magic
// (0, 0, type, dimensions), the dimensions as big-endian 32-bit counts,
// then the values. netjit reads unsigned bytes (type 0x08), what MNIST and
// Fashion-MNIST use.
#include "netjit/Data/Dataset.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Memory.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include <zlib.h>

using namespace llvm;

namespace netjit {

namespace {

Error dataError(StringRef File, uint64_t Byte, const Twine &Message) {
  return locatedError(ErrorKind::Data, File, ("byte " + Twine(Byte)).str(),
                      Message);
}

/// The whole gzip stream inflated, or the error at the compressed byte
/// where it stopped.
Expected<std::vector<uint8_t>> gunzip(StringRef File, StringRef In) {
  z_stream Z{};
  if (inflateInit2(&Z, 16 + MAX_WBITS) != Z_OK)
    return plainError(ErrorKind::Data, "cannot start zlib");
  std::vector<uint8_t> Out(std::max<size_t>(In.size() * 4, 1 << 16));
  Z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(In.data()));
  Z.avail_in = In.size();
  int R = Z_OK;
  while (R != Z_STREAM_END) {
    if (Z.total_out == Out.size()) {
      // A small file may inflate without end (a gzip bomb): stop at what
      // the machine can hold, with the floats it would become.
      std::string Short = memoryShortfall(Out.size() * 2 * 5);
      if (!Short.empty()) {
        uint64_t At = Z.total_in;
        inflateEnd(&Z);
        return dataError(File, At,
                         "decompresses to more than " + bytesText(Out.size()) +
                             ", which as floats is " + Short);
      }
      Out.resize(Out.size() * 2);
    }
    Z.next_out = Out.data() + Z.total_out;
    Z.avail_out = Out.size() - Z.total_out;
    R = inflate(&Z, Z_NO_FLUSH);
    if (R == Z_STREAM_END)
      break;
    if (R == Z_BUF_ERROR && Z.avail_in == 0) {
      uint64_t At = Z.total_in;
      inflateEnd(&Z);
      return dataError(File, At, "the gzip stream is truncated");
    }
    if (R != Z_OK && R != Z_BUF_ERROR) {
      uint64_t At = Z.total_in;
      std::string Why = Z.msg ? Z.msg : "corrupt data";
      inflateEnd(&Z);
      return dataError(File, At, "invalid gzip data: " + Why);
    }
  }
  Out.resize(Z.total_out);
  inflateEnd(&Z);
  return Out;
}

} // namespace

DataSplit imageRows(const IdxArray &A) {
  DataSplit D;
  D.Rows = A.Dims[0];
  D.Features = A.Data.size() / D.Rows;
  D.X.resize(A.Data.size());
  for (size_t I = 0; I < D.X.size(); ++I)
    D.X[I] = A.Data[I] * (1.0f / 255);
  return D;
}

Expected<IdxArray> readIdx(StringRef Path) {
  auto Buf = MemoryBuffer::getFile(Path, /*IsText=*/false,
                                   /*RequiresNullTerminator=*/false);
  if (!Buf)
    return locatedError(ErrorKind::IO, Path, "",
                        "cannot read: " + Buf.getError().message());
  return parseIdx((*Buf)->getBuffer(), Path);
}

Expected<IdxArray> parseIdx(StringRef Raw, StringRef Path) {
  std::vector<uint8_t> Inflated;
  bool Gz = Raw.size() >= 2 && uint8_t(Raw[0]) == 0x1f && uint8_t(Raw[1]) == 0x8b;
  if (Gz) {
    auto G = gunzip(Path, Raw);
    if (!G)
      return G.takeError();
    Inflated = std::move(*G);
  }
  ArrayRef<uint8_t> D = Gz ? ArrayRef<uint8_t>(Inflated)
                           : ArrayRef<uint8_t>(
                                 reinterpret_cast<const uint8_t *>(Raw.data()),
                                 Raw.size());
  // Offsets below are in the decompressed data of a .gz.
  std::string In = Gz ? " (of the decompressed data)" : "";
  if (D.size() < 4)
    return dataError(Path, D.size(),
                     "the file ends inside the IDX magic number" + In);
  if (D[0] != 0 || D[1] != 0 || D[3] == 0 || D[3] > 4)
    return dataError(Path, 0,
                     formatv("not an IDX file: magic {0:x-2} {1:x-2} {2:x-2} "
                             "{3:x-2}, expected 00 00 08 01..04{4}",
                             unsigned(D[0]), unsigned(D[1]), unsigned(D[2]),
                             unsigned(D[3]), In)
                         .str());
  if (D[2] != 0x08)
    return dataError(Path, 2,
                     formatv("IDX value type {0:x-2}; netjit reads unsigned "
                             "bytes (08){1}",
                             unsigned(D[2]), In)
                         .str());
  unsigned NDims = D[3];
  size_t Header = 4 + 4 * NDims;
  if (D.size() < Header)
    return dataError(Path, D.size(),
                     "the file ends inside the IDX dimensions" + In);
  IdxArray A;
  uint64_t Count = 1;
  for (unsigned I = 0; I < NDims; ++I) {
    const uint8_t *P = &D[4 + 4 * I];
    uint64_t N = uint64_t(P[0]) << 24 | P[1] << 16 | P[2] << 8 | P[3];
    if (N == 0)
      return dataError(Path, 4 + 4 * I, "dimension " + Twine(I) + " is 0" + In);
    Count *= N;
    if (Count > (uint64_t(1) << 34))
      return dataError(Path, 4 + 4 * I,
                       "the dimensions hold more than 2^34 values" + In);
    A.Dims.push_back(N);
  }
  // Each byte becomes a float for training.
  if (std::string Short = memoryShortfall(Count * 4); !Short.empty())
    return dataError(Path, 4,
                     "the dimensions hold " + Twine(Count) + " values, " +
                         bytesText(Count * 4) + " as floats, " + Short + In);
  if (D.size() - Header < Count)
    return dataError(Path, D.size(),
                     formatv("the file is truncated: the dimensions give {0} "
                             "values, it holds {1}{2}",
                             Count, D.size() - Header, In)
                         .str());
  if (D.size() - Header > Count)
    return dataError(Path, Header + Count,
                     formatv("{0} bytes after the last value{1}",
                             D.size() - Header - Count, In)
                         .str());
  A.Data.assign(D.begin() + Header, D.end());
  return A;
}

} // namespace netjit
