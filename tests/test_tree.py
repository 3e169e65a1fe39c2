"""materialize / reinit: rules, path keys, grouping, shardings, Flax models."""

import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jinit
from jinit import _blocks, _tree
from jinit._tree import _draw

S = jax.ShapeDtypeStruct
KEY = jax.random.key(42)


def documented_key(key, path):
    """The derivation the docstring promises, written out independently."""
    digest = hashlib.blake2b(path.encode("utf-8"), digest_size=8).digest()
    h0 = np.uint32(int.from_bytes(digest[:4], "little"))
    h1 = np.uint32(int.from_bytes(digest[4:], "little"))
    return jax.random.fold_in(jax.random.fold_in(key, h0), h1)


def paths_and_leaves(tree):
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {_tree.path_string(p): x for p, x in flat}


def mlp(n_layers, d=8, dtype="float32"):
    return {
        "params": {
            f"Dense_{i}": {"kernel": S((d, d), dtype), "bias": S((d,), dtype)}
            for i in range(n_layers)
        }
    }


RULES = {r".*/kernel": jinit.he_normal(), r".*/bias": jinit.zeros}


# ----------------------------------------------------------------------------
# Paths and rules.


def test_path_strings_join_keys_attributes_and_indices():
    tree = {"params": {"Dense_0": {"kernel": 1}}, "layers": [2, {"w": 3}]}
    assert set(paths_and_leaves(tree)) == {
        "params/Dense_0/kernel",
        "layers/0",
        "layers/1/w",
    }


def test_first_full_match_wins_and_default_fills_the_rest():
    tree = {"a": {"kernel": S((4, 4), "float32")}, "b": S((4,), "float32")}
    rules = {r"a/.*": jinit.ones, r".*kernel": jinit.zeros}
    out = jinit.materialize(tree, KEY, rules, default=jinit.constant(3.0))
    np.testing.assert_array_equal(out["a"]["kernel"], np.ones((4, 4)))
    np.testing.assert_array_equal(out["b"], np.full((4,), 3.0))
    # "kernel" only matches part of "a/kernel": full matches only.
    out = jinit.materialize(tree, KEY, {"kernel": jinit.zeros}, default=jinit.ones)
    np.testing.assert_array_equal(out["a"]["kernel"], np.ones((4, 4)))


def test_rules_may_be_a_sequence_of_pairs():
    out = jinit.materialize(mlp(1), KEY, list(RULES.items()))
    np.testing.assert_array_equal(out["params"]["Dense_0"]["bias"], np.zeros(8))


def test_unmatched_leaves_are_all_listed():
    tree = mlp(2)
    with pytest.raises(ValueError, match="`rules` must match every leaf") as e:
        jinit.materialize(tree, KEY, {r".*/kernel": jinit.he_normal()})
    assert "'params/Dense_0/bias'" in str(e.value)
    assert "'params/Dense_1/bias'" in str(e.value)
    assert "2 leaves" in str(e.value)


@pytest.mark.parametrize(
    "rules, error, match",
    [
        ({"(": jinit.zeros}, ValueError, "`rules` must be keyed by valid regular"),
        ({".*": 3.0}, TypeError, r"`rules\['.\*'\]` must be an initializer"),
        ({1: jinit.zeros}, TypeError, "`rules` must be keyed by regex strings"),
        ("kernel", TypeError, "`rules` must be a mapping"),
        ([("a",)], TypeError, "`rules` must be a mapping"),
    ],
)
def test_bad_rules_raise_before_tracing(rules, error, match):
    with pytest.raises(error, match=match):
        jinit.materialize(mlp(1), KEY, rules)


def test_bad_inputs_name_the_argument_and_the_leaf():
    with pytest.raises(TypeError, match="`default` must be an initializer"):
        jinit.materialize(mlp(1), KEY, {}, default="zeros")
    with pytest.raises(TypeError, match="`key` must be"):
        jinit.materialize(mlp(1), 0, RULES)
    with pytest.raises(TypeError, match="`tree leaf 'w'` must be"):
        jinit.materialize({"w": "not a leaf"}, KEY, {}, default=jinit.zeros)
    # A shape the initializer cannot fill: the core's message, plus the path.
    with pytest.raises(ValueError, match="leaf 'params/Dense_0/bias'"):
        jinit.materialize(mlp(1), KEY, {".*": jinit.orthogonal()})
    with pytest.raises(TypeError, match="leaf 'i'"):
        jinit.materialize({"i": S((3,), "int32")}, KEY, {".*": jinit.he_normal()})
    # A foreign callable with the wrong output shape is caught by eval_shape.
    with pytest.raises(ValueError, match="returning an array of shape"):
        jinit.materialize(mlp(1), KEY, {".*": lambda k, s, d: jnp.zeros((1,), d)})


# ----------------------------------------------------------------------------
# Values: each leaf is its initializer called alone with its path key.


INITS = [
    jinit.he_normal(),
    jinit.glorot_uniform(),
    jinit.lecun_normal(),
    jinit.normal(0.02),
    jinit.truncated_normal(0.02, mean=0.1),
    jinit.truncated_normal(0.5, lower=-0.3, upper=0.9, bounds="absolute"),
    jinit.uniform(0.1),
    jinit.variance_scaling(1.0, "fan_avg", "normal"),
    jinit.orthogonal(),
    jinit.constant(0.5),
]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_each_leaf_equals_its_initializer_alone(dtype):
    # Per initializer, three (16, 8) leaves form a group (one compiled function,
    # called once per leaf) and the (5, 3) leaf is a group of its own.
    tree, rules = {}, {}
    for i, init in enumerate(INITS):
        tree[f"i{i}"] = {
            "a": S((16, 8), dtype),
            "b": [S((16, 8), dtype), S((16, 8), dtype)],
            "c": S((5, 3), dtype),
        }
        rules[f"i{i}/.*"] = init
    out = jinit.materialize(tree, KEY, rules)
    for path, leaf in paths_and_leaves(out).items():
        init = INITS[int(path.split("/")[0][1:])]
        want = init(documented_key(KEY, path), leaf.shape, dtype)
        assert leaf.dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(leaf), np.asarray(want), path)
    assert _tree.leaf_key(KEY, "a") == documented_key(KEY, "a")


def test_scalar_and_zero_size_leaves():
    tree = {"z": [S((0, 4), "float32")] * 2, "s": S((), "float32")}
    out = jinit.materialize(tree, KEY, {"z/.*": jinit.he_normal(), "s": jinit.ones})
    assert [x.shape for x in out["z"]] == [(0, 4), (0, 4)]
    assert out["s"].shape == () and float(out["s"]) == 1.0


def test_foreign_callables_equal_their_jitted_selves():
    init = jax.nn.initializers.lecun_normal()
    tree = {"a": S((16, 8), "float32"), "b": S((16, 8), "float32")}
    out = jinit.materialize(tree, KEY, {".*": init})
    alone = jax.jit(init, static_argnums=(1, 2))
    for path in ("a", "b"):
        want = alone(documented_key(KEY, path), (16, 8), jnp.float32)
        np.testing.assert_array_equal(out[path], want)
    assert not np.array_equal(out["a"], out["b"])


def test_raw_and_typed_keys_give_the_same_values():
    raw = jax.random.PRNGKey(7)
    typed = jax.random.wrap_key_data(raw)
    a = jinit.materialize(mlp(2), raw, RULES)
    b = jinit.materialize(mlp(2), typed, RULES)
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_materialize_inside_jit_equals_eager():
    tree = mlp(3)
    eager = jinit.materialize(tree, KEY, RULES)
    jitted = jax.jit(lambda k: jinit.materialize(tree, k, RULES))(KEY)
    jax.tree.map(np.testing.assert_array_equal, eager, jitted)


def test_a_second_call_reuses_the_compiled_plan(monkeypatch):
    traces = []
    draw = _draw._draw_leaf
    monkeypatch.setattr(_draw, "_draw_leaf", lambda *a: traces.append(1) or draw(*a))
    _draw._LEAF_CACHE.clear()
    tree = mlp(5, d=12)
    a = jinit.materialize(tree, jax.random.key(1), RULES)
    # One trace for the 5 kernels' group, not one per leaf (the zero biases
    # are filled by NumPy, untraced); the second call traces nothing.
    assert len(traces) == 1
    b = jinit.materialize(tree, jax.random.key(2), RULES)
    assert len(traces) == 1
    assert not np.any(a["params"]["Dense_0"]["bias"])
    assert not np.array_equal(
        a["params"]["Dense_0"]["kernel"], b["params"]["Dense_0"]["kernel"]
    )


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg"])
def test_large_leaves_are_drawn_in_blocks_with_the_same_bits(monkeypatch, impl):
    # Blocks of 1000 values: (301, 70) has 21 full blocks and a last one of 70.
    monkeypatch.setattr(_blocks, "BLOCK", 1000)
    _draw._LEAF_CACHE.clear()
    inits = {
        "vs": jinit.he_normal(),
        "tn": jinit.truncated_normal(0.5, lower=-1.0, upper=0.25),
        "u": jinit.uniform(0.1),
        "n": jinit.normal(2.0),
        "o": jinit.orthogonal(),
    }
    tree = {
        name: {"w": S((301, 70), "float32"), "h": S((301, 70), "bfloat16")}
        for name in inits
    }
    rules = {f"{name}/.*": init for name, init in inits.items()}
    key = jax.random.key(7, impl=impl)
    drawn = []
    draw = _blocks.draw_from_python
    monkeypatch.setattr(
        _blocks,
        "draw_from_python",
        lambda init, *a: drawn.append(init) or draw(init, *a),
    )
    out = jinit.materialize(tree, key, rules)
    # threefry: every elementwise law is drawn in blocks; rbg keys never are.
    want_blocks = (
        {inits[n] for n in ("vs", "tn", "u", "n")} if impl == "threefry2x32" else set()
    )
    assert set(drawn) == want_blocks
    for path, leaf in paths_and_leaves(out).items():
        init = inits[path.split("/")[0]]
        want = init(documented_key(key, path), leaf.shape, leaf.dtype)
        np.testing.assert_array_equal(np.asarray(leaf), np.asarray(want), path)


def test_paths_are_stable_when_a_model_grows_shrinks_or_is_reordered():
    small = jinit.materialize(mlp(2), KEY, RULES)
    grown = jinit.materialize(mlp(5), KEY, RULES)
    layers = mlp(4)["params"]
    reordered = {"params": dict(reversed(list(layers.items())))}
    reordered = jinit.materialize(reordered, KEY, RULES)
    for name in ("Dense_0", "Dense_1"):
        for other in (grown, reordered):
            np.testing.assert_array_equal(
                small["params"][name]["kernel"], other["params"][name]["kernel"]
            )
    # Different paths do get different values.
    assert not np.array_equal(
        grown["params"]["Dense_0"]["kernel"], grown["params"]["Dense_1"]["kernel"]
    )


class FanInBias:
    """A test-local for_leaf initializer: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    fan_in is read from the sibling ".../kernel", as PyTorch's Linear bias does.
    """

    def for_leaf(self, path, leaves):
        kernel = leaves[path.rsplit("/", 1)[0] + "/kernel"]
        bound = 1.0 / np.sqrt(kernel.shape[0])
        return jinit.Uniform(-bound, bound)

    def __call__(self, key, shape, dtype=None):
        raise AssertionError("materialize must call for_leaf's result")


def test_for_leaf_picks_each_leaf_initializer_from_the_tree():
    tree = {
        "a": {"kernel": S((4, 3), "float32"), "bias": S((3,), "float32")},
        "b": {"kernel": S((400, 3), "float32"), "bias": S((3,), "float32")},
    }
    rules = {r".*/kernel": jinit.zeros, r".*/bias": FanInBias()}
    out = jinit.materialize(tree, KEY, rules)
    for name, fan_in in (("a", 4), ("b", 400)):
        bound = 1.0 / np.sqrt(fan_in)
        want = jinit.Uniform(-bound, bound)(
            documented_key(KEY, f"{name}/bias"), (3,), "float32"
        )
        np.testing.assert_array_equal(out[name]["bias"], want)
    assert np.abs(out["b"]["bias"]).max() <= 0.05


# ----------------------------------------------------------------------------
# reinit.


def test_reinit_redraws_matched_leaves_and_keeps_the_others_bit_for_bit():
    params = jinit.materialize(mlp(3), KEY, RULES)
    n_layer = 3
    scaled = jinit.normal(0.02 / np.sqrt(2 * n_layer))
    new = jinit.reinit(params, jax.random.key(9), {r".*Dense_2/kernel": scaled})
    for name in ("Dense_0", "Dense_1"):
        for leaf in ("kernel", "bias"):
            assert new["params"][name][leaf] is params["params"][name][leaf]
    assert new["params"]["Dense_2"]["bias"] is params["params"]["Dense_2"]["bias"]
    want = scaled(documented_key(jax.random.key(9), "params/Dense_2/kernel"), (8, 8))
    np.testing.assert_array_equal(new["params"]["Dense_2"]["kernel"], want)


def test_reinit_matching_nothing_is_an_error():
    params = jinit.materialize(mlp(1), KEY, RULES)
    with pytest.raises(ValueError, match="`rules` must be a mapping whose regexes"):
        jinit.reinit(params, KEY, {"head/.*": jinit.zeros})


def test_reinit_keeps_each_leaf_sharding():
    mesh = jax.make_mesh((4, 2), ("a", "b"))
    sharding = NamedSharding(mesh, P("a", "b"))
    params = jinit.materialize(
        mlp(2),
        KEY,
        RULES,
        shardings=lambda p: sharding if p.endswith("kernel") else None,
    )
    new = jinit.reinit(params, KEY, {r".*/kernel": jinit.glorot_uniform()})
    k = new["params"]["Dense_1"]["kernel"]
    assert k.sharding == sharding
    want = jinit.glorot_uniform()(documented_key(KEY, "params/Dense_1/kernel"), (8, 8))
    np.testing.assert_array_equal(k, want)


# ----------------------------------------------------------------------------
# Shardings on 8 simulated CPU devices.


def sharded_tree():
    return {
        "embed": S((64, 16), "float32"),
        "layers": [
            {"w": S((16, 32), "float32"), "v": S((32, 16), "bfloat16")}
            for _ in range(3)
        ],
        "norm": S((16,), "float32"),
    }


SHARDED_RULES = {
    "embed": jinit.normal(1.0),
    r"layers/\d+/w": jinit.he_normal(),
    r"layers/\d+/v": jinit.glorot_uniform(),
    "norm": jinit.ones,
}


@pytest.mark.parametrize(
    "mesh_shape, names, spec_of, shard_shape_of",
    [
        (
            (8,),
            ("x",),
            {"embed": P("x"), "w": P(None, "x"), "v": P("x")},
            {"embed": (8, 16), "w": (16, 4), "v": (4, 16)},
        ),
        (
            (2, 4),
            ("a", "b"),
            {"embed": P("a", "b"), "w": P("b", "a"), "v": P(None, "b")},
            {"embed": (32, 4), "w": (4, 16), "v": (32, 4)},
        ),
        (
            (4, 2),
            ("a", "b"),
            {"embed": P(("a", "b")), "w": P("a"), "v": P("b", "a")},
            {"embed": (8, 16), "w": (4, 32), "v": (16, 4)},
        ),
    ],
)
def test_values_do_not_depend_on_the_mesh(mesh_shape, names, spec_of, shard_shape_of):
    # jax.make_mesh's default Explicit axes, and Auto axes on the (2, 4) mesh.
    Axis = jax.sharding.AxisType
    kind = Axis.Auto if mesh_shape == (2, 4) else Axis.Explicit
    mesh = jax.make_mesh(mesh_shape, names, axis_types=(kind,) * len(names))

    def shardings(path):
        name = path.rsplit("/", 1)[-1]
        return NamedSharding(mesh, spec_of.get(name, P()))

    reference = jinit.materialize(sharded_tree(), KEY, SHARDED_RULES)
    out = jinit.materialize(sharded_tree(), KEY, SHARDED_RULES, shardings=shardings)
    for path, leaf in paths_and_leaves(out).items():
        name = path.rsplit("/", 1)[-1]
        assert leaf.sharding == shardings(path), path
        want_shape = shard_shape_of.get(name, leaf.shape)
        assert {s.data.shape for s in leaf.addressable_shards} == {want_shape}, path
        np.testing.assert_array_equal(
            np.asarray(leaf), np.asarray(paths_and_leaves(reference)[path]), path
        )


def test_shardings_as_a_matching_tree_and_mismatches():
    mesh = jax.make_mesh((8,), ("x",))
    tree = mlp(2, d=16)
    shardings = jax.tree.map(lambda _: NamedSharding(mesh, P("x")), tree)
    out = jinit.materialize(tree, KEY, RULES, shardings=shardings)
    assert out["params"]["Dense_1"]["kernel"].sharding.spec == P("x")
    del shardings["params"]["Dense_1"]
    with pytest.raises(ValueError, match="`shardings` must be a tree with exactly"):
        jinit.materialize(tree, KEY, RULES, shardings=shardings)
    with pytest.raises(TypeError, match=r"`shardings\('params/Dense_0/bias'\)`"):
        jinit.materialize(tree, KEY, RULES, shardings=lambda p: P("x"))


def test_a_template_sharding_is_used_when_no_shardings_are_given():
    mesh = jax.make_mesh((8,), ("x",))
    sharding = NamedSharding(mesh, P(None, "x"))
    tree = {"w": S((4, 16), "float32", sharding=sharding)}
    out = jinit.materialize(tree, KEY, {".*": jinit.he_normal()})
    assert out["w"].sharding == sharding


# ----------------------------------------------------------------------------
# Real Flax models: materialize the abstract params, then apply.


@pytest.mark.standard_promotion
def test_flax_linen_model():
    import flax.linen as nn

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Conv(4, (3, 3))(x)
            x = nn.LayerNorm()(x).reshape((x.shape[0], -1))
            return nn.Dense(3)(nn.relu(nn.Dense(16)(x)))

    model = Model()
    x = jnp.ones((2, 6, 6, 1))
    abstract = jax.eval_shape(model.init, jax.random.key(0), x)
    rules = {
        r"params/.*/kernel": jinit.he_normal(),
        r"params/.*/bias": jinit.zeros,
        r"params/LayerNorm_0/scale": jinit.ones,
    }
    # A plain eval_shape tree: the conv kernel's stored layout is declared right.
    params = jinit.materialize(abstract, KEY, rules, stacked={})
    y = model.apply(params, x)
    assert y.shape == (2, 3) and bool(jnp.isfinite(y).all())
    # Dense(3) is built first (Dense_0); the inner Dense(16) is Dense_1.
    kernel = params["params"]["Dense_1"]["kernel"]
    want = jinit.he_normal()(documented_key(KEY, "params/Dense_1/kernel"), (144, 16))
    np.testing.assert_array_equal(kernel, want)


@pytest.mark.standard_promotion
def test_flax_linen_partitioning_metadata_gives_the_shardings():
    import flax.linen as nn

    def part(names):
        return nn.with_partitioning(nn.initializers.lecun_normal(), names)

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Dense(16, kernel_init=part((None, "model")))(x)
            return nn.Dense(4, kernel_init=part(("model", None)))(x)

    model, x = Model(), jnp.ones((2, 8))
    # Auto axes: linen's apply is written for them (Explicit axes would ask
    # Dense for an out_sharding).
    auto = (jax.sharding.AxisType.Auto,) * 2
    mesh = jax.make_mesh((2, 4), ("data", "model"), axis_types=auto)
    abstract = jax.eval_shape(model.init, jax.random.key(0), x)
    rules = {r".*/kernel": jinit.lecun_normal(), r".*/bias": jinit.zeros}
    params = jinit.materialize(
        abstract, KEY, rules, shardings=nn.get_sharding(abstract, mesh)
    )
    box = params["params"]["Dense_0"]["kernel"]
    assert isinstance(box, nn.Partitioned) and box.names == (None, "model")
    assert box.value.sharding.spec == P(None, "model")
    assert {s.data.shape for s in box.value.addressable_shards} == {(8, 4)}
    want = jinit.lecun_normal()(documented_key(KEY, "params/Dense_0/kernel"), (8, 16))
    np.testing.assert_array_equal(box.value, want)
    assert model.apply(params, x).shape == (2, 4)


@pytest.mark.standard_promotion
def test_flax_nnx_model():
    from flax import nnx

    class Model(nnx.Module):
        def __init__(self, rngs):
            self.dense = nnx.Linear(5, 8, rngs=rngs)
            self.norm = nnx.BatchNorm(8, rngs=rngs)
            self.head = nnx.Linear(8, 2, rngs=rngs)

        def __call__(self, x):
            return self.head(nnx.relu(self.norm(self.dense(x))))

    abstract = nnx.eval_shape(lambda: Model(nnx.Rngs(0)))
    graphdef, state = nnx.split(abstract)
    rules = {
        r".*/kernel": jinit.glorot_uniform(),
        r".*/(bias|mean)": jinit.zeros,
        r"norm/(scale|var)": jinit.ones,
    }
    new_state = jinit.materialize(state, KEY, rules)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    model = nnx.merge(graphdef, new_state)
    model.eval()
    y = model(jnp.ones((3, 5)))
    assert y.shape == (3, 2) and bool(jnp.isfinite(y).all())
    want = jinit.glorot_uniform()(documented_key(KEY, "head/kernel"), (8, 2))
    np.testing.assert_array_equal(model.head.kernel[...], want)
    # reinit on the concrete state: a fresh head, everything else untouched.
    _, concrete = nnx.split(model)
    fresh = jinit.reinit(concrete, jax.random.key(1), {r"head/kernel": jinit.zeros})
    np.testing.assert_array_equal(fresh["head"]["kernel"][...], np.zeros((8, 2)))
    assert fresh["dense"]["kernel"][...] is concrete["dense"]["kernel"][...]


def test_a_progress_bar_on_request(capsys):
    tree = mlp(3)
    want = jinit.materialize(tree, KEY, RULES, progress=False)
    assert capsys.readouterr().err == ""
    got = jinit.materialize(tree, KEY, RULES, progress=True)
    err = capsys.readouterr().err
    assert "materialize: 100%" in err and "864/864" in err  # 3 * (8*8 + 8) * 4 B
    jax.tree.map(np.testing.assert_array_equal, got, want)
    # The default shows one only on a terminal (pytest's stderr is not one).
    jinit.reinit(want, KEY, {r".*/bias": jinit.ones})
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="`progress` must be True, False or None"):
        jinit.materialize(tree, KEY, RULES, progress="yes")


# ----------------------------------------------------------------------------
# Errors that say what is wrong, and no partial results (issue #14).


def test_an_uncalled_builder_as_a_rule_says_to_call_it():
    tree = {"w": jax.ShapeDtypeStruct((4, 4), jnp.float32)}
    with pytest.raises(TypeError, match=r"the builder he_normal.*he_normal\(\)"):
        jinit.materialize(tree, KEY, {"w": jinit.he_normal})
    with pytest.raises(TypeError, match=r"`default` .*builder orthogonal"):
        jinit.materialize(tree, KEY, {}, default=jinit.orthogonal)
    # zeros/ones are initializers themselves: no call needed.
    assert jinit.materialize(tree, KEY, {"w": jinit.zeros})["w"].shape == (4, 4)


def test_shardings_that_cannot_hold_a_leaf_name_it():
    mesh = jax.make_mesh((2, 4), ("data", "model"))
    tree = {"layer": {"w": jax.ShapeDtypeStruct((6, 8), jnp.float32)}}
    rules = {".*": jinit.lecun_normal()}
    too_long = {"layer": {"w": NamedSharding(mesh, P("data", "model", None))}}
    with pytest.raises(ValueError, match=r"shardings\['layer/w'\].*at most 2 entries"):
        jinit.materialize(tree, KEY, rules, shardings=too_long)
    indivisible = {"layer": {"w": NamedSharding(mesh, P("model", None))}}  # 6 / 4
    with pytest.raises(ValueError, match=r"shardings\['layer/w'\].*divides"):
        jinit.materialize(tree, KEY, rules, shardings=indivisible)


def test_reinit_of_an_abstract_tree_is_an_error_not_a_mix():
    tree = {
        "head": jax.ShapeDtypeStruct((4, 2), jnp.float32),
        "body": jax.ShapeDtypeStruct((4, 4), jnp.float32),
    }
    with pytest.raises(ValueError, match=r"use jinit.materialize.*\['body'\]"):
        jinit.reinit(tree, KEY, {"head": jinit.zeros})
    # Every leaf matched: nothing is kept, so an abstract tree is fine.
    out = jinit.reinit(tree, KEY, {".*": jinit.zeros})
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(out))


def test_an_unhashable_initializer_is_compiled_once_per_group(monkeypatch):
    class Unhashable:
        __hash__ = None  # a user's mutable object with __call__

        def __call__(self, key, shape, dtype):
            return jax.random.normal(key, shape, dtype)

    init = Unhashable()
    tree = {f"w{i}": jax.ShapeDtypeStruct((4, 4), jnp.float32) for i in range(6)}
    _draw._LEAF_CACHE.clear()
    jinit.materialize(tree, KEY, {".*": init})
    jinit.materialize(tree, KEY, {".*": init})
    assert len(_draw._LEAF_CACHE) == 1


# ----------------------------------------------------------------------------
# Stacked leaves of plain trees (issue #12).


def test_stacked_leaves_get_per_layer_fans_and_independent_layers():
    tree = {"blocks": {"kernel": jax.ShapeDtypeStruct((12, 256, 64), jnp.float32)}}
    with pytest.warns(_tree.LayoutWarning, match="stacked"):
        guessed = jinit.materialize(tree, KEY, {".*": jinit.lecun_normal()})
    stacked = jinit.materialize(
        tree, KEY, {".*": jinit.lecun_normal()}, stacked={".*": 0}
    )
    w = stacked["blocks"]["kernel"]
    # fan_in 256 per layer, not 12 * 256: std 1/16 within 6 standard errors.
    n = w.size
    assert abs(float(w.std()) * 16 - 1) < 6 * (2 / (4 * n)) ** 0.5
    assert float(guessed["blocks"]["kernel"].std()) < 0.5 / 16  # the old guess
    # The layers are different draws, and the leaf is the batched draw itself.
    assert not np.array_equal(w[0], w[1])
    want = jinit.lecun_normal(in_axis=1, out_axis=2, batch_axis=0)(
        documented_key(KEY, "blocks/kernel"), (12, 256, 64)
    )
    np.testing.assert_array_equal(w, want)
    with pytest.raises(ValueError, match="`stacked`"):
        jinit.materialize(tree, KEY, {".*": jinit.zeros}, stacked={".*": 3})


def test_for_leaf_rules_see_the_signatures_of_stacked_leaves():
    seen = {}

    class Spy:
        def for_leaf(self, path, leaves):
            seen[path] = leaves[path].signature
            return jinit.zeros

        def __call__(self, key, shape, dtype=None):
            raise AssertionError("for_leaf picks the initializer")

    tree = {"blocks": jax.ShapeDtypeStruct((4, 8, 8), jnp.float32)}
    jinit.materialize(tree, KEY, {".*": Spy()}, stacked={"blocks": 0})
    assert seen["blocks"].stacked == (0,) and seen["blocks"].shape == (8, 8)


def test_leaves_of_one_law_share_one_compiled_block(monkeypatch):
    """On the CPU, large leaves are drawn in blocks from Python: one compiled
    block per law (here lecun_normal with fan_in 1024 on two shapes and on a
    stack of 2 layers, and normal(0.02) on a fourth leaf), with the bits of each
    leaf drawn alone."""
    _blocks._PROGRAMS.clear()
    tree = {
        "a": jax.ShapeDtypeStruct((1024, 2048), jnp.float32),
        "b": jax.ShapeDtypeStruct((1024, 3072), jnp.float32),
        "c": jax.ShapeDtypeStruct((2100, 1024), jnp.bfloat16),
        "d": jax.ShapeDtypeStruct((3, 1024), jnp.float32),
        "e": jax.ShapeDtypeStruct((2, 1024, 1024), jnp.float32),
    }
    rules = {
        "a|b|e": jinit.lecun_normal(),
        "c": jinit.normal(0.02),
        "d": jinit.constant(0.1),
    }
    out = jinit.materialize(tree, KEY, rules, stacked={"e": 0})
    assert len(_blocks._PROGRAMS) == 2
    lecun = rules["a|b|e"]
    stack = jinit.lecun_normal(batch_axis=0)  # a stacked leaf: the batched draw
    for path, init in [("a", lecun), ("b", lecun), ("c", rules["c"]), ("e", stack)]:
        spec = tree[path]
        alone = init(documented_key(KEY, path), spec.shape, spec.dtype)
        assert out[path].dtype == spec.dtype
        np.testing.assert_array_equal(
            np.asarray(out[path]).view(np.uint16), np.asarray(alone).view(np.uint16)
        )
    np.testing.assert_array_equal(out["d"], jnp.full((3, 1024), 0.1, jnp.float32))


# ----------------------------------------------------------------------------
# Checked, not trusted: rules are typed, trees are checked, layouts are known.


def test_a_rule_needs_no_call_and_is_not_an_initializer():
    class FanInStd:  # a Rule with for_leaf only, as users write one
        def for_leaf(self, path, leaves):
            return jinit.normal(leaves[path].shape[0] ** -0.5)

    rule = FanInStd()
    assert isinstance(rule, jinit.Rule) and not callable(rule)
    assert isinstance(jinit.declared(), jinit.Rule)
    assert not callable(jinit.PerLeaf("x", lambda p, leaves: jinit.zeros))
    tree = {"w": S((9, 5), "float32"), "v": S((400, 3), "float32")}
    out = jinit.materialize(tree, KEY, {".*": rule})
    for path in ("w", "v"):
        want = jinit.normal(tree[path].shape[0] ** -0.5)(
            documented_key(KEY, path), tree[path].shape
        )
        np.testing.assert_array_equal(out[path], want)
    with pytest.raises(TypeError, match=r"`rules\['.\*'\]` must be an initializer"):
        jinit.materialize(tree, KEY, {".*": object()})


@pytest.mark.parametrize("empty", [None, {}, [], {"params": {}}])
def test_an_empty_tree_is_an_error_naming_tree(empty):
    with pytest.raises(ValueError, match="`tree` must be a pytree with at least one"):
        jinit.materialize(empty, KEY, RULES)
    with pytest.raises(ValueError, match="`tree` must be a pytree with at least one"):
        jinit.table(empty, RULES)
    with pytest.raises(ValueError, match="`tree` must be a pytree with at least one"):
        jinit.reinit(empty, KEY, RULES)


def _scanned_attention_lm(d, heads, head_dim, layers):
    import flax.linen as nn

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            q = nn.DenseGeneral((heads, head_dim), name="q")(x)
            o = nn.DenseGeneral(d, axis=(-2, -1), name="o")(q)
            return x + o, None

    class LM(nn.Module):
        @nn.compact
        def __call__(self, x):
            stack = nn.scan(
                Block,
                variable_axes={"params": 0},
                split_rngs={"params": True},
                length=layers,
            )
            x, _ = stack(name="blocks")(x, None)
            return nn.Dense(3, name="head")(x)

    return LM()


@pytest.mark.parametrize(
    ("d", "heads", "head_dim", "layers"), [(96, 4, 16, 3), (40, 2, 8, 5)]
)
def test_reinit_like_gives_trained_params_the_module_fans(d, heads, head_dim, layers):
    import jinit.flax as jf

    model = _scanned_attention_lm(d, heads, head_dim, layers)
    x = jnp.ones((2, d))
    abstract = jf.abstract(model, x)
    trained = model.init(jax.random.key(3), x)  # stands for trained params
    rules = {r".*/kernel": jinit.lecun_normal()}
    out = jinit.reinit(trained, KEY, rules, like=abstract)
    want = jinit.materialize(abstract, KEY, rules | {".*": jinit.zeros})
    for part in ("q", "o"):
        got = out["params"]["blocks"][part]["kernel"]
        np.testing.assert_array_equal(got, want["params"]["blocks"][part]["kernel"])
    # q: (layers, d, heads, head_dim) with fan_in d, not heads * d.
    q = np.asarray(out["params"]["blocks"]["q"]["kernel"], np.float64)
    assert q.shape == (layers, d, heads, head_dim)
    n = q.size
    # LeCun normal is truncated at 2 sigma and rescaled: std 1/sqrt(fan_in)
    # exactly. 5 standard errors of the sample variance (kurtosis < 3).
    rel = abs(q.var() * d - 1.0)
    assert rel < 5 * np.sqrt(2 / n), rel
    # Unmatched leaves are the trained ones, untouched.
    assert out["params"]["head"]["bias"] is trained["params"]["head"]["bias"]


def test_reinit_like_refuses_a_tree_it_was_not_made_for():
    import jinit.flax as jf

    model = _scanned_attention_lm(48, 2, 8, 2)
    abstract = jf.abstract(model, jnp.ones((1, 48)))
    other = _scanned_attention_lm(48, 2, 8, 3).init(
        jax.random.key(0), jnp.ones((1, 48))
    )
    rules = {r".*/kernel": jinit.lecun_normal()}
    with pytest.raises(
        ValueError,
        match=r"`like\['params/blocks/\w+/\w+'\]` must be a leaf of the tree's shape \(3,",
    ):
        jinit.reinit(other, KEY, rules, like=abstract)
    with pytest.raises(
        ValueError, match="`like` must be an abstract tree with exactly"
    ):
        jinit.reinit(
            {"params": {"w": jnp.ones((2, 2))}}, KEY, {".*": jinit.zeros}, like=abstract
        )
    with pytest.raises(ValueError, match="`stacked` must be None when `like`"):
        jinit.reinit(other, KEY, rules, like=abstract, stacked={".*": 0})


@pytest.mark.parametrize(
    ("shape", "axes", "fan_in"),
    [
        ((4, 128, 4, 32), {"in_axis": 0, "out_axis": (1, 2)}, 128),  # DenseGeneral q
        ((6, 2, 8, 24), {"in_axis": (0, 1), "out_axis": 2}, 16),  # DenseGeneral out
        (
            (3, 5, 3, 3, 8),
            {"in_axis": -2, "out_axis": -1, "batch_axis": 0},
            9,
        ),  # experts
    ],
)
def test_stacked_refuses_a_layer_layout_it_cannot_read(shape, axes, fan_in):
    tree = {"blocks": {"q": {"kernel": jnp.ones(shape)}}}
    rules = {".*": jinit.lecun_normal()}
    with pytest.raises(ValueError, match=r"stacked\['blocks/q/kernel'\].*like="):
        jinit.reinit(tree, KEY, rules, stacked={"blocks/.*": 0})
    with pytest.raises(ValueError, match=r"stacked\['blocks/q/kernel'\].*like="):
        jinit.materialize(tree, KEY, rules, stacked={"blocks/.*": 0})
    # Axes that say how one layer is read are accepted: the fans per layer.
    explicit = jinit.variance_scaling(1.0, "fan_in", "normal", **axes)
    rows = jinit.table(tree, {".*": explicit}, stacked={"blocks/.*": 0})
    assert rows[0]["fan_in"] == fan_in


def test_clear_caches_empties_every_cache_and_keeps_the_values(monkeypatch):
    from jinit import _caches

    monkeypatch.setattr(_blocks, "BLOCK", 1000)
    tree = {"w": S((301, 70), "float32"), "b": S((70,), "float32")}
    before = jinit.materialize(
        tree, KEY, {"w": jinit.he_normal(), "b": jinit.uniform()}
    )
    assert len(_blocks._PROGRAMS) > 0
    jinit.clear_caches()
    assert len(_blocks._PROGRAMS) == 0 and len(_draw._LEAF_CACHE) == 0
    # Every functools cache and Memo of every jinit module is registered.
    import functools
    import importlib
    import pkgutil
    import sys

    for info in pkgutil.walk_packages(jinit.__path__, "jinit."):
        if info.name.split(".")[-1] not in ("__main__",):
            try:
                importlib.import_module(info.name)
            except ImportError:  # an extra that is not installed
                continue
    registered = {id(getattr(c, "__self__", c)) for c in _caches.cache_clears}
    for name, module in list(sys.modules.items()):
        if not name.startswith("jinit"):
            continue
        for attr, value in vars(module).items():
            if isinstance(value, functools._lru_cache_wrapper | _caches.Memo):
                assert id(value) in registered, f"{name}.{attr} is not registered"
    after = jinit.materialize(tree, KEY, {"w": jinit.he_normal(), "b": jinit.uniform()})
    jax.tree.map(np.testing.assert_array_equal, before, after)
