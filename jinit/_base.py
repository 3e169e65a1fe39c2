"""The base every initializer shares: check in Python, then one cached dispatch.

The pipeline itself is :mod:`jinit._dispatch`, shared with :mod:`jinit.keras`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable
from typing import Any, ClassVar

import jax
import numpy as np

from . import _checks, _dispatch
from ._laws import Law
from ._types import DTypeLike, Key, OutSharding, Shape


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
    #: made in blocks with the same bits (:func:`jinit._blocks.draw_in_blocks`).
    elementwise: ClassVar[bool] = False
    dtype_kind: ClassVar[str] = "random"

    def __call__(
        self,
        key: Key,
        shape: Shape,
        dtype: DTypeLike | None = None,
        out_sharding: OutSharding = None,
    ) -> jax.Array:
        key, shape, dtype = _dispatch.check_call(
            key,
            shape,
            dtype,
            out_sharding,
            default_dtype=self._default_dtype(),
            dtype_kind=self.dtype_kind,
            random=self.random,
        )
        _dispatch.check_init(self, shape, dtype)
        return _dispatch.run(self, key, shape, dtype, out_sharding)

    def law(self, shape: Shape, dtype: DTypeLike | None = None) -> Law | None:
        """The law of one value drawn for ``shape`` and ``dtype``, or None.

        The one answer to "what does this initializer draw" (mean, std,
        support, density): for the i.i.d. laws (uniform, normal, truncated
        normal, variance scaling, orthogonal entries, sparse, scalar constants);
        None where the values do not share one law (identity, dirac,
        delta-orthogonal, array constants).

        Raises:
          ValueError, TypeError: the shape or dtype this initializer refuses.
        """
        shape = _checks.check_shape(shape)
        dtype = _checks.resolve_dtype(dtype, self._default_dtype(), self.dtype_kind)
        _dispatch.check_init(self, shape, dtype)
        return self._law(shape, dtype)

    def _law(self, shape: tuple[int, ...], dtype: np.dtype) -> Law | None:
        return None

    def scaled(self, factor: float) -> Init | None:
        """The same law with every value ``factor`` (> 0) times as large, or None.

        None where jinit cannot rescale the law by its fields (identity, dirac,
        STFT kernels, constants given as arrays).
        """
        del factor
        return None

    def _default_dtype(self) -> DTypeLike | None:
        """The ``dtype`` field of a subclass (None: JAX's default float)."""
        return getattr(self, "dtype", None)

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

    def _law_key(self, shape: tuple[int, ...], dtype: np.dtype) -> Hashable:
        """The identity of the elementwise law ``_draw`` makes for ``shape``.

        Equal keys (with equal dtypes) give the same values from the same key
        in the same draw shape, so draws in blocks of equal keys share one
        compiled block (:func:`jinit._blocks.draw_from_python`). Here the exact
        configuration and the shape; a law that reads the shape only through
        scalars (the fans) says so with less.
        """
        return (_dispatch.config_key(self), shape)

    def get_config(self) -> dict[str, Any]:
        """The configuration as a JSON-friendly dict (dtypes by name)."""
        config = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "dtype" and value is not None:
                value = np.dtype(value).name
            config[field.name] = list(value) if isinstance(value, tuple) else value
        return config
