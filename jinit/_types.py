"""Types shared by every initializer: the call protocol and argument aliases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, TypeAlias, get_args, runtime_checkable

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

MODES: tuple[str, ...] = get_args(Mode)
DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)
ORTHOGONAL_METHODS: tuple[str, ...] = get_args(OrthogonalMethod)


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


@runtime_checkable
class Rule(Protocol):
    """A path rule's value that picks its initializer per leaf.

    ``jinit.materialize``, ``jinit.reinit`` and ``jinit.table`` call
    ``rule.for_leaf(path, leaves)`` for each leaf the rule matches; ``leaves``
    maps every path of the tree to its ``jax.ShapeDtypeStruct`` (a
    :class:`jinit.Abstract` where the model's signature is known), so a rule can
    read a sibling (a bias reads its kernel's fan-in) or the whole tree. A rule
    is not itself an initializer: it has no ``__call__``.
    """

    def for_leaf(
        self, path: str, leaves: Mapping[str, jax.ShapeDtypeStruct]
    ) -> Initializer: ...
