#!/usr/bin/env python3
"""torch_residual_training.py - images per second of examples/residual_cnn.json
in PyTorch: a stem (Conv2D 16 3x3 same without bias, BatchNorm, ReLU), two
residual blocks (conv -> batch norm -> relu -> conv -> batch norm -> add ->
relu, a 2x2 max pool between them), global max pooling and Dense 4 softmax;
Adam 0.003, sparse cross-entropy, on in-memory random 32x32x3 images (the
timing does not depend on the values), one thread unless THREADS is given
(OPENBLAS_NUM_THREADS and OMP_NUM_THREADS must equal it: ../shared/PEERS.md).
Keras' batch-norm momentum 0.99 and epsilon 1e-3 (PyTorch's momentum is
1 - Keras'). channels_last memory format and glibc told to keep freed
memory, as torch_cnn_training.py says why.
IMAGES=N trains on N images (default 6000).
   torch_residual_training.py BATCH EPOCHS [THREADS]"""
import ctypes, json, os, sys, time
import torch

libc = ctypes.CDLL("libc.so.6")
if not (libc.mallopt(-3, 32 << 20) and libc.mallopt(-1, 1 << 30)):
    sys.exit("torch_residual_training.py: mallopt refused")
batch, epochs = int(sys.argv[1]), int(sys.argv[2])
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)
nn = torch.nn


def conv_bn(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01)]


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(c, c), nn.ReLU(), *conv_bn(c, c))

    def forward(self, x):
        return torch.relu(x + self.body(x))


model = nn.Sequential(*conv_bn(3, 16), nn.ReLU(), Block(16), nn.MaxPool2d(2), Block(16),
                      nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(16, 4))
model = model.to(memory_format=torch.channels_last)
opt = torch.optim.Adam(model.parameters(), lr=0.003, eps=1e-7)
loss_fn = nn.CrossEntropyLoss()
n = int(os.environ.get("IMAGES", 6000))
x = torch.rand(n, 3, 32, 32).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 4, (n,))
# Multiply-adds per image, forward: the stem 32*32*16*27, block 1's two convs
# 32*32*16*144 each, block 2's 16*16*16*144 each. Backward: each weight
# gradient (as many again) and input gradient (as many again), none for the
# stem's input.
stem, b1, b2 = 32 * 32 * 16 * 27, 32 * 32 * 16 * 144, 16 * 16 * 16 * 144
flop_per_image = 2 * (2 * stem + 3 * 2 * b1 + 3 * 2 * b2)
times = []
for _ in range(epochs):
    t = time.perf_counter()
    for i in range(0, n, batch):
        opt.zero_grad()
        loss = loss_fn(model(x[i:i + batch]), y[i:i + batch])
        loss.backward()
        opt.step()
    times.append(time.perf_counter() - t)
print(json.dumps({"batch": batch, "threads": threads, "epoch_s": times,
                  "images_per_s": n / times[-1], "gflop": flop_per_image * n / 1e9,
                  "torch": torch.__version__}))
