"""Uniform laws with bounds other than 0: the bits of an eager
``jax.random.uniform`` call (and so of Keras' ``RandomUniform``), for bounds
where XLA's folding of constant bounds is 1 ulp off on every element."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jinit
import jinit.keras as jk

keras = pytest.importorskip("keras")

# (-0.3, 0.7) is the case found off by one ulp; the others are controls.
BOUNDS = [(-0.3, 0.7), (-1.7, 2.9), (0.1, 0.35), (-0.05, 0.05)]


@pytest.mark.parametrize("bounds", BOUNDS)
def test_core_uniform_is_an_eager_jax_random_uniform(bounds):
    lo, hi = bounds
    key = jax.random.key(11)
    want = np.asarray(jax.random.uniform(key, (48, 40), minval=lo, maxval=hi))
    got = jinit.Uniform(lo, hi)(key, (48, 40))
    np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize("bounds", BOUNDS)
def test_keras_random_uniform_is_keras(bounds):
    lo, hi = bounds
    ours = jk.RandomUniform(minval=lo, maxval=hi, seed=5)((40, 24))
    theirs = keras.initializers.RandomUniform(minval=lo, maxval=hi, seed=5)((40, 24))
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
