"""within.py SECONDS CMD...: runs CMD, passes its stderr through, and fails
unless it exits non-zero within SECONDS (a bad flag must not cost a run)."""
import subprocess, sys, time

limit = float(sys.argv[1])
start = time.monotonic()
try:
    p = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=limit + 5)
except subprocess.TimeoutExpired:
    print(f"within.py: still running after {limit + 5} s: killed")
    sys.exit(1)
took = time.monotonic() - start
sys.stdout.write(p.stderr)
print(f"exit {p.returncode}")
if p.returncode == 0 or took > limit:
    print(f"within.py: expected a failure within {limit} s; exit {p.returncode} after {took:.2f} s")
    sys.exit(1)
