"""Parity with the installed jax.nn.initializers: the same key gives the same values.

JAX's own eager and jitted calls differ by up to 2 ulp for some initializers
(XLA fuses the scaling into the sampler and contracts to FMAs differently), so
jinit must be within 2 ulp of both; for most rows it is bit-identical.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ulp_distance
from registry import WITH_JAX

KEYS = {
    "typed": lambda seed: jax.random.key(seed),
    "raw": lambda seed: jax.random.PRNGKey(seed),
}


def _check(row, dtype, shapes):
    ours_init, theirs_init = row.ours(), row.theirs()
    for i, shape in enumerate(shapes):
        theirs_jit = jax.jit(lambda k, s=shape: theirs_init(k, s, dtype))
        # A raw key is wrapped once at the entry, whatever the shape: it is checked
        # on the first shape (each shape is a new compile of both libraries' draws).
        styles = KEYS.items() if i == 0 else list(KEYS.items())[:1]
        for (style, make), seed in zip(styles, (0, 1234567), strict=False):
            key = make(seed)
            ours = ours_init(key, shape, dtype)
            eager = theirs_init(key, shape, dtype)
            jitted = theirs_jit(key)
            assert ours.dtype == eager.dtype and ours.shape == eager.shape
            d_eager = ulp_distance(ours, eager)
            d_jit = ulp_distance(ours, jitted)
            assert d_eager <= 2 and d_jit <= 2, (shape, style, seed, d_eager, d_jit)


@pytest.mark.standard_promotion  # JAX's own initializers mix weak types
@pytest.mark.parametrize("row", WITH_JAX, ids=repr)
def test_float32_parity(row):
    _check(row, jnp.float32, row.shapes)


@pytest.mark.standard_promotion
@pytest.mark.parametrize("row", WITH_JAX, ids=repr)
def test_float64_parity(row, x64):
    _check(row, jnp.float64, row.shapes[:1])


@pytest.mark.standard_promotion
def test_most_rows_are_bit_identical():
    """Not only within 2 ulp: the truncated normal and uniform laws are JAX's bits."""
    key = jax.random.key(3)
    for name in ["he_normal", "glorot_uniform", "lecun_normal", "orthogonal"]:
        import jinit

        ours = getattr(jinit, name)()(key, (128, 64))
        theirs = getattr(jax.nn.initializers, name)()(key, (128, 64))
        np.testing.assert_array_equal(ours, theirs)


def test_every_public_name_of_jax_nn_initializers():
    import jinit

    names = [n for n in dir(jax.nn.initializers) if not n.startswith("_")]
    assert "variance_scaling" in names and "Initializer" in names
    missing = [n for n in names if not hasattr(jinit, n)]
    assert not missing, missing
