"""The kernel: dtypes, determinism (eager == jit == vmap == sharded), dispatch, PRNGs."""

import math

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from registry import BY_NAME, RANDOM, ROWS

import jinit
from jinit import _blocks, _dispatch

NARROW = [jnp.bfloat16, jnp.float16, jnp.float8_e4m3fn, jnp.float8_e5m2]


def _dtypes(row):
    base = [jnp.float32, *NARROW]
    return base + ([jnp.complex64] if row.complex_ok else [])


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_invariants_every_dtype(row):
    """Shape, dtype, finiteness, for every row and dtype (narrow floats included)."""
    init = row.ours()
    key = jax.random.key(0)
    for dtype in _dtypes(row):
        for shape in row.shapes if dtype == jnp.float32 else row.shapes[:1]:
            x = init(key, shape, dtype)
            assert x.shape == shape and x.dtype == jnp.dtype(dtype), (shape, dtype)
            assert bool(jnp.all(jnp.isfinite(x))), (shape, dtype)


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_float64_invariants(row, x64):
    init = row.ours()
    shape = row.shapes[0]
    for dtype in [jnp.float64] + ([jnp.complex128] if row.complex_ok else []):
        x = init(jax.random.key(0), shape, dtype)
        assert x.dtype == jnp.dtype(dtype) and x.shape == shape


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_narrow_floats_are_the_float32_draw_rounded_once(row):
    init = row.ours()
    key = jax.random.key(1)
    shape = row.shapes[0]
    wide = np.asarray(init(key, shape, jnp.float32))
    for dtype in NARROW:
        big = float(ml_dtypes.finfo(dtype).max)
        expected = np.clip(wide, -big, big).astype(dtype)
        np.testing.assert_array_equal(np.asarray(init(key, shape, dtype)), expected)


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_eager_jit_vmap_sharded_identical(row):
    init = row.ours()
    shape = row.shapes[0]
    keys = jax.random.split(jax.random.key(7), 3)
    eager = [init(k, shape) for k in keys]
    jitted = jax.jit(lambda k: init(k, shape))
    batched = jax.vmap(lambda k: init(k, shape))(keys)
    for i, k in enumerate(keys):
        np.testing.assert_array_equal(jitted(k), eager[i])
        np.testing.assert_array_equal(batched[i], eager[i])
    raw = jax.random.key_data(keys[0])
    np.testing.assert_array_equal(init(raw, shape), eager[0])  # raw == typed key
    mesh = jax.make_mesh((8,), ("x",))
    axis = max(range(len(shape)), key=lambda a: shape[a] % 8 == 0 and shape[a])
    spec = [None] * len(shape)
    if shape[axis] % 8 == 0:
        spec[axis] = "x"
    sharding = NamedSharding(mesh, P(*spec))
    sharded = init(keys[0], shape, out_sharding=sharding)
    assert sharded.sharding.is_equivalent_to(sharding, len(shape))
    np.testing.assert_array_equal(sharded, eager[0])


@pytest.mark.parametrize(
    "init",
    [
        jinit.he_normal(),
        jinit.orthogonal(),
        jinit.normal(1.0),
        jinit.variance_scaling(1.0, "fan_in", "truncated_normal"),
    ],
    ids=repr,
)
@pytest.mark.parametrize("mesh_shape", [(8,), (2, 4), (4, 2)])
@pytest.mark.parametrize("axis_type", ["Auto", "Explicit"])
def test_sharded_draw_equals_unsharded(init, mesh_shape, axis_type):
    """Every mesh shape, real and complex, orthogonal included (JAX raises there)."""
    shape = (64, 32)
    key = jax.random.key(11)
    types = (getattr(jax.sharding.AxisType, axis_type),) * len(mesh_shape)
    mesh = jax.make_mesh(mesh_shape, ("a", "b")[: len(mesh_shape)], axis_types=types)
    spec = P("a", "b") if len(mesh_shape) == 2 else P(None, "a")
    sharding = NamedSharding(mesh, spec)
    for dtype in (jnp.float32, jnp.bfloat16, jnp.complex64):
        out = init(key, shape, dtype, out_sharding=sharding)
        np.testing.assert_array_equal(out, init(key, shape, dtype))
        assert out.sharding.is_equivalent_to(sharding, len(shape))
        shard_shapes = {s.data.shape for s in out.addressable_shards}
        assert shard_shapes == {sharding.shard_shape(shape)}


def test_partition_spec_under_a_mesh():
    mesh = jax.make_mesh((8,), ("x",), axis_types=(jax.sharding.AxisType.Explicit,))
    init = jinit.glorot_uniform()
    with jax.set_mesh(mesh):
        out = init(jax.random.key(0), (16, 8), out_sharding=P("x", None))
        inside = jax.jit(lambda k: init(k, (16, 8), out_sharding=P("x", None)))(
            jax.random.key(0)
        )
    assert out.sharding.spec == P("x", None) and inside.sharding.spec == P("x", None)
    np.testing.assert_array_equal(out, init(jax.random.key(0), (16, 8)))
    np.testing.assert_array_equal(inside, out)
    with pytest.raises(ValueError, match="`out_sharding` must be a Sharding"):
        init(jax.random.key(0), (16, 8), out_sharding=P("x", None))


def test_one_compilation_per_signature():
    init = jinit.he_normal()
    key = jax.random.key(0)
    init(key, (33, 17))
    before = _dispatch.kernel._cache_size()
    for seed in range(5):
        init(jax.random.key(seed), (33, 17))
    jinit.he_normal()(key, (33, 17))  # an equal configuration shares the entry
    assert _dispatch.kernel._cache_size() == before
    init(key, (34, 17))
    assert _dispatch.kernel._cache_size() == before + 1


def test_eval_shape_allocates_nothing():
    init = jinit.orthogonal()
    out = jax.eval_shape(
        lambda k: init(k, (1024, 512), jnp.bfloat16), jax.random.key(0)
    )
    assert out == jax.ShapeDtypeStruct((1024, 512), jnp.bfloat16)


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg", "unsafe_rbg"])
def test_every_prng_implementation(impl):
    init = jinit.he_normal()
    key = jax.random.key(5, impl=impl)
    out = init(key, (64, 32))
    assert out.shape == (64, 32) and bool(jnp.all(jnp.isfinite(out)))
    np.testing.assert_array_equal(out, init(key, (64, 32)))
    assert not np.array_equal(out, init(jax.random.key(6, impl=impl), (64, 32)))
    np.testing.assert_array_equal(out, jax.jit(lambda k: init(k, (64, 32)))(key))


def test_raw_keys_of_the_default_implementation():
    previous = jax.config.jax_default_prng_impl
    jax.config.update("jax_default_prng_impl", "rbg")
    try:
        raw = jax.random.PRNGKey(3)
        assert raw.shape == (4,)
        out = jinit.normal(1.0)(raw, (8, 8))
        typed = jax.random.wrap_key_data(raw, impl="rbg")
        np.testing.assert_array_equal(out, jinit.normal(1.0)(typed, (8, 8)))
        with pytest.raises(TypeError, match="`key` must be a PRNG key"):
            jinit.normal(1.0)(jnp.zeros((2,), jnp.uint32), (8, 8))
    finally:
        jax.config.update("jax_default_prng_impl", previous)


def test_saturation_instead_of_overflow():
    """Narrow floats saturate at their largest finite value: no Inf, no NaN."""
    key = jax.random.key(0)
    f16 = jinit.normal(1e6)(key, (256, 256), jnp.float16)
    assert bool(jnp.all(jnp.isfinite(f16)))
    assert float(jnp.max(jnp.abs(f16))) == float(jnp.finfo(jnp.float16).max)
    f8 = jinit.he_uniform()(
        key, (1, 4096), jnp.float8_e4m3fn
    )  # std sqrt(2): |x| < 2.45
    assert bool(jnp.all(jnp.isfinite(f8.astype(jnp.float32))))
    f8 = jinit.normal(1e4)(key, (64, 64), jnp.float8_e4m3fn)
    assert float(jnp.max(jnp.abs(f8.astype(jnp.float32)))) == 448.0


def test_requested_dtype_always_wins():
    key = jax.random.key(0)
    assert jinit.normal()(key, (4,), jnp.complex64).dtype == jnp.complex64
    assert jnp.iscomplexobj(jinit.he_normal()(key, (4, 4), jnp.complex64))
    assert jinit.he_normal(dtype=jnp.bfloat16)(key, (4, 4)).dtype == jnp.bfloat16
    assert jinit.he_normal(dtype=jnp.bfloat16)(key, (4, 4), jnp.float16).dtype == (
        jnp.float16
    )
    assert jinit.zeros(key, (3,), jnp.int32).dtype == jnp.int32


# ----------------------------------------------------------------------------
# Draws made in blocks (what materialize does for large leaves).

ELEMENTWISE = [row for row in ROWS if row.random and row.ours().elementwise]


def test_the_elementwise_laws_are_the_random_rows_but_the_structured_ones():
    assert {row.name for row in RANDOM} - {row.name for row in ELEMENTWISE} == {
        "orthogonal",
        "orthogonal_scaled_axis0",
        "delta_orthogonal",
    }


@pytest.mark.parametrize("row", ELEMENTWISE, ids=repr)
def test_a_draw_in_blocks_has_the_bits_of_the_whole_draw(row):
    # Blocks of a third of the values, plus one: the last block overlaps the one
    # before it. float32, a narrow float (all are the float32 draw rounded) and
    # complex64 where the row takes it.
    init = row.ours()
    key = jax.random.key(3)
    blocks = jax.jit(_blocks.draw_in_blocks, static_argnums=(0, 2, 3, 4))
    for dtype in _dtypes(row)[:2] + _dtypes(row)[len(NARROW) + 1 :]:
        for shape in row.shapes if dtype == jnp.float32 else row.shapes[:1]:
            dtype = np.dtype(dtype)
            whole = init(key, shape, dtype)
            parts = blocks(init, key, shape, dtype, math.prod(shape) // 3 + 1)
            assert parts.shape == shape and parts.dtype == dtype
            np.testing.assert_array_equal(
                np.asarray(parts), np.asarray(whole), f"{shape} {dtype}"
            )


def test_a_float64_draw_in_blocks_has_the_bits_of_the_whole_draw(x64):
    key = jax.random.key_data(jax.random.key(4))  # and a raw key
    for init in [jinit.he_normal(), jinit.uniform(2.0), jinit.truncated_normal()]:
        for dtype in [np.dtype("float64"), np.dtype("complex128")]:
            if dtype.kind == "c" and not isinstance(init, jinit.VarianceScaling):
                continue
            whole = init(key, (13, 29), dtype)
            parts = jax.jit(_blocks.draw_in_blocks, static_argnums=(0, 2, 3, 4))(
                init, key, (13, 29), dtype, 64
            )
            np.testing.assert_array_equal(np.asarray(parts), np.asarray(whole))


def test_when_a_draw_is_made_in_blocks(monkeypatch):
    monkeypatch.setattr(_blocks, "BLOCK", 100)
    f32 = np.dtype("float32")
    threefry = jax.random.key(0)
    rbg = jax.random.key(0, impl="rbg")

    split = NamedSharding(jax.make_mesh((8,), ("x",)), P("x"))

    def can(init=None, shape=(20, 10), key=threefry, sharding=None):
        init = init or jinit.he_normal()
        return _blocks.can_draw_in_blocks(init, shape, f32, key, sharding)

    assert can() and can(key=jax.random.key_data(threefry))  # typed or raw
    assert not can(shape=(19, 10))  # fewer than two blocks
    assert not can(init=jinit.orthogonal())  # not elementwise
    assert not can(key=rbg)  # rbg's bits are not addressed by index
    assert not can(sharding=split)  # each device already draws its shard
    with jax.threefry_partitionable(False):
        assert not can()


@pytest.mark.parametrize("row", [BY_NAME["he_normal"], BY_NAME["uniform"]], ids=repr)
def test_a_large_eager_draw_is_made_in_blocks_with_jaxs_bits(monkeypatch, row):
    monkeypatch.setattr(_blocks, "BLOCK", 64)
    drawn = []
    draw = _blocks.draw_in_blocks
    monkeypatch.setattr(
        _blocks, "draw_in_blocks", lambda *a: drawn.append(a[2]) or draw(*a)
    )
    key, shape = jax.random.key(5), (37, 29)  # a shape no other test draws
    eager = row.ours()(key, shape)
    assert drawn == [shape]  # eager: in blocks
    jitted = jax.jit(lambda k: row.ours()(k, shape))(key)
    assert drawn == [shape]  # under a trace: whole
    np.testing.assert_array_equal(np.asarray(eager), np.asarray(jitted))
    np.testing.assert_array_equal(
        np.asarray(eager), np.asarray(row.theirs()(key, shape))
    )


def test_a_far_tail_draw_in_blocks_has_the_bits_of_the_whole_draw(x64):
    key = jax.random.key(6)
    blocks = jax.jit(_blocks.draw_in_blocks, static_argnums=(0, 2, 3, 4))
    for lower, upper in [(8.0, 9.0), (-45.0, -40.0)]:  # ndtri; log space in f32
        init = jinit.truncated_normal(0.5, None, lower, upper)
        for dtype in map(np.dtype, ["float32", "float64", "bfloat16"]):
            whole = init(key, (13, 29), dtype)
            parts = blocks(init, key, (13, 29), dtype, 64)
            np.testing.assert_array_equal(np.asarray(parts), np.asarray(whole))


def test_config_key_is_the_one_bit_exact_identity():
    key = _dispatch.config_key
    assert key(jinit.constant(0.0)) == key(jinit.constant(0.0))
    assert key(jinit.constant(-0.0)) != key(jinit.constant(0.0))  # == calls them equal
    assert key(jinit.normal(0.1, mean=-0.0)) != key(jinit.normal(0.1))
    assert key(jinit.he_normal()) == key(jinit.he_normal())
    assert key(jinit.he_normal()) != key(jinit.lecun_normal())
    jax_init = jax.nn.initializers.he_normal()  # a hashable foreign callable: itself
    assert key(jax_init) == key(jax_init) and key(jax_init) != key(jinit.he_normal())

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, key, shape, dtype=None):
            return jax.numpy.zeros(shape, dtype)

    a, b = Unhashable(), Unhashable()
    assert key(a) == key(a) and key(a) != key(b)  # by identity, while they live
    hash(key(a))


def test_equal_configurations_share_one_kernel_and_checks_cache():
    shape = (3, 17)  # a shape no other test draws
    before = _dispatch.kernel._cache_size()
    for _ in range(2):
        jinit.constant(0.0)(None, shape)
        jinit.constant(0.0)(None, shape)
    assert _dispatch.kernel._cache_size() == before + 1
    minus = jinit.constant(-0.0)(None, shape)
    assert _dispatch.kernel._cache_size() == before + 2
    assert np.signbit(np.asarray(minus)).all()


def test_numpy_fold_in_is_jaxs():
    """materialize folds path words into threefry keys in NumPy: JAX's bits."""
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**32, (4096, 2), dtype=np.uint32)
    data = rng.integers(0, 2**32, 4096, dtype=np.uint32)
    data[:3] = (0, 1, 2**32 - 1)

    def jax_fold(k, d):
        return jax.random.key_data(jax.random.fold_in(jax.random.wrap_key_data(k), d))

    want = np.asarray(jax.vmap(jax_fold)(keys, data))
    np.testing.assert_array_equal(_blocks.fold_in(keys, data), want)
    # One key, many words, as materialize folds a root key.
    np.testing.assert_array_equal(
        _blocks.fold_in(keys[0], data[:5]),
        np.asarray(jax.vmap(jax_fold, (None, 0))(keys[0], data[:5])),
    )
