"""Partitioned ``nn.DenseGeneral`` kernels of 3+ axes (flax #3676).

Flax calls a DenseGeneral's ``kernel_init`` with the kernel flattened to 2-D, and
reshapes the value afterwards, so ``nn.with_partitioning`` with the stored axes'
names cannot be used. ``jf.linen_partitioning`` and
``jf.linen_logical_partitioning`` take the stored axes' names: the kernel is
sharded by them, with the values (and fans) of the unpartitioned module.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

import jinit
import jinit.flax as jf

nn = pytest.importorskip("flax.linen")

X = jnp.ones((3, 4, 32))  # (batch, heads, head_dim) into (8, 16): a 4-D kernel
KEY = jax.random.key(9)
NAMES = ("data", None, "model", None)
LOGICAL = ("heads", "kv", "embed", None)
RULES = [("heads", "data"), ("embed", "model")]


@pytest.fixture(scope="module")
def mesh():
    devices = np.asarray(jax.devices()[:8]).reshape(2, 4)
    return jax.sharding.Mesh(
        devices, ("data", "model"), axis_types=(jax.sharding.AxisType.Auto,) * 2
    )


def dense(kernel_init):
    return nn.DenseGeneral((8, 16), axis=(-2, -1), kernel_init=kernel_init)


def bits(x):
    return np.asarray(x).view(np.uint32)


@pytest.fixture(scope="module")
def plain():
    params = dense(jinit.lecun_normal()).init(jax.random.key(3), X)["params"]
    return params["kernel"]


def partitioned(kind, mesh):
    if kind == "mesh":
        return jf.linen_partitioning(jinit.lecun_normal(), NAMES, mesh)
    return jf.linen_logical_partitioning(jinit.lecun_normal(), LOGICAL, mesh, RULES)


@pytest.mark.parametrize("kind", ["mesh", "logical"])
def test_a_4d_kernel_is_sharded_by_its_stored_axes(kind, mesh, plain):
    model = dense(partitioned(kind, mesh))
    abstract = jax.eval_shape(model.init, jax.random.key(3), X)
    if kind == "mesh":
        shardings = nn.get_sharding(abstract, mesh)
    else:
        specs = nn.get_partition_spec(abstract)
        shardings = nn.logical_to_mesh_sharding(specs, mesh, RULES)
    jitted = jax.jit(model.init, out_shardings=shardings)
    boxed = jitted(jax.random.key(3), X)["params"]["kernel"]
    assert type(boxed) is (
        nn.Partitioned if kind == "mesh" else nn.LogicallyPartitioned
    )
    kernel = boxed.value
    assert kernel.shape == (4, 32, 8, 16)
    assert kernel.sharding.spec == P(*NAMES)
    assert {s.data.shape for s in kernel.addressable_shards} == {(2, 32, 2, 16)}
    np.testing.assert_array_equal(bits(kernel), bits(plain))  # Flax's fans, bits
    # XLA partitions the flat draw: no program holds the whole kernel.
    hlo = jitted.lower(jax.random.key(3), X).compile().as_text()
    sizes = [
        int(np.prod([int(d) for d in dims.split(",")]))
        for dims in re.findall(r"[fu]32\[([0-9,]+)\]", hlo)
    ]
    assert max(sizes) < plain.size
    # Eagerly too: Flax unboxes with the stored names.
    eager = model.init(jax.random.key(3), X)
    kernel = nn.unbox(eager)["params"]["kernel"]
    assert kernel.sharding.spec == P(*NAMES)
    np.testing.assert_array_equal(bits(kernel), bits(plain))


def test_more_names_than_axes_outside_dense_general_is_an_error(mesh):
    init = jf.linen_partitioning(jinit.lecun_normal(), NAMES, mesh)
    with pytest.raises(ValueError, match="`names` must be one entry per axis"):
        nn.Dense(16, kernel_init=init).init(jax.random.key(0), jnp.ones((2, 8)))


@pytest.mark.parametrize("kind", ["jinit", "flax"])
def test_abstract_sees_through_the_partitioning_to_the_declared_init(kind, mesh):
    """jf.abstract of a partitioned kernel (given a mesh): declared() draws its law."""
    if kind == "jinit":
        model = dense(partitioned("mesh", mesh))
    else:  # Flax's own box on a 2-D Dense
        init = nn.with_partitioning(jinit.lecun_normal(), ("data", "model"), mesh)
        model = nn.Dense(16, kernel_init=init, use_bias=False)
    abstract = jf.abstract(model, X)
    kernel = abstract["params"]["kernel"].unbox(apply_constraint=False)
    assert kernel.signature.init == jinit.lecun_normal()
    shardings = nn.get_sharding(abstract, mesh)
    out = jinit.materialize(abstract, KEY, {".*": jf.declared()}, shardings=shardings)
    want = jinit.materialize(abstract, KEY, {".*": jinit.lecun_normal()})
    value = out["params"]["kernel"].value
    assert value.sharding.spec == shardings["params"]["kernel"].spec
    np.testing.assert_array_equal(bits(value), bits(want["params"]["kernel"].value))
