"""The base of the Keras-named initializers: Keras' call on top of jinit's dispatch."""

from __future__ import annotations

import inspect
import warnings
from typing import Any, ClassVar

import jax
import numpy as np

from .. import _checks, _dispatch, _errors
from .. import _laws as _core_laws
from .._types import DTypeLike, OutSharding
from ._seeds import ReusedSeedWarning, _check_seed, _default_seed, _floatx, _seed_config


class Initializer:
    """Base of the Keras-named initializers: Keras' call on top of jinit's core.

    Calls, all returning an array of ``shape``:

    * ``init(shape, dtype=None)``: Keras' convention, with the initializer's seed;
      ``dtype=None`` is Keras' ``floatx()`` (float32 unless Keras says otherwise).
    * ``init(key, shape, dtype=None, out_sharding=None)``: jinit's (and Flax's),
      with the PRNG key given (typed or raw), the seed unused.

    Either call takes ``layout=`` (Keras' name, keras PR #22680) or
    ``out_sharding=`` (jinit's): the values are drawn directly into the shards
    of that sharding, the same values as unsharded, bit for bit. Keras on the
    JAX backend passes ``layout`` itself to a variable under a
    ``keras.distribution`` (``ModelParallel``/``LayoutMap``): a
    ``NamedSharding`` on its mesh, with explicit axes.
    """

    dtype_kind: ClassVar[str] = "random"

    def __call__(
        self,
        key_or_shape: Any = None,
        shape: Any = None,
        dtype: DTypeLike | None = None,
        out_sharding: OutSharding = None,
        layout: Any = None,
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
        if layout is not None:
            out_sharding = _layout_sharding(layout, out_sharding, shape)
        self._check(shape, dtype)
        if key is None:
            key = self._next_key()
        return self._generate(key, shape, dtype, out_sharding)

    def law(self, shape: Any, dtype: DTypeLike | None = None) -> _core_laws.Law | None:
        """The law of one value drawn for ``shape`` (see :meth:`jinit.Init.law`).

        ``dtype=None`` is Keras' ``floatx()``. None where the values share no law
        (Identity, STFT, array constants).
        """
        _, shape, dtype = _dispatch.check_call(
            None,
            shape,
            dtype,
            None,
            default_dtype=_floatx(),
            dtype_kind=self.dtype_kind,
            random=False,
        )
        self._check(shape, dtype)
        return self._law(shape, dtype)

    def _law(self, shape: tuple[int, ...], dtype: np.dtype) -> _core_laws.Law | None:
        return None

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


def _layout_sharding(layout: Any, out_sharding: Any, shape: tuple[int, ...]) -> Any:
    """Keras' ``layout`` as the sharding jinit draws into (checked against ``shape``).

    A ``jax.sharding.Sharding`` (what Keras passes), a ``PartitionSpec`` (under
    ``jax.set_mesh``) or a ``keras.distribution.TensorLayout`` (its JAX sharding).
    """
    if out_sharding is not None:
        raise _errors.bad_value(
            "layout", "None when out_sharding is given (both name the sharding)", layout
        )
    sharding = getattr(layout, "backend_layout", layout)  # a Keras TensorLayout
    if not isinstance(sharding, jax.sharding.Sharding | jax.sharding.PartitionSpec):
        raise _errors.bad_type(
            "layout",
            "None, a jax.sharding.Sharding, a PartitionSpec or a "
            "keras.distribution.TensorLayout",
            layout,
        )
    _checks.check_sharding(sharding, shape, arg="layout")
    return sharding


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
