"""Every preset on models whose modules have names the docs do not use.

The presets decide some laws by name (a recurrent cell's ``h``/``i``/``hf``
layers, attention's ``query``/``out``). On :func:`jinit.flax.abstract` trees a
layer named like a cell's but outside any cell, or a projection named like
attention's outside attention, must get its module's law: here every such
Dense must get exactly the law of a plainly named Dense of the same shape, under
every preset (``jinit.flax.defaults(f)`` for each framework, and
``jinit.flax.declared()``), in linen and nnx, plain and ``nn.scan``-stacked. A
parameter of the user's own that no rule covers must raise, naming it: never a
silent default. (Issue #23's "Done when"; the registries of every Flax module
under its own names are in ``test_flax_signatures.py``.)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import pytest

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402

pytestmark = pytest.mark.standard_promotion  # Flax layers' internals

#: Names the presets read as recurrent kernels, input kernels, forget-gate
#: biases and attention projections, given to plain Dense layers here.
CELL_LIKE = ("h", "hh", "hf", "hn", "dense_h", "i", "ii", "ih", "dense_i", "if")
ATTENTION_LIKE = ("query", "key", "value", "out")
NAMES = CELL_LIKE + ATTENTION_LIKE
D = 24
X = jnp.ones((2, D))
PRESETS = {f: jf.defaults(f) for f in jf.FRAMEWORKS} | {
    "declared": {".*": jf.declared()}
}


class Misnamed(nn.Module):
    own: bool = False

    @nn.compact
    def __call__(self, x, _=None):
        for name in NAMES:
            x = nn.Dense(D, name=name)(x)
        x = nn.Dense(D, name="reference")(x)
        if self.own:
            self.param("gate", nn.initializers.ones, (D,))
        return x, None


class MisnamedNNX(nnx.Module):
    def __init__(self, rngs):
        for name in NAMES:
            setattr(self, name, nnx.Linear(D, D, rngs=rngs))
        self.reference = nnx.Linear(D, D, rngs=rngs)


def _scanned():
    return nn.scan(
        Misnamed, variable_axes={"params": 0}, split_rngs={"params": True}, length=3
    )()


@functools.cache
def _trees():
    nnx_state = nnx.state(jf.abstract(lambda: MisnamedNNX(nnx.Rngs(0))), nnx.Param)
    return {
        "linen": (jf.abstract(Misnamed(), X), "params/"),
        "linen scan": (jf.abstract(_scanned(), X, None), "params/"),
        "nnx": (nnx_state, ""),
    }


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("kind", ["linen", "linen scan", "nnx"])
def test_a_dense_gets_its_law_whatever_its_name(kind, preset):
    tree, prefix = _trees()[kind]
    rows = {r["path"]: r for r in jf.table(tree, PRESETS[preset])}
    want = {p: rows[f"{prefix}reference/{p}"] for p in ("kernel", "bias")}
    for name in NAMES:
        for p, ref in want.items():
            row = rows[f"{prefix}{name}/{p}"]
            assert (row["init"], row["std"]) == (ref["init"], ref["std"]), (
                name,
                p,
                row["init"],
                ref["init"],
            )


@pytest.mark.parametrize("preset", [f for f in PRESETS if f != "declared"])
def test_a_parameter_of_one_s_own_is_named_never_defaulted(preset):
    tree = jf.abstract(Misnamed(own=True), X)
    with pytest.raises(ValueError, match="'params/gate'"):
        jinit.materialize(tree, jax.random.key(0), PRESETS[preset])
    # declared() draws it with its module's own initializer.
    out = jinit.materialize(tree, jax.random.key(0), PRESETS["declared"])
    assert bool((out["params"]["gate"] == 1).all())
