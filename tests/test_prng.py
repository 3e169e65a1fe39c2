"""Every PRNG implementation of JAX 0.10.2: the guarantees of the README's table.

Philox drawn sharded (JAX's own lowering fails to compile under a sharding),
jinit's Philox twins equal to JAX's bit for bit, blocks of every counter-based
implementation equal to the one-pass draw, and the rbg warning.
"""

import importlib.util
import os
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jinit
from jinit import _blocks, _prng

COUNTER = ["threefry2x32", "threefry4x32", "philox2x32", "philox4x32"]
ALL = [*COUNTER, "rbg", "unsafe_rbg"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bits_of(x):
    x = np.asarray(x)
    return x.reshape(-1).view(np.uint8)


def assert_same_bits(a, b):
    np.testing.assert_array_equal(bits_of(a), bits_of(b))


# ----------------------------------------------------------------------------
# jinit's Philox equals JAX's: seed, split, fold_in, bits of every width.


@pytest.mark.parametrize("impl", ["threefry4x32", "philox2x32", "philox4x32"])
def test_twin_equals_jax(impl):
    twin = _prng.TWINS[impl]
    for seed in (0, 9, -5, 2**31 - 1):
        ours = jax.random.key_data(jax.random.key(seed, impl=twin))
        np.testing.assert_array_equal(
            ours, jax.random.key_data(jax.random.key(seed, impl=impl))
        )
    key = jax.random.key(21, impl=impl)
    twin_key = _prng.portable(key)
    assert str(jax.random.key_impl(twin_key)) != impl  # a custom implementation
    assert _prng.impl_name(twin_key) == impl  # named by what it is the twin of
    assert _prng.spec_name(jax.random.key_impl(twin_key)) == impl
    for shape, dtype in [((2, 3, 4), "uint8")]:
        np.testing.assert_array_equal(
            jax.random.bits(twin_key, shape, dtype),
            jax.random.bits(key, shape, dtype),
        )
        np.testing.assert_array_equal(
            jax.random.key_data(jax.random.split(twin_key, shape)),
            jax.random.key_data(jax.random.split(key, shape)),
        )
    data = jnp.asarray([0, 1, 777, 2**32 - 1], jnp.uint32)
    fold = jax.vmap(jax.random.fold_in, (None, 0))
    np.testing.assert_array_equal(
        jax.random.key_data(fold(twin_key, data)),
        jax.random.key_data(fold(key, data)),
    )


@pytest.mark.parametrize("impl", COUNTER)
def test_hash_bits_64_bit_words(impl, x64):
    """64-bit words (float64 draws) as JAX joins them, for every hash."""
    key = jax.random.key(4, impl=impl)
    words = tuple(jax.random.key_data(key))
    hi, lo = _prng.counters((5, 3))
    ours = _prng.hash_bits(impl, words, hi, lo, 64)
    np.testing.assert_array_equal(ours, jax.random.bits(key, (5, 3), "uint64"))


def test_counters_carry_into_the_high_word():
    """Indices past 2**32 (a leaf of over 4 G values) carry into the high word."""
    shape = (3, 2**31 + 5)
    hi, lo = jax.jit(lambda: [c[:, -2:] for c in _prng.counters(shape)])()
    index = np.arange(3)[:, None] * shape[1] + np.array([shape[1] - 2, shape[1] - 1])
    np.testing.assert_array_equal(hi, index >> 32)
    np.testing.assert_array_equal(lo, index & 0xFFFFFFFF)


# ----------------------------------------------------------------------------
# The guarantees, per implementation.


def _mesh():
    return jax.make_mesh(
        (2, 4), ("a", "b"), axis_types=(jax.sharding.AxisType.Auto,) * 2
    )


# One law and dtype per implementation (each case compiles two programs).
SHARDED = [
    ("threefry2x32", jinit.glorot_uniform(), jnp.bfloat16),
    ("threefry4x32", jinit.he_normal(), jnp.float32),
    ("philox2x32", jinit.he_normal(), jnp.bfloat16),
    ("philox4x32", jinit.orthogonal(), jnp.float32),
]


@pytest.mark.parametrize(("impl", "init", "dtype"), SHARDED, ids=lambda v: f"{v}"[:12])
def test_sharded_equals_unsharded(impl, init, dtype):
    """Philox included: JAX's own sharded Philox raises an XLA error here."""
    key = jax.random.key(7, impl=impl)
    sharding = NamedSharding(_mesh(), P("a", "b"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", jinit.PRNGWarning)  # none for these
        out = init(key, (64, 32), dtype, out_sharding=sharding)
    assert out.sharding.is_equivalent_to(sharding, 2)
    assert_same_bits(out, init(key, (64, 32), dtype))


@pytest.mark.parametrize("impl", ["philox2x32", "philox4x32"])
def test_sharded_philox_under_jit_and_explicit_axes(impl):
    key = jax.random.key(3, impl=impl)
    init = jinit.normal(0.5)
    expected = init(key, (16, 8))
    types = (jax.sharding.AxisType.Explicit,)
    mesh = jax.make_mesh((8,), ("x",), axis_types=types)
    out = init(key, (16, 8), out_sharding=NamedSharding(mesh, P("x")))
    assert_same_bits(out, expected)
    auto = jax.make_mesh((8,), ("x",), axis_types=(jax.sharding.AxisType.Auto,))
    inside = jax.jit(
        lambda k: init(k, (16, 8)), out_shardings=NamedSharding(auto, P(None, "x"))
    )(key)
    assert_same_bits(inside, expected)


@pytest.mark.parametrize("impl", ALL)
def test_eager_equals_jit_and_key_forms(impl):
    """Eager == jit, and typed, key_dtype and wrap_key_data keys agree."""
    init = jinit.variance_scaling(1.0, "fan_avg", "uniform")
    key = jax.random.key(5, impl=impl)
    expected = init(key, (24, 8))
    assert_same_bits(jax.jit(lambda k: init(k, (24, 8)))(key), expected)
    by_dtype = jax.random.key(5, dtype=jax.random.key_dtype(impl))
    assert_same_bits(init(by_dtype, (24, 8)), expected)
    wrapped = jax.random.wrap_key_data(jax.random.key_data(key), impl=impl)
    assert_same_bits(init(wrapped, (24, 8)), expected)


@pytest.mark.parametrize("impl", COUNTER)
def test_vmap_over_keys_is_exact(impl):
    init = jinit.lecun_normal()
    keys = jax.random.split(jax.random.key(2, impl=impl), 3)
    batched = jax.vmap(lambda k: init(k, (12, 6)))(keys)
    for i in range(3):
        assert_same_bits(batched[i], init(keys[i], (12, 6)))


def test_vmap_over_rbg_keys_is_not_exact():
    """As JAX documents: the batch is drawn from the first key (the README's "no")."""
    init = jinit.normal()
    keys = jax.random.split(jax.random.key(2, impl="rbg"), 2)
    batched = jax.vmap(lambda k: init(k, (16,)))(keys)
    assert not np.array_equal(batched[1], init(keys[1], (16,)))


@pytest.mark.parametrize("impl", ["philox4x32", "threefry4x32"])
def test_raw_keys_of_the_default_implementation(impl):
    """Raw uint32 keys are read with jax_default_prng_impl, sharded too."""
    typed = jax.random.key(8, impl=impl)
    raw = jax.random.key_data(typed)
    sharding = NamedSharding(_mesh(), P(None, ("a", "b")))
    previous = jax.config.jax_default_prng_impl
    jax.config.update("jax_default_prng_impl", impl)
    try:
        out = jinit.he_uniform()(raw, (16, 16), out_sharding=sharding)
        assert_same_bits(out, jinit.he_uniform()(typed, (16, 16)))
    finally:
        jax.config.update("jax_default_prng_impl", previous)


@pytest.mark.parametrize("impl", ["rbg", "unsafe_rbg"])
def test_rbg_with_shardings_warns_once(impl):
    _prng._warned.cache_clear()
    key = jax.random.key(1, impl=impl)
    sharding = NamedSharding(_mesh(), P("a"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jinit.normal()(key, (8, 4))  # no sharding: no warning
        assert not caught
        outs = [jinit.normal()(key, (8, 4), out_sharding=sharding) for _ in range(2)]
    assert [w.category for w in caught] == [jinit.PRNGWarning]
    message = str(caught[0].message)
    assert (
        repr(impl) in message and "--xla_tpu_spmd_rng_bit_generator_unsafe" in message
    )
    # Without that XLA flag (and on the CPU), JAX's table keeps rbg identical
    # across shardings: so it is here.
    assert_same_bits(outs[0], jinit.normal()(key, (8, 4)))
    assert caught[0].filename == __file__  # points at the caller's line


def test_rbg_default_impl_with_raw_key_warns():
    _prng._warned.cache_clear()
    previous = jax.config.jax_default_prng_impl
    jax.config.update("jax_default_prng_impl", "rbg")
    try:
        raw = jax.random.key_data(jax.random.key(0, impl="rbg"))
        with pytest.warns(jinit.PRNGWarning, match="jax_default_prng_impl='rbg'"):
            jinit.normal()(raw, (8, 4), out_sharding=NamedSharding(_mesh(), P("a")))
    finally:
        jax.config.update("jax_default_prng_impl", previous)


# ----------------------------------------------------------------------------
# Blocks: every counter-based implementation, the same bits as one pass.


BLOCKS = [
    ("threefry2x32", jinit.he_normal(), jnp.bfloat16),
    ("threefry4x32", jinit.normal(), np.float32),
    ("philox2x32", jinit.lecun_uniform(), np.float32),
    ("philox4x32", jinit.he_normal(), np.float32),
]


@pytest.mark.parametrize(("impl", "init", "dtype"), BLOCKS, ids=lambda v: f"{v}"[:12])
def test_blocks_equal_one_pass(impl, init, dtype):
    key = jax.random.key(13, impl=impl)
    shape = (37, 29)  # 1073 values: 11 blocks of 100, the last overlapping
    one_pass = init(key, shape, dtype)
    blocks = jax.jit(
        lambda k: _blocks.draw_in_blocks(init, k, shape, np.dtype(dtype), block=100)
    )(key)
    assert_same_bits(blocks, one_pass)
    python = _blocks.draw_from_python(
        init, jax.random.key_data(key), shape, dtype, impl, 100
    )
    assert_same_bits(python, one_pass)


@pytest.mark.parametrize("impl", COUNTER)
def test_block_policy_per_implementation(impl):
    """Blocks where measured faster: a direct call for threefry2x32 only,
    ``materialize`` for every counter-based implementation (jinit.FAST_PRNG:
    never, one pass is its fastest)."""
    key = jax.random.key(0, impl=impl)
    init, shape = jinit.truncated_normal(0.02), (2048, 1024)
    dtype = np.dtype(np.float32)
    use = jinit._dispatch.use_blocks
    assert use(init, shape, dtype, key, None) == (impl == "threefry2x32")
    assert use(init, shape, dtype, key, None, path="python")
    fast = jax.random.key(0, impl=jinit.FAST_PRNG)
    assert not use(init, shape, dtype, fast, None, path="python")


# ----------------------------------------------------------------------------
# materialize with a Philox key: different values from threefry, same guarantees.

TREE = {
    "embed": jax.ShapeDtypeStruct((64, 16), jnp.float32),
    "dense": {
        "kernel": jax.ShapeDtypeStruct((16, 32), jnp.bfloat16),
        "bias": jax.ShapeDtypeStruct((32,), jnp.float32),
    },
}
RULES = {
    r".*kernel": jinit.he_normal(),
    r".*bias": jinit.zeros,
    "embed": jinit.normal(),
}


def test_materialize_with_a_philox_key():
    key = jax.random.key(3, impl="philox4x32")
    out = jinit.materialize(TREE, key, RULES)
    leaf_key = jinit._tree.leaf_key(key, "dense/kernel")
    assert_same_bits(
        out["dense"]["kernel"], jinit.he_normal()(leaf_key, (16, 32), jnp.bfloat16)
    )
    threefry = jinit.materialize(TREE, jax.random.key(3), RULES)
    assert not np.array_equal(out["embed"], threefry["embed"])


def test_materialize_sharded_with_a_philox_key():
    key = jax.random.key(3, impl="philox4x32")
    mesh = _mesh()
    shardings = {
        "embed": NamedSharding(mesh, P("a", "b")),
        "dense": {"kernel": NamedSharding(mesh, P(None, "b")), "bias": None},
    }
    out = jinit.materialize(TREE, key, RULES, shardings=shardings)
    ref = jinit.materialize(TREE, key, RULES)
    for path in (("embed",), ("dense", "kernel")):
        a, b = out, ref
        for p in path:
            a, b = a[p], b[p]
        assert_same_bits(a, b)


# ----------------------------------------------------------------------------
# bench/prng.py runs (a smoke test in this process, no timings asserted).


def test_bench_prng_quick(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location(
        "bench_prng", os.path.join(ROOT, "bench", "prng.py")
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # Two rows: the script, not the numbers.
    argv = ["prng.py", "--quick", "--impls", "philox4x32,jinit.FAST_PRNG"]
    monkeypatch.setattr(sys, "argv", argv)
    bench.main()
    out = capsys.readouterr().out
    for impl in ("philox4x32", "jinit.FAST_PRNG"):
        assert f"| {impl} |" in out
    assert "| `jinit.materialize` | jinit.FAST_PRNG |" in out
