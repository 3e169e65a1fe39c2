"""The log-space laws (jinit._logspace) against their exact laws and sources.

Each law's stated mean, std, support and density against scipy (the
log-uniform is ``scipy.stats.loguniform``; the others by their CDF through the
transformation), samples of 2**16 values against them (a one-sample KS test,
p > 1e-6, and the sample mean and std within 5 standard errors: the sample
std's relative standard error is ``sqrt((kappa - 1) / (4 n))``, kappa the
law's kurtosis computed from its density), the Mamba reference lines run in
torch, and the properties every elementwise law has: the same bits
sharded, in blocks, stacked under ``nn.scan``; float64 and a
narrow float.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jinit
from jinit import _blocks
from jinit._logspace import LogArange

KEY = jax.random.key(0)
N = 2**16


def _softplus(y):
    return np.logaddexp(0.0, y)


# (init, CDF of the law) -- the CDFs written from the definitions, not the code.
def _cdf_log_uniform(lo, hi):
    return scipy.stats.loguniform(lo, hi).cdf


def _cdf_log_of_uniform(lo, hi):
    return lambda x: np.clip((np.exp(x) - lo) / (hi - lo), 0, 1)


def _cdf_inverse_softplus(dt_min, dt_max):
    a, b = math.log(dt_min), math.log(dt_max)
    return lambda y: np.clip((np.log(_softplus(y)) - a) / (b - a), 0, 1)


CASES = [
    pytest.param(
        jinit.log_uniform(1e-3, 0.1), _cdf_log_uniform(1e-3, 0.1), id="loguni"
    ),
    pytest.param(
        jinit.log_uniform(0.5, 8.0), _cdf_log_uniform(0.5, 8.0), id="loguni-wide"
    ),
    pytest.param(
        jinit.log_of_uniform(1, 16), _cdf_log_of_uniform(1, 16), id="logof-1-16"
    ),
    pytest.param(
        jinit.log_of_uniform(0, 16), _cdf_log_of_uniform(0, 16), id="logof-0-16"
    ),
    pytest.param(
        jinit.inverse_softplus_log_uniform(),
        _cdf_inverse_softplus(1e-3, 0.1),
        id="dt-mamba",
    ),
    pytest.param(
        jinit.inverse_softplus_log_uniform(0.01, 2.0, 1e-4),
        _cdf_inverse_softplus(0.01, 2.0),
        id="dt-wide",
    ),
]


def _moments(density, support):
    lo, hi = support
    lo = max(lo, -60.0)  # log U(0, h): the density is below e^-60 there
    mass = scipy.integrate.quad(density, lo, hi, limit=200)[0]
    mean = scipy.integrate.quad(lambda x: x * density(x), lo, hi, limit=200)[0]

    def central(k):
        return scipy.integrate.quad(
            lambda x: (x - mean) ** k * density(x), lo, hi, limit=200
        )[0]

    return mass, mean, math.sqrt(central(2)), central(4) / central(2) ** 2


@pytest.mark.parametrize("init, cdf", CASES)
def test_law_and_samples(init, cdf):
    law = init.law((N,))
    mass, mean, std, kurtosis = _moments(law.density, law.support)
    assert mass == pytest.approx(1, abs=1e-7)
    assert law.mean == pytest.approx(mean, rel=1e-7, abs=1e-9)
    assert law.std == pytest.approx(std, rel=1e-6)
    x = np.asarray(init(KEY, (N,)), np.float64)
    assert law.support[0] <= x.min() and x.max() <= law.support[1]
    assert scipy.stats.kstest(x, cdf).pvalue > 1e-6
    assert abs(x.mean() - law.mean) <= 5 * law.std / math.sqrt(N)
    assert abs(x.std() / law.std - 1) <= 5 * math.sqrt((kurtosis - 1) / (4 * N))


def test_log_uniform_is_scipys_loguniform():
    ref = scipy.stats.loguniform(1e-3, 0.1)
    law = jinit.log_uniform(1e-3, 0.1).law((4,))
    assert law.mean == pytest.approx(ref.mean(), rel=1e-12)
    assert law.std == pytest.approx(ref.std(), rel=1e-12)
    x = np.geomspace(1e-3, 0.1, 7)
    np.testing.assert_allclose(law.density(x), ref.pdf(x), rtol=1e-12)


def test_the_floor_is_an_atom():
    """dt clamped at a floor above dt_min: an atom at softplus^-1(floor) of mass
    log(floor / dt_min) / log(dt_max / dt_min); the law has no density then."""
    init = jinit.inverse_softplus_log_uniform(1e-3, 0.1, 1e-2)
    law = init.law((N,))
    assert law.density is None
    floor = 1e-2 + math.log(-math.expm1(-1e-2))
    assert law.support[0] == pytest.approx(floor, rel=1e-12)
    x = np.asarray(init(KEY, (N,)), np.float64)
    p = math.log(10) / math.log(100)  # 1/2
    hits = np.mean(x == x.min())
    assert abs(hits - p) <= 5 * math.sqrt(p * (1 - p) / N)
    # The law's moments: the atom plus the continuous part above it.
    u = np.linspace(math.log(1e-2), math.log(0.1), 200001)
    y = np.exp(u) + np.log(-np.expm1(-np.exp(u)))
    mean = p * floor + (1 - p) * np.trapezoid(y, u) / (u[-1] - u[0])
    assert law.mean == pytest.approx(mean, rel=1e-8)
    assert abs(x.mean() - law.mean) <= 5 * law.std / math.sqrt(N)


def test_a_floor_above_dt_max_is_a_constant():
    init = jinit.inverse_softplus_log_uniform(1e-3, 0.1, 0.5)
    law = init.law((8,))
    value = 0.5 + math.log(-math.expm1(-0.5))
    assert law.std == 0 and law.mean == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(init(KEY, (8,)), value, rtol=1e-6)


def test_mamba_reference_lines():
    """state-spaces/mamba's dt_bias and A_log lines, run in torch (float32)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    for floor in (1e-4, 1e-2):  # below dt_min, and an atom
        dt = torch.exp(
            torch.rand(N) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)
        ).clamp(min=floor)
        ref = (dt + torch.log(-torch.expm1(-dt))).numpy()
        ours = np.asarray(
            jinit.inverse_softplus_log_uniform(1e-3, 0.1, floor)(KEY, (N,))
        )
        assert scipy.stats.ks_2samp(ours, ref).pvalue > 1e-6
    a_log = torch.empty(N).uniform_(1, 16).log().numpy()
    ours = np.asarray(jinit.log_of_uniform(1, 16)(KEY, (N,)))
    assert scipy.stats.ks_2samp(ours, a_log).pvalue > 1e-6


def test_log_arange_is_s4d_real():
    torch = pytest.importorskip("torch")
    out = np.asarray(
        jinit.materialize(
            {"A_log": jax.ShapeDtypeStruct((3, 6), "f4")}, KEY, {".*": LogArange()}
        )["A_log"]
    )
    ref = torch.log(torch.arange(1, 7, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, np.broadcast_to(ref, (3, 6)), rtol=1e-7)
    assert LogArange().law((6,)) is None


LAWS = [
    jinit.log_uniform(1e-3, 0.1),
    jinit.inverse_softplus_log_uniform(),
    jinit.log_of_uniform(0.01, 16),
]


@pytest.mark.parametrize("init", LAWS, ids=lambda i: type(i).__name__)
def test_same_bits_every_way(init):
    shape = (64, 24)
    keys = jax.random.split(jax.random.key(7), 2)
    eager = init(keys[0], shape)  # the one jit kernel every call shares
    sharding = NamedSharding(jax.make_mesh((2, 4), ("a", "b")), P("a", "b"))
    sharded = init(keys[0], shape, out_sharding=sharding)
    assert sharded.sharding.is_equivalent_to(sharding, 2)
    np.testing.assert_array_equal(sharded, eager)
    f32 = np.dtype("float32")
    blocks = jax.jit(_blocks.draw_in_blocks, static_argnums=(0, 2, 3, 4))
    parts = blocks(init, keys[0], shape, f32, 64 * 24 // 3 + 1)
    np.testing.assert_array_equal(parts, eager)
    narrow = init(keys[0], shape, jnp.bfloat16)  # the float32 draw rounded once
    np.testing.assert_array_equal(narrow, eager.astype(jnp.bfloat16))


def test_float64(x64):
    for init in LAWS:
        x = np.asarray(init(KEY, (N,), jnp.float64))
        law = init.law((N,), jnp.float64)
        assert x.dtype == np.float64
        assert law.support[0] <= x.min() and x.max() <= law.support[1]
        assert abs(x.mean() - law.mean) <= 5 * law.std / math.sqrt(N)


@pytest.mark.standard_promotion  # Flax layers' internals
def test_stacked_under_nn_scan():
    """A scanned layer's (L, H) leaf: each layer's values from the law (one draw
    of the stack), LogArange's row in every layer."""
    nn = pytest.importorskip("flax.linen")
    import jinit.flax as jf

    class Mixer(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            dt = self.param("dt_bias", nn.initializers.zeros, (512,))
            a = self.param("A_log", nn.initializers.zeros, (512,))
            return x + dt.sum() + a.sum(), None

    Stack = nn.scan(
        Mixer, variable_axes={"params": 0}, split_rngs={"params": True}, length=4
    )
    abstract = jf.abstract(Stack(), jnp.zeros(()), None)
    rules = {".*dt_bias": jinit.inverse_softplus_log_uniform(), ".*A_log": LogArange()}
    params = jinit.materialize(abstract, KEY, rules)["params"]
    dt, a = np.asarray(params["dt_bias"]), np.asarray(params["A_log"])
    assert dt.shape == a.shape == (4, 512)
    cdf = _cdf_inverse_softplus(1e-3, 0.1)
    for layer in dt:
        assert scipy.stats.kstest(layer, cdf).pvalue > 1e-6
    assert len({row.tobytes() for row in dt}) == 4  # layers differ
    np.testing.assert_allclose(
        a, np.broadcast_to(np.log(np.arange(1, 513)), a.shape), rtol=1e-6
    )


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`low` must be a positive number"):
        jinit.log_uniform(0, 1)
    with pytest.raises(ValueError, match="`high` must be at least `low`"):
        jinit.log_uniform(2, 1)
    with pytest.raises(ValueError, match="`floor` must be a positive number"):
        jinit.inverse_softplus_log_uniform(floor=0)
    with pytest.raises(ValueError, match="`dt_max` must be at least `dt_min`"):
        jinit.inverse_softplus_log_uniform(0.1, 0.01)
    with pytest.raises(ValueError, match="`low` must be a non-negative number"):
        jinit.log_of_uniform(-1, 16)
    with pytest.raises(ValueError, match="`high` must be greater than `low`"):
        jinit.log_of_uniform(16, 16)
    with pytest.raises(TypeError, match="complex"):
        jinit.log_uniform(1e-3, 0.1)(KEY, (4,), jnp.complex64)
    with pytest.raises(TypeError, match="`low` must be a real number"):
        jinit.log_of_uniform("1", 16)
