"""The one key check, dtype check, shape check, axis check and number check.

Everything here runs in Python before anything is traced, so that bad input is
a ValueError/TypeError that names the argument, never an XLA error.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

from . import _caches, _errors


def config(name: str) -> Any:
    """The value of a JAX flag (``jax.config.<name>``), read by name."""
    return getattr(jax.config, name)


def is_tracer(x: Any) -> bool:
    """Whether ``x`` is traced (inside jit, vmap, grad)."""
    return isinstance(x, Tracer)


_KEY_KINDS = "a PRNG key made by jax.random.key(seed) or jax.random.PRNGKey(seed)"


@_caches.registered
@functools.cache
def _raw_key_shape(impl_name: str) -> tuple[int, ...]:
    return jax.random.key_data(jax.random.key(0, impl=impl_name)).shape


@_caches.registered
@functools.lru_cache(maxsize=64)
def _is_typed_key_dtype(dtype: Any) -> bool:
    return bool(jnp.issubdtype(dtype, jax.dtypes.prng_key))


def is_typed_key(key: Any) -> bool:
    """Whether ``key`` is a typed key (``jax.random.key``), not raw uint32 data."""
    return _is_typed_key_dtype(key.dtype)


def check_key(key: Any) -> None:
    """Checks that ``key`` is one PRNG key: typed (``jax.random.key``) or raw uint32.

    A raw key must have the shape of the default PRNG implementation's key
    ((2,) for threefry2x32, (4,) for rbg and unsafe_rbg). Tracers are accepted.
    """
    if not isinstance(key, jax.Array | np.ndarray):
        raise _errors.bad_type("key", _KEY_KINDS, key)
    dtype = key.dtype
    if _is_typed_key_dtype(dtype):
        if key.ndim:
            raise _errors.bad_value(
                "key",
                "a single key (shape ()); use jax.vmap to draw with a batch of keys",
                f"a key array of shape {key.shape}",
            )
        return
    raw_shape = _raw_key_shape(config("jax_default_prng_impl"))
    if dtype == np.uint32 and key.shape == raw_shape:
        return
    if dtype == np.uint32 and key.shape[-len(raw_shape) :] == raw_shape:
        raise _errors.bad_value(
            "key",
            "a single key; use jax.vmap to draw with a batch of keys",
            f"a raw key array of shape {key.shape}",
        )
    raise _errors.bad_type(
        "key",
        f"{_KEY_KINDS} (a raw key is uint32 of shape {raw_shape})",
        f"an array of dtype {dtype} and shape {key.shape}",
    )


def check_shape(shape: Any, arg: str = "shape") -> tuple[int, ...]:
    """Returns ``shape`` as a tuple of non-negative Python ints."""
    if type(shape) is tuple and all(type(d) is int and d >= 0 for d in shape):
        return shape  # the common case, fast
    if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
        raise _errors.bad_type(arg, f"a tuple of ints, e.g. ({int(shape)},)", shape)
    if not isinstance(shape, Sequence | np.ndarray) or isinstance(shape, str):
        raise _errors.bad_type(arg, "a tuple of ints", shape)
    dims = []
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, int | np.integer):
            raise _errors.bad_type(arg, "a tuple of static Python ints", tuple(shape))
        if d < 0:
            raise _errors.bad_value(arg, "a tuple of non-negative ints", tuple(shape))
        dims.append(int(d))
    return tuple(dims)


_NEEDS_X64 = {np.dtype(t) for t in ("float64", "complex128", "int64", "uint64")}


@_caches.registered
@functools.lru_cache(maxsize=512)
def _dtype(dtype: Any, kind: str, x64: bool) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise _errors.bad_type("dtype", "a NumPy/JAX dtype", dtype) from None
    if kind == "random":
        inexact = jnp.issubdtype(dt, jnp.floating) or jnp.issubdtype(
            dt, jnp.complexfloating
        )
        if not inexact:
            raise _errors.bad_type(
                "dtype",
                "a floating or complex dtype (float32, bfloat16, float16, float64, "
                "complex64, float8_*) for a random initializer",
                dt,
            )
        if jnp.issubdtype(dt, jnp.floating) and float(jnp.finfo(dt).min) >= 0:
            raise _errors.bad_value(
                "dtype", "a signed floating dtype for a random initializer", dt
            )
    elif not (jnp.issubdtype(dt, jnp.number) or dt == np.bool_):
        raise _errors.bad_type("dtype", "a numeric or bool dtype", dt)
    if not x64 and dt in _NEEDS_X64:
        raise _errors.bad_value(
            "dtype",
            f"a dtype JAX can hold; {dt} needs jax.config.update('jax_enable_x64', "
            "True) (jinit never silently changes the dtype you ask for)",
            dt,
        )
    return dt


def resolve_dtype(dtype: Any, default: Any = None, kind: str = "random") -> np.dtype:
    """Resolves the call's dtype (else the initializer's, else JAX's default float).

    ``kind="random"`` allows only signed floating and complex dtypes; ``"any"``
    allows every numeric and bool dtype (for constants).
    """
    x64 = bool(config("jax_enable_x64"))
    if dtype is None:
        dtype = default
    if dtype is None:
        return np.dtype(np.float64 if x64 else np.float32)
    try:
        return _dtype(dtype, kind, x64)
    except TypeError as e:  # unhashable dtype-like
        if "unhashable" not in str(e):
            raise
        return _dtype.__wrapped__(dtype, kind, x64)


def check_real_dtype(name: str, dtype: np.dtype) -> None:
    """Refuses a complex dtype for an initializer whose law is real-only."""
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise _errors.bad_type(
            "dtype",
            f"a real floating dtype for {name} (for complex weights use normal or "
            "variance_scaling, which draw the complex laws)",
            dtype,
        )


def check_sharding(
    out_sharding: Any, shape: tuple[int, ...] | None = None, arg: str = "out_sharding"
) -> None:
    """Checks an output sharding, and that it fits ``shape`` when given.

    A ``PartitionSpec`` (on its own, or a ``NamedSharding``'s) must have at most
    one entry per axis of the shape (JAX refuses a longer one; silently cutting
    it would drop a sharding), and the mesh axes of each entry must divide that
    axis' size (else JAX raises deep inside, or replicates). A bare
    ``PartitionSpec`` is checked against the mesh set by ``jax.set_mesh``, if any;
    any other ``Sharding`` must give a shard shape for ``shape``. ``arg`` names
    the argument in the error (``shardings['params/w']`` for a tree's leaf).
    """
    if out_sharding is None:
        return
    if not isinstance(out_sharding, jax.sharding.Sharding | jax.sharding.PartitionSpec):
        raise _errors.bad_type(
            arg, "None, a jax.sharding.Sharding or a PartitionSpec", out_sharding
        )
    if shape is None:
        return
    if isinstance(out_sharding, jax.sharding.NamedSharding):
        spec, mesh = out_sharding.spec, out_sharding.mesh
    elif isinstance(out_sharding, jax.sharding.PartitionSpec):
        spec, mesh = out_sharding, jax.sharding.get_abstract_mesh()
    else:
        try:
            out_sharding.shard_shape(shape)
        except Exception as e:  # JAX's own wording of what does not divide
            raise _errors.bad_value(
                arg,
                f"a sharding that divides the shape {shape}",
                f"{out_sharding} ({e})",
            ) from None
        return
    if len(spec) > len(shape):
        raise _errors.bad_value(
            arg,
            f"a PartitionSpec of at most {len(shape)} entries (one per axis) for the "
            f"shape {shape}",
            spec,
        )
    sizes = dict(getattr(mesh, "shape", {}) or {})
    for dim, entry in zip(shape, spec, strict=False):
        if entry is None or entry is jax.sharding.PartitionSpec.UNCONSTRAINED:
            continue
        names = entry if isinstance(entry, tuple) else (entry,)
        if not all(name in sizes for name in names):
            continue  # an unknown axis: JAX's own error names it
        parts = math.prod(sizes[name] for name in names)
        if dim % parts:
            raise _errors.bad_value(
                arg,
                f"a sharding whose mesh axes divide the shape {shape} (the axis "
                f"of size {dim} is split {parts} ways by {entry!r}, which divides "
                "it unevenly)",
                spec,
            )


def check_axes(arg: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """Returns ``axis`` (an int or a sequence of ints) as non-negative axes."""
    axes = (axis,) if isinstance(axis, int | np.integer) else axis
    if isinstance(axes, str) or not isinstance(axes, Sequence | np.ndarray):
        raise _errors.bad_type(arg, "an int or a sequence of ints", axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int | np.integer):
            raise _errors.bad_type(arg, "an int or a sequence of ints", axis)
        if not -ndim <= a < ndim:
            raise _errors.bad_value(
                arg, f"an axis in [-{ndim}, {ndim}) for a {ndim}-D shape", axis
            )
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise _errors.bad_value(arg, "distinct axes", axis)
    return tuple(out)


def check_axis_spec(arg: str, axis: Any) -> Any:
    """Checks the kind of an axis argument when an initializer is built."""
    if isinstance(axis, bool) or not (
        isinstance(axis, int | np.integer)
        or isinstance(axis, Sequence)
        and not isinstance(axis, str)
        and all(
            isinstance(a, int | np.integer) and not isinstance(a, bool) for a in axis
        )
    ):
        raise _errors.bad_type(arg, "an int or a sequence of ints", axis)
    return (
        int(axis) if isinstance(axis, int | np.integer) else tuple(int(a) for a in axis)
    )


def integer(arg: str, value: Any, *, minimum: int | None = None) -> int:
    """Returns ``value`` as a Python int (bools refused), checked at build time."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _errors.bad_type(arg, "an int", value)
    if minimum is not None and value < minimum:
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise _errors.bad_value(arg, kind, value)
    return int(value)


def real_number(
    arg: str,
    value: Any,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    infinite: bool = False,
) -> float:
    """Returns ``value`` as a finite Python float, checked when a builder is called.

    ``infinite`` also accepts +-inf (a one-sided truncation bound); NaN never.
    """
    if isinstance(value, Tracer):
        raise _errors.bad_type(arg, "a concrete number, not a traced value", value)
    if isinstance(value, np.ndarray | jax.Array) and value.shape == ():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _errors.bad_type(arg, "a real number", value)
    value = float(value)
    if math.isnan(value) or (not infinite and math.isinf(value)):
        allowed = "a number or +-inf (not NaN)" if infinite else "a finite number"
        raise _errors.bad_value(arg, allowed, value)
    if positive and value <= 0:
        raise _errors.bad_value(arg, "a positive number", value)
    if nonnegative and value < 0:
        raise _errors.bad_value(arg, "a non-negative number", value)
    return value


def check_builder_dtype(dtype: Any, kind: str = "random") -> Any:
    """Checks the kind of an initializer's default ``dtype`` when it is built.

    Whether JAX can hold it (float64 needs x64) is checked at call time, since
    x64 may be switched on after the initializer is built. None passes.
    """
    if dtype is not None:
        try:
            _dtype(dtype, kind, True)
        except TypeError as e:
            if "unhashable" not in str(e):
                raise
            _dtype.__wrapped__(dtype, kind, True)
        return np.dtype(dtype)
    return None
