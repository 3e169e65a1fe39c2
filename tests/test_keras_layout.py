"""jinit.keras under Keras' distribution API: ``layout=`` (keras PR #22680).

Keras on JAX calls an initializer with ``layout=`` when its ``__call__`` names
that parameter, inside ``jax.set_mesh`` with explicit axes. Every jinit.keras
class takes it and draws into the shards: the values are jinit's unsharded ones
(and Keras' own), bit for bit, sharded as the ``LayoutMap`` says. The model test
runs Keras' real ``ModelParallel`` in a subprocess with XLA's HLO dump on, to see
the size of every array XLA compiled while the model was built.
"""

import inspect
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

import jinit.keras as jk

keras = pytest.importorskip("keras")

CLASSES = sorted({cls.__name__ for cls in jk.NAMES.values()})
# One class per way of drawing (the others share its code path, the one
# ``__call__``): Keras' scaled normals, the core uniform, QR, constants, STFT.
PATHS = [
    "Constant",
    "GlorotUniform",
    "HeNormal",
    "Identity",
    "Orthogonal",
    "RandomNormal",
    "STFT",
    "Zeros",
]
SHAPES = {"STFT": (16, 2, 10)}


def bits(x):
    x = np.asarray(x)
    return x.view(np.uint32) if x.dtype == np.float32 else x


def make(name):
    cls = getattr(jk, name)
    return cls(seed=7) if "seed" in inspect.signature(cls).parameters else cls()


@pytest.fixture(scope="module")
def mesh():
    return keras.distribution.DeviceMesh((2, 4), ["data", "model"], jax.devices())


@pytest.mark.parametrize("name", CLASSES)
def test_every_class_takes_layout(name):
    # What Keras checks before it passes ``layout=`` (keras/src/backend/jax/core.py).
    assert "layout" in inspect.signature(make(name)).parameters


@pytest.mark.parametrize("name", PATHS)
def test_keras_variables_are_drawn_into_their_layout(name, mesh):
    """Keras' own variable creation under ModelParallel passes ``layout=``."""
    init = make(name)
    shape = SHAPES.get(name, (16, 24))
    layouts = keras.distribution.LayoutMap(mesh)
    layouts["w"] = ("model", None, None)[: len(shape) - 1] + ("data",)
    with keras.distribution.ModelParallel(layout_map=layouts).scope():
        var = keras.Variable(init, shape=shape, name="w")
    value = var.value
    assert value.sharding.spec == P(*layouts["w"].axes), value.sharding
    assert {s.data.shape for s in value.addressable_shards} == {
        value.sharding.shard_shape(shape)
    }
    np.testing.assert_array_equal(bits(value), bits(make(name)(shape)))


def test_layout_forms_and_errors(mesh):
    init = jk.HeNormal(seed=3)
    want = bits(init((8, 12)))
    layout = keras.distribution.TensorLayout(("data", "model"), mesh)
    sharding = layout.backend_layout
    for given in (layout, sharding):
        out = init((8, 12), layout=given)
        assert out.sharding.is_equivalent_to(sharding, 2)
        np.testing.assert_array_equal(bits(out), want)
    with jax.set_mesh(sharding.mesh):
        out = init((8, 12), layout=P("data", "model"))
    assert out.sharding.spec == P("data", "model")
    np.testing.assert_array_equal(bits(out), want)
    key = np.array([3, 0], np.uint32)  # the functional call takes it too
    np.testing.assert_array_equal(bits(init(key, (8, 12), layout=sharding)), want)
    with pytest.raises(ValueError, match="`layout` must be None when out_sharding"):
        init((8, 12), layout=sharding, out_sharding=sharding)
    with pytest.raises(TypeError, match="`layout` must be None, a jax.sharding"):
        init((8, 12), layout=("data", "model"))
    with pytest.raises(ValueError, match="`layout`"):
        init((8, 10), layout=sharding)  # 4 does not divide 10


# ----------------------------------------------------------------------------
# A Dense / EinsumDense / Embedding model under keras.distribution.ModelParallel.


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    dump = tmp_path_factory.mktemp("hlo")
    env = dict(os.environ, KERAS_BACKEND="jax")
    env["XLA_FLAGS"] = (
        "--xla_force_host_platform_device_count=8 "
        f"--xla_dump_to={dump} --xla_dump_hlo_as_text"
    )
    worker = os.path.join(os.path.dirname(__file__), "keras_layout_worker.py")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, worker, str(dump)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_model_weights_are_jinits_values_sharded_by_the_layout_map(built):
    want = {
        "embed/embeddings": ["model", "data"],
        "up/kernel": ["data", "model"],
        "heads/kernel": [None, "model", "data"],
        "down/kernel": ["model"],  # JAX drops trailing Nones
        "norm/kernel": [None, "model"],
    }
    weights = built["weights"]
    for path, spec in want.items():
        weight = weights[path]
        assert weight["spec"] == spec, (path, weight)
        shards = [
            n // (8 // 4 if axis == "data" else 8 // 2) if axis else n
            for n, axis in zip(weight["shape"], spec + [None] * 3, strict=False)
        ]
        assert weight["shard_shapes"] == [shards], (path, weight)
    for path, weight in weights.items():
        assert weight["jinit_unsharded"], path  # bit for bit (= Keras' values)


def test_no_compiled_array_is_larger_than_one_shard(built):
    """No full-size (nor half-size) intermediate: each draw makes only its shard."""
    largest_shard = 24 * 20  # embed/embeddings and down/kernel's shards
    assert built["compiled"], "no HLO dumped"
    too_big = {k: v for k, v in built["compiled"].items() if v > largest_shard}
    assert not too_big, too_big
