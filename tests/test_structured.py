"""orthogonal, delta_orthogonal, identity, dirac; and the constant fills."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit

KEY = jax.random.key(0)


@pytest.mark.parametrize(
    "shape, column_axis",
    [((64, 64), -1), ((64, 32), -1), ((32, 64), -1), ((4, 6, 8), 0)],
)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
def test_orthogonal_is_orthonormal(shape, column_axis, dtype):
    q = jinit.orthogonal(2.0, column_axis)(KEY, shape, dtype)
    m = np.moveaxis(np.asarray(q, np.complex128), column_axis, -1).reshape(
        -1, shape[column_axis]
    )
    small = min(m.shape)
    gram = m.conj().T @ m if m.shape[0] >= m.shape[1] else m @ m.conj().T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-4)


def test_orthogonal_bfloat16_is_rounded_float32():
    q = jinit.orthogonal()(KEY, (128, 128), jnp.bfloat16)
    q32 = jinit.orthogonal()(KEY, (128, 128))
    np.testing.assert_array_equal(q, q32.astype(jnp.bfloat16))
    m = np.asarray(q, np.float64)
    assert np.abs(m.T @ m - np.eye(128)).max() < 0.05  # bf16 has 8 mantissa bits


def test_delta_orthogonal_centre_tap():
    w = np.asarray(jinit.delta_orthogonal()(KEY, (3, 5, 8, 16)))
    centre = w[1, 2]
    np.testing.assert_allclose(centre @ centre.T, np.eye(8), atol=1e-5)
    mask = np.ones((3, 5), bool)
    mask[1, 2] = False
    assert np.all(w[mask] == 0)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (2, 3, 4)])
def test_identity(shape):
    w = jinit.identity(0.5)(None, shape)
    np.testing.assert_array_equal(w, np.broadcast_to(0.5 * np.eye(*shape[-2:]), shape))


@pytest.mark.parametrize("spatial", [(3,), (3, 3), (4, 4), (2, 3, 4)])
@pytest.mark.parametrize("groups", [1, 2])
def test_dirac_is_the_identity_convolution_with_same_padding(spatial, groups):
    """With XLA/Flax 'SAME' padding the default tap makes conv(x) == x."""
    channels = 4
    w = jinit.dirac(groups)(KEY, (*spatial, channels // groups, channels))
    x = jax.random.normal(jax.random.key(1), (2, *(5 for _ in spatial), channels))
    dims = "NHWC"[:1] + "DHW"[3 - len(spatial) :] + "C"
    kernel_dims = "DHW"[3 - len(spatial) :] + "IO"
    y = jax.lax.conv_general_dilated(
        x,
        w,
        (1,) * len(spatial),
        "SAME",
        dimension_numbers=(dims, kernel_dims, dims),
        feature_group_count=groups,
    )
    np.testing.assert_array_equal(y, x)


def test_dirac_even_tap_high_is_pytorchs_centre():
    w = np.asarray(jinit.dirac(even_tap="high")(None, (4, 2, 2)))
    assert w[2, 0, 0] == 1 and w[2, 1, 1] == 1 and w.sum() == 2


def test_dirac_more_outputs_than_inputs():
    w = np.asarray(jinit.dirac()(None, (1, 2, 3)))[0]
    np.testing.assert_array_equal(w, [[1, 0, 0], [0, 1, 0]])


def test_constants():
    np.testing.assert_array_equal(
        jinit.zeros(None, (2, 3)), np.zeros((2, 3), np.float32)
    )
    np.testing.assert_array_equal(
        jinit.ones(KEY, (2,), jnp.int32), np.ones(2, np.int32)
    )
    np.testing.assert_array_equal(
        jinit.constant(-0.25)(KEY, (3,), jnp.bfloat16),
        np.full(3, -0.25, jnp.bfloat16),
    )
    row = jinit.constant([1.0, 2.0, 3.0])(KEY, (2, 3))
    np.testing.assert_array_equal(row, np.array([[1, 2, 3], [1, 2, 3]], np.float32))
    assert jinit.constant(0.1)(KEY, (1,), jnp.bfloat16)[0] == jnp.bfloat16(0.1)
    assert jinit.constant(True)(KEY, (2,), jnp.bool_).dtype == jnp.bool_
    assert hash(jinit.constant([1.0, 2.0])) == hash(jinit.constant([1.0, 2.0]))


def test_configs_are_values():
    a, b = jinit.he_normal(), jinit.variance_scaling(2.0, "fan_in", "truncated_normal")
    assert a == b and hash(a) == hash(b)
    assert repr(a).startswith("VarianceScaling(scale=2.0, mode='fan_in'")
    assert jinit.he_normal(dtype=jnp.bfloat16).get_config()["dtype"] == "bfloat16"
    assert isinstance(a, jinit.Initializer)


def test_negative_zero_is_not_zero():
    """-0.0 == 0.0 as floats, but a fill with -0.0 must not reuse 0.0's kernel."""
    assert not np.signbit(jinit.constant(0.0)(KEY, (2,))).any()
    assert np.signbit(jinit.constant(-0.0)(KEY, (2,))).all()
    tree = {"a": jax.ShapeDtypeStruct((3,), jnp.float32)}
    tree["b"] = tree["a"]
    rules = {"a": jinit.constant(0.0), "b": jinit.constant(-0.0)}
    out = jinit.materialize(tree, KEY, rules)
    assert not np.signbit(out["a"]).any() and np.signbit(out["b"]).all()
