// SpecReader.h - the spec reader's walk over a document (Parser.cpp: the
// top level, activations, loss, optimizer, training; LayerReader.cpp: the
// layers and their wiring). Private to lib/Spec.
#ifndef NETJIT_LIB_SPEC_SPECREADER_H
#define NETJIT_LIB_SPEC_SPECREADER_H

#include "netjit/Expr/Expr.h"
#include "netjit/Graph/Layer.h"
#include "netjit/Spec/Spec.h"
#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Json.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include <cmath>
#include <nlohmann/json.hpp>

namespace netjit {
namespace spec_reader {

using json = nlohmann::json;
using llvm::ArrayRef;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;
using llvm::formatv;

template <typename Kind, size_t N>
std::vector<std::string> namesOf(const std::pair<const char *, Kind> (&T)[N]) {
  std::vector<std::string> Out;
  for (auto &E : T)
    Out.push_back(E.first);
  return Out;
}

inline const std::pair<const char *, LayerKind> LayerNames[] = {
#define NETJIT_LAYER(Name, Summary) {#Name, LayerKind::Name},
#include "netjit/Spec/Layers.def"
};
inline const std::pair<const char *, LossKind> LossNames[] = {
#define NETJIT_LOSS(Name, Sparse, LogitsOf, Also, Summary) {#Name, LossKind::Name},
#include "netjit/Spec/Losses.def"
};
inline const std::pair<const char *, OptimizerKind> OptimizerNames[] = {
#define NETJIT_OPTIMIZER(Name, BetaPowers, Summary) {#Name, OptimizerKind::Name},
#include "netjit/Spec/Optimizers.def"
};
inline const std::pair<const char *, InitKind> InitNames[] = {
#define NETJIT_INIT(Name, Summary) {#Name, InitKind::Name},
#include "netjit/Spec/Initializers.def"
};

inline std::string escapeToken(StringRef Key) { return escapeJsonToken(Key); }

inline std::string describeValue(const json &V) {
  std::string S = V.dump();
  if (S.size() > 40)
    S = S.substr(0, 37) + "...";
  return S;
}

/// Walks the document, checking each field against what it may be.
class SpecReader {
public:
  SpecReader(StringRef File) : File(File) {}

  Expected<Spec> read(const json &Doc);

private:
  std::string File;
  const json *Declared = nullptr; // the top-level "activations" object
  std::vector<std::string> Resolving; // declared names being resolved

  Error fail(StringRef Pointer, const Twine &Message) {
    return locatedError(ErrorKind::Spec, File, Pointer.empty() ? "/" : Pointer,
                        Message);
  }

  Error expectObject(const json &V, StringRef P) {
    if (!V.is_object())
      return fail(P, "expected an object, got " + describeValue(V));
    return Error::success();
  }

  /// Every key of V must be in Allowed.
  Error checkKeys(const json &V, StringRef P, ArrayRef<std::string> Allowed) {
    return checkJsonKeys(ErrorKind::Spec, File, V, P, Allowed);
  }

  Expected<int64_t> positiveInt(const json &V, StringRef P,
                                int64_t Max = int64_t(1) << 31) {
    if (!V.is_number_integer() || V.get<int64_t>() <= 0)
      return fail(P, "expected a positive integer, got " + describeValue(V));
    if (V.is_number_unsigned() ? V.get<uint64_t>() > uint64_t(Max)
                               : V.get<int64_t>() > Max)
      return fail(P, "expected at most " + Twine(Max) + ", got " +
                         describeValue(V));
    return V.get<int64_t>();
  }

  Expected<double> finiteNumber(const json &V, StringRef P) {
    if (!V.is_number())
      return fail(P, "expected a number, got " + describeValue(V));
    double D = V.get<double>();
    if (!std::isfinite(D))
      return fail(P, "expected a finite number, got " + describeValue(V));
    return D;
  }

  Expected<double> numberIn(const json &V, StringRef P, double Lo, double Hi,
                            bool LoOpen, bool HiOpen) {
    auto D = finiteNumber(V, P);
    if (!D)
      return D.takeError();
    bool Ok = (LoOpen ? *D > Lo : *D >= Lo) && (HiOpen ? *D < Hi : *D <= Hi);
    if (!Ok)
      return fail(P, formatv("expected a number in {0}{1}, {2}{3}, got {4}",
                             LoOpen ? "(" : "[", formatNumber(Lo),
                             formatNumber(Hi), HiOpen ? ")" : "]",
                             describeValue(V)));
    return *D;
  }

  Expected<bool> boolean(const json &V, StringRef P) {
    if (!V.is_boolean())
      return fail(P, "expected true or false, got " + describeValue(V));
    return V.get<bool>();
  }

  template <typename Kind, size_t N>
  Expected<Kind> oneOf(const json &V, StringRef P, StringRef What,
                       const std::pair<const char *, Kind> (&Table)[N]) {
    if (!V.is_string())
      return fail(P, "expected the " + What + " as a string, got " +
                         describeValue(V));
    std::string S = V.get<std::string>();
    for (auto &E : Table)
      if (S == E.first)
        return E.second;
    return fail(P, "unknown " + What + " '" + S + "'" +
                       didYouMean(S, namesOf(Table)));
  }

  Expected<std::vector<int64_t>> shape(const json &V, StringRef P) {
    if (!V.is_array() || V.empty())
      return fail(P, "expected a non-empty array of positive integers, got " +
                         describeValue(V));
    std::vector<int64_t> S;
    for (size_t I = 0; I < V.size(); ++I) {
      auto D = positiveInt(V[I], P.str() + "/" + std::to_string(I));
      if (!D)
        return D.takeError();
      S.push_back(*D);
    }
    return S;
  }

  Expected<ActivationSpec> activation(const json &V, StringRef P);
  Expected<ActivationSpec> named(StringRef Name, StringRef P);
  Error checkFormula(ActivationSpec &A, StringRef P);
  Error paramValue(ActivationSpec &A, StringRef Name, const json &V,
                   StringRef P);
  Error field(const json &V, StringRef P, const LayerField &F, FieldValue &Out);
  Error window(const json &V, StringRef P, int64_t Axes,
               std::vector<int64_t> &Out);
  Error padding(const json &V, StringRef P, int64_t Axes,
                std::vector<int64_t> &Out);
  Expected<LayerPtr> layer(const json &V, StringRef P, size_t Index);
  Error wire(Spec &S);
  Error loss(const json &V, LossSpec &L);
  Error optimizer(const json &V, OptimizerSpec &O);
  Error training(const json &V, TrainingSpec &T);
};

} // namespace spec_reader
} // namespace netjit

#endif
