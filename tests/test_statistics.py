"""The values follow the promised laws: KS and moment checks with bounds from n.

Each check uses a fixed key, so it either always passes or always fails; the
bounds (tests/helpers.py) make a false alarm a ~1e-3 (KS) or ~1e-6 (moments)
event for a correct law, while a 1% error in the std is caught.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from helpers import assert_ks, assert_moments
from registry import WITH_LAW

import jinit
import jinit.torch

SHAPE = (512, 512)  # n = 262,144


@pytest.mark.parametrize("row", WITH_LAW, ids=repr)
def test_law(row):
    law = row.law(SHAPE)
    x = np.asarray(row.ours()(jax.random.key(2024), SHAPE), np.float64)
    assert_ks(x, law.cdf)
    kurtosis = float(law.stats(moments="k")) + 3
    assert_moments(x, float(law.mean()), float(law.std()), kurtosis)


def test_moment_check_catches_a_one_percent_error():
    """The bounds have teeth: a std 1% off is rejected at this sample size."""
    x = np.asarray(jinit.normal(1.01)(jax.random.key(2024), (1024, 512)))
    with pytest.raises(AssertionError):
        assert_moments(x, 0.0, 1.0, 3.0)


@pytest.mark.parametrize("name", ["he_normal", "glorot_uniform", "lecun_normal"])
def test_bfloat16_is_fine_grained(name):
    """Thousands of distinct values (JAX's bf16 he_normal has 128), same law."""
    init = getattr(jinit, name)()
    key = jax.random.key(0)
    bf16 = np.asarray(init(key, SHAPE, jnp.bfloat16), np.float32)
    assert np.unique(bf16).size > 2000
    f32 = np.asarray(init(jax.random.key(1), SHAPE), np.float32)
    assert scipy.stats.ks_2samp(bf16.ravel(), f32.ravel()).statistic < 0.01


def test_bfloat16_tiny_std_wide_bounds_nothing_on_the_bounds():
    """PyTorch's trunc_normal_(std=0.01) in bf16 put 0.4% of values at -2."""
    init = jinit.truncated_normal(0.01, lower=-2.0, upper=2.0, bounds="absolute")
    x = np.asarray(init(jax.random.key(3), (1024, 1024), jnp.bfloat16), np.float32)
    assert np.count_nonzero(np.abs(x) >= 2.0) == 0
    assert np.abs(x).max() <= 6 * 0.01
    # bf16 rounding adds variance (ulp^2/12, < 1e-5 relative here): the normal's bound.
    assert_moments(x, 0.0, 0.01, 3.0)


def test_float32_tiny_std_wide_bounds_keeps_std_and_kurtosis():
    init = jinit.truncated_normal(0.002, lower=-2.0, upper=2.0, bounds="absolute")
    x = np.asarray(init(jax.random.key(4), (1024, 1024)), np.float64)
    assert np.abs(x).max() <= 6 * 0.002  # no 1000-sigma outliers
    assert_moments(x, 0.0, 0.002, 3.0)
    n = x.size
    excess = scipy.stats.kurtosis(x.ravel())  # sample excess kurtosis: sd ~ sqrt(24/n)
    assert abs(excess) <= 5 * math.sqrt(24 / n)


def test_no_outliers_where_jax_clips_onto_the_bound():
    """u == erf(lower/sqrt2) == -1 happens with probability 2**-23 per value.

    With 2**25 values JAX's sampler turns those into -1000-sigma values (the test
    checks that it does for this key, so it can catch the defect); jinit's has none.
    """
    key = jax.random.key(0)
    shape = (2**25,)
    theirs = jax.random.truncated_normal(key, -1000.0, 1000.0, shape)
    assert int(jnp.sum(jnp.abs(theirs) > 6)) >= 1
    ours = jinit.truncated_normal(1.0, None, -1000.0, 1000.0)(key, shape)
    assert int(jnp.sum(jnp.abs(ours) > 6)) == 0
    same = jnp.abs(theirs) <= 6
    assert bool(jnp.all(jnp.where(same, ours == theirs, True)))  # else unchanged


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_absolute_bounds_hold_after_rounding(dtype):
    lower, upper, mean, std = -0.1, 0.3, 0.05, 0.2
    init = jinit.truncated_normal(
        std, dtype, lower, upper, mean=mean, bounds="absolute"
    )
    x = np.asarray(init(jax.random.key(5), SHAPE), np.float64)
    assert x.min() >= lower and x.max() <= upper
    if dtype == jnp.float32:
        law = scipy.stats.truncnorm(
            (lower - mean) / std, (upper - mean) / std, loc=mean, scale=std
        )
        assert_ks(x, law.cdf)


@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
def test_complex_variance(distribution):
    """E|z|^2 = scale / fan_in for every complex law (JAX's truncated one: +1.86%)."""
    shape = (256, 4096)
    init = jinit.variance_scaling(1.0, "fan_in", distribution)
    z = np.asarray(init(jax.random.key(6), shape, jnp.complex64)).astype(np.complex128)
    power = np.abs(z.ravel()) ** 2
    target = 1.0 / 256
    bound = 5 * power.std() / math.sqrt(power.size)
    assert abs(power.mean() - target) <= bound, (power.mean(), target, bound)
    assert abs(z.real.var() - z.imag.var()) <= 2 * bound  # isotropic
    assert abs(z.mean()) <= 5 * math.sqrt(target / z.size)


# The far tail (issue #14, jax-ml/jax#10951): JAX's inverse CDF through erf has
# a handful of values (or one, the bound) where erf is within an ulp of +-1.
TAIL_BOUNDS = [(8.0, 9.0), (-9.0, -8.0), (5.0, 6.0), (3.0, 4.0), (-6.0, -5.5)]
TAIL_BOUNDS += [(13.5, 14.0), (40.0, 41.0), (-0.2, -0.1), (2.5, 1e6), (-30.0, -1.0)]


def _tail_sample(init, dtype):
    return np.asarray(init(jax.random.key(11), (20_000,), dtype), np.float64)


@pytest.mark.parametrize("bounds", TAIL_BOUNDS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relative_bounds_anywhere_follow_the_law(request, bounds, dtype):
    if dtype == "float64":
        request.getfixturevalue("x64")
    lower, upper = bounds
    x = _tail_sample(jinit.truncated_normal(1.0, lower=lower, upper=upper), dtype)
    assert x.min() > lower and x.max() < upper  # strictly inside
    law = scipy.stats.truncnorm(lower, upper)
    assert_ks(x, law.cdf)
    assert np.unique(x).size > 0.5 * x.size  # not a few values piled up


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "mean, std, lower, upper",
    [(0.0, 0.02, 0.5, 0.6), (0.0, 0.02, -0.6, -0.5), (1.0, 0.1, 1.6, 1.7)],
)
def test_absolute_bounds_in_the_far_tail_follow_the_law(
    request, dtype, mean, std, lower, upper
):
    if dtype == "float64":
        request.getfixturevalue("x64")
    init = jinit.truncated_normal(
        std, lower=lower, upper=upper, mean=mean, bounds="absolute"
    )
    x = _tail_sample(init, dtype)
    assert x.min() > lower and x.max() < upper
    a, b = (lower - mean) / std, (upper - mean) / std
    assert_ks(x, scipy.stats.truncnorm(a, b, loc=mean, scale=std).cdf)


def test_the_issue_example_has_the_laws_mean_and_std():
    """(8, 9): the law's mean is 8.121 and std 0.119; jinit returned 9.0 for all."""
    x = np.asarray(
        jinit.truncated_normal(1.0, lower=8.0, upper=9.0)(
            jax.random.key(0), (400_000,)
        ),
        np.float64,
    )
    law = scipy.stats.truncnorm(8.0, 9.0)
    kurtosis = float(law.stats(moments="k")) + 3
    assert_moments(x, float(law.mean()), float(law.std()), kurtosis)


@pytest.mark.standard_promotion
@pytest.mark.parametrize("bounds", [(-2.0, 2.0), (0.5, 2.0), (2.0, 3.0), (-3.0, 0.1)])
def test_where_jax_resolves_the_interval_the_bits_are_jaxs(bounds):
    key = jax.random.key(12)
    ours = jinit.truncated_normal(1.0, None, *bounds)(key, (256, 64))
    theirs = jax.random.truncated_normal(key, *bounds, (256, 64))
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


# ----------------------------------------------------------------------------
# law(shape, dtype): the one answer to "what does this initializer draw".


@pytest.mark.parametrize("row", WITH_LAW, ids=repr)
def test_law_is_the_registrys_exact_law(row):
    """Mean, std, support and density equal the scipy law the registry states."""
    for shape in row.shapes:
        ours, exact = row.ours().law(shape), row.law(shape)
        assert ours is not None
        assert ours.mean == pytest.approx(float(exact.mean()), rel=1e-9, abs=1e-12)
        assert ours.std == pytest.approx(float(exact.std()), rel=1e-9)
        assert ours.support == pytest.approx(exact.support(), rel=1e-9)
        x = np.linspace(*exact.ppf([1e-4, 1 - 1e-4]), 101)
        np.testing.assert_allclose(ours.density(x), exact.pdf(x), rtol=1e-9)


def _law_cases():
    yield "orthogonal", jinit.orthogonal(2.0), (96, 40)
    yield "orthogonal_wide", jinit.orthogonal(column_axis=0), (8, 64)
    yield "sparse", jinit.torch.sparse(0.3, std=0.5), (200, 500)
    yield "tail", jinit.truncated_normal(1.0, lower=8.0, upper=9.0), (400, 500)
    yield (
        "absolute",
        jinit.truncated_normal(0.02, lower=0.5, upper=0.6, bounds="absolute"),
        (400, 500),
    )
    yield "he_normal", jinit.he_normal(), (400, 500)
    yield "complex", jinit.variance_scaling(1.0, "fan_in", "uniform"), (400, 500)


@pytest.mark.parametrize(
    "name, init, shape",
    list(_law_cases()),
    ids=lambda c: c if isinstance(c, str) else "",
)
def test_law_std_matches_a_large_sample(name, init, shape):
    dtype = jnp.complex64 if name == "complex" else jnp.float32
    law = init.law(shape, dtype)
    x = (
        np.asarray(init(jax.random.key(21), shape, dtype))
        .astype(np.complex128 if name == "complex" else np.float64)
        .ravel()
    )
    n = x.size
    dev = np.abs(x - law.mean) ** 2
    # E|x - mean|^2 = std^2; its sample mean has std sd(dev) / sqrt(n).
    assert abs(dev.mean() - law.std**2) <= 6 * dev.std() / math.sqrt(n), name
    if law.support is not None:
        assert x.real.min() >= law.support[0] and x.real.max() <= law.support[1]


def test_law_answers_none_where_values_share_no_law_and_checks_the_shape():
    assert jinit.identity().law((3, 3)) is None
    assert jinit.dirac().law((3, 3, 4, 4)) is None
    assert jinit.constant(np.arange(3.0)).law((2, 3)) is None
    assert jinit.constant(-0.5).law((2,)).std == 0.0
    with pytest.raises(ValueError, match="`in_axis` must be"):
        jinit.variance_scaling(1.0, "fan_in", "normal", in_axis=5).law((3, 4))
    assert jinit.he_normal().law((64, 32)).std == pytest.approx(math.sqrt(2 / 64))


# ----------------------------------------------------------------------------
# One-sided truncation (an infinite bound), as jax.random.truncated_normal and
# torch.nn.init.trunc_normal_ accept it.

ONE_SIDED = [(-math.inf, 1.5), (0.25, math.inf), (-math.inf, -4.0), (6.0, math.inf)]


@pytest.mark.parametrize("bounds", ONE_SIDED, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_sided_relative_bounds_follow_the_law(request, bounds, dtype):
    if dtype == "float64":
        request.getfixturevalue("x64")
    lower, upper = bounds
    x = _tail_sample(jinit.truncated_normal(1.0, lower=lower, upper=upper), dtype)
    assert np.isfinite(x).all() and x.min() > lower and x.max() < upper
    assert_ks(x, scipy.stats.truncnorm(lower, upper).cdf)
    law = jinit.truncated_normal(1.0, lower=lower, upper=upper).law((1,))
    ref = scipy.stats.truncnorm(lower, upper)
    assert law.std == pytest.approx(float(ref.std()), rel=1e-9)
    assert law.mean == pytest.approx(float(ref.mean()), rel=1e-9, abs=1e-12)


def test_one_sided_absolute_bounds_with_a_mean_follow_the_law():
    mean, std = 0.5, 2.0
    init = jinit.truncated_normal(
        std, lower=-math.inf, upper=1.0, mean=mean, bounds="absolute"
    )
    x = _tail_sample(init, "float32")
    assert np.isfinite(x).all() and x.max() <= 1.0
    a, b = -math.inf, (1.0 - mean) / std
    assert_ks(x, scipy.stats.truncnorm(a, b, loc=mean, scale=std).cdf)


@pytest.mark.standard_promotion
@pytest.mark.parametrize("bounds", [(-math.inf, 1.5), (-0.5, math.inf)], ids=str)
def test_one_sided_bounds_near_zero_are_jaxs_bits(bounds):
    # JAX's jitted draw bit for bit (JAX's own eager call differs from its jitted
    # one by up to 1e-6 here: erf(-inf) = -1 is folded into the uniform's affine
    # map differently).
    key = jax.random.key(13)
    ours = jinit.truncated_normal(1.0, None, *bounds)(key, (128, 32))
    theirs = jax.jit(lambda k: jax.random.truncated_normal(k, *bounds, (128, 32)))(key)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.parametrize("bounds", [(5.0, 100.0), (6.0, math.inf), (-math.inf, -7.0)])
def test_a_zero_uniform_in_the_far_tail_gives_the_bound_not_nan(monkeypatch, bounds):
    # u = 0 comes once in 2**23 float32 draws: it must give the outer bound's
    # side of the law, never NaN (it gave NaN where Phi(lo)/Phi(hi) < an ulp).
    def zeros(key, shape, dtype, *args, **kwargs):
        return jnp.zeros(shape, dtype)

    monkeypatch.setattr(jax.random, "uniform", zeros)
    x = np.asarray(jinit.truncated_normal(1.0, None, *bounds)(jax.random.key(0), (4,)))
    assert np.isfinite(x).all() and (x > bounds[0]).all() and (x < bounds[1]).all()


@pytest.mark.parametrize("bad", [math.nan, "inf"])
def test_a_nan_bound_is_refused(bad):
    kind = ValueError if isinstance(bad, float) else TypeError
    with pytest.raises(kind, match="`lower` must be"):
        jinit.truncated_normal(1.0, lower=bad)
    with pytest.raises(ValueError, match="`lower` must be less than `upper`"):
        jinit.truncated_normal(1.0, lower=math.inf, upper=math.inf)
