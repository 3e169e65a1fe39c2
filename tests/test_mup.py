"""jinit.mup against microsoft/mup 1.0.0 (torch): width inference, init ratios,
MuAdam/MuSGD multipliers; mup's own criteria (base-width bit equality, coord
check with an SP negative control, zero readout); the optax transforms."""

from __future__ import annotations

import functools
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

nn = pytest.importorskip("flax.linen")
optax = pytest.importorskip("optax")

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402
import jinit.mup as jm  # noqa: E402

DIN, DOUT, VOCAB, SEQ = 16, 10, 40, 8

# ----------------------------------------------------------------------------
# The same models in Flax and in torch (with MuReadout).


class MLP(nn.Module):
    width: int
    din: int = DIN
    logit_mult: float = 1.0

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.width)(x))
        x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(DOUT, name="readout")(x * self.logit_mult)


class Block(nn.Module):
    d: int
    heads: int
    attn_scale: float | None = None

    @nn.compact
    def __call__(self, x, _):
        h = nn.MultiHeadDotProductAttention(
            self.heads, attention_fn=jm.attention_fn(self.attn_scale)
        )(nn.LayerNorm()(x))
        x = x + h
        h = nn.Dense(4 * self.d)(nn.LayerNorm()(x))
        return x + nn.Dense(self.d)(nn.gelu(h)), None


class LM(nn.Module):
    """A pre-LN transformer; its blocks are nn.scan-stacked (one leaf per kind)."""

    d: int
    depth: int = 2
    heads: int = 2
    logit_mult: float = 1.0
    attn_scale: float | None = None

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(VOCAB, self.d)(tokens)
        blocks = nn.scan(
            Block,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            length=self.depth,
        )
        x, _ = blocks(self.d, self.heads, self.attn_scale)(x, None)
        return nn.Dense(VOCAB, name="readout")(nn.LayerNorm()(x) * self.logit_mult)


X = jnp.zeros((2, DIN))
TOKENS = jnp.zeros((2, SEQ), jnp.int32)


def mlp(width, din=DIN):
    return jf.abstract(MLP(width, din), jnp.zeros((2, din)))


def lm(d, depth=2):
    return jf.abstract(LM(d, depth), TOKENS)


def _torch():
    torch = pytest.importorskip("torch")
    mup = pytest.importorskip("mup")
    return torch, mup


def torch_mlp(width, din=DIN):
    torch, mup = _torch()
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Linear(din, width),
        tnn.ReLU(),
        tnn.Linear(width, width),
        tnn.ReLU(),
        mup.MuReadout(width, DOUT),
    )


MLP_NAMES = {"0": "Dense_0", "2": "Dense_1", "4": "readout"}


def mlp_path(name):
    layer, kind = name.split(".")
    return f"params/{MLP_NAMES[layer]}/" + {"weight": "kernel", "bias": "bias"}[kind]


def torch_lm(d, depth=2):
    torch, mup = _torch()
    tnn = torch.nn

    class TBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = tnn.LayerNorm(d), tnn.LayerNorm(d)
            self.q, self.k, self.v, self.o = (tnn.Linear(d, d) for _ in range(4))
            self.fc1, self.fc2 = tnn.Linear(d, 4 * d), tnn.Linear(4 * d, d)

    class TLM(tnn.Module):
        def __init__(self):
            super().__init__()
            self.emb = tnn.Embedding(VOCAB, d)
            self.blocks = tnn.ModuleList(TBlock() for _ in range(depth))
            self.ln_f = tnn.LayerNorm(d)
            self.readout = mup.MuReadout(d, VOCAB)

    return TLM()


_LM_BLOCK = {
    "ln1": "LayerNorm_0",
    "ln2": "LayerNorm_1",
    "q": "MultiHeadDotProductAttention_0/query",
    "k": "MultiHeadDotProductAttention_0/key",
    "v": "MultiHeadDotProductAttention_0/value",
    "o": "MultiHeadDotProductAttention_0/out",
    "fc1": "Dense_0",
    "fc2": "Dense_1",
}


def lm_path(name):
    parts = name.split(".")
    kind = parts[-1]
    leaf = {"weight": "kernel", "bias": "bias"}[kind]
    if parts[0] == "emb":
        return "params/Embed_0/embedding"
    if parts[0] == "ln_f":
        return "params/LayerNorm_0/" + ("scale" if kind == "weight" else "bias")
    if parts[0] == "readout":
        return "params/readout/" + leaf
    module = _LM_BLOCK[parts[2]]
    if parts[2].startswith("ln"):
        leaf = "scale" if kind == "weight" else "bias"
    return f"params/ScanBlock_0/{module}/{leaf}"


def _flax_axis(name, torch_axis, ndim):
    """The Flax call-shape axis of a torch axis: torch weights are (out, in)."""
    if ndim == 2 and not name.startswith("emb"):
        return 1 - torch_axis
    return torch_axis


# ----------------------------------------------------------------------------
# Width inference = mup.set_base_shapes.


@pytest.mark.parametrize("use_delta", [False, True])
def test_infinite_dims_and_width_mult_equal_mups(use_delta):
    torch, mup = _torch()
    # With a delta model the input dim also changes (8 -> 12) but is not width.
    din_target = 12 if use_delta else DIN
    base, target = torch_mlp(64), torch_mlp(256, din_target)
    delta = torch_mlp(65) if use_delta else None
    mup.set_base_shapes(target, base, delta=delta, rescale_params=False)
    mp = jm.parametrize(
        mlp(64), mlp(256, din_target), delta=mlp(65) if use_delta else None
    )
    for name, p in target.named_parameters():
        mine = mp[mlp_path(name)]
        theirs = tuple(
            sorted(
                _flax_axis(name, i, p.ndim)
                for i, d in enumerate(p.infshape)
                if d.isinf()
            )
        )
        assert mine.infinite == theirs, name
        assert mine.width_mult == p.infshape.width_mult(), name
    assert [mp[mlp_path(n)].role for n, _ in target.named_parameters()] == [
        "input",
        "vector",
        "hidden",
        "vector",
        "readout",
        "finite",
    ]


def test_transformer_roles_read_from_signatures():
    """DenseGeneral kernels (d, heads, head_dim) and nn.scan stacks: by call shape."""
    mp = jm.parametrize(lm(32), lm(128))
    assert mp[
        "params/ScanBlock_0/MultiHeadDotProductAttention_0/query/kernel"
    ].role == ("hidden")
    out = mp["params/ScanBlock_0/MultiHeadDotProductAttention_0/out/kernel"]
    assert (out.role, out.infinite, out.shape, out.width_mult) == (
        "hidden",
        (0, 1),
        (128, 128),
        4.0,
    )
    assert mp["params/Embed_0/embedding"].role == "input"
    assert mp["params/readout/kernel"].role == "readout"
    assert mp["params/readout/bias"].role == "finite"
    assert mp["params/ScanBlock_0/LayerNorm_0/scale"].role == "vector"
    assert mp.output_multiplier == 0.25


def test_stacked_axes_are_never_width_and_give_the_depth():
    """Depth 2 -> 8 at one width: every multiplier is 1; CompleteP's m_L is 4."""
    mp = jm.parametrize(lm(32, depth=2), lm(32, depth=8))
    assert {p.role for p in mp.params} == {"finite"}
    assert all(p.width_mult == 1.0 for p in mp.params)
    cp = jm.parametrize(lm(32, 2), lm(64, 8), variant="completep", alpha=0.5)
    assert cp.depth_mult == 4.0
    assert cp.residual_multiplier == 0.5
    hidden = cp["params/ScanBlock_0/Dense_0/kernel"]
    # Dey et al. Table 1: hidden LR eta / m_N * m_L^(alpha - 1), eps / m_N * m_L^-alpha.
    assert hidden.adam_lr == pytest.approx(0.5 * 4**-0.5)
    assert hidden.adam_eps == pytest.approx(0.5 * 4**-0.5)
    assert hidden.adam_wd == 2.0
    assert cp["params/ScanBlock_0/LayerNorm_0/scale"].adam_lr == pytest.approx(0.5)
    assert cp["params/Embed_0/embedding"].adam_lr == 1.0  # outside the blocks
    assert cp["params/readout/kernel"].adam_lr == 1.0
    cp1 = jm.parametrize(lm(32, 2), lm(64, 8), variant="completep", alpha=1)
    assert cp1.residual_multiplier == 0.25
    assert cp1["params/ScanBlock_0/Dense_0/kernel"].adam_lr == 0.5


def test_readout_named_by_regex_and_tied_embedding():
    mp = jm.parametrize(lm(32), lm(64), readout=r".*/Embed_0/embedding")
    assert mp["params/Embed_0/embedding"].role == "readout"
    assert mp["params/readout/kernel"].role == "readout"  # still found by shape
    with pytest.raises(ValueError, match="`readout` must be a regex"):
        jm.parametrize(lm(32), lm(64), readout=r".*/Dense_0/kernel")
    with pytest.raises(ValueError, match="`readout` must be a regex matching"):
        jm.parametrize(lm(32), lm(64), readout=r"nothing")


# ----------------------------------------------------------------------------
# LR and weight-decay multipliers = MuAdam / MuSGD param groups.


def _group_values(opt, key):
    return {id(p): g[key] for g in opt.param_groups for p in g["params"]}


@pytest.mark.parametrize("arch", ["mlp", "transformer"])
def test_lr_and_wd_multipliers_equal_muadam_and_musgd(arch):
    torch, mup = _torch()
    if arch == "mlp":
        base, target, path = torch_mlp(64), torch_mlp(256), mlp_path
        mp = jm.parametrize(mlp(64), mlp(256))
    else:
        base, target, path = torch_lm(32), torch_lm(128), lm_path
        mp = jm.parametrize(lm(32), lm(128))
    mup.set_base_shapes(target, base)
    params = list(target.parameters())
    adam = mup.MuAdam(params, lr=1.0, weight_decay=1.0)
    sgd = mup.MuSGD(params, lr=1.0, weight_decay=1.0)
    seen = set()
    for name, p in target.named_parameters():
        mine = mp[path(name)]
        seen.add(mine.path)
        assert mine.adam_lr == _group_values(adam, "lr")[id(p)], name
        assert mine.adam_wd == _group_values(adam, "weight_decay")[id(p)], name
        assert mine.sgd_lr == _group_values(sgd, "lr")[id(p)], name
        assert mine.sgd_wd == _group_values(sgd, "weight_decay")[id(p)], name
    assert seen == {p.path for p in mp.params}


# ----------------------------------------------------------------------------
# Init: the std ratio to SP at the target width = mup's rescaling.


def _torch_ratio(torch, draw_sp, draw_mup, p):
    """mup's value over torch's for one parameter (same seed): one number."""
    with torch.no_grad():
        torch.manual_seed(1)
        draw_sp(p)
        sp = p.detach().clone()
        torch.manual_seed(1)
        draw_mup(p)
        mu = p.detach().clone()
    nonzero = sp != 0
    if not bool(nonzero.any()):
        return 1.0
    ratio = (mu[nonzero] / sp[nonzero]).double()
    assert float(ratio.max() - ratio.min()) <= 1e-6 * float(ratio.abs().max())
    return float(ratio.mean())


def _jinit_ratios(mp, target, rules):
    """Each leaf's std under mp.rules over its SP std; checked on drawn values."""
    rows = {r["path"]: r for r in mp.table(rules, target=target)}
    key = jax.random.key(3)
    sp = jinit.materialize(target, key, rules)
    mu = jinit.materialize(target, key, mp.rules(rules))
    out = {}
    for (k, a), b in zip(
        jax.tree_util.tree_leaves_with_path(sp),
        jax.tree_util.tree_leaves(mu),
        strict=True,
    ):
        r = rows[jinit._tree.path_string(k)]
        ratio = 1.0 if r["sp_std"] == 0 else r["std"] / r["sp_std"]
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        np.testing.assert_allclose(b, a * ratio, rtol=2e-6, atol=1e-12)
        out[r["path"]] = ratio
    return out


def test_mlp_default_init_ratios_equal_set_base_shapes_rescaling():
    """PyTorch's default init + set_base_shapes(rescale_params=True) vs jinit's
    "torch" defaults: readout weight and bias x sqrt(m), hidden biases x sqrt(m)."""
    torch, mup = _torch()
    torch.manual_seed(0)
    sp_model = torch_mlp(256)
    torch.manual_seed(0)
    mu_model = torch_mlp(256)
    mup.set_base_shapes(mu_model, torch_mlp(64))  # rescales in place
    target = mlp(256)
    mine = _jinit_ratios(jm.parametrize(mlp(64), target), target, jf.defaults("torch"))
    for (name, a), b in zip(
        sp_model.named_parameters(), mu_model.parameters(), strict=True
    ):
        ratio = (b / a).detach().double()
        assert float(ratio.max() - ratio.min()) <= 1e-6 * float(ratio.abs().max())
        theirs = float(ratio.mean())
        assert mine[mlp_path(name)] == pytest.approx(theirs, rel=1e-6), name
    assert mine["params/readout/kernel"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    "law", ["normal", "kaiming_normal", "xavier_normal", "kaiming_fan_out"]
)
def test_transformer_init_ratios_equal_mup_init(law):
    """mup.init.* against torch.nn.init.* per parameter vs jinit's rescaled rules."""
    torch, mup = _torch()
    tinit = torch.nn.init
    pairs = {
        "normal": (
            lambda p: tinit.normal_(p, std=0.02),
            lambda p: mup.init.normal_(p, std=0.02),
        ),
        "kaiming_normal": (tinit.kaiming_normal_, mup.init.kaiming_normal_),
        "xavier_normal": (tinit.xavier_normal_, mup.init.xavier_normal_),
        "kaiming_fan_out": (
            lambda p: tinit.kaiming_normal_(p, mode="fan_out"),
            lambda p: mup.init.kaiming_normal_(p, mode="fan_out"),
        ),
    }
    draw_sp, draw_mup = pairs[law]
    # jinit's laws on Flax's (in, out) kernels and (vocab, d) embedding, the
    # torch fans of the same parameter (torch: weight (out, in), Embedding (V, d)
    # with fan_in d).
    kernel, embedding = {
        "normal": (jinit.normal(0.02), jinit.normal(0.02)),
        "kaiming_normal": (
            jinit.variance_scaling(2.0, "fan_in", "normal"),
            jinit.variance_scaling(2.0, "fan_in", "normal", in_axis=-1, out_axis=0),
        ),
        "xavier_normal": (
            jinit.variance_scaling(1.0, "fan_avg", "normal"),
            jinit.variance_scaling(1.0, "fan_avg", "normal"),
        ),
        "kaiming_fan_out": (
            jinit.variance_scaling(2.0, "fan_out", "normal"),
            jinit.variance_scaling(2.0, "fan_out", "normal", in_axis=-1, out_axis=0),
        ),
    }[law]
    rules = {
        r".*/embedding": embedding,
        r".*/kernel": kernel,
        r".*/scale": jinit.ones,
        r".*/bias": jinit.zeros,
    }
    target_t = torch_lm(128)
    mup.set_base_shapes(target_t, torch_lm(32), rescale_params=False)
    target = lm(128)
    mine = _jinit_ratios(jm.parametrize(lm(32), target), target, rules)
    for name, p in target_t.named_parameters():
        if p.ndim < 2:
            continue  # norms and biases: constants at both widths
        theirs = _torch_ratio(torch, draw_sp, draw_mup, p)
        assert mine[lm_path(name)] == pytest.approx(theirs, rel=1e-6), name


@pytest.mark.parametrize("framework", ["flax", "torch", "keras"])
def test_at_width_mult_one_mup_init_is_sp_bit_for_bit(framework):
    """mup's BackwardCompatibleCase: at the base width, muP draws SP's values."""
    base = lm(32)
    mp = jm.parametrize(base, lm(32))
    rules = jf.defaults(framework)
    key = jax.random.key(7)
    sp = jinit.materialize(base, key, rules)
    mu = jinit.materialize(base, key, mp.rules(rules))
    for a, b in zip(jax.tree.leaves(sp), jax.tree.leaves(mu), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_hidden_std_scales_like_fan_in_only():
    """normal(0.02) base rule: hidden std 0.02/sqrt(m); input, readout keep 0.02."""
    rules = {r".*/kernel": jinit.normal(0.02), r".*/bias": jinit.zeros}
    target = mlp(1024)
    rows = {
        r["path"]: r
        for r in jm.parametrize(mlp(64), target).table(rules, target=target)
    }
    assert rows["params/Dense_0/kernel"]["std"] == pytest.approx(0.02)
    assert rows["params/Dense_1/kernel"]["std"] == pytest.approx(0.02 / 4)
    assert rows["params/readout/kernel"]["std"] == pytest.approx(0.02)
    t3 = jm.parametrize(mlp(64), target, variant="mup_table3")
    rows3 = {r["path"]: r for r in t3.table(rules, target=target)}
    assert rows3["params/readout/kernel"]["std"] == pytest.approx(0.02 / 16)
    assert t3.output_multiplier == 1.0
    assert t3["params/readout/kernel"].adam_lr == 1 / 16
    assert t3["params/readout/kernel"].sgd_lr == 1 / 16


def test_table3_and_table8_compute_the_same_function_at_init():
    """abc-symmetry: readout std / m and no multiplier == base std with x / m."""
    base, target = mlp(64), mlp(512)
    key = jax.random.key(0)
    rules = jf.defaults("flax")
    t8 = jm.parametrize(base, target)
    t3 = jm.parametrize(base, target, variant="mup_table3")
    x = jax.random.normal(jax.random.key(1), (4, DIN))
    y8 = MLP(512, logit_mult=t8.output_multiplier).apply(
        jinit.materialize(target, key, t8.rules(rules)), x
    )
    y3 = MLP(512, logit_mult=t3.output_multiplier).apply(
        jinit.materialize(target, key, t3.rules(rules)), x
    )
    np.testing.assert_allclose(y3, y8, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------
# The optax transforms.


def _grads(params, seed=0):
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda x: jnp.asarray(rng.standard_normal(x.shape).astype(x.dtype)), params
    )


def _run(tx, params, steps=3):
    state = tx.init(params)
    update = jax.jit(tx.update)
    out = []
    for s in range(steps):
        updates, state = update(_grads(params, s), state, params)
        out.append(updates)
    return out


@pytest.mark.standard_promotion  # optax's bias correction: float ** int32
def test_adam_at_width_mult_one_is_optax_adamw_bit_for_bit():
    base = lm(32)
    params = jinit.materialize(base, jax.random.key(0), jf.defaults("flax"))["params"]
    mp = jm.parametrize(base, lm(32))
    schedule = optax.cosine_decay_schedule(1e-3, 10)
    ours = _run(mp.adam(schedule, weight_decay=0.1), params)
    theirs = _run(optax.adamw(schedule, weight_decay=0.1), params)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    ours = _run(mp.sgd(0.1, momentum=0.9), params)
    theirs = _run(optax.sgd(0.1, momentum=0.9), params)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.standard_promotion  # optax's bias correction: float ** int32
def test_adam_scales_lr_eps_and_decoupled_wd_per_parameter():
    """Each leaf's updates are optax.adamw's with lr*c, eps*e and wd*w (two steps)."""
    base, target = mlp(64), mlp(256)
    mp = jm.parametrize(base, target)
    params = jinit.materialize(target, jax.random.key(0), mp.rules(jf.defaults("flax")))
    params = params["params"]
    lr, eps, wd = 1e-2, 1e-3, 0.1
    ours = _run(mp.adam(lr, eps=eps, weight_decay=wd), params, steps=2)
    for k, p in jax.tree_util.tree_leaves_with_path(params):
        path = jinit._tree.path_string(k)
        info = mp["params/" + path]
        # optax.adamw on this leaf alone, with its own LR, eps and decay.
        alone = optax.adamw(
            lr * info.adam_lr, eps=eps * info.adam_eps, weight_decay=wd * info.adam_wd
        )
        state = alone.init(p)
        for step, updates in enumerate(ours):
            expected, state = alone.update(_leaf(_grads(params, step), path), state, p)
            np.testing.assert_allclose(
                _leaf(updates, path), expected, rtol=1e-6, atol=1e-6 * lr * info.adam_lr
            )
    hidden = mp["params/Dense_1/kernel"]
    assert (hidden.adam_lr, hidden.adam_eps, hidden.adam_wd) == (0.25, 0.25, 4.0)
    # Decoupled: the per-step decay lr * c * wd * w of a hidden weight is the base's.
    assert hidden.adam_lr * hidden.adam_wd == 1.0


def _leaf(tree, path):
    for part in path.split("/"):
        tree = tree[part]
    return tree


@pytest.mark.standard_promotion  # optax's bias correction: float ** int32
def test_scale_by_lr_inside_a_chain_with_a_schedule():
    base, target = mlp(64), mlp(128)
    mp = jm.parametrize(base, target)
    params = jinit.materialize(target, jax.random.key(0), jf.defaults("flax"))
    schedule = optax.linear_schedule(1.0, 0.5, 4)
    tx = optax.chain(
        optax.scale_by_adam(),
        mp.scale_by_lr("adam"),
        optax.scale_by_learning_rate(schedule),
    )
    ref = optax.chain(optax.scale_by_adam(), optax.scale_by_learning_rate(schedule))
    for ours, theirs in zip(_run(tx, params), _run(ref, params), strict=True):
        for k, a in jax.tree_util.tree_leaves_with_path(ours):
            c = mp[jinit._tree.path_string(k)].adam_lr
            np.testing.assert_allclose(
                a, c * _leaf(theirs, jinit._tree.path_string(k)), rtol=1e-6
            )


@pytest.mark.standard_promotion  # optax's bias correction: float ** int32
def test_sgd_multipliers_in_updates():
    base, target = mlp(64), mlp(256)
    mp = jm.parametrize(base, target)
    params = jinit.materialize(target, jax.random.key(0), jf.defaults("flax"))["params"]
    grads = _grads(params)
    updates, _ = mp.sgd(0.1).update(grads, mp.sgd(0.1).init(params), params)
    for k, u in jax.tree_util.tree_leaves_with_path(updates):
        path = jinit._tree.path_string(k)
        c = mp["params/" + path].sgd_lr
        np.testing.assert_allclose(u, -0.1 * c * _leaf(grads, path), rtol=1e-6)


# ----------------------------------------------------------------------------
# mup's coord check criteria.


def _mlp_fn(width, mp):
    return MLP(width, logit_mult=mp.output_multiplier)


def _xent(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


ZERO_READOUT = {r".*/readout/kernel": jinit.zeros, r".*/readout/bias": jinit.zeros}


def _ratios(rows, variant, widths):
    """{(module, t): l1 at the widest / l1 at the narrowest}."""
    l1 = {
        (r["module"], r["t"], r["width"]): r["l1"]
        for r in rows
        if r["variant"] == variant
    }
    out = {}
    for module, t, w in l1:
        if w == widths[0]:
            lo, hi = l1[(module, t, widths[0])], l1[(module, t, widths[-1])]
            out[(module, t)] = (lo, hi)
    return out


@pytest.mark.standard_promotion  # optax's bias correction: float ** int32
def test_coord_check_mlp_mup_flat_sp_grows():
    """mup's CoordCheckCase: under muP every module's l1 at widths 256 and 2048
    agrees within 1.2 for t = 1..3, and a zero readout gives output exactly 0 at
    t = 1; under SP (the negative control) the same check fails."""
    widths = (256, 2048)
    x = jax.random.normal(jax.random.key(0), (64, DIN))
    y = jax.random.randint(jax.random.key(1), (64,), 0, DOUT)
    rows = jm.coord_check(
        _mlp_fn,
        widths,
        x,
        y,
        _xent,
        jf.defaults("torch"),
        variants=("sp", "mup"),
        learning_rate=1e-2,
        override=ZERO_READOUT,
    )
    mu = _ratios(rows, "mup", widths)
    assert {m for m, _ in mu} == {"Dense_0", "Dense_1", "readout", "model"}
    for (module, t), (lo, hi) in mu.items():
        if t == 1 and module in ("readout", "model"):
            assert lo == hi == 0.0
        else:
            assert 1 / 1.2 < hi / lo < 1.2, (module, t, lo, hi)
    sp = _ratios(rows, "sp", widths)
    worst = max(hi / lo for (m, t), (lo, hi) in sp.items() if t > 1)
    assert worst > 4.0  # grows with width (8x wider)


def _train_losses(variant, width, base_width, lr, steps, x, y):
    """Training losses (before each of ``steps`` Adam steps, then after) of the
    MLP at ``width`` with a zero readout, under ``variant``."""
    mp = jm.parametrize(mlp(base_width), mlp(width), variant=variant)
    model = MLP(width, logit_mult=mp.output_multiplier)
    rules = {**ZERO_READOUT, **mp.rules(jf.defaults("torch"))}
    params = jinit.materialize(mlp(width), jax.random.key(2), rules)["params"]
    tx = mp.adam(lr)

    def loss(p):
        return _xent(model.apply({"params": p}, x), y)

    @jax.jit
    def train(p):
        def body(carry, _):
            p, s = carry
            value, g = jax.value_and_grad(loss)(p)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), value

        (p, _), values = jax.lax.scan(body, (p, tx.init(p)), None, steps)
        return jnp.append(values, loss(p))

    return np.asarray(train(params))


@pytest.mark.standard_promotion  # optax's bias correction: float ** int32
def test_wider_is_better_under_mup_not_sp():
    """mup's "wider is better" at one (large) Adam LR, 10 steps on one batch:
    under muP the training loss does not get worse as the width grows 64 ->
    256 -> 1024 (at step 0 it is log(10) at every width: zero readout); under
    SP at the same LR the widest is more than twice as bad as the narrowest."""
    x = jax.random.normal(jax.random.key(0), (128, DIN))
    y = jax.random.randint(jax.random.key(1), (128,), 0, DOUT)
    widths, lr = (64, 256, 1024), 2.0**-4
    mu = [_train_losses("mup", w, 64, lr, 10, x, y) for w in widths]
    # At the base width muP is SP bit for bit (tested above): SP's width 64 is mu[0].
    sp = mu[:1] + [_train_losses("sp", w, 64, lr, 10, x, y) for w in widths[1:]]
    for losses in mu + sp:
        np.testing.assert_allclose(losses[0], math.log(DOUT), rtol=1e-6)
    final_mu = [losses[-1] for losses in mu]
    assert final_mu[0] >= final_mu[1] >= final_mu[2], final_mu
    assert final_mu[0] < 0.5 * math.log(DOUT)  # it trained
    final_sp = [losses[-1] for losses in sp]
    assert final_sp[-1] > 2 * final_sp[0], final_sp


def test_plot_coord_check(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [
        {"variant": v, "width": w, "module": "Dense_0", "t": t, "l1": 1.0 + w / 100}
        for v in ("sp", "mup")
        for w in (64, 128)
        for t in (1, 2)
    ]
    fig = jm.plot_coord_check(rows, str(tmp_path / "cc.png"))
    assert len(fig.axes) == 4
    assert (tmp_path / "cc.png").stat().st_size > 0


# ----------------------------------------------------------------------------
# Multipliers, the table, errors.


def test_forward_multipliers():
    mp = jm.parametrize(lm(32), lm(128))
    sp = jm.parametrize(lm(32), lm(128), variant="sp")
    assert mp.attention_scale(64) == 1 / 64
    assert mp.attention_scale(64, base_head_dim=16) == 4 / 64
    assert sp.attention_scale(64) == 1 / 8
    assert (sp.output_multiplier, sp.residual_multiplier) == (1.0, 1.0)
    assert mp.readout_multipliers == {"params/readout/kernel": 0.25}
    q = jnp.ones((1, 3, 2, 4))
    out = jm.attention_fn(0.125)(q, q, q)
    np.testing.assert_allclose(
        out, nn.dot_product_attention(q / math.sqrt(2), q, q), rtol=1e-6
    )


def test_attention_fn_keeps_flax_masks():
    """Flax passes an attention_fn only the kwargs its signature names: the mask
    must reach it. At scale 1/sqrt(head_dim) it is Flax's own attention."""
    x = jax.random.normal(jax.random.key(0), (2, 6, 8))
    mask = nn.make_causal_mask(jnp.ones((2, 6)))
    ours = nn.MultiHeadDotProductAttention(2, attention_fn=jm.attention_fn(0.5))
    theirs = nn.MultiHeadDotProductAttention(2)
    params = jax.jit(theirs.init)(jax.random.key(1), x, mask=mask)
    np.testing.assert_allclose(
        jax.jit(ours.apply)(params, x, mask=mask),
        jax.jit(theirs.apply)(params, x, mask=mask),
        rtol=1e-5,
        atol=1e-6,
    )


def test_sp_rules_are_the_base_rules():
    rules = jf.defaults("flax")
    sp = jm.parametrize(mlp(64), mlp(256), variant="sp")
    assert list(sp.rules(rules).values()) == list(rules.values())


def test_format_table_lists_every_parameter():
    mp = jm.parametrize(mlp(64), mlp(256))
    text = jm.format_table(mp.table(jf.defaults("flax"), target=mlp(256)))
    lines = text.splitlines()
    assert len(lines) == 2 + 6
    assert re.search(
        r"\| params/Dense_1/kernel \| hidden \| weight \| \(0, 1\) \| 4 \| 0\.5 \|",
        text,
    )


@pytest.mark.standard_promotion  # optax inside
def test_errors():
    with pytest.raises(
        ValueError, match="`variant` must be one of.*Did you mean 'mup'"
    ):
        jm.parametrize(mlp(64), mlp(128), variant="mpu")
    with pytest.raises(ValueError, match="`alpha` must be 0.5 or 1"):
        jm.parametrize(lm(32), lm(64), variant="completep")
    with pytest.raises(ValueError, match="`alpha` must be None"):
        jm.parametrize(lm(32), lm(64), alpha=1)
    with pytest.raises(ValueError, match="`target` must be a tree with the leaf paths"):
        jm.parametrize(mlp(64), lm(64))
    with pytest.raises(ValueError, match="`blocks` must be a regex"):
        jm.parametrize(mlp(64), mlp(128), variant="completep", alpha=1)
    with pytest.raises(TypeError, match="`readout` must be a path regex"):
        jm.parametrize(mlp(64), mlp(128), readout=3)
    cp = jm.parametrize(lm(32), lm(64), variant="completep", alpha=1)
    with pytest.raises(ValueError, match="`optimizer` must be 'adam'"):
        cp.sgd(0.1)
    mp = jm.parametrize(mlp(64), mlp(128))
    with pytest.raises(ValueError, match="`optimizer` must be one of"):
        mp.scale_by_lr("adamw")
    with pytest.raises(ValueError, match="`params` must be a tree with the"):
        mp.adam(1e-3).init({"other": jnp.zeros(3)})
    with pytest.raises(
        ValueError, match="must be an initializer whose std jinit knows"
    ):
        jinit.materialize(
            mlp(128),
            jax.random.key(0),
            mp.rules({".*": jax.nn.initializers.lecun_normal()}),
        )
    with pytest.raises(TypeError, match="`head_dim` must be a positive int"):
        mp.attention_scale(8.0)


# ----------------------------------------------------------------------------
# u-μP against graphcore unit-scaling 0.3.5 (torch): forward scales, the unit
# init, the optimizers' per-parameter LR and weight decay, and training itself.
# torch weights are (out, in), Flax kernels (in, out): copied transposed.


def _uu():
    torch = pytest.importorskip("torch")
    uu = pytest.importorskip("unit_scaling")
    return torch, uu


def test_unit_scales_equal_unit_scaling_functional():
    """Each forward helper against the unit_scaling.functional op it stands for."""
    torch, uu = _uu()
    U = uu.functional
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 16))
    tx = torch.tensor(x)

    def close(ours, theirs):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12, atol=0)

    w = rng.standard_normal((8, 16))  # torch (out, in)
    tw = torch.tensor(w)
    close((x @ w.T) * jm.unit_linear_scale(16), U.linear(tx, tw, None))
    close(
        (x @ w.T) * jm.unit_linear_scale(16, readout=True),
        U.linear_readout(tx, tw, None),
    )
    erf = pytest.importorskip("scipy.special").erf
    for mult in (1.0, 0.5, 3.0):
        gelu = x * mult * 0.5 * (1 + erf(x * mult / math.sqrt(2))) / mult
        close(gelu * jm.unit_gelu_scale(mult), U.gelu(tx, mult=mult))
        silu = x / (1 + np.exp(-x * mult))
        close(silu * jm.unit_silu_scale(mult), U.silu(tx, mult=mult))
        g = x[::-1].copy()
        glu = x * g / (1 + np.exp(-g * mult))
        close(
            glu * jm.unit_silu_glu_scale(mult),
            U.silu_glu(tx, torch.tensor(g), mult=mult),
        )
    rule = uu.core.functional.transformer_residual_scaling_rule
    for r, q in ((1.0, 1.0), (0.5, 2.0)):
        for i in range(6):
            assert jm.unit_residual_tau(
                i, 6, residual_mult=r, residual_attn_ratio=q
            ) == pytest.approx(rule(r, q)(i, 6), rel=1e-15)
    for tau in (0.0, 0.3, 2.0):
        branch, skip = jm.unit_residual_weights(tau)
        close(branch * np.tanh(x) + skip * x, U.residual_apply(torch.tanh, tx, tau=tau))
    # Attention (b, h, s, d) in torch: logits mult / d_head, output x the scale.
    q, k, v = (rng.standard_normal((2, 3, 6, 8)) for _ in range(3))
    for causal, mult in ((True, 1.0), (False, 2.0)):
        logits = mult / 8 * np.einsum("bhqd,bhkd->bhqk", q, k)
        if causal:
            logits = np.where(np.tril(np.ones((6, 6), bool)), logits, -np.inf)
        p = np.exp(logits - logits.max(-1, keepdims=True))
        out = (p / p.sum(-1, keepdims=True)) @ v
        scale = jm.unit_attention_output_scale(6, 8, mult=mult, causal=causal)
        theirs = U.scaled_dot_product_attention(
            *(torch.tensor(t) for t in (q, k, v)), is_causal=causal, mult=mult
        )
        np.testing.assert_allclose(out * scale, theirs.numpy(), rtol=1e-10)


class UnitBlock(nn.Module):
    """unit_scaling.TransformerLayer in Flax: the u-μP recipe of jinit.mup."""

    d: int
    heads: int
    taus: tuple[float, float]

    @nn.compact
    def __call__(self, x):
        b, s, d = x.shape
        dh = d // self.heads
        scale = jm.unit_linear_scale
        branch, skip = jm.unit_residual_weights(self.taus[0])
        y = nn.RMSNorm(epsilon=1e-5, use_scale=False)(x)
        qkv = nn.Dense(3 * d, use_bias=False, name="qkv")(y) * scale(d)
        q, k, v = jnp.moveaxis(qkv.reshape(b, s, 3, self.heads, dh), 2, 0)
        mask = nn.make_causal_mask(jnp.ones((b, s)))
        a = jm.attention_fn(1 / dh)(q, k, v, mask=mask)
        a = a * jm.unit_attention_output_scale(s, dh, causal=True)
        a = nn.Dense(d, use_bias=False, name="o")(a.reshape(b, s, d)) * scale(d)
        x = branch * a + skip * x
        branch, skip = jm.unit_residual_weights(self.taus[1])
        y = nn.RMSNorm(epsilon=1e-5, use_scale=False)(x)
        u = nn.Dense(4 * d, use_bias=False, name="fc1")(y) * scale(d)
        g = nn.Dense(4 * d, use_bias=False, name="gate")(y) * scale(d)
        z = u * nn.silu(g) * jm.unit_silu_glu_scale()
        z = nn.Dense(d, use_bias=False, name="fc2")(z) * scale(4 * d)
        return branch * z + skip * x


class UnitDecoder(nn.Module):
    """unit_scaling.TransformerDecoder (embedding, layers, RMSNorm, readout)."""

    d: int
    layers: int = 2
    heads: int = 2

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(VOCAB, self.d)(tokens)
        for i in range(self.layers):
            taus = (
                jm.unit_residual_tau(2 * i, 2 * self.layers),
                jm.unit_residual_tau(2 * i + 1, 2 * self.layers),
            )
            x = UnitBlock(self.d, self.heads, taus, name=f"layers_{i}")(x)
        x = nn.RMSNorm(epsilon=1e-5, use_scale=False)(x)
        head = nn.Dense(VOCAB, use_bias=False, name="head")(x)
        return head * jm.unit_linear_scale(self.d, readout=True)


_UU_LAYER = {
    "mhsa.linear_qkv": "qkv",
    "mhsa.linear_o": "o",
    "mlp.linear_1": "fc1",
    "mlp.linear_gate": "gate",
    "mlp.linear_2": "fc2",
}


def uu_decoder_path(name):
    """unit_scaling.TransformerDecoder parameter name -> UnitDecoder leaf path."""
    if name == "embedding.weight":
        return "params/Embed_0/embedding"
    if name == "projection.weight":
        return "params/head/kernel"
    _, i, module = name.removesuffix(".weight").split(".", 2)
    return f"params/layers_{i}/{_UU_LAYER[module]}/kernel"


def _umup_decoder(d, layers=2, **kwargs):
    tokens = jnp.zeros((2, SEQ), jnp.int32)
    return jm.parametrize(
        jf.abstract(UnitDecoder(16, layers), tokens),
        jf.abstract(UnitDecoder(d, layers), tokens),
        variant="umup",
        blocks=r"params/layers_\d+/.*",
        depth=layers,
        **kwargs,
    )


def _to_flax(torch_params, path_of):
    """torch parameters -> a Flax params tree (Linear weights transposed)."""
    tree: dict = {}
    for name, p in torch_params:
        path = path_of(name)
        value = p.detach().numpy()
        if path.endswith("/kernel"):
            value = value.T
        node = tree
        *parents, leaf = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = jnp.asarray(value)
    return tree


@pytest.mark.standard_promotion  # optax's bias correction: float ** int32
def test_umup_trains_as_unit_scaling_transformer_decoder(x64):
    """The Flax recipe + mp.adam trains as unit_scaling.TransformerDecoder with
    unit_scaling.optim.AdamW: same logits at init, same weights after 3 steps.

    unit-scaling's backward-only scales make each tensor's gradient a constant
    multiple of JAX's true gradient; Adam (eps 1e-30 here) is invariant to that,
    so the trajectories agree to float64 rounding. This checks the forward
    scales, the LR rule per parameter (fan_in^-1/2, the depth factor 2^-1/2,
    the readout's 1) and the independent weight decay at once.
    """
    torch, uu = _uu()
    d, layers, lr, wd = 32, 2, 2.0**-5, 2.0**-6
    torch.manual_seed(0)
    ref = uu.TransformerDecoder(d, VOCAB, layers, heads=2).double()
    tokens = np.random.default_rng(0).integers(0, VOCAB, (4, SEQ + 1))
    mp = _umup_decoder(d, layers)
    params = _to_flax(ref.named_parameters(), uu_decoder_path)["params"]
    model = UnitDecoder(d, layers)
    # unit-scaling's RMSNorm takes the rms in float32 (`x.float()`): each row
    # carries a ~1e-7 relative error, so compare to 1e-6 of the logits' scale.
    theirs = ref(torch.tensor(tokens)).detach().numpy()
    np.testing.assert_allclose(
        jax.jit(model.apply)({"params": params}, jnp.asarray(tokens)),
        theirs,
        rtol=0,
        atol=1e-6 * np.abs(theirs).max(),
    )
    opt = uu.optim.AdamW(ref.parameters(), lr=lr, weight_decay=wd, eps=1e-30)
    tx = mp.adam(lr, eps=1e-30, weight_decay=wd)
    state = tx.init(params)

    def loss(p):
        # As TransformerDecoder.loss: the whole sequence in (the attention
        # output scale depends on its length), the last logits dropped.
        logits = model.apply({"params": p}, jnp.asarray(tokens))[:, :-1]
        return optax.softmax_cross_entropy_with_integer_labels(
            logits, jnp.asarray(tokens[:, 1:])
        ).mean()

    @jax.jit
    def step(params, state):
        updates, state = tx.update(jax.grad(loss)(params), state, params)
        return optax.apply_updates(params, updates), state

    start = {n: p.detach().clone() for n, p in ref.named_parameters()}
    for _ in range(3):
        opt.zero_grad()
        ref.loss(torch.tensor(tokens)).backward()
        opt.step()
        params, state = step(params, state)
    flat = {
        jinit._tree.path_string(k): v
        for k, v in jax.tree_util.tree_leaves_with_path(params)
    }
    for name, p in ref.named_parameters():
        path = uu_decoder_path(name)
        theirs = (p - start[name]).detach().numpy()
        ours = np.asarray(flat[path.removeprefix("params/")]) - (
            start[name].numpy().T if path.endswith("/kernel") else start[name].numpy()
        )
        if path.endswith("/kernel"):
            theirs = theirs.T
        # The steps are lr * lr_mult * O(1): compare them to 1e-4 of lr (the
        # reference's float32 rms, above, moves Adam's m / sqrt(v) by ~1e-5 lr
        # where a gradient changes sign between steps).
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * lr, err_msg=name)
        assert np.abs(theirs).max() > 0.5 * lr * mp[path].adam_lr, name


class UnitLM(nn.Module):
    """A u-μP LM with biases and norm scales, its blocks nn.scan-stacked."""

    d: int
    depth: int = 3

    @nn.compact
    def __call__(self, tokens):
        class Layer(nn.Module):
            d: int

            @nn.compact
            def __call__(self, x, _):
                x = nn.LayerNorm(name="norm1")(x)
                x = nn.Dense(3 * self.d, use_bias=False, name="qkv")(x)[..., : self.d]
                x = nn.Dense(self.d, use_bias=False, name="o")(x)
                x = nn.RMSNorm(name="norm2")(x)
                x = nn.Dense(4 * self.d, name="fc1")(x)
                return nn.Dense(self.d, name="fc2")(x), None

        x = nn.Embed(VOCAB, self.d)(tokens)
        stack = nn.scan(
            Layer,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            length=self.depth,
        )
        x, _ = stack(self.d, name="layers")(x, None)
        x = nn.RMSNorm(name="final")(x)
        return nn.Dense(VOCAB, name="head")(x)


def torch_unit_lm(d, depth=3):
    torch, uu = _uu()

    class Layer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = uu.LayerNorm(d, elementwise_affine=True)
            self.mhsa = uu.MHSA(d, 2, is_causal=True)
            self.norm2 = uu.RMSNorm(d, elementwise_affine=True)
            self.fc1 = uu.Linear(d, 4 * d, bias=True)
            self.fc2 = uu.Linear(4 * d, d, bias=True)

    class LM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = uu.Embedding(VOCAB, d)
            self.layers = uu.DepthModuleList([Layer() for _ in range(depth)])
            self.final = uu.RMSNorm(d, elementwise_affine=True)
            self.head = uu.LinearReadout(d, VOCAB, bias=True)

    return LM()


def unit_lm_path(name):
    kind = name.rsplit(".", 1)[1]
    if name.startswith("emb."):
        return "params/Embed_0/embedding"
    if name.startswith(("final.", "head.")):
        module = name.split(".")[0]
        return f"params/{module}/" + (
            "scale" if module == "final" else {"weight": "kernel", "bias": "bias"}[kind]
        )
    module = name.split(".")[2]
    if module == "mhsa":
        module = {"linear_qkv": "qkv", "linear_o": "o"}[name.split(".")[3]]
    leaf = {"weight": "kernel", "bias": "bias"}[kind]
    if module.startswith("norm"):
        leaf = "scale" if kind == "weight" else "bias"
    return f"params/layers/{module}/{leaf}"


def _unit_lm(d, depth=3, base=16, **kwargs):
    return jm.parametrize(
        jf.abstract(UnitLM(base, depth), TOKENS),
        jf.abstract(UnitLM(d, depth), TOKENS),
        variant="umup",
        **kwargs,
    )


@pytest.mark.parametrize("arch", ["decoder", "lm"])
def test_umup_lr_and_wd_equal_unit_scaling_optimizers(arch):
    """Per parameter: unit_scaling.optim.AdamW's and SGD's (both readout
    constraints) group LR and weight decay = lr x jinit's multipliers and
    (wd / lr) x jinit's decay multiplier; the kinds are its mup_types."""
    torch, uu = _uu()
    lr, wd = 0.3, 0.1
    if arch == "decoder":
        model, path = uu.TransformerDecoder(64, VOCAB, 3, heads=2), uu_decoder_path
        make = functools.partial(_umup_decoder, 64, 3)
    else:
        model, path = torch_unit_lm(64), unit_lm_path
        make = functools.partial(_unit_lm, 64)
    params = list(model.parameters())
    seen = set()
    for constraint in (None, "to_output_scale"):
        mp = make(readout_constraint=constraint)
        adam = uu.optim.AdamW(params, lr=lr, weight_decay=wd)
        sgd = uu.optim.SGD(
            params, lr=lr, weight_decay=wd, readout_constraint=constraint
        )
        for name, p in model.named_parameters():
            mine = mp[path(name)]
            seen.add(mine.path)
            assert mine.kind == p.mup_type, name
            assert mine.depth == p.mup_scaling_depth, name
            assert lr * mine.adam_lr == pytest.approx(
                _group_values(adam, "lr")[id(p)], rel=1e-14
            ), name
            assert wd / lr * mine.adam_wd == pytest.approx(
                _group_values(adam, "weight_decay")[id(p)], rel=1e-14
            ), name
            assert lr * mine.sgd_lr == pytest.approx(
                _group_values(sgd, "lr")[id(p)], rel=1e-14
            ), name
            assert wd / lr * mine.sgd_wd == pytest.approx(
                _group_values(sgd, "weight_decay")[id(p)], rel=1e-14
            ), name
            assert mine.adam_eps == 1.0
    assert seen == {p.path for p in mp.params}
    # The rules are absolute: another base width gives the same multipliers.
    if arch == "lm":
        other = _unit_lm(64, base=8)
        assert [(p.adam_lr, p.sgd_lr, p.kind) for p in other.params] == [
            (p.adam_lr, p.sgd_lr, p.kind) for p in _unit_lm(64).params
        ]


def test_umup_init_equals_unit_scaling_init():
    """mp.rules() draws what unit-scaling's modules draw: weights (embedding and
    readout too) N(0, 1) (pooled two-sample KS against torch's own draws, and
    the std within 6 sigma of its estimate), biases 0, norm scales 1."""
    torch, _ = _uu()
    stats = pytest.importorskip("scipy.stats")
    torch.manual_seed(0)
    ref = torch_unit_lm(32)
    mp = _unit_lm(32)
    target = jf.abstract(UnitLM(32), TOKENS)
    drawn = jinit.materialize(target, jax.random.key(0), mp.rules())
    flat = {
        "params/" + jinit._tree.path_string(k): np.asarray(v, np.float64)
        for k, v in jax.tree_util.tree_leaves_with_path(drawn["params"])
    }
    ours, theirs = [], []
    for name, p in ref.named_parameters():
        path = unit_lm_path(name)
        value, kind = flat[path], mp[path].kind
        assert kind == p.mup_type, name
        if kind in ("weight", "output"):
            ours.append(value.ravel())
            theirs.append(p.detach().numpy().astype(np.float64).ravel())
        else:
            expected = 1.0 if kind == "norm" else 0.0
            assert np.all(value == expected) and bool((p == expected).all()), name
    ours, theirs = np.concatenate(ours), np.concatenate(theirs)
    assert stats.ks_2samp(ours, theirs).pvalue > 1e-3
    n = ours.size  # std of a normal sample: relative error sqrt(1 / (2n))
    assert abs(ours.std() - 1) < 6 * math.sqrt(1 / (2 * n))
    rows = {r["path"]: r for r in mp.table(target=target)}
    assert rows["params/head/kernel"]["init_mult"] is None
    assert [
        rows[p][c]
        for p, c in [
            ("params/head/kernel", "std"),
            ("params/head/bias", "std"),
            ("params/final/scale", "std"),
        ]
    ] == [1.0, 0.0, 0.0]
    text = jm.format_table(mp.table())
    assert re.search(r"\| params/head/kernel \| readout \| output \|", text)
    with pytest.raises(ValueError, match="`base_rules` must be None under"):
        mp.rules(jf.defaults("flax"))


def test_umup_forward_multipliers_and_helpers():
    mp = _unit_lm(64)
    assert mp.output_multiplier == 1 / 64
    fwd = mp.forward_multipliers
    assert fwd["params/head/kernel"] == 1 / 64
    assert fwd["params/layers/fc2/kernel"] == 256**-0.5
    assert fwd["params/Embed_0/embedding"] == 1.0
    assert mp.attention_scale(16) == 1 / 16
    with pytest.raises(ValueError, match="`residual_multiplier` must be read under"):
        mp.residual_multiplier  # noqa: B018
    assert jm.unit_residual_weights(0.0) == (0.0, 1.0)
    # Depth: inferred from the nn.scan stack (3 layers) and the 1 / sqrt(3) factor.
    fc1 = mp["params/layers/fc1/kernel"]
    assert (fc1.depth, fc1.adam_lr) == (3, pytest.approx(3**-0.5 * 64**-0.5))
    assert mp["params/head/kernel"].depth is None
    # Absolute rules: at the base width itself (readout named) they are those
    # of any other base.
    same = jm.parametrize(
        mlp(128), mlp(128), variant="umup", readout=r".*/readout/kernel"
    )
    other = jm.parametrize(mlp(64), mlp(128), variant="umup")
    fields = ("kind", "adam_lr", "adam_wd", "sgd_lr", "forward")
    assert [[getattr(p, f) for f in fields] for p in same.params] == [
        [getattr(p, f) for f in fields] for p in other.params
    ]
    assert same.output_multiplier == 1 / 128
    with pytest.raises(ValueError, match="`depth` must be None unless"):
        jm.parametrize(mlp(64), mlp(128), depth=2)
    with pytest.raises(ValueError, match="`blocks` must be a regex naming"):
        jm.parametrize(mlp(64), mlp(128), variant="umup", depth=2)
    with pytest.raises(ValueError, match="`depth` must be given where"):
        jm.parametrize(mlp(64), mlp(128), variant="umup", blocks=r".*/Dense_1/.*")
    with pytest.raises(ValueError, match="`readout_constraint` must be one of"):
        _unit_lm(64, readout_constraint="to_grad_input_scale")
    with pytest.raises(ValueError, match="`peak_learning_rate` must be the"):
        mp.adam(optax.constant_schedule(1e-3), weight_decay=0.1)
    with pytest.raises(ValueError, match="`dropout` must be a rate"):
        jm.unit_attention_output_scale(8, 4, dropout=1.0)
    with pytest.raises(TypeError, match="`fan_in` must be a positive int"):
        jm.unit_linear_scale(8.0)
