"""Equinox: integer and bool arrays are buffers; a float field of one's own needs a rule.

PyTorch leaves buffers (a step counter, a mask) out of initialization; so does
``jinit.equinox``: they pass through ``init``/``reinit`` as the same objects
and are not listed by ``abstract``. A float field of a user's module that no
rule covers is an error that names it and suggests a rule (issue #23, item 10).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

eqx = pytest.importorskip("equinox")

import jinit  # noqa: E402
import jinit.equinox as je  # noqa: E402


class Counted(eqx.Module):
    proj: eqx.nn.Linear
    step: jax.Array
    mask: jax.Array
    gain: jax.Array

    def __init__(self, key):
        self.proj = eqx.nn.Linear(5, 3, key=key)
        self.step = jnp.array(7, jnp.int32)
        self.mask = jnp.array([True, False, True])
        self.gain = jnp.full((3,), 2.0)


MODEL = Counted(jax.random.key(0))
KEY = jax.random.key(1)


def test_integer_and_bool_fields_are_not_parameters():
    assert list(je.abstract(MODEL)) == ["proj/weight", "proj/bias", "gain"]


@pytest.mark.parametrize("preset", ["torch", "equinox"])
def test_init_passes_buffers_through(preset):
    rules = {r"gain": jinit.ones, **je.defaults(preset)}
    out = je.init(MODEL, KEY, rules)
    assert out.step is MODEL.step and out.mask is MODEL.mask
    np.testing.assert_array_equal(out.gain, np.ones(3))
    out = je.reinit(MODEL, KEY, {r"proj/.*": jinit.zeros})
    assert out.step is MODEL.step and out.mask is MODEL.mask and out.gain is MODEL.gain


def test_abstract_model_with_buffers():
    abstract = eqx.filter_eval_shape(Counted, KEY)
    out = je.init(abstract, KEY, {r"gain": jinit.ones, **je.defaults("torch")})
    assert isinstance(out.proj.weight, jax.Array)


@pytest.mark.parametrize("preset", ["torch", "equinox"])
def test_a_float_field_of_one_s_own_under_a_preset_suggests_a_rule(preset):
    with pytest.raises(ValueError, match=r"`leaf 'gain'` .*\{r'gain': jinit\.normal"):
        je.init(MODEL, KEY, je.defaults(preset))


def test_a_float_field_no_rule_matches_suggests_a_rule():
    with pytest.raises(ValueError, match=r"`rules` must match every leaf.*\{r'gain'"):
        je.init(MODEL, KEY, {r"proj/.*": jinit.zeros})
