#!/usr/bin/env python3
"""torch_cnn_study.py - the activation study of the Keras "simple MNIST
convnet" in PyTorch, for comparison with netjit: Fashion-MNIST scaled to
[0,1], 28x28x1, Conv2D 32 3x3 + ACT, MaxPool 2x2, Conv2D 64 3x3 + ACT,
MaxPool 2x2, Flatten (channels last), Dropout 0.5, Dense 10 softmax; Keras'
initialization (Glorot uniform, zero biases), Adam 0.001 (epsilon 1e-7 as
Keras), sparse cross-entropy, batch 128, shuffled every epoch, 5 epochs by
default, all 60000 training images (no validation split, as torch_study.py),
one thread, in PyTorch's channels_last memory format (NHWC, as Keras:
about 1.5x faster), glibc's malloc keeping freed memory (as in
torch_cnn_training.py: about 1.2x faster). Prints JSON with the training
loss of each epoch (the mean over its images, as Keras reports it) and the
test loss and accuracy at the end.
ACTIVATION: relu, gelu (erf), sigmoid, leaky_relu (alpha 0.3), mish, tanh.
Run with OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 (../shared/PEERS.md).
   torch_cnn_study.py ACTIVATION SEED [EPOCHS]"""
import ctypes
import gzip
import json
import sys

import numpy as np
import torch

act, seed = sys.argv[1], int(sys.argv[2])
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
acts = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "sigmoid": torch.nn.Sigmoid,
        "leaky_relu": lambda: torch.nn.LeakyReLU(0.3), "mish": torch.nn.Mish, "tanh": torch.nn.Tanh}
d = "/usr/share/datasets/fashion-mnist/"
libc = ctypes.CDLL("libc.so.6")
libc.mallopt(-3, 32 << 20), libc.mallopt(-1, 1 << 30)  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


def idx(name, offset):
    return np.frombuffer(gzip.open(d + name).read(), np.uint8, offset=offset)


def images(name):
    x = torch.tensor(idx(name, 16).reshape(-1, 1, 28, 28) / 255.0, dtype=torch.float32)
    return x.contiguous(memory_format=torch.channels_last)


xtr, xte = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
ytr = torch.tensor(idx("train-labels-idx1-ubyte.gz", 8), dtype=torch.long)
yte = torch.tensor(idx("t10k-labels-idx1-ubyte.gz", 8), dtype=torch.long)
torch.set_num_threads(1)


class FlattenLast(torch.nn.Module):
    """Keras' Flatten of an NHWC tensor: PyTorch's NCHW made channels-last first."""
    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1)


torch.manual_seed(seed)
model = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3), acts[act](), torch.nn.MaxPool2d(2),
                            torch.nn.Conv2d(32, 64, 3), acts[act](), torch.nn.MaxPool2d(2),
                            FlattenLast(), torch.nn.Dropout(0.5), torch.nn.Linear(1600, 10))
for m in model:
    if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
        torch.nn.init.xavier_uniform_(m.weight)
        torch.nn.init.zeros_(m.bias)
model = model.to(memory_format=torch.channels_last)
opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
loss_fn = torch.nn.CrossEntropyLoss()
losses = []
for _ in range(epochs):
    model.train()
    perm = torch.randperm(len(xtr))
    total = 0.0
    for i in range(0, len(xtr), 128):
        b = perm[i:i + 128]
        opt.zero_grad()
        loss = loss_fn(model(xtr[b]), ytr[b])
        loss.backward()
        opt.step()
        total += loss.item() * len(b)
    losses.append(total / len(xtr))
model.eval()
with torch.no_grad():
    logits = torch.cat([model(xte[i:i + 1000]) for i in range(0, len(xte), 1000)])
print(json.dumps({"activation": act, "seed": seed, "epochs": epochs, "batch": 128,
                  "loss": losses, "test_loss": loss_fn(logits, yte).item(),
                  "test_accuracy": (logits.argmax(1) == yte).float().mean().item(),
                  "torch": torch.__version__}))
