/* aot_main.c - trains test/AOT/Inputs/aot.json for 20 steps and prints every
 * loss and every final parameter as exact hex floats. Built with -DAOT it
 * links model.o (netjit compile) and libc/libm only; without, it runs the
 * same spec through the JIT (the C API). The two outputs must be equal. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef AOT
#include "model.h"
#else
#include "netjit/netjit_c.h"
#endif

enum { Rows = 16, In = 6 };

#ifdef AOT
/* Every parameter, by the header's table. */
static void printParams(const float *Arena) {
  for (int P = 0; P < MODEL_PARAM_COUNT; ++P) {
    const model_param *I = &model_params[P];
    printf("%s [", I->name);
    for (int D = 0; D < I->rank; ++D)
      printf(D ? ", %lld" : "%lld", (long long)I->shape[D]);
    printf("]");
    for (int64_t K = 0; K < I->rows * I->cols; ++K)
      printf(" %a", Arena[I->offset + K]);
    printf("\n");
  }
}
#endif

int main(int argc, char **argv) {
  float X[Rows * In];
  int32_t Y[Rows];
  for (int I = 0; I < Rows; ++I) {
    for (int K = 0; K < In; ++K)
      X[I * In + K] = (float)((I * 31 + K * 17) % 97) / 48.5f - 1;
    Y[I] = (I * 7 + 1) % 3;
  }
#ifdef AOT
  float *Arena = aligned_alloc(64, MODEL_ARENA_BYTES);
  if (!Arena)
    return 1;
#ifdef FROM_CHECKPOINT
  /* The built-in weights, printed as they are. */
  model_init_from_checkpoint(Arena);
  printParams(Arena);
  return 0;
#endif
  model_init(Arena, 7);
#else
  netjit_options O = netjit_default_options();
  O.use_cache = 0;
  netjit_model *M = NULL;
  if (argc < 2 || netjit_compile_file(argv[1], &O, &M) != NETJIT_OK) {
    fprintf(stderr, "%s\n", netjit_last_error());
    return 1;
  }
  netjit_initialize(M, 7);
#endif
  for (int Step = 0; Step < 20; ++Step) {
    int64_t B = Step % 5 == 4 ? 11 : Rows; /* a short batch now and then */
    double Loss;
#ifdef AOT
    double Stats[4] = {0, 0, 0, 0};
    model_train_step(Arena, X, Y, B, Stats);
    Loss = Stats[0] / B + Stats[2];
#else
    if (netjit_train_step(M, X, Y, B, &Loss, NULL) != NETJIT_OK) {
      fprintf(stderr, "%s\n", netjit_last_error());
      return 1;
    }
#endif
    printf("step %d loss %a\n", Step, Loss);
  }
#ifdef AOT
  printParams(Arena);
  free(Arena);
#else
  for (size_t P = 0; P < netjit_parameter_count(M); ++P) {
    const char *Name;
    int64_t R, C;
    netjit_parameter_info(M, P, &Name, &R, &C);
    float *V = malloc(sizeof(float) * R * C);
    netjit_get_parameter(M, Name, V, R * C);
    int64_t Shape[8];
    size_t Rank = 0;
    netjit_parameter_shape(M, P, Shape, 8, &Rank);
    printf("%s [", Name);
    for (size_t D = 0; D < Rank; ++D)
      printf(D ? ", %lld" : "%lld", (long long)Shape[D]);
    printf("]");
    for (int64_t K = 0; K < R * C; ++K)
      printf(" %a", V[K]);
    printf("\n");
    free(V);
  }
  netjit_free(M);
#endif
  return 0;
}
