"""zeros, ones and constant: deterministic fills (the key is ignored, as in JAX)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np

from . import _checks, _errors
from ._base import Init
from ._laws import point_law
from ._types import DTypeLike


@dataclasses.dataclass(frozen=True, eq=False)
class _Frozen:
    """A hashable wrapper of a constant array (hashed and compared by value)."""

    array: np.ndarray

    def _id(self):
        return (self.array.dtype.str, self.array.shape, self.array.tobytes())

    def __hash__(self):
        return hash(self._id())

    def __eq__(self, other):
        return isinstance(other, _Frozen) and self._id() == other._id()

    def __repr__(self):
        return f"array({self.array.tolist()!r})"


@dataclasses.dataclass(frozen=True)
class Constant(Init):
    """A fill with ``value`` (a scalar, or an array broadcast to the shape)."""

    value: Any = 0.0
    dtype: DTypeLike | None = None

    random = False
    dtype_kind = "any"

    def _array(self) -> np.ndarray:
        return (
            self.value.array
            if isinstance(self.value, _Frozen)
            else np.asarray(self.value)
        )

    def _check(self, shape, dtype):
        value = self._array()
        try:
            np.broadcast_shapes(value.shape, shape)
        except ValueError:
            raise _errors.bad_value(
                "value", f"broadcastable to the shape {shape}", value
            ) from None
        if np.iscomplexobj(value) and not jnp.issubdtype(dtype, jnp.complexfloating):
            raise _errors.bad_type(
                "value", f"a real value for dtype {dtype}", self.value
            )
        if not jnp.issubdtype(dtype, jnp.inexact) and value.size:
            if not np.array_equal(value.astype(dtype).astype(value.dtype), value):
                raise _errors.bad_value(
                    "value", f"exactly representable in dtype {dtype}", self.value
                )

    def _law(self, shape, dtype):
        if isinstance(self.value, _Frozen):
            return None  # an array: no one law
        return point_law(float(np.real(self.value)))

    def scaled(self, factor: float) -> Constant | None:
        """A scalar fill ``factor`` times as large (None for an array fill)."""
        if isinstance(self.value, _Frozen):
            return None
        return dataclasses.replace(self, value=self.value * factor)

    def value_in(self, dtype: np.dtype) -> Any:
        """The value in ``dtype``, before it is broadcast to a shape."""
        return jnp.asarray(self._array(), dtype)

    def _generate(self, key, shape, dtype):
        return jnp.broadcast_to(self.value_in(dtype), shape)

    def get_config(self):
        config = super().get_config()
        config["value"] = self._array().tolist()
        return config


def constant(value: Any, dtype: DTypeLike | None = None) -> Constant:
    """Builds an initializer that fills arrays with ``value``.

    Law:
      value

      Every element is ``value`` (a scalar, or an array broadcast to the
      shape). The key is ignored.

    Args:
      value: a number, or an array broadcastable to the shapes it will fill.
      dtype: the default dtype (any numeric or bool dtype).

    Raises:
      TypeError: a value that is not numeric (or is traced). At call time:
        ValueError if ``value`` does not broadcast to the shape, or is not exactly
        representable in an integer/bool dtype; TypeError for a complex value
        and a real dtype.
    """
    if _checks.is_tracer(value):
        raise _errors.bad_type("value", "a concrete number or array", value)
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise _errors.bad_type("value", "a number or a numeric array", value)
    frozen = array.item() if array.shape == () else _Frozen(array)
    return Constant(frozen, _checks.check_builder_dtype(dtype, kind="any"))


#: Fills with 0 (``zeros(key, shape, dtype)``); the key is ignored.
zeros = Constant(0.0)
#: Fills with 1 (``ones(key, shape, dtype)``); the key is ignored.
ones = Constant(1.0)
