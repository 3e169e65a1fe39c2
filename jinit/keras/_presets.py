"""Keras' VarianceScaling and its presets (Glorot, He, LeCun)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .. import _caches, _checks, _dispatch, _errors
from .. import _distributions as _core_dist
from .. import _laws as _core_laws
from .._fans import compute_fans
from .._variance import PRESETS
from ._base import RandomInitializer
from ._laws import _STD_NORMAL, _STD_TRUNCATED, _scaled
from ._seeds import _seed_config

_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform", "normal")


def _axes_spec(arg: str, axes: Any) -> list[int] | None:
    if axes is None:
        return None
    return list(np.atleast_1d(_checks.check_axis_spec(arg, axes)).tolist())


@_caches.registered
@functools.lru_cache(maxsize=1024)
def _variance_plan(scale, mode, distribution, input_axes, output_axes, shape):
    """What VarianceScaling draws for ``shape``: (core law, stddev or None).

    Keras' fans (:func:`jinit.compute_fans`; with both axis lists, their products
    only) and Keras' Python-float constants.
    """
    if input_axes is None or output_axes is None or len(shape) < 2:
        fan_in, fan_out = compute_fans(shape)
    else:
        ins = _checks.check_axes("input_axes", input_axes, len(shape))
        outs = _checks.check_axes("output_axes", output_axes, len(shape))
        rest = tuple(a for a in range(len(shape)) if a not in ins + outs)
        fan_in, fan_out = compute_fans(shape, ins, outs, rest)  # no receptive field
    n = {"fan_in": fan_in, "fan_out": fan_out}.get(mode)
    scale = scale / max(1.0, (fan_in + fan_out) / 2.0 if n is None else n)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale)
        return _core_dist.Uniform(-limit, limit), None
    if distribution == "truncated_normal":
        return _STD_TRUNCATED, math.sqrt(scale) / _core_laws.TRUNC_STD
    return _STD_NORMAL, math.sqrt(scale)


class VarianceScaling(RandomInitializer):
    r"""Keras' ``VarianceScaling``: std ``sqrt(scale / n)``, n a fan of the shape.

    ``n`` is ``max(1, fan_in)``, ``max(1, fan_out)`` or ``max(1, (fan_in + fan_out)
    / 2)`` by ``mode``, with Keras' fans (:func:`jinit.compute_fans`: the last two
    axes, times the receptive field of a conv kernel; with both ``input_axes`` and
    ``output_axes``, the products of those axes only). In Python floats:

    * ``"truncated_normal"`` (and ``"normal"``, which Keras maps to it):
      ``z * (sqrt(scale / n) / 0.87962566103423978)``, z ~ N(0, 1) on (-2, 2);
    * ``"untruncated_normal"``: ``N(0, 1) * sqrt(scale / n)``;
    * ``"uniform"``: U[-limit, limit) with ``limit = sqrt(3 * scale / n)``.

    Args:
      scale: the variance multiplier, > 0.
      mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
      distribution: ``"truncated_normal"``, ``"untruncated_normal"``, ``"uniform"``
        (case-insensitive) or ``"normal"`` (= ``"truncated_normal"``, as in Keras).
      seed: see :class:`RandomInitializer`.
      input_axes: the axes counted in fan_in (used with ``output_axes``).
      output_axes: the axes counted in fan_out (used with ``input_axes``).

    Raises:
      ValueError: ``scale <= 0``, an unknown ``mode`` or ``distribution``; at call
        time, axes out of range or overlapping.
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: Any = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ):
        self.scale = _checks.real_number("scale", scale, positive=True)
        if mode not in _MODES:
            raise _errors.bad_choice("mode", mode, _MODES)
        if not isinstance(distribution, str):
            raise _errors.bad_type("distribution", "a string", distribution)
        if distribution.lower() not in _DISTRIBUTIONS:
            raise _errors.bad_choice("distribution", distribution, _DISTRIBUTIONS)
        distribution = distribution.lower()
        self.mode = mode
        self.distribution = (
            "truncated_normal" if distribution == "normal" else distribution
        )
        self.input_axes = _axes_spec("input_axes", input_axes)
        self.output_axes = _axes_spec("output_axes", output_axes)
        super().__init__(seed)

    def _plan(self, shape: tuple[int, ...]) -> tuple[Any, float | None]:
        return _variance_plan(
            self.scale,
            self.mode,
            self.distribution,
            None if self.input_axes is None else tuple(self.input_axes),
            None if self.output_axes is None else tuple(self.output_axes),
            shape,
        )

    def _check(self, shape, dtype):
        self._plan(shape)
        if self.distribution != "untruncated_normal":
            _checks.check_real_dtype(f"VarianceScaling({self.distribution!r})", dtype)

    def _law(self, shape, dtype):
        law, stddev = self._plan(shape)
        if stddev is None:  # uniform
            return law._law(shape, dtype)
        if law is _STD_NORMAL:
            return _core_dist.Normal(stddev)._law(shape, dtype)
        return _core_laws.truncated_normal_law(0.0, stddev, -2.0, 2.0)

    def _generate(self, key, shape, dtype, out_sharding):
        law, stddev = self._plan(shape)
        if stddev is None:  # uniform: one draw, Keras' jax.random.uniform
            return _dispatch.run(law, key, shape, dtype, out_sharding)
        return _scaled(law, key, shape, dtype, out_sharding, stddev, 0.0)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _Preset(VarianceScaling):
    """A VarianceScaling with fixed (scale, mode, distribution), Keras' presets."""

    preset: ClassVar[tuple[float, str, str]]

    def __init__(
        self,
        seed: Any = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ):
        scale, mode, distribution = self.preset
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {
            "seed": _seed_config(self._init_seed),
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class GlorotUniform(_Preset):
    """Glorot (Xavier) uniform: U[-limit, limit), ``limit = sqrt(6 / (fan_in + fan_out))``.

    ``VarianceScaling(1.0, "fan_avg", "uniform")``. Glorot & Bengio (2010).
    """

    preset = PRESETS["glorot_uniform"][:3]


class GlorotNormal(_Preset):
    """Glorot (Xavier) normal: truncated normal of std ``sqrt(2 / (fan_in + fan_out))``.

    ``VarianceScaling(1.0, "fan_avg", "truncated_normal")``. Glorot & Bengio (2010).
    """

    preset = PRESETS["glorot_normal"][:3]


class HeUniform(_Preset):
    """He uniform: U[-limit, limit), ``limit = sqrt(6 / fan_in)``.

    ``VarianceScaling(2.0, "fan_in", "uniform")``. He et al. (2015).
    """

    preset = PRESETS["he_uniform"][:3]


class HeNormal(_Preset):
    """He normal: truncated normal of std ``sqrt(2 / fan_in)``.

    ``VarianceScaling(2.0, "fan_in", "truncated_normal")``. He et al. (2015).
    """

    preset = PRESETS["he_normal"][:3]


class LecunUniform(_Preset):
    """LeCun uniform: U[-limit, limit), ``limit = sqrt(3 / fan_in)``.

    ``VarianceScaling(1.0, "fan_in", "uniform")``. LeCun et al. (1998).
    """

    preset = PRESETS["lecun_uniform"][:3]


class LecunNormal(_Preset):
    """LeCun normal: truncated normal of std ``sqrt(1 / fan_in)``.

    ``VarianceScaling(1.0, "fan_in", "truncated_normal")``. LeCun et al. (1998).
    """

    preset = PRESETS["lecun_normal"][:3]
