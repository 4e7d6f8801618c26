"""mkfunctional.py SRC DIR - writes functional Keras models netjit must
refuse, each a small edit of SRC (a Keras 3 functional model.to_json())."""
import copy
import json
import os
import sys

src = json.load(open(sys.argv[1]))
d = sys.argv[2]
os.makedirs(d, exist_ok=True)


def edit(name, fn):
    doc = copy.deepcopy(src)
    fn(doc)
    json.dump(doc, open(os.path.join(d, name + ".json"), "w"))


def layer(doc, name):
    return next(l for l in doc["config"]["layers"] if l["name"] == name)


def history(doc, name, k=0):
    """The keras_history of input k of layer name."""
    args = layer(doc, name)["inbound_nodes"][0]["args"]
    t = args[0][k] if isinstance(args[0], list) else args[k]
    return t["config"]["keras_history"]


# A layer reading one that does not exist.
edit("unknown", lambda m: history(m, "conv2d_1").__setitem__(0, "conv2d_9"))
# A cycle: the first conv reads the add at the end of the block.
edit("cycle", lambda m: history(m, "conv2d").__setitem__(0, "add"))
# A shared layer: two calls.
edit("shared", lambda m: layer(m, "dense")["inbound_nodes"].append(
    layer(m, "dense")["inbound_nodes"][0]))
# The add's inputs of different shapes: one reads the 3-channel input.
edit("addshape", lambda m: history(m, "add", 0).__setitem__(0, "input_layer"))
# A batch normalization over an axis the input does not have.
edit("bnaxis", lambda m: layer(m, "batch_normalization")["config"].update(axis=5))
# Keras 2's list of axes, with two of them.
edit("bnaxes", lambda m: layer(m, "batch_normalization")["config"].update(axis=[1, 3]))
# A layer that leads nowhere: a second dense on the pooled vector.
def dead(m):
    extra = copy.deepcopy(layer(m, "dense"))
    extra["name"] = extra["config"]["name"] = "dense_dead"
    m["config"]["layers"].insert(len(m["config"]["layers"]) - 1, extra)
edit("dead", dead)
# A second input layer.
def second_input(m):
    extra = copy.deepcopy(layer(m, "input_layer"))
    extra["name"] = extra["config"]["name"] = "input_layer_1"
    m["config"]["layers"].insert(1, extra)
edit("twoinputs", second_input)
