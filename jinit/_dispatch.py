"""The one call pipeline: check, then one cached jit dispatch (in blocks or not).

Every initializer's call (:class:`jinit._base.Init` and the Keras-named classes
of :mod:`jinit.keras`) goes through :func:`check_call` (key, shape, dtype,
sharding, in Python, before anything is traced) and :func:`run`: a
``jax.jit`` whose static arguments are the configuration (:func:`config_key`),
the shape, the dtype and the output sharding, and whose only traced argument is
the key. An eager call is therefore one cached dispatch, and the same key gives
the same bits eagerly, under ``jit``, under ``vmap`` over keys and under any
``out_sharding`` for every counter-based PRNG implementation (threefry with
``jax_threefry_partitionable``, JAX's default; Philox drawn by jinit's
shardable twin, :func:`draw_key`). Whether a draw is made in blocks is
:func:`use_blocks`, the one policy.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Hashable
from typing import Any

import jax
import numpy as np
from jax import lax

from . import _blocks, _caches, _checks, _prng

# ----------------------------------------------------------------------------
# The configuration identity.


def _exact(value: Any) -> Any:
    # float.hex tells -0.0 from 0.0 (equal as floats) and makes NaN equal to itself.
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, tuple):
        return tuple(_exact(v) for v in value)
    return value


class _ById:
    """An object compared by identity (for callables that are not hashable).

    It holds the object, so the identity cannot be reused while the key lives.
    """

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ById) and other.obj is self.obj

    def __repr__(self) -> str:
        return f"_ById({self.obj!r})"


def config_key(init: Any) -> Hashable:
    """The one notion of "the same configuration": a hashable, bit-exact identity.

    * a dataclass instance (every jinit initializer): its type and the exact
      bits of its fields (``constant(-0.0)`` is not ``constant(0.0)``, which
      dataclass ``==`` calls equal), memoized on the instance;
    * any other hashable object (a ``jax.nn.initializers`` closure, a user's
      callable): itself;
    * an unhashable one: its identity, while it lives.

    Used by the jit kernel's cache, the call-time check cache and
    ``materialize``'s groups.
    """
    memo = getattr(init, "__dict__", {}).get("_jinit_config_key")
    if memo is not None:
        return memo
    if dataclasses.is_dataclass(init) and not isinstance(init, type):
        fields = tuple(getattr(init, f.name) for f in dataclasses.fields(init))
        key: Hashable = ("fields", type(init), _exact(fields))
    else:
        key = ("object", init)
    try:
        hash(key)
    except TypeError:
        key = ("identity", _ById(init))
    if dataclasses.is_dataclass(init) and not isinstance(init, type):
        try:
            object.__setattr__(init, "_jinit_config_key", key)  # a memo, not a field
        except (AttributeError, TypeError):
            pass  # __slots__: no memo
    return key


class Config:
    """An initializer as a jit-static argument, compared by :func:`config_key`."""

    __slots__ = ("init", "key")

    def __init__(self, init: Any):
        self.init = init
        self.key = config_key(init)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self.key == other.key


# ----------------------------------------------------------------------------
# Checks, in Python.


@_caches.registered
@functools.lru_cache(maxsize=4096)
def _checked(config: Config, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Runs ``init._check`` once per (configuration, shape, dtype); errors re-raise."""
    config.init._check(shape, dtype)


def check_call(
    key: Any,
    shape: Any,
    dtype: Any,
    out_sharding: Any,
    *,
    default_dtype: Any,
    dtype_kind: str,
    random: bool,
) -> tuple[Any, tuple[int, ...], np.dtype]:
    """The checks of every call: returns ``(key or None, shape, dtype)``.

    The key is checked (and returned) for a random initializer and ignored
    otherwise, as in JAX; ``dtype=None`` resolves to ``default_dtype``, else
    JAX's default float; the sharding must fit the shape.
    """
    if random:
        _checks.check_key(key)
    else:
        key = None
    shape = _checks.check_shape(shape)
    dtype = _checks.resolve_dtype(dtype, default_dtype, dtype_kind)
    _checks.check_sharding(out_sharding, shape)
    return key, shape, dtype


def check_init(init: Any, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """``init._check(shape, dtype)``, cached per configuration."""
    _checked(Config(init), shape, dtype)


# ----------------------------------------------------------------------------
# The policy and the kernel.


#: Where a draw in blocks was measured faster than the one-pass jit, per path
#: (notes: the profile of 2026-12-04, 2048**2 and 4096**2 normal draws and
#: the scanned model, 2-core CPU). ``"jit"``: a direct call's kernel
#: (:func:`jinit._blocks.draw_in_blocks`, Philox with 16-bit limbs): faster for
#: threefry2x32 only (XLA's threefry2x32 needs scratch three times its output),
#: even for threefry4x32 and 1.4-1.5x slower for Philox. ``"python"``:
#: ``materialize`` eagerly (:func:`jinit._blocks.draw_from_python`, one
#: compiled block per law, Philox with ``lax.mulhi``): faster for every
#: counter-based implementation (fewer compilations; philox4x32 0.50x vs
#: 0.63x of Flax's init). Same bits either way.
BLOCK_IMPLS = {"jit": ("threefry2x32",), "python": _prng.COUNTER_BASED}


def use_blocks(
    init: Any,
    shape: tuple[int, ...],
    dtype: np.dtype,
    key: Any,
    sharding: Any,
    path: str = "jit",
) -> bool:
    """Whether this draw is made in blocks (:func:`jinit._blocks.draw_in_blocks`).

    The one policy, for direct calls (``path="jit"``) and ``materialize``
    (``path="python"``): an eager (not traced) draw of a jinit initializer that
    :func:`jinit._blocks.can_draw_in_blocks` allows (same bits), on the CPU,
    with a key of an implementation for which the path was measured faster
    (:data:`BLOCK_IMPLS`): a block's scratch memory, and faster as the blocks
    stay in cache. Not on accelerators, where one fused draw needs no loop
    (unmeasured there), nor under a trace: the caller's program may shard the
    draw, and a blocked loop would not split.
    """
    return (
        jax.default_backend() == "cpu"
        and not _checks.is_tracer(key)
        and getattr(init, "elementwise", False)
        and _blocks.can_draw_in_blocks(
            init, shape, dtype, key, sharding, BLOCK_IMPLS[path]
        )
    )


def draw_key(key: Any, sharded: bool) -> Any:
    """The key a draw uses: ``key``, or its twin (:func:`jinit._prng.portable`).

    The one policy of keys, for direct calls and ``materialize`` alike. A
    Philox key is drawn by jinit's twin (the same bits, in ops XLA can shard;
    JAX's own fails to compile there) when the draw may run in a program of
    several devices: ``sharded`` (shardings were given) or ``key`` is traced
    (the caller's program may shard it); eagerly and unsharded JAX's own
    ``lax.mulhi`` is faster. A threefry4x32 key always (JAX's ``fold_in`` is
    slow under ``vmap``). With shardings, an rbg/unsafe_rbg key warns once
    (:class:`jinit.PRNGWarning`). None (a constant's key) stays None.
    """
    if key is None:
        return None
    if sharded:
        _prng.warn_if_unshardable(key)
    if sharded or _checks.is_tracer(key) or _prng.impl_name(key) == "threefry4x32":
        return _prng.portable(key)
    return key


def generate(
    init: Any,
    key: Any,
    shape: tuple[int, ...],
    dtype: np.dtype,
    blocks: bool,
    sharded: bool = False,
) -> Any:
    """The traced draw: whole (``init._generate``) or in blocks.

    A sharded elementwise law is drawn in its own shape (the same bits as the
    flat draw): XLA splits a flat draw along its one axis only, so a draw
    sharded along another axis would be made full-size on every device.
    """
    if blocks:
        return _blocks.draw_in_blocks(init, key, shape, dtype)
    if sharded and init.elementwise:
        return init._draw(key, shape, dtype, shape)
    return init._generate(key, shape, dtype)


@functools.partial(jax.jit, static_argnums=(0, 2, 3, 4, 5))
def kernel(config: Config, key, shape, dtype, out_sharding, blocks=False):
    """The one jit kernel: static configuration, shape, dtype, sharding; traced key."""
    out = generate(config.init, key, shape, dtype, blocks, out_sharding is not None)
    if out_sharding is not None:
        out = lax.with_sharding_constraint(out, out_sharding)
    return out


def _explicit_axes(out_sharding: Any) -> tuple:
    return tuple(getattr(getattr(out_sharding, "mesh", None), "explicit_axes", ()))


def run(
    init: Any,
    key: Any,
    shape: tuple[int, ...],
    dtype: np.dtype,
    out_sharding: Any = None,
) -> Any:
    """Runs ``init._generate(key, shape, dtype)`` in the cached jit kernel.

    A ``PartitionSpec`` is taken on the mesh set by ``jax.set_mesh``. A sharding
    over a mesh with explicit axes (JAX's sharding-in-types) is handled as
    ``jax.random`` handles it: the kernel runs with those axes made automatic
    and its output typed with the sharding (``jax.sharding.auto_axes``), under
    the sharding's mesh when no mesh is set (where ``jax.random`` raises).
    """
    if isinstance(out_sharding, jax.sharding.PartitionSpec):
        mesh = jax.sharding.get_abstract_mesh()
        if mesh.empty:
            raise ValueError(
                "`out_sharding` must be a Sharding, or a PartitionSpec under a mesh "
                f"(jax.set_mesh); got {out_sharding} with no mesh set."
            )
        out_sharding = jax.sharding.NamedSharding(mesh, out_sharding)
    blocks = use_blocks(init, shape, dtype, key, out_sharding)
    if not blocks:  # blocks draw from the key's words themselves
        key = draw_key(key, out_sharding is not None)
    config = Config(init)
    explicit = _explicit_axes(out_sharding)
    if explicit:
        draw = functools.partial(
            kernel,
            config,
            shape=shape,
            dtype=dtype,
            # An elementwise law is drawn in shards; a law with reductions (a
            # norm, a QR) whole, then resharded: its values must not depend on
            # how XLA would split its reductions.
            out_sharding=out_sharding.spec if init.elementwise else None,
            blocks=blocks,
        )
        draw = jax.sharding.auto_axes(draw, out_sharding=out_sharding, axes=explicit)
        if jax.sharding.get_abstract_mesh().empty:
            # JAX needs the mesh in context for explicit axes; the sharding names it.
            with jax.set_mesh(out_sharding.mesh):
                return draw(key)
        return draw(key)
    return kernel(config, key, shape, dtype, out_sharding, blocks)
