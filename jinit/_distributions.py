"""uniform, normal and truncated_normal: fixed-scale draws of the core laws."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from . import _checks, _dispatch, _errors, _laws
from ._base import Init
from ._types import Bounds, DTypeLike


@dataclasses.dataclass(frozen=True)
class Uniform(Init):
    """U[minval, maxval). See :func:`uniform`."""

    elementwise: ClassVar[bool] = True
    minval: float = 0.0
    maxval: float = 1e-2
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        _checks.check_real_dtype("uniform", dtype)

    def _law(self, shape, dtype):
        return _laws.uniform_law(self.minval, self.maxval)

    def scaled(self, factor: float) -> Uniform:
        """Values ``factor`` times as large: both bounds times ``factor``."""
        return dataclasses.replace(
            self, minval=self.minval * factor, maxval=self.maxval * factor
        )

    def _law_key(self, shape, dtype):
        return _dispatch.config_key(self)  # the shape is not read

    def _draw(self, key, shape, dtype, draw_shape):
        cdt = _laws.compute_dtype(dtype)
        x = _laws.uniform(key, draw_shape, cdt, self.minval, self.maxval)
        return _laws.round_into(x, dtype)


@dataclasses.dataclass(frozen=True)
class Normal(Init):
    """N(mean, stddev^2). See :func:`normal`."""

    elementwise: ClassVar[bool] = True
    stddev: float = 1e-2
    mean: float = 0.0
    dtype: DTypeLike | None = None

    def _law(self, shape, dtype):
        if _laws.is_complex(dtype):
            return dataclasses.replace(_laws.complex_law(self.stddev), mean=self.mean)
        return _laws.normal_law(self.mean, self.stddev)

    def scaled(self, factor: float) -> Normal:
        """Values ``factor`` times as large: mean and std times ``factor``."""
        return dataclasses.replace(
            self, stddev=self.stddev * factor, mean=self.mean * factor
        )

    def _law_key(self, shape, dtype):
        return _dispatch.config_key(self)  # the shape is not read

    def _draw(self, key, shape, dtype, draw_shape):
        x = _laws.normal(key, draw_shape, _laws.compute_dtype(dtype))
        return _laws.scale_and_round(
            x, dtype, scale=self.stddev, shift=self.mean or None
        )


@dataclasses.dataclass(frozen=True)
class TruncatedNormal(Init):
    """N(mean, stddev^2) truncated to (lower, upper). See :func:`truncated_normal`."""

    elementwise: ClassVar[bool] = True
    stddev: float = 1e-2
    lower: float = -2.0
    upper: float = 2.0
    mean: float = 0.0
    bounds: Bounds = "relative"
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        _checks.check_real_dtype("truncated_normal", dtype)

    def _standard_bounds(self) -> tuple[float, float]:
        if self.bounds == "relative":
            return self.lower, self.upper
        return (
            (self.lower - self.mean) / self.stddev,
            (self.upper - self.mean) / self.stddev,
        )

    def _law(self, shape, dtype):
        return _laws.truncated_normal_law(
            self.mean, self.stddev, *self._standard_bounds()
        )

    def scaled(self, factor: float) -> TruncatedNormal:
        """Values ``factor`` times as large: mean, std (and absolute bounds) scaled."""
        out = dataclasses.replace(
            self, stddev=self.stddev * factor, mean=self.mean * factor
        )
        if self.bounds == "absolute":
            out = dataclasses.replace(
                out, lower=self.lower * factor, upper=self.upper * factor
            )
        return out

    def _law_key(self, shape, dtype):
        return _dispatch.config_key(self)  # the shape is not read

    def _draw(self, key, shape, dtype, draw_shape):
        cdt = _laws.compute_dtype(dtype)
        if self.bounds == "relative":
            z = _laws.truncated_normal(key, draw_shape, cdt, self.lower, self.upper)
            return _laws.scale_and_round(
                z, dtype, scale=self.stddev, shift=self.mean or None
            )
        # Absolute bounds: standardize, draw, map back, and keep the rounded
        # values inside [lower, upper] in the output dtype.
        lo, hi = self._standard_bounds()
        z = _laws.truncated_normal(key, draw_shape, cdt, lo, hi)
        clip = (
            _laws.inside(self.lower, dtype, float("inf")),
            _laws.inside(self.upper, dtype, float("-inf")),
        )
        x = _laws.scale_and_round(
            z, dtype, scale=self.stddev, shift=self.mean or None, clip=clip
        )
        return x


def uniform(scale: float = 1e-2, dtype: DTypeLike | None = None) -> Uniform:
    """Builds an initializer drawing from U[0, scale).

    ``jax.random.uniform`` times ``scale``: the mean is scale/2 and the std
    ``scale / sqrt(12)``. Same values as ``jax.nn.initializers.uniform`` in float32
    and float64; narrower floats are the float32 draw rounded once.

    Law:
      U[0, scale)

      ``scale · U[0, 1)``: mean ``scale / 2``, std ``scale / √12``.

    Args:
      scale: the upper bound, >= 0.
      dtype: the default dtype of the weights (real floating).

    Raises:
      ValueError: a negative ``scale``. TypeError at call time: a complex dtype.
    """
    scale = _checks.real_number("scale", scale, nonnegative=True)
    return Uniform(0.0, scale, _checks.check_builder_dtype(dtype))


def normal(
    stddev: float = 1e-2, dtype: DTypeLike | None = None, *, mean: float = 0.0
) -> Normal:
    """Builds an initializer drawing from N(mean, stddev^2).

    For a complex dtype, the complex normal with ``E|z - mean|^2 = stddev^2`` (real
    and imaginary parts each of variance stddev^2 / 2), as in JAX. Same values as
    ``jax.nn.initializers.normal`` in float32/float64 (with ``mean=0``).

    Law:
      N(mean, stddev²)

      ``mean + stddev · N(0, 1)``. Complex dtypes: the complex normal with
      ``E|z - mean|² = stddev²``.

    Args:
      stddev: the standard deviation, >= 0.
      dtype: the default dtype of the weights.
      mean: the mean (jinit's addition; JAX's is always 0).

    Raises:
      ValueError: a negative ``stddev``.
    """
    stddev = _checks.real_number("stddev", stddev, nonnegative=True)
    mean = _checks.real_number("mean", mean)
    return Normal(stddev, mean, _checks.check_builder_dtype(dtype))


def truncated_normal(
    stddev: float = 1e-2,
    dtype: DTypeLike | None = None,
    lower: float = -2.0,
    upper: float = 2.0,
    *,
    mean: float = 0.0,
    bounds: Bounds = "relative",
) -> TruncatedNormal:
    r"""Builds an initializer drawing from a normal truncated to (lower, upper).

    With ``bounds="relative"`` (JAX's meaning, the default) the bounds are in units
    of ``stddev`` around ``mean``: values are ``mean + stddev * z`` with ``z`` from
    N(0, 1) truncated to (lower, upper). With ``bounds="absolute"`` (PyTorch's
    ``trunc_normal_(mean, std, a, b)``) they are values: the law is N(mean,
    stddev^2) conditioned on lower <= x <= upper, and every rounded value stays
    inside [lower, upper].

    ``stddev`` is the std of the normal *before* truncation, as in JAX and PyTorch;
    the std after truncation to (-2, 2) is ``0.8796 * stddev`` (variance_scaling
    divides by that constant, this does not). The sampler keeps the std for tiny
    stds with wide bounds (no values on the bounds, no outliers), unlike
    PyTorch's ``trunc_normal_``, and follows the law for bounds anywhere, e.g.
    (8, 9) or absolute bounds 25 stds away, where JAX's inverse CDF returns the
    bound (jax-ml/jax#10951): such intervals are inverted on the lower-tail
    side, chosen from the bounds in Python (see :func:`jinit._laws.truncated_normal`).

    Same values as ``jax.nn.initializers.truncated_normal`` in float32/float64 for
    relative bounds and ``mean=0``.

    Law:
      N(mean, stddev²) truncated

      ``bounds="relative"`` (default, JAX's meaning): ``mean + stddev · z``,
      ``z ~ N(0, 1)`` truncated to ``(lower, upper)``. ``bounds="absolute"``
      (PyTorch's): ``N(mean, stddev²)`` conditioned on ``lower ≤ x ≤ upper``.
      ``stddev`` is the std *before* truncation: after truncation to
      ``(-2, 2)`` the std is ``0.8796 · stddev``.

    Args:
      stddev: the std of the untruncated normal, >= 0 (> 0 with absolute bounds).
      dtype: the default dtype of the weights (real floating).
      lower: lower bound, relative (in stddevs) or absolute; ``-inf`` for a
        one-sided law (as ``jax.random.truncated_normal`` and PyTorch accept).
      upper: upper bound, > lower; ``inf`` for a one-sided law.
      mean: the mean of the untruncated normal.
      bounds: ``"relative"`` or ``"absolute"``.

    Raises:
      ValueError: a negative ``stddev``, ``lower >= upper``, an unknown ``bounds``.
    """
    absolute = bounds == "absolute"
    if bounds not in ("relative", "absolute"):
        raise _errors.bad_choice("bounds", bounds, ("relative", "absolute"))
    stddev = _checks.real_number(
        "stddev", stddev, positive=absolute, nonnegative=not absolute
    )
    lower = _checks.real_number("lower", lower, infinite=True)
    upper = _checks.real_number("upper", upper, infinite=True)
    mean = _checks.real_number("mean", mean)
    if lower >= upper:
        raise _errors.bad_value("lower", f"less than `upper` ({upper})", lower)
    return TruncatedNormal(
        stddev, lower, upper, mean, bounds, _checks.check_builder_dtype(dtype)
    )
