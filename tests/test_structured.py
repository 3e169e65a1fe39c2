"""orthogonal, delta_orthogonal, identity, dirac; and the constant fills."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from helpers import assert_moments
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

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


# ----------------------------------------------------------------------------
# orthogonal(method="wy"): orthonormal, the QR factor of a Gaussian matrix, Haar.

WY = jinit.orthogonal(method="wy")


def _orthogonality_error(q, column_axis=-1):
    """||M^H M - I||_2 in float64, M the matrix of q with orthonormal columns."""
    cols = q.shape[column_axis]
    wide = np.complex128 if jnp.iscomplexobj(q) else np.float64
    m = np.moveaxis(np.asarray(q, wide), column_axis, -1).reshape(-1, cols)
    if m.shape[0] < m.shape[1]:
        m = m.T  # orthonormal rows: the transpose has orthonormal columns
    return float(np.abs(np.linalg.eigvalsh(m.conj().T @ m - np.eye(m.shape[1]))).max())


@pytest.mark.parametrize(
    "shape, column_axis",
    [
        ((1024, 1024), -1),
        ((1024, 256), -1),  # tall
        ((256, 1024), -1),  # wide: orthonormal rows
        ((512, 128), 0),  # wide along column_axis=0
        ((4, 6, 64), 0),  # 384 x 4
        ((3, 3, 64, 128), -1),  # a conv kernel: 576 x 128
    ],
)
def test_wy_is_orthonormal_in_float32(shape, column_axis):
    q = jinit.orthogonal(column_axis=column_axis, method="wy")(KEY, shape)
    assert q.shape == shape and q.dtype == jnp.float32
    assert _orthogonality_error(q, column_axis) <= 1e-5


@pytest.mark.parametrize("shape", [(256, 256), (300, 100), (100, 300)])
def test_wy_complex64_is_unitary_and_scaled(shape):
    q = jinit.orthogonal(2.0, method="wy")(KEY, shape, jnp.complex64)
    assert q.dtype == jnp.complex64 and np.abs(np.imag(q)).max() > 0.01
    assert _orthogonality_error(q / 2) <= 1e-5  # / 2 is exact


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.complex128])
def test_wy_float64_is_orthonormal_to_1e_12(x64, dtype):
    for shape in [(256, 256), (300, 100)]:
        q = WY(KEY, shape, dtype)
        assert q.dtype == dtype
        assert _orthogonality_error(q) <= 1e-12


def test_wy_narrow_floats_are_the_float32_matrix_rounded_once():
    q32 = WY(KEY, (128, 64))
    for dtype in (jnp.bfloat16, jnp.float16):
        np.testing.assert_array_equal(WY(KEY, (128, 64), dtype), q32.astype(dtype))


def test_wy_eager_jit_vmap_sharded_identical():
    """Same bits eagerly, in a jit, under vmap over keys and sharded (on CPU)."""
    keys = jax.random.split(jax.random.key(7), 3)
    for shape in [(64, 32), (3, 3, 16, 32), (5, 7)]:
        eager = [WY(k, shape) for k in keys]
        jitted = jax.jit(lambda k, s=shape: WY(k, s))
        batched = jax.vmap(lambda k, s=shape: WY(k, s))(keys)
        for i, k in enumerate(keys):
            np.testing.assert_array_equal(jitted(k), eager[i])
            np.testing.assert_array_equal(batched[i], eager[i])
    sharding = NamedSharding(jax.make_mesh((2, 4), ("a", "b")), P("a", "b"))
    for dtype in (jnp.float32, jnp.complex64):
        out = WY(keys[0], (64, 32), dtype, out_sharding=sharding)
        assert out.sharding.is_equivalent_to(sharding, 2)
        np.testing.assert_array_equal(out, WY(keys[0], (64, 32), dtype))


def test_wy_is_its_own_configuration():
    assert WY == jinit.orthogonal(method="wy") and WY != jinit.orthogonal()
    assert repr(WY) == "Orthogonal(scale=1.0, column_axis=-1, dtype=None, method='wy')"
    assert WY.get_config()["method"] == "wy"
    assert jinit.orthogonal().method == "qr"  # the default: JAX's values
    # Its own kernel (the method is in the jit cache key): other values, same key.
    assert not np.array_equal(WY(KEY, (16, 16)), jinit.orthogonal()(KEY, (16, 16)))
    w = np.asarray(jinit.delta_orthogonal(method="wy")(KEY, (3, 3, 16, 32)))
    assert np.all(w[[0, 0, 0, 1, 1, 2, 2, 2], [0, 1, 2, 0, 2, 0, 1, 2]] == 0)
    assert _orthogonality_error(w[1, 1]) <= 1e-5


@pytest.mark.parametrize("builder", [jinit.orthogonal, jinit.delta_orthogonal])
def test_an_unknown_method_is_refused_when_built(builder):
    with pytest.raises(ValueError, match="`method` must be one of 'qr', 'wy'; got"):
        builder(method="cholesky")
    with pytest.raises(ValueError, match="Did you mean 'qr'"):
        builder(method="qrr")


# Stewart's algorithm in NumPy, one reflection at a time, batched over axis 0.


def _reflectors(x):
    """The vectors v_k of the reflections of Stewart's algorithm, and the phases."""
    vs, phases = [], []
    for k in range(x.shape[2]):
        v = x[:, :, k].copy()
        v[:, :k] = 0
        a = v[:, k]
        phase = np.where(a == 0, 1, a / np.where(a == 0, 1, np.abs(a)))
        v[:, k] += phase * np.linalg.norm(v, axis=1)
        vs.append(v)
        phases.append(phase)
    return vs, np.stack(phases, axis=1)


def _reflect(v, y):
    """H(v) y = y - 2 v (v^H y) / (v^H v), batched; y is (B, n, c)."""
    vy = np.einsum("bi,bic->bc", v.conj(), y)
    vv = np.einsum("bi,bi->b", v.conj(), v).real
    return y - 2 * v[:, :, None] * (vy / vv[:, None])[:, None, :]


def _stewart(x, signed=True):
    """H_1 ... H_m [I; 0] D, the reflections made from x (B, n, m), one by one."""
    vs, phases = _reflectors(x)
    q = np.broadcast_to(np.eye(*x.shape[1:], dtype=x.dtype), x.shape)
    for v in reversed(vs):
        q = _reflect(v, q)
    return q * -phases[:, None, :] if signed else q


def _gaussian_of(x):
    """G' whose Householder QR makes Stewart's reflections: G'[:, k] = H_1...H_{k-1} x_k.

    G' is Gaussian when x is: column k is an orthogonal map, fixed by the
    columns before it, of the independent Gaussian column x[:, k].
    """
    vs, _ = _reflectors(x)
    g = np.empty_like(x)
    for k in range(x.shape[2]):
        col = x[:, :, k : k + 1]
        for v in reversed(vs[:k]):
            col = _reflect(v, col)
        g[:, :, k] = col[:, :, 0]
    return g


def _qr_positive(g):
    """The QR factor with the phases of R's diagonal folded in (Mezzadri 2007)."""
    q, r = np.linalg.qr(g)
    d = np.diagonal(r, axis1=-2, axis2=-1)
    return q * (d / np.abs(d))[:, None, :]


def _draws(init, n, count, dtype=jnp.float32, seed=2024):
    keys = jax.random.split(jax.random.key(seed), count)
    q = jax.vmap(lambda k: init(k, (n, n), dtype))(keys)
    # The "wy" method's Gaussian: the "qr" method's, (rows, cols) here.
    g = jax.vmap(lambda k: jax.random.normal(k, (n, n), dtype))(keys)
    wide = np.complex128 if jnp.issubdtype(dtype, jnp.complexfloating) else np.float64
    return np.asarray(q, wide), np.asarray(g, wide)


@pytest.mark.parametrize(
    "n, m, dtype", [(64, 64, "float32"), (96, 40, "float32"), (48, 48, "complex64")]
)
def test_wy_is_the_qr_factor_of_a_gaussian_matrix(n, m, dtype):
    """The same map as QR: Q is the positive-diagonal QR factor of G', a Gaussian."""
    key = jax.random.key(3)
    ours = np.asarray(WY(key, (n, m), dtype))
    x = np.asarray(jax.random.normal(key, (n, m), dtype))[None].astype(
        np.complex128 if dtype == "complex64" else np.float64
    )
    # float32 rounding of Q is ~1e-7; a different function of G would be O(1) off.
    np.testing.assert_allclose(ours, _stewart(x)[0], atol=2e-6)
    np.testing.assert_allclose(ours, _qr_positive(_gaussian_of(x))[0], atol=2e-6)


def test_wy_is_the_qr_factor_in_float64(x64):
    key = jax.random.key(4)
    ours = np.asarray(WY(key, (80, 50), jnp.float64))
    x = np.asarray(jax.random.normal(key, (80, 50), jnp.float64))[None]
    np.testing.assert_allclose(ours, _qr_positive(_gaussian_of(x))[0], atol=1e-13)


def test_the_gaussian_of_the_reflections_is_standard_normal():
    """G' (whose QR factor Q is) has i.i.d. N(0, 1) entries: KS over 2000 x 8 x 8."""
    _, g = _draws(WY, 8, 2000)
    result = scipy.stats.kstest(_gaussian_of(g).ravel(), scipy.stats.norm.cdf)
    assert result.pvalue > 1e-3, result


def _haar_failures(q):
    """The statistics of Haar O(n) that N matrices q (N, n, n) fail.

    - entries: one entry per matrix (so they are independent), at a position
      that cycles over the matrix; a column of a Haar matrix is uniform on the
      sphere, so (q_ij + 1) / 2 ~ Beta((n-1)/2, (n-1)/2). KS, p > 1e-3.
    - det: +1 and -1 equally likely; |fraction - 1/2| <= 5 sigma.
    - trace (n >= 8): mean 0, variance 1, kurtosis 3 (the moments of tr Q up
      to order n/2 are those of N(0, 1); Diaconis & Shahshahani 1994).
    - angle (n = 3): det(Q) Q is a uniform rotation, whose angle theta has the
      density (1 - cos theta) / pi on [0, pi]. KS, p > 1e-3.
    """
    count, n, _ = q.shape
    failures = []
    i = np.arange(count)
    entries = q[i, i % n, (i // n) % n]
    law = scipy.stats.beta((n - 1) / 2, (n - 1) / 2, loc=-1, scale=2)
    if scipy.stats.kstest(entries, law.cdf).pvalue <= 1e-3:
        failures.append("entries")
    det = np.linalg.det(q)
    if abs(np.mean(det > 0) - 0.5) > 5 * 0.5 / math.sqrt(count):
        failures.append("det")
    if n >= 8:
        try:
            assert_moments(np.trace(q, axis1=1, axis2=2), 0.0, 1.0, 3.0)
        except AssertionError:
            failures.append("trace")
    if n == 3:
        rotation = q * det[:, None, None]
        cos = (np.trace(rotation, axis1=1, axis2=2) - 1) / 2
        theta = np.arccos(np.clip(cos, -1, 1))
        cdf = lambda t: (t - np.sin(t)) / np.pi  # noqa: E731
        if scipy.stats.kstest(theta, cdf).pvalue <= 1e-3:
            failures.append("angle")
    return failures


@pytest.mark.parametrize("n", [3, 8])
def test_wy_is_haar_and_the_statistics_catch_what_is_not(n):
    count = 20_000
    q, g = _draws(WY, n, count)
    assert _haar_failures(q) == []
    assert _haar_failures(_draws(jinit.orthogonal(), n, count, seed=1)[0]) == []
    # Biased variants of the same construction, each caught:
    # the column signs D left out (as QR without Mezzadri's fix) ...
    unsigned = q * -_reflectors(g)[1][:, None, :]  # D^-1 = D
    assert {"entries", "det"} <= set(_haar_failures(unsigned))
    assert {"entries", "det"} <= set(_haar_failures(np.linalg.qr(g)[0]))
    # ... reflections of a uniform, not rotation-invariant, matrix ...
    u = jax.random.uniform(jax.random.key(5), (count, n, n), minval=-1, maxval=1)
    assert "entries" in _haar_failures(_stewart(np.asarray(u, np.float64)))
    # ... and SO(n) instead of O(n).
    rotations = q.copy()
    rotations[np.linalg.det(q) < 0, :, 0] *= -1
    assert _haar_failures(rotations) == ["det"]
    if n == 8:  # and the law of tr Q is that of the QR method (two-sample KS)
        qr, _ = _draws(jinit.orthogonal(), n, count, seed=3)
        trace = lambda a: np.trace(a, axis1=1, axis2=2)  # noqa: E731
        assert scipy.stats.ks_2samp(trace(q), trace(qr)).pvalue > 1e-3


def test_wy_complex_is_haar_on_the_unitary_group():
    """|q_ij|^2 ~ Beta(1, n - 1), arg q_ij uniform, E |tr Q|^2 = 1 (Var 1)."""
    n, count = 4, 20_000
    q, g = _draws(WY, n, count, jnp.complex64)

    def failures(q):
        i = np.arange(count)
        entries = q[i, i % n, (i // n) % n]
        out = []
        modulus, phase = (
            scipy.stats.beta(1, n - 1),
            scipy.stats.uniform(-np.pi, 2 * np.pi),
        )
        if scipy.stats.kstest(np.abs(entries) ** 2, modulus.cdf).pvalue <= 1e-3:
            out.append("modulus")
        if scipy.stats.kstest(np.angle(entries), phase.cdf).pvalue <= 1e-3:
            out.append("phase")
        power = np.abs(np.trace(q, axis1=1, axis2=2)) ** 2
        if abs(power.mean() - 1) > 5 / math.sqrt(count):
            out.append("trace")
        return out

    assert failures(q) == []
    # The phases D left out: q_00 = -|x_00| / ||x_0|| is real and negative.
    assert "phase" in failures(q * -_reflectors(g)[1][:, None, :].conj())


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
