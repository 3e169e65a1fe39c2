"""Laws in log space, for state-space layers: a log-uniform draw, the inverse
softplus of one (Mamba's ``dt_bias``), the log of a uniform (Mamba-2's ``A_log``)
and the log of ``1..n`` (S4D-real's deterministic ``A_log``).

The three random laws are elementwise: value ``i`` is a function of the
``i``-th uniform of the key's stream, so they are drawn in blocks, sharded and
stacked with the same bits as every other elementwise law. Each is computed in
float32 (float64 stays) and rounded once into the requested dtype.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np

from . import _checks, _dispatch, _errors, _laws
from ._base import Init
from ._types import DTypeLike


def _inverse_softplus(x: float) -> float:
    """softplus^-1(x) = x + log(-expm1(-x)), x > 0, in float64."""
    return x + math.log(-math.expm1(-x))


def log_uniform_law(low: float, high: float) -> _laws.Law:
    """exp(U(log low, log high)): density ``1 / (x log(high / low))`` on [low, high]."""
    if high == low:
        return _laws.point_law(low)
    width = math.log(high / low)
    mean = (high - low) / width
    second = (high * high - low * low) / (2 * width)

    def density(x: Any) -> Any:
        x = np.asarray(x, np.float64)
        inside = (x >= low) & (x <= high)
        return np.where(inside, 1.0 / (np.where(inside, x, 1.0) * width), 0.0)

    std = math.sqrt(max(second - mean * mean, 0.0))
    return _laws.Law(mean, std, (low, high), density)


def log_of_uniform_law(low: float, high: float) -> _laws.Law:
    """log(U(low, high)), 0 <= low < high: density ``e^x / (high - low)``."""

    def antiderivative(u: float, power: int) -> float:  # of (log u)^power du
        if u == 0:
            return 0.0
        log_u = math.log(u)
        return u * (log_u - 1) if power == 1 else u * (log_u**2 - 2 * log_u + 2)

    width = high - low
    mean = (antiderivative(high, 1) - antiderivative(low, 1)) / width
    second = (antiderivative(high, 2) - antiderivative(low, 2)) / width
    lo = math.log(low) if low > 0 else -math.inf
    hi = math.log(high)

    def density(x: Any) -> Any:
        x = np.asarray(x, np.float64)
        inside = (x >= lo) & (x <= hi)
        return np.where(inside, np.exp(np.where(inside, x, 0.0)) / width, 0.0)

    std = math.sqrt(max(second - mean * mean, 0.0))
    return _laws.Law(mean, std, (lo, hi), density)


#: Gauss-Legendre nodes and weights on [-1, 1] for the inverse-softplus law's
#: moments (its integrand is analytic in log dt: 64 nodes are exact to float64).
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(64)


def inverse_softplus_log_uniform_law(
    dt_min: float, dt_max: float, floor: float
) -> _laws.Law:
    """softplus^-1(max(exp(U(log dt_min, log dt_max)), floor)).

    An atom at ``softplus^-1(floor)`` of mass ``log(floor / dt_min) / log(dt_max
    / dt_min)`` when ``floor > dt_min`` (then no density); the moments by
    Gauss-Legendre quadrature over ``u = log dt``.
    """
    a, b = math.log(dt_min), math.log(dt_max)
    lo = _inverse_softplus(max(dt_min, floor))
    hi = _inverse_softplus(max(dt_max, floor))
    if b == a:
        return _laws.point_law(lo)
    c = min(max(math.log(floor), a), b)  # where the continuous part starts
    atom = (c - a) / (b - a)
    u = (b - c) / 2 * _NODES + (b + c) / 2
    dt = np.exp(u)
    y = dt + np.log(-np.expm1(-dt))
    weights = _WEIGHTS * (b - c) / 2 / (b - a)
    mean = atom * lo + float(np.sum(weights * y))
    second = atom * lo * lo + float(np.sum(weights * y * y))
    std = math.sqrt(max(second - mean * mean, 0.0))
    if atom > 0:
        return _laws.Law(mean, std, (lo, hi), None)

    def density(x: Any) -> Any:
        x = np.asarray(x, np.float64)
        inside = (x >= lo) & (x <= hi)
        z = np.where(inside, x, 0.0)
        d = np.logaddexp(0.0, z)  # softplus: dt
        sigmoid = -np.expm1(-d)  # = 1 - exp(-softplus(z)) = sigmoid(z)
        return np.where(inside, sigmoid / (d * (b - a)), 0.0)

    return _laws.Law(mean, std, (lo, hi), density)


def _clip(x: Any, low: float, high: float) -> Any:
    """``x`` kept inside [low, high] (the bounds rounded inward to ``x``'s dtype)."""
    lo = _laws.inside(low, x.dtype, math.inf) if math.isfinite(low) else None
    hi = _laws.inside(high, x.dtype, -math.inf)
    return jnp.clip(x, lo, hi)


@dataclasses.dataclass(frozen=True)
class LogUniform(Init):
    """exp(U[log low, log high)). See :func:`log_uniform`."""

    elementwise: ClassVar[bool] = True
    low: float = 1e-3
    high: float = 1e-1
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        _checks.check_real_dtype("log_uniform", dtype)

    def _law(self, shape, dtype):
        return log_uniform_law(self.low, self.high)

    def _law_key(self, shape, dtype):
        return _dispatch.config_key(self)  # the shape is not read

    def _draw(self, key, shape, dtype, draw_shape):
        cdt = _laws.compute_dtype(dtype)
        u = _laws.uniform(key, draw_shape, cdt, math.log(self.low), math.log(self.high))
        return _laws.round_into(_clip(jnp.exp(u), self.low, self.high), dtype)


@dataclasses.dataclass(frozen=True)
class InverseSoftplusLogUniform(Init):
    """softplus^-1(max(exp(U[log dt_min, log dt_max)), floor)).

    See :func:`inverse_softplus_log_uniform`.
    """

    elementwise: ClassVar[bool] = True
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    floor: float = 1e-4
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        _checks.check_real_dtype("inverse_softplus_log_uniform", dtype)

    def _law(self, shape, dtype):
        return inverse_softplus_log_uniform_law(self.dt_min, self.dt_max, self.floor)

    def _law_key(self, shape, dtype):
        return _dispatch.config_key(self)  # the shape is not read

    def _draw(self, key, shape, dtype, draw_shape):
        cdt = _laws.compute_dtype(dtype)
        u = _laws.uniform(
            key, draw_shape, cdt, math.log(self.dt_min), math.log(self.dt_max)
        )
        dt = jnp.maximum(jnp.exp(u), np.asarray(self.floor, cdt))
        y = dt + jnp.log(-jnp.expm1(-dt))
        law = inverse_softplus_log_uniform_law(self.dt_min, self.dt_max, self.floor)
        assert law.support is not None
        return _laws.round_into(_clip(y, *law.support), dtype)


@dataclasses.dataclass(frozen=True)
class LogOfUniform(Init):
    """log(U(low, high]). See :func:`log_of_uniform`."""

    elementwise: ClassVar[bool] = True
    low: float = 1.0
    high: float = 16.0
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        _checks.check_real_dtype("log_of_uniform", dtype)

    def _law(self, shape, dtype):
        return log_of_uniform_law(self.low, self.high)

    def _law_key(self, shape, dtype):
        return _dispatch.config_key(self)  # the shape is not read

    def _draw(self, key, shape, dtype, draw_shape):
        cdt = _laws.compute_dtype(dtype)
        v = _laws.uniform(key, draw_shape, cdt, 0.0, 1.0)
        # high - (high - low) v lies in (low, high]: never 0, so the log is finite.
        a = np.asarray(self.high, cdt) - np.asarray(self.high - self.low, cdt) * v
        a = jnp.maximum(a, np.asarray(self.low, cdt))
        lo = math.log(self.low) if self.low > 0 else -math.inf
        return _laws.round_into(_clip(jnp.log(a), lo, math.log(self.high)), dtype)


@dataclasses.dataclass(frozen=True)
class LogArange(Init):
    """``log(1), log(2), ..., log(n)`` along the last axis, n its size (no key).

    S4D-real's ``A = 1..n`` stored as ``A_log``: transformers' ``Mamba2Mixer``
    (one value per head) and Mamba-1's ``A_log`` (``(d_inner, d_state)``, the
    same row per channel). Not i.i.d.: ``law`` is None. A stacked leaf gets
    the same values in each layer.
    """

    random: ClassVar[bool] = False
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        _checks.check_real_dtype("LogArange", dtype)
        if not shape:
            raise _errors.bad_value("shape", "at least one axis for LogArange", shape)

    def _generate(self, key, shape, dtype):
        cdt = _laws.compute_dtype(dtype)
        row = jnp.log(jnp.arange(1, shape[-1] + 1, dtype=cdt))
        return _laws.round_into(jnp.broadcast_to(row, shape), dtype)


def _positive(arg: str, value: Any) -> float:
    return _checks.real_number(arg, value, positive=True)


def _ordered(low_arg: str, low: float, high_arg: str, high: float) -> None:
    if high < low:
        raise _errors.bad_value(high_arg, f"at least `{low_arg}` ({low})", high)


def log_uniform(low: float, high: float, dtype: DTypeLike | None = None) -> LogUniform:
    r"""Builds an initializer drawing ``exp(U[log low, log high))``.

    The log-uniform (reciprocal) law on ``[low, high]``: density
    ``1 / (x log(high / low))``, mean ``(high - low) / log(high / low)``. It is
    Mamba's and S4's time-step draw ``dt`` before the inverse softplus (see
    :func:`inverse_softplus_log_uniform`, which gives ``dt_bias``). Values lie
    in ``[low, high]`` in every dtype.

    Law:
      exp(U[log low, log high))

      ``exp(U[log low, log high))``: the log-uniform (reciprocal) law on
      ``[low, high]``, density ``1 / (x log(high / low))``, mean
      ``(high - low) / log(high / low)`` (``scipy.stats.loguniform``).

    Args:
      low: the lower bound, > 0.
      high: the upper bound, >= low.
      dtype: the default dtype of the weights (real floating).

    Raises:
      ValueError: a bound that is not positive, ``high < low``. TypeError at
      call time: a complex dtype.

    Example:
      >>> dt = jinit.log_uniform(1e-3, 1e-1)(jax.random.key(0), (8,))
    """
    low = _positive("low", low)
    high = _positive("high", high)
    _ordered("low", low, "high", high)
    return LogUniform(low, high, _checks.check_builder_dtype(dtype))


def inverse_softplus_log_uniform(
    dt_min: float = 1e-3,
    dt_max: float = 1e-1,
    floor: float = 1e-4,
    dtype: DTypeLike | None = None,
) -> InverseSoftplusLogUniform:
    r"""Builds an initializer drawing Mamba's ``dt_bias``: softplus^-1 of a log-uniform ``dt``.

    ``dt = exp(U[log dt_min, log dt_max))``, clamped below at ``floor``, then
    ``dt_bias = dt + log(-expm1(-dt))`` (the inverse of ``softplus``, so that
    ``softplus(dt_bias) = dt`` at init). As ``state-spaces/mamba``
    (``mamba_ssm/modules/mamba2.py``: ``dt_min=0.001, dt_max=0.1,
    dt_init_floor=1e-4``, the defaults here), flash-linear-attention's Mamba-2
    and GatedDeltaNet layers and transformers' ``Mamba2Mixer``
    (``time_step_min``, ``time_step_max``, ``time_step_floor``). With
    ``floor > dt_min`` the law has an atom at ``softplus^-1(floor)`` (then
    ``law(...).density`` is None); its mean and std are exact (quadrature).

    Law:
      softplus⁻¹(max(exp(U[log dt_min, log dt_max)), floor))

      ``dt = max(exp(U[log dt_min, log dt_max)), floor)``, then
      ``dt + log(-expm1(-dt))`` (softplus⁻¹). With ``floor > dt_min`` an atom
      at ``softplus⁻¹(floor)`` of mass
      ``log(floor / dt_min) / log(dt_max / dt_min)``. Mean and std by
      quadrature.

    Args:
      dt_min: the lower bound of ``dt``, > 0.
      dt_max: the upper bound of ``dt``, >= dt_min.
      floor: the clamp on ``dt``, > 0.
      dtype: the default dtype of the weights (real floating).

    Raises:
      ValueError: a bound or floor that is not positive, ``dt_max < dt_min``.

    Example:
      >>> dt_bias = jinit.inverse_softplus_log_uniform()(jax.random.key(0), (24,))
    """
    dt_min = _positive("dt_min", dt_min)
    dt_max = _positive("dt_max", dt_max)
    floor = _positive("floor", floor)
    _ordered("dt_min", dt_min, "dt_max", dt_max)
    return InverseSoftplusLogUniform(
        dt_min, dt_max, floor, _checks.check_builder_dtype(dtype)
    )


def log_of_uniform(
    low: float = 1.0, high: float = 16.0, dtype: DTypeLike | None = None
) -> LogOfUniform:
    r"""Builds an initializer drawing ``log(U(low, high])``: Mamba-2's ``A_log``.

    ``A ~ U(low, high)`` stored as its log (the layer uses ``A = -exp(A_log)``):
    ``state-spaces/mamba``'s ``Mamba2`` draws ``A_init_range=(1, 16)`` (the
    defaults here), flash-linear-attention's GatedDeltaNet ``U(0, 16)``,
    transformers' Qwen3-Next ``U(0.01, 16)``. The uniform is drawn as ``high -
    (high - low) v``, ``v ~ U[0, 1)``, which is never 0, so ``low = 0`` gives
    finite values. Density ``e^x / (high - low)`` on ``[log low, log high]``.

    Law:
      log U(low, high]

      ``log(high - (high - low) · U[0, 1))``: density ``eˣ / (high - low)`` on
      ``[log low, log high]``; never ``log 0``, so ``low = 0`` is finite.

    Args:
      low: the lower bound of ``A``, >= 0.
      high: the upper bound of ``A``, > low.
      dtype: the default dtype of the weights (real floating).

    Raises:
      ValueError: a negative ``low``, ``high <= low``.

    Example:
      >>> a_log = jinit.log_of_uniform(1.0, 16.0)(jax.random.key(0), (24,))
    """
    low = _checks.real_number("low", low, nonnegative=True)
    high = _positive("high", high)
    if high <= low:
        raise _errors.bad_value("high", f"greater than `low` ({low})", high)
    return LogOfUniform(low, high, _checks.check_builder_dtype(dtype))
