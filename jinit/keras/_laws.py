"""Keras' fixed laws: RandomNormal, TruncatedNormal, RandomUniform."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _checks, _dispatch
from .. import _distributions as _core_dist
from .. import _laws as _core_laws
from ._base import RandomInitializer

#: Dtypes in which the values are Keras' own, bit for bit.
_KERAS_EXACT = (np.dtype(np.float32), np.dtype(np.float64))

# The standard laws Keras scales: N(0, 1) and N(0, 1) truncated to (-2, 2).
_STD_NORMAL = _core_dist.Normal(1.0, 0.0)
_STD_TRUNCATED = _core_dist.TruncatedNormal(1.0, -2.0, 2.0, 0.0)


def _scaled(law, key, shape, dtype, out_sharding, stddev: float, mean: float):
    """Keras' ``sample * stddev + mean`` for the standard ``law``, Keras' roundings.

    In float32/float64 the two operations are separate dispatches as in Keras
    (same values eagerly and under an enclosing jit). Narrower and complex dtypes
    get the core's one-kernel draw, computed in float32 and rounded once.
    """
    if dtype not in _KERAS_EXACT:
        if law is _STD_NORMAL:
            core = _core_dist.Normal(stddev, mean)
        else:
            core = _core_dist.TruncatedNormal(stddev, -2.0, 2.0, mean)
        return _dispatch.run(core, key, shape, dtype, out_sharding)
    sample = _dispatch.run(law, key, shape, dtype, out_sharding)
    return sample * np.asarray(stddev, dtype) + np.asarray(mean, dtype)


class RandomNormal(RandomInitializer):
    """Keras' ``RandomNormal``: ``N(0, 1) * stddev + mean``.

    Args:
      mean: the mean.
      stddev: the standard deviation (used as given, as in Keras).
      seed: see :class:`RandomInitializer`.
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None):
        self.mean = _checks.real_number("mean", mean)
        self.stddev = _checks.real_number("stddev", stddev)
        super().__init__(seed)

    def _law(self, shape, dtype):
        return _core_dist.Normal(self.stddev, self.mean)._law(shape, dtype)

    def _generate(self, key, shape, dtype, out_sharding):
        return _scaled(
            _STD_NORMAL, key, shape, dtype, out_sharding, self.stddev, self.mean
        )

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Keras' ``TruncatedNormal``: ``z * stddev + mean``, z ~ N(0, 1) on (-2, 2).

    As in Keras, ``stddev`` is the std before truncation (the values' std is
    ``0.8796 * stddev``) and values lie within ``mean +- 2 * stddev``.

    Args:
      mean: the mean.
      stddev: the std of the normal before truncation.
      seed: see :class:`RandomInitializer`.
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None):
        self.mean = _checks.real_number("mean", mean)
        self.stddev = _checks.real_number("stddev", stddev)
        super().__init__(seed)

    def _check(self, shape, dtype):
        _checks.check_real_dtype("TruncatedNormal", dtype)

    def _law(self, shape, dtype):
        return _core_laws.truncated_normal_law(self.mean, self.stddev, -2.0, 2.0)

    def _generate(self, key, shape, dtype, out_sharding):
        return _scaled(
            _STD_TRUNCATED, key, shape, dtype, out_sharding, self.stddev, self.mean
        )

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Keras' ``RandomUniform``: U[minval, maxval) (``jax.random.uniform``).

    Args:
      minval: the lower bound (inclusive).
      maxval: the upper bound (exclusive).
      seed: see :class:`RandomInitializer`.
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: Any = None):
        self.minval = _checks.real_number("minval", minval)
        self.maxval = _checks.real_number("maxval", maxval)
        super().__init__(seed)

    def _check(self, shape, dtype):
        _checks.check_real_dtype("RandomUniform", dtype)

    def _law(self, shape, dtype):
        return _core_laws.uniform_law(self.minval, self.maxval)

    def _generate(self, key, shape, dtype, out_sharding):
        core = _core_dist.Uniform(self.minval, self.maxval)
        return _dispatch.run(core, key, shape, dtype, out_sharding)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}
