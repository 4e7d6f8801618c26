// Model.cpp - compiles a network's programs with the JIT and runs them on
// its arena.
#include "netjit/Runtime/Model.h"

#include "netjit/CodeGen/Aot.h"

#include "netjit/Support/Diagnostics.h"
#include "netjit/Support/Memory.h"
#include "netjit/Transforms/Passes.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

using namespace llvm;

namespace netjit {

Expected<ProgramModule> buildProgramModule(const TrainGraph &T,
                                           StringRef Prefix, TargetMachine &TM,
                                           unsigned Threads) {
  ProgramModule PM;
  PM.Ctx = std::make_unique<LLVMContext>();
  PM.M = std::make_unique<Module>(T.network().spec().Name, *PM.Ctx);
  PM.M->setTargetTriple(TM.getTargetTriple().str());
  PM.M->setDataLayout(TM.createDataLayout());
  if (Error E = emitProgram(*PM.M, T, Prefix, vectorLanes(TM), Threads))
    return E;
  // The initializer too: the JIT runs the code an AOT object links.
  emitInitFunction(*PM.M, T, Prefix);
  return PM;
}

Expected<std::unique_ptr<TrainGraph>>
buildTrainingProgram(const NetworkGraph &G, int64_t MaxBatch, bool Diagnostics,
                     bool Fuse) {
  auto T = TrainGraph::build(G, MaxBatch ? MaxBatch : G.spec().Training.BatchSize,
                             Diagnostics);
  if (T && Fuse)
    runPasses(**T);
  return T;
}

/// The block calloc returned is kept just before the aligned floats.
void CompiledModel::Free::operator()(float *P) const {
  if (P)
    std::free(reinterpret_cast<void **>(P)[-1]);
}

/// Floats rounded up to whole cache lines, zeroed, 64-byte aligned. From
/// calloc, which maps large blocks as fresh zero pages instead of clearing
/// them: a CNN's 38 MB arena (and each thread's copy of its workspace)
/// costs no memset at load, and its pages are mapped as the steps first
/// touch them (the cached load of examples/fashion_cnn.json: 35-69 ms
/// before, most of it clearing the arena).
static float *allocateFloats(int64_t N) {
  size_t Bytes = (N * sizeof(float) + 63) & ~size_t(63);
  void *Raw = std::calloc(1, Bytes + 64 + sizeof(void *));
  if (!Raw)
    return nullptr;
  uintptr_t At = (reinterpret_cast<uintptr_t>(Raw) + sizeof(void *) + 63) &
                 ~uintptr_t(63);
  reinterpret_cast<void **>(At)[-1] = Raw;
  return reinterpret_cast<float *>(At);
}

CompiledModel::~CompiledModel() = default;

/// The arena and the threads' workspaces against what the machine has
/// left, before compiling or allocating either: an error names the largest
/// layer (its weights, gradients and optimizer state) or, when a batch's
/// activations are the most, the batch size.
static Error checkMemory(const NetworkGraph &G, const TrainGraph &T,
                         unsigned Threads) {
  uint64_t Total = uint64_t(T.arenaFloats()) * 4 +
                   uint64_t(Threads - 1) * T.workFloats() * 4;
  std::string Short = memoryShortfall(Total);
  if (Short.empty())
    return Error::success();
  // Per float of a parameter: itself, its gradient, the optimizer's slots.
  uint64_t PerFloat = 4 * (2 + T.numSlots());
  std::map<std::string, uint64_t> Layers; // pointer -> bytes
  uint64_t Params = 0;
  for (const ParamInfo &P : G.params()) {
    Layers[P.Pointer] += P.size() * PerFloat;
    Params += P.size() * PerFloat;
  }
  auto Largest = std::max_element(
      Layers.begin(), Layers.end(),
      [](auto &A, auto &B) { return A.second < B.second; });
  uint64_t Activations = Total > Params ? Total - Params : 0;
  std::string Pointer = "/training/batch_size", What;
  if (Largest != Layers.end() && Largest->second >= Activations) {
    Pointer = Largest->first;
    What = "the largest layer's weights, gradients and optimizer state " +
           bytesText(Largest->second) + ", all layers' " + bytesText(Params);
  } else {
    What = "a batch of " + std::to_string(T.maxBatch()) + "'s activations" +
           (Threads > 1 ? " (on " + std::to_string(Threads) + " threads)" : "") +
           " " + bytesText(Activations) + ", the weights' " + bytesText(Params);
  }
  return locatedError(ErrorKind::Spec, G.spec().File, G.spec().locate(Pointer),
                      "training needs " + bytesText(Total) + " (" + What +
                          "), " + Short);
}

Expected<std::unique_ptr<CompiledModel>> CompiledModel::compile(std::unique_ptr<NetworkGraph> G,
                                                const CompileOptions &Opts) {
  std::unique_ptr<CompiledModel> M(new CompiledModel);
  auto T = buildTrainingProgram(*G, Opts.MaxBatch, Opts.Diagnostics, Opts.Fuse);
  if (!T)
    return T.takeError();
  int64_t Batch = (*T)->maxBatch();
  unsigned Threads = Opts.Threads ? Opts.Threads
                                  : std::max(1u, std::thread::hardware_concurrency());
  // A thread needs MinRowsPerThread rows of the largest batch.
  Threads = std::max<int64_t>(
      1, std::min<int64_t>(Threads, Batch / MinRowsPerThread));
  if (Error E = checkMemory(*G, **T, Threads))
    return E;
  auto J = Jit::create(Opts.Jit);
  if (!J)
    return J.takeError();
  auto PM = buildProgramModule(**T, Opts.Prefix, (*J)->targetMachine(), Threads);
  if (!PM)
    return PM.takeError();
  if (Error E = (*J)->addModule(std::move(PM->M), std::move(PM->Ctx)))
    return E;
  for (EntryPoint EP : AllEntryPoints) {
    auto Sym = (*J)->lookup(Opts.Prefix + "_" + entryPointName(EP).str());
    if (!Sym)
      return Sym.takeError();
    M->Entry[unsigned(EP)] = reinterpret_cast<void *>(*Sym);
  }
  auto Init = (*J)->lookup(Opts.Prefix + "_init");
  if (!Init)
    return Init.takeError();
  M->Init = reinterpret_cast<void (*)(float *, uint64_t)>(*Init);
  auto NoMemory = [](const char *What, int64_t Floats) {
    return plainError(ErrorKind::Compile, Twine("cannot allocate ") + What +
                                              " (" + Twine(Floats * 4) +
                                              " bytes)");
  };
  float *A = allocateFloats((*T)->arenaFloats());
  if (!A)
    return NoMemory("the arena", (*T)->arenaFloats());
  M->Arena.reset(A);
  if (Threads > 1) {
    for (unsigned I = 1; I < Threads; ++I) {
      float *W = allocateFloats((*T)->workFloats());
      if (!W)
        return NoMemory("a thread's workspace", (*T)->workFloats());
      M->Work.emplace_back(W);
      M->WorkPtrs.push_back(W);
    }
    M->Pool = std::make_unique<ThreadPool>(Threads);
  }
  M->StatsBuf.assign(Threads, std::vector<double>((*T)->statsDoubles(), 0.0));
  M->G = std::move(G);
  M->T = std::move(*T);
  M->J = std::move(*J);
  return M;
}

void CompiledModel::initialize(uint64_t Seed) { Init(Arena.get(), Seed); }

float *CompiledModel::param(int P) {
  return Arena.get() + T->tensor(T->paramTensor(P)).Offset;
}

float *CompiledModel::gradient(int P) {
  return param(P) - T->paramsOffset() + T->gradOffset();
}

Error CompiledModel::checkCall(const void *Labels, int64_t Batch) {
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

Expected<StepStats> CompiledModel::run(EntryPoint EP, const float *X,
                               const void *Labels, int64_t Batch) {
  if (Error E = checkCall(Labels, Batch))
    return E;
  // The training programs add diagnostics after StepStats' fields.
  double *S = stats(0);
  std::fill(S, S + 4, 0.0);
  entry<EntryFn>(EP)(Arena.get(), X, const_cast<void *>(Labels), Batch, S);
  return stepStats(S);
}

std::vector<double> CompiledModel::diagnosticCounters() const {
  std::vector<double> Sum(StatsBuf[0].begin() + 4, StatsBuf[0].end());
  for (size_t I = 1; I < StatsBuf.size(); ++I)
    for (size_t K = 0; K < Sum.size(); ++K)
      Sum[K] += StatsBuf[I][K + 4];
  return Sum;
}

void CompiledModel::resetDiagnostics() {
  for (std::vector<double> &S : StatsBuf)
    std::fill(S.begin(), S.end(), 0.0);
}

void CompiledModel::setDiagnosticCounters(const std::vector<double> &C) {
  resetDiagnostics();
  if (C.size() + 4 == StatsBuf[0].size())
    std::copy(C.begin(), C.end(), StatsBuf[0].begin() + 4);
}

Expected<StepStats> CompiledModel::trainStep(const float *X, const void *Labels,
                                     int64_t Batch) {
  if (Pool && Batch >= 2 * MinRowsPerThread)
    return trainStepThreaded(X, Labels, Batch);
  return run(EntryPoint::TrainStep, X, Labels, Batch);
}

/// Thread I computes the gradients of its slice of rows into its workspace
/// (thread 0 into the arena's); then, once the header has advanced, thread
/// I sums and applies slice I of the parameters. Slices end on multiples of
/// 16 rows and floats, so GEMM row blocks and vectors stay whole.
/// A slice of [0, Total) for thread I of N, on multiples of 16.
static std::pair<int64_t, int64_t> slice(int64_t Total, unsigned I, unsigned N) {
  auto Edge = [&](unsigned K) {
    return K == N ? Total : std::min(Total, (Total * K / N + 8) & ~int64_t(15));
  };
  return std::pair(Edge(I), Edge(I + 1));
}

Expected<StepStats> CompiledModel::trainStepThreaded(const float *X,
                                             const void *Labels,
                                             int64_t Batch) {
  if (Error E = checkCall(Labels, Batch))
    return E;
  gradientPhase(X, Labels, Batch);
  return updatePhase();
}

void CompiledModel::gradientPhase(const float *X, const void *Labels,
                                  int64_t Batch) {
  unsigned N = threads();
  auto Slice = [N](int64_t Total, unsigned I) { return slice(Total, I, N); };
  int64_t In = G->inputSize();
  int64_t LabelBytes = T->sparseLabels() ? 4 : 4 * G->outputSize();
  for (unsigned I = 0; I < N; ++I)
    std::fill(stats(I), stats(I) + 4, 0.0);
  auto *Part = entry<PartFn>(EntryPoint::GradientsPart);
  // Below 2 x MinRowsPerThread rows one thread takes the whole batch; the
  // other workspaces' gradients, which update_part adds, are then zero.
  // A batch-coupled step (batch statistics) needs every row in one part.
  bool Split = Pool && Batch >= 2 * MinRowsPerThread && !T->batchCoupled();
  if (!Split)
    for (float *W : WorkPtrs)
      std::memset(W + T->gradOffset() - T->workOffset(), 0,
                  T->paramsSpan() * sizeof(float));
  auto Run = [&](unsigned I) {
    auto [R0, R1] = Split ? Slice(Batch, I) : std::pair<int64_t, int64_t>(0, I ? 0 : Batch);
    if (R1 <= R0)
      return;
    float *Work = I ? WorkPtrs[I - 1] : Arena.get() + T->workOffset();
    Part(Arena.get(), Work, X + R0 * In,
         const_cast<char *>(static_cast<const char *>(Labels)) + R0 * LabelBytes,
         R1 - R0, stats(I), Batch, R0);
  };
  if (Split)
    Pool->run(Run);
  else
    Run(0);
}

StepStats CompiledModel::updatePhase() {
  unsigned N = threads();
  entry<AdvanceFn>(EntryPoint::Advance)(Arena.get());
  auto *Update = entry<UpdateFn>(EntryPoint::UpdatePart);
  auto Run = [&](unsigned I) {
    auto [P0, P1] = slice(T->trainedSpan(), I, N);
    Update(Arena.get(), WorkPtrs.data(), P0, P1, stats(I));
  };
  if (Pool && N > 1)
    Pool->run(Run);
  else
    Run(0);
  StepStats S;
  for (unsigned I = 0; I < N; ++I) {
    S.LossSum += stats(I)[0];
    S.Correct += stats(I)[1];
    S.Penalty += stats(I)[2];
  }
  return S;
}

/// The first tensor holding a NaN or an infinity among Floats floats at
/// each parameter's offset in Base (a parameter or gradient layout).
static std::string firstNonFinite(const TrainGraph &T, const float *Base,
                                  llvm::StringRef Suffix) {
  for (size_t P = 0; P < T.network().params().size(); ++P) {
    const ParamInfo &I = T.network().params()[P];
    const float *V = Base + T.tensor(T.paramTensor(P)).Offset - T.paramsOffset();
    for (int64_t K = 0; K < I.size(); ++K)
      if (!std::isfinite(V[K]))
        return I.Name + Suffix.str();
  }
  return "";
}

std::string CompiledModel::firstNonFiniteTensor() {
  // The gradients first: after a step, they are where it went wrong.
  std::string Bad =
      firstNonFinite(*T, Arena.get() + T->gradOffset(), " (its gradient)");
  if (Bad.empty())
    Bad = firstNonFinite(*T, Arena.get() + T->paramsOffset(), "");
  return Bad;
}

Expected<StepStats> CompiledModel::trainStepGuarded(const float *X,
                                                    const void *Labels,
                                                    int64_t Batch,
                                                    std::string &Bad) {
  if (Error E = checkCall(Labels, Batch))
    return E;
  gradientPhase(X, Labels, Batch);
  Bad.clear();
  for (unsigned I = 0; I < threads(); ++I)
    if (!std::isfinite(stats(I)[0]))
      Bad = "the loss";
  for (unsigned W = 0; W < threads() && Bad.empty(); ++W) {
    float *Work = W ? WorkPtrs[W - 1] : Arena.get() + T->workOffset();
    Bad = firstNonFinite(*T, Work + T->gradOffset() - T->workOffset(),
                         " (its gradient)");
  }
  if (!Bad.empty()) {
    StepStats S;
    for (unsigned I = 0; I < threads(); ++I)
      S.LossSum += stats(I)[0];
    return S;
  }
  return updatePhase();
}

Expected<StepStats> CompiledModel::gradients(const float *X, const void *Labels,
                                     int64_t Batch) {
  return run(EntryPoint::Gradients, X, Labels, Batch);
}

Expected<StepStats> CompiledModel::evaluate(const float *X, const void *Labels,
                                    int64_t Batch) {
  return run(EntryPoint::Evaluate, X, Labels, Batch);
}

Error CompiledModel::predict(const float *X, float *Out, int64_t Batch) {
  if (Error E = checkCall(nullptr, Batch))
    return E;
  StepStats S;
  entry<EntryFn>(EntryPoint::Predict)(Arena.get(), X, Out, Batch, &S.LossSum);
  return Error::success();
}

} // namespace netjit
