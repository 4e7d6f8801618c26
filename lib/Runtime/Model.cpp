// Model.cpp - compiles a network's programs with the JIT and runs them on
// its arena.
#include "netjit/Runtime/Model.h"

#include "netjit/Support/Diagnostics.h"
#include "netjit/Transforms/Passes.h"

#include <cstdlib>
#include <cstring>

using namespace llvm;

namespace netjit {

Expected<ProgramModule> buildProgramModule(const TrainGraph &T,
                                           StringRef Prefix, unsigned Lanes) {
  ProgramModule PM;
  PM.Ctx = std::make_unique<LLVMContext>();
  PM.M = std::make_unique<Module>(T.network().spec().Name, *PM.Ctx);
  if (Error E = emitProgram(*PM.M, T, Prefix, Lanes))
    return E;
  return PM;
}

void Model::Free::operator()(float *P) const { std::free(P); }

Model::~Model() = default;

Expected<std::unique_ptr<Model>> Model::compile(std::unique_ptr<NetworkGraph> G,
                                                const CompileOptions &Opts) {
  std::unique_ptr<Model> M(new Model);
  int64_t Batch = Opts.MaxBatch ? Opts.MaxBatch : G->spec().Training.BatchSize;
  auto T = TrainGraph::build(*G, Batch);
  if (!T)
    return T.takeError();
  if (Opts.Fuse)
    runPasses(**T);
  auto J = Jit::create(Opts.Jit);
  if (!J)
    return J.takeError();
  auto PM = buildProgramModule(**T, Opts.Prefix, (*J)->lanes());
  if (!PM)
    return PM.takeError();
  if (Error E = (*J)->addModule(std::move(PM->M), std::move(PM->Ctx)))
    return E;
  for (EntryPoint EP : {EntryPoint::TrainStep, EntryPoint::Gradients,
                        EntryPoint::Evaluate, EntryPoint::Predict}) {
    auto Sym = (*J)->lookup(Opts.Prefix + "_" + entryPointName(EP).str());
    if (!Sym)
      return Sym.takeError();
    M->Entry[unsigned(EP)] = reinterpret_cast<EntryFn *>(*Sym);
  }
  size_t Bytes = ((*T)->arenaFloats() * sizeof(float) + 63) & ~size_t(63);
  float *A = static_cast<float *>(std::aligned_alloc(64, Bytes));
  if (!A)
    return plainError(ErrorKind::Compile,
                      "cannot allocate the arena (" + Twine(Bytes) + " bytes)");
  std::memset(A, 0, Bytes);
  M->Arena.reset(A);
  M->G = std::move(G);
  M->T = std::move(*T);
  M->J = std::move(*J);
  return M;
}

void Model::initialize(uint64_t Seed) {
  std::memset(Arena.get(), 0, T->arenaFloats() * sizeof(float));
  ArenaHeader &H = header();
  H.Step = 0;
  H.Seed = Seed;
  H.Beta1Power = H.Beta2Power = 1.0;
  for (size_t P = 0; P < G->params().size(); ++P)
    initializeParam(G->params()[P], Seed, P, param(P));
  const OptimizerSpec &O = G->spec().Optimizer;
  if (O.Kind == OptimizerKind::adagrad) {
    // Keras starts the accumulators at initial_accumulator_value.
    float *Acc = Arena.get() + T->slotOffset(0);
    for (int64_t I = 0; I < T->paramsSpan(); ++I)
      Acc[I] = O.get("initial_accumulator_value");
  }
}

float *Model::param(int P) {
  return Arena.get() + T->tensor(T->paramTensor(P)).Offset;
}

float *Model::gradient(int P) {
  return param(P) - T->paramsOffset() + T->gradOffset();
}

Error Model::checkCall(const void *Labels, int64_t Batch) {
  if (Batch < 1 || Batch > T->maxBatch())
    return plainError(ErrorKind::Usage, "batch of " + Twine(Batch) +
                                            " rows; this model takes 1 to " +
                                            Twine(T->maxBatch()));
  if (T->sparseLabels() && Labels) {
    const int32_t *L = static_cast<const int32_t *>(Labels);
    int64_t Classes = G->outputSize();
    for (int64_t I = 0; I < Batch; ++I)
      if (L[I] < 0 || L[I] >= Classes)
        return plainError(ErrorKind::Data,
                          "row " + Twine(I) + ": label " + Twine(L[I]) +
                              " is not a class of 0.." + Twine(Classes - 1));
  }
  return Error::success();
}

Expected<StepStats> Model::run(EntryPoint EP, const float *X,
                               const void *Labels, int64_t Batch) {
  if (Error E = checkCall(Labels, Batch))
    return E;
  StepStats S;
  Entry[unsigned(EP)](Arena.get(), X, const_cast<void *>(Labels), Batch,
                      &S.LossSum);
  return S;
}

Expected<StepStats> Model::trainStep(const float *X, const void *Labels,
                                     int64_t Batch) {
  return run(EntryPoint::TrainStep, X, Labels, Batch);
}

Expected<StepStats> Model::gradients(const float *X, const void *Labels,
                                     int64_t Batch) {
  return run(EntryPoint::Gradients, X, Labels, Batch);
}

Expected<StepStats> Model::evaluate(const float *X, const void *Labels,
                                    int64_t Batch) {
  return run(EntryPoint::Evaluate, X, Labels, Batch);
}

Error Model::predict(const float *X, float *Out, int64_t Batch) {
  if (Error E = checkCall(nullptr, Batch))
    return E;
  StepStats S;
  Entry[unsigned(EntryPoint::Predict)](Arena.get(), X, Out, Batch, &S.LossSum);
  return Error::success();
}

} // namespace netjit
