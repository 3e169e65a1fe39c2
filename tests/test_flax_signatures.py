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

from helpers import REFERENCE_COMPILE  # noqa: E402

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


NNX = {
    "Linear": lambda rngs: nnx.Linear(48, 64, rngs=rngs),
    "LinearGeneral": lambda rngs: nnx.LinearGeneral(48, (4, 16), rngs=rngs),
    "Einsum": lambda rngs: nnx.Einsum("bi,ihd->bhd", (48, 4, 16), rngs=rngs),
    "Conv": lambda rngs: nnx.Conv(8, 32, (3, 3), rngs=rngs),
    "ConvTranspose": lambda rngs: nnx.ConvTranspose(8, 32, (3, 3), rngs=rngs),
    "Embed": lambda rngs: nnx.Embed(500, 64, rngs=rngs),
    "MultiHeadAttention": lambda rngs: nnx.MultiHeadAttention(
        4, 48, qkv_features=64, decode=False, rngs=rngs
    ),
    "LayerNorm": lambda rngs: nnx.LayerNorm(48, rngs=rngs),
    "RMSNorm": lambda rngs: nnx.RMSNorm(48, rngs=rngs),
    "GroupNorm": lambda rngs: nnx.GroupNorm(32, num_groups=4, rngs=rngs),
    "InstanceNorm": lambda rngs: nnx.InstanceNorm(32, rngs=rngs),
    "BatchNorm": lambda rngs: nnx.BatchNorm(32, rngs=rngs),
    "PReLU": lambda rngs: nnx.PReLU(),
    "LSTMCell": lambda rngs: nnx.LSTMCell(48, 32, rngs=rngs),
    "OptimizedLSTMCell": lambda rngs: nnx.OptimizedLSTMCell(48, 32, rngs=rngs),
    "GRUCell": lambda rngs: nnx.GRUCell(48, 32, rngs=rngs),
    "SimpleCell": lambda rngs: nnx.SimpleCell(48, 32, rngs=rngs),
    "LoRA": lambda rngs: nnx.LoRA(48, 4, 64, rngs=rngs),
    "LoRALinear": lambda rngs: nnx.LoRALinear(48, 64, lora_rank=4, rngs=rngs),
    "WeightNorm": lambda rngs: nnx.WeightNorm(nnx.Linear(48, 64, rngs=rngs), rngs=rngs),
    "SpectralNorm": lambda rngs: nnx.SpectralNorm(
        nnx.Linear(48, 64, rngs=rngs), rngs=rngs
    ),
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
    missing = exported - set(NNX) - set(NNX_WITHOUT_PARAMS)
    assert not missing, f"new flax.nnx modules need a row: {sorted(missing)}"


class NnxZoo(nnx.Module):
    def __init__(self, rngs):
        self.rows = nnx.Dict({name: build(rngs) for name, build in NNX.items()})


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
    init = jax.jit(
        lambda k: _params_and_stats(model.init(k, X, None)),
        compiler_options=REFERENCE_COMPILE,
    )
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
    own = jax.jit(own, compiler_options=REFERENCE_COMPILE)
    theirs = _stacked([_flat(own(k)) for k in keys])
    ours = _stacked([_flat(jinit.materialize(abstract, k, rules)) for k in keys])
    _compare(theirs, ours, variant)


# ----------------------------------------------------------------------------
# defaults("torch") against torch.nn itself: the bounds torch's modules use.


def _torch_bounds(make):
    """{param name: the law's std} from the init calls torch's module makes."""
    torch = pytest.importorskip("torch")
    laws = {}
    uniform, normal = torch.Tensor.uniform_, torch.Tensor.normal_
    torch.manual_seed(0)

    def spy_uniform(self, a=0.0, b=1.0, *args, **kwargs):
        laws[id(self)] = (b - a) / math.sqrt(12)
        return uniform(self, a, b, *args, **kwargs)

    def spy_normal(self, mean=0.0, std=1.0, *args, **kwargs):
        laws[id(self)] = std
        return normal(self, mean, std, *args, **kwargs)

    torch.Tensor.uniform_, torch.Tensor.normal_ = spy_uniform, spy_normal
    try:
        module = make(torch.nn)
    finally:
        torch.Tensor.uniform_, torch.Tensor.normal_ = uniform, normal
    out = {}
    for name, p in module.named_parameters():
        if not p.detach().any():
            out[name] = 0.0  # zeroed after its draw (attention biases)
        elif id(p) in laws:
            out[name] = laws[id(p)]
    return out


class _Scanned(nn.Module):
    @nn.compact
    def __call__(self, x, _):
        return nn.Dense(256)(x), None


class _TorchZoo(nn.Module):
    @nn.compact
    def __call__(self, x, seq, img, tok):
        x, _ = nn.scan(
            _Scanned,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            length=12,
        )()(x, None)
        _cell(nn.GRUCell(32, name="gru"), seq[:, 0])
        _cell(nn.LSTMCell(32, name="lstm"), seq[:, 0])
        nn.ConvTranspose(32, (3, 3), name="deconv")(img)
        nn.Conv(32, (3, 3), name="conv")(img)
        nn.MultiHeadDotProductAttention(4, name="attn")(jnp.ones((2, 5, 64)))
        nn.Embed(500, 64, name="embed")(tok)
        return x


def test_torch_preset_matches_torch_nn_in_every_layout():
    abstract = jf.abstract(_TorchZoo(), jnp.ones((2, 256)), SEQ, IMG, TOK)
    rows = {r["path"]: r for r in jf.table(abstract, jf.defaults("torch"))}
    linear = _torch_bounds(lambda tnn: tnn.Linear(256, 256))
    gru = _torch_bounds(lambda tnn: tnn.GRU(48, 32))
    lstm = _torch_bounds(lambda tnn: tnn.LSTM(48, 32))
    deconv = _torch_bounds(lambda tnn: tnn.ConvTranspose2d(8, 32, 3))
    conv = _torch_bounds(lambda tnn: tnn.Conv2d(8, 32, 3))
    attn = _torch_bounds(lambda tnn: tnn.MultiheadAttention(64, 4))
    embed = _torch_bounds(lambda tnn: tnn.Embedding(500, 64))
    p = "params/"
    cases = {
        # nn.scan-stacked Dense: per-layer fan_in 256, not 12 * 256.
        p + "Scan_Scanned_0/Dense_0/kernel": linear["weight"],
        p + "Scan_Scanned_0/Dense_0/bias": linear["bias"],
        # Every GRU/LSTM weight and bias: U(+-1/sqrt(hidden)).
        p + "gru/ir/kernel": gru["weight_ih_l0"],
        p + "gru/ir/bias": gru["bias_ih_l0"],
        p + "gru/hn/kernel": gru["weight_hh_l0"],
        p + "gru/hn/bias": gru["bias_hh_l0"],
        p + "lstm/ii/kernel": lstm["weight_ih_l0"],
        p + "lstm/hf/kernel": lstm["weight_hh_l0"],
        p + "lstm/hf/bias": lstm["bias_hh_l0"],
        # ConvTranspose: torch's fan_in is the output channels times the taps.
        p + "deconv/kernel": deconv["weight"],
        p + "deconv/bias": deconv["bias"],
        p + "conv/kernel": conv["weight"],
        p + "conv/bias": conv["bias"],
        p + "attn/query/kernel": attn["in_proj_weight"],
        p + "attn/query/bias": attn["in_proj_bias"],
        p + "attn/out/kernel": attn["out_proj.weight"],
        p + "attn/out/bias": attn["out_proj.bias"],
        p + "embed/embedding": embed["weight"],
    }
    for path, std in cases.items():
        assert rows[path]["std"] == pytest.approx(std, rel=1e-12), path
    # The stacked leaf drawn: each of the 12 layers has the per-layer law.
    # (its subtree alone: a leaf's key comes from its path, not from the others)
    scanned = {"params": {"Scan_Scanned_0": abstract["params"]["Scan_Scanned_0"]}}
    params = jinit.materialize(scanned, jax.random.key(0), jf.defaults("torch"))
    w = np.asarray(params["params"]["Scan_Scanned_0"]["Dense_0"]["kernel"])
    assert w.shape == (12, 256, 256)
    assert abs(w.std() / linear["weight"] - 1) < 6 * math.sqrt(0.8 / (4 * w.size))
    assert np.abs(w).max() <= 1 / 16


def test_torch_preset_on_nnx_packed_cells():
    def make():
        rngs = nnx.Rngs(0)
        return nnx.Dict(
            lstm=nnx.OptimizedLSTMCell(48, 32, rngs=rngs),
            gru=nnx.GRUCell(48, 32, rngs=rngs),
        )

    _, abstract, _ = nnx.split(jf.abstract(make), nnx.Param, ...)
    rows = {r["path"]: r for r in jf.table(abstract, jf.defaults("torch"))}
    bound = _torch_bounds(lambda tnn: tnn.LSTM(48, 32))["weight_ih_l0"]
    for path in (
        "lstm/dense_i/kernel",
        "lstm/dense_h/kernel",
        "lstm/dense_h/bias",
        "gru/dense_i/kernel",
        "gru/dense_i/bias",
        "gru/dense_h/kernel",
    ):
        assert rows[path]["std"] == pytest.approx(bound, rel=1e-12), path


# ----------------------------------------------------------------------------
# The bit promise, with signatures.


class _Layouts(nn.Module):
    @nn.compact
    def __call__(self, x):
        nn.Dense(32, name="dense")(x)
        nn.DenseGeneral((4, 8), name="general")(x)
        nn.scan(
            _Scanned, variable_axes={"params": 0}, split_rngs={"params": True}, length=3
        )()(jnp.ones((2, 256)), None)
        return nn.vmap(
            nn.Dense,
            variable_axes={"params": 1},
            split_rngs={"params": True},
            in_axes=None,
            axis_size=5,
        )(16, name="ensemble")(x)


def _leaf(tree, path):
    for k in path.split("/"):
        tree = tree[k]
    return tree


def test_signed_leaves_equal_their_initializer_at_the_call_shape():
    x = jnp.ones((2, 48))
    abstract = jf.abstract(_Layouts(), x)
    key = jax.random.key(5)
    rules = {".*kernel": jinit.lecun_normal(), ".*bias": jinit.normal(0.1)}
    params = jinit.materialize(abstract, key, rules)
    lecun = jinit.lecun_normal()

    def alone(path, init, shape):
        return init(jinit._tree.leaf_key(key, path), shape)

    # Unstacked, called as stored: today's values, bit for bit.
    path = "params/dense/kernel"
    np.testing.assert_array_equal(_leaf(params, path), alone(path, lecun, (48, 32)))
    # The same leaf of the unsigned tree (jax.eval_shape): keys come from paths,
    # so its subtree alone draws it (one small compile, not the whole tree's).
    unsigned = jax.eval_shape(_Layouts().init, jax.random.key(0), x)
    dense = {"params": {"dense": unsigned["params"]["dense"]}}
    plain = jinit.materialize(dense, key, rules, stacked={})
    assert not isinstance(dense["params"]["dense"]["kernel"], jinit._signature.Abstract)
    np.testing.assert_array_equal(_leaf(params, path), _leaf(plain, path))
    # DenseGeneral: the 2-D call, reshaped into the stored (48, 4, 8).
    path = "params/general/kernel"
    want = alone(path, lecun, (48, 32)).reshape(48, 4, 8)
    np.testing.assert_array_equal(_leaf(params, path), want)
    # nn.scan: one draw of (3, 256, 256) with the layers as a batch axis.
    path = "params/Scan_Scanned_0/Dense_0/kernel"
    batched = jinit.lecun_normal(in_axis=1, out_axis=2, batch_axis=0)
    np.testing.assert_array_equal(
        _leaf(params, path), alone(path, batched, (3, 256, 256))
    )
    # nn.vmap with variable_axes 1: drawn (5, 48, 16), stored (48, 5, 16).
    path = "params/ensemble/kernel"
    want = np.moveaxis(alone(path, batched, (5, 48, 16)), 0, 1)
    np.testing.assert_array_equal(_leaf(params, path), want)
    path = "params/ensemble/bias"  # a law without fans: drawn as the stack
    np.testing.assert_array_equal(
        _leaf(params, path), np.moveaxis(alone(path, jinit.normal(0.1), (5, 16)), 0, 1)
    )
    # Structured laws are called per layer, each with its own key.
    ortho = jinit.materialize(
        abstract,
        key,
        {".*/Scan_Scanned_0/.*kernel": jinit.orthogonal()},
        default=jinit.zeros,
    )
    w = _leaf(ortho, "params/Scan_Scanned_0/Dense_0/kernel")
    keys = jax.random.split(
        jinit._tree.leaf_key(key, "params/Scan_Scanned_0/Dense_0/kernel"), 3
    )
    for layer in range(3):
        want = jinit.orthogonal()(keys[layer], (256, 256))
        np.testing.assert_allclose(w[layer], want, atol=2e-6)


class _Declared(nn.Module):
    @nn.compact
    def __call__(self, x, _):
        dense = nn.Dense(64, kernel_init=nn.initializers.orthogonal(), name="d")
        return dense(x), None


def test_declared_draws_each_module_s_own_initializer_per_layer():
    model = nn.scan(
        _Declared, variable_axes={"params": 0}, split_rngs={"params": True}, length=4
    )()
    abstract = jf.abstract(model, jnp.ones((2, 64)), None)
    params = jinit.materialize(abstract, jax.random.key(0), {".*": jf.declared()})
    w = np.asarray(params["params"]["d"]["kernel"])
    assert w.shape == (4, 64, 64)
    for layer in w:  # each layer orthogonal, as the module declared
        np.testing.assert_allclose(layer.T @ layer, np.eye(64), atol=2e-5)
    assert not np.allclose(w[0], w[1])
    assert not params["params"]["d"]["bias"].any()  # its zeros
    with pytest.raises(ValueError, match="jinit.flax.abstract"):
        jinit.materialize(
            {"w": jax.ShapeDtypeStruct((2, 2), jnp.float32)},
            jax.random.key(0),
            {".*": jf.declared()},
        )


def test_nnx_scan_built_layers():
    def make(seed=0):
        @nnx.split_rngs(splits=4)
        @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=(nnx.Carry, 0), length=4)
        def build(carry, rngs):
            return carry, nnx.Linear(128, 128, rngs=rngs)

        return build(0, nnx.Rngs(seed))[1]

    _, abstract, _ = nnx.split(jf.abstract(make), nnx.Param, ...)
    assert abstract["kernel"].get_value().signature.stacked == (0,)
    ours = jinit.materialize(abstract, jax.random.key(0), jf.defaults("flax"))
    theirs = nnx.state(make(1), nnx.Param)
    _compare(_flat(theirs), _flat(ours), "nnx.scan")
