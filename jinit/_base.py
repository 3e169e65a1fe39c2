"""The base every initializer shares: check in Python, then one cached dispatch."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, ClassVar

import jax
import numpy as np

from . import _checks, _sampling
from ._types import DTypeLike, Key, OutSharding, Shape


@functools.lru_cache(maxsize=4096)
def _checked(init: Init, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Runs ``init._check`` once per (configuration, shape, dtype); errors re-raise."""
    init._check(shape, dtype)


@dataclasses.dataclass(frozen=True)
class Init:
    """Base of jinit's initializers: frozen, hashable configurations with a call.

    Subclasses set ``random`` (whether the key is used and checked), ``dtype``
    (the default dtype, a field), and implement ``_generate`` (traced, inside the
    one jit kernel; elementwise laws set ``elementwise`` and implement ``_draw``
    instead) and optionally ``_check`` (shape- and dtype-dependent checks in
    Python, before anything is traced).
    """

    random: ClassVar[bool] = True
    #: Whether value i of a draw depends on the key's word i alone, and on the
    #: shape only through scalars such as the fans: such a law implements
    #: ``_draw`` (``_generate`` then draws flat) and a large draw of it can be
    #: made in blocks with the same bits (:func:`jinit._sampling.draw_in_blocks`).
    elementwise: ClassVar[bool] = False
    dtype_kind: ClassVar[str] = "random"

    def __call__(
        self,
        key: Key,
        shape: Shape,
        dtype: DTypeLike | None = None,
        out_sharding: OutSharding = None,
    ) -> jax.Array:
        if self.random:
            _checks.check_key(key)
        else:
            key = None  # deterministic: the key is ignored, as in JAX
        shape = _checks.check_shape(shape)
        dtype = _checks.resolve_dtype(dtype, self.dtype, self.dtype_kind)
        _checks.check_sharding(out_sharding, shape)
        _checked(self, shape, dtype)
        return _sampling.run(self, key, shape, dtype, out_sharding)

    def _check(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Shape- and dtype-dependent checks, in Python, at call time."""

    def _generate(self, key: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        # Drawn flat: the same bits (word i of a draw is that of its row-major
        # index i), and a 1-D draw compiles up to 3x faster than a 3-D one.
        return self._draw(key, shape, dtype, (math.prod(shape),)).reshape(shape)

    def _draw(
        self,
        key: Any,
        shape: tuple[int, ...],
        dtype: np.dtype,
        draw_shape: tuple[int, ...],
    ) -> Any:
        """The values of an elementwise law for ``shape``, drawn in ``draw_shape``."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The configuration as a JSON-friendly dict (dtypes by name)."""
        config = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "dtype" and value is not None:
                value = np.dtype(value).name
            config[field.name] = list(value) if isinstance(value, tuple) else value
        return config
