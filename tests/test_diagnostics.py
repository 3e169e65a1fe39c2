"""jinit.diagnostics on networks whose answer is known, LSUV on real Flax models.

Tolerances. For a layer h' = W a with W of n x n i.i.d. entries of variance c/n,
the batch variance of h' is c times that of a in expectation, and its relative
variance is 2 tr(S^2) / (n tr(S)^2) for S the covariance of a (sum over n
columns w of w'Sw). After l layers of a product of random matrices (and a batch
of B = n inputs), tr(S^2) / tr(S)^2 <= (l + 2) / n (the second moment of the
product's squared singular values), so one layer's variance ratio has relative
std <= sqrt(2 (L + 2)) / n, and the mean of (L - 1) x seeds independent ratios
has std <= sqrt(2 (L + 2) / ((L - 1) seeds)) / n; we allow 5 of those.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit import diagnostics, models

pytestmark = pytest.mark.standard_promotion  # Flax internals promote dtypes

KEY = jax.random.key(0)
WIDTH, DEPTH, SEEDS = 256, 12, 4


def _run(activation, init, depth=DEPTH, width=WIDTH, seeds=SEEDS):
    model, shape = models.build(
        "mlp", depth=depth, width=width, activation=activation, kernel_init=init
    )
    x = jax.random.normal(jax.random.key(1), (width, *shape))
    bounds = diagnostics.SATURATION_BOUNDS.get(activation)
    return diagnostics.diagnose(model, x, KEY, seeds=seeds, bounds=bounds)


def _ratio_bound(depth=DEPTH, width=WIDTH, seeds=SEEDS):
    return 5 * math.sqrt(2 * (depth + 2) / ((depth - 1) * seeds)) / width


def _mean_ratio(stats):
    var = stats.std.astype(np.float64) ** 2
    return float(np.mean(var[:, 1:] / var[:, :-1]))


def test_layers_in_call_order_and_shapes():
    stats = _run("relu", jinit.he_normal(), depth=12, width=32, seeds=2)
    assert stats.layers == tuple(f"layer_{i}" for i in range(12))
    assert stats.params[:4] == (
        "dense_0/kernel",
        "dense_0/bias",
        "dense_1/kernel",
        "dense_1/bias",
    )
    assert stats.std.shape == stats.mean.shape == stats.gain.shape == (2, 12)
    assert stats.grad_norm.shape == (2, 24)
    assert stats.kernel_grad_norm().shape == (2, 12)


def test_linear_lecun_keeps_variance():
    stats = _run("linear", jinit.lecun_normal())
    assert abs(_mean_ratio(stats) - 1) <= _ratio_bound()
    # Through all layers: relative std <= sqrt(sum_i 2 (i + 2)) / n per seed.
    bound = 5 * math.sqrt(sum(2 * (i + 2) for i in range(DEPTH))) / WIDTH
    var = np.mean(stats.std[:, -1].astype(np.float64) ** 2)
    assert abs(var - 1) <= bound / math.sqrt(SEEDS) + 5 * math.sqrt(2 / WIDTH**2)
    assert stats.problems() == []


def test_linear_normal_one_explodes():
    # Var(W) = 1 instead of 1/n: the variance grows n-fold per layer.
    stats = _run("linear", jinit.normal(1.0), depth=8)
    log_ratio = np.mean(np.log(stats.std[:, 1:] ** 2 / stats.std[:, :-1] ** 2))
    assert abs(log_ratio - math.log(WIDTH)) <= 5 * _ratio_bound(depth=8)
    assert any("explodes" in p for p in stats.problems())


def test_relu_he_holds_and_lecun_halves():
    he = _run("relu", jinit.he_normal())
    lecun = _run("relu", jinit.lecun_normal())
    assert abs(_mean_ratio(he) - 1) <= _ratio_bound()
    assert abs(_mean_ratio(lecun) - 0.5) <= 0.5 * _ratio_bound()
    assert he.problems() == []
    assert any("vanishes" in p for p in lecun.problems())
    # ReLU is positively homogeneous and lecun's draw is he's over sqrt(2) (same
    # key): layer l is scaled by 2^(-(l+1)/2) exactly, up to float rounding.
    scale = 2.0 ** (-(np.arange(DEPTH) + 1) / 2)
    np.testing.assert_allclose(lecun.std, he.std * scale, rtol=1e-4)
    np.testing.assert_allclose(lecun.gain, he.gain * scale, rtol=1e-4)
    np.testing.assert_array_equal(lecun.dead, he.dead)
    # The input perturbation keeps its size through a He ReLU network.
    assert abs(np.mean(np.log(he.gain[:, -1]))) <= 5 * math.sqrt(2 * DEPTH / WIDTH)


def test_dead_and_saturated_fractions():
    # Var(W) = 1 on width 256 makes the first pre-activations N(0, 16^2); tanh is
    # within 1% of its range of +-1 (|tanh h| >= 0.98) where |h| >= atanh(0.98).
    # Each unit's std is 16 within sqrt(2 / 256) = 9% (its column's norm): 0.02 on
    # the fraction covers it.
    tanh = _run("tanh", jinit.normal(1.0), depth=3, seeds=1)
    expected = 1 - math.erf(math.atanh(0.98) / (16 * math.sqrt(2)))  # 0.886
    assert abs(tanh.saturated[0, 0] - expected) <= 0.02
    assert any("saturated" in p for p in tanh.problems(fraction=0.5))
    assert not any("saturated" in p for p in tanh.problems(fraction=0.95))
    relu = _run("relu", jinit.he_normal(), depth=3, seeds=1)
    assert np.all(relu.saturated == 0)  # no bounds: not measured
    # One unit of a 1-unit-wide ReLU layer fed a constant negative input: dead.
    apply = lambda p, x: (x, {"a": jax.nn.relu(x @ p)})  # noqa: E731
    x = -jnp.ones((8, 4))
    stats = diagnostics.propagation(apply, lambda k: jnp.eye(4), x, KEY, seeds=1)
    assert stats.dead[0, 0] == 1.0 and stats.mean[0, 0] == 0.0


def test_plain_function_gradient_norms():
    # f(W) = <g, x W>: the gradient is x^T g, computed independently here.
    x = jax.random.normal(jax.random.key(3), (16, 8))
    w = jnp.ones((8, 4))
    stats = diagnostics.propagation(
        lambda p, x: (x @ p["w"], [x @ p["w"]]), lambda k: {"w": w}, x, KEY, seeds=2
    )
    _, _, k_cot = (jax.random.split(k, 2) for k in jax.random.split(KEY, 3))
    for s in range(2):
        g = jax.random.normal(k_cot[s], (16, 4))
        np.testing.assert_allclose(
            stats.grad_norm[s, 0], np.linalg.norm(x.T @ g), rtol=1e-5
        )
    assert stats.params == ("w",) and stats.layers == ("0",)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"seeds": 0}, ValueError, "`seeds` must be a positive int"),
        ({"bounds": (1.0, -1.0)}, ValueError, "`bounds` must be a pair"),
        ({"key": 0}, TypeError, "`key` must be"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = {"key": KEY, **kwargs}
    with pytest.raises(error, match=match):
        diagnostics.propagation(
            lambda p, x: (x, [x]), lambda k: {}, jnp.ones((2, 2)), **args
        )


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="`activation` must be one of.*'tanh'"):
        models.build("mlp", depth=2, width=4, activation="tanhh")
    with pytest.raises(ValueError, match="`model` must be one of"):
        models.build("rnn", depth=2, width=4)
    with pytest.raises(ValueError, match="`depth` must be a positive int"):
        models.build("mlp", depth=0, width=4)


# ----------------------------------------------------------------------------
# Gain search against the mean-field answer.


def _mean_field_scale(phi, dphi, depth):
    """Scale s with gain 1 to the last activation (independent reference).

    Input and perturbation N(0, I): q_1 = s, q_{l+1} = s E[phi(sqrt(q_l) z)^2];
    the perturbation's mean square is s, times s E[phi'(h_l)^2] per later layer,
    times E[phi'(h_L)^2] at the last activation. Gauss-Hermite quadrature.
    """
    import scipy.optimize

    z, w = np.polynomial.hermite_e.hermegauss(101)
    w = w / w.sum()

    def log_gain(log_s):
        s = math.exp(log_s)
        q, total = s, log_s
        for layer in range(depth):
            total += math.log(np.sum(w * dphi(math.sqrt(q) * z) ** 2))
            total += log_s if layer < depth - 1 else 0.0
            q = s * np.sum(w * phi(math.sqrt(q) * z) ** 2)
        return total

    return math.exp(scipy.optimize.brentq(log_gain, -3, 3))


GAIN_DEPTH = 20


def _gain(activation):
    model, shape = models.build(
        "mlp", depth=GAIN_DEPTH, width=WIDTH, activation=activation
    )  # lecun_normal: scale 1
    x = jax.random.normal(jax.random.key(1), (WIDTH, *shape))
    init, apply = diagnostics.flax_fns(model, x)
    return diagnostics.gain_search(apply, init, x, KEY, seeds=SEEDS)


# The log gain sums GAIN_DEPTH per-layer log factors, each of relative std <=
# sqrt(2 / n) over a batch; s enters as s^(L/2): |log s error| <= 5 * 2 sqrt(2 /
# (L n seeds)).
GAIN_TOL = 5 * 2 * math.sqrt(2 / (GAIN_DEPTH * WIDTH * SEEDS))


def test_gain_search_known_answers():
    assert abs(math.log(_gain("relu") / 2.0)) <= GAIN_TOL
    assert abs(math.log(_gain("linear") / 1.0)) <= GAIN_TOL
    tanh = _mean_field_scale(
        np.tanh, lambda x: 1 / np.cosh(x) ** 2, GAIN_DEPTH
    )  # 1.635 at depth 20; -> 1 from above as depth grows
    assert 1.0 < tanh < 2.0
    assert abs(math.log(_gain("tanh") / tanh)) <= GAIN_TOL


def test_gain_search_bad_bracket():
    model, shape = models.build("mlp", depth=3, width=16, activation="relu")
    x = jnp.ones((4, *shape))
    init, apply = diagnostics.flax_fns(model, x)
    with pytest.raises(ValueError, match="`lo/hi` must be a bracket"):
        diagnostics.gain_search(apply, init, x, KEY, lo=4.0, hi=8.0)
    with pytest.raises(ValueError, match="`lo` must be less than `hi`"):
        diagnostics.gain_search(apply, init, x, KEY, lo=8.0, hi=4.0)


# ----------------------------------------------------------------------------
# LSUV.


def _kernel_outputs(module, params, x):
    _, state = module.apply(
        {"params": params}, x, mutable=["intermediates"], capture_intermediates=True
    )
    out = {}

    def walk(p, s, path):
        for k, v in p.items():
            if k == "kernel":
                out[path] = s["__call__"][0]
            elif isinstance(v, dict):
                walk(v, s[k], f"{path}/{k}")

    walk(params, state["intermediates"], "")
    return out


@pytest.mark.parametrize(
    "name, depth, width, activation",
    [("cnn", 4, 16, "relu"), ("mlp", 6, 64, "tanh"), ("transformer", 1, 32, "gelu")],
)
def test_lsuv_unit_variance_on_flax_models(name, depth, width, activation):
    model, shape = models.build(name, depth=depth, width=width, activation=activation)
    x = jax.random.normal(jax.random.key(1), (16, *shape))
    tol = 0.02
    params = diagnostics.lsuv(model, x, KEY, tol=tol)
    outputs = _kernel_outputs(model, params, x)
    assert len(outputs) == {"cnn": 4, "mlp": 6, "transformer": 6}[name]
    for path, y in outputs.items():
        assert abs(float(jnp.var(y)) - 1) <= tol, path


def test_lsuv_kernels_are_scaled_orthogonal():
    model, shape = models.build("cnn", depth=3, width=16)
    x = jax.random.normal(jax.random.key(1), (16, *shape))
    params = diagnostics.lsuv(model, x, KEY)
    for layer in params.values():
        w = np.asarray(layer["kernel"], np.float64).reshape(-1, 16)
        gram = w.T @ w
        c = np.mean(np.diag(gram))
        np.testing.assert_allclose(gram / c, np.eye(16), atol=1e-5)
