// ProgramEmitter.h - the lowering of a training program (CodeGen/Program.h)
// shared by its files: the ABI and frame (ProgramFrame.cpp), the kernels
// layers share (ProgramKernels.cpp), row steps (RowSteps.cpp), losses
// (Losses.cpp), optimizers (Optimizers.cpp), steps over images
// (WindowSteps.cpp), batch normalization (NormSteps.cpp) and entry points (Program.cpp).
#ifndef NETJIT_CODEGEN_PROGRAMEMITTER_H
#define NETJIT_CODEGEN_PROGRAMEMITTER_H

#include "netjit/CodeGen/ActivationCode.h"
#include "netjit/CodeGen/Loops.h"
#include "netjit/CodeGen/Program.h"
#include "netjit/CodeGen/VectorMath.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/IR/IRBuilder.h"

namespace netjit {

struct KernelUses;

/// The function being emitted and what its code addresses: the arena, the
/// workspace (gradients, values, scratch: the arena's own or a thread's),
/// the caller's rows (Batch of them, the first being row Row0 of a batch of
/// Total), the stats. Kernels read the same from their caller's copy in
/// memory (Slot); row functions (epilogues) take it as arguments.
struct ProgramFrame {
  llvm::Function *F = nullptr;
  llvm::Value *Arena = nullptr, *Work = nullptr, *X = nullptr, *IO = nullptr,
              *Batch = nullptr, *Stats = nullptr, *Total = nullptr,
              *Row0 = nullptr;
  llvm::Value *Slot = nullptr;
  /// In a kernel: what it was passed for the layer calling it (KernelUses),
  /// by tensor, stats field and dropout layer.
  const KernelUses *Uses = nullptr;
  llvm::DenseMap<int, llvm::Value *> TensorArg, StatArg, StreamArg;
};

/// What a kernel (a GEMM with its epilogue, a loss, a row-wise step) is
/// passed instead of addressing the calling layer's own: its tensors, its
/// diagnostics' stats fields and its dropout streams, in the order its steps
/// first name them. Key spells the steps with these numbered, so layers
/// whose steps differ only in them call one function: compile time grows
/// with the distinct kernels, not with depth.
struct KernelUses {
  llvm::StringRef Kind; // "gemm", "loss", "rows": the start of its name
  std::vector<int> Tensors, Stats, Streams;
  std::string Key;
};

/// Dropout's constant for a layer's stream of masks.
inline uint32_t streamConstant(int Layer) { return Layer * 0x9E3779B9u; }

/// The signatures: an entry point's, a part's (gradients_part; row
/// functions append their row range, then what KernelUses lists), a
/// kernel's, update_part's (an optimizer loop's appends its range and
/// stats field) and advance's.
enum class Sig { Entry, Part, Rows, Kernel, Update, Range, Advance };

class ProgramEmitter {
public:
  ProgramEmitter(llvm::Module &M, const TrainGraph &T, llvm::StringRef Prefix,
                 unsigned Lanes, unsigned Threads);
  llvm::Error emit(EntryPoint E);
  /// Emits the kernels' argument array, after every entry point.
  llvm::Error finish();

private:
  llvm::Module &M;
  const TrainGraph &T;
  const NetworkGraph &G;
  std::string Prefix;
  unsigned Lanes, Threads, L;
  bool Avx512;
  VectorMath VMRow, VMLane;
  llvm::IRBuilder<> B;
  llvm::Type *Fl;
  llvm::FixedVectorType *VT;
  std::vector<std::unique_ptr<ActivationCode>> Codes;
  /// Each activation's first equal one: layers with the same formula and
  /// fixed parameters share kernels.
  std::vector<int> ActClass;
  ProgramFrame Fr;
  unsigned KernelFns = 0;
  /// The kernels emitted so far, by key.
  llvm::StringMap<llvm::Function *> Kernels;
  /// Set where a kernel's code named something it was not passed.
  bool Unbound = false;
  /// Every kernel call's i64s, one array for the module (KernelArgs, a
  /// placeholder until finish() knows them all).
  std::vector<int64_t> ArgWords;
  llvm::GlobalVariable *KernelArgs = nullptr;
  /// x86 keeps denormals in MXCSR, per thread: an entry point flushes
  /// them (FTZ and DAZ) and restores the caller's mode on return. Adam's
  /// first moment shrinks by beta_1 at every step a unit's gradient is 0
  /// (a dead relu unit) and is denormal after about 800 steps, where x86
  /// arithmetic is many times slower: the relu MLP's epoch measured 0.158 s
  /// against 0.131 s flushed. TensorFlow flushes them on CPU too.
  bool FlushDenormals = false;
  llvm::Value *SavedMode = nullptr;

  // Constants and vectors.
  llvm::Value *i64(int64_t V) { return B.getInt64(V); }
  llvm::Value *f32(double V) { return llvm::ConstantFP::get(Fl, V); }
  llvm::Value *splat(unsigned N, llvm::Value *S) {
    return B.CreateVectorSplat(N, S);
  }
  llvm::Value *splatF(unsigned N, double V) { return splat(N, f32(V)); }
  llvm::Value *load(llvm::Value *Base, llvm::Value *Col, llvm::Value *Mask,
                    double Pass = 0);
  void store(llvm::Value *V, llvm::Value *Base, llvm::Value *Col,
             llvm::Value *Mask);
  /// A vector accumulator: an entry-block slot SROA turns into a register.
  llvm::Value *accumulator(llvm::Type *Ty, llvm::Value *Init);
  void accumulate(llvm::Value *Acc, llvm::Value *V,
                  llvm::Intrinsic::ID Op = llvm::Intrinsic::not_intrinsic);
  /// The sum of an accumulator's Width lanes (default: one vector).
  llvm::Value *reduceAdd(llvm::Value *Acc, unsigned Width = 0);
  llvm::Value *reduceMax(llvm::Value *Acc);
  /// Our log of a scalar (lane 0 of a splat).
  llvm::Value *scalarLog(llvm::Value *S);

  // The ABI and the frame (ProgramFrame.cpp).
  void flushDenormals();
  void restoreDenormals();
  llvm::Function *declare(const llvm::Twine &Name, Sig S,
                          const KernelUses *U = nullptr);
  void enter(llvm::Function *F, Sig S, const KernelUses *U = nullptr);
  llvm::Error emitAside(llvm::Function *F, Sig S, const KernelUses *U,
                        llvm::function_ref<llvm::Error(llvm::Function *)> Body);
  llvm::StructType *frameType();
  void storeFrame();
  void enterKernel(const KernelUses &U);
  /// In a kernel, what it was passed for Key (of Args: TensorArg, StatArg
  /// or StreamArg); null outside one, or where nothing was (Unbound is then
  /// set if Required).
  llvm::Value *passed(const llvm::DenseMap<int, llvm::Value *> &Args, int Key,
                      bool Required);
  /// A tensor's first float.
  llvm::Value *ptr(int Tensor);
  /// Where a tensor of role R lives: the caller's x or io, the workspace
  /// (gradients, values, scratch) or the arena; and its offset there.
  llvm::Value *tensorBase(TensorRole R);
  int64_t tensorOffset(const TensorInfo &I);
  llvm::Value *rowPtr(int Tensor, llvm::Value *Row);
  int64_t cols(int Tensor) { return T.tensor(Tensor).Cols; }
  /// The header's fields (HeaderWord).
  llvm::Value *header(unsigned Field);
  /// A stats field: a kernel's argument for a diagnostics field it names.
  llvm::Value *statPtr(unsigned Field);
  void addStat(unsigned Field, llvm::Value *V);
  void addStatAt(llvm::Value *P, llvm::Value *V);
  /// Dropout's layer constant (a kernel's argument).
  llvm::Value *streamKey(int Layer);

  // Kernels that layers share (ProgramKernels.cpp).
  static bool sameActivation(const NetActivation &A, const NetActivation &C);
  KernelUses uses(llvm::ArrayRef<Step> Steps, llvm::StringRef Kind);
  void collectUses(const Step &S, KernelUses &U, llvm::raw_ostream &OS);
  llvm::Expected<llvm::Function *>
  kernel(const KernelUses &U, Sig S,
         llvm::function_ref<llvm::Error(llvm::Function *)> Body);
  /// Calls kernel K with this frame and what U lists, as this frame
  /// addresses them.
  void callKernel(llvm::Function *K, const KernelUses &U);
  void callRows(llvm::Function *RF, llvm::Value *Row0, llvm::Value *Rows);

  // Row steps (RowSteps.cpp).
  /// Parameter lanes for activation A inside a loop of N lanes: fixed values
  /// and shared parameters as splats made here, per-unit ones as column
  /// streams appended to Ins (their index in Streams).
  struct ParamPlan {
    ParamLanes Splats;
    std::vector<std::pair<std::string, unsigned>> Streams;
    ParamLanes bind(LoadFn In) const;
  };
  ParamPlan params(const NetActivation &A, unsigned N,
                   llvm::SmallVectorImpl<InStream> &Ins);
  llvm::Error rowStep(const Step &S, llvm::Value *Row);
  llvm::Error perPixel(int Image, int PerChannel, llvm::Value *Row,
                       llvm::function_ref<llvm::Error(llvm::Value *At,
                                                      llvm::Value *V)>
                           Body);
  llvm::Error channelSums(int Image, int Sums, llvm::Value *Row);
  llvm::Error activationRow(const Step &S, llvm::Value *Row);
  llvm::Error gradientRow(const Step &S, llvm::Value *Row);
  llvm::Error softmaxRow(const Step &S, llvm::Value *Row);
  llvm::Error rowSteps(llvm::ArrayRef<Step> Steps, llvm::Value *Row0,
                       llvm::Value *Rows);
  llvm::Expected<llvm::Function *> rowFunction(llvm::ArrayRef<Step> Steps);
  llvm::Value *dropoutKey(const Step &S, llvm::Value *Row);
  llvm::Value *dropoutScale(const Step &S, llvm::Value *Key,
                            llvm::Value *ColIdx);
  llvm::GlobalVariable *columnIndices(int64_t N);

  // Batch normalization (NormSteps.cpp).
  llvm::Error channelStatsRow(const Step &S, llvm::Value *Row);
  llvm::Error affineRow(const Step &S, llvm::Value *Row);
  void perChannel(const Step &S, llvm::function_ref<void(llvm::Value *)> Body);
  /// norm_coeffs, norm_grad_coeffs, moving_stats: inline, per channel.
  void normStep(const Step &S);

  // Losses (Losses.cpp).
  llvm::Error lossRows(const Step &S);
  /// One row of a loss: its value and correct count into the stats, its
  /// gradient (with respect to the logits, or to the outputs) into Out.
  llvm::Error lossRow(const Step &S, llvm::Value *Row);
  struct LossOperands;
  void softmaxXentRow(llvm::Value *Row, const LossOperands &LR);
  void pointLossRow(const Step &S, const LossOperands &LR);

  // Optimizers (Optimizers.cpp).
  void advance();
  llvm::Error update(llvm::Value *Lo, llvm::Value *Hi, unsigned NExtra,
                     llvm::Value *Extra);
  llvm::Expected<llvm::Function *> updateKernel(double L1, double L2,
                                                bool SumSq, unsigned NExtra);
  llvm::Error updateRange(llvm::Value *Lo, llvm::Value *Hi, llvm::Value *Begin,
                          llvm::Value *Count, double L1, double L2,
                          llvm::Value *SumSqAt, unsigned NExtra,
                          llvm::Value *Extra);

  // Steps over images (WindowSteps.cpp).
  struct WindowPlan;
  WindowPlan windowPlan(const Step &S);
  llvm::Error windowStep(const Step &S);
  llvm::Error windowSample(const Step &S, const WindowPlan &Plan,
                           llvm::Value *Row);
  llvm::Error poolSample(const Step &S, llvm::Value *Row);
  void depthwiseSample(
      const Step &S, llvm::Value *R,
      llvm::function_ref<llvm::Value *(llvm::Value *, llvm::Value *,
                                       llvm::Value *)>
          Finish);
  void forPixels(const Window &W,
                 llvm::function_ref<void(llvm::Value *Oh, llvm::Value *Ow,
                                         llvm::Value *Pix)>
                     Body);
  void forTaps(const Window &W, llvm::Value *Oh, llvm::Value *Ow,
               llvm::function_ref<void(llvm::Value *InPix, llvm::Value *Tap)>
                   Body);
  void placeRows(const Window &W, llvm::Value *Small, llvm::Value *Big,
                 int64_t BigW, bool ToBig);
  llvm::Value *table(llvm::ArrayRef<int64_t> Values, const llvm::Twine &Name);
  void convTables(const Window &W, llvm::Value *&Rows, llvm::Value *&Cols);
  llvm::Value *convSource(const Window &W, llvm::Value *X, llvm::Value *Buf);
  void col2im(const Window &W, llvm::Value *Cols, llvm::Value *DX);

  // Steps and entry points (Program.cpp).
  llvm::Error step(const Step &S);
  llvm::Error matMul(const Step &S);
  /// Tensors a zero step clears with inline memsets at most.
  static constexpr size_t ZeroInline = 8;
  void zero(const Step &S);
};

} // namespace netjit

#endif
