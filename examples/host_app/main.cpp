// main.cpp - a host program that trains a spec through netjit's C++ API
// (the installed package: netjit/netjit.h and libnetjit), reports progress,
// predicts one sample and saves a checkpoint. With no arguments it trains
// the Fashion-MNIST MLP installed with netjit for one epoch.
//   host_app [SPEC] [EPOCHS]
#include <netjit/netjit.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  std::string Spec = argc > 1 ? argv[1] : NETJIT_EXAMPLES "/fashion_mlp.json";
  int Epochs = argc > 2 ? std::stoi(argv[2]) : 1;

  netjit::CompilerOptions Options;
  Options.Threads = 0; // all cores for batches of 64 and more
  netjit::Result<netjit::Model> Model =
      netjit::Compiler(Options).compileFile(Spec);
  if (!Model) {
    std::fprintf(stderr, "host_app: %s\n", Model.status().message().c_str());
    return Model.status().code();
  }
  std::printf("compiled %s: %lld inputs, %lld outputs, %zu parameter tensors\n",
              Spec.c_str(), (long long)Model->inputSize(),
              (long long)Model->outputSize(), Model->parameters().size());

  auto History = Model->fit(Epochs, [](const netjit::EpochReport &E) {
    std::printf("epoch %d/%d: loss %.4f accuracy %.4f (%.2f s)\n", E.Epoch,
                E.Epochs, E.Loss, E.Accuracy, E.Seconds);
  });
  if (!History) {
    std::fprintf(stderr, "host_app: %s\n", History.status().message().c_str());
    return History.status().code();
  }
  const netjit::EpochReport &Last = History->back();
  std::printf("test: loss %.4f accuracy %.4f\n", Last.TestLoss,
              Last.TestAccuracy);

  // One prediction: an all-zero sample.
  std::vector<float> X(Model->inputSize()), Y(Model->outputSize());
  if (netjit::Status S = Model->predict(X.data(), 1, Y.data()); !S) {
    std::fprintf(stderr, "host_app: %s\n", S.message().c_str());
    return S.code();
  }
  std::printf("outputs for a zero sample:");
  for (float V : Y)
    std::printf(" %.3f", V);
  std::printf("\n");
  if (netjit::Status S = Model->save("host_app.st", Epochs); !S) {
    std::fprintf(stderr, "host_app: %s\n", S.message().c_str());
    return S.code();
  }
  std::printf("checkpoint: host_app.st\n");
  return 0;
}
