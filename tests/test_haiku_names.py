"""``jinit.haiku.defaults`` on layers and parameters named as the docs do not.

On :func:`jinit.haiku.abstract` trees every parameter gets the initializer its
module declared, whatever the names: a Linear named ``"w"`` or ``"b"``, a
parameter ``"scale"`` or ``"embeddings"`` of one's own with its own init.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

hk = pytest.importorskip("haiku")

import jinit  # noqa: E402
import jinit.haiku as jh  # noqa: E402
from jinit._signature import signature_of  # noqa: E402


def forward(x):
    for name in ("w", "b", "scale", "embeddings", "w_i", "offset"):
        x = hk.Linear(16, name=name)(x)
    hk.get_parameter("scale", (16,), init=hk.initializers.Constant(0.5))
    hk.get_parameter("embeddings", (16,), init=jnp.zeros)
    hk.get_parameter("gate", (16,), init=hk.initializers.RandomNormal(0.1))
    return x


def test_every_leaf_gets_its_declared_initializer():
    tree = jh.abstract(forward, jnp.ones((2, 8)))
    leaves = {r["path"]: r for r in jinit.flax.table(tree, jh.defaults("haiku"))}
    flat = jax.tree_util.tree_leaves_with_path(tree)
    assert len(leaves) == len(flat) == 15
    for path, leaf in flat:
        key = "/".join(k.key for k in path)  # type: ignore[attr-defined]
        assert leaves[key]["init"] == signature_of(leaf).init, key
