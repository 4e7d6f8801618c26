#!/usr/bin/env python3
"""report.py - merge bench/run's rounds (median and spread) into a table,
print it and write the kernel section of docs/performance.md."""
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time

out_dir, doc = sys.argv[1], sys.argv[2]
nj = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out_dir, "netjit-*.json")))]
pt = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out_dir, "torch-*.json")))]


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def stat(values):
    m = statistics.median(values)
    spread = (max(values) - min(values)) / m * 100 if m else 0
    return m, spread


lines = []
triad, tsp = stat([r["triad_gbytes_per_s"] for r in nj])
lines.append(f"Date: {time.strftime('%Y-%m-%d')}; CPU: {cpu_model()} ({nj[0]['cpu']}, "
             f"{nj[0]['lanes']} float lanes); {len(nj)} alternating rounds; "
             f"PyTorch {pt[0]['torch'] if pt else 'skipped'} on 1 thread.")
lines.append("")
lines.append(f"Streaming bandwidth (triad, 64M floats): {triad:.1f} GB/s (spread {tsp:.0f}%).")
lines.append("")
lines.append("Throughput in G elements/s, median over rounds (spread = (max - min) / median). "
             "fused = forward and backward in one pass for netjit; forward then autograd "
             "backward for PyTorch. 'of bw' = netjit fused as a share of the triad bandwidth "
             "(the fused kernel moves 4 floats per element: x, dy in; y, dx out).")
lines.append("")
lines.append("| activation | size | netjit fwd | netjit bwd | netjit fused | torch fwd | torch bwd | torch fwd+bwd | fused ratio | of bw | fused kernel compile, cold / cached ms |")
lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
for name in nj[0]["activations"]:
    for size in ("1M", "64M"):
        g = lambda rs, k: stat([r["activations"][name][size][k] / 1e9 for r in rs])
        f, b, u = g(nj, "forward"), g(nj, "backward"), g(nj, "fused")
        cold = statistics.median(r["activations"][name]["compile_cold_ms"] for r in nj)
        cached = statistics.median(r["activations"][name]["compile_cached_ms"] for r in nj)
        if pt:
            tf, tb, tu = g(pt, "forward"), g(pt, "backward"), g(pt, "fused")
            tcols = f"{tf[0]:.2f} | {tb[0]:.2f} | {tu[0]:.2f} | **{u[0] / tu[0]:.1f}x**"
        else:
            tcols = "- | - | - | -"
        bw = u[0] * 1e9 * 16 / (triad * 1e9) * 100
        lines.append(f"| {name} | {size} | {f[0]:.2f} | {b[0]:.2f} | {u[0]:.2f} (±{u[1]/2:.0f}%) | {tcols} | "
                     f"{bw:.0f}% | {cold:.1f} / {cached:.2f} |")
table = "\n".join(lines)
print(table)

begin, end = "<!-- kernels:begin -->", "<!-- kernels:end -->"
section = f"{begin}\n{table}\n\nCommand: `bench/run {len(nj)}`\n{end}"
if os.path.exists(doc):
    text = open(doc).read()
    if begin in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text += "\n" + section + "\n"
else:
    text = "# Performance\n\n" + section + "\n"
open(doc, "w").write(text)
