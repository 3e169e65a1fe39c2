"""jinit.FAST_PRNG (Threefry-2x32-13): known answers, guarantees, a statistical battery.

The battery draws N = 2**20 words per sample. Every statistic is tested at a
chance-failure level ALPHA = 1e-12; the file computes fewer than 300 of them, so
a correct generator fails this file with probability < 3e-10. Each threshold
is derived below from ALPHA with scipy, and each is shown to catch a 1% defect.
"""

import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from scipy import stats

import jinit
from jinit import _prng

FAST = jinit.FAST_PRNG
N = 2**20
ALPHA = 1e-12
# A standard normal statistic: |z| < Z = 7.13. A bit with P(1) = 0.51 (a 1%
# bias) has z = 0.01 / 0.5 * sqrt(N) = 20.5: caught.
Z = stats.norm.isf(ALPHA / 2)
# Kolmogorov-Smirnov: sqrt(N) * D < 3.76, D < 0.0037. A 1% CDF deviation
# (D_true = 0.01) shows D >= 0.01 - 0.0037 > 0.0037 with the same ALPHA: caught.
KS = stats.kstwobign.isf(ALPHA) / np.sqrt(N)


def chi2_limit(cells: int) -> float:
    """The chi-square threshold for ``cells`` equiprobable cells.

    A defect of total variation TV = 1% spread evenly over the cells (the
    hardest to see) has noncentrality 4 * n * TV**2: 419 with n = N samples
    over 256 cells (threshold 447.5, power 1 - 3e-8), 210 with N / 2 pairs over
    64 cells (threshold 176.7, power 0.9997).
    """
    return stats.chi2.isf(ALPHA, cells - 1)


def chi2(counts: np.ndarray) -> float:
    expected = counts.sum() / counts.size
    return float(((counts - expected) ** 2 / expected).sum())


@jax.jit
def _words(key):
    return jax.random.bits(key, (N,), jnp.uint32)


def words(key) -> np.ndarray:
    return np.asarray(_words(key))


def bit_z(w: np.ndarray) -> np.ndarray:
    """Per bit position, the z of its count of ones."""
    ones = np.array([np.count_nonzero(w & np.uint32(1 << b)) for b in range(32)])
    return (ones - w.size / 2) / np.sqrt(w.size / 4)


def pairs_chi2(a: np.ndarray, b: np.ndarray) -> float:
    """Chi-square of the 8 x 8 table of the top 3 bits of ``a`` and ``b``."""
    cells = (a >> np.uint32(29)) * 8 + (b >> np.uint32(29))
    return chi2(np.bincount(cells.astype(np.int64), minlength=64))


def correlation_z(a: np.ndarray, b: np.ndarray) -> float:
    """sqrt(n) * Pearson's r of the words as uniforms: N(0, 1) if independent.

    A correlation of 0.01 gives z = 10.2: caught.
    """
    return float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1]) * (
        np.sqrt(a.size)
    )


def assert_independent(a: np.ndarray, b: np.ndarray) -> None:
    assert abs(correlation_z(a, b)) < Z
    assert np.all(np.abs(bit_z(a ^ b)) < Z)  # every bit of a ^ b balanced
    assert pairs_chi2(a, b) < chi2_limit(64)


# ----------------------------------------------------------------------------
# The hash: Random123's known answers; the bits a function of (key, index).


def _u32(*v):
    return tuple(np.array([x], np.uint32) for x in v)


def test_known_answers():
    """Random123's kat_vectors for threefry2x32 13 (ctr, key -> out)."""
    vectors = [
        ((0, 0), (0, 0), (0x9D1C5EC6, 0x8BD50731)),
        ((0xFFFFFFFF,) * 2, (0xFFFFFFFF,) * 2, (0xFD36D048, 0x2D17272C)),
        ((0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xBA3E4725, 0xF27D669E)),
    ]
    for ctr, key, out in vectors:
        got = _prng.threefry2x32(*_u32(*key), *_u32(*ctr), rounds=13)
        assert tuple(int(g[0]) for g in got) == out
    # 20 rounds: JAX's threefry2x32, on arbitrary words.
    rng = np.random.default_rng(0)
    k0, k1, x0, x1 = rng.integers(0, 2**32, (4, 64), dtype=np.uint32)
    ours = _prng.threefry2x32(k0[:1], k1[:1], x0, x1)
    theirs = jex_random.threefry2x32_p.bind(k0[0], k1[0], x0, x1)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_bits_are_the_hash_of_key_and_index():
    key = jax.random.key(5, impl=FAST)
    k0, k1 = np.asarray(jax.random.key_data(key))
    flat = np.asarray(jax.random.bits(key, (6, 7))).ravel()
    x0, x1 = _prng.threefry2x32(
        k0, k1, np.zeros(42, np.uint32), np.arange(42, dtype=np.uint32), rounds=13
    )
    np.testing.assert_array_equal(flat, x0 ^ x1)
    np.testing.assert_array_equal(flat, np.asarray(jax.random.bits(key, (99,)))[:42])


def test_64_bit_words(x64):
    key = jax.random.key(5, impl=FAST)
    k0, k1 = np.asarray(jax.random.key_data(key))
    x0, x1 = _prng.threefry2x32(
        k0, k1, np.zeros(9, np.uint32), np.arange(9, dtype=np.uint32), rounds=13
    )
    wide = np.asarray(jax.random.bits(key, (9,), jnp.uint64))
    np.testing.assert_array_equal(wide >> np.uint64(32), x0)
    np.testing.assert_array_equal(wide & np.uint64(0xFFFFFFFF), x1)


# ----------------------------------------------------------------------------
# The battery.


@pytest.fixture(scope="module")
def base():
    return words(jax.random.key(0, impl=FAST))


def test_byte_uniformity(base):
    for byte in range(4):
        counts = np.bincount((base >> np.uint32(8 * byte)) & 0xFF, minlength=256)
        assert chi2(counts) < chi2_limit(256)
    high = np.bincount(base >> np.uint32(24), minlength=256)  # the top byte
    assert chi2(high) < chi2_limit(256)


def test_bit_balance(base):
    assert np.all(np.abs(bit_z(base)) < Z)


def test_adjacent_counters_independent(base):
    # Disjoint pairs (2i, 2i + 1) for the table and the xor; all neighbours for r.
    assert abs(correlation_z(base[:-1], base[1:])) < Z
    assert_independent(base[0::2], base[1::2])


def _keys():
    k = jax.random.key(0, impl=FAST)
    raw = jax.random.wrap_key_data(jnp.zeros(2, jnp.uint32), impl=FAST)
    raw1 = jax.random.wrap_key_data(jnp.array([0, 1], jnp.uint32), impl=FAST)
    a, b = jax.random.split(k)
    return {
        "seeds 0, 1": (k, jax.random.key(1, impl=FAST)),
        "key words (0, 0), (0, 1)": (raw, raw1),
        "split children": (a, b),
        "parent, split child": (k, a),
        "fold_in 0, 1": (jax.random.fold_in(k, 0), jax.random.fold_in(k, 1)),
        "parent, fold_in 0": (k, jax.random.fold_in(k, 0)),
    }


@pytest.mark.parametrize("pair", list(_keys()))
def test_keys_independent(pair, base):
    a, b = (words(k) for k in _keys()[pair])
    assert_independent(a, b)


@jax.jit
def _children(key):
    kids = jax.random.split(key, N // 2)
    folded = jax.vmap(lambda d: jax.random.fold_in(key, d))(jnp.arange(N // 2))
    return jax.random.key_data(kids).ravel(), jax.random.key_data(folded).ravel()


def test_split_and_fold_in_keys_are_uniform():
    """The child keys' words themselves (N / 2 keys from one split, N / 2 folds)."""
    kids, folded = (np.asarray(w) for w in _children(jax.random.key(0, impl=FAST)))
    assert np.all(np.abs(bit_z(kids)) < Z)
    assert np.all(np.abs(bit_z(folded)) < Z)
    assert_independent(kids, folded)


def test_ks_of_uniforms_and_normals():
    key = jax.random.key(11, impl=FAST)
    u = np.asarray(jax.random.uniform(key, (N,)), np.float64)
    assert stats.kstest(u, "uniform").statistic < KS
    n = np.asarray(jinit.normal(1.0)(key, (N,)), np.float64)  # jax.random.normal's
    assert stats.kstest(n, "norm").statistic < KS
    t = np.asarray(jax.random.truncated_normal(key, -2.0, 2.0, (N,)), np.float64)
    assert stats.kstest(t, stats.truncnorm(-2.0, 2.0).cdf).statistic < KS


# ----------------------------------------------------------------------------
# The guarantees: sharded, vmap, jit, every kind of law, materialize.


def _mesh():
    return jax.make_mesh(
        (2, 4), ("a", "b"), axis_types=(jax.sharding.AxisType.Auto,) * 2
    )


LAWS = [
    jinit.he_normal(),
    jinit.truncated_normal(0.02),
    jinit.orthogonal(),
]


@pytest.mark.parametrize("init", LAWS, ids=lambda v: type(v).__name__)
def test_laws_sharded_jit_and_vmap(init):
    key = jax.random.key(7, impl=FAST)
    shape = (64, 32)
    expected = init(key, shape)
    assert not np.array_equal(expected, init(jax.random.key(7), shape))
    sharding = NamedSharding(_mesh(), P("a", "b"))
    out = init(key, shape, out_sharding=sharding)
    assert out.sharding.is_equivalent_to(sharding, 2)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(jax.jit(lambda k: init(k, shape))(key), expected)
    keys = jax.random.split(key, 3)
    batch = jax.vmap(lambda k: init(k, shape))(keys)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], init(keys[i], shape))


def test_jax_random_sharded_under_jit():
    """A draw XLA splits itself: the same bits (no multiply-high to fail)."""
    key = jax.random.key(3, impl=FAST)
    sharding = NamedSharding(_mesh(), P("b", "a"))
    out = jax.jit(lambda k: jax.random.normal(k, (32, 16)), out_shardings=sharding)(key)
    np.testing.assert_array_equal(out, jax.random.normal(key, (32, 16)))


# The mixed tree (float32 and bfloat16 leaves) of test_prng's Philox materialize tests.
from test_prng import RULES, TREE  # noqa: E402


def test_materialize_sharded_and_per_leaf():
    key = jax.random.key(3, impl=FAST)
    mesh = _mesh()
    shardings = {
        "embed": NamedSharding(mesh, P("a", "b")),
        "dense": {"kernel": NamedSharding(mesh, P(None, "b")), "bias": None},
    }
    out = jinit.materialize(TREE, key, RULES)
    sharded = jinit.materialize(TREE, key, RULES, shardings=shardings)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(sharded), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    leaf_key = jinit._tree.leaf_key(key, "dense/kernel")
    np.testing.assert_array_equal(
        out["dense"]["kernel"], jinit.he_normal()(leaf_key, (16, 32), jnp.bfloat16)
    )
