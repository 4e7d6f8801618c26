"""same_weights.py CHECKPOINT DUMP - every parameter in DUMP (lines "NAME
[EXTENTS] hexfloat...") has the checkpoint's shape and equals its tensor of
that name, exactly."""
import json
import struct
import sys

b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
header = json.loads(b[8:8 + n])
data = b[8 + n:]
seen = 0
for line in open(sys.argv[2]):
    name, rest = line.split(" ", 1)
    shape, rest = rest[1:].split("]", 1)
    values = rest.split()
    assert json.loads("[" + shape + "]") == header[name]["shape"], (name, shape)
    lo, hi = header[name]["data_offsets"]
    want = struct.unpack(f"<{(hi - lo) // 4}f", data[lo:hi])
    got = [float.fromhex(v) for v in values]
    assert list(want) == got, name
    seen += 1
assert seen == len([k for k in header if k != "__metadata__" and "/" in k and k.count("/") == 1])
print(seen, "parameters equal")
