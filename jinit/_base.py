"""The base every initializer shares: check in Python, then one cached dispatch."""

from __future__ import annotations

import dataclasses
import functools
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
    one jit kernel) and optionally ``_check`` (shape- and dtype-dependent checks in
    Python, before anything is traced).
    """

    random: ClassVar[bool] = True
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
        _checks.check_sharding(out_sharding)
        _checked(self, shape, dtype)
        return _sampling.run(self, key, shape, dtype, out_sharding)

    def _check(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Shape- and dtype-dependent checks, in Python, at call time."""

    def _generate(self, key: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
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
