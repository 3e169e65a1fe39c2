"""jinit.flax: presets against the real defaults of torch, Keras and Flax;
partitioned initializers on 8 simulated CPU devices; the per-parameter table."""

from __future__ import annotations

import functools
import math
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import truncnorm

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")

from helpers import ulp_distance  # noqa: E402

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402
from jinit._tree import leaf_key  # noqa: E402

P = jax.sharding.PartitionSpec


class _Linen(nn.Module):
    """One of each layer the presets know, in linen."""

    @nn.compact
    def __call__(self, tokens, image):
        x = nn.Embed(10, 16)(tokens)  # (b, t, 16)
        x = x + nn.MultiHeadDotProductAttention(num_heads=2)(x)
        x = nn.LayerNorm()(x)
        cell = nn.LSTMCell(8)
        carry = cell.initialize_carry(jax.random.key(0), x[:, 0].shape)
        _, h = cell(carry, x[:, 0])
        y = nn.Conv(5, (3, 3))(image)  # 6 -> 5 channels
        y = nn.BatchNorm(use_running_average=False)(y)
        return nn.Dense(32)(jnp.concatenate([h, y.mean((1, 2))], -1))


def _abstract_linen():
    tokens = jnp.zeros((2, 4), jnp.int32)
    image = jnp.zeros((2, 6, 6, 6))
    return jf.abstract(_Linen(), tokens, image)


def _rows(framework):
    return {r["path"]: r for r in jf.table(_abstract_linen(), jf.defaults(framework))}


def test_defaults_unknown_framework():
    with pytest.raises(ValueError, match="`framework` must be one of.*'torch'"):
        jf.defaults("pytorch")


def test_every_leaf_of_a_linen_model_has_a_rule():
    for framework in jf.FRAMEWORKS:
        rows = jf.table(_abstract_linen(), jf.defaults(framework))
        assert all(r["rule"] is not None for r in rows), framework
        assert len(rows) == 31


# ----------------------------------------------------------------------------
# "torch": the bounds torch's own modules use, captured from their init calls.


def _torch_inits(make):
    """{param shape: ("uniform", a, b) | ("normal", mean, std)} from torch's calls."""
    torch = pytest.importorskip("torch")
    calls = {}
    uniform, normal = torch.Tensor.uniform_, torch.Tensor.normal_

    def spy_uniform(self, a=0.0, b=1.0, *args, **kwargs):
        calls[tuple(self.shape)] = ("uniform", a, b)
        return uniform(self, a, b, *args, **kwargs)

    def spy_normal(self, mean=0.0, std=1.0, *args, **kwargs):
        calls[tuple(self.shape)] = ("normal", mean, std)
        return normal(self, mean, std, *args, **kwargs)

    with (
        mock.patch.object(torch.Tensor, "uniform_", spy_uniform),
        mock.patch.object(torch.Tensor, "normal_", spy_normal),
    ):
        module = make(torch.nn)
    return calls, module


def _law_std(call):
    kind, a, b = call
    return (b - a) / math.sqrt(12) if kind == "uniform" else b


def test_torch_preset_matches_torch_modules():
    rows = _rows("torch")
    # (flax path, torch module, torch param shape)
    linear, _ = _torch_inits(lambda tnn: tnn.Linear(13, 32))
    conv, _ = _torch_inits(lambda tnn: tnn.Conv2d(6, 5, 3))
    lstm, _ = _torch_inits(lambda tnn: tnn.LSTM(16, 8))
    embed, _ = _torch_inits(lambda tnn: tnn.Embedding(10, 16))
    attn_calls, attn = _torch_inits(lambda tnn: tnn.MultiheadAttention(16, 2))
    cases = [
        ("params/Dense_0/kernel", linear[(32, 13)]),
        ("params/Dense_0/bias", linear[(32,)]),
        ("params/Conv_0/kernel", conv[(5, 6, 3, 3)]),
        ("params/Conv_0/bias", conv[(5,)]),
        ("params/LSTMCell_0/ii/kernel", lstm[(32, 16)]),  # weight_ih_l0 (4h, in)
        ("params/LSTMCell_0/hf/kernel", lstm[(32, 8)]),  # weight_hh_l0 (4h, h)
        ("params/LSTMCell_0/hg/bias", lstm[(32,)]),
        ("params/Embed_0/embedding", embed[(10, 16)]),
        ("params/MultiHeadDotProductAttention_0/query/kernel", attn_calls[(48, 16)]),
        ("params/MultiHeadDotProductAttention_0/out/kernel", attn_calls[(16, 16)]),
    ]
    for path, call in cases:
        assert rows[path]["std"] == pytest.approx(_law_std(call), rel=1e-12), path
    # nn.MultiheadAttention zeroes its biases; LayerNorm/BatchNorm ones and zeros.
    assert not attn.in_proj_bias.any() and not attn.out_proj.bias.any()
    for path in ("query/bias", "out/bias"):
        assert rows["params/MultiHeadDotProductAttention_0/" + path]["init"] == (
            jinit.zeros
        )
    assert rows["params/LayerNorm_0/scale"]["init"] == jinit.ones
    assert rows["params/BatchNorm_0/bias"]["init"] == jinit.zeros
    assert rows["batch_stats/BatchNorm_0/var"]["init"] == jinit.ones


def test_torch_bias_through_materialize_reads_the_sibling_kernel():
    key = jax.random.key(7)
    params = jinit.materialize(_abstract_linen(), key, jf.defaults("torch"))
    path = "params/Conv_0/bias"  # kernel (3, 3, 6, 5): fan_in 54
    expected = jinit.torch.bias_default(fan_in=54)(leaf_key(key, path), (5,))
    np.testing.assert_array_equal(params["params"]["Conv_0"]["bias"], expected)


# ----------------------------------------------------------------------------
# "keras": the initializers Keras' own layers default to.


@pytest.mark.standard_promotion  # Keras layer construction
def test_keras_preset_matches_keras_layers():
    keras = pytest.importorskip("keras")
    rows = _rows("keras")
    dense = keras.layers.Dense(4)
    embed = keras.layers.Embedding(10, 16)
    lstm = keras.layers.LSTM(8)
    norm = keras.layers.LayerNormalization()
    assert type(dense.kernel_initializer).__name__ == "GlorotUniform"
    assert rows["params/Dense_0/kernel"]["init"] == jinit.glorot_uniform()
    assert type(dense.bias_initializer).__name__ == "Zeros"
    assert rows["params/Dense_0/bias"]["init"] == jinit.zeros
    config = embed.embeddings_initializer.get_config()
    assert rows["params/Embed_0/embedding"]["init"] == jinit.Uniform(
        config["minval"], config["maxval"]
    )
    cell = lstm.cell
    assert type(cell.recurrent_initializer).__name__ == "Orthogonal"
    gain = cell.recurrent_initializer.get_config()["gain"]
    assert rows["params/LSTMCell_0/hi/kernel"]["init"] == jinit.orthogonal(gain)
    assert cell.unit_forget_bias
    assert rows["params/LSTMCell_0/hf/bias"]["init"] == jinit.ones
    assert rows["params/LSTMCell_0/hi/bias"]["init"] == jinit.zeros
    assert type(norm.gamma_initializer).__name__ == "Ones"
    assert rows["params/LayerNorm_0/scale"]["init"] == jinit.ones


# ----------------------------------------------------------------------------
# "flax": Flax's own default initializers, bit for bit.


def _field_default(cls, name):
    return cls.__dataclass_fields__[name].default


@pytest.mark.parametrize(
    "path, reference, flat",
    [
        ("params/Dense_0/kernel", _field_default(nn.Dense, "kernel_init"), None),
        ("params/Conv_0/kernel", _field_default(nn.Conv, "kernel_init"), None),
        ("params/Embed_0/embedding", _field_default(nn.Embed, "embedding_init"), None),
        (
            "params/LSTMCell_0/hf/kernel",
            _field_default(nn.LSTMCell, "recurrent_kernel_init"),
            None,
        ),
        # DenseGeneral draws its kernel flattened to 2-D, then reshapes it.
        (
            "params/MultiHeadDotProductAttention_0/query/kernel",
            _field_default(nn.DenseGeneral, "kernel_init"),
            (16, 16),
        ),
        (
            "params/MultiHeadDotProductAttention_0/out/kernel",
            _field_default(nn.DenseGeneral, "kernel_init"),
            (16, 16),
        ),
    ],
)
def test_flax_preset_equals_flax_defaults(path, reference, flat):
    row = _rows("flax")[path]
    assert row["call"] == (flat or row["shape"])  # the shape Flax calls it with
    key = jax.random.key(3)
    params = jinit.materialize(_abstract_linen(), key, jf.defaults("flax"))
    ours = functools.reduce(lambda t, k: t[k], path.split("/"), params)
    theirs = jax.jit(reference, static_argnums=(1, 2))(
        leaf_key(key, path), flat or row["shape"], jnp.float32
    )
    # Flax's own initializer at its call shape, reshaped as Flax reshapes it;
    # equal up to XLA's fusion rounding (docs/notes.md: <= 2 ulp between compilations).
    assert ulp_distance(ours, np.reshape(theirs, row["shape"])) <= 2


def test_flax_preset_on_nnx_state_and_reinit():
    class Model(nnx.Module):
        def __init__(self, rngs):
            self.attn = nnx.MultiHeadAttention(2, 16, decode=False, rngs=rngs)
            self.lstm = nnx.LSTMCell(16, 8, rngs=rngs)
            self.norm = nnx.BatchNorm(8, rngs=rngs)
            self.head = nnx.Linear(8, 3, rngs=rngs)

    graph, params, stats = nnx.split(
        nnx.eval_shape(lambda: Model(nnx.Rngs(0))), nnx.Param, nnx.BatchStat
    )
    rules = jf.defaults("torch")
    params = jinit.materialize(params, jax.random.key(1), rules)
    stats = jinit.materialize(stats, jax.random.key(1), rules)
    model = nnx.merge(graph, params, stats)
    assert model.attn.query.kernel.shape == (16, 2, 8)
    bound = 1 / math.sqrt(8)
    assert np.abs(np.asarray(model.head.bias[...])).max() <= bound
    np.testing.assert_array_equal(model.norm.var[...], np.ones(8))
    # reinit: a fresh head, everything else untouched (same objects).
    state = nnx.state(model, nnx.Param)
    head = {
        r"head/kernel": rules[r"(?:.*/)?kernel"],
        r"head/bias": rules[r"(?:.*/)?bias"],
    }
    new = jinit.reinit(state, jax.random.key(2), head)
    assert new["attn"]["query"]["kernel"] is state["attn"]["query"]["kernel"]
    assert not np.array_equal(new["head"]["kernel"][...], state["head"]["kernel"][...])
    assert np.abs(np.asarray(new["head"]["bias"][...])).max() <= bound


def test_per_leaf_rule_is_not_an_initializer():
    rule = jf.defaults("torch")[r"(?:.*/)?bias"]
    assert isinstance(rule, jinit.Rule) and not isinstance(rule, jinit.Initializer)
    with pytest.raises(TypeError, match="not callable"):
        rule(jax.random.key(0), (3,))


# ----------------------------------------------------------------------------
# Partitioning: drawn into shards, equal to the unsharded draw.


@pytest.fixture
def mesh():
    devices = np.asarray(jax.devices()[:8]).reshape(2, 4)
    return jax.sharding.Mesh(
        devices, ("data", "model"), axis_types=(jax.sharding.AxisType.Auto,) * 2
    )


class _Spy:
    """Records the out_sharding each call receives."""

    def __init__(self, init):
        self.init, self.seen = init, []

    def __call__(self, key, shape, dtype=None, out_sharding=None):
        self.seen.append(out_sharding)
        return self.init(key, shape, dtype, out_sharding=out_sharding)


def test_linen_partitioning(mesh):
    spy = _Spy(jinit.he_normal())
    x = jnp.ones((2, 8))
    sharded = nn.Dense(
        16, kernel_init=jf.linen_partitioning(spy, (None, "model"), mesh)
    )
    plain = nn.Dense(16, kernel_init=jinit.he_normal())
    boxed = sharded.init(jax.random.key(0), x)["params"]["kernel"]
    assert isinstance(boxed, nn.Partitioned) and boxed.names == (None, "model")
    expected = jax.sharding.NamedSharding(mesh, P(None, "model"))
    assert spy.seen == [expected]
    assert boxed.value.sharding == expected
    reference = plain.init(jax.random.key(0), x)["params"]["kernel"]
    np.testing.assert_array_equal(boxed.value, reference)


def test_linen_partitioning_under_jit_and_context_mesh(mesh):
    x = jnp.ones((2, 8))
    init = jf.linen_partitioning(jinit.lecun_normal(), ("data", "model"))
    model = nn.Dense(16, kernel_init=init)
    with jax.set_mesh(mesh):
        boxed = jax.jit(model.init)(jax.random.key(0), x)["params"]["kernel"]
    assert boxed.value.sharding.spec == P("data", "model")
    assert boxed.value.sharding.mesh.shape == mesh.shape
    plain = nn.Dense(16, kernel_init=jinit.lecun_normal()).init(jax.random.key(0), x)
    np.testing.assert_array_equal(boxed.value, plain["params"]["kernel"])


def test_linen_partitioning_without_a_mesh_draws_unsharded():
    spy = _Spy(jinit.zeros)
    init = jf.linen_partitioning(spy, (None, "model"))
    boxed = nn.Dense(4, kernel_init=init).init(jax.random.key(0), jnp.ones((1, 3)))
    assert spy.seen == [None]
    assert boxed["params"]["kernel"].names == (None, "model")


def test_linen_logical_partitioning(mesh):
    rules = [("embed", None), ("mlp", "model")]
    x = jnp.ones((2, 8))
    plain = nn.Dense(16, kernel_init=jinit.he_normal()).init(jax.random.key(0), x)
    spy = _Spy(jinit.he_normal())
    init = jf.linen_logical_partitioning(spy, ("embed", "mlp"), mesh, rules)
    boxed = nn.Dense(16, kernel_init=init).init(jax.random.key(0), x)["params"]
    boxed = boxed["kernel"]
    assert isinstance(boxed, nn.LogicallyPartitioned)
    assert boxed.names == ("embed", "mlp") and boxed.rules == rules
    expected = jax.sharding.NamedSharding(mesh, P(None, "model"))
    assert spy.seen == [expected] and boxed.value.sharding == expected
    np.testing.assert_array_equal(boxed.value, plain["params"]["kernel"])
    # The rules of the context, under jit with the context mesh.
    context = jf.linen_logical_partitioning(jinit.he_normal(), ("mlp", "embed"))
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        kernel = jax.jit(nn.Dense(16, kernel_init=context).init)(jax.random.key(0), x)
    kernel = kernel["params"]["kernel"].value
    want = jax.sharding.NamedSharding(mesh, P("model", None))
    assert kernel.sharding.is_equivalent_to(want, 2)
    np.testing.assert_array_equal(kernel, plain["params"]["kernel"])
    # No rules anywhere: every name is a replicated dimension, as in Flax.
    spy = _Spy(jinit.he_normal())
    nn.Dense(
        16, kernel_init=jf.linen_logical_partitioning(spy, ("embed", "mlp"), mesh)
    ).init(jax.random.key(0), x)
    assert spy.seen == [jax.sharding.NamedSharding(mesh, P(None, None))]


def test_nnx_partitioning(mesh):
    spy = _Spy(jinit.he_uniform())
    init = jf.nnx_partitioning(spy, ("data", "model"), mesh)
    layer = nnx.Linear(8, 16, kernel_init=init, rngs=nnx.Rngs(0))
    expected = jax.sharding.NamedSharding(mesh, P("data", "model"))
    assert spy.seen == [expected]
    assert layer.kernel[...].sharding == expected
    assert layer.kernel.get_metadata("out_sharding") == ("data", "model")
    plain = nnx.Linear(8, 16, kernel_init=jinit.he_uniform(), rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(layer.kernel[...], plain.kernel[...])


def test_partitioning_bad_arguments():
    with pytest.raises(TypeError, match="`names` must be a tuple of mesh axis"):
        jf.linen_partitioning(jinit.zeros, "model")
    with pytest.raises(TypeError, match="`mesh` must be a jax.sharding.Mesh"):
        jf.nnx_partitioning(jinit.zeros, (None,), mesh="mesh")


# ----------------------------------------------------------------------------
# The table.


def test_table_rows():
    tree = {
        "conv": {
            "kernel": jax.ShapeDtypeStruct((3, 3, 16, 32), jnp.float32),
            "bias": jax.ShapeDtypeStruct((32,), jnp.bfloat16),
        },
        "other": jax.ShapeDtypeStruct((4, 4), jnp.float32),
    }
    rules = {r".*kernel": jinit.lecun_normal(), r".*bias": jinit.truncated_normal(0.5)}
    rows = {
        r["path"]: r for r in jf.table(tree, rules, default=jinit.zeros, stacked={})
    }
    kernel = rows["conv/kernel"]
    assert kernel["shape"] == (3, 3, 16, 32) and kernel["dtype"] == "float32"
    assert (kernel["fan_in"], kernel["fan_out"]) == (144.0, 288.0)
    assert kernel["std"] == pytest.approx(1 / 12)
    assert kernel["rule"] == r".*kernel" and kernel["init"] == jinit.lecun_normal()
    bias = rows["conv/bias"]
    assert bias["dtype"] == "bfloat16"
    # std of N(0, 0.5^2) truncated to +-2 sigma: 0.5 * 0.8796...
    assert bias["std"] == pytest.approx(0.5 * 0.87962566103423978, rel=1e-12)
    # The table raises where materialize raises.
    with pytest.raises(ValueError, match="no rule for 2 leaves: 'conv/bias', 'other'"):
        jf.table(tree, {r".*kernel": jinit.lecun_normal()}, stacked={})
    with_default = jf.table(
        tree, rules, default=jax.nn.initializers.orthogonal(), stacked={}
    )
    assert with_default[-1]["rule"] == "default" and with_default[-1]["std"] is None


@pytest.mark.parametrize(
    "init, std",
    [
        (
            jinit.torch.trunc_normal(0.5, 2.0, -1.0, 1.5),
            2 * truncnorm(-0.75, 0.5).std(),
        ),
        (jinit.torch.sparse(0.25, 0.1), 0.1 * math.sqrt(0.75)),
        (jinit.orthogonal(2.0), 2.0 / math.sqrt(12)),
        (jinit.uniform(3.0), 3.0 / math.sqrt(12)),
        (jinit.torch.linear_default(), 1 / 6),  # U(+-1/sqrt(12))
    ],
)
def test_table_std(init, std):
    tree = {"w": jax.ShapeDtypeStruct((12, 4), jnp.float32)}
    (row,) = jf.table(tree, {"w": init})
    assert row["std"] == pytest.approx(std, rel=1e-12)
    draw = np.asarray(init(jax.random.key(0), (12, 4)))
    assert np.isfinite(draw).all()


def test_format_table():
    rows = jf.table(
        {"d": {"kernel": jax.ShapeDtypeStruct((8, 2), jnp.float32)}},
        jf.defaults("torch"),
    )
    markdown = jf.format_table(rows).splitlines()
    assert markdown[0] == (
        "| path | shape | call | stacked | dtype | rule | init | fan_in | fan_out "
        "| std |"
    )
    assert markdown[2].startswith(
        "| d/kernel | (8, 2) | (8, 2) | - | float32 | (?:.*/)?kernel |"
    )
    assert (
        "VarianceScaling(scale=0.3333, mode='fan_in', distribution='uniform')"
        in (markdown[2])
    )
    text = jf.format_table(rows, style="text").splitlines()
    assert text[0].split() == [
        "path", "shape", "call", "stacked", "dtype", "rule", "init", "fan_in",
        "fan_out", "std",
    ]  # fmt: skip
    assert text[2].split()[-3:] == ["8", "2", "0.2041"]
    with pytest.raises(ValueError, match="`style` must be one of"):
        jf.format_table(rows, style="html")


def test_linen_partitioning_with_the_readme_explicit_mesh():
    # jax.make_mesh gives Explicit axes by default; linen's boxes need Auto ones.
    explicit = jax.make_mesh((2, 4), ("data", "model"))
    assert set(explicit.axis_types) == {jax.sharding.AxisType.Explicit}
    x = jnp.ones((2, 8))
    plain = nn.Dense(16, kernel_init=jinit.he_normal()).init(jax.random.key(0), x)
    for init in (
        jf.linen_partitioning(jinit.he_normal(), (None, "model"), explicit),
        jf.linen_logical_partitioning(
            jinit.he_normal(), ("embed", "mlp"), explicit, [("mlp", "model")]
        ),
    ):
        boxed = nn.Dense(16, kernel_init=init).init(jax.random.key(0), x)
        value = boxed["params"]["kernel"].value
        assert value.sharding.spec == P(None, "model")
        assert value.sharding.mesh.devices.tolist() == explicit.devices.tolist()
        np.testing.assert_array_equal(value, plain["params"]["kernel"])
    # A context mesh with Explicit axes and no mesh= says what to pass.
    init = jf.linen_partitioning(jinit.he_normal(), (None, "model"))
    with (
        jax.set_mesh(explicit),
        pytest.raises(ValueError, match="`mesh` must be given explicitly"),
    ):
        nn.Dense(16, kernel_init=init).init(jax.random.key(0), x)
