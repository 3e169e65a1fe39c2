"""Keras 3 initializers by their Keras names, bit-identical to Keras on JAX.

``jinit.keras.GlorotUniform(seed=1)((256, 256))`` returns, element for element, what
``keras.initializers.GlorotUniform(seed=1)((256, 256))`` returns on the JAX backend,
without Keras installed. Every class only translates Keras' names, seeds, defaults
and constants onto jinit's core (:mod:`jinit._distributions`, :mod:`jinit._structured`,
:mod:`jinit._constant`, :func:`jinit.compute_fans`); nothing here samples by itself.

How Keras computes, and hence how this module does:

* **Keys.** An int seed ``s`` is the raw threefry key ``uint32[s, 0]`` (not
  ``jax.random.PRNGKey(s)``, which is ``[0, s]``); the k-th draw of a
  ``SeedGenerator(s)`` uses ``uint32[s, k]``. Seeds are ints in ``[0, 2**32)``.
* **Constants** are Python floats (float64 arithmetic): e.g. ``VarianceScaling``
  with a truncated normal multiplies by ``sqrt(scale / n) / 0.87962566103423978``,
  rounded once to the sample's dtype when it multiplies.
* **Operation boundaries.** Keras draws the standard law and then applies
  ``sample * stddev`` and ``+ mean`` as separate eager operations. One fused XLA
  kernel may contract them into a fused multiply-add and land 1 ulp away, so the
  normal laws here draw the standard law in jinit's cached kernel and then apply
  the same two operations (two small extra dispatches). The uniform laws and
  ``Orthogonal`` are one dispatch; ``Constant`` and ``Identity`` apply Keras'
  ``value * ones`` and ``gain * eye`` as a second one (so -0.0 stays -0.0).

Parity holds for float32 (and float64 under ``jax_enable_x64``) with JAX's default
PRNG settings: the ``threefry2x32`` implementation and ``jax_threefry_partitionable``
(on by default), under which a draw does not depend on its output sharding. For
bfloat16/float16 Keras draws in the narrow dtype itself; jinit draws in float32
and rounds once (its core's rule), so those values differ from Keras (and are the
better rounded ones).

Seeds, as in Keras 3: an int seed gives the same values on every call; ``seed=None``
draws an int seed when the initializer is created, so it too returns the same
values on every call (Keras 3 does so silently; jinit warns with
:class:`ReusedSeedWarning` when an unseeded instance is called a second time). To
get distinct layers, create one instance per layer, or pass a seed generator
(:class:`SeedGenerator` or ``keras.random.SeedGenerator``), which advances on every
call.

Every object is also a functional jinit initializer: ``init(key, shape, dtype)``
with a PRNG key as first argument (Flax ``kernel_init``) uses that key instead of
the seed; a raw key ``uint32[s, 0]`` gives the values of ``seed=s``.

Example:
  >>> import jinit.keras as jk
  >>> w = jk.GlorotUniform(seed=1)((64, 32))          # Keras' convention
  >>> w.shape
  (64, 32)
  >>> init = jk.get("he_normal")                       # names and configs
  >>> jk.deserialize(jk.serialize(init)).get_config()["input_axes"] is None
  True
"""

from __future__ import annotations

import functools
import importlib.abc
import inspect
import math
import random
import sys
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks, _dispatch, _errors, _laws
from . import _constant as _core_constant
from . import _distributions as _core_dist
from . import _structured as _core_structured
from ._fans import compute_fans
from ._types import DTypeLike, OutSharding

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "ReusedSeedWarning",
    "STFT",
    "SeedGenerator",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "deserialize",
    "get",
    "serialize",
]

#: Dtypes in which the values are Keras' own, bit for bit.
_KERAS_EXACT = (np.dtype(np.float32), np.dtype(np.float64))
_SEED_KINDS = "None, an int in [0, 2**32) or a seed generator (SeedGenerator)"

# The standard laws Keras scales: N(0, 1) and N(0, 1) truncated to (-2, 2).
_STD_NORMAL = _core_dist.Normal(1.0, 0.0)
_STD_TRUNCATED = _core_dist.TruncatedNormal(1.0, -2.0, 2.0, 0.0)
_IDENTITY = _core_structured.Identity(1.0)


class ReusedSeedWarning(UserWarning):
    """An unseeded initializer was called again and repeats its first values."""


def _floatx() -> str:
    """Keras' default float dtype if Keras is loaded, else float32 (its default)."""
    keras = sys.modules.get("keras")
    config = getattr(keras, "config", None)
    floatx = getattr(config, "floatx", None)
    return str(floatx()) if callable(floatx) else "float32"


def _default_seed() -> int:
    # Keras' make_default_seed: the same draw from Python's global `random`, so
    # keras.utils.set_random_seed / random.seed make both reproducible alike.
    return random.randint(1, int(1e9))


def _int_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise _errors.bad_type("seed", _SEED_KINDS, seed)
    if not 0 <= seed < 2**32:
        raise _errors.bad_value(
            "seed", "an int in [0, 2**32) (Keras' key is uint32[seed, 0])", seed
        )
    return int(seed)


def _is_generator(seed: Any) -> bool:
    return callable(getattr(seed, "next", None)) and callable(
        getattr(seed, "get_config", None)
    )


class SeedGenerator:
    """Keras' ``SeedGenerator`` without Keras: the k-th draw uses ``uint32[seed, k]``.

    Pass one as ``seed=`` to give an initializer a fresh draw on every call, as
    ``keras.random.SeedGenerator`` does (which is accepted too).

    Args:
      seed: an int in ``[0, 2**32)``; None draws one (as Keras does).
      name: the name kept in the config (Keras' default is ``"seed_generator"``).

    Raises:
      TypeError, ValueError: a seed that is not an int in ``[0, 2**32)``.
    """

    def __init__(self, seed: int | None = None, name: str | None = None):
        self._initial_seed = None if seed is None else _int_seed(seed)
        self.seed = _default_seed() if seed is None else self._initial_seed
        self.name = "seed_generator" if name is None else str(name)
        self._count = 0

    def next(self) -> np.ndarray:
        """Returns the next raw key ``uint32[seed, k]`` and advances ``k``."""
        key = np.array([self.seed, self._count % 2**32], np.uint32)
        self._count += 1
        return key

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeedGenerator:
        return cls(**config)

    def __repr__(self) -> str:
        return f"SeedGenerator(seed={self.seed}, name={self.name!r})"


def _check_seed(seed: Any) -> Any:
    """None, an int in [0, 2**32), a seed generator, or a serialized generator."""
    if seed is None or _is_generator(seed):
        return seed
    if isinstance(seed, dict):
        if seed.get("class_name") != "SeedGenerator":
            raise _errors.bad_value(
                "seed", "a SeedGenerator config when it is a dict", seed
            )
        return SeedGenerator.from_config(seed.get("config", {}))
    return _int_seed(seed)


def _seed_config(seed: Any) -> Any:
    if seed is None or isinstance(seed, int):
        return seed
    return {
        "module": "keras.random",
        "class_name": "SeedGenerator",
        "config": seed.get_config(),
        "registered_name": None,
    }


class Initializer:
    """Base of the Keras-named initializers: Keras' call on top of jinit's core.

    Calls, all returning an array of ``shape``:

    * ``init(shape, dtype=None)``: Keras' convention, with the initializer's seed;
      ``dtype=None`` is Keras' ``floatx()`` (float32 unless Keras says otherwise).
    * ``init(key, shape, dtype=None, out_sharding=None)``: jinit's (and Flax's),
      with the PRNG key given (typed or raw), the seed unused.
    """

    dtype_kind: ClassVar[str] = "random"

    def __call__(
        self,
        key_or_shape: Any = None,
        shape: Any = None,
        dtype: DTypeLike | None = None,
        out_sharding: OutSharding = None,
    ) -> jax.Array:
        if isinstance(key_or_shape, jax.Array | np.ndarray):
            key = key_or_shape  # checked by check_call
        else:
            key = None
            if key_or_shape is not None:
                if shape is not None:  # init(shape, dtype) positionally
                    if dtype is not None:
                        raise _errors.bad_type(
                            "dtype", "given once (init(shape, dtype))", dtype
                        )
                    dtype = shape
                shape = key_or_shape
        _, shape, dtype = _dispatch.check_call(
            key,
            shape,
            dtype,
            out_sharding,
            default_dtype=_floatx(),
            dtype_kind=self.dtype_kind,
            random=key is not None,
        )
        self._check(shape, dtype)
        if key is None:
            key = self._next_key()
        return self._generate(key, shape, dtype, out_sharding)

    def _check(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Shape- and dtype-dependent checks, before any key is drawn."""

    def _next_key(self) -> Any:
        """The key of a Keras-convention call (None for deterministic ones)."""
        return None

    def _generate(self, key, shape, dtype, out_sharding) -> jax.Array:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments as a JSON-serializable dict (Keras' format)."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """Rebuilds an initializer from :meth:`get_config` (or Keras') output."""
        if not isinstance(config, dict):
            raise _errors.bad_type("config", "a dict", config)
        allowed = tuple(inspect.signature(cls).parameters)
        unknown = sorted(set(config) - set(allowed))
        if unknown:
            raise _errors.bad_value(
                "config",
                f"a dict of {cls.__name__}'s arguments ({', '.join(allowed)})",
                f"the unknown keys {unknown}",
            )
        return cls(**config)

    def clone(self) -> Initializer:
        """A new instance from this one's config (an unseeded one draws a new seed)."""
        return type(self).from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class RandomInitializer(Initializer):
    """Base of the random initializers: Keras' seed semantics.

    Args:
      seed: an int in ``[0, 2**32)`` (same values on every call); None (a seed is
        drawn now: same values on every call too, and a :class:`ReusedSeedWarning`
        on the second call); or a seed generator (a fresh draw per call).
    """

    def __init__(self, seed: Any = None):
        self._init_seed = _check_seed(seed)
        self.seed = _default_seed() if seed is None else self._init_seed
        self._calls = 0

    def _next_key(self) -> Any:
        if not isinstance(self.seed, int):
            return self.seed.next()
        if self._init_seed is None:
            self._calls += 1
            if self._calls == 2:
                warnings.warn(
                    f"This unseeded {type(self).__name__} returns the same values "
                    "on every call: Keras 3 draws its seed once, when the "
                    "initializer is created. For distinct weights, create one "
                    "instance per weight, or pass seed=jinit.keras.SeedGenerator().",
                    ReusedSeedWarning,
                    stacklevel=3,
                )
        return np.array([self.seed, 0], np.uint32)

    def get_config(self) -> dict[str, Any]:
        return {"seed": _seed_config(self._init_seed)}


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

    def _generate(self, key, shape, dtype, out_sharding):
        core = _core_dist.Uniform(self.minval, self.maxval)
        return _dispatch.run(core, key, shape, dtype, out_sharding)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform", "normal")


def _axes_spec(arg: str, axes: Any) -> list[int] | None:
    if axes is None:
        return None
    return list(np.atleast_1d(_checks.check_axis_spec(arg, axes)).tolist())


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
        return _STD_TRUNCATED, math.sqrt(scale) / _laws.TRUNC_STD
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

    preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Glorot (Xavier) normal: truncated normal of std ``sqrt(2 / (fan_in + fan_out))``.

    ``VarianceScaling(1.0, "fan_avg", "truncated_normal")``. Glorot & Bengio (2010).
    """

    preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """He uniform: U[-limit, limit), ``limit = sqrt(6 / fan_in)``.

    ``VarianceScaling(2.0, "fan_in", "uniform")``. He et al. (2015).
    """

    preset = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """He normal: truncated normal of std ``sqrt(2 / fan_in)``.

    ``VarianceScaling(2.0, "fan_in", "truncated_normal")``. He et al. (2015).
    """

    preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """LeCun uniform: U[-limit, limit), ``limit = sqrt(3 / fan_in)``.

    ``VarianceScaling(1.0, "fan_in", "uniform")``. LeCun et al. (1998).
    """

    preset = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """LeCun normal: truncated normal of std ``sqrt(1 / fan_in)``.

    ``VarianceScaling(1.0, "fan_in", "truncated_normal")``. LeCun et al. (1998).
    """

    preset = (1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """Keras' ``Orthogonal``: ``gain`` times a Haar-random (semi-)orthogonal matrix.

    The shape is read as a ``(prod(shape[:-1]), shape[-1])`` matrix: the QR factor
    of a Gaussian matrix with the signs of R's diagonal folded in (orthonormal
    columns, or rows if there are fewer rows), reshaped (:func:`jinit.orthogonal`
    with ``column_axis=-1``, the same draws and operations as Keras).

    Args:
      gain: the factor the matrix is multiplied by.
      seed: see :class:`RandomInitializer`.

    Raises:
      ValueError (at call time): a shape of rank < 2.

    References:
      Saxe, McClelland & Ganguli (2014).
    """

    def __init__(self, gain: float = 1.0, seed: Any = None):
        self.gain = _checks.real_number("gain", gain)
        super().__init__(seed)

    def _check(self, shape, dtype):
        self._core()._check(shape, dtype)

    def _core(self) -> _core_structured.Orthogonal:
        return _core_structured.Orthogonal(self.gain, -1)

    def _generate(self, key, shape, dtype, out_sharding):
        return _dispatch.run(self._core(), key, shape, dtype, out_sharding)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


class Zeros(Initializer):
    """Keras' ``Zeros``: fills with 0 (any numeric or bool dtype)."""

    dtype_kind = "any"

    def _generate(self, key, shape, dtype, out_sharding):
        return _dispatch.run(_core_constant.zeros, None, shape, dtype, out_sharding)


class Ones(Initializer):
    """Keras' ``Ones``: fills with 1 (any numeric or bool dtype)."""

    dtype_kind = "any"

    def _generate(self, key, shape, dtype, out_sharding):
        return _dispatch.run(_core_constant.ones, None, shape, dtype, out_sharding)


class Constant(Initializer):
    """Keras' ``Constant``: fills with ``value`` cast to the dtype.

    Args:
      value: a number (or an array broadcastable to the shape).
    """

    dtype_kind = "any"

    def __init__(self, value: Any = 0.0):
        self._core = _core_constant.constant(value)
        self.value = value

    def _check(self, shape, dtype):
        self._core._check(shape, dtype)

    def _generate(self, key, shape, dtype, out_sharding):
        # Keras' ``cast(value) * ones``: keeps -0.0 (and NaN payloads) as Keras does.
        ones = _dispatch.run(_core_constant.ones, None, shape, dtype, out_sharding)
        return jnp.asarray(self._core._array(), dtype) * ones

    def get_config(self):
        value = self.value
        if isinstance(value, np.ndarray | np.generic | jax.Array):
            value = np.asarray(value).tolist()
        return {"value": value}

    @classmethod
    def from_config(cls, config):
        value = config.get("value", 0.0) if isinstance(config, dict) else None
        if isinstance(value, dict) and value.get("class_name") == "__numpy__":
            inner = value["config"]  # Keras' serialized NumPy value
            config = {**config, "value": np.asarray(inner["value"], inner["dtype"])}
        return super().from_config(config)


class Identity(Initializer):
    """Keras' ``Identity``: ``gain * eye(n, m)`` for a 2-D shape ``(n, m)``.

    Unlike Keras, ``get_config`` keeps ``gain``.

    Args:
      gain: the value on the diagonal.

    Raises:
      ValueError (at call time): a shape that is not 2-D.
    """

    def __init__(self, gain: float = 1.0):
        self.gain = _checks.real_number("gain", gain)

    def _check(self, shape, dtype):
        if len(shape) != 2:
            raise _errors.bad_value("shape", "2-D for Identity", shape)

    def _generate(self, key, shape, dtype, out_sharding):
        # Keras' ``gain * eye``: a separate multiply, so a negative gain gives -0.0
        # off the diagonal, as in Keras.
        eye = _dispatch.run(_IDENTITY, None, shape, dtype, out_sharding)
        return eye * np.asarray(self.gain, dtype)

    def get_config(self):
        return {"gain": self.gain}


_SIDES = ("real", "imag")
_SCALINGS = ("density", "spectrum")


class STFT(Initializer):
    """Keras' ``STFT``: a conv kernel computing one side of a windowed DFT.

    For a shape ``(T, C, F)`` (``F = fft_length // 2 + 1`` bins of a window of
    ``T`` samples) the kernel is, broadcast over the ``C`` input channels::

        kernel[t, :, f] = cos(-2 * t * f / (2 * (F - 1)) * pi) * w[t] / s   (real)
                          sin(...)                                          (imag)

    with ``w`` the window (``scipy.signal.get_window(window, T, periodic)``, an
    array of T values, or 1 for None) and ``s`` its L2 norm (``"density"``), L1
    norm (``"spectrum"``) or 1 (None). The same operations as Keras, in its order.
    A string ``window`` needs SciPy. The key, if given, is ignored.

    Args:
      side: ``"real"`` or ``"imag"``.
      window: a ``scipy.signal.windows`` name, an array of T values, or None.
      scaling: ``"density"``, ``"spectrum"`` or None.
      periodic: whether a named window is periodic (Keras passes it as SciPy's
        ``fftbins``).

    Raises:
      ValueError: an unknown ``side``, ``scaling`` or window name; at call time a
        shape that is not 3-D, or a window whose length is not T.
    """

    def __init__(
        self,
        side: str = "real",
        window: Any = "hann",
        scaling: str | None = "density",
        periodic: bool = False,
    ):
        if side not in _SIDES:
            raise _errors.bad_choice("side", side, _SIDES)
        if scaling is not None and scaling not in _SCALINGS:
            raise _errors.bad_choice("scaling", scaling, _SCALINGS)
        if isinstance(window, str):
            _core_structured.stft_window(window, 1, periodic)  # checks the name
        elif window is not None:
            window = np.asarray(window).tolist()
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = bool(periodic)

    def _core(self) -> _core_structured.STFTKernel:
        window = self.window
        if isinstance(window, list):
            window = tuple(window)
        return _core_structured.STFTKernel(
            self.side, window, self.scaling, self.periodic
        )

    def _check(self, shape, dtype):
        _dispatch.check_init(self._core(), shape, dtype)

    def _generate(self, key, shape, dtype, out_sharding):
        return _dispatch.run(self._core(), None, shape, dtype, out_sharding)

    def get_config(self):
        return {
            "side": self.side,
            "window": self.window,
            "periodic": self.periodic,
            "scaling": self.scaling,
        }


# ----------------------------------------------------------------------------
# Keras' names and aliases, get / serialize / deserialize.

_CLASSES: tuple[type[Initializer], ...] = (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Identity,
    LecunNormal,
    LecunUniform,
    Ones,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    STFT,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
)


def _snake(name: str) -> str:
    out = "".join(
        "_" + c.lower() if c.isupper() and i and not name[i - 1].isupper() else c
        for i, c in enumerate(name)
    )
    return out.lower()


#: Every name Keras' ``get``/``deserialize`` knows, mapped to the class.
NAMES: dict[str, type[Initializer]] = {
    **{cls.__name__: cls for cls in _CLASSES},
    **{_snake(cls.__name__): cls for cls in _CLASSES},
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "STFTInitializer": STFT,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "zero": Zeros,
    "one": Ones,
}

# Keras' module-level aliases (keras.initializers.glorot_uniform is the class).
IdentityInitializer = Identity
OrthogonalInitializer = Orthogonal
STFTInitializer = STFT
constant = Constant
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
identity = Identity
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
ones = one = Ones
orthogonal = Orthogonal
random_normal = normal = RandomNormal
random_uniform = uniform = RandomUniform
stft = STFT
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
zeros = zero = Zeros


def _lookup(name: str) -> type[Initializer]:
    if name not in NAMES:
        raise _errors.bad_choice("identifier", name, NAMES)
    return NAMES[name]


def serialize(initializer: Initializer) -> dict[str, Any]:
    """The config dict Keras writes (``keras.initializers.serialize``'s format).

    ``{"module": "keras.initializers", "class_name": ..., "config": ...,
    "registered_name": None}``: JSON-serializable, and readable by both
    :func:`deserialize` and Keras (which rebuilds its own class).
    """
    if not isinstance(initializer, Initializer):
        raise _errors.bad_type("initializer", "a jinit.keras initializer", initializer)
    return {
        "module": "keras.initializers",
        "class_name": type(initializer).__name__,
        "config": initializer.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict[str, Any] | str) -> Initializer:
    """Rebuilds an initializer from a config dict written by Keras or :func:`serialize`.

    Accepts ``{"class_name": ..., "config": ...}`` (with or without ``module``),
    as ``keras.initializers.serialize`` writes it and as a saved model's
    ``kernel_initializer`` holds it, or a bare name.

    Raises:
      ValueError: an unknown class name or config key; TypeError: not a dict/str.
    """
    if isinstance(config, str):
        return _lookup(config)()
    if not isinstance(config, dict) or "class_name" not in config:
        raise _errors.bad_type(
            "config", "a dict with 'class_name' and 'config', or a name", config
        )
    return _lookup(config["class_name"]).from_config(config.get("config") or {})


def _from_keras(obj: Any) -> Initializer:
    """A jinit.keras initializer that draws what the Keras object ``obj`` draws."""
    config = dict(obj.get_config())
    if type(obj).__name__ == "Identity":
        config["gain"] = obj.gain  # Keras' config drops it
    if "seed" in config:
        config["seed"] = obj.seed  # the drawn seed, or the same generator object
    return _lookup(type(obj).__name__).from_config(config)


def get(identifier: Any) -> Any:
    """Keras' ``initializers.get``: a name, config, class, instance or callable.

    * a name (``"glorot_uniform"``, ``"GlorotUniform"``, ``"zero"``, ...) or a
      class: a new instance with the defaults;
    * a config dict: :func:`deserialize`;
    * a Keras initializer object: the jinit.keras one drawing the same values
      (same seed, or the same seed generator);
    * a jinit.keras initializer or any other callable: returned as is;
    * None: None.

    Raises:
      ValueError: an unknown name (with the closest one); anything else.
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str | dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if type(identifier).__module__.startswith("keras") and (
        type(identifier).__name__ in NAMES
    ):
        return _from_keras(identifier)
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    raise _errors.bad_value(
        "identifier",
        "an initializer name, a config dict, an initializer or a callable",
        identifier,
    )


# ----------------------------------------------------------------------------
# Keras' own serialization (keras.saving), registered lazily: Keras is never
# imported here. With Keras loaded, ``keras.saving.serialize_keras_object``
# writes ``registered_name="jinit>Orthogonal"`` and
# ``deserialize_keras_object`` rebuilds the jinit class from it.

#: The package of the names registered with Keras (``"jinit>Orthogonal"``).
KERAS_PACKAGE = "jinit"
_registered = False


def register_with_keras() -> bool:
    """Registers every class with Keras' serialization, if Keras is imported.

    Called when this module is imported after Keras, and when Keras is
    imported after it (by an import hook that then removes itself). Never
    imports Keras.

    Returns:
      Whether the classes are registered.
    """
    global _registered
    if _registered:
        return True
    saving = sys.modules.get("keras.saving")
    register = getattr(saving, "register_keras_serializable", None)
    if register is None:
        return False
    for cls in _CLASSES:
        register(package=KERAS_PACKAGE, name=cls.__name__)(cls)
    _registered = True
    return True


class _KerasImportHook(importlib.abc.MetaPathFinder):
    """Registers the classes as soon as ``import keras`` has run (then leaves)."""

    def find_spec(self, name, path, target=None):
        if name != "keras":
            return None
        others = [f for f in sys.meta_path if f is not self]
        spec = None
        for finder in others:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_register(module):
            try:
                exec_module(module)
            finally:
                _remove_hook()
            register_with_keras()

        loader.exec_module = exec_and_register  # type: ignore[method-assign]
        return spec


_HOOK = _KerasImportHook()


def _remove_hook() -> None:
    if _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)


if not register_with_keras() and "keras" not in sys.modules:
    sys.meta_path.insert(0, _HOOK)
