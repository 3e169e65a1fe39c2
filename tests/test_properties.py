"""Property-based tests over the public API (hypothesis): right values or a named error.

For random builders, configurations, shapes (0-D, 1-D, zero-size, NumPy ints),
dtypes (every float, complex, float8, int, bool), keys (every PRNG
implementation, raw keys, wrong ones) and output shardings, every call either

* returns an array of the shape and dtype asked for, with finite values, the
  same bits eagerly, under ``jit`` and (threefry keys: ``jax.random``'s rbg
  draws differ under ``vmap`` too) under ``vmap`` over keys; or
* raises a ValueError/TypeError worded by the one template ("`arg` must be ...;
  got ...") that names an argument of the call or of the builder, before
  anything is traced: the call is first made with the kernel replaced by a
  sentinel, and an error must come before the sentinel is reached.

``derandomize=True``: the examples are the same on every run (no flaky test),
and their number keeps the file near 30 s on a 2-core CPU.
"""

from __future__ import annotations

import math
import re
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import jinit  # noqa: E402
import jinit.keras as jk  # noqa: E402
from jinit import _dispatch  # noqa: E402

# hypothesis' failure report imports mypy_extensions, which warns on import.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)
SETTINGS = dict(deadline=None, derandomize=True, database=None)
TEMPLATE = re.compile(r"^`(?P<arg>[^`]+)` must be .+; got .+")

DTYPES = [
    "float32",
    "bfloat16",
    "float16",
    "float64",  # x64 is off: a named error
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3b11fnuz",
    "complex64",
    "int32",
    "int8",
    "uint8",
    "bool",
]
FLOATS = st.floats(-3.0, 3.0, allow_nan=False, width=32)
AXES = st.one_of(st.integers(-5, 4), st.lists(st.integers(-4, 3), max_size=2))


@st.composite
def builders(draw):
    """(initializer, the names of its builder's arguments)."""
    kind = draw(
        st.sampled_from(
            [
                "variance_scaling",
                "preset",
                "normal",
                "uniform",
                "truncated_normal",
                "orthogonal",
                "delta_orthogonal",
                "identity",
                "dirac",
                "constant",
            ]
        )
    )
    if kind == "variance_scaling":
        args = dict(
            scale=draw(st.floats(0.1, 3.0)),
            mode=draw(st.sampled_from(["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])),
            distribution=draw(
                st.sampled_from(["truncated_normal", "normal", "uniform"])
            ),
            in_axis=draw(AXES),
            out_axis=draw(AXES),
        )
        return jinit.variance_scaling(**args), set(args)
    if kind == "preset":
        name = draw(st.sampled_from(["he_normal", "glorot_uniform", "lecun_normal"]))
        return getattr(jinit, name)(), set()
    if kind == "normal":
        return jinit.normal(draw(st.floats(0.0, 2.0)), mean=draw(FLOATS)), set()
    if kind == "uniform":
        return jinit.uniform(draw(st.floats(0.0, 2.0))), set()
    if kind == "truncated_normal":
        lower = draw(st.floats(-12.0, 11.0))
        upper = lower + draw(st.floats(0.01, 6.0))
        bounds = draw(st.sampled_from(["relative", "absolute"]))
        init = jinit.truncated_normal(
            draw(st.floats(0.01, 2.0)), None, lower, upper, bounds=bounds
        )
        return init, set()
    if kind in ("orthogonal", "delta_orthogonal"):
        builder = getattr(jinit, kind)
        init = builder(
            draw(FLOATS),
            draw(st.integers(-3, 2)),
            method=draw(st.sampled_from(["qr", "wy"])),
        )
        return init, {"column_axis"}
    if kind == "identity":
        return jinit.identity(draw(FLOATS)), set()
    if kind == "dirac":
        return jinit.dirac(draw(st.integers(1, 3))), {"groups"}
    value = draw(st.one_of(FLOATS, st.integers(-3, 3), st.booleans()))
    return jinit.constant(value), {"value"}


SHAPES = st.lists(st.integers(0, 5), max_size=4).flatmap(
    lambda dims: st.sampled_from(
        [tuple(dims), list(dims), tuple(np.int64(d) for d in dims)]
    )
)

KEY_KINDS = ["threefry2x32", "rbg", "unsafe_rbg", "raw"]


def make_key(kind: str, seed: int):
    if kind == "raw":
        return jax.random.key_data(jax.random.key(seed))
    return jax.random.key(seed, impl=kind)


class _Reached(Exception):
    """The kernel was reached: every check in Python passed."""


def _call_checked_first(init, key, shape, dtype, sharding=None):
    """Calls ``init`` with the kernel replaced; returns the error raised, if any."""
    with mock.patch.object(_dispatch, "kernel", side_effect=_Reached):
        try:
            init(key, shape, dtype, sharding)
        except _Reached:
            return None
        except (ValueError, TypeError) as e:
            return e
    pytest.fail("a deterministic call returned without reaching the kernel")


def _assert_named(error: Exception, allowed: set[str]) -> None:
    match = TEMPLATE.match(str(error))
    assert match, str(error)
    arg = match.group("arg").split("[")[0].split("(")[0]
    assert arg in allowed, (arg, str(error))


CALL_ARGS = {"key", "shape", "dtype", "out_sharding"}


@settings(max_examples=70, **SETTINGS)
@given(
    built=builders(),
    shape=SHAPES,
    dtype=st.sampled_from(DTYPES),
    key_kind=st.sampled_from(KEY_KINDS),
    seed=st.integers(0, 2**31 - 1),
)
def test_every_call_returns_the_right_array_or_a_named_error(
    built, shape, dtype, key_kind, seed
):
    init, builder_args = built
    key = make_key(key_kind, seed)
    error = _call_checked_first(init, key, shape, dtype)
    if error is not None:
        _assert_named(error, CALL_ARGS | builder_args)
        return
    out = init(key, shape, dtype)
    assert out.shape == tuple(int(d) for d in shape) and out.dtype == np.dtype(dtype)
    values = np.asarray(out.astype(jnp.complex64 if out.dtype.kind == "c" else float))
    assert np.all(np.isfinite(values))
    frozen = tuple(int(d) for d in shape)
    jitted = jax.jit(lambda k: init(k, frozen, dtype))(key)
    np.testing.assert_array_equal(np.asarray(jitted), np.asarray(out))
    if key_kind in ("rbg", "unsafe_rbg"):
        return  # their bits depend on the batching, in jax.random itself
    keys = jax.random.split(key, 2)
    batched = jax.vmap(lambda k: init(k, frozen, dtype))(keys)
    for i in range(2):
        np.testing.assert_array_equal(
            np.asarray(batched[i]), np.asarray(init(keys[i], frozen, dtype))
        )


BAD_KEYS = st.sampled_from(
    [
        0,
        1.5,
        None,
        "key",
        np.zeros((3,), np.uint32),
        np.zeros((2,), np.int32),
        np.zeros((2,), np.float32),
        jax.random.split(jax.random.key(0), 2),
        np.zeros((4, 2), np.uint32),
    ]
)
BAD_SHAPES = st.sampled_from(
    [5, np.int32(4), "3", (2, -1), (2.0, 3), (True, 2), None, (2, None), {"a": 1}]
)
BAD_DTYPES = st.sampled_from(["float", "int4x", object, "float64", 3, "uint4"])


@settings(max_examples=120, **SETTINGS)
@given(
    built=builders(),
    which=st.sampled_from(["key", "shape", "dtype", "out_sharding"]),
    bad_key=BAD_KEYS,
    bad_shape=BAD_SHAPES,
    bad_dtype=BAD_DTYPES,
)
def test_a_bad_argument_is_a_named_error_before_tracing(
    built, which, bad_key, bad_shape, bad_dtype
):
    init, builder_args = built
    key, shape, dtype, sharding = jax.random.key(0), (4, 4, 4), None, None
    if which == "key":
        if not init.random:
            return  # a deterministic initializer ignores its key, as in JAX
        key = bad_key
    elif which == "shape":
        shape = bad_shape
    elif which == "dtype":
        dtype = bad_dtype
    else:
        sharding = "x"
    error = _call_checked_first(init, key, shape, dtype, sharding)
    if which in ("key", "shape", "out_sharding"):
        assert error is not None, which
        _assert_named(error, {which})
    elif error is not None:  # some dtypes are fine for constants
        _assert_named(error, CALL_ARGS | builder_args)


MESH = jax.make_mesh((2, 4), ("a", "b"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
SPECS = st.sampled_from(
    [P(), P("a"), P(None, "b"), P("b", "a"), P(("a", "b")), P("a", "b", None)]
)


@settings(max_examples=25, **SETTINGS)
@given(
    shape=st.lists(st.sampled_from([1, 2, 4, 6, 8]), min_size=1, max_size=3).map(tuple),
    spec=SPECS,
    name=st.sampled_from(["he_normal", "orthogonal", "zeros", "uniform"]),
)
def test_a_sharding_is_honoured_or_a_named_error(shape, spec, name):
    init = getattr(jinit, name)
    init = init if isinstance(init, jinit.Constant) else init()
    sharding = NamedSharding(MESH, spec)
    key = jax.random.key(1)
    error = _call_checked_first(init, key, shape, None, sharding)
    if error is not None:
        _assert_named(error, CALL_ARGS)
        return
    out = init(key, shape, None, sharding)
    assert out.sharding.is_equivalent_to(sharding, len(shape))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(init(key, shape)))


@settings(max_examples=40, **SETTINGS)
@given(
    name=st.sampled_from(["GlorotUniform", "HeNormal", "RandomNormal", "Orthogonal"]),
    seed=st.integers(0, 2**32 - 1),
    shape=st.lists(st.integers(0, 5), min_size=2, max_size=3).map(tuple),
)
def test_jinit_keras_calls_keras_style_and_jinit_style_alike(name, seed, shape):
    init = getattr(jk, name)(seed=seed)
    raw = np.array([seed, 0], np.uint32)  # Keras' key for an int seed
    if math.prod(shape) == 0 and name == "Orthogonal":
        return
    np.testing.assert_array_equal(np.asarray(init(shape)), np.asarray(init(raw, shape)))
