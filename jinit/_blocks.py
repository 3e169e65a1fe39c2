"""One draw made in blocks: a PRNG implementation that starts a stream at an index.

With :mod:`jinit._prng`, the code of jinit most exposed to JAX internals
(``jax.extend.random``, the counter-based hashes and their word order).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _caches, _checks, _prng
from ._laws import is_complex

# A counter-based implementation (jinit._prng.COUNTER_BASED) makes word i of a
# draw of any shape from the key and (hi(i), lo(i)), i the row-major index
# (threefry2x32 with ``jax_threefry_partitionable``, JAX's default). A key of a
# block implementation below carries the key's words and a start index s and
# yields the words s, s + 1, ...: the block of the whole draw that starts at s.
# An elementwise law drawn with it in a block's shape gives that block of the
# whole draw, bit for bit, with the scratch memory of one block (XLA's threefry
# on CPU needs about three times its output in scratch).


def _block_bits(name, n, mul, key_words, bit_width, shape):
    words, start = tuple(key_words[i] for i in range(n)), key_words[n]
    lo = lax.iota(np.uint32, math.prod(shape)).reshape(shape) + start
    hi = jnp.zeros(shape, np.uint32)  # indices stay below 2**31 (see draw_in_blocks)
    return _prng.hash_bits(name, words, hi, lo, bit_width, mul)


def _block_split(name, n, key_words, shape):
    key = jax.random.wrap_key_data(key_words[:n], impl=name)
    keys = jax.random.key_data(jax.random.split(key, shape))
    start = jnp.broadcast_to(key_words[n], (*shape, 1))
    return jnp.concatenate([keys, start], axis=-1)


def _block_fold_in(name, n, key_words, data):
    key = jax.random.wrap_key_data(key_words[:n], impl=name)
    key = jax.random.key_data(jax.random.fold_in(key, data))
    return jnp.concatenate([key, key_words[n:]])


def _block_seed(name, seed):
    key = jax.random.key_data(jax.random.key(seed, impl=name))
    return jnp.concatenate([key, jnp.zeros((1,), np.uint32)])


@_caches.registered
@functools.cache
def block_impl(name: str, native: bool = False) -> Any:
    """The block implementation of the counter-based implementation ``name``.

    Its keys are ``name``'s key words and a start index. ``native`` uses
    ``lax.mulhi`` for Philox (faster on the CPU, for a one-device program);
    otherwise :func:`jinit._prng.mulhilo` (any program, sharded too).
    """
    n = _checks._raw_key_shape(name)[0]
    twin = _prng.TWINS.get(name, name)  # split and fold in: shardable
    mul = _prng.native_mulhilo if native else _prng.mulhilo
    return jex_random.define_prng_impl(
        key_shape=(n + 1,),
        seed=functools.partial(_block_seed, name),
        split=functools.partial(_block_split, twin, n),
        random_bits=functools.partial(_block_bits, name, n, mul),
        fold_in=functools.partial(_block_fold_in, twin, n),
        name=f"jinit_{name}_block" + ("_native" if native else ""),
    )


def threefry2x32(k0, k1, x0, x1):
    """The Threefry-2x32 hash (20 rounds), as JAX computes it, in NumPy uint32."""
    k0, k1, x0, x1 = (np.atleast_1d(np.asarray(v, np.uint32)) for v in (k0, k1, x0, x1))
    return _prng.threefry2x32(k0, k1, x0, x1)


def fold_in(key_words, data):
    """``jax.random.fold_in`` of threefry key words (..., 2) with uint32 ``data``.

    In NumPy, with no compilation: JAX folds by hashing the words ``(0, data)``
    with the key, ``threefry_2x32(key, threefry_seed(data))``.
    """
    key_words = np.asarray(key_words, np.uint32)
    data = np.asarray(data, np.uint32)
    y0, y1 = threefry2x32(
        key_words[..., 0], key_words[..., 1], np.zeros_like(data), data
    )
    return np.stack([y0, y1], axis=-1)


#: The values per block of :func:`draw_in_blocks` (4 MiB of float32).
BLOCK = 1 << 20


def can_draw_in_blocks(
    init, shape, dtype, key, sharding, impls=_prng.COUNTER_BASED
) -> bool:
    """Whether :func:`draw_in_blocks` gives ``init``'s values for this draw.

    It does for an elementwise law (``init.elementwise``), a ``key`` (typed, or
    raw of JAX's default implementation) of a counter-based implementation
    (threefry2x32 with ``jax_threefry_partitionable``, threefry4x32,
    philox2x32, philox4x32), an output ``sharding`` that is None or fully
    replicated (a sharded draw already makes each device draw its part),
    and at least two blocks of values (fewer than 2**31 of them). ``impls``
    narrows the implementations (to those a caller can draw).
    """
    if not init.elementwise or not 2 * BLOCK <= math.prod(shape) < 2**31:
        return False
    impl = _prng.impl_name(key)
    return (
        impl in impls
        and (impl != "threefry2x32" or _checks.config("jax_threefry_partitionable"))
        and (sharding is None or sharding.is_fully_replicated)
    )


def draw_in_blocks(init, key, shape, dtype, block: int | None = None):
    """``init._generate(key, shape, dtype)``, made ``block`` values at a time.

    The flattened output is filled in a ``fori_loop`` over blocks; each block is
    ``init._draw`` with a key whose words start at the block's index. The last
    block ends at the end and overlaps the one before it, whose values it
    writes again, identical: one loop body, compiled once. Same bits as the
    whole draw (see :func:`can_draw_in_blocks` for when), a block's scratch
    memory, and on CPU a faster draw, as each block stays in cache. ``block``
    defaults to :data:`BLOCK` and must not exceed the number of values.
    """
    block = block or BLOCK
    words = jax.random.key_data(key) if _checks.is_typed_key(key) else key
    impl = block_impl(_prng.impl_name(key))
    n = math.prod(shape)

    def body(i, out):
        start = jnp.minimum(i * block, n - block)
        key_words = jnp.concatenate([words, start.astype(np.uint32)[None]])
        part = init._draw(
            jax.random.wrap_key_data(key_words, impl=impl),
            shape,
            dtype,
            (block,),
        )
        return lax.dynamic_update_slice(out, _as_bits(part), (start,))

    out = lax.fori_loop(0, -(-n // block), body, _as_bits(jnp.zeros((n,), dtype)))
    return lax.bitcast_convert_type(out, dtype).reshape(shape)


# Drawing in blocks from Python (``materialize`` on the CPU): the block is its
# own compiled program, which depends on the law and not on the leaf's shape, so
# every leaf of one law shares one compilation; a donated update writes each
# block into the leaf's buffer in place.

_PROGRAMS = _caches.Memo()


def _block_program(init, shape, dtype, block, impl):
    """The compiled ``(key words, start) -> block`` of ``init``'s law for ``shape``."""

    def draw(words, start):
        key_words = jnp.concatenate([words, start[None]])
        key = jax.random.wrap_key_data(key_words, impl=block_impl(impl, native=True))
        return _as_bits(init._draw(key, shape, dtype, (block,)))

    cache_key = (init._law_key(shape, dtype), dtype, block, impl)
    return _PROGRAMS.get_or_make(cache_key, lambda: jax.jit(draw))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _buffer(n, dtype):
    return jnp.zeros((n,), dtype)


@functools.partial(jax.jit, donate_argnums=0)
def _write(out, part, start):
    return lax.dynamic_update_slice(out, part, (start,))


def draw_from_python(init, key_words, shape, dtype, impl=None, block=None):
    """:func:`draw_in_blocks`'s values, as a NumPy array (no copy) of the CPU's buffer.

    The same blocks, each made by one call of a program compiled once per law
    (``init._law_key``: leaves of different shapes and initializers with one
    law share it), then written in place into the leaf's buffer. Eager only, from
    raw key words of ``impl`` (a counter-based implementation's name or
    ``jax.random.key_impl``'s answer, a jinit twin's too; None: JAX's
    default), where
    :func:`can_draw_in_blocks` allows. A program for one device: Philox with
    ``lax.mulhi``.
    """
    block = block or BLOCK
    n = math.prod(shape)
    dtype = np.dtype(dtype)
    impl = _prng.spec_name(impl)
    program = _block_program(init, shape, dtype, block, impl)
    words = jnp.asarray(key_words, np.uint32)
    out = None
    for i in range(-(-n // block)):
        start = np.uint32(min(i * block, n - block))
        part = program(words, start)
        out = _buffer(n, part.dtype) if out is None else out
        out = _write(out, part, start)
    return np.asarray(out).view(dtype).reshape(shape)


def _as_bits(x):
    """A real float array as unsigned ints of its width (complex as they are).

    The blocks are written into a buffer of bits: XLA's CPU backend has no
    bfloat16 dynamic-update-slice and would convert the whole buffer to float32
    and back for every block (3x slower than the whole draw).
    """
    if is_complex(x.dtype) or jnp.finfo(x.dtype).bits < 8:
        return x
    return lax.bitcast_convert_type(x, np.dtype(f"uint{jnp.finfo(x.dtype).bits}"))
