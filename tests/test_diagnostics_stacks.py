"""jinit.diagnostics on nn.scan stacks, BatchNorm models, and argument kinds."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit import diagnostics

pytestmark = pytest.mark.standard_promotion  # Flax internals promote dtypes

KEY = jax.random.key(0)


class Block(nn.Module):
    width: int
    record: bool = False

    @nn.compact
    def __call__(self, x, _):
        h = jax.nn.relu(nn.Dense(self.width, kernel_init=jinit.he_normal())(x))
        if self.record:
            self.sow("intermediates", "act", h)
        return h, None  # what a scanned block returns


class Stack(nn.Module):
    """embed -> ``depth`` scanned ReLU blocks named ``name`` -> head."""

    depth: int
    width: int
    name_: str = "blocks"
    lift: bool = True
    record: bool = False

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(self.width, name="embed")(x)
        axes = {"params": 0, "intermediates": 0} if self.lift else {"params": 0}
        scan = nn.scan(
            Block,
            variable_axes=axes,
            split_rngs={"params": True},
            length=self.depth,
        )
        x, _ = scan(self.width, self.record, name=self.name_)(x, None)
        return nn.Dense(4, name="head")(x)


def _x(width, batch=32):
    return jax.random.normal(jax.random.key(1), (batch, width))


@pytest.mark.parametrize("depth, width, name", [(3, 16, "blocks"), (5, 24, "layers")])
def test_scanned_stack_gives_one_row_per_layer(depth, width, name):
    model, x = Stack(depth, width, name), _x(width)
    stats = diagnostics.diagnose(model, x, KEY, seeds=2)
    rows = [r for i in range(depth) for r in (f"{name}/{i}/Dense_0", f"{name}/{i}")]
    assert stats.layers == ("embed", *rows, "head")
    kernels = [f"{name}/{i}/Dense_0/kernel" for i in range(depth)]
    assert [p for p in stats.params if p.startswith(name) and "kernel" in p] == kernels
    assert stats.shapes[stats.params.index(kernels[0])] == (width, width)
    assert stats.unmeasured == ()
    # Each row is that layer's slice: parameter RMS and activation std by hand.
    k_init = diagnostics.seed_keys(KEY, 2)[0]
    for s in range(2):
        variables = model.init(k_init[s], x)
        kernel = variables["params"][name]["Dense_0"]["kernel"]
        _, state = model.apply(
            variables, x, mutable=["intermediates"], capture_intermediates=True
        )
        acts = state["intermediates"][name]["Dense_0"]["__call__"][0]
        for i in range(depth):
            j = stats.params.index(kernels[i])
            rms = float(jnp.sqrt(jnp.mean(kernel[i] ** 2)))
            np.testing.assert_allclose(stats.param_rms[s, j], rms, rtol=1e-5)
            k = stats.layers.index(f"{name}/{i}/Dense_0")
            np.testing.assert_allclose(stats.std[s, k], jnp.std(acts[i]), rtol=1e-4)
    assert stats.verdict().status in ("healthy", "caution")


@pytest.mark.parametrize("depth", [3, 5])
def test_scan_that_records_nothing_inside_is_listed_not_healthy(depth):
    stats = diagnostics.diagnose(Stack(depth, 16, lift=False), _x(16), KEY, seeds=1)
    assert stats.layers == ("embed", "head")  # all Flax lets anyone see
    missing = tuple(f"blocks/{i}/Dense_0" for i in range(depth))
    assert stats.unmeasured == missing
    v = stats.verdict()
    assert v.status == "caution"
    assert "not measured: " + ", ".join(missing) in v.reasons
    # The stacked parameters still give one gradient row per layer.
    assert sum(p.endswith("Dense_0/kernel") for p in stats.params) == depth


def test_sown_values_inside_a_lifted_scan_are_split_by_layer():
    stats = diagnostics.diagnose(Stack(4, 16, record=True), _x(16), KEY, seeds=1)
    assert stats.layers == tuple(f"blocks/{i}/act" for i in range(4))


class BNNet(nn.Module):
    channels: int
    running: bool

    @nn.compact
    def __call__(self, x):
        for i in range(3):
            x = nn.Conv(self.channels, (3, 3), name=f"conv_{i}")(x)
            x = nn.BatchNorm(use_running_average=self.running, name=f"bn_{i}")(x)
            x = jax.nn.relu(x)
        return x


@pytest.mark.parametrize("channels, running", [(8, False), (12, True)])
def test_batchnorm_model_is_measured(channels, running):
    x = jax.random.normal(jax.random.key(2), (8, 6, 6, 3))
    stats = diagnostics.diagnose(BNNet(channels, running), x, KEY, seeds=2)
    assert [n for n in stats.layers if n.startswith("bn_")] == ["bn_0", "bn_1", "bn_2"]
    assert np.all(np.isfinite(stats.rms))
    if not running:  # normalized by the batch: each channel's mean 0, variance ~1
        i = stats.layers.index("bn_1")
        assert abs(float(stats.std[0, i]) - 1) <= 1e-2
    params = diagnostics.lsuv(BNNet(channels, running), x, KEY)
    assert set(params) == {f"conv_{i}" for i in range(3)} | {
        f"bn_{i}" for i in range(3)
    }


def test_gain_search_on_a_scanned_stack():
    # embed, 3 ReLU blocks, head, all at scale s (lecun draws x sqrt(s)): the
    # mean field multiplies the gain by sqrt(s) per linear layer and sqrt(1/2)
    # per ReLU: gain 1 at s^5 = 2^3. Width 128, batch 128, 4 seeds: the log gain
    # has std <= sqrt(2 * 5 / (128 * 128 * 4)) per layer sum; s enters as s^(5/2).
    depth, width = 3, 128

    class Lecun(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            return jax.nn.relu(nn.Dense(width)(x)), None

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Dense(width, name="embed")(x)
            scan = nn.scan(
                Lecun,
                variable_axes={"params": 0, "intermediates": 0},
                split_rngs={"params": True},
                length=depth,
            )
            x, _ = scan(name="blocks")(x, None)
            return nn.Dense(width, name="head")(x)

    x = _x(width, batch=128)
    init, apply = diagnostics.flax_fns(Net(), x)
    s = diagnostics.gain_search(apply, init, x, KEY, seeds=4)
    tol = 5 * (2 / 5) * math.sqrt(2 * 5 / (width * 128 * 4)) * 2
    assert abs(math.log(s) - math.log(2.0 ** (depth / (depth + 2)))) <= tol


def test_lsuv_refuses_stacked_layers_by_name():
    with pytest.raises(ValueError, match="`module` must be a module without stacked"):
        diagnostics.lsuv(Stack(3, 16), _x(16), KEY)


def test_argument_kinds():
    apply, init = (lambda p, x: (x, [x])), (lambda k: {})
    with pytest.raises(TypeError, match="`seeds` must be an int"):
        diagnostics.propagation(apply, init, jnp.ones((2, 2)), KEY, seeds="4")
    with pytest.raises(ValueError, match="`seeds` must be a positive int"):
        diagnostics.propagation(apply, init, jnp.ones((2, 2)), KEY, seeds=0)
    stats = diagnostics.propagation(
        lambda p, x: (x @ p, [x @ p]),
        lambda k: jnp.eye(2),
        jnp.ones((2, 2)),
        KEY,
        seeds=np.int64(2),
    )
    assert stats.std.shape == (2, 1)
    model = Stack(1, 8)  # refused, but only after max_iters is checked
    with pytest.raises(TypeError, match="`max_iters` must be an int"):
        diagnostics.lsuv(model, _x(8), KEY, max_iters="3")


def test_lsuv_accepts_numpy_ints():
    x = jax.random.normal(jax.random.key(2), (8, 6, 6, 3))
    params = diagnostics.lsuv(BNNet(8, False), x, KEY, max_iters=np.int64(3))
    assert "conv_0" in params


def test_flax_errors_are_named():
    class NeedsDropout(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dropout(0.5, deterministic=False)(nn.Dense(4)(x))

    with pytest.raises(ValueError, match="`module` must be a Flax module that runs"):
        diagnostics.diagnose(NeedsDropout(), _x(4), KEY, seeds=1)
