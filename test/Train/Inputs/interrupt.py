"""interrupt.py SPEC DIR [train|compare] - SIGINT and SIGTERM sent to
`netjit train --save` (compare: to `netjit compare --save` in its second
activation) in the middle of an epoch: it exits 130 (143), leaves no
temporary file, says what it saved and how to resume; running that command
finishes with the checkpoint, metrics (and compare's plots) of a run never
interrupted. A second SIGINT exits at once, leaving no temporary file
either."""
import json
import os
import random
import shlex
import signal
import struct
import subprocess
import sys
import time

spec, d = sys.argv[1], sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else "train"
os.makedirs(d, exist_ok=True)
random.seed(7)
ACTS = "relu,x*sigmoid(x),tanh"


def fail(msg):
    print("interrupt.py:", msg)
    sys.exit(1)


def tensors(path):
    """The header (no timings in it) and the data."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def epochs(path):
    drop = ("seconds", "samples_per_second")
    return [[{k: v for k, v in e.items() if k not in drop} for e in r["epochs"]]
            + [r.get("test")] for r in json.load(open(path))["runs"]]


def no_litter():
    left = [f for f in os.listdir(d) if ".tmp" in f]
    if left:
        fail(f"temporary files left behind: {left}")


def command(name):
    """The run writing DIR/name.*, and the line to wait for."""
    out = ["--save", f"{d}/{name}.st", "--metrics", f"{d}/{name}.json"]
    if mode == "compare":
        return (["netjit", "compare", spec, "-a", ACTS, "--epochs", "6",
                 "--plot", f"{d}/{name}.svg", "--plot-boundary",
                 f"{d}/{name}-b.svg"] + out, "== x*sigmoid(x)")
    return ["netjit", "train", spec] + out, None


def outputs(name):
    """What a run leaves that an uninterrupted one must equal."""
    got = [tensors(f"{d}/{name}.st"), epochs(f"{d}/{name}.json")]
    if mode == "compare":
        got += [open(f"{d}/{name}{s}.svg").read() for s in ("", "-b")]
    return got


cmd, _ = command("full")
full = subprocess.run(cmd + ["-q"], capture_output=True, text=True)
if full.returncode != 0:
    fail("the uninterrupted run failed: " + full.stderr)


def interrupted(name, sig, count, wait_epochs):
    """Starts a run, sends sig count times once wait_epochs are done."""
    cmd, first = command(name)
    p = subprocess.Popen(cmd + ["--save-every", "1"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if first and line.startswith(first):
            first = None
        elif not first and line.startswith(f"epoch {wait_epochs}/"):
            break
    time.sleep(random.uniform(0.004, 0.015))
    for _ in range(count):
        p.send_signal(sig)
    out, err = p.communicate(timeout=120)
    return p.returncode, err


for sig, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
    name = signal.Signals(sig).name
    rc, err = interrupted(name, sig, 1, 2)
    if rc != status:
        fail(f"{name}: exit {rc}, expected {status}: {err}")
    no_litter()
    line = [l for l in err.splitlines() if l.startswith("netjit: interrupted")]
    if len(line) != 1 or "resume with: " not in line[0]:
        fail(f"{name}: no line saying what was saved and how to resume: {err}")
    print(name, status, line[0].split(": saved")[0])
    resume = shlex.split(line[0].split("resume with: ")[1])
    if mode == "compare":
        wrong = subprocess.run(["relu,tanh" if w == ACTS else w for w in resume],
                               capture_output=True, text=True)
        print(name, "other activations:", wrong.returncode, wrong.stderr.strip())
    r = subprocess.run(resume + ["-q"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{name}: the resume command failed: {r.stderr}")
    got, want = outputs(name), outputs("full")
    for what, g, w in zip(("checkpoint", "metrics", "loss plot", "boundary plot"),
                          got, want):
        if g != w:
            fail(f"{name}: the resumed run's {what} differs from the uninterrupted run's")
    print(name, "resumed: the outputs of the uninterrupted run")

# Twice at once: no waiting for the step, no temporary file.
rc, err = interrupted("twice", signal.SIGINT, 2, 1)
if rc != 130:
    fail(f"two SIGINTs: exit {rc}, expected 130: {err}")
no_litter()
print("two SIGINTs: 130, nothing left behind")
