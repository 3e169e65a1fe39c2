"""Bad input: a ValueError/TypeError naming the argument, before anything is traced."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit

KEY = jax.random.key(0)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (
            lambda: jinit.variance_scaling(1.0, "fanin", "normal"),
            ValueError,
            r"`mode` must be one of 'fan_in', .*got 'fanin'\. Did you mean 'fan_in'\?",
        ),
        (
            lambda: jinit.variance_scaling(1.0, "fan_in", "gaussian"),
            ValueError,
            "`distribution` must be one of 'truncated_normal', 'normal', 'uniform'",
        ),
        (
            lambda: jinit.variance_scaling(-1.0, "fan_in", "normal"),
            ValueError,
            "`scale` must be a positive number; got -1.0",
        ),
        (
            lambda: jinit.variance_scaling(0.0, "fan_in", "normal"),
            ValueError,
            "`scale` must be a positive number",
        ),
        (
            lambda: jinit.variance_scaling("2", "fan_in", "normal"),
            TypeError,
            "`scale` must be a real number",
        ),
        (
            lambda: jinit.variance_scaling(float("nan"), "fan_in", "normal"),
            ValueError,
            "`scale` must be a finite number",
        ),
        (
            lambda: jinit.variance_scaling(1.0, "fan_in", "normal", in_axis="0"),
            TypeError,
            "`in_axis` must be an int or a sequence of ints",
        ),
        (lambda: jinit.normal(-0.1), ValueError, "`stddev` must be a non-negative"),
        (lambda: jinit.uniform(-0.1), ValueError, "`scale` must be a non-negative"),
        (lambda: jinit.truncated_normal(-1.0), ValueError, "`stddev` must be"),
        (
            lambda: jinit.truncated_normal(1.0, None, 2.0, 2.0),
            ValueError,
            r"`lower` must be less than `upper` \(2.0\); got 2.0",
        ),
        (
            lambda: jinit.truncated_normal(1.0, None, 3.0, -1.0),
            ValueError,
            "`lower` must be less than `upper`",
        ),
        (
            lambda: jinit.truncated_normal(1.0, bounds="abs"),
            ValueError,
            "`bounds` must be one of 'relative', 'absolute'",
        ),
        (
            lambda: jinit.truncated_normal(0.0, bounds="absolute"),
            ValueError,
            "`stddev` must be a positive number",
        ),
        (
            lambda: jinit.he_normal(dtype=jnp.int32),
            TypeError,
            "`dtype` must be a floating or complex dtype",
        ),
        (
            lambda: jinit.he_normal(dtype="not-a-dtype"),
            TypeError,
            "`dtype` must be a NumPy/JAX dtype",
        ),
        (
            lambda: jinit.orthogonal(column_axis=1.5),
            TypeError,
            "`column_axis` must be an int",
        ),
        (lambda: jinit.dirac(groups=0), ValueError, "`groups` must be a positive int"),
        (
            lambda: jinit.dirac(even_tap="middle"),
            ValueError,
            "`even_tap` must be one of 'low', 'high'",
        ),
        (lambda: jinit.constant("a"), TypeError, "`value` must be a number"),
    ],
)
def test_builder_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: jinit.he_normal()(0, (3, 3)),
            TypeError,
            "`key` must be a PRNG key made by jax.random.key",
        ),
        (lambda: jinit.he_normal()("seed", (3, 3)), TypeError, "`key` must be a PRNG"),
        (
            lambda: jinit.he_normal()(jnp.zeros((3,), jnp.uint32), (3, 3)),
            TypeError,
            r"a raw key is uint32 of shape \(2,\)",
        ),
        (
            lambda: jinit.he_normal()(jnp.zeros((2,), jnp.int32), (3, 3)),
            TypeError,
            "`key` must be a PRNG key",
        ),
        (
            lambda: jinit.he_normal()(jax.random.split(KEY, 2), (3, 3)),
            ValueError,
            "`key` must be a single key .*use jax.vmap",
        ),
        (
            lambda: jinit.he_normal()(jax.random.PRNGKey(0)[None], (3, 3)),
            ValueError,
            "`key` must be a single key",
        ),
        (
            lambda: jinit.he_normal()(KEY, (3, -1)),
            ValueError,
            "`shape` must be a tuple of non-negative ints",
        ),
        (
            lambda: jinit.he_normal()(KEY, 3),
            TypeError,
            r"`shape` must be a tuple of ints, e.g. \(3,\)",
        ),
        (
            lambda: jinit.he_normal()(KEY, (3.0, 2)),
            TypeError,
            "`shape` must be a tuple of static Python ints",
        ),
        (
            lambda: jinit.he_normal()(KEY, (3, 3), jnp.int8),
            TypeError,
            "`dtype` must be a floating or complex dtype",
        ),
        (lambda: jinit.normal()(KEY, (3, 3), jnp.bool_), TypeError, "`dtype` must be"),
        (
            lambda: jinit.normal()(KEY, (3, 3), jnp.float8_e8m0fnu),
            ValueError,
            "`dtype` must be a signed floating dtype",
        ),
        (
            lambda: jinit.normal()(KEY, (3, 3), jnp.float64),
            ValueError,
            "needs jax.config.update\\('jax_enable_x64', True\\)",
        ),
        (
            lambda: jinit.uniform()(KEY, (3, 3), jnp.complex64),
            TypeError,
            "`dtype` must be a real floating dtype for uniform",
        ),
        (
            lambda: jinit.truncated_normal()(KEY, (3,), jnp.complex64),
            TypeError,
            "`dtype` must be a real floating dtype for truncated_normal",
        ),
        (
            lambda: jinit.he_normal(in_axis=2)(KEY, (3, 3)),
            ValueError,
            r"`in_axis` must be an axis in \[-2, 2\) for a 2-D shape; got 2",
        ),
        (
            lambda: jinit.he_normal(in_axis=0, out_axis=0)(KEY, (3, 3)),
            ValueError,
            "must be disjoint sets of axes",
        ),
        (
            lambda: jinit.orthogonal()(KEY, (5,)),
            ValueError,
            r"`shape` must be at least 2-D for orthogonal; got \(5,\)",
        ),
        (
            lambda: jinit.orthogonal(column_axis=2)(KEY, (5, 4)),
            ValueError,
            "`column_axis` must be an axis in",
        ),
        (
            lambda: jinit.delta_orthogonal()(KEY, (3, 3)),
            ValueError,
            "`shape` must be 3-D, 4-D or 5-D",
        ),
        (
            lambda: jinit.delta_orthogonal()(KEY, (3, 3, 8, 4)),
            ValueError,
            r"in_features <= out_features",
        ),
        (
            lambda: jinit.identity()(KEY, (4,)),
            ValueError,
            "`shape` must be at least 2-D",
        ),
        (
            lambda: jinit.dirac(groups=3)(KEY, (3, 3, 4, 8)),
            ValueError,
            r"`groups` must be a divisor of out_features \(8\); got 3",
        ),
        (lambda: jinit.dirac()(KEY, (3, 3)), ValueError, "`shape` must be 3-D, 4-D"),
        (
            lambda: jinit.constant(np.ones(3))(KEY, (4, 4)),
            ValueError,
            r"`value` must be broadcastable to the shape \(4, 4\)",
        ),
        (
            lambda: jinit.constant(0.5)(KEY, (2,), jnp.int32),
            ValueError,
            "`value` must be exactly representable in dtype int32",
        ),
        (
            lambda: jinit.constant(1j)(KEY, (2,)),
            TypeError,
            "`value` must be a real value for dtype float32",
        ),
        (
            lambda: jinit.he_normal()(KEY, (3, 3), None, "x"),
            TypeError,
            "`out_sharding` must be None, a jax.sharding.Sharding or a PartitionSpec",
        ),
    ],
)
def test_call_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_errors_are_raised_before_tracing():
    """Inside jit, bad static input is still a Python error, not an XLA one."""
    with pytest.raises(ValueError, match="`in_axis` must be an axis"):
        jax.jit(lambda k: jinit.he_normal(in_axis=5)(k, (3, 3)))(KEY)
    with pytest.raises(TypeError, match="`scale` must be a concrete number"):
        jax.jit(lambda s: jinit.variance_scaling(s, "fan_in", "normal"))(1.0)


def test_float64_works_under_x64(x64):
    assert jinit.normal()(KEY, (3,), jnp.float64).dtype == jnp.float64
    assert jinit.normal()(KEY, (3,)).dtype == jnp.float64  # x64's default float


@pytest.mark.parametrize(
    "build, hint",
    [
        # The opposite law is one letter pair away: say what jinit's "normal" is.
        (
            lambda: jinit.variance_scaling(1.0, "fan_in", "untruncated_normal"),
            "Did you mean 'normal'? (jinit's 'normal' is untruncated.)",
        ),
        # A case-insensitive match comes before the closest spelling ('selu').
        (lambda: jinit.torch.calculate_gain("Relu"), "Did you mean 'relu'?"),
        (
            lambda: jinit.torch.calculate_gain("LEAKY_RELU"),
            "Did you mean 'leaky_relu'?",
        ),
        (lambda: jinit.variance_scaling(1.0, "FAN_OUT", "normal"), "'fan_out'?"),
    ],
)
def test_hints_point_the_right_way(build, hint):
    import jinit.torch  # noqa: F401

    with pytest.raises(ValueError) as info:
        build()
    assert str(info.value).endswith(hint)


def test_a_hint_is_one_closest_choice_or_none():
    with pytest.raises(ValueError) as info:
        jinit.variance_scaling(1.0, "fan_in", "zzzz")
    assert "Did you mean" not in str(info.value)


@pytest.mark.parametrize("spec_of", ["named", "bare"])
def test_a_partition_spec_longer_than_the_rank_is_refused(spec_of):
    from jax.sharding import NamedSharding, PartitionSpec

    mesh = jax.make_mesh((2, 4), ("a", "b"))
    spec = PartitionSpec("a", "b", None)
    sharding = NamedSharding(mesh, spec) if spec_of == "named" else spec
    with jax.set_mesh(mesh):
        with pytest.raises(ValueError, match=r"`out_sharding` must be a Partitio"):
            jinit.he_normal()(KEY, (8, 4), out_sharding=sharding)
        with pytest.raises(ValueError, match="at most 1 entries"):
            jinit.normal()(KEY, (8,), out_sharding=sharding)


@pytest.mark.parametrize("axis_type", ["Explicit", "Auto"])
def test_a_sharding_that_does_not_divide_the_shape_is_refused(axis_type):
    """Auto axes silently replicated a (7, 3) leaf split 8 ways; Explicit raised raw."""
    from jax.sharding import AxisType, NamedSharding, PartitionSpec

    mesh = jax.make_mesh((8,), ("x",), axis_types=(getattr(AxisType, axis_type),))
    sharding = NamedSharding(mesh, PartitionSpec("x"))
    with pytest.raises(ValueError, match="`out_sharding` must be a sharding whose"):
        jinit.he_normal()(KEY, (7, 3), out_sharding=sharding)
    out = jinit.he_normal()(KEY, (8, 3), out_sharding=sharding)
    assert out.sharding.is_equivalent_to(sharding, 2)
