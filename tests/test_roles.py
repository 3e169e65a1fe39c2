"""jinit.roles: each leaf's role and stored axes, and its trees for optax."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

nn = pytest.importorskip("flax.linen")
optax = pytest.importorskip("optax")

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402
from jinit import mup  # noqa: E402

pytestmark = pytest.mark.standard_promotion  # optax's internals

TOK = jnp.zeros((1, 4), jnp.int32)


class Block(nn.Module):
    d: int
    heads: int

    @nn.compact
    def __call__(self, x, _):
        h = nn.RMSNorm()(x)
        q = nn.DenseGeneral((self.heads, 8), name="q")(h)
        x = x + nn.DenseGeneral(self.d, axis=(-2, -1), name="o")(q)
        return x + nn.Dense(self.d, name="mlp")(nn.RMSNorm()(x)), None


class LM(nn.Module):
    d: int = 16
    heads: int = 2

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(50, self.d)(tokens)
        stack = nn.scan(
            Block, variable_axes={"params": 0}, split_rngs={"params": True}, length=3
        )
        x, _ = stack(self.d, self.heads, name="blocks")(x, None)
        return nn.Dense(50, use_bias=False, name="head")(nn.LayerNorm()(x))


def _lm(d=16, heads=2):
    return jf.abstract(LM(d, heads), TOK)["params"]


def test_one_model_roles_and_stored_axes():
    r = jinit.roles(_lm(), readout=r"head/kernel")
    q = r["blocks/q/kernel"]  # (3, 16, 2, 8): scanned DenseGeneral
    assert (q.role, q.shape, q.stacked_axes) == ("hidden", (3, 16, 2, 8), (0,))
    assert (q.fan_in_axes, q.fan_out_axes, q.receptive_axes) == ((1,), (2, 3), ())
    o = r["blocks/o/kernel"]  # (3, 2, 8, 16)
    assert (o.fan_in_axes, o.fan_out_axes) == ((1, 2), (3,))
    assert r["blocks/q/bias"].role == "bias"
    assert r["blocks/RMSNorm_0/scale"].role == "norm"
    assert r["Embed_0/embedding"].role == "embedding"
    assert r["head/kernel"].role == "readout"
    assert r.readout_known and not jinit.roles(_lm()).readout_known
    assert all(leaf.width_axes == () and leaf.width_role is None for leaf in r.leaves)


def test_width_roles_are_mup_s():
    """``base=`` gives mup's width facts; the Parametrization holds the same roles."""
    base, target = _lm(16, 2), _lm(32, 4)
    r = jinit.roles(target, base=base)
    mp = mup.parametrize(base, target)
    assert mp.roles == r
    for p in mp.params:
        leaf = r[p.path]
        assert (leaf.width_role, leaf.infinite, leaf.width_mult) == (
            p.role,
            p.infinite,
            p.width_mult,
        )
    assert r["head/kernel"].role == "readout"  # found by width
    assert r["blocks/q/kernel"].width_axes == (1, 2)  # d and heads, not head dim
    assert r["blocks/o/kernel"].width_axes == (1, 3)
    assert r["Embed_0/embedding"].role == "embedding"
    assert r["Embed_0/embedding"].width_role == "input"


def test_plain_tree_by_names_and_optax_masks():
    """An SSM-like plain tree: no weight decay for norms, biases, dt_bias, A_log."""
    tree = {
        "in_proj": {"kernel": jnp.ones((8, 32)), "bias": jnp.ones((32,))},
        "A_log": jnp.ones((32, 4)),  # Mamba-1's: 2-D, no role by its name
        "dt_bias": jnp.ones((32,)),
        "norm": {"scale": jnp.ones((32,))},
    }
    r = jinit.roles(tree, readout=None)
    assert {p: r[p].role for p in r} == {
        "A_log": "other",
        "dt_bias": "vector",
        "in_proj/bias": "bias",
        "in_proj/kernel": "hidden",
        "norm/scale": "norm",
    }
    decay = r.mask(exclude=("norm", "bias", "vector", "other"))
    assert decay(tree) == {
        "in_proj": {"kernel": True, "bias": False},
        "A_log": False,
        "dt_bias": False,
        "norm": {"scale": False},
    }
    tx = optax.adamw(0.1, weight_decay=0.5, mask=decay)
    grads = jax.tree.map(jnp.zeros_like, tree)
    updates, _ = tx.update(grads, tx.init(tree), tree)
    assert float(updates["in_proj"]["kernel"][0, 0]) == pytest.approx(-0.05)
    assert all(
        not np.any(u)
        for p, u in jax.tree_util.tree_leaves_with_path(updates)
        if "kernel" not in str(p)
    )
    # Per-role LR factors and optax.partition's labels, on variables["params"] too.
    lr = r.by_role({"hidden": 1.0}, default=0.1)({"params": tree}["params"])
    assert lr["in_proj"] == {"kernel": 1.0, "bias": 0.1}
    assert r.labels(tree)["A_log"] == "other"
    with pytest.raises(ValueError, match="role 'other'.*'A_log'"):
        r.by_role({"hidden": 1.0})(tree)
    with pytest.raises(ValueError, match="role_names"):
        r.mask("norm", exclude=("bias",))
    with pytest.raises(ValueError, match="values"):
        r.by_role({"kernel": 1.0})


def test_named_errors():
    with pytest.raises(ValueError, match="`readout` must be a regex matching a leaf"):
        jinit.roles(_lm(), readout=r"lm_head/kernel")
    with pytest.raises(ValueError, match="`readout` must be a regex naming weights"):
        jinit.roles(_lm(), readout=r"blocks/q/bias")
    with pytest.raises(ValueError, match="`delta` must be None without a base"):
        jinit.roles(_lm(), delta=_lm())
    with pytest.raises(ValueError, match="`readout` must be given where no weight"):
        k = lambda n: {"w": {"kernel": jax.ShapeDtypeStruct((n, n), jnp.float32)}}  # noqa: E731
        jinit.roles(k(32), base=k(16))
    with pytest.raises(ValueError, match="`path`"):
        jinit.roles(_lm(), readout=None)["nope"]
