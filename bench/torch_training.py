#!/usr/bin/env python3
"""torch_training.py - seconds per epoch of the Fashion-MNIST MLP (784-128-10,
Adam 0.001, sparse cross-entropy) in PyTorch on in-memory data, one thread
(OPENBLAS_NUM_THREADS must equal THREADS: OpenBLAS ignores
torch.set_num_threads, ../shared/PEERS.md), as JSON.
   torch_training.py BATCH EPOCHS [ACTIVATION [THREADS]]"""
import json, sys, time
import torch

batch, epochs = int(sys.argv[1]), int(sys.argv[2])
act = sys.argv[3] if len(sys.argv) > 3 else "relu"
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
acts = {"relu": torch.nn.ReLU(), "gelu": torch.nn.GELU(), "sigmoid": torch.nn.Sigmoid(),
        "leaky_relu": torch.nn.LeakyReLU(0.3), "mish": torch.nn.Mish(), "tanh": torch.nn.Tanh()}
torch.set_num_threads(threads)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128), acts[act],
                            torch.nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
loss_fn = torch.nn.CrossEntropyLoss()
n = 60000
x = torch.rand(n, 28, 28)
y = torch.randint(0, 10, (n,))
times = []
for _ in range(epochs):
    t = time.perf_counter()
    for i in range(0, n, batch):
        opt.zero_grad()
        loss = loss_fn(model(x[i:i + batch]), y[i:i + batch])
        loss.backward()
        opt.step()
    times.append(time.perf_counter() - t)
print(json.dumps({"batch": batch, "activation": act, "threads": threads,
                  "epoch_s": times, "torch": torch.__version__}))
