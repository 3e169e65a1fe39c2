"""Norm-controlled laws (jinit._normed): exact norms, laws, sharding, errors.

Each law promises a norm exactly: tested to float32 rounding (rtol 1e-5, a few
ulps of the norm, against a ~1e-2 gap for any wrong factor). Laws: one entry of
``r`` times a uniform unit vector of R^n, ``(u + 1) / 2 ~ Beta((n-1)/2,
(n-1)/2)``; KS on independent entries only (one per row / per matrix), n >=
8000, p > 1e-3 (helpers.py).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from helpers import assert_ks
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jinit

KEY = jax.random.key(7)


def _sphere_cdf(r: float, n: int):
    beta = scipy.stats.beta((n - 1) / 2, (n - 1) / 2)
    return lambda x: beta.cdf((np.asarray(x) / r + 1) / 2)


def _svals(w):
    return np.linalg.svd(np.asarray(w, np.float64), compute_uv=False)


# -- spectral ------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(64, 256), (200, 48), (48, 48)])
def test_spectral_singular_values_are_sqrt_fan_ratio(shape):
    w = jinit.spectral(1.5)(KEY, shape)
    np.testing.assert_allclose(
        _svals(w), 1.5 * math.sqrt(shape[1] / shape[0]), rtol=2e-6
    )


def test_spectral_2d_is_orthogonal_scaled_bit_for_bit():
    got = jinit.spectral(2.0)(KEY, (32, 72))
    want = jinit.orthogonal(2.0 * math.sqrt(72 / 32))(KEY, (32, 72))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", [(3, 8, 16), (3, 3, 16, 8)])
def test_spectral_conv_is_scions_spectral_conv_per_tap(shape):
    # LIONS-EPFL/scion scion.py SpectralConv.init: orthogonal per tap times
    # sqrt(c_out / c_in) / k (1-D) or / k**2 (2-D); jinit's layout is HWIO.
    w = np.asarray(jinit.spectral()(KEY, shape))
    c_in, c_out = shape[-2:]
    taps = math.prod(shape[:-2])
    flat = w.reshape(taps, c_in, c_out)
    for t in range(taps):
        np.testing.assert_allclose(
            _svals(flat[t]), math.sqrt(c_out / c_in) / taps, rtol=2e-6
        )
    assert not np.allclose(flat[0], flat[1])  # independent taps


def test_spectral_torch_layout_and_batch_axis():
    w = jinit.spectral(in_axis=-1, out_axis=-2, batch_axis=0)(KEY, (3, 16, 64))
    for layer in np.asarray(w):  # (out=16, in=64) each
        np.testing.assert_allclose(_svals(layer), math.sqrt(16 / 64), rtol=2e-6)
    assert jinit.spectral(normalized=False).law((8, 32)).support == (
        -math.sqrt(32),
        math.sqrt(32),
    )


def test_spectral_entry_law_ks():
    # One entry per independent (6, 3) matrix: a column of length 6.
    w = jinit.spectral(batch_axis=0)(KEY, (10_000, 6, 3))
    law = jinit.spectral(batch_axis=0).law((10_000, 6, 3))
    r = math.sqrt(3 / 6)
    assert law.support == (-r, r) and law.std == pytest.approx(r / math.sqrt(6))
    assert_ks(np.asarray(w)[:, 0, 0], _sphere_cdf(r, 6))


# -- row / col normalized --------------------------------------------------------


def test_row_normalized_rows_have_the_exact_norm():
    # scion.py RowNorm.init: w /= ||row||; w /= sqrt(d_in) (normalized=True).
    w = jinit.row_normalized(2.0)(KEY, (48, 24))  # (in, out): rows are columns
    np.testing.assert_allclose(
        np.linalg.norm(np.asarray(w, np.float64), axis=0),
        2.0 / math.sqrt(48),
        rtol=1e-6,
    )
    w = jinit.row_normalized(normalized=False)(KEY, (3, 3, 8, 4))
    rows = np.asarray(w, np.float64).reshape(72, 4)  # taps and in together
    np.testing.assert_allclose(np.linalg.norm(rows, axis=0), 1.0, rtol=1e-6)


def test_col_normalized_columns_and_embedding_tokens():
    # scion.py ColNorm.init: columns to sqrt(d_out), / d_in if normalized.
    w = np.asarray(jinit.col_normalized()(KEY, (40, 24)), np.float64)
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), math.sqrt(24), rtol=1e-6)
    w = np.asarray(jinit.col_normalized(normalized=True)(KEY, (40, 24)), np.float64)
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), math.sqrt(24) / 40, rtol=1e-6)
    # Modula's Embed: each token vector of a (vocab, d) table has RMS 1.
    e = np.asarray(jinit.col_normalized()(KEY, (100, 32)), np.float64)
    np.testing.assert_allclose(np.sqrt(np.mean(e**2, axis=1)), 1.0, rtol=1e-6)


@pytest.mark.parametrize("which", ["row", "col"])
def test_normalized_entry_law_ks(which):
    if which == "row":
        init = jinit.row_normalized(3.0, normalized=False)
        w = np.asarray(init(KEY, (12, 10_000)))[0]  # entry 0 of each row
        n = 12
    else:
        init = jinit.col_normalized()
        w = np.asarray(init(KEY, (10_000, 12)))[:, 0]
        n = 12
    law = init.law((12, 10_000) if which == "row" else (10_000, 12))
    r = law.support[1]
    assert law.std == pytest.approx(r / math.sqrt(n))
    assert_ks(w, _sphere_cdf(r, n))


# -- sign -----------------------------------------------------------------------


def test_sign_values_and_balance():
    n = 200 * 300
    w = np.asarray(jinit.sign(0.5)(KEY, (200, 300)))
    assert set(np.unique(w)) == {-0.5, 0.5}
    # P(+) = 1/2: |fraction - 1/2| <= 5 * 0.5 / sqrt(n) (chance 6e-7).
    assert abs(np.mean(w > 0) - 0.5) <= 5 * 0.5 / math.sqrt(n)
    head = np.asarray(jinit.sign(normalized=True)(KEY, (64, 10), jnp.bfloat16))
    assert set(np.unique(head.astype(np.float32))) == {-1 / 64, 1 / 64}
    assert jinit.sign(2.0).law((5,)).std == 2.0


# -- with_norm ------------------------------------------------------------------


def test_with_norm_frobenius_and_row_exact():
    w = jinit.with_norm(jinit.normal(0.02), frobenius_norm=3.0)(KEY, (64, 32))
    assert np.linalg.norm(np.asarray(w, np.float64)) == pytest.approx(3.0, rel=1e-6)
    stacked = jinit.with_norm(jinit.he_normal(), frobenius_norm=2.0, batch_axis=0)
    w = np.asarray(stacked(KEY, (3, 16, 8)), np.float64)
    np.testing.assert_allclose(np.linalg.norm(w, axis=(1, 2)), 2.0, rtol=1e-6)
    rows = jinit.with_norm(jinit.orthogonal(), row_norm=0.5)(KEY, (16, 24))
    np.testing.assert_allclose(
        np.linalg.norm(np.asarray(rows, np.float64), axis=0), 0.5, rtol=1e-6
    )
    half = jinit.with_norm(jinit.uniform(), row_norm=1.0)(KEY, (32, 8), jnp.bfloat16)
    np.testing.assert_allclose(  # rounded once into bfloat16: 2**-8 relative
        np.linalg.norm(np.asarray(half, np.float64), axis=0), 1.0, rtol=2**-7
    )


def test_with_norm_gaussian_is_uniform_on_the_sphere_ks():
    init = jinit.with_norm(jinit.normal(5.0), row_norm=2.0)
    w = np.asarray(init(KEY, (9, 10_000)))[0]
    assert init.law((9, 10_000)).std == pytest.approx(2.0 / 3.0)
    assert_ks(w, _sphere_cdf(2.0, 9))
    assert jinit.with_norm(jinit.uniform(), row_norm=1.0).law((4, 4)) is None


def test_with_norm_rescales_by_radius():
    init = jinit.with_norm(jinit.normal(), frobenius_norm=1.0)
    assert init.scaled(3.0).frobenius_norm == 3.0


# -- sharding -------------------------------------------------------------------

LAWS = {
    "spectral": jinit.spectral(),
    "row": jinit.row_normalized(),
    "col": jinit.col_normalized(),
    "sign": jinit.sign(normalized=True),
    "frobenius": jinit.with_norm(jinit.normal(1.0), frobenius_norm=2.0),
    "rows_of_orthogonal": jinit.with_norm(jinit.orthogonal(), row_norm=2.0),
}


@pytest.mark.parametrize("name", sorted(LAWS))
def test_sharded_draw_is_bit_identical(name):
    init = LAWS[name]
    mesh = jax.make_mesh((2, 4), ("a", "b"))
    a = init(KEY, (64, 32))
    b = init(KEY, (64, 32), out_sharding=NamedSharding(mesh, P("a", "b")))
    np.testing.assert_array_equal(a, b)
    assert b.sharding.spec == P("a", "b")


def test_sharded_stacked_draw_is_bit_identical():
    init = jinit.row_normalized(batch_axis=0)
    mesh = jax.make_mesh((2, 4), ("a", "b"))
    a = init(KEY, (2, 16, 32))
    b = init(KEY, (2, 16, 32), out_sharding=NamedSharding(mesh, P("a", None, "b")))
    np.testing.assert_array_equal(a, b)


# -- errors ---------------------------------------------------------------------


def test_errors_are_named():
    with pytest.raises(ValueError, match="`method` must be one of"):
        jinit.spectral(method="svd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`shape` must be at least 2-D"):
        jinit.spectral()(KEY, (8,))
    with pytest.raises(TypeError, match="`dtype` must be"):
        jinit.row_normalized()(KEY, (8, 4), jnp.complex64)
    with pytest.raises(ValueError, match="exactly one of them"):
        jinit.with_norm(jinit.normal())
    with pytest.raises(ValueError, match="`row_norm` must be a positive number"):
        jinit.with_norm(jinit.normal(), row_norm=0.0)
    with pytest.raises(ValueError, match="`init` must be a law that is not all zeros"):
        jinit.with_norm(jinit.zeros, frobenius_norm=1.0)
    with pytest.raises(TypeError, match="`init` must be an initializer"):
        jinit.with_norm(3.0, frobenius_norm=1.0)
    with pytest.raises(ValueError, match="`shape` must be at least 2-D for row_norm"):
        jinit.with_norm(jinit.normal(), row_norm=1.0)(KEY, (8,))
    with pytest.raises(ValueError, match="`init` must be a law with no all-zero row"):
        jinit.with_norm(jinit.identity(), row_norm=1.0)(KEY, (4, 6))
    eye = jinit.with_norm(jinit.identity(), row_norm=2.0)(KEY, (6, 4))
    np.testing.assert_array_equal(eye, 2.0 * np.eye(6, 4, dtype=np.float32))
    with pytest.raises(TypeError, match="`in_axis` must be an int"):
        jinit.col_normalized(in_axis="0")  # type: ignore[arg-type]
