"""A bias under ``stacked=`` gets the per-layer law of its own layer (issue #26).

A MoE layer's kernel ``(E, in, out)`` made by one call records fans
``(E * in, E * out)`` (Flax reads E as a receptive field), and its bias
``(E, out)`` records the same. With ``stacked=`` making E a batch axis, each
expert is a layer of fans ``(in, out)``: the kernel got them, and its bias must
too (it raised before: the bias's default fan axes were taken for its call's).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jinit
import jinit.flax as jf
import jinit.torch as jt
from tests.test_tree import documented_key

nn = pytest.importorskip("flax.linen")
pytestmark = pytest.mark.standard_promotion  # Flax layers' internals

E, IN, OUT = 4, 12, 40
KEY = jax.random.key(5)


class Experts(nn.Module):
    @nn.compact
    def __call__(self, x):
        k = self.param("kernel", nn.initializers.lecun_normal(), (E, IN, OUT))
        b = self.param("bias", nn.initializers.zeros, (E, OUT))
        return jnp.einsum("bi,eio->beo", x, k) + b


# PyTorch's module law: a bias is U(+-1/sqrt(fan_in)) with its layer's fan_in.
TORCH = {".*": jinit.PerLeaf("torch", lambda p, lv: jt.module_law(lv[p].signature))}


@pytest.fixture(scope="module")
def abstract():
    return jf.abstract(Experts(), jnp.ones((2, IN)))["params"]


def fans(abstract, stacked):
    rows = jinit.table(abstract, TORCH, stacked=stacked)
    return {r["path"]: (r["fan_in"], r["fan_out"]) for r in rows}


def test_stacked_bias_has_its_experts_fans(abstract):
    assert fans(abstract, None)["bias"] == (E * IN, E * OUT)  # one layer, as Flax
    assert fans(abstract, {".*": 0}) == {"kernel": (IN, OUT), "bias": (IN, OUT)}
    # A bias stacked alone: its layer (the kernel, drawn whole) keeps its fans.
    assert fans(abstract, {"bias": 0})["bias"] == (E * IN, E * OUT)


def test_stacked_bias_draws_the_per_layer_law_sharded_or_not(abstract):
    want = jt.bias_default(fan_in=IN)(documented_key(KEY, "bias"), (E, OUT))
    mesh = jax.make_mesh(
        (2, 4), ("a", "b"), axis_types=(jax.sharding.AxisType.Auto,) * 2
    )
    shardings = {"kernel": None, "bias": NamedSharding(mesh, P("a", "b"))}
    for sh in (None, shardings):
        out = jinit.materialize(abstract, KEY, TORCH, stacked={".*": 0}, shardings=sh)
        np.testing.assert_array_equal(np.asarray(out["bias"]), np.asarray(want))
