"""Every parameter-owning Flax module, plain and stacked: jinit draws Flax's own law.

One "zoo" model holds one of each module of ``flax.linen`` (and one of
``flax.nnx``) that owns parameters; the registry below is checked against the
modules Flax exports, so a new Flax module fails here until it has a row. Each
zoo is initialized by Flax itself and by ``jinit.materialize(
jinit.flax.abstract(...), key, jinit.flax.defaults("flax"))``, plain, under
``nn.scan``/``nn.vmap`` (linen) and ``nnx.vmap`` (nnx), over many keys, and
every parameter's values are compared:

* a constant (zeros, ones) must be the same constant exactly;
* a random law must have the same std (relative error within 6 standard errors:
  the std of a sample of n values from a law of kurtosis k has relative standard
  error sqrt((k - 1) / (4 n)); k <= 3 for every law here, so 6 * sqrt(2 / (4 n)))
  and pass a two-sample KS test at p > 1e-6 (a few hundred leaves are compared,
  so the chance of any false alarm stays below 1e-3; fixed keys fix the outcome).

The errors this catches are the ones found in real models: fans read off a
stacked axis (3.5x too small at 12 layers) or a reshaped kernel (2.8x).
"""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402
from jinit._tree import path_string  # noqa: E402

pytestmark = [
    pytest.mark.standard_promotion,  # Flax layers' internals
    # Flax announces SelfAttention's deprecation; it is still exported, so covered.
    pytest.mark.filterwarnings("ignore:SelfAttention will be deprecated"),
]

KEYS = 24  # independent inits per model: n = 24 * (values per leaf)

# ----------------------------------------------------------------------------
# linen: one row per module class that owns parameters.

X = jnp.ones((2, 48))
IMG = jnp.ones((2, 6, 6, 8))
SEQ = jnp.ones((2, 5, 48))
TOK = jnp.zeros((2, 5), jnp.int32)


def _cell(cell, x):
    carry = cell.initialize_carry(jax.random.key(0), x.shape)
    return cell(carry, x)


LINEN = {
    "Dense": lambda: nn.Dense(64)(X),
    "DenseGeneral": lambda: nn.DenseGeneral((4, 16))(X),
    "Einsum": lambda: nn.Einsum((48, 4, 16), "bi,ihd->bhd")(X),
    "Conv": lambda: nn.Conv(32, (3, 3))(IMG),
    "ConvTranspose": lambda: nn.ConvTranspose(32, (3, 3))(IMG),
    "ConvLocal": lambda: nn.ConvLocal(4, (3, 3), padding="VALID")(IMG),
    "Embed": lambda: nn.Embed(500, 64)(TOK),
    "MultiHeadDotProductAttention": lambda: nn.MultiHeadDotProductAttention(
        4, qkv_features=64
    )(SEQ),
    "MultiHeadAttention": lambda: nn.MultiHeadAttention(4, qkv_features=64)(SEQ),
    "SelfAttention": lambda: nn.SelfAttention(4, qkv_features=64)(SEQ),
    "LayerNorm": lambda: nn.LayerNorm()(SEQ),
    "RMSNorm": lambda: nn.RMSNorm()(SEQ),
    "GroupNorm": lambda: nn.GroupNorm(num_groups=4)(IMG),
    "InstanceNorm": lambda: nn.InstanceNorm()(IMG),
    "BatchNorm": lambda: nn.BatchNorm(use_running_average=False)(IMG),
    "PReLU": lambda: nn.PReLU()(X),
    "LSTMCell": lambda: _cell(nn.LSTMCell(32), X),
    "OptimizedLSTMCell": lambda: _cell(nn.OptimizedLSTMCell(32), X),
    "GRUCell": lambda: _cell(nn.GRUCell(32), X),
    "MGUCell": lambda: _cell(nn.MGUCell(32), X),
    "SimpleCell": lambda: _cell(nn.SimpleCell(32), X),
    "ConvLSTMCell": lambda: _cell(nn.ConvLSTMCell(8, (3, 3)), IMG),
    "RNN": lambda: nn.RNN(nn.GRUCell(32))(SEQ),
    "Bidirectional": lambda: nn.Bidirectional(
        nn.RNN(nn.SimpleCell(32)), nn.RNN(nn.SimpleCell(32))
    )(SEQ),
    "WeightNorm": lambda: nn.WeightNorm(nn.Dense(64))(X),
    "SpectralNorm": lambda: nn.SpectralNorm(nn.Dense(64))(X, update_stats=False),
}
#: Exported modules that own no parameters of their own, and why.
LINEN_WITHOUT_PARAMS = {
    "Module": "the base class",
    "RNNCellBase": "the base class of the cells",
    "Dropout": "no variables",
    "Sequential": "a container: its layers' rows cover it",
    "Fp8DotGeneralOp": "fp8 scales only (the overwrite_with_gradient collection)",
    "Fp8DirectDotGeneralOp": "fp8 scales only",
    "NANOOFp8DotGeneralOp": "fp8 scales only",
    "Fp8DotGeneral": "fp8 scales only",
    "Fp8Einsum": "fp8 scales only",
}


class _Row(nn.Module):
    row: str

    @nn.compact
    def __call__(self):
        LINEN[self.row]()


class LinenZoo(nn.Module):
    """Every row, each under its own name (``params/Dense/Dense_0/kernel``)."""

    @nn.compact
    def __call__(self, carry, _):
        for name in LINEN:
            _Row(name, name=name)()
        return carry, None


def _public_modules(namespace, base):
    return {
        name
        for name in dir(namespace)
        if inspect.isclass(getattr(namespace, name))
        and issubclass(getattr(namespace, name), base)
    }


def test_every_linen_module_has_a_row():
    exported = _public_modules(nn, nn.Module)
    missing = exported - set(LINEN) - set(LINEN_WITHOUT_PARAMS)
    assert not missing, f"new flax.linen modules need a row: {sorted(missing)}"


def _linen_variant(variant):
    if variant == "plain":
        return LinenZoo()
    axes = {"params": 0, "batch_stats": 0}
    if variant == "scan":
        return nn.scan(
            LinenZoo, variable_axes=axes, split_rngs={"params": True}, length=3
        )()
    return nn.vmap(
        LinenZoo,
        variable_axes=axes,
        split_rngs={"params": True},
        in_axes=(None, None),
        out_axes=(None, None),
        axis_size=2,
    )()


# ----------------------------------------------------------------------------
# nnx.


def _nnx_rows(rngs):
    return {
        "Linear": nnx.Linear(48, 64, rngs=rngs),
        "LinearGeneral": nnx.LinearGeneral(48, (4, 16), rngs=rngs),
        "Einsum": nnx.Einsum("bi,ihd->bhd", (48, 4, 16), rngs=rngs),
        "Conv": nnx.Conv(8, 32, (3, 3), rngs=rngs),
        "ConvTranspose": nnx.ConvTranspose(8, 32, (3, 3), rngs=rngs),
        "Embed": nnx.Embed(500, 64, rngs=rngs),
        "MultiHeadAttention": nnx.MultiHeadAttention(
            4, 48, qkv_features=64, decode=False, rngs=rngs
        ),
        "LayerNorm": nnx.LayerNorm(48, rngs=rngs),
        "RMSNorm": nnx.RMSNorm(48, rngs=rngs),
        "GroupNorm": nnx.GroupNorm(32, num_groups=4, rngs=rngs),
        "InstanceNorm": nnx.InstanceNorm(32, rngs=rngs),
        "BatchNorm": nnx.BatchNorm(32, rngs=rngs),
        "PReLU": nnx.PReLU(),
        "LSTMCell": nnx.LSTMCell(48, 32, rngs=rngs),
        "OptimizedLSTMCell": nnx.OptimizedLSTMCell(48, 32, rngs=rngs),
        "GRUCell": nnx.GRUCell(48, 32, rngs=rngs),
        "SimpleCell": nnx.SimpleCell(48, 32, rngs=rngs),
        "LoRA": nnx.LoRA(48, 4, 64, rngs=rngs),
        "LoRALinear": nnx.LoRALinear(48, 64, lora_rank=4, rngs=rngs),
        "WeightNorm": nnx.WeightNorm(nnx.Linear(48, 64, rngs=rngs), rngs=rngs),
        "SpectralNorm": nnx.SpectralNorm(nnx.Linear(48, 64, rngs=rngs), rngs=rngs),
    }


NNX_WITHOUT_PARAMS = {
    "Module": "the base class",
    "RNNCellBase": "the base class of the cells",
    "Dropout": "no variables",
    "Sequential": "a container",
    "List": "a container",
    "Dict": "a container",
    "RNN": "a wrapper over its cell (the cells' rows cover it)",
    "Bidirectional": "a wrapper over two RNNs",
}


def test_every_nnx_module_has_a_row():
    exported = _public_modules(nnx, nnx.Module)
    rows = set(_nnx_rows(nnx.Rngs(0)))
    missing = exported - rows - set(NNX_WITHOUT_PARAMS)
    assert not missing, f"new flax.nnx modules need a row: {sorted(missing)}"


class NnxZoo(nnx.Module):
    def __init__(self, rngs):
        self.rows = nnx.Dict(_nnx_rows(rngs))


def _make_nnx(variant):
    if variant == "plain":
        return lambda: NnxZoo(nnx.Rngs(0))

    @nnx.split_rngs(splits=3)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def stack(rngs):
        return NnxZoo(rngs)

    return lambda: stack(nnx.Rngs(0))


# ----------------------------------------------------------------------------
# The comparison.


def _flat(tree):
    flat, _ = jax.tree_util.tree_flatten_with_path(
        tree, is_leaf=lambda x: isinstance(x, nnx.Variable)
    )
    out = {}
    for p, x in flat:
        if isinstance(x, nnx.Variable):
            x = x.get_value()
        out[path_string(p)] = np.asarray(x, np.float64)
    return out


def _stacked(flats: list[dict]) -> dict:
    return {path: np.stack([f[path] for f in flats]) for path in flats[0]}


#: Leaves whose value after Flax's init is not a draw of a law but computed from
#: one: SpectralNorm's init stores the kernel divided by its estimated spectral
#: norm. jinit draws the declared law (the module normalizes it when applied).
DERIVED = ("SpectralNorm/Dense_0/kernel",)


def _compare(theirs: dict, ours: dict, where: str):
    assert set(theirs) == set(ours), where
    for path, a in theirs.items():
        b = ours[path]
        assert a.shape == b.shape, (where, path)
        if any(d in path for d in DERIVED):
            continue
        if np.ptp(a) == 0:  # a constant: the same constant, exactly
            np.testing.assert_array_equal(b, a, err_msg=f"{where} {path}")
            continue
        n = a.size
        bound = 6 * math.sqrt(2 / (4 * n))
        ratio = b.std() / a.std()
        assert abs(ratio - 1) < bound, (where, path, ratio, a.std(), b.std())
        p = stats.ks_2samp(a.ravel(), b.ravel()).pvalue
        assert p > 1e-6, (where, path, p, a.std(), b.std())


def _params_and_stats(variables):
    return {k: v for k, v in variables.items() if k in ("params", "batch_stats")}


@pytest.mark.parametrize("variant", ["plain", "scan", "vmap"])
def test_linen_flax_preset_is_flax_own_law(variant):
    model = _linen_variant(variant)
    keys = jax.random.split(jax.random.key(0), KEYS)
    init = jax.jit(lambda k: _params_and_stats(model.init(k, X, None)))
    abstract = _params_and_stats(jf.abstract(model, X, None))
    rules = jf.defaults("flax")
    theirs = _stacked([_flat(init(k)) for k in keys])
    ours = _stacked([_flat(jinit.materialize(abstract, k, rules)) for k in keys])
    _compare(theirs, ours, variant)


@pytest.mark.parametrize("variant", ["plain", "vmap"])
def test_nnx_flax_preset_is_flax_own_law(variant):
    make = _make_nnx(variant)
    _, abstract, _ = nnx.split(jf.abstract(make), nnx.Param, ...)
    rules = jf.defaults("flax")

    def own(key):
        @nnx.split_rngs(splits=3)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def stack(rngs):
            return NnxZoo(rngs)

        model = NnxZoo(nnx.Rngs(key)) if variant == "plain" else stack(nnx.Rngs(key))
        return nnx.state(model, nnx.Param)

    keys = jax.random.split(jax.random.key(0), KEYS)
    own = jax.jit(own)
    theirs = _stacked([_flat(own(k)) for k in keys])
    ours = _stacked([_flat(jinit.materialize(abstract, k, rules)) for k in keys])
    _compare(theirs, ours, variant)
