#!/usr/bin/env python3
"""torch_study.py - the activation study in PyTorch, for comparison with
`netjit compare`: the Fashion-MNIST MLP (Flatten, Dense 128 + ACT, Dense 10
softmax), Keras' initialization (Glorot uniform, zero biases), Adam 0.001
(epsilon 1e-7 as Keras), sparse cross-entropy, batch 32, shuffled every
epoch, 5 epochs; prints JSON with the test accuracy per activation and seed.
Run with OPENBLAS_NUM_THREADS=1 (../shared/PEERS.md).
   torch_study.py [SEEDS] [EPOCHS]"""
import gzip
import json
import sys

import numpy as np
import torch

seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
d = "/usr/share/datasets/fashion-mnist/"


def idx(name, offset):
    return np.frombuffer(gzip.open(d + name).read(), np.uint8, offset=offset)


xtr = torch.tensor(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0, dtype=torch.float32)
ytr = torch.tensor(idx("train-labels-idx1-ubyte.gz", 8), dtype=torch.long)
xte = torch.tensor(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0, dtype=torch.float32)
yte = torch.tensor(idx("t10k-labels-idx1-ubyte.gz", 8), dtype=torch.long)
torch.set_num_threads(1)
acts = {"relu": torch.nn.ReLU(), "gelu": torch.nn.GELU(), "sigmoid": torch.nn.Sigmoid(),
        "leaky_relu(alpha=0.3)": torch.nn.LeakyReLU(0.3)}
out = {}
for name, act in acts.items():
    for seed in range(seeds):
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(784, 128), act, torch.nn.Linear(128, 10))
        for m in model:
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.xavier_uniform_(m.weight)
                torch.nn.init.zeros_(m.bias)
        opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
        loss_fn = torch.nn.CrossEntropyLoss()
        for _ in range(epochs):
            perm = torch.randperm(len(xtr))
            for i in range(0, len(xtr), 32):
                b = perm[i:i + 32]
                opt.zero_grad()
                loss_fn(model(xtr[b]), ytr[b]).backward()
                opt.step()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        out.setdefault(name, []).append(acc)
print(json.dumps(out))
