// Interrupt.cpp - Ctrl-C and SIGTERM during training: the first asks the
// run to stop after its step (it then saves what it has), the second exits
// at once, removing the temporary file a write may have open.
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

} // namespace netjit
