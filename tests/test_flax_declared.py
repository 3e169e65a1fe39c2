"""``jinit.flax.declared()`` draws each parameter as its module called its initializer.

A module may call ``self.param(name, fn, *args, **kwargs)`` with any arguments;
Flax calls ``fn(rng, *args, **kwargs)``. jinit records the whole call and makes
it again with its own key, so the law is Flax's own (issue #23, item 2), or it
says, naming the leaf, why the call cannot be made again. Also the named errors
of ``jinit.flax.abstract``'s arguments (item 9).

Tolerances: a sample std of n values from a normal law has relative standard
error 1/sqrt(2n); 6 of them (n = 448 * 448: 0.95%) catch a 1% error (the bug
was a 50x one), with chance failure below 1e-8.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402

pytestmark = pytest.mark.standard_promotion  # Flax layers' internals

N = 448  # a (N, N) weight: n = N * N values
TOL = 6 / math.sqrt(2 * N * N)


def scaled_normal(key, shape, dtype=jnp.float32, std=1.0):
    return std * jax.random.normal(key, shape, dtype)


def filled(key, shape, value):
    return jnp.full(shape, value, jnp.float32)


class Calls(nn.Module):
    """Every form of ``self.param`` call, with names the docs do not use."""

    @nn.compact
    def __call__(self, x):
        self.param("w_pos", scaled_normal, (N, N), jnp.float32, 0.02)
        self.param("w_kw", scaled_normal, shape=(N, N), std=0.05)
        self.param("w_mixed", scaled_normal, (N, N), std=3.0)
        self.param("t", filled, (3, 2), 3.0)
        self.param("c", lambda rng: jnp.arange(4.0))
        self.param("k", nn.initializers.normal(0.3), (N, N))
        return x


@functools.cache
def _calls():
    x = jnp.ones((1, 4))
    abstract = jf.abstract(Calls(), x)
    ours = jinit.materialize(abstract, jax.random.key(1), {".*": jf.declared()})
    theirs = Calls().init(jax.random.key(0), x)
    return abstract, ours["params"], theirs["params"]


@pytest.mark.parametrize("name", ["w_pos", "w_kw", "w_mixed", "k"])
def test_declared_draws_the_module_s_own_call(name):
    _, ours, theirs = _calls()
    want = float(np.std(theirs[name]))
    got = float(np.std(ours[name]))
    assert abs(got / want - 1) < TOL, (name, got, want)
    assert ours[name].shape == theirs[name].shape
    assert ours[name].dtype == theirs[name].dtype


def test_declared_constants_and_shapeless_calls_are_flax_s_values():
    _, ours, theirs = _calls()
    np.testing.assert_array_equal(ours["t"], theirs["t"])  # fn(key, shape, 3.0)
    np.testing.assert_array_equal(ours["c"], theirs["c"])  # lambda rng: ...


def test_table_shows_the_declared_law():
    abstract, _, _ = _calls()
    rows = {r["path"]: r for r in jf.table(abstract, {".*": jf.declared()})}
    assert rows["params/k"]["std"] == pytest.approx(0.3)  # jax's normal(0.3)
    assert str(rows["params/k"]["init"]) == "normal"
    # A function of the user's own: its call is shown, its law is not known.
    assert (
        str(rows["params/w_pos"]["init"]) == "scaled_normal(key, shape, float32, 0.02)"
    )
    assert rows["params/w_pos"]["std"] is None
    dense = jf.abstract(nn.Dense(5), jnp.ones((1, 64)))
    rows = {r["path"]: r for r in jf.table(dense, {".*": jf.declared()})}
    # Dense's lecun_normal: std 1/sqrt(64), not "init" with no std.
    assert rows["params/kernel"]["std"] == pytest.approx(1 / 8)
    assert rows["params/bias"]["std"] == 0


def test_declared_on_an_nnx_layer_with_a_custom_init_is_flax_s_law():
    init = functools.partial(scaled_normal, std=0.02)
    theirs = nnx.Linear(N, N, kernel_init=init, rngs=nnx.Rngs(0)).kernel.get_value()
    abstract = jf.abstract(lambda: nnx.Linear(N, N, kernel_init=init, rngs=nnx.Rngs(0)))
    state = nnx.state(abstract, nnx.Param)
    ours = jinit.materialize(state, jax.random.key(1), {".*": jf.declared()})
    got = float(np.std(ours["kernel"].get_value()))
    assert abs(got / float(np.std(theirs)) - 1) < TOL


class FromArray(nnx.Module):
    def __init__(self, rngs):
        self.gain = nnx.Param(scaled_normal(rngs.params(), (4, 4), jnp.float32, 0.02))
        self.proj = nnx.Linear(4, 4, rngs=rngs)


def test_declared_on_an_nnx_param_set_from_an_array_says_so():
    state = nnx.state(jf.abstract(lambda: FromArray(nnx.Rngs(0))), nnx.Param)
    with pytest.raises(ValueError, match=r"`leaf 'gain'` .*set it from an array"):
        jinit.materialize(state, jax.random.key(0), {".*": jf.declared()})
    # With a rule for it, the rest is drawn as declared.
    out = jinit.materialize(
        state, jax.random.key(0), {"gain": jinit.ones, ".*": jf.declared()}
    )
    np.testing.assert_array_equal(out["gain"].get_value(), np.ones((4, 4)))
    # The presets are unchanged by the mark: a plain leaf to them.
    rows = jf.table(state, {"gain": jinit.ones, **jf.defaults("torch")})
    assert [r["path"] for r in rows] == [
        "gain",
        "proj/bias",
        "proj/kernel",
    ]


class Traced(nn.Module):
    @nn.compact
    def __call__(self, x):
        self.param("w", lambda rng, shape, s: s * jnp.ones(shape), (3,), x.sum())
        return x


def test_declared_call_with_a_traced_argument_is_a_named_error():
    abstract = jf.abstract(Traced(), jnp.ones((2,)))
    with pytest.raises(ValueError, match=r"`leaf 'params/w'` .*traced value"):
        jinit.materialize(abstract, jax.random.key(0), {".*": jf.declared()})


# ----------------------------------------------------------------------------
# abstract's arguments (item 9).


def test_abstract_of_a_built_nnx_module_says_pass_the_constructor():
    model = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
    with pytest.raises(
        TypeError,
        match=r"`model` must be .*lambda: Linear\(\.\.\., rngs=nnx\.Rngs\(0\)\)",
    ):
        jf.abstract(model)


@pytest.mark.parametrize("rngs", [0, 1.5, "bad", {"params": 0}, {0: jax.random.key(0)}])
def test_abstract_rngs_must_be_what_linen_init_takes(rngs):
    x = jnp.ones((1, 2))
    with pytest.raises(TypeError, match="`rngs` must be a PRNG key"):
        jf.abstract(nn.Dense(3), x, rngs=rngs)


def test_abstract_rngs_flax_accepts_are_accepted():
    x = jnp.ones((1, 2))
    for rngs in (
        jax.random.key(1),
        jax.random.PRNGKey(1),
        {"params": jax.random.key(1)},
    ):
        nn.Dense(3).init(rngs, x)  # Flax takes them
        tree = jf.abstract(nn.Dense(3), x, rngs=rngs)
        assert tree["params"]["kernel"].shape == (2, 3)
    with pytest.raises(Exception):  # noqa: B017 - Flax rejects int seeds itself
        nn.Dense(3).init(0, x)


def test_abstract_rngs_is_for_linen_only():
    with pytest.raises(ValueError, match="`rngs` must be None for an nnx model"):
        jf.abstract(lambda: nnx.Linear(2, 3, rngs=nnx.Rngs(0)), rngs=jax.random.key(0))


def test_declared_names_a_variable_no_initializer_made():
    # A BatchNorm's batch_stats come from self.variable, not an initializer
    # argument: declared() names the leaf and says what to do, before tracing.
    import flax.linen as nn

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.BatchNorm(use_running_average=True, name="norm")(nn.Dense(5)(x))

    tree = jinit.flax.abstract(Net(), jnp.ones((2, 7)))
    with pytest.raises(
        ValueError, match=r"`leaf 'batch_stats/norm/mean'`.*batch_stats"
    ):
        jinit.materialize(tree, jax.random.key(0), {".*": jinit.declared()})
    rules = {"batch_stats/.*": jinit.zeros, ".*": jinit.declared()}
    out = jinit.materialize(tree, jax.random.key(0), rules)
    assert out["params"]["Dense_0"]["kernel"].shape == (7, 5)
