"""safetensors.py FILE - prints a safetensors file's metadata and tensors
as a reader that knows only the format would see them, and checks that the
offsets tile the data exactly."""
import json
import struct
import sys

b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
header = json.loads(b[8:8 + n])
assert (8 + n) % 8 == 0, "data not 8-byte aligned"
data = b[8 + n:]
meta = header.pop("__metadata__")
print("format", meta["format"], "epoch", meta["epoch"], "step", meta["step"], "seed", meta["seed"])
end = 0
for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    lo, hi = t["data_offsets"]
    assert lo == end, (name, lo, end)
    count = 1
    for d in t["shape"]:
        count *= d
    assert hi - lo == 4 * count, name
    values = struct.unpack(f"<{count}f", data[lo:hi])
    assert all(v == v for v in values), name
    end = hi
    print(name, t["dtype"], json.dumps(t["shape"]))
assert end == len(data)
print(len(header), "tensors, data ok")
