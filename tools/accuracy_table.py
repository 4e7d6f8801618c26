#!/usr/bin/env python3
"""accuracy_table.py - `netjit accuracy --json` output as the Markdown table
of docs/accuracy.md. Several files (one per target, as an exhaustive run
writes them) are merged in catalogue order.

    build/bin/netjit accuracy --json > acc.json
    python3 tools/accuracy_table.py acc.json
"""
import json
import sys

rows = []
for path in sys.argv[1:]:
    with open(path) as f:
        rows += json.load(f)["results"]
print("| name | kind | budget | max ULP | worst x | points | "
      "ill-conditioned: max abs error | |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    ill = r.get("ill_conditioned_max_abs")
    ill = f"{ill:.2g}" if ill else ""
    print(f"| {r['name']} | {r['kind']} | {r['budget_ulp']:g} | "
          f"{r['max_ulp']:.3f} | {r['worst_x']:.9g} | {r['points']} | {ill} | "
          f"{'ok' if r['ok'] else '**over**'} |")
