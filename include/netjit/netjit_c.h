/* netjit_c.h - the C API for hosts that cannot use C++ (FFI, C programs):
 * opaque handles, every call returns a status, the last error's message
 * per thread. No C++ exception crosses it (docs/embedding.md). */
#ifndef NETJIT_NETJIT_C_H
#define NETJIT_NETJIT_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 0 on success, else the error's class (the CLI's exit status,
 * docs/errors.md). */
typedef enum {
  NETJIT_OK = 0,
  NETJIT_ERROR = 1,
  NETJIT_USAGE = 2,
  NETJIT_FORMULA = 3,
  NETJIT_SPEC = 4,
  NETJIT_DATA = 5,
  NETJIT_CHECKPOINT = 6,
  NETJIT_COMPILE = 7,
  NETJIT_TRAINING = 8,
  NETJIT_IO = 9
} netjit_status;

typedef struct netjit_model netjit_model;

typedef struct {
  const char *cpu;       /* NULL or "" = this host */
  unsigned threads;      /* 0 = all cores */
  const char *cache_dir; /* NULL = the default */
  int use_cache;         /* 0 = compile every time */
  int64_t max_batch;     /* 0 = the spec's batch size */
  /* Limits for untrusted specs (0 = the defaults, 2^28 each): weights and
   * input features, floats of one batch's activations. */
  int64_t max_weights;
  int64_t max_activations;
} netjit_options;

/* The defaults (one thread, the cache on). */
netjit_options netjit_default_options(void);

/* The message of the calling thread's last error ("" if none). */
const char *netjit_last_error(void);

/* Compiles a spec or Keras model file, or its JSON text; *out gets a
 * model to release with netjit_free (NULL on error). opts may be NULL. */
netjit_status netjit_compile_file(const char *path, const netjit_options *opts,
                                  netjit_model **out);
netjit_status netjit_compile_json(const char *json, const netjit_options *opts,
                                  netjit_model **out);
void netjit_free(netjit_model *model);

netjit_status netjit_initialize(netjit_model *model, uint64_t seed);
int64_t netjit_input_size(const netjit_model *model);
int64_t netjit_output_size(const netjit_model *model);
int64_t netjit_max_batch(const netjit_model *model);
/* 1 if labels are int32 classes, 0 if float target rows. */
int netjit_sparse_labels(const netjit_model *model);

/* One optimizer step on batch rows of x; labels are int32 classes or float
 * target rows as netjit_sparse_labels says. loss and accuracy may be NULL. */
netjit_status netjit_train_step(netjit_model *model, const float *x,
                                const void *labels, int64_t batch,
                                double *loss, double *accuracy);
netjit_status netjit_evaluate(netjit_model *model, const float *x,
                              const void *labels, int64_t batch, double *loss,
                              double *accuracy);
netjit_status netjit_predict(netjit_model *model, const float *x,
                             int64_t batch, float *out);

/* Parameters by index (0 .. count - 1): name and shape, and a copy out or
 * in of count floats. netjit_parameter_info gives the shape as a matrix
 * (rows: the product of every extent but the last; a bias is 1 x n);
 * netjit_parameter_shape gives its extents: rank of them, when rank is at
 * most capacity (*rank is set either way). */
size_t netjit_parameter_count(const netjit_model *model);
netjit_status netjit_parameter_info(const netjit_model *model, size_t index,
                                    const char **name, int64_t *rows,
                                    int64_t *cols);
netjit_status netjit_parameter_shape(const netjit_model *model, size_t index,
                                     int64_t *shape, size_t capacity,
                                     size_t *rank);
netjit_status netjit_get_parameter(const netjit_model *model, const char *name,
                                   float *out, size_t count);
netjit_status netjit_set_parameter(netjit_model *model, const char *name,
                                   const float *in, size_t count);

netjit_status netjit_save(netjit_model *model, const char *path, int epoch);
netjit_status netjit_load(netjit_model *model, const char *path);

#ifdef __cplusplus
}
#endif

#endif
