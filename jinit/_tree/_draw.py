"""Drawing a plan: groups with one compiled function each, blocks, Python leaves.

Leaves that share (configuration, shape, dtype, sharding, layout) form a group
with one compiled function, called once per leaf with the leaf's key: compile
time scales with the number of groups (a dozen for a transformer of any depth),
and each leaf is its own buffer from the start. On the CPU, eagerly, a leaf of
an elementwise law drawn in blocks, or a constant, is made from Python without
a program of its own shape (:func:`_python_leaf`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable
from typing import Any

import jax
import numpy as np
from jax import lax
from jax.sharding import NamedSharding, Sharding

from .. import _blocks, _caches, _checks, _dispatch, _signature
from .._base import Init
from .._constant import Constant
from .._signature import Signature
from . import _paths
from ._plan import LeafDraw, Planned


def auto_axes(sharding: Sharding | None) -> Sharding | None:
    """The sharding to draw under: a NamedSharding's mesh with Auto axes.

    On a mesh with Explicit axes (``jax.make_mesh``'s default) a draw cannot be
    constrained; the same devices with Auto axes give the same layout, and the
    arrays are put back onto the given sharding (same shards) after the draw.
    """
    if not isinstance(sharding, NamedSharding) or not isinstance(
        sharding.mesh, jax.sharding.Mesh
    ):
        return sharding
    mesh = sharding.mesh
    auto = (jax.sharding.AxisType.Auto,) * len(mesh.axis_names)
    if tuple(mesh.axis_types) == auto:
        return sharding
    mesh = jax.sharding.Mesh(mesh.devices, mesh.axis_names, axis_types=auto)
    return NamedSharding(mesh, sharding.spec, memory_kind=sharding.memory_kind)


@dataclasses.dataclass(frozen=True)
class _Group:
    """Leaves drawn by one compiled function: equal configuration and layout."""

    config: Hashable  # _dispatch.config_key of the initializer: bit-exact identity
    shape: tuple[int, ...]
    dtype: np.dtype
    sharding: Sharding | None
    blocks: bool  # drawn in blocks of the flattened leaf (_blocks.draw_in_blocks)
    layout: Signature | None  # how the module calls it (None: as stored)
    python: bool  # made from Python, without a compiled draw of its own
    init: Any = dataclasses.field(compare=False)
    draw: LeafDraw = dataclasses.field(compare=False)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def values(self, key: Any) -> jax.Array:
        if self.layout is not None:
            out = _signature.draw_planned(
                self.draw, key, self.shape, self.dtype, self.layout, self.blocks
            )
        elif self.blocks:
            out = _blocks.draw_in_blocks(self.init, key, self.shape, self.dtype)
        elif isinstance(self.init, Init):
            out = self.init._generate(key, self.shape, self.dtype)
        else:
            out = self.init(key, self.shape, self.dtype)
        if isinstance(self.sharding, NamedSharding):
            out = lax.with_sharding_constraint(out, auto_axes(self.sharding))
        return out


def _group(p: Planned, key: Any, traced: bool) -> _Group:
    """The compiled-function group of a planned leaf (and whether it uses blocks)."""
    assert p.draw is not None
    init, draw_shape, per_layer = p.draw.init, p.draw.shape, p.draw.per_layer
    # The one blocks policy (jinit._dispatch.use_blocks); drawn from Python.
    blocks = (
        isinstance(init, Init)
        and not per_layer
        and not traced
        and _dispatch.use_blocks(
            init, draw_shape, p.dtype, key, p.sharding, path="python"
        )
    )
    # Eagerly on the CPU, constants and laws in blocks need no program of
    # their own shape (_python_leaf).
    python = not traced and (
        blocks
        or (
            isinstance(init, Constant)
            and not per_layer
            and jax.default_backend() == "cpu"
        )
    )
    # Only the layout decides a draw: leaves of different modules share groups.
    layout = None
    if p.signature is not None:
        s = p.signature
        layout = Signature(s.shape, s.stacked, s.in_axis, s.out_axis)
    return _Group(
        _dispatch.config_key(p.init),
        p.shape,
        p.dtype,
        p.sharding,
        blocks,
        layout,
        python,
        p.init,
        p.draw,
    )


def _python_leaf(group: _Group, key_words: Any, impl: Any) -> jax.Array:
    """A leaf made eagerly on the CPU without compiling a program of its shape.

    A constant is filled by NumPy; a law drawn in blocks is made by one
    compiled block per law (:func:`jinit._blocks.draw_from_python`), so the
    leaves of a model share a few compilations. The same values as
    ``group.values``.
    """
    init, shape = group.draw.init, group.draw.shape
    if group.blocks:
        values = _blocks.draw_from_python(init, key_words, shape, group.dtype, impl)
    else:
        assert isinstance(init, Constant)
        values = np.broadcast_to(np.asarray(init.value_in(group.dtype)), shape)
    if group.layout is not None:
        values = _signature.arrange(values, group.layout, group.shape)
    return jax.device_put(values, group.sharding)


def _is_threefry(impl: Any) -> bool:
    """Whether keys of ``impl`` (None: raw keys of the default) are threefry2x32."""
    name = _checks.config("jax_default_prng_impl") if impl is None else str(impl)
    return name == "threefry2x32"


def _fold_paths(impl: Any, key_data: Any, hashes: Any) -> Any:
    """Every leaf's key data: the root key folded with its path's two words."""
    key = key_data if impl is None else jax.random.wrap_key_data(key_data, impl=impl)
    keys = jax.vmap(lambda words: _paths.fold(key, words))(hashes)
    return keys if impl is None else jax.random.key_data(keys)


_fold_paths_jit = jax.jit(_fold_paths, static_argnums=0)


def _draw_leaf(group: _Group, impl: Any, key_data: Any) -> jax.Array:
    """One leaf (traced), from its key's data."""
    key = key_data if impl is None else jax.random.wrap_key_data(key_data, impl=impl)
    return group.values(key)


_LEAF_CACHE = _caches.Memo()


def _compiled_leaf(group: _Group, impl: Any) -> Any:
    """One cached ``jax.jit`` per group: every leaf of the group is one call of it."""
    return _LEAF_CACHE.get_or_make(
        (group, impl),
        lambda: jax.jit(
            lambda key_data: _draw_leaf(group, impl, key_data),
            out_shardings=auto_axes(group.sharding),
        ),
    )


def _progress_bar(progress: bool | None, total: int) -> Any:
    """A tqdm bar over the bytes drawn, or None when none is to be shown.

    ``None`` shows one on a terminal once a call has taken 3 seconds, if tqdm is
    installed; ``True`` always (tqdm must be installed); ``False`` never.
    """
    if progress is False:
        return None
    try:
        import tqdm
    except ImportError:
        if progress:
            raise ImportError(
                "`progress=True` needs tqdm (pip install tqdm, or jinit[report])."
            ) from None
        return None
    bar = tqdm.tqdm(
        total=total,
        desc="materialize",
        unit="B",
        unit_scale=True,
        delay=0 if progress else 3,
        disable=False if progress else None,  # None: not on a non-terminal
    )
    return None if bar.disable else bar


def draw_plan(
    planned: list[Planned], key: Any, progress: bool | None
) -> dict[int, Any]:
    """Draws every planned leaf that has an initializer; returns index -> array."""
    sharded = any(p.sharding is not None for p in planned if p.init is not None)
    key = _dispatch.draw_key(key, sharded)  # Philox shardable; rbg warns
    if _checks.is_typed_key(key):
        impl, key_data = jax.random.key_impl(key), jax.random.key_data(key)
    else:
        impl, key_data = None, key
    # Under a trace, the caller's program may shard a leaf: no blocks there.
    traced = _checks.is_tracer(key_data)
    drawn = [p for p in planned if p.init is not None]
    todo = [(p.index, _group(p, key, traced)) for p in drawn]
    hashes = np.array([_paths.path_hash(p.path) for p in drawn], np.uint32)
    hashes = hashes.reshape(-1, 2)
    if traced:
        keys = _fold_paths(impl, key_data, hashes)
    elif _is_threefry(impl):  # the same words, computed without a compile
        words = _blocks.fold_in(np.asarray(key_data), hashes[:, 0])
        keys = _blocks.fold_in(words, hashes[:, 1])
    else:
        keys = np.asarray(_fold_paths_jit(impl, np.asarray(key_data), hashes))
    total = sum(group.nbytes for _, group in todo)
    bar = None if traced else _progress_bar(progress, total)
    out: dict[int, jax.Array] = {}
    for (i, group), leaf_key in zip(todo, keys, strict=True):
        if traced:
            array = _draw_leaf(group, impl, leaf_key)
            if group.sharding is not None:
                array = lax.with_sharding_constraint(array, auto_axes(group.sharding))
        elif group.python:
            array = _python_leaf(group, leaf_key, impl)
        else:
            array = _compiled_leaf(group, impl)(leaf_key)
            if group.sharding is not None and array.sharding != group.sharding:
                array = jax.device_put(array, group.sharding)
        if bar is not None:
            array.block_until_ready()
            bar.update(group.nbytes)
        out[i] = array
    if bar is not None:
        bar.close()
    return out
