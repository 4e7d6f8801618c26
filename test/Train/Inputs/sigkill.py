"""sigkill.py NETJIT SPEC DIR [TRIALS] - kills `netjit train --save-every 1`
with SIGKILL at random moments; after each kill the checkpoint on disk, if
one was written yet, must load (header, shapes and CRC-32 checked by
`netjit predict`), the old one or the new one, never half of one."""
import os
import random
import signal
import subprocess
import sys
import time

netjit, spec, d = sys.argv[1], sys.argv[2], sys.argv[3]
trials = int(sys.argv[4]) if len(sys.argv) > 4 else 50
os.makedirs(d, exist_ok=True)
ckpt = os.path.join(d, "ck.st")
points = os.path.join(d, "points.csv")
with open(points, "w") as f:
    f.write("x,y\n0.5,0.5\n")
random.seed(1)
loaded = 0
for trial in range(trials):
    p = subprocess.Popen([netjit, "train", spec, "-q", "--epochs", "100000",
                          "--save-every", "1", "--save", ckpt],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not os.path.exists(ckpt):
        # The first trial waits for a first checkpoint (compiling may take a
        # while on a loaded machine); then every kill leaves one behind.
        deadline = time.time() + 60
        while not os.path.exists(ckpt) and time.time() < deadline and p.poll() is None:
            time.sleep(0.01)
    time.sleep(random.uniform(0.05, 0.4))
    p.send_signal(signal.SIGKILL)
    p.wait()
    if not os.path.exists(ckpt):
        continue
    r = subprocess.run([netjit, "predict", spec, "-w", ckpt, "-i", points],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"trial {trial}: the checkpoint does not load: {r.stderr.strip()}")
        sys.exit(1)
    loaded += 1
for f in os.listdir(d):
    if ".tmp" in f:
        os.remove(os.path.join(d, f))
print(f"{trials} kills, the checkpoint loaded after {loaded}")
sys.exit(0 if loaded == trials else 1)
