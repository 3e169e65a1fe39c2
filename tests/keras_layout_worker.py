"""Builds Keras models under keras.distribution with jinit.keras initializers.

Run by tests/test_keras_layout.py in a subprocess with 8 simulated CPU devices and
XLA's HLO dump on (the flags must be set before JAX starts), it prints one JSON
object: per weight, its sharding spec and shard shapes, whether its value equals
jinit's unsharded draw (which is Keras' own: tests/test_keras.py), and the
largest array (in elements) of every program XLA compiled while the model was
built.
"""

import glob
import json
import os
import re
import sys

import numpy as np


def _largest_arrays(dump: str, seen: set) -> dict:
    """The element count of the largest array of each newly compiled program."""
    out = {}
    for path in sorted(glob.glob(os.path.join(dump, "*after_optimizations.txt"))):
        if path in seen:
            continue
        seen.add(path)
        dims = re.findall(r"\b(?:f|u|s|pred|bf)\d*\[([0-9,]+)\]", open(path).read())
        sizes = [int(np.prod([int(d) for d in s.split(",")])) for s in dims if s]
        out[os.path.basename(path)] = max(sizes, default=0)
    return out


def main(dump: str) -> None:
    import keras

    import jinit.keras as jk

    devices = keras.distribution.list_devices()
    mesh = keras.distribution.DeviceMesh((2, 4), ["data", "model"], devices)
    layouts = keras.distribution.LayoutMap(mesh)
    layouts[".*embed/embeddings"] = ("model", "data")
    layouts[".*up/kernel"] = ("data", "model")
    layouts[".*heads/kernel"] = (None, "model", "data")
    layouts[".*down/kernel"] = ("model", None)
    layouts[".*norm/kernel"] = (None, "model")
    axes = {"input_axes": [0], "output_axes": [1, 2]}
    specs = {
        "embed": (jk.RandomUniform, {}, 11),
        "up": (jk.HeNormal, {}, 12),
        "heads": (jk.VarianceScaling, {"scale": 0.5, "mode": "fan_avg", **axes}, 13),
        "down": (jk.GlorotUniform, {}, 14),
        "norm": (jk.RandomNormal, {"stddev": 0.3}, 15),
    }

    def model():
        def init(name):
            cls, kwargs, seed = specs[name]
            return cls(seed=seed, **kwargs)

        inputs = keras.Input((6,), dtype="int32")
        x = keras.layers.Embedding(
            96, 40, embeddings_initializer=init("embed"), name="embed"
        )(inputs)
        x = keras.layers.Dense(64, kernel_initializer=init("up"), name="up")(x)
        x = keras.layers.EinsumDense(
            "btd,dnh->btnh",
            (None, 8, 6),
            kernel_initializer=init("heads"),
            name="heads",
        )(x)
        x = keras.layers.Reshape((6, 48))(x)
        x = keras.layers.Dense(40, kernel_initializer=init("down"), name="down")(x)
        x = keras.layers.Dense(
            24, kernel_initializer=init("norm"), name="norm", use_bias=False
        )(x)
        return keras.Model(inputs, x)

    seen: set = set()
    _largest_arrays(dump, seen)  # programs compiled before the build
    with keras.distribution.ModelParallel(
        layout_map=layouts, batch_dim_name="data"
    ).scope():
        sharded = model()
    compiled = _largest_arrays(dump, seen)
    unsharded = {w.path: np.asarray(w.value) for w in model().weights}
    weights = {}
    for w in sharded.weights:
        value = w.value
        shard_shapes = {tuple(s.data.shape) for s in value.addressable_shards}
        weights[w.path] = {
            "shape": list(value.shape),
            "spec": [None if a is None else str(a) for a in value.sharding.spec],
            "shard_shapes": [list(s) for s in shard_shapes],
            "jinit_unsharded": bool(
                np.array_equal(
                    np.asarray(value).view(np.uint32), unsharded[w.path].view(np.uint32)
                )
            ),
        }
    print(json.dumps({"weights": weights, "compiled": compiled}))


if __name__ == "__main__":
    main(sys.argv[1])
