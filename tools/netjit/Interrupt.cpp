// Interrupt.cpp - Ctrl-C and SIGTERM during training: the first asks the
// run to stop after its step (it then saves what it has and says how to
// resume), the second exits at once, removing the temporary file a write
// may have open.
#include "Commands.h"

#include "netjit/Support/Files.h"

#include <csignal>
#include <unistd.h>

namespace netjit {

namespace {

volatile std::sig_atomic_t Received = 0;

void onSignal(int Sig) {
  if (Received) {
    removeTemporaryFiles();
    ::_exit(128 + Sig);
  }
  Received = Sig;
  static const char Msg[] = "\nnetjit: stopping after this step "
                            "to save (interrupt again to quit at once)\n";
  ssize_t Ignored = ::write(2, Msg, sizeof Msg - 1);
  (void)Ignored;
}

} // namespace

void catchInterrupts() {
  struct sigaction A = {};
  A.sa_handler = onSignal;
  sigemptyset(&A.sa_mask);
  A.sa_flags = SA_RESTART;
  sigaction(SIGINT, &A, nullptr);
  sigaction(SIGTERM, &A, nullptr);
}

int interruptSignal() { return Received; }

static std::vector<std::string> CommandLine;

void recordCommandLine(int Argc, char **Argv) {
  for (int I = 0; I < Argc; ++I) {
    std::string A = Argv[I];
    bool Plain = !A.empty() && A.find_first_not_of(
                                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                   "OPQRSTUVWXYZ0123456789-_=./:,+@%") ==
                                   std::string::npos;
    if (!Plain) { // single quotes, each ' as '\''
      std::string Q = "'";
      for (char C : A)
        Q += C == '\'' ? std::string("'\\''") : std::string(1, C);
      A = Q + "'";
    }
    CommandLine.push_back(A);
  }
}

std::string resumeCommand(llvm::StringRef File) {
  std::string Out;
  for (size_t I = 0; I < CommandLine.size(); ++I) {
    llvm::StringRef W = CommandLine[I];
    if (W == "--resume") {
      ++I;
      continue;
    }
    if (!W.starts_with("--resume=") && !W.starts_with("'--resume="))
      Out += W.str() + " ";
  }
  return Out + "--resume " + File.str();
}

} // namespace netjit
