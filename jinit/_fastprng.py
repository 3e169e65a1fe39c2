"""jinit's opt-in fast PRNG: Threefry-2x32 with 13 rounds, for init speed.

:data:`FAST_PRNG` is a JAX PRNG implementation (``jax.extend.random.define_prng_impl``):
``jax.random.key(0, impl=jinit.FAST_PRNG)`` is a key every ``jax.random``
function and every jinit law takes. Its values differ from JAX's
implementations'; its guarantees are threefry2x32's:

* **counter-based**: word i of a draw of any shape is the Threefry-2x32-13 hash
  of the key and the row-major index i (``(hi(i), lo(i))``), so it is the same
  on any sharding, device, backend, eager or under ``jit``/``vmap``, and the
  draw shards with no multiply-high (plain 32-bit adds, rotations and xors);
* **13 rounds**: the fewest with which Threefry-2x32 passes TestU01's BigCrush
  with every key and counter pattern tried (Salmon, Moraes, Dror, Shaw,
  "Parallel random numbers: as easy as 1, 2, 3", SC'11, Table 2: Threefry-2x32-13,
  where JAX's threefry2x32 has 20, the paper's choice with a safety margin).
  The suite's battery (tests/test_prng_fast.py) tests uniformity and
  independence of the words, keys, splits and folds.

The words: a 32-bit value (and 8/16, truncated) is the XOR of the hash's two
words, as JAX's partitionable threefry; a 64-bit value the two words side by
side. Splits and folds hash the same key with counters tagged in the high
word's top bits (split: ``2**31``, fold-in: ``2**30``), so a child key is
never a word of its parent's draws (indices below ``2**62``).
"""

from __future__ import annotations

import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np

from . import _prng

_U32 = np.uint32
ROUNDS = 13  # Threefry-2x32-13 (see the module docstring)
_SPLIT, _FOLD = _U32(1 << 31), _U32(1 << 30)
_SEED_KEY = (_U32(0x6A696E69), _U32(0x74667374))  # "jinitfst": the seeding key


def _seed(seed):
    hi, lo = _prng.seed_words(seed)
    return jnp.stack(_prng.threefry2x32(*_SEED_KEY, hi, lo, ROUNDS))


def _split(key, shape):
    hi, lo = _prng.counters(shape)
    return jnp.stack(
        _prng.threefry2x32(key[0], key[1], hi | _SPLIT, lo, ROUNDS), axis=-1
    )


def _fold_in(key, data):
    return jnp.stack(
        _prng.threefry2x32(key[0], key[1], _FOLD, data.astype(_U32), ROUNDS)
    )


def _random_bits(key, bit_width, shape):
    hi, lo = _prng.counters(shape)
    return _prng.combine(_prng.threefry2x32(key[0], key[1], hi, lo, ROUNDS), bit_width)


#: jinit's fast PRNG implementation (Threefry-2x32-13), for ``jax.random.key(seed,
#: impl=jinit.FAST_PRNG)``: different values from JAX's implementations, the same
#: guarantees as threefry2x32 (sharded == unsharded, every backend, vmap, jit).
FAST_PRNG = jex_random.define_prng_impl(
    key_shape=(2,),
    seed=_seed,
    split=_split,
    random_bits=_random_bits,
    fold_in=_fold_in,
    name="jinit_threefry2x32_13",
    tag="jinit_threefry2x32_13",
)
