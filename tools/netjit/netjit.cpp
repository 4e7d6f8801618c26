// netjit.cpp - the command line: main registers each command group's
// commands and runs the one given; the only place that prints errors and
// picks exit statuses (docs/errors.md).
#include "Commands.h"

#include "netjit/Support/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"
#include <CLI/CLI.hpp>
#include <csignal>

using namespace netjit;

#ifndef NETJIT_VERSION
#define NETJIT_VERSION "0.1.0"
#endif

namespace {

/// Prints E and returns its exit status: located errors as they log (with the
/// source line and caret for formulas), others as "netjit: error: ...".
int report(llvm::Error E) {
  int Status = 1;
  llvm::handleAllErrors(
      std::move(E),
      [&](const LocatedError &L) {
        Status = static_cast<int>(L.kind());
        if (L.file().empty() && L.where().empty())
          llvm::errs() << "netjit: error: " << L.text() << "\n";
        else {
          L.log(llvm::errs());
          llvm::errs() << "\n";
        }
        if (!L.snippet().empty())
          llvm::errs() << L.snippet() << "\n";
      },
      [&](const llvm::ErrorInfoBase &B) {
        llvm::errs() << "netjit: error: " << B.message() << "\n";
      });
  return Status;
}

} // namespace

namespace netjit {

llvm::Error usage(const llvm::Twine &Msg) {
  return plainError(ErrorKind::Usage, Msg);
}

void addTargetOptions(CLI::App *C, TargetOptions &T, const std::string &For) {
  C->add_option("--mcpu", T.CPU, "target CPU" + For + " (default: this host)");
  C->add_option("--mattr", T.Features, "target features, e.g. +avx2,-avx512f");
  C->add_option("--triple", T.Triple,
                "target triple, e.g. aarch64-linux-gnu (default: this host's)");
}

void CommandTable::add(CLI::App *Sub, std::function<llvm::Error()> Run) {
  Runs.push_back({Sub, std::move(Run)});
}

llvm::Error CommandTable::run() const {
  for (const auto &[Sub, Run] : Runs)
    if (Sub->parsed())
      return Run();
  return llvm::Error::success();
}

} // namespace netjit

int main(int argc, char **argv) {
  recordCommandLine(argc, argv);
  // Past `ulimit -f` a write fails with EFBIG, reported and cleaned up like
  // a full disk, instead of the signal killing netjit halfway.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App App{"netjit: compiles neural-network training from a JSON spec.\n"
               "Activations are formulas: differentiated exactly, simplified,\n"
               "fused and JIT-compiled with LLVM.",
               "netjit"};
  App.set_version_flag("--version", "netjit " NETJIT_VERSION);
  App.require_subcommand(1);
  App.fallthrough(false);

  CommandTable Commands;
  registerExprCommand(App, Commands);
  registerActivationsCommand(App, Commands);
  registerAccuracyCommand(App, Commands);
  registerNetworkCommands(App, Commands);
  registerTrainCommands(App, Commands);
  registerPredictCommand(App, Commands);
  registerCompileCommand(App, Commands);
  registerPlotCommand(App, Commands);
  registerSchemaCommand(App, Commands);

  // An unknown command gets a suggestion, not "a subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> Names;
    for (const CLI::App *Sub : App.get_subcommands({}))
      Names.push_back(Sub->get_name());
    if (!llvm::is_contained(Names, std::string(argv[1]))) {
      llvm::errs() << "netjit: error: unknown command '" << argv[1] << "'"
                   << didYouMean(argv[1], Names)
                   << " (commands: " << llvm::join(Names, ", ") << ")\n";
      return static_cast<int>(ErrorKind::Usage);
    }
  }

  try {
    App.parse(argc, argv);
  } catch (const CLI::CallForHelp &E) {
    return App.exit(E);
  } catch (const CLI::CallForAllHelp &E) {
    return App.exit(E);
  } catch (const CLI::CallForVersion &E) {
    return App.exit(E);
  } catch (const CLI::ParseError &E) {
    llvm::errs() << "netjit: error: " << E.what() << " (see netjit --help)\n";
    return static_cast<int>(ErrorKind::Usage);
  }

  llvm::Error Err = Commands.run();
  if (Err)
    return report(std::move(Err));
  // Stopped by a signal after saving: the status a shell expects of one.
  if (int Sig = interruptSignal())
    return 128 + Sig;
  return 0;
}
