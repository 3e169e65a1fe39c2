"""jinit.mup checks its inputs (issue #23): a plan refuses trees of other shapes,
a readout must be found or named (a tied embedding at any width), nnx.Optimizer's
state is accepted, bad arguments are named; the table has plain column names."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")
optax = pytest.importorskip("optax")

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402
import jinit.mup as jm  # noqa: E402

DIN, DOUT, VOCAB, SEQ = 12, 6, 24, 5


class MLP(nn.Module):
    width: int

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.width)(x))
        x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(DOUT, name="head")(x)


class TiedLM(nn.Module):
    """An embedding that is also the readout (``Embed.attend``), scan-stacked MLPs."""

    d: int
    depth: int = 2
    logit_mult: float = 1.0

    @nn.compact
    def __call__(self, tokens):
        embed = nn.Embed(VOCAB, self.d, name="embed")
        x = embed(tokens)

        class Block(nn.Module):
            @nn.compact
            def __call__(self, x, _):
                return x + nn.Dense(x.shape[-1])(nn.relu(x)), None

        blocks = nn.scan(
            Block,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            length=self.depth,
        )
        x, _ = blocks(name="blocks")(x, None)
        return embed.attend(x * self.logit_mult)


X = jnp.zeros((2, DIN))
TOKENS = jnp.zeros((2, SEQ), jnp.int32)
TIED = r".*embed/embedding"


def mlp(width):
    return jf.abstract(MLP(width), X)


def tied(d, depth=2):
    return jf.abstract(TiedLM(d, depth), TOKENS)


# ----------------------------------------------------------------------------
# Item 3: a plan knows its target's shapes and refuses any other tree.


@pytest.mark.parametrize("width", [128, 64])
def test_rules_refuse_a_tree_of_another_width(width):
    mp = jm.parametrize(mlp(64), mlp(256))
    rules = mp.rules(jf.defaults("flax"))
    with pytest.raises(
        ValueError,
        match=r"`tree leaf 'params/Dense_0/bias'` must be of the shape \(256,\) the "
        r"plan was made for .*got \(" + str(width) + ",\\)",
    ):
        jinit.materialize(mlp(width), jax.random.key(0), rules)
    unit = jm.parametrize(mlp(64), mlp(256), variant="umup").rules()
    with pytest.raises(ValueError, match="must be of the shape"):
        jinit.materialize(mlp(width), jax.random.key(0), unit)


@pytest.mark.parametrize("width", [128, 64])
def test_optimizers_refuse_a_tree_of_another_width(width):
    mp = jm.parametrize(mlp(64), mlp(256))
    params = jinit.materialize(mlp(width), jax.random.key(0), jf.defaults("flax"))
    good = jinit.materialize(mlp(256), jax.random.key(0), jf.defaults("flax"))
    expected = (
        r"`params leaf 'params/Dense_1/kernel'` must be of the shape \(256, 256\)"
    )
    for tx in (mp.adam(1e-3), mp.sgd(0.1, momentum=0.9), mp.scale_by_lr("sgd")):
        with pytest.raises(ValueError, match="must be of the shape"):
            tx.init(params)
        state = tx.init(good)
        kernel = params["params"]["Dense_1"]["kernel"]
        dense = {**good["params"]["Dense_1"], "kernel": kernel}
        bad = {"params": {**good["params"], "Dense_1": dense}}
        with pytest.raises(ValueError, match=expected):
            tx.update(bad, state, good)
    with pytest.raises(ValueError, match="`target leaf 'params/Dense_0/bias'` must be"):
        mp.table(jf.defaults("flax"), mlp(width))


# ----------------------------------------------------------------------------
# Item 6: a readout is found or named; a tied embedding at every width.


def test_tied_embedding_readout_at_every_width():
    mp = jm.parametrize(tied(16), tied(64), readout=TIED)
    emb = mp["params/embed/embedding"]
    assert (emb.role, emb.width_mult, emb.forward) == ("readout", 4.0, 0.25)
    assert (emb.adam_lr, emb.sgd_lr, emb.init_mult) == (1.0, 4.0, 1.0)
    assert mp.output_multiplier == 0.25
    # The base width, and depth alone (CompleteP): named, it is the readout.
    same = jm.parametrize(tied(16), tied(16), readout=TIED)
    assert same["params/embed/embedding"].role == "readout"
    assert same.output_multiplier == 1.0
    cp = jm.parametrize(
        tied(16, 2), tied(16, 8), variant="completep", alpha=0.5, readout=TIED
    )
    assert cp["params/embed/embedding"].role == "readout"
    assert (cp.depth_mult, cp.residual_multiplier) == (4.0, 0.5)


def test_no_readout_is_an_error_unless_none_is_said():
    with pytest.raises(
        ValueError, match=r"`readout` must be given where no weight's fan-in alone.*"
    ) as e:
        jm.parametrize(tied(16), tied(64))
    assert "readout=None" in str(e.value) and "tied embedding" in str(e.value)
    with pytest.raises(ValueError, match="`readout` must be given"):
        jm.parametrize(tied(16), tied(16), variant="umup")  # absolute rules
    mp = jm.parametrize(tied(16), tied(64), readout=None)
    assert all(p.role != "readout" for p in mp.params)
    # Where nothing is width the relative multipliers are 1 whatever the readout.
    assert jm.parametrize(tied(16), tied(16)).output_multiplier == 1.0
    assert jm.parametrize(tied(16), tied(64), variant="sp").output_multiplier == 1.0


@pytest.mark.standard_promotion  # optax's bias correction: float ** int32
def test_coord_check_names_a_tied_readout():
    x = jax.random.randint(jax.random.key(0), (4, SEQ), 0, VOCAB)

    def make(width, mp):
        return TiedLM(width, logit_mult=mp.output_multiplier)

    def loss(logits, y):
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    rows = jm.coord_check(
        make, (16, 32), x, x, loss, jf.defaults("flax"), steps=1, readout=TIED
    )
    assert {(r["variant"], r["width"]) for r in rows} == {
        (v, w) for v in ("sp", "mup") for w in (16, 32)
    }


# ----------------------------------------------------------------------------
# Item 7: nnx.Optimizer's state (``.../value`` paths).


class Net(nnx.Module):
    def __init__(self, width, rngs):
        self.inp = nnx.Linear(DIN, width, rngs=rngs)
        self.mid = nnx.Linear(width, width, rngs=rngs)
        self.out = nnx.Linear(width, DOUT, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.mid(nnx.relu(self.inp(x)))))


def _by_path(state):
    """``{path: array}`` of an nnx state (a Variable's ``/value`` left out)."""
    return {
        jinit._tree.path_string(k).removesuffix("/value"): np.asarray(v)
        for k, v in jax.tree_util.tree_leaves_with_path(state)
    }


def _nnx_params(width):
    return nnx.state(jf.abstract(lambda: Net(width, nnx.Rngs(0))), nnx.Param)


@pytest.mark.standard_promotion  # optax's bias correction: float ** int32
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_nnx_optimizer_steps_with_the_plans_lr(optimizer):
    mp = jm.parametrize(_nnx_params(8), _nnx_params(32))
    model = Net(32, nnx.Rngs(1))
    lr, eps = 1e-2, 1e-3
    tx = mp.adam(lr, eps=eps) if optimizer == "adam" else mp.sgd(lr)
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x = jax.random.normal(jax.random.key(2), (8, DIN))
    y = jax.random.normal(jax.random.key(3), (8, DOUT))

    def loss(m):
        return jnp.mean((m(x) - y) ** 2)

    before = _by_path(nnx.state(model, nnx.Param))
    alone = {}
    for path in before:
        info = mp[path]
        alone[path] = (
            optax.adam(lr * info.adam_lr, eps=eps * info.adam_eps)
            if optimizer == "adam"
            else optax.sgd(lr * info.sgd_lr)
        )
    states = {p: alone[p].init(before[p]) for p in before}
    expected = dict(before)
    for _ in range(2):
        grads = nnx.grad(loss)(model)
        flat = _by_path(grads)
        opt.update(model, grads)
        for p in expected:
            u, states[p] = alone[p].update(flat[p], states[p], expected[p])
            expected[p] = np.asarray(optax.apply_updates(expected[p], u))
            assert flat[p].shape == expected[p].shape
        after = _by_path(nnx.state(model, nnx.Param))
        for p in expected:
            np.testing.assert_allclose(after[p], expected[p], rtol=1e-5, atol=1e-7)
        expected = after
    hidden = mp["mid/kernel"]
    assert (hidden.adam_lr, hidden.sgd_lr) == (0.25, 1.0)
    assert mp["inp/kernel"].sgd_lr == 4.0


# ----------------------------------------------------------------------------
# Item 9: bad inputs are named.


def test_bad_inputs_are_named():
    for empty in ({}, None):
        with pytest.raises(ValueError, match="`base` must be a model tree with at"):
            jm.parametrize(empty, empty)
    mp = jm.parametrize(mlp(16), mlp(32))
    with pytest.raises(TypeError, match="`learning_rate` must be a positive number"):
        mp.adam("1e-3")
    with pytest.raises(TypeError, match="`learning_rate` must be a positive number"):
        mp.sgd(None)
    with pytest.raises(ValueError, match="`eps` must be a non-negative"):
        mp.adam(1e-3, eps=-1.0)
    with pytest.raises(ValueError, match="`readout` must be a valid regex"):
        jm.parametrize(mlp(16), mlp(32), readout="(head")
    with pytest.raises(ValueError, match="`blocks` must be a valid regex"):
        jm.parametrize(mlp(16), mlp(32), blocks="[")
    with pytest.raises(ValueError, match="`depth_mult` must be None unless variant="):
        jm.parametrize(mlp(16), mlp(32), depth_mult=2.0)
    with pytest.raises(ValueError, match="`alpha` must be None when `variant` is a"):
        jm.parametrize(mlp(16), mlp(32), variant=jm.CompleteP(1.0), alpha=1.0)


def test_init_trees_work_by_shape_and_mismatches_name_abstract():
    """Plain model.init/eval_shape trees: a Dense MLP is read from stored shapes;
    where those cannot tell (DenseGeneral kernels) the error says what to use."""
    key = jax.random.key(0)
    base = jax.eval_shape(MLP(16).init, key, X)
    target = MLP(32).init(key, X)
    by_shape = jm.parametrize(base, target)
    abstract = jm.parametrize(mlp(16), mlp(32))
    assert [(p.path, p.role, p.infinite) for p in by_shape.params] == [
        (p.path, p.role, p.infinite) for p in abstract.params
    ]

    class Attn(nn.Module):
        d: int

        @nn.compact
        def __call__(self, x):
            h = nn.MultiHeadDotProductAttention(2)(nn.Dense(self.d)(x))
            return nn.Dense(DOUT, name="head")(h)

    x = jnp.zeros((1, 3, 8))
    with pytest.raises(ValueError, match="build base and target with jinit.flax"):
        jm.parametrize(
            jax.eval_shape(Attn(8).init, key, x), jax.eval_shape(Attn(16).init, key, x)
        )


# ----------------------------------------------------------------------------
# Item 12: the table.


def test_table_plain_columns_std_without_target_and_unit_init():
    mp = jm.parametrize(mlp(16), mlp(64))
    rules = {r".*kernel": jinit.normal(0.02), r".*bias": jinit.zeros}
    text = jm.format_table(mp.table(rules))  # the plan's own target
    header = text.splitlines()[0]
    assert header.startswith("| path | role | kind | width axes | m | init × | std |")
    assert "infinite" not in header and "adam_lr" not in header
    rows = {r["path"]: r for r in mp.table(rules, mlp(64))}  # target positional
    assert rows["params/Dense_1/kernel"]["std"] == pytest.approx(0.01)
    assert rows["params/Dense_1/kernel"]["sp_std"] == pytest.approx(0.02)
    unit = jm.parametrize(mlp(16), mlp(64), variant="umup")
    text = jm.format_table(unit.table())
    assert "| params/Dense_1/bias | vector | bias | (0,) | 4 | - | zeros | 0 |" in text
    assert (
        "| params/head/kernel | readout | output | (0,) | 4 | - | N(0, 1) | 1 |" in text
    )


def test_norm_scales_show_their_ones_under_umup():
    class Normed(nn.Module):
        width: int

        @nn.compact
        def __call__(self, x):
            x = nn.RMSNorm(name="norm")(nn.Dense(self.width)(x))
            return nn.Dense(DOUT, name="head")(x)

    def net(w):
        return jf.abstract(Normed(w), X)

    mp = jm.parametrize(net(16), net(64), variant="umup")
    rows = {r["path"]: r for r in mp.table()}
    assert (rows["params/norm/scale"]["init"], rows["params/norm/scale"]["std"]) == (
        "ones",
        0.0,
    )


# ----------------------------------------------------------------------------
# The variants as records; the face; Init.scaled.


def test_variant_records_equal_their_names():
    base, target = (
        jf.abstract(TiedLM(16, 2), TOKENS),
        jf.abstract(TiedLM(32, 4), TOKENS),
    )
    for name, record, kw in [
        ("mup", jm.MuP(), {}),
        ("mup_table3", jm.MuPTable3(), {"readout": None}),  # no tied readout
        ("completep", jm.CompleteP(alpha=0.5), {"alpha": 0.5}),
        (
            "umup",
            jm.UMuP(readout_constraint="to_output_scale"),
            {"readout_constraint": "to_output_scale"},
        ),
    ]:
        kw = {"readout": TIED, **kw}
        by_name = jm.parametrize(base, target, variant=name, **kw)
        readout = kw.pop("readout")
        by_record = jm.parametrize(base, target, variant=record, readout=readout)
        assert by_name.params == by_record.params, name
        assert by_name.variant == record
    assert jm.VARIANTS == (
        "sp",
        "mup",
        "mup_table3",
        "completep",
        "umup",
        "spectral",
        "sp_embedding_lr",
        "mup_abc",
    )
    with pytest.raises(ValueError, match="`alpha` must be 0.5 or 1 for 'completep'"):
        jm.CompleteP(alpha=2.0)
    with pytest.raises(TypeError, match="`depth` must be a positive int"):
        jm.UMuP(depth=1.5)


def test_public_face():
    assert "attention_fn" in jm.__all__
    for name in jm.__all__:
        assert getattr(jm, name) is not None, name
    assert jm.Parametrization.attention_fn is jm.attention_fn


@pytest.mark.parametrize(
    "init",
    [
        jinit.normal(0.5, mean=0.25),
        jinit._distributions.Uniform(-1.0, 3.0),
        jinit.truncated_normal(0.5),
        jinit.truncated_normal(0.5, lower=-0.5, upper=1.0, bounds="absolute"),
        jinit.variance_scaling(2.0, "fan_in", "truncated_normal"),
        jinit.orthogonal(1.5),
        jinit._structured.Sparse(0.25, 0.5),
        jinit.constant(0.75),
    ],
    ids=repr,
)
def test_init_scaled_scales_the_law(init):
    shape = (8, 16)
    law, scaled = init.law(shape), init.scaled(3.0).law(shape)
    assert scaled.std == pytest.approx(3.0 * law.std, rel=1e-12)
    assert scaled.mean == pytest.approx(3.0 * law.mean, rel=1e-12, abs=1e-15)
    assert init.scaled(1.0) == init


def test_init_scaled_is_none_where_no_field_scales_the_law():
    assert jinit.constant(np.ones((2, 2))).scaled(2.0) is None
    assert jinit.identity().scaled(2.0) is None
