"""bars.py N OUT.csv - N noisy 8x8 one-channel images of a bar: horizontal
(class 0), vertical (1) or diagonal (2), at a random place; a CSV of 64
pixels and a label, as a CNN's training data."""
import random, sys
n, out = int(sys.argv[1]), sys.argv[2]
r = random.Random(5)
with open(out, "w") as f:
    f.write(",".join(f"p{i}" for i in range(64)) + ",label\n")
    for s in range(n):
        c = s % 3
        img = [[r.uniform(0, 0.3) for _ in range(8)] for _ in range(8)]
        k = r.randrange(1, 7)
        for t in range(8):
            y, x = (k, t) if c == 0 else (t, k) if c == 1 else (t, (t + k) % 8)
            img[y][x] = r.uniform(0.7, 1.0)
        f.write(",".join(f"{v:.3f}" for row in img for v in row) + f",{c}\n")
