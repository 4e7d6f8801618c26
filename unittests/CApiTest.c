/* CApiTest.c - the C API driven from C: compile, train, predict, errors
 * with messages, parameters, checkpoints. Exits 0 when every check holds. */
#define _POSIX_C_SOURCE 200809L
#include "netjit/netjit_c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int Failures = 0;
#define CHECK(C)                                                               \
  do {                                                                         \
    if (!(C)) {                                                                \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__,  \
              __LINE__, #C, netjit_last_error());                              \
      ++Failures;                                                              \
    }                                                                          \
  } while (0)

static const char *Spec =
    "{\"input\": {\"shape\": [2]},"
    " \"layers\": [{\"type\": \"dense\", \"units\": 8, \"activation\": \"relu\"},"
    "              {\"type\": \"dense\", \"units\": 2, \"activation\": \"softmax\"}],"
    " \"optimizer\": {\"type\": \"adam\", \"learning_rate\": 0.05},"
    " \"training\": {\"batch_size\": 16}}";

int main(int argc, char **argv) {
  netjit_options O = netjit_default_options();
  O.use_cache = 0;
  netjit_model *M = NULL;
  /* Errors: a status, a message, no model. */
  CHECK(netjit_compile_json("{\"layers\": 3}", &O, &M) == NETJIT_SPEC);
  CHECK(M == NULL);
  CHECK(strstr(netjit_last_error(), "/layers") != NULL);
  CHECK(netjit_compile_file("/nonexistent.json", &O, &M) == NETJIT_IO);
  CHECK(netjit_train_step(NULL, NULL, NULL, 1, NULL, NULL) == NETJIT_USAGE);
  /* A host's limit for untrusted specs. */
  netjit_options Small = O;
  Small.max_weights = 10;
  CHECK(netjit_compile_json(Spec, &Small, &M) == NETJIT_SPEC);
  CHECK(strstr(netjit_last_error(), "more than 10 weights") != NULL);
  if (argc > 1 && strcmp(argv[1], "--no-jit") == 0)
    return Failures != 0;

  CHECK(netjit_compile_json(Spec, &O, &M) == NETJIT_OK);
  if (!M)
    return 1;
  CHECK(netjit_input_size(M) == 2 && netjit_output_size(M) == 2);
  CHECK(netjit_max_batch(M) == 16 && netjit_sparse_labels(M) == 1);
  /* Class 1 where x0 > x1. */
  float X[16 * 2];
  int32_t Y[16];
  for (int I = 0; I < 16; ++I) {
    X[2 * I] = (float)((I * 7) % 16) / 8 - 1;
    X[2 * I + 1] = (float)((I * 5 + 3) % 16) / 8 - 1;
    Y[I] = X[2 * I] > X[2 * I + 1];
  }
  double Loss = 0, Acc = 0, First = 0;
  for (int S = 0; S < 300; ++S) {
    CHECK(netjit_train_step(M, X, Y, 16, &Loss, &Acc) == NETJIT_OK);
    if (S == 0)
      First = Loss;
  }
  CHECK(Loss < First / 4);
  CHECK(netjit_evaluate(M, X, Y, 16, &Loss, &Acc) == NETJIT_OK && Acc > 0.9);
  float Out[16 * 2];
  CHECK(netjit_predict(M, X, 16, Out) == NETJIT_OK);
  CHECK(fabsf(Out[0] + Out[1] - 1) < 1e-5f);
  CHECK(netjit_train_step(M, X, Y, 17, NULL, NULL) == NETJIT_USAGE);
  CHECK(strstr(netjit_last_error(), "batch of 17 rows") != NULL);

  CHECK(netjit_parameter_count(M) == 4);
  const char *Name = NULL;
  int64_t Rows = 0, Cols = 0;
  CHECK(netjit_parameter_info(M, 0, &Name, &Rows, &Cols) == NETJIT_OK);
  CHECK(Name && strcmp(Name, "dense_0/kernel") == 0 && Rows == 2 && Cols == 8);
  /* A bias has rank 1; as a matrix it is 1 x n. */
  int64_t Shape[4] = {0};
  size_t Rank = 0;
  CHECK(netjit_parameter_shape(M, 1, Shape, 4, &Rank) == NETJIT_OK);
  CHECK(Rank == 1 && Shape[0] == 8);
  CHECK(netjit_parameter_info(M, 1, &Name, &Rows, &Cols) == NETJIT_OK);
  CHECK(Rows == 1 && Cols == 8);
  CHECK(netjit_parameter_shape(M, 0, Shape, 4, &Rank) == NETJIT_OK);
  CHECK(Rank == 2 && Shape[0] == 2 && Shape[1] == 8);
  CHECK(netjit_parameter_shape(M, 0, Shape, 1, &Rank) == NETJIT_USAGE && Rank == 2);
  float Bias[2] = {0.5f, -0.5f}, Got[2];
  CHECK(netjit_set_parameter(M, "dense_1/bias", Bias, 2) == NETJIT_OK);
  CHECK(netjit_get_parameter(M, "dense_1/bias", Got, 2) == NETJIT_OK);
  CHECK(Got[0] == 0.5f && Got[1] == -0.5f);
  CHECK(netjit_get_parameter(M, "nope", Got, 2) == NETJIT_USAGE);

  /* A checkpoint round trip into a second model. */
  char Path[] = "/tmp/netjit-capi-XXXXXX";
  int Fd = mkstemp(Path);
  CHECK(Fd >= 0);
  close(Fd);
  CHECK(netjit_save(M, Path, 1) == NETJIT_OK);
  netjit_model *N = NULL;
  CHECK(netjit_compile_json(Spec, &O, &N) == NETJIT_OK);
  CHECK(netjit_load(N, Path) == NETJIT_OK);
  float OutN[16 * 2];
  CHECK(netjit_predict(N, X, 16, OutN) == NETJIT_OK);
  CHECK(netjit_predict(M, X, 16, Out) == NETJIT_OK);
  CHECK(memcmp(Out, OutN, sizeof Out) == 0);
  remove(Path);
  netjit_free(N);
  netjit_free(M);
  netjit_free(NULL);
  if (Failures == 0)
    printf("C API: all checks passed\n");
  return Failures != 0;
}
