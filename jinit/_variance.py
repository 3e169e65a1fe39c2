"""variance_scaling and its presets (Glorot/Xavier, He/Kaiming, LeCun)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from . import _checks, _errors, _laws
from ._base import Init
from ._fans import compute_fans
from ._types import DISTRIBUTIONS, MODES, Axis, Distribution, DTypeLike, Mode


def _denominator(mode: str, fan_in: float, fan_out: float) -> float:
    # The same Python-float arithmetic as jax.nn.initializers, for the same bits.
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    if mode == "fan_avg":
        return (fan_in + fan_out) / 2
    return (fan_in * fan_out) ** 0.5


@dataclasses.dataclass(frozen=True)
class VarianceScaling(Init):
    """An initializer whose std adapts to the weight's fans. See :func:`variance_scaling`."""

    elementwise: ClassVar[bool] = True
    scale: float
    mode: Mode
    distribution: Distribution
    in_axis: Axis = -2
    out_axis: Axis = -1
    batch_axis: Axis = ()
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        compute_fans(shape, self.in_axis, self.out_axis, self.batch_axis)

    def sigma(self, shape: tuple[int, ...]) -> float:
        """The std of the values, ``sqrt(scale / n)`` (n the ``mode`` fan of shape)."""
        fan_in, fan_out = compute_fans(
            shape, self.in_axis, self.out_axis, self.batch_axis
        )
        return math.sqrt(self.scale / _denominator(self.mode, fan_in, fan_out))

    def _law(self, shape, dtype):
        sigma = self.sigma(shape)
        if _laws.is_complex(dtype):
            return _laws.complex_law(sigma)
        if self.distribution == "uniform":
            return _laws.uniform_law(-math.sqrt(3) * sigma, math.sqrt(3) * sigma)
        if self.distribution == "normal":
            return _laws.normal_law(0.0, sigma)
        return _laws.truncated_normal_law(0.0, sigma / _laws.TRUNC_STD, -2.0, 2.0)

    def scaled(self, factor: float) -> VarianceScaling:
        """Values ``factor`` times as large: the variance scale times ``factor²``."""
        return dataclasses.replace(self, scale=self.scale * factor * factor)

    def _multiplier(self, shape: tuple[int, ...], dtype: Any = np.float32) -> Any:
        """The factor the standard law is multiplied by, in the real compute dtype.

        Not the std of the values (that is :meth:`sigma`, or ``law(shape).std``):
        for the truncated normal it is ``sigma / 0.8796``, for the uniform on
        [-1, 1) ``sqrt(3) sigma``.

        Computed as ``jax.nn.initializers`` does, in the compute dtype's arithmetic:
        ``variance = scale / n`` rounded to it, then ``sqrt(variance) / 0.8796...``
        (truncated normal), ``sqrt(variance)`` (normal, and the complex laws) or
        ``sqrt(3 * variance)`` (uniform on [-1, 1)).
        """
        fan_in, fan_out = compute_fans(
            shape, self.in_axis, self.out_axis, self.batch_axis
        )
        rdt = _laws.real_dtype(np.dtype(dtype))
        variance = np.asarray(
            self.scale / _denominator(self.mode, fan_in, fan_out), rdt
        )
        complex_ = _laws.is_complex(np.dtype(dtype))
        if self.distribution == "uniform" and not complex_:
            return np.sqrt(np.asarray(3, rdt) * variance)
        if self.distribution == "truncated_normal":
            trunc = _laws.COMPLEX_TRUNC_STD if complex_ else _laws.TRUNC_STD
            return np.sqrt(variance) / np.asarray(trunc, rdt)
        return np.sqrt(variance)

    def _law_key(self, shape, dtype):
        # The draw reads the configuration and the shape only through these
        # (the axes only through the fans): 4096 x 1024 and a stack of them
        # with batch axes share one law.
        return (type(self), self.distribution, self._multiplier(shape, dtype).tobytes())

    def _draw(self, key, shape, dtype, draw_shape):
        cdt = _laws.compute_dtype(dtype)
        std = self._multiplier(shape, dtype)
        if _laws.is_complex(dtype):
            if self.distribution == "truncated_normal":
                x = _laws.complex_truncated_normal(key, draw_shape, cdt, 2.0)
            elif self.distribution == "normal":
                x = _laws.normal(key, draw_shape, cdt)
            else:
                x = _laws.complex_uniform(key, draw_shape, cdt)
        elif self.distribution == "truncated_normal":
            x = _laws.truncated_normal(key, draw_shape, cdt, -2.0, 2.0)
        elif self.distribution == "normal":
            x = _laws.normal(key, draw_shape, cdt)
        else:
            x = _laws.uniform(key, draw_shape, cdt, -1.0, 1.0)
        return _laws.scale_and_round(x, dtype, scale=std)


def variance_scaling(
    scale: float,
    mode: Mode,
    distribution: Distribution,
    in_axis: Axis = -2,
    out_axis: Axis = -1,
    batch_axis: Axis = (),
    dtype: DTypeLike | None = None,
) -> VarianceScaling:
    r"""Builds an initializer whose variance is ``scale / n``, n a fan of the shape.

    ``n`` is, by ``mode``: ``fan_in``; ``fan_out``; ``(fan_in + fan_out) / 2``
    (``fan_avg``); ``sqrt(fan_in * fan_out)`` (``fan_geo_avg``), with fans from
    :func:`jinit.compute_fans`. Samples have mean 0 and std
    :math:`\sigma = \sqrt{scale / n}`:

    * ``"truncated_normal"``: ``N(0, 1)`` truncated to (-2, 2), times
      ``sigma / 0.87962566103423978``. The constant is the std of the truncated
      standard normal, ``sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2)))``, so the result
      has std sigma, and values lie within +-2 * sigma / 0.8796 = +-2.27 sigma.
    * ``"normal"``: ``N(0, 1)`` times sigma (untruncated).
    * ``"uniform"``: ``U[-1, 1)`` times ``sqrt(3) * sigma``; ``U[-1, 1)`` has variance
      1/3, hence the sqrt(3).

    For a complex dtype the laws are complex with ``E|z|^2 = sigma^2``: the complex
    normal; the uniform disk; and the complex normal with its modulus truncated at
    2, divided by ``sqrt((1 - 5 e^-4) / (1 - e^-4)) = 0.96196`` (JAX divides by
    0.95311, 1.86% too much variance).

    Float32 and float64 values equal ``jax.nn.initializers.variance_scaling`` for
    the same key (same sampler, key use and constants). bfloat16, float16 and
    float8 values are the float32 draw rounded once.

    Law:
      σ² = scale / n, n a fan

      Mean 0, variance ``σ² = scale / n`` with ``n`` = ``fan_in``,
      ``fan_out``, ``(fan_in + fan_out) / 2`` (``fan_avg``) or
      ``√(fan_in · fan_out)`` (``fan_geo_avg``), fans from
      ``jinit.compute_fans(shape, in_axis, out_axis, batch_axis)``.

      - ``"truncated_normal"``: ``N(0, 1)`` truncated to ``(-2, 2)``, times
        ``σ / 0.87962566103423978`` (the std of the truncated standard
        normal), so the std is exactly σ.
      - ``"normal"``: ``σ · N(0, 1)``.
      - ``"uniform"``: ``√3 σ · U[-1, 1)``.
      - complex dtypes: ``E|z|²= σ²`` (complex normal, uniform disk, complex
        normal with modulus truncated at 2 divided by 0.96196).

    Args:
      scale: the variance multiplier, > 0.
      mode: ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` or ``"fan_geo_avg"``.
      distribution: ``"truncated_normal"``, ``"normal"`` or ``"uniform"``.
      in_axis: axis or axes of the inputs (default -2).
      out_axis: axis or axes of the outputs (default -1).
      batch_axis: axis or axes counted in neither fan.
      dtype: the default dtype of the weights.

    Returns:
      An initializer ``init(key, shape, dtype=None, out_sharding=None)``.

    Raises:
      ValueError: ``scale <= 0``, an unknown ``mode`` or ``distribution``; at call
        time, an axis out of range for the shape.

    Example:
      >>> import jax, jinit
      >>> w = jinit.variance_scaling(2.0, "fan_in", "normal")(jax.random.key(0), (64, 32))
      >>> w.shape
      (64, 32)

    References:
      Glorot & Bengio (2010); He et al. (2015); LeCun et al. (1998).
    """
    scale = _checks.real_number("scale", scale, positive=True)
    if mode not in MODES:
        raise _errors.bad_choice("mode", mode, MODES)
    if distribution not in DISTRIBUTIONS:
        raise _errors.bad_choice("distribution", distribution, DISTRIBUTIONS)
    return VarianceScaling(
        scale,
        mode,
        distribution,
        _checks.check_axis_spec("in_axis", in_axis),
        _checks.check_axis_spec("out_axis", out_axis),
        _checks.check_axis_spec("batch_axis", batch_axis),
        _checks.check_builder_dtype(dtype),
    )


#: The one table of presets: name -> (scale, mode, distribution, paper). The
#: builders below, jinit.keras' classes and the reference read it.
PRESETS: dict[str, tuple[float, Mode, Distribution, str]] = {
    "glorot_uniform": (1.0, "fan_avg", "uniform", "Glorot uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal", "Glorot normal"),
    "he_uniform": (2.0, "fan_in", "uniform", "He uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal", "He normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform", "LeCun uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal", "LeCun normal"),
}


def _preset(name: str):
    scale, mode, distribution, paper = PRESETS[name]

    def builder(
        in_axis: Axis = -2,
        out_axis: Axis = -1,
        batch_axis: Axis = (),
        dtype: DTypeLike | None = None,
    ) -> VarianceScaling:
        return variance_scaling(
            scale,
            mode,
            distribution,
            in_axis,
            out_axis,
            batch_axis,
            dtype,
        )

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (
        f"Builds a {paper} initializer: ``variance_scaling({scale}, {mode!r}, "
        f"{distribution!r})``.\n\n    See :func:`jinit.variance_scaling` for the "
        f"arguments.\n\n    Law:\n      {_preset_law(scale, mode, distribution)}\n"
    )
    return builder


def _preset_law(scale: float, mode: str, distribution: str) -> str:
    """The ``Law:`` section of a preset's docstring (the reference reads it)."""
    avg = mode == "fan_avg"
    n, fans = ("(fan_in + fan_out) / 2", "(fan_in + fan_out)") if avg else (mode, mode)
    factor = 2 * scale if avg else scale  # scale / n = factor / fans
    if distribution == "uniform":
        return (
            f"U(±√({3 * factor:g} / {fans}))\n\n      ``U[-L, L)``, "
            f"``L = √(3 · {scale} / n)``, ``n = {n}``: std ``√({scale} / n)``."
        )
    return (
        f"truncated N, σ = √({factor:g} / {fans})\n\n      ``N(0, 1)`` truncated "
        f"to ``(-2, 2)``, times ``σ / 0.87962566103423978``, ``σ = √({scale} / n)``, "
        f"``n = {n}``: std exactly σ, values within ±2.27σ."
    )


glorot_uniform = _preset("glorot_uniform")
glorot_normal = _preset("glorot_normal")
he_uniform = _preset("he_uniform")
he_normal = _preset("he_normal")
lecun_uniform = _preset("lecun_uniform")
lecun_normal = _preset("lecun_normal")
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal
