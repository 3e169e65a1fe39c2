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
    assert stats.roles[:2] == ("kernel", "bias")
    assert stats.shapes[:2] == ((32, 32), (32,))


def test_linear_lecun_keeps_variance():
    stats = _run("linear", jinit.lecun_normal())
    assert abs(_mean_ratio(stats) - 1) <= _ratio_bound()
    # Through all layers: relative std <= sqrt(sum_i 2 (i + 2)) / n per seed.
    bound = 5 * math.sqrt(sum(2 * (i + 2) for i in range(DEPTH))) / WIDTH
    var = np.mean(stats.std[:, -1].astype(np.float64) ** 2)
    assert abs(var - 1) <= bound / math.sqrt(SEEDS) + 5 * math.sqrt(2 / WIDTH**2)
    assert stats.verdict().status == "healthy"


def test_linear_normal_one_explodes():
    # Var(W) = 1 instead of 1/n: the variance grows n-fold per layer.
    stats = _run("linear", jinit.normal(1.0), depth=8)
    log_ratio = np.mean(np.log(stats.std[:, 1:] ** 2 / stats.std[:, :-1] ** 2))
    assert abs(log_ratio - math.log(WIDTH)) <= 5 * _ratio_bound(depth=8)
    v = stats.verdict()
    assert v.status == "unhealthy" and v.reasons[0].startswith("activations explode")


def test_relu_he_holds_and_lecun_halves():
    he = _run("relu", jinit.he_normal())
    lecun = _run("relu", jinit.lecun_normal())
    assert abs(_mean_ratio(he) - 1) <= _ratio_bound()
    assert abs(_mean_ratio(lecun) - 0.5) <= 0.5 * _ratio_bound()
    assert str(he.verdict()) == "healthy"
    # Mean field: ReLU at scale 1 halves the second moment per layer exactly.
    mf = diagnostics.mean_field("relu", 1.0, DEPTH)
    assert abs(mf.rms[-1] / mf.rms[0] / 2 ** (-(DEPTH - 1) / 2) - 1) <= 1e-5
    v = lecun.verdict(expected=mf)
    assert v.status == "unhealthy"
    assert v.reasons[0].startswith("activations vanish: x")
    assert "mean field: x" in v.reasons[0] and "as expected" in v.reasons[0]
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
    assert "saturated at layer_" in str(
        tanh.verdict(diagnostics.Thresholds(saturated=0.5))
    )
    assert "saturated" not in str(tanh.verdict(diagnostics.Thresholds(saturated=0.95)))
    relu = _run("relu", jinit.he_normal(), depth=3, seeds=1)
    assert np.all(np.isnan(relu.saturated))  # no bounds: not measured
    # One unit of a 1-unit-wide ReLU layer fed a constant negative input: dead.
    apply = lambda p, x: (x, {"a": jax.nn.relu(x @ p)})  # noqa: E731
    x = -jnp.ones((8, 4))
    stats = diagnostics.propagation(apply, lambda k: jnp.eye(4), x, KEY, seeds=1)
    assert stats.dead[0, 0] == 1.0 and stats.mean[0, 0] == 0.0
    v = stats.verdict()
    assert v.status == "unhealthy" and "100% of units dead at a" in v.reasons


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


# ----------------------------------------------------------------------------
# Verdict rules, each on a case whose answer is known.


def _by_hand(rms, grad_rms=(1.0, 1.0), dead=None, saturated=None):
    """A Propagation with the given per-layer RMS and per-kernel gradient RMS."""
    rms = np.asarray(rms, np.float32)[None]
    n, k = rms.shape[1], len(grad_rms)
    nan = np.full((1, n), np.nan, np.float32)
    return diagnostics.Propagation(
        layers=tuple(f"layer_{i}" for i in range(n)),
        mean=np.zeros_like(rms),
        std=rms,
        dead=nan if dead is None else np.asarray(dead, np.float32)[None],
        saturated=nan if saturated is None else np.asarray(saturated, np.float32)[None],
        gain=nan,
        params=tuple(f"dense_{i}/kernel" for i in range(k)),
        roles=("kernel",) * k,
        shapes=((4, 4),) * k,
        grad_norm=np.asarray(grad_rms, np.float32)[None] * 4,  # size 16
        param_rms=np.ones((1, k), np.float32),
    )


@pytest.mark.parametrize(
    "rms, status, fragment",
    [
        ((1.0, 0.9, 0.6), "healthy", None),  # x0.6 is within x2
        ((1.0, 0.7, 0.4), "caution", "activations shrink slowly: x0.4"),
        ((1.0, 2.0, 3.0), "caution", "activations grow slowly: x3"),
        ((1.0, 0.3, 0.09), "unhealthy", "activations vanish: x0.09"),
        ((1.0, 5.0, 11.0), "unhealthy", "activations explode: x11"),
        ((1.0, 0.5, 0.0), "unhealthy", "activations reach 0 at layer_2"),
        ((1.0, np.inf, 1.0), "unhealthy", "non-finite"),
    ],
)
def test_activation_rules(rms, status, fragment):
    v = diagnostics.verdict(_by_hand(rms))
    assert v.status == status
    if fragment:
        assert fragment in str(v)


def test_gradient_rules_compare_per_parameter_rms():
    # Backward: the first kernel's gradient RMS over the last's.
    v = diagnostics.verdict(_by_hand((1, 1), grad_rms=(20.0, 1.0)))
    assert v.status == "unhealthy"
    assert v.reasons == (
        "gradients explode toward the input: x20 from dense_1/kernel to "
        "dense_0/kernel (x20 per layer)",
    )
    assert diagnostics.verdict(_by_hand((1, 1), grad_rms=(0.3, 1.0))).status == (
        "caution"
    )


def test_dead_and_saturation_thresholds():
    rules = diagnostics.Thresholds()
    at = lambda f: diagnostics.verdict(_by_hand((1, 1), dead=(0.1, f)))  # noqa: E731
    assert at(rules.dead - 0.01).status == "healthy"
    assert str(at(0.61)) == "unhealthy: 61% of units dead at layer_1"
    sat = diagnostics.verdict(_by_hand((1, 1), saturated=(0.82, 0.1)))
    assert str(sat) == "unhealthy: 82% of units saturated at layer_0"


def test_tanh_below_the_edge_of_chaos_is_a_caution_with_the_mean_field():
    # tanh at scale 1 (LeCun): the ordered phase; q_l -> 0 slowly (~1 / (2 l)).
    # The mean field predicts the shrinking; the verdict says so, not "healthy".
    stats = _run("tanh", jinit.lecun_normal(), depth=30, width=128, seeds=2)
    mf = diagnostics.mean_field("tanh", stats.weight_var(), 30)
    measured = float(np.exp(np.mean(np.log(stats.rms[:, -1] / stats.rms[:, 0]))))
    predicted = mf.rms[-1] / mf.rms[0]
    assert abs(math.log(measured / predicted)) <= 0.1  # width 128: O(1/n) off
    v = stats.verdict(expected=mf)
    assert v.status == "caution"
    assert v.reasons[0].startswith("activations shrink slowly")
    assert "as expected" in v.reasons[0]


class _SmallCNN:
    """He-ReLU CNN, 6 layers of 3x3 SAME convs, the first on ``c`` channels."""

    @staticmethod
    def build(channels):
        import flax.linen as nn

        class Net(nn.Module):
            @nn.compact
            def __call__(self, x):
                for i in range(6):
                    x = nn.Conv(
                        32, (3, 3), kernel_init=jinit.he_normal(), name=f"c{i}"
                    )(x)
                    x = jax.nn.relu(x)
                    self.sow("intermediates", f"layer_{i}", x)
                return x

        x = jax.random.normal(jax.random.key(2), (16, 8, 8, channels))
        return Net(), x


@pytest.mark.parametrize("channels", [3, 16])
def test_cnn_first_kernel_is_not_a_vanishing_gradient(channels):
    # The first kernel has 3*3*c*32 entries, the others 3*3*32*32: its gradient
    # *norm* is sqrt(c / 32) of theirs at equal per-parameter RMS (x0.31 for 3
    # channels), which the old rule called "vanishes". Per-parameter RMS is
    # what He keeps (mean field: ratio 1).
    model, x = _SmallCNN.build(channels)
    stats = diagnostics.diagnose(model, x, KEY, seeds=2)
    kernels = stats.kernels
    norm = _geomean_np(stats.grad_norm[:, np.asarray(kernels)])
    rms = _geomean_np(stats.kernel_grad_rms())
    sizes = np.array(
        [math.prod(s) for s, k in zip(stats.shapes, kernels, strict=True) if k]
    )
    np.testing.assert_allclose(norm / np.sqrt(sizes), rms, rtol=1e-5)
    assert abs(math.log(rms[0] / rms[-1])) <= math.log(2)
    assert not any("gradients" in r for r in stats.verdict().reasons)


def _geomean_np(x):
    return np.exp(np.mean(np.log(np.asarray(x, np.float64)), axis=0))


def _tanh_transformer(init):
    model, shape = models.build(
        "transformer", depth=2, width=64, activation="tanh", kernel_init=init
    )
    x = jax.random.normal(jax.random.key(1), (16, *shape))
    return diagnostics.diagnose(model, x, KEY, seeds=4, bounds=(-1.0, 1.0))


@pytest.mark.parametrize("variance, limit", [(2.0, "below"), (64.0, "above")])
def test_transformer_saturation_on_the_activation_outputs(variance, limit):
    # Pre-LayerNorm: each token's normalized vector has squared norm 64 (width),
    # so with W ~ N(0, v / 64) the first MLP pre-activations are exactly N(0, v)
    # given the tokens, i.i.d. over the 256 units: tanh saturates (|h| >=
    # atanh(0.98)) with probability 1 - erf(atanh(0.98) / sqrt(2 v)). A unit's
    # fraction is in [0, 1]: the mean over 256 units x 4 seeds has std <= 0.5 /
    # 32; 5 of those. The residual stream (layer_i) is not an activation output
    # and is not counted (the old report counted its |x| > 0.98 as saturated).
    init = jinit.he_normal() if variance == 2.0 else jinit.normal(1.0)
    stats = _tanh_transformer(init)
    expected = 1 - math.erf(math.atanh(0.98) / math.sqrt(2 * variance))
    i = stats.layers.index("act_0")
    assert abs(float(stats.saturated[:, i].mean()) - expected) <= 5 * 0.5 / 32
    assert np.all(np.isnan(stats.saturated[:, stats.layers.index("layer_0")]))
    saturated = any("saturated" in r for r in stats.verdict().reasons)
    assert saturated == (limit == "above")


# ----------------------------------------------------------------------------
# Roles from the model.


def test_param_roles_from_signature_or_name_never_ndim():
    class Sig:
        def __init__(self, role):
            self.signature = type("S", (), {"role": role})()

    tree = {
        "attn": {"query": {"kernel": jnp.ones((4, 2, 2)), "bias": jnp.ones((2, 2))}},
        "embed": {"embedding": jnp.ones((10, 4))},
        "ln": {"scale": jnp.ones(4), "bias": jnp.ones(4)},
        "odd": Sig("kernel"),
        "table": jnp.ones((3, 3)),
    }
    assert diagnostics.param_roles(tree) == {
        "attn/query/kernel": "kernel",
        "attn/query/bias": "bias",  # 2-D, still a bias
        "embed/embedding": "embedding",
        "ln/scale": "scale",
        "ln/bias": "bias",
        "odd": "kernel",  # from the signature
        "table": "other",  # 2-D with no known name: not a kernel
    }


def test_integer_tokens_input():
    import flax.linen as nn

    class LM(nn.Module):
        @nn.compact
        def __call__(self, tokens):
            h = nn.Embed(50, 16, name="embed")(tokens)
            for i in range(3):
                h = jnp.tanh(nn.Dense(16, name=f"dense_{i}")(h))
                self.sow("intermediates", f"layer_{i}", h)
            return h

    tokens = jax.random.randint(jax.random.key(3), (8, 5), 0, 50)
    stats = diagnostics.diagnose(LM(), tokens, KEY, seeds=2)
    assert np.all(np.isnan(stats.gain))  # no perturbation of tokens
    assert np.all(np.isfinite(stats.rms))
    assert stats.roles[stats.params.index("embed/embedding")] == "embedding"


# ----------------------------------------------------------------------------
# Mean field against an independent quadrature.


def _quad_moment(f, q):
    import scipy.integrate

    return scipy.integrate.quad(
        lambda z: (
            f(math.sqrt(q) * z) ** 2 * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
        ),
        -12,
        12,
        points=[0.0],
        limit=200,
    )[0]


def test_mean_field_tanh_against_quadrature():
    mf = diagnostics.mean_field("tanh", 1.5, 6, input_var=0.8)
    q = 1.5 * 0.8
    for layer in range(6):
        assert abs(mf.q[layer] / q - 1) <= 1e-4
        m = _quad_moment(math.tanh, q)
        assert abs(mf.rms[layer] / math.sqrt(m) - 1) <= 1e-4
        q = 1.5 * m


def test_fixed_points_of_gelu_at_its_forward_scale_are_unstable():
    # The reference's "variance-preserving" gelu scale 1 / E[gelu(z)^2]: q = 1 is
    # a fixed point by construction, but V'(1) > 1 (gelu ~ relu for large q,
    # ~ x / 2 near 0), so depth moves away from it; q = 0 attracts.
    from scipy.special import erf

    gelu = lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    scale = 1 / _quad_moment(gelu, 1.0)
    points = diagnostics.fixed_points("gelu_erf", scale)
    assert [round(p.q, 3) for p in points] == [0.0, 1.0]
    zero, one = points
    assert zero.stable and abs(zero.slope - scale / 4) <= 1e-3  # gelu'(0) = 1/2
    eps = 1e-3
    slope = (
        scale * (_quad_moment(gelu, 1 + eps) - _quad_moment(gelu, 1 - eps)) / (2 * eps)
    )
    assert not one.stable and abs(one.slope - slope) <= 1e-3 and slope > 1
    del erf


def test_depth_scale_known_answers_and_gelu_between():
    assert abs(diagnostics.depth_scale("relu", 50) / 2 - 1) <= 1e-4
    assert abs(diagnostics.depth_scale("linear", 50) - 1) <= 1e-4
    s = diagnostics.depth_scale("gelu_erf", 50)
    gelu = lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    assert 2.0 < s < 1 / _quad_moment(gelu, 1.0)
    # Independently: 50 layers at that scale keep the last RMS near the first's.
    m = _quad_moment(gelu, s)
    first = m
    for _ in range(49):
        m = _quad_moment(gelu, s * m)
    assert abs(math.log(m / first)) <= 0.05
    with pytest.raises(ValueError, match="`lo/hi` must be a bracket"):
        diagnostics.depth_scale("tanh", 50)
