"""interrupt.py SPEC DIR - SIGINT and SIGTERM sent to `netjit train --save`
in the middle of an epoch: it exits 130 (143), leaves no temporary file,
says what it saved and how to resume; running that command finishes with
the weights and metrics of a run never interrupted. A second SIGINT exits
at once, leaving no temporary file either."""
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
os.makedirs(d, exist_ok=True)
random.seed(7)


def fail(msg):
    print("interrupt.py:", msg)
    sys.exit(1)


def tensors(path):
    """The header without the progress (it holds timings) and the data."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    header["__metadata__"].pop("progress", None)
    return header, b[8 + n:]


def epochs(path):
    drop = ("seconds", "samples_per_second")
    return [{k: v for k, v in e.items() if k not in drop}
            for e in json.load(open(path))["runs"][0]["epochs"]]


def no_litter():
    left = [f for f in os.listdir(d) if ".tmp" in f]
    if left:
        fail(f"temporary files left behind: {left}")


full = subprocess.run(["netjit", "train", spec, "-q", "--save", f"{d}/full.st",
                       "--metrics", f"{d}/full.json"], capture_output=True, text=True)
if full.returncode != 0:
    fail("the uninterrupted run failed: " + full.stderr)


def interrupted(name, sig, count, wait_epochs):
    """Starts a run, sends sig count times once wait_epochs are done."""
    cmd = ["netjit", "train", spec, "--save", f"{d}/{name}.st", "--save-every", "1",
           "--metrics", f"{d}/{name}.json"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith(f"epoch {wait_epochs}/"):
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
    r = subprocess.run(resume + ["-q"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{name}: the resume command failed: {r.stderr}")
    if tensors(f"{d}/{name}.st") != tensors(f"{d}/full.st"):
        fail(f"{name}: the resumed run's checkpoint differs from the uninterrupted run's")
    if epochs(f"{d}/{name}.json") != epochs(f"{d}/full.json"):
        fail(f"{name}: the resumed run's metrics differ from the uninterrupted run's")
    print(name, "resumed: the weights and metrics of the uninterrupted run")

# Twice at once: no waiting for the step, no temporary file.
rc, err = interrupted("twice", signal.SIGINT, 2, 1)
if rc != 130:
    fail(f"two SIGINTs: exit {rc}, expected 130: {err}")
no_litter()
print("two SIGINTs: 130, nothing left behind")
