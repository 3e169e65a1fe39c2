"""Flax NNX 0.12.x with jinit: sharding metadata, eager sharding, explicit mode, tree mode.

* ``out_sharding`` metadata (and the ``sharding_names`` it was named before
  0.12.4), set by ``kernel_metadata``, ``nnx.with_partitioning`` or
  ``jf.nnx_partitioning``: :func:`jinit.flax.abstract` trees carry it, with
  Flax's eager sharding on and off, and :func:`jinit.materialize` draws into it,
  the values of the unsharded draw bit for bit;
* ``nnx.get_abstract_model`` / ``nnx.as_abstract`` trees are drawn alike;
* explicit-sharding mode, layers stacked by ``jax.vmap(spmd_axis_name=)`` (the
  Flax GSPMD guide's way), in graph and tree mode (``nnx.set_graph_mode``), and
  ``nnx.transform_metadata(partition=)`` stacks: each layer gets the per-layer
  law, the stack the model's sharding;
* tree mode on the nnx zoo of ``test_flax_signatures``: the same signatures.
"""

from __future__ import annotations

import contextlib
import functools

import jax
import numpy as np
import pytest
from jax.sharding import AxisType
from jax.sharding import PartitionSpec as P

import jinit
import jinit.flax as jf
from tests.test_tree import documented_key

nnx = pytest.importorskip("flax.nnx")
pytestmark = pytest.mark.standard_promotion  # Flax layers' internals

KEY = jax.random.key(5)
RULES = {".*kernel": jf.declared(), ".*bias": jinit.zeros}


def auto_mesh(names=("data", "model")):
    return jax.make_mesh((2, 4), names, axis_types=(AxisType.Auto,) * 2)


def flat(state):
    out = {}
    for p, x in jax.tree_util.tree_flatten_with_path(
        state, is_leaf=lambda x: isinstance(x, nnx.Variable)
    )[0]:
        value = x.get_value() if isinstance(x, nnx.Variable) else x
        out["/".join(str(getattr(k, "key", k)) for k in p)] = value
    return out


def bits(x):
    return np.asarray(x).view(np.uint32)


class Sharded(nnx.Module):
    """One kernel per way of giving the sharding."""

    def __init__(self, key, rngs):
        self.meta = nnx.Linear(
            16, 32, kernel_metadata={key: (None, "model")}, rngs=rngs
        )
        init = nnx.with_partitioning(jinit.lecun_normal(), ("model", None))
        self.flax = nnx.Linear(32, 8, kernel_init=init, rngs=rngs)
        init = jf.nnx_partitioning(jinit.he_uniform(), ("data", "model"))
        self.jinit = nnx.Linear(8, 16, kernel_init=init, rngs=rngs)


SPECS = {
    "meta/kernel": P(None, "model"),
    "flax/kernel": P("model", None),
    "jinit/kernel": P("data", "model"),
}


@pytest.mark.parametrize("eager", [True, False], ids=["eager", "lazy"])
@pytest.mark.parametrize("key", ["out_sharding", "sharding_names"])
def test_sharding_metadata_is_drawn_into(key, eager):
    mesh = auto_mesh()
    old = pytest.warns(DeprecationWarning, match="'sharding_names' is deprecated")
    with (
        jax.set_mesh(mesh),
        nnx.use_eager_sharding(eager),
        old if key == "sharding_names" else contextlib.nullcontext(),
    ):
        abstract = jf.abstract(lambda: Sharded(key, nnx.Rngs(0)))
        _, state, _ = nnx.split(abstract, nnx.Param, ...)
        out = flat(jinit.materialize(state, KEY, RULES))
    leaves = flat(state)
    plain = flat(jinit.materialize(state, KEY, RULES, shardings=lambda path: None))
    for path, spec in SPECS.items():
        assert leaves[path].signature.init is not None, path  # declared, drawn
        assert leaves[path].sharding.spec == spec, path
        assert out[path].sharding.spec == spec and out[path].sharding.mesh == mesh
        np.testing.assert_array_equal(bits(out[path]), bits(plain[path]))
    want = jinit.lecun_normal()(documented_key(KEY, "flax/kernel"), (32, 8))
    np.testing.assert_array_equal(bits(out["flax/kernel"]), bits(want))


def test_abstract_mesh_shardings_need_their_mesh():
    with jax.set_mesh(auto_mesh()):
        abstract = jf.abstract(lambda: Sharded("out_sharding", nnx.Rngs(0)))
    _, state, _ = nnx.split(abstract, nnx.Param, ...)
    with pytest.raises(ValueError, match="under jax.set_mesh of a mesh with its"):
        jinit.materialize(state, KEY, RULES)
    with jax.set_mesh(auto_mesh(("a", "b"))), pytest.raises(ValueError, match="set"):
        jinit.materialize(state, KEY, RULES)


def test_get_abstract_model_and_as_abstract_trees():
    mesh = auto_mesh()
    make = lambda: Sharded("out_sharding", nnx.Rngs(0))  # noqa: E731
    _, state = nnx.get_abstract_model(make, mesh)
    out = flat(jinit.materialize(state, KEY, {".*": jinit.lecun_normal()}))
    plain = jinit.materialize(
        state, KEY, {".*": jinit.lecun_normal()}, shardings=lambda p: None
    )
    for path, spec in SPECS.items():
        assert out[path].sharding.spec == spec
        np.testing.assert_array_equal(bits(out[path]), bits(flat(plain)[path]))
    with jax.set_mesh(mesh), nnx.use_eager_sharding(False):
        abstract = nnx.as_abstract(jf.abstract(make))
        kernel = abstract.meta.kernel.get_value()
        assert kernel.signature.shape == (16, 32)  # still signed
        assert kernel.sharding.spec == P(None, "model")


class Block(nnx.Module):
    def __init__(self, rngs, init, specs):
        kernel = functools.partial(init, out_sharding=specs[0])
        self.up = nnx.Linear(16, 32, kernel_init=kernel, rngs=rngs)
        kernel = functools.partial(init, out_sharding=specs[1])
        self.down = nnx.Linear(32, 16, kernel_init=kernel, rngs=rngs)


@pytest.mark.parametrize("graph", [True, False], ids=["graph", "tree"])
def test_explicit_mode_vmap_spmd_axis_name_stacks(graph):
    """The Flax GSPMD guide's explicit mode: each layer gets the per-layer law."""
    mesh = jax.make_mesh((2, 4), ("data", "model"), axis_types=(AxisType.Explicit,) * 2)
    init = jinit.he_normal()
    specs = (P(None, "model"), P("model", None))

    def make():
        keys = jax.random.split(jax.random.key(0), 3)
        build = lambda k: Block(nnx.Rngs(k), init, specs)  # noqa: E731
        return jax.vmap(build, spmd_axis_name="data")(keys)

    with nnx.set_graph_mode(graph), jax.set_mesh(mesh):
        own = make()
        abstract = jf.abstract(make)
        _, state, _ = nnx.split(abstract, nnx.Param, ...)
        out = flat(
            jinit.materialize(state, KEY, {".*kernel": init, ".*bias": jinit.zeros})
        )
        declared = flat(jinit.materialize(state, KEY, RULES))
    leaves = flat(state)
    for path, spec in (("up/kernel", specs[0]), ("down/kernel", specs[1])):
        sig = leaves[path].signature
        assert sig.stacked == (0,) and sig.shape == leaves[path].shape[1:]
        own_spec = getattr(own, path.split("/")[0]).kernel[...].sharding.spec
        assert out[path].sharding.spec == own_spec == P(None, *spec)
        # The per-layer law: he_normal with each layer's fans, layers batched.
        leaf_key = documented_key(KEY, path)
        want = jinit.he_normal(batch_axis=0)(leaf_key, leaves[path].shape)
        np.testing.assert_array_equal(bits(out[path]), bits(want))
        # The module's own call, once per layer, with the layer's key.
        keys = jax.random.split(leaf_key, 3)
        for layer in range(3):
            one = init(keys[layer], sig.shape)
            np.testing.assert_array_equal(bits(declared[path][layer]), bits(one))


@pytest.mark.parametrize("graph", [True, False], ids=["graph", "tree"])
def test_transform_metadata_partition_is_drawn_into(graph):
    mesh = auto_mesh(("layers", "model"))
    init = nnx.with_partitioning(jinit.lecun_normal(), (None, "model"))

    @nnx.transform_metadata(partition="layers")
    def stack(keys):
        return jax.vmap(
            lambda k: nnx.Linear(16, 32, kernel_init=init, rngs=nnx.Rngs(k))
        )(keys)

    with nnx.set_graph_mode(graph), jax.set_mesh(mesh):
        abstract = jf.abstract(lambda: stack(jax.random.split(jax.random.key(0), 2)))
        _, state, _ = nnx.split(abstract, nnx.Param, ...)
        out = flat(jinit.materialize(state, KEY, RULES))
    leaf = flat(state)["kernel"]
    assert leaf.signature.stacked == (0,) and leaf.sharding.spec == P(
        "layers", None, "model"
    )
    assert out["kernel"].sharding.spec == P("layers", None, "model")
    # The declared law per layer: lecun_normal with a layer's fans, batched.
    want = jinit.lecun_normal(batch_axis=0)(documented_key(KEY, "kernel"), (2, 16, 32))
    np.testing.assert_array_equal(bits(out["kernel"]), bits(want))


def test_tree_mode_gives_the_zoo_the_same_signatures():
    from tests.test_flax_signatures import NnxZoo

    def signatures():
        abstract = jf.abstract(lambda: NnxZoo(nnx.Rngs(0)))
        _, state, _ = nnx.split(abstract, nnx.Param, ...)
        return {p: getattr(x, "signature", None) for p, x in flat(state).items()}

    graph = signatures()
    with nnx.set_graph_mode(False):
        tree = signatures()
    assert graph == tree
    assert sum(s is not None for s in tree.values()) > 30
