"""Types shared by every initializer: the call protocol and argument aliases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

import jax

Key: TypeAlias = jax.Array
Shape: TypeAlias = Sequence[int]
DTypeLike: TypeAlias = Any
Axis: TypeAlias = int | Sequence[int]
OutSharding: TypeAlias = jax.sharding.Sharding | jax.sharding.PartitionSpec | None

Mode: TypeAlias = Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]
Distribution: TypeAlias = Literal["truncated_normal", "normal", "uniform"]
Bounds: TypeAlias = Literal["relative", "absolute"]
OrthogonalMethod: TypeAlias = Literal["qr", "wy"]

MODES: tuple[str, ...] = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS: tuple[str, ...] = ("truncated_normal", "normal", "uniform")
ORTHOGONAL_METHODS: tuple[str, ...] = ("qr", "wy")


@runtime_checkable
class Initializer(Protocol):
    """What every jinit initializer is: ``init(key, shape, dtype, out_sharding)``.

    The same protocol as ``jax.nn.initializers.Initializer``: Flax calls
    ``kernel_init(key, shape, param_dtype)`` positionally.
    """

    def __call__(
        self,
        key: Key,
        shape: Shape,
        dtype: DTypeLike | None = None,
        out_sharding: OutSharding = None,
    ) -> jax.Array: ...
