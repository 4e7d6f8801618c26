#!/usr/bin/env python3
"""report.py - merge bench/run's rounds (median and spread) into tables,
print them, write them into docs/performance.md (between the kernels,
training, diagnostics, compile, cnn and residual markers) and the merged figures as JSON.
   report.py OUT_DIR DOC RESULTS_JSON"""
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time

out_dir, doc, results_path = sys.argv[1], sys.argv[2], sys.argv[3]


def load(pattern):
    return [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out_dir, pattern)))]


nj = load("netjit-*.json")
pt = load("torch-*.json")
results = {"date": time.strftime("%Y-%m-%d")}


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def stat(values):
    m = statistics.median(values)
    spread = (max(values) - min(values)) / m * 100 if m else 0
    return m, spread


def replace_section(text, name, table, command):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{table}\n\nCommand: `{command}`\n{end}"
    if begin in text:
        return text[: text.index(begin)] + section + text[text.index(end) + len(end):]
    return text + "\n" + section + "\n"


def kernels_section(text):
    lines = []
    # This machine's memory is shared, and other tenants move its bandwidth
    # by a third within minutes: a kernel's share of it is taken against the
    # triad measured just before and after that kernel, round by round.
    triads = [r["triad_gbytes_per_s"] for r in nj]
    triad, tsp = max(triads), stat(triads)[1]
    near = [r["activations"][a]["64M"]["triad_gbytes_per_s"]
            for r in nj for a in r["activations"]]
    passes = [r["activations"][a]["1M"]["pass_gbytes_per_s"]
              for r in nj for a in r["activations"]]
    lines.append(f"Date: {time.strftime('%Y-%m-%d')}; CPU: {cpu_model()} ({nj[0]['cpu']}, "
                 f"{nj[0]['lanes']} float lanes); {len(nj)} alternating rounds; "
                 f"PyTorch {pt[0]['torch'] if pt else 'skipped'} on 1 thread.")
    lines.append("")
    lines.append(f"Streaming bandwidth (triad, 64M floats): {triad:.1f} GB/s, the best of "
                 f"{len(triads)} rounds at the start (spread {tsp:.0f}%); next to the "
                 f"kernels {min(near):.1f}-{max(near):.1f} GB/s. In cache (1M floats), a hand-written "
                 f"{'AVX2' if nj[0].get('pass_isa') == 'avx2' else 'C++'} loop of relu's fused pass (x, dy in; y, dx out) moves "
                 f"{min(passes):.0f}-{max(passes):.0f} GB/s next to the kernels.")
    lines.append("")
    lines.append("Throughput in G elements/s, median over rounds (spread = (max - min) / median). "
                 "fused = forward and backward in one pass for netjit; forward then autograd "
                 "backward for PyTorch. 'of bw' = netjit fused as a share of the bandwidth "
                 "measured just before and after that activation's fused kernel, median over "
                 "rounds (the fused kernel moves 4 floats per element: x, dy in; y, dx out): at "
                 "64M the triad's, at 1M the hand-written relu pass's (the in-cache ceiling).")
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
                tcols = f"{tf[0]:.2f} | {tb[0]:.2f} | {tu[0]:.2f} | **{u[0] / tu[0]:.2f}x**"
            else:
                tcols = "- | - | - | -"
            near_bw = "triad_gbytes_per_s" if size == "64M" else "pass_gbytes_per_s"
            bw = statistics.median(r["activations"][name][size]["fused"] * 16 /
                                   (r["activations"][name][size][near_bw] * 1e9)
                                   for r in nj) * 100
            lines.append(f"| {name} | {size} | {f[0]:.2f} | {b[0]:.2f} | {u[0]:.2f} (±{u[1]/2:.0f}%) | {tcols} | "
                         f"{bw:.0f}% | {cold:.1f} / {cached:.2f} |")
    table = "\n".join(lines)
    print(table)

    results["kernels"] = {"netjit": nj, "torch": pt}
    return replace_section(text, "kernels", table, os.environ.get("BENCH_COMMAND", f"bench/run {len(nj)} kernels"))


def training_section(text):
    gemm = load("gemm-*.json")
    peak, psp = stat([g["peak_gflops"] for g in gemm])
    lines = [f"Date: {time.strftime('%Y-%m-%d')}; CPU: {cpu_model()} ({gemm[0]['lanes']} float lanes); "
             f"{len(gemm)} alternating rounds.", "",
             f"Single-core FP32 peak (FMA loop, {gemm[0]['lanes']} lanes): **{peak:.0f} GFLOP/s** "
             f"(spread {psp:.0f}%).", "",
             "| GEMM (first layer, batch 32) | GFLOP/s | share of peak |", "|---|---|---|"]
    for k, g in enumerate(gemm[0]["gemms"]):
        gf, sp = stat([r["gemms"][k]["gflops"] for r in gemm])
        lines.append(f"| {g['name']} | {gf:.0f} (±{sp/2:.0f}%) | {gf / peak * 100:.0f}% |")
    lines += ["", "Seconds per epoch (the last of each run's epochs; 60000 samples in memory), "
              "median over rounds. torch = Debian's python3-torch over OpenBLAS as installed; "
              "torch-x = the same with `OPENBLAS_CORETYPE=SkylakeX` (its AVX-512 kernels). "
              "'of peak' = the whole step's FLOPs (forward, backward without the input "
              "gradient, 24.5 GFLOP per epoch) over the epoch time and the peak of the threads "
              "used (a batch under 64 rows runs on one). PyTorch's 2-thread runs set "
              "OPENBLAS_NUM_THREADS=2 and torch.set_num_threads(2).", "",
              "| batch | activation | threads | netjit s | torch s | torch-x s | vs torch | vs torch-x | netjit of peak | compile cold / cached ms |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    configs = []
    for f in sorted(glob.glob(os.path.join(out_dir, "train-netjit-*.json"))):
        batch, act, threads, _ = os.path.basename(f)[len("train-netjit-"):-5].split("-")
        if (int(batch), act, int(threads)) not in configs:
            configs.append((int(batch), act, int(threads)))
    order = ["relu", "gelu", "sigmoid", "leaky_relu", "mish"]
    configs.sort(key=lambda c: (c[2], c[0], order.index(c[1]) if c[1] in order else 99))
    rows = []
    for batch, act, threads in configs:
        def runs(tool):
            return load(f"train-{tool}-{batch}-{act}-{threads}-*.json")
        n = runs("netjit")
        ns, nsp = stat([r["epoch_s"][-1] for r in n])
        cold = statistics.median(r["compile_ms"] for r in n)
        cached = statistics.median(r["compile_cached_ms"] for r in n)
        # A batch under 64 rows runs on one thread whatever was asked.
        used = threads if batch >= 64 else 1
        share = n[0]["gflop"] / ns / (peak * used) * 100
        row = {"batch": batch, "activation": act, "threads": threads, "netjit_s": ns,
               "netjit_spread": nsp, "of_peak": share, "compile_ms": cold, "compile_cached_ms": cached}
        cols = []
        for tool in ("torch", "torchx"):
            t = runs(tool)
            if t:
                ts, _ = stat([r["epoch_s"][-1] for r in t])
                row[tool + "_s"] = ts
                cols.append((f"{ts:.3f}", f"**{ts / ns:.1f}x**"))
            else:
                cols.append(("-", "-"))
        rows.append(row)
        lines.append(f"| {batch} | {act} | {threads} | {ns:.3f} (±{nsp/2:.0f}%) | {cols[0][0]} | {cols[1][0]} | "
                     f"{cols[0][1]} | {cols[1][1]} | {share:.0f}% | {cold:.0f} / {cached:.1f} |")
    results["training"] = {"peak_gflops": peak, "gemms": gemm, "runs": rows}
    table = "\n".join(lines)
    print(table)
    return replace_section(text, "training", table, os.environ.get("BENCH_COMMAND", f"bench/run {len(gemm)} training"))


def diagnostics_section(text):
    lines = [f"Date: {time.strftime('%Y-%m-%d')}; CPU: {cpu_model()}; one thread; "
             "seconds per epoch (the last of each run's), median over rounds, "
             "the step compiled without and with `--diagnostics`.", "",
             "| spec | batch | without s | with s | cost |", "|---|---|---|---|---|"]
    rows = []
    for spec in ("fashion_mlp", "deep_mlp"):
        for batch in (32, 256):
            off = load(f"diag-{spec}-{batch}-0-*.json")
            on = load(f"diag-{spec}-{batch}-1-*.json")
            if not off or not on:
                continue
            a, asp = stat([r["epoch_s"][-1] for r in off])
            b, bsp = stat([r["epoch_s"][-1] for r in on])
            rows.append({"spec": spec, "batch": batch, "without_s": a, "with_s": b})
            lines.append(f"| {spec} | {batch} | {a:.3f} (±{asp/2:.0f}%) | {b:.3f} (±{bsp/2:.0f}%) | "
                         f"**{(b / a - 1) * 100:+.1f}%** |")
    results["diagnostics"] = rows
    table = "\n".join(lines)
    print(table)
    rounds = len(load("diag-fashion_mlp-32-0-*.json"))
    return replace_section(text, "diagnostics", table,
                           os.environ.get("BENCH_COMMAND", f"bench/run {rounds} diagnostics"))


def compile_section(text):
    rounds = load("compile-*.json")
    lines = [f"Date: {time.strftime('%Y-%m-%d')}; CPU: {cpu_model()} ({rounds[0]['lanes']} float lanes); "
             f"{len(rounds)} rounds; milliseconds, median over rounds. cold = `CompiledModel::compile` "
             "without the object cache (wall clock); CPU = its CPU time (on a shared machine, the "
             "compile's own cost); O3 and codegen = the same module's stages (CPU time); IR = "
             "instructions before O3.", "",
             "| hidden layers of 64 | cold ms | CPU ms | O3 ms | codegen ms | IR instructions |",
             "|---|---|---|---|---|---|"]
    rows = []
    for k, run in enumerate(rounds[0]["runs"]):
        name = run["layers"]
        runs = [r["runs"][k] for r in rounds]
        cold, sp = stat([r["compile_ms"] for r in runs])
        cpu = statistics.median(r["compile_cpu_ms"] for r in runs)
        o3 = statistics.median(r["o3_ms"] for r in runs)
        cg = statistics.median(r["codegen_ms"] for r in runs)
        label = name if isinstance(name, int) else os.path.basename(str(name))
        rows.append({"layers": name, "compile_ms": cold, "compile_cpu_ms": cpu, "o3_ms": o3,
                     "codegen_ms": cg, "ir_instructions": run["ir_instructions"]})
        lines.append(f"| {label} | {cold:.0f} (±{sp/2:.0f}%) | {cpu:.0f} | {o3:.0f} | {cg:.0f} | "
                     f"{run['ir_instructions']} |")
    results["compile"] = rows
    table = "\n".join(lines)
    print(table)
    return replace_section(text, "compile", table,
                           os.environ.get("BENCH_COMMAND", f"bench/run {len(rounds)} compile"))


def cnn_section(text):
    peak, _ = stat([g["peak_gflops"] for g in load("cnngemm-*.json")])
    lines = [f"Date: {time.strftime('%Y-%m-%d')}; CPU: {cpu_model()}; "
             f"{len(load('cnn-netjit-1-*.json'))} alternating rounds; single-core FP32 peak "
             f"(FMA loop, same run) {peak:.0f} GFLOP/s. examples/fashion_cnn.json (Conv 32 3x3 relu, "
             "max pool 2, Conv 64 3x3 relu, max pool 2, flatten, dropout 0.5, dense 10 softmax; "
             "Adam, batch 128) on 60000 in-memory images, the last epoch of each run, median "
             "over rounds; PyTorch = bench/torch_cnn_training.py (Debian's python3-torch, "
             "convolutions in oneDNN, channels_last). 'of peak' = the step's FLOPs (no input "
             "gradient for the first conv) over the epoch time and the threads' peak.", "",
             "| threads | netjit images/s | torch images/s | vs torch | netjit of peak | "
             "torch of peak | compile cold / cached ms |",
             "|---|---|---|---|---|---|---|"]
    rows = []
    for threads in (1, 2):
        n = load(f"cnn-netjit-{threads}-*.json")
        t = load(f"cnn-torch-{threads}-*.json")
        if not n:
            continue
        ns, nsp = stat([r["epoch_s"][-1] for r in n])
        ips = 60000 / ns
        row = {"threads": threads, "netjit_images_per_s": ips, "netjit_epoch_s": ns,
               "gflop": n[0]["gflop"]}
        share = n[0]["gflop"] / ns / (peak * threads) * 100
        cold = statistics.median(r["compile_ms"] for r in n)
        cached = statistics.median(r["compile_cached_ms"] for r in n)
        if t:
            ts, _ = stat([r["epoch_s"][-1] for r in t])
            tips = 60000 / ts
            tshare = t[0]["gflop"] / ts / (peak * threads) * 100
            row.update({"torch_images_per_s": tips, "torch_epoch_s": ts})
            lines.append(f"| {threads} | {ips:.0f} (±{nsp/2:.0f}%) | {tips:.0f} | **{ips / tips:.2f}x** | "
                         f"{share:.0f}% | {tshare:.0f}% | {cold:.0f} / {cached:.1f} |")
        else:
            lines.append(f"| {threads} | {ips:.0f} (±{nsp/2:.0f}%) | - | - | {share:.0f}% | - | "
                         f"{cold:.0f} / {cached:.1f} |")
        rows.append(row)
    convs = load("cnnconv-*.json")
    kernels = []
    if convs:
        lines += ["", "Each conv layer's kernels on their own (`netjit-bench-conv`: the layer in a "
                  "spec of its own, batch 128, one thread, the fastest of the repeats; median "
                  "over rounds), GFLOP/s and share of the peak:", "",
                  "| layer | input | kernel | forward | weight gradient | input gradient |",
                  "|---|---|---|---|---|---|"]
        for k, layer in enumerate(convs[0]["layers"]):
            cells = []
            for key in ("forward_gflops", "weight_grad_gflops", "input_grad_gflops"):
                v = statistics.median(r["layers"][k][key] for r in convs)
                cells.append(f"{v:.0f} ({v / peak * 100:.0f}%)")
            kernels.append({"name": layer["name"], "forward_gflops": statistics.median(
                r["layers"][k]["forward_gflops"] for r in convs)})
            lines.append(f"| {layer['name']} | {layer['input']} | {layer['kernel']} | " +
                         " | ".join(cells) + " |")
    results["cnn"] = {"peak_gflops": peak, "runs": rows, "conv_kernels": kernels}
    table = "\n".join(lines)
    print(table)
    return replace_section(text, "cnn", table, os.environ.get("BENCH_COMMAND", "bench/run cnn"))


def residual_section(text):
    """The residual CNN with and without batch normalization, and PyTorch's."""
    def ips(pattern):
        runs = load(pattern)
        return stat([60000 / r["epoch_s"][-1] for r in runs]) if runs else (0, 0)
    bn, bsp = ips("res-netjit-*.json")
    plain, psp = ips("res-nobn-*.json")
    torch_ips, tsp = ips("res-torch-*.json")
    share = (plain / bn - 1) * 100 if bn and plain else 0
    lines = [f"Date: {time.strftime('%Y-%m-%d')}; CPU: {cpu_model()}; "
             f"{len(load('res-netjit-*.json'))} alternating rounds, one thread, batch 64, "
             "60000 in-memory 32x32x3 images, the last epoch, median over rounds. "
             "examples/residual_cnn.json; without batch normalization = "
             "bench/residual_cnn_nobn.json; PyTorch = bench/torch_residual_training.py.", "",
             "| run | images/s | spread |", "|---|---|---|",
             f"| netjit | {bn:.0f} | {bsp:.0f}% |",
             f"| netjit without batch normalization | {plain:.0f} | {psp:.0f}% |"]
    if torch_ips:
        lines.append(f"| PyTorch | {torch_ips:.0f} | {tsp:.0f}% |")
    lines += ["", f"Batch normalization's share: {share:.1f}% more time than the step "
              "without it." + (f" netjit / PyTorch: {bn / torch_ips:.2f}x." if torch_ips else "")]
    results["residual"] = {"netjit_images_per_s": bn, "no_bn_images_per_s": plain,
                           "torch_images_per_s": torch_ips, "bn_share_pct": share}
    return replace_section(text, "residual", "\n".join(lines),
                           os.environ.get("BENCH_COMMAND", "bench/run residual"))


text = open(doc).read() if os.path.exists(doc) else "# Performance\n"
if nj:
    text = kernels_section(text)
if glob.glob(os.path.join(out_dir, "gemm-*.json")):
    text = training_section(text)
if glob.glob(os.path.join(out_dir, "diag-*.json")):
    text = diagnostics_section(text)
if glob.glob(os.path.join(out_dir, "compile-*.json")):
    text = compile_section(text)
if glob.glob(os.path.join(out_dir, "cnn-netjit-*.json")):
    text = cnn_section(text)
if glob.glob(os.path.join(out_dir, "res-netjit-*.json")):
    text = residual_section(text)
open(doc, "w").write(text)
if os.path.exists(results_path):
    old = json.load(open(results_path))
    old.update(results)
    results = old
json.dump(results, open(results_path, "w"), indent=1)
