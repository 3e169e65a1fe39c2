"""jinit.torch against the real torch.nn.init (torch CPU wheel, a test extra).

Layouts: PyTorch weights are (out, in, *k); jinit.torch draws Flax kernels
(*k, in, out). ``_to_flax`` moves a torch tensor into Flax layout, so exact
initializers (dirac, eye) compare value for value, and random ones compare
their laws: variance (two-sample bound from n) and two-sample KS.

Sample sizes: n = 409,600 per side. The ratio of two sample variances of
n-sample draws from one law has relative std sqrt(2 (k - 1) / n) (k the
kurtosis), so the 5-sigma bound is 1.6% in variance (0.8% in std) for a normal
law and 1.0% for a uniform one: a 1% error in the std (2% in the variance) fails.
"""

from __future__ import annotations

import math
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

torch = pytest.importorskip("torch")

import jinit  # noqa: E402
import jinit.torch as jt  # noqa: E402

N_TORCH = (256, 1600)  # (out, in): n = 409,600
CONV_TORCH = (128, 32, 10, 10)  # (out, in, kh, kw): n = 409,600


def _to_flax(x) -> np.ndarray:
    """(out, in, *k) -> (*k, in, out)."""
    x = np.asarray(x)
    return np.transpose(x, tuple(range(2, x.ndim)) + (1, 0))


def _flax_shape(torch_shape) -> tuple[int, ...]:
    return tuple(torch_shape[2:]) + (torch_shape[1], torch_shape[0])


def _torch_draw(fn, shape, **kwargs) -> np.ndarray:
    torch.manual_seed(0)
    t = torch.empty(shape, dtype=torch.float64)
    fn(t, **kwargs)
    return t.numpy()


def _jinit_draw(init, shape, seed=0) -> np.ndarray:
    return np.asarray(init(jax.random.key(seed), shape, jnp.float32), np.float64)


def _assert_same_law(ours, theirs, kurtosis):
    ours = np.ravel(ours)
    theirs = np.ravel(theirs)
    n = min(ours.size, theirs.size)
    bound = 5 * math.sqrt(2 * (kurtosis - 1) / n)
    ratio = ours.var() / theirs.var()
    assert abs(ratio - 1) <= bound, (ratio, bound)
    std = math.sqrt(theirs.var())
    assert abs(ours.mean() - theirs.mean()) <= 5 * std * math.sqrt(2 / n)
    result = scipy.stats.ks_2samp(ours, theirs)
    assert result.pvalue > 1e-3, result


# ----------------------------------------------------------------------------
# calculate_gain and fans: exact.


@pytest.mark.parametrize("nonlinearity", jt.NONLINEARITIES)
def test_calculate_gain_equals_torch(nonlinearity):
    assert jt.calculate_gain(nonlinearity) == torch.nn.init.calculate_gain(nonlinearity)


@pytest.mark.parametrize("param", [None, 0, 0.2, 1, 3.5, -0.1])
def test_calculate_gain_leaky_relu_params(param):
    ours = jt.calculate_gain("leaky_relu", param)
    assert ours == torch.nn.init.calculate_gain("leaky_relu", param)
    assert isinstance(ours, float)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="`nonlinearity` must be one of.*'relu'"):
        jt.calculate_gain("rleu")
    with pytest.raises(TypeError, match="`param` must be an int or float"):
        jt.calculate_gain("leaky_relu", True)
    with pytest.raises(TypeError, match="`param` must be"):
        jt.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize(
    "torch_shape",
    [(3, 5), (7, 2), (8, 4, 3), (16, 3, 5, 5), (6, 2, 3, 4, 5), (1, 1, 1, 1)],
)
def test_fans_equal_torch_on_transposed_layout(torch_shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(torch_shape))
    assert jinit.compute_fans(_flax_shape(torch_shape)) == tuple(map(float, expected))


# ----------------------------------------------------------------------------
# Laws: two-sample tests against torch.nn.init on the transposed shape.

S5 = math.sqrt(5)
CASES = [
    # (id, ours, torch function, torch kwargs, torch shape, kurtosis)
    ("uniform", jt.uniform(-0.3, 0.7), "uniform_", dict(a=-0.3, b=0.7), N_TORCH, 1.8),
    ("normal", jt.normal(0.5, 2.0), "normal_", dict(mean=0.5, std=2.0), N_TORCH, 3),
    (
        "trunc_normal",
        jt.trunc_normal(0.1, 1.0, -1.5, 2.5),
        "trunc_normal_",
        dict(mean=0.1, std=1.0, a=-1.5, b=2.5),
        N_TORCH,
        3,
    ),
    (
        "trunc_normal_abs_bounds",
        jt.trunc_normal(std=0.5),
        "trunc_normal_",
        dict(std=0.5),
        N_TORCH,
        3,
    ),
    (
        "xavier_uniform",
        jt.xavier_uniform(1.5),
        "xavier_uniform_",
        dict(gain=1.5),
        CONV_TORCH,
        1.8,
    ),
    (
        "xavier_normal",
        jt.xavier_normal(0.5),
        "xavier_normal_",
        dict(gain=0.5),
        CONV_TORCH,
        3,
    ),
    ("kaiming_uniform", jt.kaiming_uniform(), "kaiming_uniform_", {}, CONV_TORCH, 1.8),
    (
        "kaiming_uniform_fan_out",
        jt.kaiming_uniform(0.2, "fan_out"),
        "kaiming_uniform_",
        dict(a=0.2, mode="fan_out"),
        CONV_TORCH,
        1.8,
    ),
    (
        "kaiming_normal_relu",
        jt.kaiming_normal(nonlinearity="relu"),
        "kaiming_normal_",
        dict(nonlinearity="relu"),
        N_TORCH,
        3,
    ),
    (
        "kaiming_normal_fan_out_tanh",
        jt.kaiming_normal(mode="fan_out", nonlinearity="tanh"),
        "kaiming_normal_",
        dict(mode="fan_out", nonlinearity="tanh"),
        CONV_TORCH,
        3,
    ),
    (
        "kaiming_normal_sqrt5",
        jt.kaiming_normal(S5),
        "kaiming_normal_",
        dict(a=S5),
        N_TORCH,
        3,
    ),
]


@pytest.mark.parametrize(
    "ours, fn, kwargs, torch_shape, kurtosis",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_law_matches_torch(ours, fn, kwargs, torch_shape, kurtosis):
    theirs = _torch_draw(getattr(torch.nn.init, fn), torch_shape, **kwargs)
    _assert_same_law(_jinit_draw(ours, _flax_shape(torch_shape)), theirs, kurtosis)


def test_trunc_normal_bounds_are_absolute():
    x = _jinit_draw(jt.trunc_normal(mean=1.0, std=3.0, a=0.5, b=1.25), (1000, 100))
    assert x.min() >= 0.5 and x.max() <= 1.25
    # Relative bounds would have allowed values up to 1 + 3 * 1.25.
    assert x.max() > 1.2 and x.min() < 0.55


def test_law_gap_is_detected():
    """The two-sample check has the power the docstring claims: 1% in std fails."""
    theirs = _torch_draw(torch.nn.init.kaiming_normal_, N_TORCH)
    ours = _jinit_draw(jt.kaiming_normal(), _flax_shape(N_TORCH)) * 1.01
    with pytest.raises(AssertionError):
        _assert_same_law(ours, theirs, 3)


def test_linear_default_matches_nn_linear():
    layer = torch.nn.Linear(1600, 256)  # weight (256, 1600)
    torch.manual_seed(0)
    layer.reset_parameters()
    ours = _jinit_draw(jt.linear_default(), (1600, 256))
    _assert_same_law(ours, layer.weight.detach().numpy().astype(np.float64), 1.8)


def test_conv_default_matches_nn_conv2d_with_groups():
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(64, 128, 10, groups=2)  # weight (128, 32, 10, 10)
    ours = _jinit_draw(jt.conv_default(), (10, 10, 32, 128))
    _assert_same_law(ours, layer.weight.detach().numpy().astype(np.float64), 1.8)


def test_embedding_default_matches_nn_embedding():
    torch.manual_seed(0)
    layer = torch.nn.Embedding(4096, 100)
    ours = _jinit_draw(jt.embedding_default(), (4096, 100))
    _assert_same_law(ours, layer.weight.detach().numpy().astype(np.float64), 3)


@pytest.mark.parametrize(
    "make, fan_in",
    [
        (lambda: torch.nn.Linear(37, 5), 37),
        (lambda: torch.nn.Conv2d(12, 8, (3, 5), groups=4), 3 * 3 * 5),
        (lambda: torch.nn.Conv1d(6, 4, 7), 6 * 7),
    ],
    ids=["linear", "conv2d_groups", "conv1d"],
)
def test_bias_bounds_equal_torch_modules(make, fan_in):
    """Capture the exact U(a, b) bounds torch's modules give their bias."""
    calls = []
    real = torch.nn.init.uniform_

    def spy(tensor, a=0.0, b=1.0, generator=None):
        calls.append((a, b))
        return real(tensor, a, b, generator)

    with mock.patch.object(torch.nn.init, "uniform_", spy):
        layer = make()
    (a, b) = calls[-1]
    ours = jt.bias_default(fan_in=fan_in)
    assert (ours.minval, ours.maxval) == (a, b)
    # The rule form reads the same fan_in from the Flax kernel's shape.
    weight = tuple(layer.weight.shape)
    leaves = {"m/kernel": jax.ShapeDtypeStruct(_flax_shape(weight), jnp.float32)}
    assert jt.bias_default().for_leaf("m/bias", leaves) == jinit.Uniform(a, b)


# ----------------------------------------------------------------------------
# Orthogonal: the same Haar law.


@pytest.mark.parametrize("torch_shape", [(3, 4), (4, 3)])
def test_orthogonal_matches_torch(torch_shape):
    m = 20_000
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 25x faster for tiny QRs on this 2-core machine
    try:
        theirs = np.stack(
            [
                torch.nn.init.orthogonal_(torch.empty(torch_shape), gain=2.0).numpy().T
                for _ in range(m)
            ]
        ).astype(np.float64)
    finally:
        torch.set_num_threads(threads)
    keys = jax.random.split(jax.random.key(0), m)
    init = jt.orthogonal(2.0)
    ours = np.asarray(jax.vmap(lambda k: init(k, torch_shape[::-1]))(keys), np.float64)
    for stat in (lambda w: w[:, 0, 0], lambda w: np.trace(w, axis1=1, axis2=2)):
        result = scipy.stats.ks_2samp(stat(ours), stat(theirs))
        assert result.pvalue > 1e-3, result
    # Semi-orthogonal times gain, in the orientation torch gives (out rows).
    q = ours[0].T / 2.0  # torch layout (out, in)
    small = min(torch_shape)
    gram = q @ q.T if torch_shape[0] <= torch_shape[1] else q.T @ q
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-6)


# ----------------------------------------------------------------------------
# Exact: dirac, eye, constants.


@pytest.mark.parametrize(
    "torch_shape, groups",
    [
        ((4, 4, 3), 1),
        ((6, 4, 4), 1),
        ((4, 6, 5, 5), 1),
        ((8, 2, 4, 3), 2),
        ((6, 3, 2, 2), 3),
        ((4, 2, 3, 4, 2), 2),
        ((3, 5, 1, 6, 3), 1),
    ],
)
def test_dirac_equals_torch(torch_shape, groups):
    theirs = torch.nn.init.dirac_(torch.empty(torch_shape), groups).numpy()
    ours = np.asarray(jt.dirac(groups)(jax.random.key(0), _flax_shape(torch_shape)))
    np.testing.assert_array_equal(ours, _to_flax(theirs))


@pytest.mark.parametrize("torch_shape", [(3, 5), (5, 3), (4, 4)])
def test_eye_equals_torch(torch_shape):
    theirs = torch.nn.init.eye_(torch.empty(torch_shape)).numpy()
    ours = np.asarray(jt.eye()(jax.random.key(0), torch_shape[::-1]))
    np.testing.assert_array_equal(ours, _to_flax(theirs))


def test_constants_equal_torch():
    key = jax.random.key(0)
    for ours, fn, args in [
        (jt.constant(0.25), torch.nn.init.constant_, (0.25,)),
        (jt.ones(), torch.nn.init.ones_, ()),
        (jt.zeros(), torch.nn.init.zeros_, ()),
    ]:
        theirs = fn(torch.empty(3, 4), *args).numpy()
        np.testing.assert_array_equal(np.asarray(ours(key, (4, 3))), theirs.T)


# ----------------------------------------------------------------------------
# sparse: the zero pattern and the law of the rest.


def test_sparse_matches_torch():
    sparsity, std = 0.3, 0.05
    torch_shape = (100, 4000)  # (out, in): each of 4000 columns gets 30 zeros
    theirs = _torch_draw(torch.nn.init.sparse_, torch_shape, sparsity=sparsity, std=std)
    ours = _jinit_draw(jt.sparse(sparsity, std), torch_shape[::-1])
    num_zeros = math.ceil(sparsity * 100)
    np.testing.assert_array_equal((theirs == 0).sum(axis=0), num_zeros)
    np.testing.assert_array_equal((ours == 0).sum(axis=1), num_zeros)
    # The zeros fall uniformly on the outputs: per output, Binomial(4000, 0.3).
    per_output = (ours == 0).sum(axis=0)
    sd = math.sqrt(4000 * 0.3 * 0.7)
    assert np.all(np.abs(per_output - 1200) <= 5 * sd), per_output
    _assert_same_law(ours[ours != 0], theirs[theirs != 0], 3)


def test_sparse_is_deterministic_and_jittable():
    init = jt.sparse(0.5)
    key = jax.random.key(3)
    a = init(key, (16, 8))
    b = jax.jit(lambda k: init(k, (16, 8)))(key)
    np.testing.assert_array_equal(a, b)
    bf16 = init(key, (16, 8), jnp.bfloat16)
    assert bf16.dtype == jnp.bfloat16
    np.testing.assert_array_equal(bf16 == 0, a == 0)


def test_sparse_extremes():
    key = jax.random.key(0)
    assert np.all(np.asarray(jt.sparse(1.0)(key, (5, 7))) == 0)
    assert np.all(np.asarray(jt.sparse(0.0)(key, (5, 7))) != 0)


# ----------------------------------------------------------------------------
# Translations onto the core (the one source of truth) and errors.


def test_translations_are_core_initializers():
    assert jt.linear_default() == jinit.variance_scaling(1 / 3, "fan_in", "uniform")
    assert jt.kaiming_normal(mode="fan_out", nonlinearity="relu") == (
        jinit.variance_scaling(2.0, "fan_out", "normal")
    )
    assert jt.xavier_uniform() == jinit.variance_scaling(1.0, "fan_avg", "uniform")
    assert jt.trunc_normal(0.0, 0.02) == jinit.truncated_normal(
        0.02, None, -2.0, 2.0, bounds="absolute"
    )
    assert jt.dirac(2) == jinit.dirac(2, even_tap="high")
    assert jt.eye() == jinit.identity()
    assert jt.orthogonal(3.0) == jinit.orthogonal(3.0)
    assert jt.embedding_default() == jinit.normal(1.0)


def test_bias_default_rule_needs_a_sibling_kernel():
    rule = jt.bias_default()  # a Rule (fan_in= makes an initializer)
    assert isinstance(rule, jinit.Rule) and not isinstance(rule, jinit.Initializer)
    with pytest.raises(ValueError, match="`path` must be a bias next to"):
        rule.for_leaf("params/Dense_0/bias", {})
    empty = {"a/kernel": jax.ShapeDtypeStruct((0, 3), jnp.float32)}
    # compute_fans clamps an empty fan to 1, hence a bound of 1.
    assert rule.for_leaf("a/bias", empty) == jinit.Uniform(-1.0, 1.0)
    assert jt.bias_default(fan_in=0) == jinit.Uniform(-0.0, 0.0)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: jt.kaiming_uniform(mode="fan_avg"), ValueError, "`mode` must be one"),
        (lambda: jt.kaiming_normal(nonlinearity="gelu"), ValueError, "nonlinearity"),
        (lambda: jt.xavier_uniform(0.0), ValueError, "`gain` must be a non-zero"),
        (lambda: jt.uniform(1.0, 0.0), ValueError, "`a` must be at most `b`"),
        (lambda: jt.trunc_normal(a=2.0, b=1.0), ValueError, "`a` must be less"),
        (lambda: jt.trunc_normal(std=0.0), ValueError, "`std` must be a positive"),
        (lambda: jt.sparse(1.5), ValueError, "`sparsity` must be a fraction"),
        (lambda: jt.sparse(0.1, -1.0), ValueError, "`std` must be a non-negative"),
        (lambda: jt.dirac(0), ValueError, "`groups` must be a positive int"),
        (lambda: jt.bias_default(fan_in=-1), ValueError, "`fan_in` must be a non-neg"),
    ],
)
def test_bad_arguments_raise_when_built(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_bad_shapes_raise_before_tracing():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="`shape` must be 2-D"):
        jt.sparse(0.1)(key, (3, 4, 5))
    with pytest.raises(ValueError, match="`groups` must be a divisor"):
        jt.dirac(3)(key, (3, 3, 4, 4))
    with pytest.raises(ValueError, match="`shape` must be at least 2-D"):
        jt.orthogonal()(key, (4,))
