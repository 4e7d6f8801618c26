#!/usr/bin/env python3
"""torch_kernels.py - the same activation kernels in PyTorch, one thread.

forward: y = f(x); backward: x.grad from y.backward(dy) after a forward with
autograd; fused: forward then backward (what a training step does). Elements
per second, median of the repeats, as JSON. Run by bench/run.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
ACTS = {
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "softplus": F.softplus,
}


def median(reps, fn):
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


out = {"torch": torch.__version__, "activations": {}}
for name, f in ACTS.items():
    row = {}
    for n, key in ((1 << 20, "1M"), (64 << 20, "64M")):
        x = (torch.arange(n, dtype=torch.float32) % 4096) * (12.0 / 4096) - 6.0
        dy = torch.ones(n)
        reps = max(3, REPS // 2) if n > (1 << 22) else REPS * 4
        xg = x.clone().requires_grad_(True)

        def fwd():
            with torch.no_grad():
                f(x)

        def bwd_only():
            y = f(xg)
            xg.grad = None
            t = time.perf_counter()
            y.backward(dy)
            return time.perf_counter() - t

        def fused():
            xg.grad = None
            f(xg).backward(dy)

        tf = median(reps, fwd)
        bwd_only()
        tb = sorted(bwd_only() for _ in range(reps))[reps // 2]
        tu = median(reps, fused)
        row[key] = {"forward": n / tf, "backward": n / tb, "fused": n / tu}
    out["activations"][name] = row
    print(f"torch {name} done", file=sys.stderr)
print(json.dumps(out, indent=2))
