"""``jinit.check_mesh_invariance`` on 8 simulated CPU devices."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jinit
from jinit._tree._invariance import auto_spec

S = jax.ShapeDtypeStruct
TREE = {
    "tok": S((48, 16), jnp.float32),
    "mlp": {"up": S((16, 40), jnp.bfloat16), "b": S((40,), jnp.float32)},
}
RULES = {
    "tok": jinit.normal(0.02),
    r".*/up": jinit.he_normal(),
    r".*/b": jinit.zeros,
}
MESHES = (
    jax.make_mesh((8,), ("x",)),
    jax.make_mesh(
        (2, 4), ("data", "model"), axis_types=(jax.sharding.AxisType.Auto,) * 2
    ),
)


def test_a_jinit_model_is_invariant():
    found = jinit.check_mesh_invariance(TREE, RULES, meshes=MESHES)
    assert found.ok and not found.differences
    assert found.impl == "threefry2x32" and found.leaves == 3
    assert found.layouts == ("Mesh(x=8)", "Mesh(data=2, model=4)")
    assert "ok=True" in repr(found) and "bit for bit" in repr(found)


def _ignores_its_key(key, shape, dtype):
    """Draws from NumPy's global generator: new values at every trace."""
    return jnp.asarray(np.random.default_rng().standard_normal(shape), dtype)


def test_a_leaf_that_differs_is_reported():
    rules = {**RULES, "tok": _ignores_its_key}
    found = jinit.check_mesh_invariance(TREE, rules, meshes=MESHES[:1])
    assert not found.ok
    (diff,) = found.differences
    assert diff.path == "tok" and diff.layout == "Mesh(x=8)"
    assert diff.count == diff.size == 48 * 16 and diff.max_abs > 0
    text = repr(found)
    assert "ok=False" in text and "tok: 768/768 values differ under Mesh(x=8)" in text


def test_given_shardings_are_compared_too():
    mesh = MESHES[1]
    shardings = {
        "tok": NamedSharding(mesh, P("model", "data")),
        "mlp": {"up": NamedSharding(mesh, P(None, "model")), "b": None},
    }
    found = jinit.check_mesh_invariance(TREE, RULES, shardings=[shardings])
    assert found.ok and found.layouts == ("shardings[0]",)


def test_auto_spec_places_each_mesh_axis_on_an_axis_it_divides():
    mesh = MESHES[1]  # data=2, model=4
    assert auto_spec((48, 16), mesh) == P(("data", "model"), None)  # 48/8 > 16/4
    assert auto_spec((6, 40), mesh) == P(None, ("data", "model"))
    assert auto_spec((12, 5), mesh) == P("data", None)  # model divides neither
    assert auto_spec((3, 5), mesh) == P(None, None)  # replicated
    assert auto_spec((), mesh) == P()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`meshes` must be at least one mesh"):
        jinit.check_mesh_invariance(TREE, RULES)
    with pytest.raises(TypeError, match=r"`meshes\[0\]` must be a jax.sharding.Mesh"):
        jinit.check_mesh_invariance(TREE, RULES, meshes=[P("x")])
