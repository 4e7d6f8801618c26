"""reshape_safetensors.py IN OUT PREFIX... - rewrites IN's header so every
rank-1 tensor is stored as [1, n], as checkpoints were written before
parameters had their rank, or (with --wrong) as [2, n / 2]; the data stays."""
import json
import struct
import sys

args = sys.argv[1:]
wrong = "--wrong" in args
args = [a for a in args if a != "--wrong"]
b = open(args[0], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
header = json.loads(b[8:8 + n])
for name, t in header.items():
    if name != "__metadata__" and len(t["shape"]) == 1:
        d = t["shape"][0]
        t["shape"] = [2, d // 2] if wrong and d % 2 == 0 else [1, d]
text = json.dumps(header).encode()
text += b" " * (-(8 + len(text)) % 8)
open(args[1], "wb").write(struct.pack("<Q", len(text)) + text + b[8 + n:])
