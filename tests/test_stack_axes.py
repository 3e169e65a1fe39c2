"""Stacks on any axis (MaxText's ``param_scan_axis: 1``) and MoE experts as batch axes.

Each layer or expert of a stacked leaf gets the law of one layer (its own fans),
checked bit for bit against the per-layer law: the rule with the stacked axes as
its batch axes, drawn with the leaf's documented key, laid out as stored.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
import jinit.flax as jf
from tests.test_tree import documented_key

nn = pytest.importorskip("flax.linen")
pytestmark = pytest.mark.standard_promotion  # Flax layers' internals

KEY = jax.random.key(11)
S = jax.ShapeDtypeStruct
LAW = jinit.lecun_normal()


def bits(x):
    return np.asarray(x).view(np.uint32)


def per_layer(path, shape, batch, stacked=None):
    """The per-layer law: LAW with ``batch`` as batch axes, stacked axes moved."""
    out = jinit.lecun_normal(batch_axis=batch)(documented_key(KEY, path), shape)
    return out if stacked is None else jnp.moveaxis(out, batch, stacked)


# ----------------------------------------------------------------------------
# MaxText: nn.scan with variable_axes={"params": 1}.


class Mlp(nn.Module):
    @nn.compact
    def __call__(self, x, _):
        names = ("embed", "mlp")
        init = nn.with_logical_partitioning(nn.initializers.lecun_normal(), names)
        x = nn.Dense(32, kernel_init=init, use_bias=False, name="wi")(x)
        init = nn.with_logical_partitioning(nn.initializers.lecun_normal(), names[::-1])
        return nn.Dense(8, kernel_init=init, use_bias=False, name="wo")(x), None


def scanned(layers):
    return nn.scan(
        Mlp,
        variable_axes={"params": 1},  # MaxText's param_scan_axis
        split_rngs={"params": True},
        length=layers,
        metadata_params={nn.PARTITION_NAME: "layers"},
    )()


@pytest.mark.parametrize("layers", [8, 5], ids=["as-wide-as-embed", "other"])
def test_scan_on_axis_1_gets_the_per_layer_law(layers):
    """With 8 layers the stored wi (8, 8, 32) reads two ways; the names decide."""
    model = scanned(layers)
    x = jnp.ones((2, 8))
    abstract = jf.abstract(model, x, None)["params"]
    wi = abstract["wi"]["kernel"].unbox()
    assert wi.shape == (8, layers, 32) and wi.signature.stacked == (1,)
    out = nn.unbox(jinit.materialize(abstract, KEY, {".*": LAW}))
    for name, shape in (("wi", (layers, 8, 32)), ("wo", (layers, 32, 8))):
        want = per_layer(f"{name}/kernel", shape, 0, 1)
        np.testing.assert_array_equal(bits(out[name]["kernel"]), bits(want))
    # A plain tree told the same axis gets the same values.
    plain = {k: S(v["kernel"].unbox().shape, jnp.float32) for k, v in abstract.items()}
    plain = {k: {"kernel": v} for k, v in plain.items()}
    again = jinit.materialize(plain, KEY, {".*": LAW}, stacked={".*": 1})
    np.testing.assert_array_equal(
        bits(again["wi"]["kernel"]), bits(out["wi"]["kernel"])
    )


# ----------------------------------------------------------------------------
# MoE experts: (E, in, out), HF v5's (E, out, in), and MaxText's scanned (E, L, in, out).


def test_moe_experts_of_a_plain_tree_are_batch_axes():
    tree = {
        "moe": {"wi": S((4, 16, 24), jnp.float32)},  # (E, in, out)
        "hf": {"gate_up_proj": S((4, 48, 16), jnp.float32)},  # (E, out, in)
        "scan": {"wi": S((4, 3, 16, 24), jnp.float32)},  # (E, L, in, out)
    }
    torch_like = jinit.lecun_normal(in_axis=-1, out_axis=-2)
    rules = {"(moe|scan)/.*": LAW, "hf/.*": torch_like}
    stacked = {"(moe|hf)/.*": 0, "scan/.*": (0, 1)}
    out = jinit.materialize(tree, KEY, rules, stacked=stacked)
    np.testing.assert_array_equal(
        bits(out["moe"]["wi"]), bits(per_layer("moe/wi", (4, 16, 24), 0))
    )
    np.testing.assert_array_equal(
        bits(out["scan"]["wi"]), bits(per_layer("scan/wi", (4, 3, 16, 24), (0, 1)))
    )
    key = documented_key(KEY, "hf/gate_up_proj")
    want = jinit.lecun_normal(in_axis=-1, out_axis=-2, batch_axis=0)(key, (4, 48, 16))
    np.testing.assert_array_equal(bits(out["hf"]["gate_up_proj"]), bits(want))
    rows = {r["path"]: r for r in jinit.table(tree, rules, stacked=stacked)}
    assert [rows[p]["fan_in"] for p in ("moe/wi", "hf/gate_up_proj", "scan/wi")] == [
        16,
        16,
        16,
    ]


class Experts(nn.Module):
    """A MoE layer whose experts' kernel is made by one call (E, in, out)."""

    @nn.compact
    def __call__(self, x, _=None):
        wi = self.param("wi", nn.initializers.lecun_normal(), (4, 16, 24))
        return x + jnp.einsum("bi,eio->bo", x, wi)[:, :16], None


def test_moe_experts_of_a_signed_leaf_are_batch_axes():
    x = jnp.ones((2, 16))
    abstract = jf.abstract(Experts(), x)["params"]
    # Flax's own law reads E as a receptive field: fan_in 4 * 16.
    (row,) = jinit.table(abstract, {".*": LAW})
    assert row["fan_in"] == 64
    out = jinit.materialize(abstract, KEY, {".*": LAW}, stacked={"wi": 0})
    np.testing.assert_array_equal(
        bits(out["wi"]), bits(per_layer("wi", (4, 16, 24), 0))
    )
    (row,) = jinit.table(abstract, {".*": LAW}, stacked={"wi": 0})
    assert row["fan_in"] == 16 and row["stacked"] == (0,)
    # Scanned on axis 1 (E, L, in, out): the experts are added to the layers.
    model = nn.scan(
        Experts, variable_axes={"params": 1}, split_rngs={"params": True}, length=3
    )()
    abstract = jf.abstract(model, x, None)["params"]
    assert abstract["wi"].signature.stacked == (1,)
    out = jinit.materialize(abstract, KEY, {".*": LAW}, stacked={"wi": 0})
    want = per_layer("wi", (4, 3, 16, 24), (0, 1))
    np.testing.assert_array_equal(bits(out["wi"]), bits(want))


def test_stacked_axes_a_signed_leaf_cannot_take():
    x = jnp.ones((2, 16))
    abstract = jf.abstract(Experts(), x)["params"]
    with pytest.raises(ValueError, match=r"`stacked` must be axes other than the"):
        jinit.materialize(abstract, KEY, {".*": LAW}, stacked={"wi": 2})
    general = nn.DenseGeneral((4, 6), use_bias=False)
    abstract = jf.abstract(general, x)["params"]
    with pytest.raises(ValueError, match=r"reshaped.*leaf 'kernel'"):
        jinit.materialize(abstract, KEY, {".*": LAW}, stacked={"kernel": 1})
