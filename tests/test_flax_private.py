"""The one private Flax name jinit reads, pinned: fails loudly if Flax changes it.

``jinit.flax.linen_partitioning`` tells an ``nn.DenseGeneral`` kernel (which
Flax draws flattened, flax #3676) by the module whose method runs, read from
``flax.linen.module._context.module_stack``: flax 0.12.8 has no public accessor
(Flax's own ``linen/partitioning.py`` reads it too). jinit reads it in one
place, ``jinit.flax._partitioning.current_module``.
"""

import jax
import jax.numpy as jnp
import pytest

from jinit.flax import _partitioning

nn = pytest.importorskip("flax.linen")
pytestmark = pytest.mark.standard_promotion  # Flax layers' internals


def test_flax_still_has_the_module_stack():
    from flax.linen import module

    assert isinstance(module._context.module_stack, list)
    assert _partitioning.current_module() is None  # outside every module


def test_current_module_is_the_module_making_the_parameter():
    seen = []

    def kernel_init(key, shape, dtype=jnp.float32):
        seen.append(_partitioning.current_module())
        return jnp.zeros(shape, dtype)

    for layer in (
        nn.DenseGeneral((2, 3), kernel_init=kernel_init),
        nn.Dense(3, kernel_init=kernel_init),
    ):
        jax.eval_shape(layer.init, jax.random.key(0), jnp.ones((1, 4)))
    assert [type(m) for m in seen] == [nn.DenseGeneral, nn.Dense]
