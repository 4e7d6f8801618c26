"""mkdata.py DIR - writes the malformed data files of data.test into DIR,
with a spec next to each that reads it."""
import gzip
import json
import os
import struct
import sys

d = sys.argv[1]
os.makedirs(d, exist_ok=True)


def idx(dims, values, magic=b"\x00\x00\x08"):
    return magic + bytes([len(dims)]) + b"".join(struct.pack(">I", n) for n in dims) + bytes(values)


def write(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def spec(name, data, features=16, outputs=10, loss="sparse_categorical_crossentropy"):
    s = {"input": {"shape": [features]},
         "layers": [{"type": "dense", "units": 4, "activation": "relu"},
                    {"type": "dense", "units": outputs, "activation": "softmax"}],
         "loss": loss, "training": {"batch_size": 4, "epochs": 1}, "data": data}
    write(name + ".json", json.dumps(s).encode())


images = idx([6, 4, 4], range(96))
labels = idx([6], [1, 2, 3, 4, 5, 6])
write("images.idx", images)
write("labels.idx", labels)
write("images.idx.gz", gzip.compress(images))
write("magic.idx", b"\x00\x00\x0c\x03" + images[4:])
write("short.idx", images[:-5])
write("trunc.idx.gz", gzip.compress(images)[:-12])
write("count.idx", idx([5], [1, 2, 3, 4, 5]))
write("range.idx", idx([6], [1, 2, 3, 12, 5, 6]))
for name, im, lab in [("magic", "magic.idx", "labels.idx"), ("short", "short.idx", "labels.idx"),
                      ("trunc", "trunc.idx.gz", "labels.idx"), ("count", "images.idx", "count.idx"),
                      ("range", "images.idx", "range.idx"), ("good", "images.idx.gz", "labels.idx"),
                      ("missing", "nothere.idx", "labels.idx")]:
    spec(name, {"train": {"images": im, "labels": lab}})
spec("features", {"train": {"images": "images.idx", "labels": "labels.idx"}}, features=9)

write("ragged.csv", b"a,b,label\n1,2,0\n3,4\n5,6,1\n")
write("word.csv", b"a,b,label\n1,2,0\n3,four,1\n")
write("nan.csv", b"a,b,label\n1,2,0\n3,nan,1\n")
write("good.csv", b"a,b,label\n1,2,0\n3,4,1\n")
for name in ["ragged", "word", "nan"]:
    spec(name, {"train": {"csv": name + ".csv", "label_column": "label"}}, features=2, outputs=2)
spec("column", {"train": {"csv": "good.csv", "label_column": "lable"}}, features=2, outputs=2)
spec("dataset", {"dataset": "fashion_mnst"})
spec("nodata", {})
