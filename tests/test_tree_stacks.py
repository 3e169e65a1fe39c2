"""jinit._tree._stacks: the report's kernels of several initializers, drawn as stacks."""

import jax
import jax.numpy as jnp
import numpy as np

import jinit
from jinit._tree import _stacks

KERNELS = [
    ("a/kernel", jax.ShapeDtypeStruct((8, 8), jnp.float32)),
    ("b/kernel", jax.ShapeDtypeStruct((8, 4), jnp.float32)),
    ("c/kernel", jax.ShapeDtypeStruct((8, 8), jnp.float32)),
]


def test_stacks_group_kernels_by_shape_initializer_major():
    inits = {"o": jinit.orthogonal(), "n": jinit.normal(1.0)}
    stacks = _stacks.stacks(inits, KERNELS, seeds=3)
    assert [(s.spec, s.paths, s.shape) for s in stacks] == [
        ("o", ("a/kernel", "c/kernel"), (3, 2, 8, 8)),
        ("o", ("b/kernel",), (3, 1, 8, 4)),
        ("n", ("a/kernel", "c/kernel"), (3, 2, 8, 8)),
        ("n", ("b/kernel",), (3, 1, 8, 4)),
    ]
    assert [s.per_layer for s in stacks] == [True, True, False, False]


def test_draw_stacks_independent_layers_each_with_its_law():
    inits = {"o": jinit.orthogonal(), "n": jinit.normal(1.0)}
    key = jax.random.key(3)
    out = _stacks.draw_stacks(inits, KERNELS, 3, key)
    again = _stacks.draw_stacks(inits, KERNELS, 3, key)
    layers = []
    for spec in inits:
        for path, leaf in KERNELS:
            w = out[spec][path]
            assert w.shape == (3, *leaf.shape)
            np.testing.assert_array_equal(w, again[spec][path])  # a fixed key
            layers += list(w.reshape(3, -1))
    # every layer of every seed, kernel and initializer is its own draw
    flat = np.stack([x[:32] for x in layers])
    assert len({tuple(np.round(x, 6)) for x in flat}) == len(flat)
    for path, leaf in KERNELS:  # orthogonal per layer: W^T W = I (8 x 4: columns)
        for w in out["o"][path]:
            np.testing.assert_allclose(w.T @ w, np.eye(leaf.shape[1]), atol=1e-5)
