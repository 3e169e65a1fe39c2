"""JAX's counter-based PRNG hashes, written by jinit so that XLA can shard them.

JAX 0.10.2 has six PRNG implementations. Four are counter-based: word i of a
draw of any shape is a hash of the key and the row-major index i
(``(hi(i), lo(i))``), so each device can compute its shard alone and the values
do not depend on the sharding. JAX lowers the Philox multiply-high with
``chlo.mulhi``, which XLA's SPMD partitioner cannot convert ("Unable to convert
MHLO to StableHLO"): a sharded Philox draw fails. Here the hashes are written
with plain 32-bit ops (the multiply-high from 16-bit limbs), bit for bit JAX's,
and :func:`portable` re-wraps a Philox key as a key of a twin implementation
(:data:`TWINS`) built on them: same seed, split, fold-in and bits as JAX's,
shardable. The rbg implementations draw with XLA's ``RngBitGenerator``, whose
values depend on the backend (and on the sharding under XLA's
``--xla_tpu_spmd_rng_bit_generator_unsafe``); jinit warns
(:class:`PRNGWarning`) when it is asked to shard them.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from typing import Any

import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _caches, _checks

#: The PRNG implementations of JAX 0.10.2 whose bits are a hash of the key and
#: the value's row-major index: the same on any sharding, device and backend.
COUNTER_BASED = ("threefry2x32", "threefry4x32", "philox2x32", "philox4x32")
#: Those whose bits come from XLA's ``RngBitGenerator``.
RBG = ("rbg", "unsafe_rbg")
IMPLS = COUNTER_BASED + RBG

_U32 = np.uint32


class PRNGWarning(UserWarning):
    """A draw was asked of jinit that its PRNG implementation cannot guarantee.

    Raised (once per implementation) when shardings are given with an ``rbg`` or
    ``unsafe_rbg`` key (or ``jax_default_prng_impl``): XLA's ``RngBitGenerator``
    makes values that depend on the backend, and on the sharding under XLA's
    ``--xla_tpu_spmd_rng_bit_generator_unsafe=1``; ``vmap`` over its keys is
    not exact.
    """


def impl_name(key: Any) -> str:
    """The name of ``key``'s PRNG implementation (a raw key: JAX's default).

    A key of a jinit twin (:data:`TWINS`) is named by the implementation it
    is the twin of.
    """
    if _checks.is_typed_key(key):
        return _TWIN_NAMES.get(key.dtype) or str(jax.random.key_impl(key))
    return str(_checks.config("jax_default_prng_impl"))


def spec_name(impl: Any) -> str:
    """:func:`impl_name` of an implementation (a name, ``jax.random.key_impl``'s
    answer, a twin); None: JAX's default."""
    if impl is None:
        return str(_checks.config("jax_default_prng_impl"))
    return _TWIN_NAMES.get(jax.random.key_dtype(impl)) or str(impl)


# ----------------------------------------------------------------------------
# The hashes, in 32-bit lax ops (traced) -- NumPy gives the same on uint32 arrays.


def mulhilo(m: int, x: Any) -> tuple[Any, Any]:
    """``(lo, hi)`` words of the 64-bit product of the constant ``m`` and ``x``.

    The high word from 16-bit limbs (each partial product fits 32 bits): only
    32-bit multiplies, adds and shifts, which every XLA backend shards.
    """
    m0, m1 = _U32(m & 0xFFFF), _U32(m >> 16)
    x0, x1 = x & _U32(0xFFFF), x >> _U32(16)
    p00, p01, p10, p11 = m0 * x0, m0 * x1, m1 * x0, m1 * x1
    mid = (p00 >> _U32(16)) + (p01 & _U32(0xFFFF)) + (p10 & _U32(0xFFFF))
    hi = p11 + (p01 >> _U32(16)) + (p10 >> _U32(16)) + (mid >> _U32(16))
    return x * _U32(m), hi


_PHILOX_M2 = 0xD256D193
_PHILOX_M4 = (0xD2511F53, 0xCD9E8D57)
_PHILOX_W = (_U32(0x9E3779B9), _U32(0xBB67AE85))


def native_mulhilo(m: int, x: Any) -> tuple[Any, Any]:
    """:func:`mulhilo` with ``lax.mulhi``, as JAX computes it: faster on the CPU,
    but XLA cannot shard it (a program for one device only)."""
    return x * _U32(m), lax.mulhi(jnp.asarray(m, _U32), x)


def philox(ks: tuple, xs: tuple, mul: Any = mulhilo) -> tuple:
    """Philox-2x32-10 or Philox-4x32-10 (Random123, as ``jax._src.random``
    computes them): key words ``ks`` (1 or 2), counter words ``xs`` (2 or 4).

    Each round multiplies the even words (``mul``: :func:`mulhilo`, shardable,
    or :func:`native_mulhilo`) and bumps the key by the Weyl constants.
    """
    ms = (_PHILOX_M2,) if len(xs) == 2 else _PHILOX_M4
    pairs = len(xs) // 2
    for rnd in range(10):
        if rnd:
            ks = tuple(k + w for k, w in zip(ks, _PHILOX_W, strict=False))
        lohi = [mul(ms[j], xs[2 * j]) for j in range(pairs)]
        xs = tuple(
            word
            for j in range(pairs)
            for word in (
                lohi[pairs - 1 - j][1] ^ xs[2 * j + 1] ^ ks[j],
                lohi[pairs - 1 - j][0],
            )
        )
    return xs


def philox2x32(k0: Any, x0: Any, x1: Any, mul: Any = mulhilo) -> tuple[Any, Any]:
    """Philox-2x32-10 (:func:`philox`)."""
    return philox((k0,), (x0, x1), mul)


def philox4x32(
    k0: Any, k1: Any, x0: Any, x1: Any, x2: Any, x3: Any, mul: Any = mulhilo
) -> tuple:
    """Philox-4x32-10 (:func:`philox`)."""
    return philox((k0, k1), (x0, x1, x2, x3), mul)


_ROT4 = ((10, 26), (11, 21), (13, 27), (23, 5), (6, 20), (17, 11), (25, 10), (18, 20))


def _rotl(x: Any, d: int) -> Any:
    return (x << _U32(d)) | (x >> _U32(32 - d))


_ROT2 = (13, 15, 26, 6, 17, 29, 16, 24)  # Random123's R_32x2


def threefry2x32(k0: Any, k1: Any, x0: Any, x1: Any, rounds: int = 20) -> tuple:
    """Threefry-2x32-``rounds`` (Random123): a key injection every 4 rounds.

    In 32-bit ops (traced, or NumPy uint32 arrays); 20 rounds: JAX's
    ``threefry2x32``; 13: :data:`jinit.FAST_PRNG`'s.
    """
    ks = (k0, k1, k0 ^ k1 ^ _U32(0x1BD11BDA))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for r in range(rounds):
        d = _ROT2[r % 8]
        x0 = x0 + x1
        x1 = x0 ^ _rotl(x1, d)
        if r % 4 == 3:
            j = r // 4 + 1
            x0 = x0 + ks[j % 3]
            x1 = x1 + ks[(j + 1) % 3] + _U32(j)
    return x0, x1


def threefry4x32(k: tuple, x: tuple) -> tuple:
    """Threefry-4x32-20, as ``jax._src.random.threefry4x32`` computes it."""
    ks = (*k, k[0] ^ k[1] ^ k[2] ^ k[3] ^ _U32(0x1BD11BDA))
    x0, x1, x2, x3 = (x[i] + ks[i] for i in range(4))
    for rnd in range(20):
        r0, r1 = _ROT4[rnd % 8]
        if rnd % 2 == 0:
            x0 = x0 + x1
            x1 = x0 ^ _rotl(x1, r0)
            x2 = x2 + x3
            x3 = x2 ^ _rotl(x3, r1)
        else:
            x0 = x0 + x3
            x3 = x0 ^ _rotl(x3, r0)
            x2 = x2 + x1
            x1 = x2 ^ _rotl(x1, r1)
        if rnd % 4 == 3:
            j = rnd // 4
            x0, x1, x2 = (
                x0 + ks[(1 + j) % 5],
                x1 + ks[(2 + j) % 5],
                x2 + ks[(3 + j) % 5],
            )
            x3 = x3 + ks[(4 + j) % 5] + _U32(1 + j)
    return x0, x1, x2, x3


# ----------------------------------------------------------------------------
# Counters and bits: what each implementation's ``random_bits`` makes of the words.


def counters(shape: tuple[int, ...]) -> tuple[Any, Any]:
    """``(hi, lo)`` words of the row-major index of each value.

    As ``jax._src.random.prng.iota_2x32_shape``: built from one iota per axis,
    which the SPMD partitioner splits. Exact for indices below 2**64; the
    carry into ``hi`` is computed from the 32-bit words.
    """
    lo = hi = jnp.zeros(shape, _U32)
    small = math.prod(shape) <= 2**32
    for axis in range(len(shape)):
        stride = math.prod(shape[axis + 1 :])
        iota = lax.broadcasted_iota(_U32, shape, axis)
        if small:  # no carry: every index fits the low word
            lo = lo + (iota if stride == 1 else iota * _U32(stride))
            continue
        # iota * stride as a 64-bit (hi, lo) (the word 2**32 up from
        # stride's high word), added with carry.
        plo, phi = mulhilo(int(stride) & 0xFFFFFFFF, iota)
        phi = phi + iota * _U32((int(stride) >> 32) & 0xFFFFFFFF)
        new = lo + plo
        hi = hi + phi + (new < lo).astype(_U32)
        lo = new
    return hi, lo


def combine(words: tuple, bit_width: int, wide: tuple | None = None) -> Any:
    """The bits of ``bit_width`` from a hash's output words, as JAX forms them.

    32 bits (and 8, 16, truncated): the XOR of all words; 64 bits: ``wide``
    (the high and low words; default the first two) side by side.
    """
    if bit_width == 64:
        hi, lo = wide if wide is not None else words[:2]
        return (hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)
    bits = functools.reduce(lambda a, b: a ^ b, words)
    return bits if bit_width == 32 else bits.astype(np.dtype(f"uint{bit_width}"))


def hash_bits(
    name: str, k: tuple, hi: Any, lo: Any, bit_width: int, mul: Any = mulhilo
) -> Any:
    """``random_bits`` of the counter-based implementation ``name`` at ``(hi, lo)``.

    ``k`` are the key's words (scalars); threefry2x32 as with
    ``jax_threefry_partitionable`` (JAX's default); ``mul`` the Philox
    multiply (:func:`mulhilo` or :func:`native_mulhilo`).
    """
    zeros = jnp.zeros_like(lo)
    if name == "threefry2x32":
        words = jex_random.threefry2x32_p.bind(k[0], k[1], hi, lo)
        return combine(words, bit_width)
    if name == "threefry4x32":
        words = threefry4x32(k, (hi, lo, zeros, zeros))
        return combine(words, bit_width, (words[0] ^ words[2], words[1] ^ words[3]))
    if name == "philox2x32":
        return combine(philox2x32(k[0], hi, lo, mul), bit_width)
    assert name == "philox4x32", name
    return combine(philox4x32(k[0], k[1], hi, lo, zeros, zeros, mul), bit_width)


# ----------------------------------------------------------------------------
# The Philox twins: JAX's Philox, shardable.


def seed_words(seed: Any) -> tuple[Any, Any]:
    """A seed's ``(hi, lo)`` words."""
    # As JAX's Philox seeds: the high word is a logical shift by 32 (0 for a
    # 32-bit seed), the low word the seed modulo 2**32.
    k0 = lax.shift_right_logical(seed, lax.convert_element_type(32, seed.dtype))
    return k0.astype(_U32), seed.astype(_U32)


def _philox2_seed(seed):
    k0, k1 = seed_words(seed)
    return jnp.stack([philox2x32(jnp.zeros((), _U32), k0, k1)[0]])


def _philox2_split(key, shape):
    hi, lo = counters(shape)
    return philox2x32(key[0], hi, lo)[0][..., None]


def _philox2_fold_in(key, data):
    return jnp.stack([philox2x32(key[0], _U32(0), data.astype(_U32))[0]])


def _philox2_bits(key, bit_width, shape):
    hi, lo = counters(shape)
    return hash_bits("philox2x32", (key[0],), hi, lo, bit_width)


def _philox4_seed(seed):
    k0, k1 = seed_words(seed)
    z = jnp.zeros((), _U32)
    out = philox4x32(z, z, k0, k1, z, z)
    return jnp.stack(out[:2])


def _philox4_split(key, shape):
    hi, lo = counters(shape)
    zeros = jnp.zeros(shape, _U32)
    out = philox4x32(key[0], key[1], zeros, zeros, hi, lo)
    return jnp.stack(out[:2], axis=-1)


def _philox4_fold_in(key, data):
    z = _U32(0)
    out = philox4x32(key[0], key[1], z, z, z, data.astype(_U32))
    return jnp.stack(out[:2])


def _philox4_bits(key, bit_width, shape):
    hi, lo = counters(shape)
    return hash_bits("philox4x32", (key[0], key[1]), hi, lo, bit_width)


def _threefry4_seed(seed):
    k0, k1 = seed_words(seed)
    z = jnp.zeros((), _U32)
    return jnp.stack(threefry4x32((k0, k1, z, z), (z, z, z, z)))


def _threefry4_split(key, shape):
    hi, lo = counters(shape)
    zeros = jnp.zeros(shape, _U32)
    words = tuple(key[i] for i in range(4))
    return jnp.stack(threefry4x32(words, (zeros, zeros, hi, lo)), axis=-1)


def _threefry4_fold_in(key, data):
    z = jnp.zeros((), _U32)
    words = tuple(key[i] for i in range(4))
    return jnp.stack(threefry4x32(words, (z, z, z, data.astype(_U32))))


def _threefry4_bits(key, bit_width, shape):
    hi, lo = counters(shape)
    return hash_bits("threefry4x32", tuple(key[i] for i in range(4)), hi, lo, bit_width)


#: JAX's implementation name -> jinit's twin of it: the same seeds, splits,
#: folds and bits. Philox's twins shard (JAX's do not compile under a
#: sharding); threefry4x32's is inlined (JAX's ``fold_in`` under ``vmap``, as
#: ``materialize`` folds paths, takes ~0.3 s a call on the CPU, warm).
TWINS = {
    "threefry4x32": jex_random.define_prng_impl(
        key_shape=(4,),
        seed=_threefry4_seed,
        split=_threefry4_split,
        random_bits=_threefry4_bits,
        fold_in=_threefry4_fold_in,
        name="jinit_threefry4x32",
    ),
    "philox2x32": jex_random.define_prng_impl(
        key_shape=(1,),
        seed=_philox2_seed,
        split=_philox2_split,
        random_bits=_philox2_bits,
        fold_in=_philox2_fold_in,
        name="jinit_philox2x32",
    ),
    "philox4x32": jex_random.define_prng_impl(
        key_shape=(2,),
        seed=_philox4_seed,
        split=_philox4_split,
        random_bits=_philox4_bits,
        fold_in=_philox4_fold_in,
        name="jinit_philox4x32",
    ),
}


_TWIN_NAMES = {jax.random.key_dtype(twin): name for name, twin in TWINS.items()}


def portable(key: Any) -> Any:
    """``key``, re-wrapped as a key of jinit's twin (:data:`TWINS`) where it has one.

    The twin gives the same bits, splits and folds as JAX's implementation, with
    ops XLA can shard; any other key is returned as it is. Works on traced keys.
    """
    name = impl_name(key)
    if name not in TWINS:
        return key
    data = jax.random.key_data(key) if _checks.is_typed_key(key) else key
    return jax.random.wrap_key_data(data, impl=TWINS[name])


# ----------------------------------------------------------------------------
# What each implementation keeps.


@_caches.registered
@functools.cache
def _warned(name: str) -> bool:
    unsafe = "xla_tpu_spmd_rng_bit_generator_unsafe" in os.environ.get("XLA_FLAGS", "")
    warnings.warn(
        f"A {name!r} key (or jax_default_prng_impl={name!r}) with shardings: its "
        "bits come from XLA's RngBitGenerator, so jinit cannot guarantee the same "
        "values on CPU, GPU and TPU, nor exact vmap over keys, and the values "
        "differ between shardings and meshes under XLA's "
        "--xla_tpu_spmd_rng_bit_generator_unsafe=1 (set here: "
        f"{'yes' if unsafe else 'no'}; frameworks set it for speed, jax #40232). "
        "Use a counter-based key (jax.random.key(seed, impl='threefry2x32' or "
        "'philox4x32')) to keep every guarantee.",
        PRNGWarning,
        stacklevel=6,  # the user's call (through draw_key and run/materialize)
    )
    return True


def warn_if_unshardable(key: Any) -> None:
    """Warns once per implementation when ``key`` is rbg/unsafe_rbg (with shardings)."""
    name = impl_name(key)
    if name in RBG:
        _warned(name)
