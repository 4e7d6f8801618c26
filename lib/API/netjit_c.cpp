// netjit_c.cpp - the C API over the C++ one: every entry catches what it
// could throw (allocation failures) and records the message per thread.
#include "netjit/netjit_c.h"
#include "netjit/netjit.h"

#include <new>

using namespace netjit;

struct netjit_model {
  Model M;
  std::vector<ParameterInfo> Params; // for netjit_parameter_info's names
};

namespace {

thread_local std::string LastError;

netjit_status fail(int Code, std::string Message) {
  LastError = std::move(Message);
  return netjit_status(Code);
}

netjit_status record(const Status &S) {
  if (S.ok())
    return NETJIT_OK;
  return fail(S.code(), S.message());
}

/// Runs F, turning a thrown exception (out of memory) into an error.
template <typename F> netjit_status guard(F &&Fn) {
  try {
    return Fn();
  } catch (const std::bad_alloc &) {
    return fail(NETJIT_ERROR, "out of memory");
  } catch (const std::exception &E) {
    return fail(NETJIT_ERROR, E.what());
  } catch (...) {
    return fail(NETJIT_ERROR, "unknown error");
  }
}

netjit_status noModel() { return fail(NETJIT_USAGE, "model is NULL"); }

/// NETJIT_OK where M holds parameter I, else the error.
netjit_status checkParam(const netjit_model *M, size_t I) {
  if (!M)
    return noModel();
  if (I >= M->Params.size())
    return fail(NETJIT_USAGE, "parameter index " + std::to_string(I) +
                                  " of " + std::to_string(M->Params.size()));
  return NETJIT_OK;
}

CompilerOptions options(const netjit_options *O) {
  CompilerOptions C;
  if (!O)
    return C;
  C.CPU = O->cpu ? O->cpu : "";
  C.Threads = O->threads;
  C.CacheDir = O->cache_dir ? O->cache_dir : "";
  C.UseCache = O->use_cache != 0;
  C.MaxBatch = O->max_batch;
  if (O->max_weights > 0)
    C.MaxWeights = O->max_weights;
  if (O->max_activations > 0)
    C.MaxActivations = O->max_activations;
  return C;
}

template <typename Make>
netjit_status compile(Make &&MakeModel, netjit_model **Out) {
  if (!Out)
    return fail(NETJIT_USAGE, "out is NULL");
  *Out = nullptr;
  return guard([&] {
    Result<Model> R = MakeModel();
    if (!R)
      return record(R.status());
    auto *H = new netjit_model{std::move(*R), {}};
    H->Params = H->M.parameters();
    *Out = H;
    return NETJIT_OK;
  });
}

netjit_status metrics(const Result<Metrics> &R, double *Loss, double *Acc) {
  if (!R.ok())
    return record(R.status());
  if (Loss)
    *Loss = R.value().Loss;
  if (Acc)
    *Acc = R.value().Accuracy;
  return NETJIT_OK;
}

} // namespace

extern "C" {

netjit_options netjit_default_options(void) {
  return netjit_options{nullptr, 1, nullptr, 1, 0, 0, 0};
}

const char *netjit_last_error(void) { return LastError.c_str(); }

netjit_status netjit_compile_file(const char *Path, const netjit_options *O,
                                  netjit_model **Out) {
  if (!Path)
    return fail(NETJIT_USAGE, "path is NULL");
  return compile([&] { return Compiler(options(O)).compileFile(Path); }, Out);
}

netjit_status netjit_compile_json(const char *Json, const netjit_options *O,
                                  netjit_model **Out) {
  if (!Json)
    return fail(NETJIT_USAGE, "json is NULL");
  return compile([&] { return Compiler(options(O)).compileJson(Json); }, Out);
}

void netjit_free(netjit_model *M) { delete M; }

netjit_status netjit_initialize(netjit_model *M, uint64_t Seed) {
  if (!M)
    return noModel();
  M->M.initialize(Seed);
  return NETJIT_OK;
}

int64_t netjit_input_size(const netjit_model *M) {
  return M ? M->M.inputSize() : 0;
}
int64_t netjit_output_size(const netjit_model *M) {
  return M ? M->M.outputSize() : 0;
}
int64_t netjit_max_batch(const netjit_model *M) {
  return M ? M->M.maxBatch() : 0;
}
int netjit_sparse_labels(const netjit_model *M) {
  return M && M->M.sparseLabels();
}

netjit_status netjit_train_step(netjit_model *M, const float *X,
                                const void *Labels, int64_t Batch,
                                double *Loss, double *Acc) {
  if (!M)
    return noModel();
  return guard([&] {
    return metrics(M->M.sparseLabels()
                       ? M->M.trainStep(X, static_cast<const int32_t *>(Labels), Batch)
                       : M->M.trainStep(X, static_cast<const float *>(Labels), Batch),
                   Loss, Acc);
  });
}

netjit_status netjit_evaluate(netjit_model *M, const float *X,
                              const void *Labels, int64_t Batch, double *Loss,
                              double *Acc) {
  if (!M)
    return noModel();
  return guard([&] {
    return metrics(M->M.sparseLabels()
                       ? M->M.evaluate(X, static_cast<const int32_t *>(Labels), Batch)
                       : M->M.evaluate(X, static_cast<const float *>(Labels), Batch),
                   Loss, Acc);
  });
}

netjit_status netjit_predict(netjit_model *M, const float *X, int64_t Batch,
                             float *Out) {
  if (!M)
    return noModel();
  if (!X || !Out)
    return fail(NETJIT_USAGE, "x or out is NULL");
  return guard([&] { return record(M->M.predict(X, Batch, Out)); });
}

size_t netjit_parameter_count(const netjit_model *M) {
  return M ? M->Params.size() : 0;
}

netjit_status netjit_parameter_info(const netjit_model *M, size_t I,
                                    const char **Name, int64_t *Rows,
                                    int64_t *Cols) {
  if (netjit_status St = checkParam(M, I))
    return St;
  if (Name)
    *Name = M->Params[I].Name.c_str();
  const std::vector<int64_t> &S = M->Params[I].Shape;
  if (Rows)
    *Rows = M->Params[I].size() / S.back();
  if (Cols)
    *Cols = S.back();
  return NETJIT_OK;
}

netjit_status netjit_parameter_shape(const netjit_model *M, size_t I,
                                     int64_t *Shape, size_t Capacity,
                                     size_t *Rank) {
  if (netjit_status St = checkParam(M, I))
    return St;
  const std::vector<int64_t> &S = M->Params[I].Shape;
  if (Rank)
    *Rank = S.size();
  if (S.size() > Capacity || (!Shape && !S.empty()))
    return fail(NETJIT_USAGE, "parameter " + M->Params[I].Name + " has rank " +
                                  std::to_string(S.size()) + ", more than the " +
                                  std::to_string(Capacity) + " extents given");
  std::copy(S.begin(), S.end(), Shape);
  return NETJIT_OK;
}

netjit_status netjit_get_parameter(const netjit_model *M, const char *Name,
                                   float *Out, size_t Count) {
  if (!M)
    return noModel();
  if (!Name || !Out)
    return fail(NETJIT_USAGE, "name or out is NULL");
  return guard([&] { return record(M->M.getParameter(Name, Out, Count)); });
}

netjit_status netjit_set_parameter(netjit_model *M, const char *Name,
                                   const float *In, size_t Count) {
  if (!M)
    return noModel();
  if (!Name || !In)
    return fail(NETJIT_USAGE, "name or in is NULL");
  return guard([&] { return record(M->M.setParameter(Name, In, Count)); });
}

netjit_status netjit_save(netjit_model *M, const char *Path, int Epoch) {
  if (!M)
    return noModel();
  if (!Path)
    return fail(NETJIT_USAGE, "path is NULL");
  return guard([&] { return record(M->M.save(Path, Epoch)); });
}

netjit_status netjit_load(netjit_model *M, const char *Path) {
  if (!M)
    return noModel();
  if (!Path)
    return fail(NETJIT_USAGE, "path is NULL");
  return guard([&] { return record(M->M.load(Path)); });
}

} // extern "C"
