#!/usr/bin/env python3
"""torch_cnn_training.py - images per second and seconds per epoch of the
Keras "simple MNIST convnet" (28x28x1, Conv2D 32 3x3 + ACT, MaxPool 2x2,
Conv2D 64 3x3 + ACT, MaxPool 2x2, Flatten (channels last), Dropout 0.5,
Dense 10; Adam 0.001, sparse cross-entropy) in PyTorch on in-memory random
images (the timing does not depend on the values), THREADS threads
(OPENBLAS_NUM_THREADS and OMP_NUM_THREADS must equal THREADS: OpenBLAS
ignores torch.set_num_threads, ../shared/PEERS.md), as JSON. "gflop" is one
epoch's forward and backward multiply-adds (x2) of the convolutions and the
dense layer, without the first convolution's input gradient (PyTorch does
not compute it either); images_per_s is the last epoch's. The model and the
images are in PyTorch's channels_last memory format (NHWC, as Keras): oneDNN
then trains about 1.5x faster than in the default NCHW. glibc's malloc is told
to keep freed memory (mallopt M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 1 GiB):
by default each step's 4-11 MB activations are mmapped and unmapped again and
their page faults make PyTorch about 1.4x slower (a fifth of its time in the
kernel).
IMAGES=N in the environment trains on N images instead of 60000 (short checks).
   torch_cnn_training.py BATCH EPOCHS [ACTIVATION [THREADS]]"""
import ctypes, json, os, sys, time
import torch

libc = ctypes.CDLL("libc.so.6")
if not (libc.mallopt(-3, 32 << 20) and libc.mallopt(-1, 1 << 30)):  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
    sys.exit("torch_cnn_training.py: mallopt refused")

batch, epochs = int(sys.argv[1]), int(sys.argv[2])
act = sys.argv[3] if len(sys.argv) > 3 else "relu"
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
acts = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "sigmoid": torch.nn.Sigmoid,
        "leaky_relu": lambda: torch.nn.LeakyReLU(0.3), "mish": torch.nn.Mish, "tanh": torch.nn.Tanh}
torch.set_num_threads(threads)
torch.manual_seed(0)


class FlattenLast(torch.nn.Module):
    """Keras' Flatten of an NHWC tensor: PyTorch's NCHW made channels-last first."""
    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1)


model = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3), acts[act](), torch.nn.MaxPool2d(2),
                            torch.nn.Conv2d(32, 64, 3), acts[act](), torch.nn.MaxPool2d(2),
                            FlattenLast(), torch.nn.Dropout(0.5), torch.nn.Linear(1600, 10))
model = model.to(memory_format=torch.channels_last)
opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
loss_fn = torch.nn.CrossEntropyLoss()
n = int(os.environ.get("IMAGES", 60000))
x = torch.rand(n, 1, 28, 28).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 10, (n,))

# Multiply-adds per image, forward: conv1 26*26*32*(3*3*1), conv2 11*11*64*(3*3*32),
# dense 1600*10. Backward: the weight gradient of each (as many again) and the input
# gradient of conv2 and dense (as many again), none for conv1's input.
mac = [26 * 26 * 32 * 9 * 1, 11 * 11 * 64 * 9 * 32, 1600 * 10]
flop_per_image = 2 * (2 * mac[0] + 3 * mac[1] + 3 * mac[2])

times = []
for _ in range(epochs):
    t = time.perf_counter()
    for i in range(0, n, batch):
        opt.zero_grad()
        loss = loss_fn(model(x[i:i + batch]), y[i:i + batch])
        loss.backward()
        opt.step()
    times.append(time.perf_counter() - t)
print(json.dumps({"batch": batch, "activation": act, "threads": threads, "epoch_s": times,
                  "images_per_s": n / times[-1], "gflop": flop_per_image * n / 1e9,
                  "torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available()}))
