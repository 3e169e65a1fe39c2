"""The laws: how each of jinit's standard distributions is drawn, and what it is.

The samplers draw a standard law in a real or complex compute dtype (f32, f64,
c64, c128) from one key; every one but the orthogonal matrices is elementwise
(value i depends on word i of the key's stream alone), so it can be drawn in
blocks (:mod:`jinit._blocks`). :class:`Law` describes a law (mean, std,
support, density) for the initializers' :meth:`law` methods, the one answer to
"what does this initializer draw".

Narrow floats (bfloat16, float16, float8_*, float4_*) are drawn and scaled in
float32 and rounded once into the requested dtype, saturating at the dtype's
largest finite value so that no draw becomes Inf or NaN.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _caches

#: sqrt(2) * erf_inv(u) maps U(erf(a/sqrt2), erf(b/sqrt2)) onto N(0, 1) truncated to (a, b).
_SQRT2 = math.sqrt(2.0)

#: Std of N(0, 1) truncated to (-2, 2): sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2))), where
#: phi and Phi are the standard normal density and distribution function.
TRUNC_STD = 0.87962566103423978

#: Std of a complex normal of unit variance (E|z|^2 = 1) whose modulus is truncated
#: at 2. |z|^2 is Exp(1); truncated to [0, 4] its mean is (1 - 5 e^-4) / (1 - e^-4).
#: (JAX uses 0.95311164380491208, which makes the variance 1.86% too large.)
COMPLEX_TRUNC_STD = math.sqrt((1.0 - 5.0 * math.exp(-4.0)) / (1.0 - math.exp(-4.0)))


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a draw is computed in: float64 and complex stay, narrow floats -> f32."""
    if jnp.issubdtype(dtype, jnp.complexfloating) or dtype == np.float64:
        return dtype
    return np.dtype(np.float32)


def real_dtype(dtype: np.dtype) -> np.dtype:
    """The real dtype of the computation: complex64 -> float32, narrow -> float32."""
    dtype = compute_dtype(dtype)
    return np.dtype(np.finfo(dtype).dtype)


def is_complex(dtype: np.dtype) -> bool:
    return bool(jnp.issubdtype(dtype, jnp.complexfloating))


# ----------------------------------------------------------------------------
# The laws. Each draws in a real or complex compute dtype (f32, f64, c64, c128).


def uniform(key, shape, dtype, minval, maxval):
    """U[minval, maxval): ``jax.random.uniform`` itself (same bits as JAX).

    The bounds enter as operands, as in an eager ``jax.random.uniform`` call
    (whose jitted body takes them as arguments): as compile-time constants XLA
    folds them into the affine map differently, 1 ulp off on every element for
    some bounds, e.g. (-0.3, 0.7) (and so off Keras' ``RandomUniform``).
    """
    minval, maxval = lax.optimization_barrier(
        (jnp.asarray(minval), jnp.asarray(maxval))
    )
    return jax.random.uniform(key, shape, dtype, minval, maxval)


def normal(key, shape, dtype):
    """N(0, 1), or the complex normal with E|z|^2 = 1: ``jax.random.normal`` itself."""
    return jax.random.normal(key, shape, dtype)


def truncated_normal(key, shape, dtype, lower, upper):
    """N(0, 1) truncated to the open interval (lower, upper), by inverse CDF.

    ``lower`` and ``upper`` are static Python floats; which of two inverse CDFs
    draws is decided from them in Python (:func:`_jax_resolves`), so there is
    no runtime branch and every value depends on its own uniform alone:

    * JAX's: ``u ~ U(erf(lower/sqrt2), erf(upper/sqrt2))`` and
      ``sqrt2 * erf_inv(u)``, the operations and key use of
      ``jax.random.truncated_normal``, so the values are JAX's, with one repair:
      ``u`` is kept inside (-1, 1), so that bounds beyond about 5.4 (e.g.
      +-1000 sigma) give no ``erf_inv(-1) = -inf`` clipped onto the bound.
      Used wherever it resolves the interval (every interval that contains 0,
      and one-sided ones near it, such as (-2, 2), (0.5, 2) or (2, 3)).
    * The lower-tail one (:func:`_tail_truncated_normal`), for intervals in the
      far tail such as (5, 6) or (8, 9), where ``erf`` is within a few ulp of
      +-1 on the whole interval and JAX's draw takes a handful of values (or
      one: the bound). See jax-ml/jax#10951.

    Values lie strictly inside (lower, upper) wherever the dtype has a value
    there (else on the bounds rounded to the dtype).
    """
    lo = np.asarray(lower, dtype)
    hi = np.asarray(upper, dtype)
    if _jax_resolves(float(lower), float(upper), np.dtype(dtype)):
        sqrt2 = np.asarray(_SQRT2, dtype)
        a = lax.erf(lo / sqrt2)
        b = lax.erf(hi / sqrt2)
        u = jax.random.uniform(key, shape, dtype, minval=a, maxval=b)
        u = lax.max(u, np.nextafter(np.asarray(-1.0, dtype), np.asarray(0.0, dtype)))
        out = sqrt2 * lax.erf_inv(u)
    else:
        out = _tail_truncated_normal(key, shape, dtype, float(lower), float(upper))
    lo_in = np.nextafter(lo, np.asarray(np.inf, dtype))
    hi_in = np.nextafter(hi, np.asarray(-np.inf, dtype))
    if lo_in > hi_in:  # no value of the dtype strictly inside: the closed interval
        lo_in, hi_in = lo, hi
    return jnp.clip(out, lo_in, hi_in)


_LOG_2PI = math.log(2 * math.pi)


def log_ndtr(x: float) -> float:
    """log Phi(x) in float64 for a Python float ``x <= 0``, accurate in the far tail.

    ``math.erfc`` down to x = -25; below, the asymptotic series
    ``Phi(x) = phi(x) / |x| * sum_k (-1)^k (2k - 1)!! / x^(2k)``, 11 terms (the
    relative error of the sum is below 1e-28 there).
    """
    if x > -25.0:
        return math.log(0.5 * math.erfc(-x / _SQRT2))
    x2, total, term = x * x, 1.0, 1.0
    for k in range(1, 12):
        term *= -(2 * k - 1) / x2
        total += term
    return -x2 / 2 - math.log(-x) - 0.5 * _LOG_2PI + math.log(total)


def _levels(width: float, top: float, dtype: np.dtype) -> float:
    """How many values of ``dtype`` an interval of ``width`` ending near ``top`` holds,
    at most as many as a uniform draw has (2**mantissa bits)."""
    spacing = float(np.spacing(np.asarray(abs(top), dtype)))
    return min(width / spacing, 2.0 ** jnp.finfo(dtype).nmant)


@_caches.registered
@functools.lru_cache(maxsize=1024)
def _jax_resolves(lower: float, upper: float, dtype: np.dtype) -> bool:
    """Whether JAX's erf inverse CDF resolves (lower, upper) in ``dtype``.

    Its uniform lies in (erf(lower/sqrt2), erf(upper/sqrt2)), rounded to the
    dtype; the lower-tail draw's in (Phi(lo), Phi(hi)) of the flipped interval
    (or is exact, in log space). Each resolves the interval into as many levels
    as the dtype has values there (at most a uniform's 2**mantissa bits); JAX's
    is kept unless the other resolves at least 16 times more finely. Every
    interval containing 0 keeps JAX's (the same count of levels).
    """
    a, b = math.erf(lower / _SQRT2), math.erf(upper / _SQRT2)
    ours = _levels(b - a, max(abs(a), abs(b)), dtype)
    lo, hi = (-upper, -lower) if lower + upper > 0 else (lower, upper)
    log_a, log_b = log_ndtr(lo), log_ndtr(min(hi, 0.0))
    if hi > 0 or log_a < math.log(float(jnp.finfo(dtype).tiny)):
        tail = 2.0 ** jnp.finfo(dtype).nmant  # straddling, or exact in log space
    else:
        tail = _levels(math.exp(log_b) - math.exp(log_a), math.exp(log_b), dtype)
    return 16 * ours >= tail


def _tail_truncated_normal(key, shape, dtype, lower: float, upper: float):
    """N(0, 1) truncated to (lower, upper), inverted on the lower-tail side.

    The interval is flipped, if need be, to ``(lo, hi)`` with ``lo + hi <= 0``
    (``hi < 0`` here), where Phi is small and has full relative precision. With
    ``u ~ U[0, 1)``, the value is ``Phi^-1(Phi(lo) + u (Phi(hi) - Phi(lo)))``:
    ``ndtri`` of that probability while Phi(lo) is a normal float of the dtype,
    else the same probability in log space, ``log Phi(hi) + log1p(-(1 - u) c)``
    with ``c = 1 - Phi(lo) / Phi(hi)``, inverted by Newton steps on
    ``log_ndtr``. The constants are computed in Python in float64 from the
    static bounds. One uniform per value: an elementwise law.
    """
    flip = lower + upper > 0
    lo, hi = (-upper, -lower) if flip else (lower, upper)
    log_a, log_b = log_ndtr(lo), log_ndtr(hi)
    u = jax.random.uniform(key, shape, dtype)
    if log_b < -0.25 * float(jnp.finfo(dtype).max):
        z = jnp.full(shape, hi, dtype)  # the law is within an ulp of hi
    elif log_a >= math.log(float(jnp.finfo(dtype).tiny)):
        p_a, p_b = math.exp(log_a), math.exp(log_b)
        p = np.asarray(p_a, dtype) + u * np.asarray(p_b - p_a, dtype)
        z = jax.scipy.special.ndtri(p)
    else:
        c = np.asarray(-math.expm1(log_a - log_b), dtype)
        one = np.asarray(1, dtype)
        if c == one:  # Phi(lo) / Phi(hi) below an ulp (lo = -inf too): p = u Phi(hi)
            tiny = np.asarray(jnp.finfo(dtype).tiny, dtype)  # u = 0 is lo itself
            log_p = np.asarray(log_b, dtype) + jnp.log(jnp.maximum(u, tiny))
        else:
            log_p = np.asarray(log_b, dtype) + jnp.log1p(-(one - u) * c)
        z = _ndtri_log(log_p, dtype)
    return -z if flip else z


def _ndtri_log(log_p, dtype):
    """Phi^-1(exp(log_p)) for ``log_p < log(1/2)``, without forming exp(log_p).

    Starts from ``ndtri(exp(log_p))`` where that is a normal float, else from
    the asymptote ``-sqrt(t - log t - log 2 pi)``, ``t = -2 log_p``, and takes
    four Newton steps on ``log_ndtr(z) = log_p`` (quadratic convergence).
    """
    log_tiny = np.asarray(math.log(float(jnp.finfo(dtype).tiny)) + 1, dtype)
    half_log_2pi = np.asarray(0.5 * _LOG_2PI, dtype)
    t = np.asarray(-2, dtype) * log_p
    asymptote = -jnp.sqrt(
        jnp.maximum(t - jnp.log(t) - 2 * half_log_2pi, np.asarray(0, dtype))
    )
    near = jax.scipy.special.ndtri(jnp.exp(jnp.maximum(log_p, log_tiny)))
    z = jnp.where(log_p > log_tiny, near, asymptote)
    for _ in range(4):
        log_cdf = jax.scipy.special.log_ndtr(z, series_order=8)
        slope = jnp.exp(-z * z / 2 - half_log_2pi - log_cdf)  # phi / Phi
        z = z - (log_cdf - log_p) / slope
    return z


def complex_uniform(key, shape, dtype):
    """Uniform on the disk of radius sqrt(2) (E|z|^2 = 1), JAX's construction.

    ``r = sqrt(2 u1)``, ``theta = 2 pi u2``: the modulus has density r on [0, sqrt2].
    """
    key_r, key_theta = jax.random.split(key)
    rdt = np.zeros((), dtype).real.dtype
    r = jnp.sqrt(2 * jax.random.uniform(key_r, shape, rdt)).astype(dtype)
    theta = 2 * np.pi * jax.random.uniform(key_theta, shape, rdt).astype(dtype)
    return r * jnp.exp(1j * theta)


def complex_truncated_normal(key, shape, dtype, upper):
    """Complex normal with E|z|^2 = 1 before its modulus is truncated at ``upper``.

    ``|z|^2`` is Exp(1); inverting its CDF on ``[0, upper^2]`` gives the modulus, and
    the phase is uniform (JAX's construction). The std after truncation is
    :data:`COMPLEX_TRUNC_STD` for ``upper = 2``.
    """
    key_r, key_theta = jax.random.split(key)
    rdt = np.zeros((), dtype).real.dtype
    t = (1 - jnp.exp(jnp.array(-(upper**2), dtype))) * jax.random.uniform(
        key_r, shape, rdt
    ).astype(dtype)
    r = jnp.sqrt(-jnp.log(1 - t))
    theta = 2 * np.pi * jax.random.uniform(key_theta, shape, rdt).astype(dtype)
    return r * jnp.exp(1j * theta)


# ----------------------------------------------------------------------------
# Scaling and the single rounding into the requested dtype.


def scale_and_round(x, dtype, scale=None, shift=None, clip=None):
    """``x * scale + shift`` in the compute dtype, optionally clipped, rounded once.

    ``scale``/``shift`` are NumPy scalars already in the real compute dtype (or
    Python floats), cast to ``x``'s dtype; None skips the operation. ``clip`` is a
    ``(lo, hi)`` pair of bounds in the output's value space.
    """
    # A real scale multiplies a complex draw as (s + 0j), exactly as JAX does.
    if scale is not None:
        x = x * np.asarray(scale, x.dtype)
    if shift is not None:
        x = x + np.asarray(shift, x.dtype)
    if clip is not None:
        x = jnp.clip(x, np.asarray(clip[0], x.dtype), np.asarray(clip[1], x.dtype))
    return round_into(x, dtype)


def round_into(x, dtype):
    """Rounds ``x`` once into ``dtype``, saturating at its largest finite value."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if jnp.issubdtype(dtype, jnp.floating):
        big = float(jnp.finfo(dtype).max)
        if big < float(jnp.finfo(x.dtype).max):
            x = jnp.clip(x, -big, big)
    return x.astype(dtype)


def inside(bound: float, dtype: np.dtype, toward: float) -> float:
    """The value of ``dtype`` nearest to ``bound`` that is not beyond it.

    Used to keep absolute truncation bounds exact after rounding: for a lower
    bound ``toward=+inf``, for an upper bound ``toward=-inf``.
    """
    rounded = np.asarray(bound).astype(dtype)
    if (toward > bound and float(rounded) < bound) or (
        toward < bound and float(rounded) > bound
    ):
        rounded = np.nextafter(rounded, np.asarray(toward).astype(dtype))
    return float(rounded)


# ----------------------------------------------------------------------------
# What a law is: the answer of every initializer's ``law(shape, dtype)``.


@dataclasses.dataclass(frozen=True)
class Law:
    """The law of one value of a draw (the values of a draw share it).

    Attributes:
      mean: the mean (of the real value, or the complex mean).
      std: the standard deviation, ``sqrt(E|x - mean|^2)`` (complex too).
      support: the closed interval holding every value, or None for a complex
        law (not on a line).
      density: the density on the real line, a function of a NumPy array, or
        None (complex laws, laws with atoms).
    """

    mean: float
    std: float
    support: tuple[float, float] | None
    density: Callable[[np.ndarray], np.ndarray] | None = None


def _normal_pdf(x: Any, mean: float, std: float) -> Any:
    z = (np.asarray(x, np.float64) - mean) / std
    return np.exp(-0.5 * z * z) / (std * math.sqrt(2 * math.pi))


def point_law(value: float) -> Law:
    """Every value is ``value``."""
    return Law(value, 0.0, (value, value), None)


def uniform_law(low: float, high: float) -> Law:
    """U[low, high)."""
    if high <= low:
        return point_law(low)
    width = high - low

    def density(x: Any) -> Any:
        x = np.asarray(x, np.float64)
        return np.where((x >= low) & (x <= high), 1.0 / width, 0.0)

    return Law((low + high) / 2, width / math.sqrt(12), (low, high), density)


def normal_law(mean: float, std: float) -> Law:
    """N(mean, std^2), untruncated."""
    if std == 0:
        return point_law(mean)
    return Law(mean, std, (-math.inf, math.inf), lambda x: _normal_pdf(x, mean, std))


def _log_mass(a: float, b: float) -> float:
    """log(Phi(b) - Phi(a)), a < b, accurate in either tail."""
    if a + b > 0:
        a, b = -b, -a
    log_a, log_b = log_ndtr(a), log_ndtr(min(b, 0.0))
    if b > 0:  # Phi(b) = 1 - Phi(-b)
        log_b = math.log1p(-math.exp(log_ndtr(-b)))
    return log_b + math.log1p(-math.exp(log_a - log_b))


def truncated_normal_law(mean: float, std: float, a: float, b: float) -> Law:
    """N(mean, std^2) truncated to [mean + a std, mean + b std], in any tail.

    With ``Z = Phi(b) - Phi(a)`` and the ratios ``phi(.) / Z`` taken in log
    space (finite where Phi underflows): mean ``mean + std (phi(a) - phi(b)) / Z``,
    variance ``std^2 (1 + (a phi(a) - b phi(b)) / Z - m^2)``, m the standard mean.
    """
    if std == 0:
        return point_law(mean)
    log_z = _log_mass(a, b)
    half_log_2pi = 0.5 * math.log(2 * math.pi)

    def ratio(x: float) -> float:  # phi(x) / Z
        return math.exp(-x * x / 2 - half_log_2pi - log_z) if math.isfinite(x) else 0.0

    def times(x: float) -> float:  # x phi(x) / Z
        return x * ratio(x) if math.isfinite(x) else 0.0

    m = ratio(a) - ratio(b)
    var = max(1.0 + times(a) - times(b) - m * m, 0.0)
    lo, hi = mean + a * std, mean + b * std

    def density(x: Any) -> Any:
        x = np.asarray(x, np.float64)
        inside = (x >= lo) & (x <= hi)
        z = (x - mean) / std
        return np.where(inside, np.exp(-0.5 * z * z - half_log_2pi - log_z) / std, 0.0)

    return Law(mean + std * m, std * math.sqrt(var), (lo, hi), density)


def complex_law(std: float) -> Law:
    """A complex law of mean 0 and ``E|z|^2 = std^2`` (no density on a line)."""
    return Law(0.0, std, None, None)


def haar_entry_law(scale: float, n: int) -> Law:
    """One entry of ``scale`` times a Haar-random unit vector of ``R^n``.

    Its density is proportional to ``(1 - (x / scale)^2)^((n - 3) / 2)`` on
    ``[-|scale|, |scale|]`` (for n >= 3), its std ``|scale| / sqrt(n)``.
    """
    c = abs(scale)
    if c == 0 or n == 0:
        return point_law(0.0)
    density: Callable[[np.ndarray], np.ndarray] | None = None
    if n >= 3:
        log_norm = (
            math.lgamma(n / 2) - math.lgamma((n - 1) / 2) - 0.5 * math.log(math.pi)
        )

        def _density(x: Any) -> Any:
            u = np.clip(np.asarray(x, np.float64) / c, -1.0, 1.0)
            with np.errstate(divide="ignore"):
                return np.exp(log_norm + (n - 3) / 2 * np.log1p(-(u**2))) / c

        density = _density
    return Law(0.0, c / math.sqrt(n), (-c, c), density)
