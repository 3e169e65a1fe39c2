"""jinit.equinox against Equinox and PyTorch: layouts, presets, stacks, training.

One registry, ``LAYERS``, names every ``equinox.nn`` module class: a builder for
those that own parameters (with the PyTorch layer of the same sizes) and a
reason for the others; a new Equinox layer fails ``test_registry_is_complete``
until it has a row.

Statistics. For every parameter of every layer, under each preset, plain (one
layer drawn with many keys, ``eqx.filter_vmap`` over ``jinit.equinox.init``)
and stacked (one ``init`` of ``eqx.filter_vmap(make_layer)(keys)``), jinit's
values are compared with the library's own (Equinox's constructor over many
keys; PyTorch's layers over many seeds), n values each (up to 2**16, at least
20k): the std ratio within 5 * sqrt(2) * sqrt((kurtosis - 1) / (4n)) (two
samples, each std with relative s.e. sqrt((k - 1) / (4n))): 1.2% for a uniform
law at n = 2**16, 2% for a normal), the mean within 5 * sqrt(2) * std /
sqrt(n), and a two-sample KS p > 1e-3. Constant laws are compared exactly.
All keys and seeds are fixed.
"""

from __future__ import annotations

import functools
import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

eqx = pytest.importorskip("equinox")
torch = pytest.importorskip("torch")
optax = pytest.importorskip("optax")

from helpers import REFERENCE_COMPILE  # noqa: E402

import jinit  # noqa: E402
import jinit.equinox as je  # noqa: E402
import jinit.flax as jf  # noqa: E402

nn = eqx.nn
tnn = torch.nn
pytestmark = pytest.mark.standard_promotion  # Equinox layers' internals

N_TARGET = 2**16
N_MIN = 20_000
MAX_LAYERS = 256


def _t(x) -> np.ndarray:
    return x.detach().numpy().ravel()


def _linear_torch(n_in, n_out):
    def make():
        m = tnn.Linear(n_in, n_out)
        return {"weight": _t(m.weight), "bias": _t(m.bias)}

    return make


def _conv_torch(cls, n_in, n_out, k, groups=1):
    def make():
        m = cls(n_in, n_out, k, groups=groups)
        return {"weight": _t(m.weight), "bias": _t(m.bias)}

    return make


def _gru_torch():
    m = tnn.GRUCell(8, 128)
    h = 128
    return {
        "weight_ih": _t(m.weight_ih),
        "weight_hh": _t(m.weight_hh),
        "bias": _t(m.bias_ih),
        "bias_n": _t(m.bias_hh[2 * h :]),  # b_hn
    }


def _lstm_torch():
    m = tnn.LSTMCell(8, 128)
    return {
        "weight_ih": _t(m.weight_ih),
        "weight_hh": _t(m.weight_hh),
        "bias": _t(m.bias_ih),
    }


def _mha_torch():
    m = tnn.MultiheadAttention(128, 4, bias=True)
    w, b = m.in_proj_weight, m.in_proj_bias
    out = {}
    for i, name in enumerate(("query_proj", "key_proj", "value_proj")):
        out[f"{name}/weight"] = _t(w[128 * i : 128 * (i + 1)])
        out[f"{name}/bias"] = _t(b[128 * i : 128 * (i + 1)])
    out["output_proj/weight"] = _t(m.out_proj.weight)
    out["output_proj/bias"] = _t(m.out_proj.bias)
    return out


def _norm_torch(make_layer, bias=True):
    def make():
        m = make_layer()
        out = {"weight": _t(m.weight)}
        if bias:
            out["bias"] = _t(m.bias)
        return out

    return make


def _weight_norm_torch():
    from torch.nn.utils import parametrizations

    m = parametrizations.weight_norm(tnn.Linear(32, 512))
    p = m.parametrizations.weight
    return {
        "layer/weight": _t(p.original1),
        "layer/bias": _t(m.bias),
        "g": _t(p.original0),
    }


def _mlp_torch():
    a, b = tnn.Linear(16, 256), tnn.Linear(256, 128)
    return {
        "layers/0/weight": _t(a.weight),
        "layers/0/bias": _t(a.bias),
        "layers/1/weight": _t(b.weight),
        "layers/1/bias": _t(b.bias),
    }


def _spectral_torch():
    m = tnn.Linear(32, 512)  # spectral_norm keeps the Linear's own init
    return {"layer/weight": _t(m.weight), "layer/bias": _t(m.bias)}


def _prelu_torch():
    return {"negative_slope": _t(tnn.PReLU().weight)}


#: Every module class of equinox.nn: (make(key), make_torch()) for those that
#: own parameters, a reason string for the others.
LAYERS = {
    "Linear": (lambda k: nn.Linear(32, 512, key=k), _linear_torch(32, 512)),
    "Conv": (
        lambda k: nn.Conv(1, 8, 256, 3, groups=2, key=k),
        _conv_torch(tnn.Conv1d, 8, 256, 3, 2),
    ),
    "Conv1d": (
        lambda k: nn.Conv1d(8, 256, 3, groups=4, key=k),
        _conv_torch(tnn.Conv1d, 8, 256, 3, 4),
    ),
    "Conv2d": (
        lambda k: nn.Conv2d(4, 256, 3, groups=2, key=k),
        _conv_torch(tnn.Conv2d, 4, 256, 3, 2),
    ),
    "Conv3d": (
        lambda k: nn.Conv3d(2, 128, 2, key=k),
        _conv_torch(tnn.Conv3d, 2, 128, 2),
    ),
    "ConvTranspose": (
        lambda k: nn.ConvTranspose(1, 8, 256, 3, groups=2, key=k),
        _conv_torch(tnn.ConvTranspose1d, 8, 256, 3, 2),
    ),
    "ConvTranspose1d": (
        lambda k: nn.ConvTranspose1d(8, 256, 3, groups=4, key=k),
        _conv_torch(tnn.ConvTranspose1d, 8, 256, 3, 4),
    ),
    "ConvTranspose2d": (
        lambda k: nn.ConvTranspose2d(4, 256, 3, key=k),
        _conv_torch(tnn.ConvTranspose2d, 4, 256, 3),
    ),
    "ConvTranspose3d": (
        lambda k: nn.ConvTranspose3d(4, 128, 2, groups=2, key=k),
        _conv_torch(tnn.ConvTranspose3d, 4, 128, 2, 2),
    ),
    "Embedding": (
        lambda k: nn.Embedding(128, 1024, key=k),
        lambda: {"weight": _t(tnn.Embedding(128, 1024).weight)},
    ),
    "GRUCell": (lambda k: nn.GRUCell(8, 128, key=k), _gru_torch),
    "LSTMCell": (lambda k: nn.LSTMCell(8, 128, key=k), _lstm_torch),
    "MultiheadAttention": (
        lambda k: nn.MultiheadAttention(
            4,
            128,
            use_query_bias=True,
            use_key_bias=True,
            use_value_bias=True,
            use_output_bias=True,
            key=k,
        ),
        _mha_torch,
    ),
    "LayerNorm": (
        lambda k: nn.LayerNorm(512),
        _norm_torch(lambda: tnn.LayerNorm(512)),
    ),
    "RMSNorm": (
        lambda k: nn.RMSNorm(512, use_bias=False),
        _norm_torch(lambda: tnn.RMSNorm(512), bias=False),
    ),
    "GroupNorm": (
        lambda k: nn.GroupNorm(4, 512),
        _norm_torch(lambda: tnn.GroupNorm(4, 512)),
    ),
    "BatchNorm": (
        lambda k: nn.BatchNorm(512, "batch", mode="batch"),
        _norm_torch(lambda: tnn.BatchNorm1d(512)),
    ),
    "PReLU": (lambda k: nn.PReLU(), _prelu_torch),
    "MLP": (lambda k: nn.MLP(16, 128, 256, 1, key=k), _mlp_torch),
    "WeightNorm": (
        lambda k: nn.WeightNorm(nn.Linear(32, 512, key=k)),
        _weight_norm_torch,
    ),
    "SpectralNorm": (
        lambda k: nn.SpectralNorm(
            nn.Linear(32, 512, key=k), "weight", key=jax.random.fold_in(k, 1)
        ),
        _spectral_torch,
    ),
    # No parameters of their own.
    "Sequential": "a container of other layers",
    "Shared": "a container of other layers",
    "Lambda": "wraps a function",
    "Identity": "no parameters",
    "Dropout": "no parameters",
    "RotaryPositionalEmbedding": "computes its sinusoids, no parameters",
    "StateIndex": "state (eqx.nn.make_with_state), not parameters",
    "StatefulLayer": "a base class",
    "Pool": "no parameters",
    "AdaptivePool": "no parameters",
    **{
        f"{kind}{d}d": "no parameters"
        for kind in ("AvgPool", "MaxPool", "AdaptiveAvgPool", "AdaptiveMaxPool")
        for d in (1, 2, 3)
    },
}
PARAM_LAYERS = [n for n, row in LAYERS.items() if isinstance(row, tuple)]
#: Containers of Linear layers: their laws are the Linear row's (their layouts
#: are checked by test_every_parameter_is_signed, their PyTorch values below).
CONTAINERS = ("MLP", "SpectralNorm")
PRESETS = ("equinox", "torch")
KEY = jax.random.key(1234)


def _module_classes() -> set[str]:
    return {
        name
        for name in dir(nn)
        if inspect.isclass(getattr(nn, name))
        and issubclass(getattr(nn, name), eqx.Module)
    }


def test_registry_is_complete():
    assert _module_classes() == set(LAYERS)


def _values(model) -> dict[str, np.ndarray]:
    """Each parameter (and WeightNorm g) of ``model`` by path, flattened."""
    paths = set(je.abstract(model))
    out = {}
    for p, x in jax.tree_util.tree_flatten_with_path(model)[0]:
        path = jinit._tree.path_string(p)
        if path in paths or path == "g":
            out[path] = np.asarray(x, np.float64).ravel()
    return out


def _layers(name: str) -> int:
    make = LAYERS[name][0]
    sizes = [
        math.prod(a.shape)
        for a in je.abstract(eqx.filter_eval_shape(make, KEY)).values()
    ]
    return min(math.ceil(N_TARGET / max(min(sizes), 1)), MAX_LAYERS)


def _keys(seed: int, n: int):
    return jax.random.split(jax.random.key(seed), n)


def _has_state(layer) -> bool:
    leaves = jax.tree_util.tree_leaves(
        layer, is_leaf=lambda x: isinstance(x, nn.StateIndex)
    )
    return any(isinstance(x, nn.StateIndex) for x in leaves)


def _stack(name: str, seed: int):
    """Equinox's own layers, one per key, stacked as ``eqx.filter_vmap`` does."""
    make = LAYERS[name][0]
    keys = _keys(seed, _layers(name))
    abstract = eqx.filter_eval_shape(make, KEY)
    if _has_state(abstract):  # state markers are made per call: vmap the call
        return eqx.filter_jit(eqx.filter_vmap(make))(keys)
    # lax.map: one layer's program in a loop (a vmapped one compiles slowly).
    arrays = jax.jit(
        lambda keys: jax.lax.map(lambda k: eqx.filter(make(k), eqx.is_array), keys),
        compiler_options=REFERENCE_COMPILE,
    )(keys)
    return eqx.combine(arrays, abstract)


@functools.cache
def _equinox_reference(name: str) -> dict[str, np.ndarray]:
    return _values(_stack(name, 7))


@functools.cache
def _torch_reference(name: str) -> dict[str, np.ndarray]:
    make_torch = LAYERS[name][1]
    torch.manual_seed(0)
    draws = [make_torch() for _ in range(_layers(name))]
    return {p: np.concatenate([d[p] for d in draws]) for p in draws[0]}


def _one(name: str):
    """One layer, abstract unless it has state (which jinit keeps, so needs)."""
    layer = eqx.filter_eval_shape(LAYERS[name][0], KEY)
    return LAYERS[name][0](KEY) if _has_state(layer) else layer


def _jinit_plain(name: str, preset: str) -> dict[str, np.ndarray]:
    """Many unstacked copies of one layer in a list: each drawn with its own path."""
    layers = [_one(name)] * _layers(name)
    drawn = je.init(layers, jax.random.key(8), je.defaults(preset))
    per_layer = [_values(layer) for layer in drawn]
    return {p: np.concatenate([v[p] for v in per_layer]) for p in per_layer[0]}


def _jinit_stacked(name: str, preset: str) -> dict[str, np.ndarray]:
    stack = _stack(name, 9)
    return _values(je.init(stack, jax.random.key(10), je.defaults(preset)))


def assert_same_law(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """``got`` and ``want`` are samples of one law (bounds from n, see the top)."""
    got, want = got[:N_TARGET], want[:N_TARGET]
    if np.all(want == want[0]):
        np.testing.assert_array_equal(got, np.full_like(got, want[0]), err_msg=what)
        return
    n = min(got.size, want.size)
    assert n >= N_MIN, (what, n)
    kurtosis = scipy.stats.kurtosis(want, fisher=False)
    rel = 5 * math.sqrt(2) * math.sqrt((kurtosis - 1) / (4 * n))
    assert abs(got.std() / want.std() - 1) <= rel, (what, got.std(), want.std(), rel)
    assert abs(got.mean() - want.mean()) <= 5 * math.sqrt(2) * want.std() / math.sqrt(
        n
    ), (what, got.mean(), want.mean())
    p = scipy.stats.ks_2samp(got, want).pvalue
    assert p > 1e-3, (what, p)


# Plain and stacked layers differ in how jinit draws, not in which law a preset
# picks: both are checked under "equinox", the PyTorch laws on stacks.
@pytest.mark.parametrize(
    ("preset", "mode"),
    [("equinox", "plain"), ("equinox", "stacked"), ("torch", "stacked")],
)
@pytest.mark.parametrize("name", [n for n in PARAM_LAYERS if n not in CONTAINERS])
def test_preset_law_equals_library(name, preset, mode):
    want = _equinox_reference(name) if preset == "equinox" else _torch_reference(name)
    draw = _jinit_plain if mode == "plain" else _jinit_stacked
    got = draw(name, preset)
    assert set(got) == set(want), (set(got), set(want))
    for path in want:
        assert_same_law(got[path], want[path], f"{name} {preset} {mode} {path}")


@pytest.mark.parametrize("name", PARAM_LAYERS)
def test_every_parameter_is_signed(name):
    """Every array leaf of an equinox.nn layer, but state and g, gets a signature."""
    signed = je.abstract(eqx.filter_eval_shape(LAYERS[name][0], KEY))
    assert signed
    for path, leaf in signed.items():
        assert isinstance(leaf, jinit._signature.Abstract), path
    make = eqx.filter_vmap(LAYERS[name][0])
    stack = je.abstract(eqx.filter_eval_shape(make, _keys(1, 3)))
    for path, leaf in stack.items():
        sig = leaf.signature
        if sig.shape != () and name != "PReLU":
            assert sig.stacked == (0,), path
            assert sig.layer_shape(leaf.shape) == signed[path].shape, path


# ----------------------------------------------------------------------------
# Fans by hand (the numbers of issue #13).


def test_he_normal_fans_by_hand():
    model = nn.Sequential(
        [
            nn.Linear(300, 200, key=KEY),
            nn.Lambda(jax.nn.relu),
            nn.Conv2d(16, 32, 3, key=KEY),
        ]
    )
    rows = {r["path"]: r for r in je.table(model, {r".*": jinit.he_normal()})}
    assert rows["layers/0/weight"]["fan_in"] == 300
    assert rows["layers/0/weight"]["std"] == pytest.approx(math.sqrt(2 / 300))
    assert rows["layers/2/weight"]["fan_in"] == 16 * 9
    assert rows["layers/2/weight"]["std"] == pytest.approx(math.sqrt(2 / 144))
    drawn = je.init(model, KEY, {r".*/weight": jinit.he_normal()}, default=jinit.zeros)
    # n = 60000 and 4608: std within 5 sqrt(2 / n) relative.
    w = np.asarray(drawn.layers[0].weight)
    assert abs(w.std() / math.sqrt(2 / 300) - 1) < 5 * math.sqrt(2 / w.size)
    c = np.asarray(drawn.layers[2].weight)
    assert abs(c.std() / math.sqrt(2 / 144) - 1) < 5 * math.sqrt(2 / c.size)


def test_stacked_fans_and_table():
    stack = eqx.filter_vmap(lambda k: nn.Conv2d(16, 32, 3, key=k))(_keys(2, 4))
    rows = {r["path"]: r for r in je.table(stack, je.defaults("torch"))}
    w = rows["weight"]
    assert (w["shape"], w["call"], w["stacked"]) == (
        (4, 32, 16, 3, 3),
        (32, 16, 3, 3),
        (0,),
    )
    assert w["fan_in"] == 144 and w["std"] == pytest.approx(1 / math.sqrt(3 * 144))
    assert rows["bias"]["std"] == pytest.approx(1 / math.sqrt(3 * 144))
    assert je.table(stack, {".*": jinit.he_normal()}) == jf.table(
        je.abstract(stack), {".*": jinit.he_normal()}
    )


def test_transposed_conv_torch_fan():
    """PyTorch's ConvTranspose weight (in, out/groups, *k) has fan_in out/groups*k."""
    layer = nn.ConvTranspose2d(8, 64, 3, groups=4, key=KEY)
    rows = {r["path"]: r for r in je.table(layer, je.defaults("torch"))}
    bound = 1 / math.sqrt(64 // 4 * 9)
    assert rows["weight"]["init"] == jinit.Uniform(-bound, bound)
    rows = {r["path"]: r for r in je.table(layer, je.defaults("equinox"))}
    bound = 1 / math.sqrt(8 // 4 * 9)
    assert rows["weight"]["init"] == jinit.Uniform(-bound, bound)


# ----------------------------------------------------------------------------
# Trees: paths, non-array leaves, abstract models, reinit.


def _mlp(key):
    return nn.MLP(4, 1, 32, 2, key=key)


def test_paths_and_non_array_leaves():
    model = _mlp(KEY)
    assert list(je.abstract(model)) == [
        f"layers/{i}/{p}" for i in range(3) for p in ("weight", "bias")
    ]
    out = je.init(model, KEY, je.defaults("torch"))
    assert out.activation is model.activation
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(model)


def test_abstract_model_from_filter_eval_shape():
    abstract = eqx.filter_eval_shape(_mlp, KEY)
    out = je.init(abstract, KEY, je.defaults("equinox"))
    for leaf in jax.tree_util.tree_leaves(eqx.filter(out, eqx.is_array)):
        assert isinstance(leaf, jax.Array)
    # The same draws as from the concrete model: values depend on key and path.
    concrete = je.init(_mlp(jax.random.key(5)), KEY, je.defaults("equinox"))
    assert eqx.tree_equal(out, concrete)


def test_reinit_head_keeps_every_other_leaf():
    model = _mlp(KEY)
    out = je.reinit(model, jax.random.key(3), {r"layers/2/.*": jinit.zeros})
    before = jax.tree_util.tree_flatten_with_path(model)[0]
    after = jax.tree_util.tree_flatten_with_path(out)[0]
    for (p, x), (_, y) in zip(before, after, strict=True):
        path = jinit._tree.path_string(p)
        if path.startswith("layers/2/"):
            assert not np.any(np.asarray(y))
        else:
            assert y is x, path


def test_reinit_equals_init_for_the_same_key():
    model = _mlp(KEY)
    rules = {r".*weight": jinit.lecun_normal()}
    re_drawn = je.reinit(model, KEY, rules)
    drawn = je.init(model, KEY, rules, default=jinit.zeros)
    for i in range(3):
        np.testing.assert_array_equal(re_drawn.layers[i].weight, drawn.layers[i].weight)


def test_state_is_kept_and_weight_norm_g_follows_its_weight():
    model, state = nn.make_with_state(
        lambda: nn.Sequential(
            [
                nn.WeightNorm(nn.Linear(3, 5, key=KEY)),
                nn.BatchNorm(5, "batch", mode="batch"),
            ]
        )
    )()
    out = je.init(model, jax.random.key(4), je.defaults("torch"))
    w = out.layers[0].layer.weight
    np.testing.assert_allclose(
        out.layers[0].g, jnp.linalg.norm(w, axis=1, keepdims=True), rtol=1e-6
    )
    # make_with_state moved the state out; the index's leaf is kept as it was.
    index, old = out.layers[1].batch_state_index, model.layers[1].batch_state_index
    assert jax.tree_util.tree_leaves(index) == jax.tree_util.tree_leaves(old)
    assert state is not None


# ----------------------------------------------------------------------------
# Errors.


def test_errors():
    with pytest.raises(TypeError, match="`model` must be an equinox.Module"):
        je.init({"w": jnp.ones(3)}, KEY, {".*": jinit.zeros})
    with pytest.raises(ValueError, match="`framework` must be one of .*Did you mean"):
        je.defaults("equinx")
    with pytest.raises(ValueError, match="`rules` must match every leaf"):
        je.init(_mlp(KEY), KEY, {r".*weight": jinit.zeros})
    with pytest.raises(ValueError, match="`model` must be a concrete model"):
        je.reinit(eqx.filter_eval_shape(_mlp, KEY), KEY, {r".*weight": jinit.zeros})
    with pytest.raises(ValueError, match=r"`leaf 'weight'` must be an array of"):
        bad = eqx.tree_at(
            lambda m: m.weight, nn.Linear(3, 4, key=KEY), jnp.ones((4, 2))
        )
        je.abstract(bad)


# ----------------------------------------------------------------------------
# Real models train.


def _fit(model, x, y, steps=150, lr=1e-2):
    params, static = eqx.partition(model, eqx.is_array)
    tx = optax.adam(lr)

    def loss_fn(params):
        m = eqx.combine(params, static)
        return jnp.mean((jax.vmap(m)(x) - y) ** 2)

    @jax.jit
    def step(params, opt_state):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    opt_state = tx.init(params)
    first = float(loss_fn(params))
    for _ in range(steps):
        params, opt_state, _ = step(params, opt_state)
    return first, float(loss_fn(params))


def test_mlp_trains():
    x = jax.random.normal(jax.random.key(0), (128, 4))
    y = jnp.sin(x[:, :1]) + x[:, 1:2] * x[:, 2:3]
    model = je.init(
        eqx.filter_eval_shape(_mlp, KEY),
        KEY,
        {r".*weight": jinit.he_normal(), r".*bias": jinit.zeros},
    )
    first, last = _fit(model, x, y)
    assert last < first / 10, (first, last)


def test_cnn_trains():
    x = jax.random.normal(jax.random.key(0), (64, 2, 8, 8))
    y = jnp.mean(x[:, :1, 2:6, 2:6], axis=(1, 2, 3))[:, None] * 4

    def make(key):
        k1, k2 = jax.random.split(key)
        return nn.Sequential(
            [
                nn.Conv2d(2, 8, 3, padding=1, key=k1),
                nn.Lambda(jax.nn.relu),
                nn.Lambda(jnp.ravel),
                nn.Linear(8 * 64, 1, key=k2),
            ]
        )

    model = je.init(eqx.filter_eval_shape(make, KEY), KEY, je.defaults("torch"))
    first, last = _fit(model, x, y)
    assert last < first / 10, (first, last)


def test_attention_torch_laws():
    """PyTorch packs q/k/v into one (3d, d) weight only when kdim == vdim == d."""
    rules = je.defaults("torch")
    packed = nn.MultiheadAttention(2, 8, key=KEY)
    rows = {r["path"]: r["init"] for r in je.table(packed, rules)}
    assert rows["query_proj/weight"] == jinit.variance_scaling(0.5, "fan_in", "uniform")
    assert rows["output_proj/weight"] == jinit.torch.linear_default()
    separate = nn.MultiheadAttention(2, 8, key_size=4, key=KEY)
    rows = {r["path"]: r["init"] for r in je.table(separate, rules)}
    assert rows["key_proj/weight"] == jinit.variance_scaling(1.0, "fan_avg", "uniform")


def test_abstract_state_is_an_error_before_drawing():
    def make(key):
        return nn.Sequential(
            [nn.Linear(3, 4, key=key), nn.BatchNorm(4, "b", mode="batch")]
        )

    with pytest.raises(ValueError, match="StateIndex state is concrete"):
        je.init(eqx.filter_eval_shape(make, KEY), KEY, je.defaults("torch"))
