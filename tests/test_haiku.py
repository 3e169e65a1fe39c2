"""jinit.haiku against Haiku: wrapped initializers, signatures, Haiku's own law.

One registry, ``MODULES``, names every ``hk.Module`` class of ``haiku`` and
``haiku.nets``: a forward function (and its input) for those that own
parameters, a reason for the others; a new Haiku module fails
``test_registry_is_complete`` until it has a row.

Statistics. For every parameter, jinit's values under ``defaults("haiku")``,
plain (many copies of the abstract params) and stacked (the function under
``hk.layer_stack``), are compared with Haiku's own ``init`` drawn with many
keys (``jax.vmap`` over keys), n values each (up to 2**16, at least 20k): the
std ratio within 5 * sqrt(2) * sqrt((kurtosis - 1) / (4n)), the mean within
5 * sqrt(2) * std / sqrt(n), and a two-sample KS p > 1e-3; constants exactly.
Haiku calls an initializer per layer inside ``layer_stack``, so one layer's law
is the reference for both. All keys are fixed.
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

hk = pytest.importorskip("haiku")
optax = pytest.importorskip("optax")

from helpers import REFERENCE_COMPILE  # noqa: E402

import jinit  # noqa: E402
import jinit.haiku as jh  # noqa: E402
import jinit.keras as jk  # noqa: E402

pytestmark = pytest.mark.standard_promotion  # Haiku modules' internals

N_TARGET = 2**16
N_MIN = 20_000
MAX_LAYERS = 256
hi = hk.initializers
KEY = jax.random.key(1234)


def _x(*shape):
    return jnp.ones(shape, jnp.float32)


def _call(make, x):
    def forward():
        make()(x)

    return forward


def _rnn(make, x):
    def forward():
        core = make()
        core(x, core.initial_state(x.shape[0]))

    return forward


def _mha():
    def forward():
        x = _x(8, 128)
        init = hi.VarianceScaling(1.0, "fan_avg", "uniform")
        hk.MultiHeadAttention(4, 32, w_init=init)(x, x, x)

    return forward


def _vq():
    def forward():
        vq = hk.nets.VectorQuantizer(64, 512, 0.25)
        vq(_x(4, 64), is_training=False)

    return forward


def _batch_norm():
    def forward():
        hk.BatchNorm(True, True, 0.9)(_x(4, 512), is_training=True)

    return forward


#: Every hk.Module class of haiku and haiku.nets: a forward function of no
#: arguments that creates its parameters, or a reason it has none.
MODULES = {
    "Linear": _call(lambda: hk.Linear(256), _x(2, 32)),
    "Bias": _call(lambda: hk.Bias(b_init=hi.RandomNormal(0.5, 1.0)), _x(2, 256)),
    "ConvND": _call(lambda: hk.ConvND(2, 128, 3), _x(1, 6, 6, 4)),
    "Conv1D": _call(lambda: hk.Conv1D(128, 3), _x(1, 6, 8)),
    "Conv2D": _call(lambda: hk.Conv2D(128, 3), _x(1, 6, 6, 4)),
    "Conv3D": _call(lambda: hk.Conv3D(128, 2), _x(1, 4, 4, 4, 2)),
    "ConvNDTranspose": _call(lambda: hk.ConvNDTranspose(2, 128, 3), _x(1, 6, 6, 4)),
    "Conv1DTranspose": _call(lambda: hk.Conv1DTranspose(128, 3), _x(1, 6, 8)),
    "Conv2DTranspose": _call(lambda: hk.Conv2DTranspose(128, 3), _x(1, 6, 6, 4)),
    "Conv3DTranspose": _call(lambda: hk.Conv3DTranspose(128, 2), _x(1, 4, 4, 4, 2)),
    "DepthwiseConv1D": _call(lambda: hk.DepthwiseConv1D(2, 3), _x(1, 6, 64)),
    "DepthwiseConv2D": _call(lambda: hk.DepthwiseConv2D(2, 3), _x(1, 6, 6, 64)),
    "DepthwiseConv3D": _call(lambda: hk.DepthwiseConv3D(2, 2), _x(1, 4, 4, 4, 64)),
    "SeparableDepthwiseConv2D": _call(
        lambda: hk.SeparableDepthwiseConv2D(128, 2, 3), _x(1, 6, 6, 64)
    ),
    "Conv1DLSTM": _rnn(lambda: hk.Conv1DLSTM((6,), 32, 3), _x(1, 6, 4)),
    "Conv2DLSTM": _rnn(lambda: hk.Conv2DLSTM((4, 4), 32, 3), _x(1, 4, 4, 4)),
    "Conv3DLSTM": _rnn(lambda: hk.Conv3DLSTM((3, 3, 3), 32, 2), _x(1, 3, 3, 3, 4)),
    "GRU": _rnn(lambda: hk.GRU(128), _x(2, 8)),
    "LSTM": _rnn(lambda: hk.LSTM(128), _x(2, 8)),
    "VanillaRNN": _rnn(lambda: hk.VanillaRNN(128), _x(2, 8)),
    "Embed": lambda: hk.Embed(128, 512)(jnp.array([0, 1])),
    "LayerNorm": _call(lambda: hk.LayerNorm(-1, True, True), _x(2, 512)),
    "RMSNorm": _call(lambda: hk.RMSNorm(-1), _x(2, 512)),
    "GroupNorm": _call(lambda: hk.GroupNorm(4), _x(1, 4, 512)),
    "InstanceNorm": _call(lambda: hk.InstanceNorm(True, True), _x(1, 4, 4, 512)),
    "BatchNorm": _batch_norm(),
    "MultiHeadAttention": _mha(),
    "VectorQuantizer": _vq(),
    # No parameters of their own.
    "Module": "the base class",
    "RNNCore": "a base class",
    "Sequential": "a container",
    "DeepRNN": "a container of cores",
    "IdentityCore": "no parameters",
    "ResetCore": "wraps a core",
    "AvgPool": "no parameters",
    "MaxPool": "no parameters",
    "Flatten": "no parameters",
    "Reshape": "no parameters",
    "ExponentialMovingAverage": "state (hk.get_state), not parameters",
    "EMAParamsTree": "state (hk.get_state), not parameters",
    "SpectralNorm": "state (hk.get_state), not parameters",
    "SNParamsTree": "state (hk.get_state), not parameters",
    "VectorQuantizerEMA": "state (hk.get_state), not parameters",
    "MLP": "a container of hk.Linear",
    "MobileNetV1": "a container of convolutions and norms",
    **{
        f"ResNet{d}": "a container of convolutions and norms"
        for d in ("", "18", "34", "50", "101", "152", "200")
    },
}
PARAM_MODULES = [n for n, row in MODULES.items() if callable(row)]


def _module_classes() -> set[str]:
    out = set()
    for ns in (hk, hk.nets):
        for name in dir(ns):
            obj = getattr(ns, name)
            if inspect.isclass(obj) and issubclass(obj, hk.Module):
                out.add(name)
    return out


def test_registry_is_complete():
    assert _module_classes() == set(MODULES)


def _flat(params) -> dict[str, np.ndarray]:
    return {
        jinit._tree.path_string(p): np.asarray(x, np.float64).ravel()
        for p, x in jax.tree_util.tree_flatten_with_path(params)[0]
    }


@functools.cache
def _abstract(name: str):
    return jh.abstract(MODULES[name])


def _layers(name: str) -> int:
    sizes = [math.prod(x.shape) for x in jax.tree_util.tree_leaves(_abstract(name))]
    return min(math.ceil(N_TARGET / min(sizes)), MAX_LAYERS)


def _keys(seed: int, n: int):
    return jax.random.split(jax.random.key(seed), n)


@functools.cache
def _haiku_reference(name: str) -> dict[str, np.ndarray]:
    init = hk.transform_with_state(MODULES[name]).init
    draw = jax.jit(jax.vmap(lambda k: init(k)), compiler_options=REFERENCE_COMPILE)
    params, _ = draw(_keys(7, _layers(name)))
    return _flat(params)


def _jinit_plain(name: str) -> dict[str, np.ndarray]:
    copies = [_abstract(name)] * _layers(name)
    drawn = jinit.materialize(copies, jax.random.key(8), jh.defaults("haiku"))
    per_copy = [_flat(p) for p in drawn]
    return {p: np.concatenate([c[p] for c in per_copy]) for p in per_copy[0]}


def _stacked_forward(name: str):
    forward = MODULES[name]

    def body(x):
        forward()
        return x

    return lambda: hk.layer_stack(_layers(name))(body)(jnp.zeros(()))


def _jinit_stacked(name: str) -> dict[str, np.ndarray]:
    tree = jh.abstract(_stacked_forward(name))
    drawn = jinit.materialize(tree, jax.random.key(9), jh.defaults("haiku"))
    prefix = "__layer_stack_no_per_layer/"
    return {p.removeprefix(prefix): v for p, v in _flat(drawn).items()}


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
    bound = 5 * math.sqrt(2) * want.std() / math.sqrt(n)
    assert abs(got.mean() - want.mean()) <= bound, (what, got.mean(), want.mean())
    p = scipy.stats.ks_2samp(got, want).pvalue
    assert p > 1e-3, (what, p)


@pytest.mark.parametrize("mode", ["plain", "stacked"])
@pytest.mark.parametrize("name", PARAM_MODULES)
def test_defaults_law_equals_haiku(name, mode):
    want = _haiku_reference(name)
    got = _jinit_plain(name) if mode == "plain" else _jinit_stacked(name)
    assert set(got) == set(want), (set(got), set(want))
    for path in want:
        assert_same_law(got[path], want[path], f"{name} {mode} {path}")


@pytest.mark.parametrize("name", PARAM_MODULES)
def test_every_parameter_is_signed(name):
    tree = _abstract(name)
    for path, leaf in _flat_specs(tree).items():
        assert isinstance(leaf, jinit._signature.Abstract), path
        assert leaf.signature.stacked == ()
        assert leaf.signature.init is not None, path
    stacked = _flat_specs(jh.abstract(_stacked_forward(name)))
    for path, leaf in stacked.items():
        assert leaf.signature.stacked == (0,), path


def _flat_specs(tree):
    return {
        jinit._tree.path_string(p): x
        for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]
    }


# ----------------------------------------------------------------------------
# Haiku's initializers, declared: translated (or called by Haiku) exactly.

DECLARED = {
    "TruncatedNormal": hi.TruncatedNormal(0.3, 0.1, -1.5, 2.5),
    "RandomNormal": hi.RandomNormal(0.2, -0.5),
    "RandomUniform": hi.RandomUniform(-0.3, 0.7),
    "Constant": hi.Constant(0.7),
    "VarianceScaling": hi.VarianceScaling(2.0, "fan_avg", "normal"),
    "VarianceScaling-uniform": hi.VarianceScaling(0.5, "fan_out", "uniform"),
    "Orthogonal": hi.Orthogonal(1.5),
    "UniformScaling": hi.UniformScaling(2.0),  # no core twin: called by Haiku
}


@pytest.mark.parametrize("name", list(DECLARED))
def test_declared_initializer_law(name):
    init = DECLARED[name]

    def forward():
        hk.Conv2DTranspose(64, 3, w_init=init)(_x(1, 4, 4, 8))

    tree = jh.abstract(forward)
    copies = 16  # 16 * 3*3*64*8 = 73728 values
    drawn = jinit.materialize([tree] * copies, KEY, jh.defaults("haiku"))
    got = np.concatenate([np.ravel(p["conv2_d_transpose"]["w"]) for p in drawn])
    params = jax.vmap(hk.transform(forward).init)(_keys(3, copies))
    want = np.ravel(params["conv2_d_transpose"]["w"])
    assert_same_law(np.float64(got), np.float64(want), name)


# ----------------------------------------------------------------------------
# wrap: jinit initializers inside Haiku modules.


def _linear_w(w_init, key=KEY):
    fn = hk.transform(lambda x: hk.Linear(256, w_init=w_init)(x))
    return fn.init(key, _x(1, 512))["linear"]["w"]


def test_wrap_calls_init_with_the_rng_key():
    init = jinit.he_normal()
    w = _linear_w(jh.wrap(init))
    # The first key of Haiku's sequence for KEY is what the Linear's init gets.
    key = hk.transform(hk.next_rng_key).apply({}, KEY)
    np.testing.assert_array_equal(w, init(key, (512, 256), jnp.float32))


@pytest.mark.parametrize(
    "init",
    [jinit.glorot_uniform(), jinit.orthogonal(), jk.GlorotUniform(seed=3)],
    ids=["glorot_uniform", "orthogonal", "keras.GlorotUniform"],
)
def test_wrap_any_jinit_initializer(init):
    w = _linear_w(jh.wrap(init))
    assert w.shape == (512, 256) and bool(jnp.all(jnp.isfinite(w)))
    if isinstance(init, jinit.Orthogonal):
        np.testing.assert_allclose(w.T @ w, np.eye(256), atol=1e-4)
    else:  # glorot_uniform: U(+-sqrt(6 / (512 + 256)))
        bound = math.sqrt(6 / 768)
        assert float(jnp.max(jnp.abs(w))) <= bound
        assert abs(np.std(w) / (bound / math.sqrt(3)) - 1) < 5 * math.sqrt(0.8 / w.size)


def test_wrap_rejects_non_initializers():
    with pytest.raises(TypeError, match="`init` must be an initializer"):
        jh.wrap(3)
    with pytest.raises(TypeError, match="builder he_normal"):
        jh.wrap(jinit.he_normal)
    with pytest.raises(TypeError, match="not a rule"):
        jh.wrap(jinit.torch.bias_default())


def test_wrapped_initializer_is_read_back_by_abstract():
    init = jinit.he_uniform()

    def forward():
        hk.Linear(64, w_init=jh.wrap(init))(_x(1, 32))

    sig = jh.abstract(forward)["linear"]["w"].signature
    assert sig.init == init and sig.module == "haiku.Linear" and sig.role == "kernel"
    assert (sig.fan_in, sig.fan_out) == (32, 64)


# ----------------------------------------------------------------------------
# Trees: table, reinit, errors.


def test_table_and_layer_stack_fans():
    def forward():
        def block(x):
            return jax.nn.relu(hk.Linear(64)(x))

        return hk.layer_stack(6)(block)(_x(2, 64))

    tree = jh.abstract(forward)
    rows = {
        r["path"]: r
        for r in jh.table(tree, {r".*w": jinit.he_normal(), r".*b": jinit.zeros})
    }
    w = rows["__layer_stack_no_per_layer/linear/w"]
    assert (w["shape"], w["call"], w["stacked"]) == ((6, 64, 64), (64, 64), (0,))
    assert w["fan_in"] == 64 and w["std"] == pytest.approx(math.sqrt(2 / 64))


def test_transposed_conv_fans_are_haikus():
    tree = jh.abstract(lambda: hk.Conv2DTranspose(32, 3)(_x(1, 4, 4, 8)))
    sig = tree["conv2_d_transpose"]["w"].signature
    # Haiku's (*k, out, in) weight; its default law reads fan_in = k * in.
    assert tree["conv2_d_transpose"]["w"].shape == (3, 3, 32, 8)
    assert (sig.fan_in, sig.fan_out) == (72, 288)
    rows = jh.table(tree, {r".*w": jinit.lecun_normal(), ".*": jinit.zeros})
    assert rows[1]["std"] == pytest.approx(1 / math.sqrt(72))


def _mlp_forward(x):
    return hk.nets.MLP([32, 32, 1])(x)


def test_reinit_like_keeps_other_leaves():
    x = _x(4, 3)
    params = hk.transform(_mlp_forward).init(KEY, x)
    like = jh.abstract(_mlp_forward, x)
    out = jh.reinit(
        params, jax.random.key(2), {r".*linear_2/.*": jinit.zeros}, like=like
    )
    for module, leaves in params.items():
        for name, value in leaves.items():
            if module.endswith("linear_2"):
                assert not np.any(np.asarray(out[module][name]))
            else:
                assert out[module][name] is value
    redrawn = jh.reinit(params, KEY, {r".*w": jinit.he_normal()}, like=like)
    drawn = jinit.materialize(like, KEY, {r".*w": jinit.he_normal(), ".*": jinit.zeros})
    np.testing.assert_array_equal(
        redrawn["mlp/~/linear_0"]["w"], drawn["mlp/~/linear_0"]["w"]
    )
    with pytest.raises(ValueError, match="`like` must be the jinit.haiku.abstract"):
        jh.reinit(
            params, KEY, {".*": jinit.zeros}, like={"other": like["mlp/~/linear_0"]}
        )


def test_errors():
    with pytest.raises(ValueError, match="`framework` must be one of 'haiku'"):
        jh.defaults("haik")
    with pytest.raises(TypeError, match="`fn` must be the function given"):
        jh.abstract(hk.transform(_mlp_forward), _x(1, 3))
    with pytest.raises(ValueError, match="not known from its name alone"):
        jinit.materialize(
            {"m": {"kernel": jax.ShapeDtypeStruct((3, 3), jnp.float32)}},
            KEY,
            jh.defaults("haiku"),
        )


def test_defaults_on_plain_params_by_name():
    """Without signatures, Haiku's names decide (Linear, Embed, LayerNorm)."""
    params = jax.eval_shape(
        hk.transform(
            lambda t: hk.LayerNorm(-1, True, True)(hk.Linear(512)(hk.Embed(64, 256)(t)))
        ).init,
        KEY,
        jnp.zeros((2,), jnp.int32),
    )
    rows = {r["path"]: r for r in jh.table(params, jh.defaults("haiku"))}
    # hk.Linear: TruncatedNormal(1/sqrt(256)) has std 0.8796/16.
    assert rows["linear/w"]["std"] == pytest.approx(0.87962566103423978 / 16)
    assert rows["embed/embeddings"]["init"] == jinit.TruncatedNormal(1.0)
    assert rows["layer_norm/scale"]["init"] == jinit.ones
    assert rows["layer_norm/offset"]["init"] == jinit.zeros


# ----------------------------------------------------------------------------
# Real models train.


def _fit(forward, params, x, y, steps=150, lr=1e-2):
    fn = hk.without_apply_rng(hk.transform(forward))
    tx = optax.adam(lr)

    def loss_fn(p):
        return jnp.mean((fn.apply(p, x) - y) ** 2)

    @jax.jit
    def step(p, s):
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    opt_state = tx.init(params)
    first = float(loss_fn(params))
    for _ in range(steps):
        params, opt_state, _ = step(params, opt_state)
    return first, float(loss_fn(params))


def test_mlp_trains():
    x = jax.random.normal(jax.random.key(0), (128, 3))
    y = jnp.sin(x[:, :1]) + x[:, 1:2] * x[:, 2:3]
    params = jinit.materialize(
        jh.abstract(_mlp_forward, x),
        KEY,
        {r".*w": jinit.he_normal(), ".*": jinit.zeros},
    )
    first, last = _fit(_mlp_forward, params, x, y)
    assert last < first / 10, (first, last)


def _transformer(tokens):
    x = hk.Embed(16, 32)(tokens)

    def block(x):
        h = hk.LayerNorm(-1, True, True)(x)
        init = hi.VarianceScaling(1.0)
        x = x + hk.MultiHeadAttention(2, 16, w_init=init)(h, h, h)
        h = hk.LayerNorm(-1, True, True)(x)
        return x + hk.nets.MLP([64, 32])(h)

    x = hk.layer_stack(2)(block)(x)
    return hk.Linear(1)(x)[..., 0].mean(-1)


def test_transformer_trains():
    tokens = jax.random.randint(jax.random.key(0), (64, 8), 0, 16)
    y = (tokens[:, :4] == 3).sum(-1).astype(jnp.float32) - 0.5
    params = jinit.materialize(
        jh.abstract(_transformer, tokens), KEY, jh.defaults("haiku")
    )
    first, last = _fit(_transformer, params, tokens, y, steps=100)
    assert last < first / 10, (first, last)
