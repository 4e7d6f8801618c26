// Commands.h - the subcommands, their arguments, and the registration
// function of each command group (one per file) that main calls.
#ifndef NETJIT_TOOLS_COMMANDS_H
#define NETJIT_TOOLS_COMMANDS_H

#include "netjit/Activations/Catalog.h"
#include "netjit/JIT/Jit.h"
#include "netjit/Plot/Svg.h"
#include "netjit/Runtime/Checkpoint.h"

#include "llvm/Support/Error.h"
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace netjit {

/// The commands registered, each with what it runs once the command line
/// is parsed.
class CommandTable {
public:
  void add(CLI::App *Sub, std::function<llvm::Error()> Run);
  /// What the parsed command asks for.
  llvm::Error run() const;

private:
  std::vector<std::pair<CLI::App *, std::function<llvm::Error()>>> Runs;
};

// Each adds its commands to App and Commands (main calls them in the order
// --help lists the commands).
void registerExprCommand(CLI::App &App, CommandTable &Commands);     // Expr.cpp
void registerActivationsCommand(CLI::App &App, CommandTable &Commands);
void registerAccuracyCommand(CLI::App &App, CommandTable &Commands); // Expr.cpp
void registerNetworkCommands(CLI::App &App, CommandTable &Commands); // emit, gradcheck
void registerTrainCommands(CLI::App &App, CommandTable &Commands); // train, compare
void registerPredictCommand(CLI::App &App, CommandTable &Commands);
void registerCompileCommand(CLI::App &App, CommandTable &Commands);
void registerPlotCommand(CLI::App &App, CommandTable &Commands);
void registerSchemaCommand(CLI::App &App, CommandTable &Commands); // Network.cpp

/// --mcpu, --mattr and --triple into T; For says when they apply
/// (" for --emit=llvm|opt|asm").
void addTargetOptions(CLI::App *C, TargetOptions &T, const std::string &For);
/// A usage error (exit status 2).
llvm::Error usage(const llvm::Twine &Msg);
/// "NAME=VALUE" pairs (--param) into values, each a finite number.
llvm::Expected<ParamValues> parseParams(const std::vector<std::string> &Args);

/// Prints M (prepared for TM) at Stage: llvm as built, opt after O3, asm.
llvm::Error printCodeStage(llvm::Module &M, llvm::TargetMachine &TM,
                           llvm::StringRef Stage);

struct EmitArgs {
  std::string Spec;
  std::string Stage = "fused";
  int64_t Batch = 0;
  std::string Prefix = "netjit";
  TargetOptions Target;
  bool Diagnostics = false; // the training program with its counters
};
llvm::Error runEmit(const EmitArgs &A);

struct GradcheckArgs {
  std::string Spec;
  int64_t Batch = 0;
  unsigned Samples = 64;
  uint64_t Seed = 1;
  double Tolerance = 1e-3;
};
llvm::Error runGradcheck(const GradcheckArgs &A);

/// The spec `netjit train` uses when none is given.
std::string bundledSpec();

struct TrainArgs {
  std::string Spec; // "" = bundledSpec()
  std::string Data; // --data NAME: {"dataset": NAME}
  int Epochs = 0;   // 0 = the spec's
  int64_t BatchSize = 0;
  std::optional<uint64_t> Seed;
  std::optional<double> LearningRate;
  unsigned Threads = 0; // 0 = all cores
  std::string Metrics;  // FILE.json or FILE.csv
  bool Quiet = false;
  std::string Save;   // checkpoint after the last epoch
  int SaveEvery = 0;  // and after every N epochs
  std::string Resume; // continue from this checkpoint
  std::string Loss, Optimizer; // a loss or optimizer name (Keras 2 files)
  std::string Csv, LabelColumn; // --csv FILE --label-column NAME|INDEX
  std::string PlotBoundary;     // 2-D data: the decision boundary, SVG
  std::string NanPolicy = "stop"; // stop | skip-batch
  bool Diagnostics = false;       // per-layer gradient norms, saturation
  std::string PlotGradients;      // with Diagnostics: SVG of the norms
};
llvm::Error runTrain(const TrainArgs &A);

struct CompareArgs {
  TrainArgs Train;
  std::vector<std::string> Activations;
  std::string Plot = "loss.svg";
};
llvm::Error runCompare(const CompareArgs &A);

/// The spec compiled for Threads (0 = all cores), its weights left for the
/// caller to initialize or read.
llvm::Expected<std::unique_ptr<CompiledModel>>
compileSpec(Spec S, unsigned Threads, bool Diagnostics = false);
/// A checkpoint for this network (Training: and this loss and optimizer,
/// whose state it holds) read into M, else an error saying what differs.
llvm::Expected<CheckpointInfo> readCheckpoint(CompiledModel &M,
                                              llvm::StringRef Path,
                                              bool Training);

struct PredictArgs {
  std::string Spec;
  std::string Weights; // a checkpoint
  std::string Input;   // IDX images, CSV, or "-" for CSV on stdin
  std::string LabelColumn; // CSV: a column to leave out (the labels)
  std::string Output;  // "" = stdout
  bool Json = false;
};
llvm::Error runPredict(const PredictArgs &A);

struct CompileArgs {
  std::string Spec;
  std::string Output;       // the object file
  std::string Header;       // "" = the object's name with .h
  std::string Prefix = "model";
  TargetOptions Target;     // "" = this host
  int64_t Batch = 0;        // rows per call at most (0 = the spec's)
  unsigned Threads = 1;     // workspaces update_part sums
  std::string Weights;      // a checkpoint to build in
};
llvm::Error runCompile(const CompileArgs &A);

struct PlotArgs {
  std::vector<std::string> Activations; // names or formulas, comma-separated
  std::pair<double, double> Range = {-6, 6};
  std::map<std::string, double> Params; // --param NAME=VALUE
  std::string Output = "activations.svg";
};
llvm::Error runPlot(const PlotArgs &A);

/// f (solid) and f' (dashed) of F over [Lo, Hi] in Color, the regions where
/// |f'| < SaturationThreshold shaded: what `netjit plot` draws per item.
llvm::Error addActivationCurves(LineChart &C, const std::string &Label,
                                const ActivationForms &F,
                                const ParamValues &Values, double Lo, double Hi,
                                const std::string &Color, int Points = 601);
extern const char *SaturationLabel;

/// From now on SIGINT and SIGTERM ask a run to stop: interruptSignal()
/// turns non-zero and training stops after its step, saves and reports; a
/// second signal exits at once (status 128 + signal) leaving no temporary
/// file. train and compare catch them; other commands die as usual.
void catchInterrupts();
/// The first signal caught, 0 if none: main exits with 128 + it.
int interruptSignal();
/// Keeps the command line, each word shell-quoted, for the resume hint.
void recordCommandLine(int Argc, char **Argv);
/// It, without its --resume: what resumes a run with --resume FILE.
std::string resumeCommand(llvm::StringRef File);

/// `netjit activations`: the catalogue as text, JSON, or (MarkdownPath)
/// the generated docs/activations.md with a picture per entry.
llvm::Error runActivations(bool Json, const std::string &MarkdownPath);

} // namespace netjit

#endif
