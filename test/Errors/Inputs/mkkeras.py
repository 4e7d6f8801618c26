"""mkkeras.py SRC DIR - writes Keras model files that netjit must refuse,
each a small edit of SRC (a Keras 3 model.to_json())."""
import copy
import json
import os
import sys

src = json.load(open(sys.argv[1]))
d = sys.argv[2]
os.makedirs(d, exist_ok=True)


def write(name, doc):
    json.dump(doc, open(os.path.join(d, name + ".json"), "w"))


def edit(name, fn):
    doc = copy.deepcopy(src)
    fn(doc)
    write(name, doc)


layers = lambda doc: doc["config"]["layers"]
edit("lstm", lambda m: layers(m).insert(2, {"module": "keras.layers", "class_name": "LSTM",
                                            "config": {"name": "lstm", "units": 8}}))
edit("conv", lambda m: layers(m).insert(2, {"module": "keras.layers", "class_name": "Conv2D",
                                            "config": {"name": "conv2d", "filters": 8}}))
edit("convpad", lambda m: layers(m).insert(2, {"module": "keras.layers", "class_name": "Conv2D",
                                               "config": {"name": "conv2d", "filters": 8, "kernel_size": [3, 3],
                                                          "padding": "full"}}))
edit("noconfig", lambda m: layers(m)[2].pop("config"))
edit("activation", lambda m: layers(m)[2]["config"].update(activation="crelu"))
edit("scaling", lambda m: layers(m)[2]["config"]["kernel_initializer"]["config"].update(scale=3.0))
edit("clip", lambda m: m["compile_config"]["optimizer"]["config"].update(clipnorm=1.0))
edit("schedule", lambda m: m["compile_config"]["optimizer"]["config"].update(
    learning_rate={"class_name": "ExponentialDecay", "config": {}}))
edit("noinput", lambda m: (layers(m).pop(0), layers(m)[0].pop("build_config"),
                           m["config"].pop("build_input_shape"), m.pop("build_config")))
edit("loss", lambda m: m["compile_config"].update(loss="KLDivergence"))
edit("functional", lambda m: m.update(class_name="Functional"))
edit("relu", lambda m: layers(m).insert(3, {"class_name": "ReLU", "config": {"name": "re_lu", "max_value": 6.0}}))
