"""jinit.optim.muon: the routing and the matrix views, against optax.contrib.muon.

The same tiny Llama (embedding, RMSNorm, DenseGeneral q/k/v/o with their head
axes, a gated MLP, an untied lm_head), linen unrolled and ``nn.scan``-stacked
and nnx: ``jinit.optim.muon``'s updates after two steps equal
``optax.contrib.muon``'s given the hand-written dimension numbers, bit for bit
(``shape_scaling`` and ``spectral`` are optax's own scales). The routing is
MaxText's and DeepSeek-V4's (embedding, head, norms to Adam; gates named).
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")
optax = pytest.importorskip("optax")

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402
from jinit import mup, optim  # noqa: E402

pytestmark = pytest.mark.standard_promotion  # optax's and Flax's internals

mdn = optax.contrib.MuonDimensionNumbers
V, D, H, HD, F = 40, 16, 2, 8, 24  # vocab, width, heads, head dim, MLP width
TOK = jnp.arange(6, dtype=jnp.int32).reshape(1, 6) % V


class Block(nn.Module):
    @nn.compact
    def __call__(self, x, _=None):
        h = nn.RMSNorm(name="attn_norm")(x)
        q = nn.DenseGeneral((H, HD), use_bias=False, name="q")(h)
        k = nn.DenseGeneral((H, HD), use_bias=False, name="k")(h)
        v = nn.DenseGeneral((H, HD), use_bias=False, name="v")(h)
        a = nn.dot_product_attention(q, k, v)
        x = x + nn.DenseGeneral(D, axis=(-2, -1), use_bias=False, name="o")(a)
        h = nn.RMSNorm(name="mlp_norm")(x)
        g = nn.Dense(F, use_bias=False, name="gate")(h)
        u = nn.Dense(F, use_bias=False, name="up")(h)
        x = x + nn.Dense(D, use_bias=False, name="down")(nn.silu(g) * u)
        return x, None


class Llama(nn.Module):
    scan: bool = False

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(V, D, name="embed")(tokens)
        if self.scan:
            stack = nn.scan(
                Block,
                variable_axes={"params": 0},
                split_rngs={"params": True},
                length=2,
            )
            x, _ = stack(name="layers")(x, None)
        else:
            for i in range(2):
                x, _ = Block(name=f"layer_{i}")(x)
        x = nn.RMSNorm(name="norm")(x)
        return nn.Dense(V, use_bias=False, name="lm_head")(x)


def _llama_dims(prefix, stacked):
    """Hand-written numbers, as MaxText writes them (a leading stack axis)."""
    s = 1 if stacked else 0

    def ax(*a):
        return tuple(x + s for x in a)

    return {
        f"{prefix}/attn_norm/scale": None,
        f"{prefix}/mlp_norm/scale": None,
        f"{prefix}/q/kernel": mdn(ax(0), ax(1, 2)),
        f"{prefix}/k/kernel": mdn(ax(0), ax(1, 2)),
        f"{prefix}/v/kernel": mdn(ax(0), ax(1, 2)),
        f"{prefix}/o/kernel": mdn(ax(0, 1), ax(2)),
        f"{prefix}/gate/kernel": mdn(ax(0), ax(1)),
        f"{prefix}/up/kernel": mdn(ax(0), ax(1)),
        f"{prefix}/down/kernel": mdn(ax(0), ax(1)),
    }


def _hand(scan):
    out = {"embed/embedding": None, "norm/scale": None, "lm_head/kernel": None}
    if scan:
        out.update(_llama_dims("layers", True))
    else:
        for i in range(2):
            out.update(_llama_dims(f"layer_{i}", False))
    return out


def _as_tree(by_path, like):
    flat, treedef = jax.tree_util.tree_flatten_with_path(like)
    keys = [jinit._tree.path_string(k).removesuffix("/value") for k, _ in flat]
    return jax.tree_util.tree_unflatten(treedef, [by_path[k] for k in keys])


_CACHE: dict = {}


def _random_like(tree, seed):
    """A tree of N(0, 1) arrays of ``tree``'s shapes (updates need no real model)."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda x: jnp.asarray(rng.standard_normal(x.shape), jnp.float32), tree
    )


def _linen(scan):
    """The abstract Llama, parameters and two gradients of its shapes."""
    if scan not in _CACHE:
        abstract = jf.abstract(Llama(scan=scan), TOK)["params"]
        params = jax.tree.map(lambda x: 0.1 * x, _random_like(abstract, 0))
        grads = [_random_like(abstract, 1), _random_like(abstract, 2)]
        _CACHE[scan] = abstract, params, grads
    return _CACHE[scan]


def _run(tx, params, grads):
    """``params`` after one step per gradient (one compiled program)."""

    @jax.jit
    def run(params, grads):
        state = tx.init(params)
        for g in grads:
            updates, state = tx.update(g, state, params)
            params = optax.apply_updates(params, updates)
        return params

    return run(params, grads)


@pytest.mark.parametrize("scan", [False, True], ids=["unrolled", "scanned"])
def test_routing_and_numbers_are_the_hand_written_ones(scan):
    abstract = jf.abstract(Llama(scan=scan), TOK)["params"]
    dims = optim.dimension_numbers(abstract, readout=r"lm_head/kernel")
    assert dims == _hand(scan)


@pytest.mark.parametrize(
    ("scan", "scale", "rms"),
    [(False, "shape_scaling", None), (True, "spectral", 0.2)],
    ids=["unrolled-shape_scaling", "scanned-spectral"],
)
def test_updates_equal_optax_muon_with_hand_numbers(scan, scale, rms):
    abstract, params, grads = _linen(scan)
    kw = dict(
        weight_decay=0.1, adam_weight_decay=0.01, adam_learning_rate=3e-3, ns_steps=1
    )
    ours = optim.muon(abstract, 0.02, scale=scale, readout=r"lm_head/kernel", **kw)
    theirs = optax.contrib.muon(
        0.02,
        muon_weight_dimension_numbers=_as_tree(_hand(scan), params),
        consistent_rms=rms,
        **kw,
    )
    a, b = _run(ours, params, grads), _run(theirs, params, grads)
    jax.tree.map(np.testing.assert_array_equal, a, b)
    moved = jax.tree.map(lambda x, y: bool(jnp.any(x != y)), a, params)
    assert all(jax.tree.leaves(moved))


def test_unit_rms_norm_is_optax_update_times_sqrt_fan_ratio():
    abstract, params, grads = _linen(False)
    dims = _hand(False)
    tx = optim.muon(abstract, 0.02, readout="lm_head/kernel", ns_steps=1)
    ours = _run(tx, params, grads[:1])
    theirs = _run(
        optax.contrib.muon(
            0.02, muon_weight_dimension_numbers=_as_tree(dims, params), ns_steps=1
        ),
        params,
        grads[:1],
    )
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    leaves = zip(flat, jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True)
    for (k, p), a, b in leaves:
        d = dims[jinit._tree.path_string(k)]
        du, dt = np.asarray(a - p), np.asarray(b - p)
        if d is None:
            np.testing.assert_array_equal(du, dt)
            continue
        fi = np.prod([p.shape[i] for i in d.reduction_axis])
        fo = np.prod([p.shape[i] for i in d.output_axis])
        ratio = np.sqrt(fo / fi) / np.sqrt(max(1.0, fo / fi))
        np.testing.assert_allclose(du, dt * ratio, rtol=1e-5, atol=1e-7)
        assert ratio != 1.0 or fo >= fi


class NnxLlama(nnx.Module):
    def __init__(self, rngs):
        self.embed = nnx.Embed(V, D, rngs=rngs)
        self.q = nnx.LinearGeneral(D, (H, HD), use_bias=False, rngs=rngs)
        self.o = nnx.LinearGeneral((H, HD), D, axis=(-2, -1), use_bias=False, rngs=rngs)
        self.up = nnx.Linear(D, F, use_bias=False, rngs=rngs)
        self.norm = nnx.RMSNorm(D, rngs=rngs)
        self.lm_head = nnx.Linear(D, V, use_bias=False, rngs=rngs)

    def __call__(self, tokens):
        x = self.embed(tokens)
        q = self.q(x)
        x = x + self.o(nnx.dot_product_attention(q, q, q))
        x = x + self.up(x) @ self.up.kernel[...].T
        return self.lm_head(self.norm(x))


def test_nnx_llama_in_nnx_optimizer_equals_optax_muon():
    abstract = jf.abstract(lambda: NnxLlama(nnx.Rngs(0)))
    hand = {
        "embed/embedding": None,
        "q/kernel": mdn((0,), (1, 2)),
        "o/kernel": mdn((0, 1), (2,)),
        "up/kernel": mdn((0,), (1,)),
        "norm/scale": None,
        "lm_head/kernel": None,
    }
    assert optim.dimension_numbers(abstract, readout="lm_head/kernel") == hand

    shapes = nnx.state(nnx.eval_shape(lambda: NnxLlama(nnx.Rngs(0))), nnx.Param)
    params = _random_like(shapes, 0)
    grads = [_random_like(params, 1), _random_like(params, 2)]
    # nnx state paths end in ".../value", as nnx.Optimizer hands them to optax.
    ours = optim.muon(
        abstract, 0.02, scale="shape_scaling", readout="lm_head/kernel", ns_steps=1
    )
    theirs = optax.contrib.muon(
        0.02, muon_weight_dimension_numbers=_as_tree(hand, params), ns_steps=1
    )
    a, b = _run(ours, params, grads), _run(theirs, params, grads)
    jax.tree.map(np.testing.assert_array_equal, a, b)


# ----------------------------------------------------------------------------
# MaxText's and DeepSeek-V4's routing (MaxText muon_utils.transform_logic).


class MoE(nn.Module):
    """DeepSeek-like block: a router and experts declared as (E, d, f) arrays."""

    @nn.compact
    def __call__(self, x):
        gate = nn.Dense(4, use_bias=False, name="gate")(x)
        wi = self.param("wi", nn.initializers.lecun_normal(), (4, D, F))
        wo = self.param("wo", nn.initializers.lecun_normal(), (4, F, D))
        h = jnp.einsum("btd,edf->btef", x, wi)
        return jnp.einsum("btef,efd,bte->btd", h, wo, gate)


class DeepSeekLike(nn.Module):
    width: int = D

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(V, D, name="embedding")(tokens)
        x = x + MoE(name="MoeBlock_0")(nn.RMSNorm(name="pre_norm")(x))
        x = x + nn.Dense(D, name="mlp")(x)
        return nn.Dense(V, use_bias=False, name="logits_dense")(nn.RMSNorm()(x))


def test_routing_of_maxtext_and_deepseek_v4():
    abstract = jf.abstract(DeepSeekLike(), TOK)["params"]
    with pytest.raises(ValueError, match=r"MoeBlock_0/wi.*adam_for="):
        optim.dimension_numbers(abstract, readout="logits_dense/kernel")
    dims = optim.dimension_numbers(
        abstract,
        readout="logits_dense/kernel",
        adam_for=[r".*/gate/kernel"],  # DeepSeek-V4: gating factors to AdamW
        dimension_numbers={r".*MoeBlock_0/w[io]": mdn((-2,), (-1,))},  # MaxText's
    )
    assert dims == {
        "MoeBlock_0/gate/kernel": None,
        "MoeBlock_0/wi": mdn((-2,), (-1,)),
        "MoeBlock_0/wo": mdn((-2,), (-1,)),
        "RMSNorm_0/scale": None,
        "embedding/embedding": None,
        "logits_dense/kernel": None,
        "mlp/bias": None,
        "mlp/kernel": mdn((0,), (1,)),
        "pre_norm/scale": None,
    }


def test_readout_found_by_width_and_input_to_muon():
    base = jf.abstract(Llama(), TOK)["params"]
    r = jinit.roles(base, base=base, readout="lm_head/kernel")
    assert r["lm_head/kernel"].role == "readout"
    assert r["layer_0/q/kernel"].role == "hidden"
    assert r["layer_0/q/kernel"].fan_out_axes == (1, 2)
    assert r["embed/embedding"].role == "embedding"


def test_named_errors():
    abstract = jf.abstract(Llama(), TOK)["params"]
    with pytest.raises(ValueError, match="readout"):
        optim.muon(abstract, 0.02)  # one model: the readout must be named
    with pytest.raises(ValueError, match="scale"):
        optim.muon(abstract, 0.02, readout=None, scale="spectral_mup")
    with pytest.raises(ValueError, match="conv"):
        optim.muon(abstract, 0.02, readout=None, conv="taps")
    with pytest.raises(ValueError, match="adam_for"):
        optim.muon(abstract, 0.02, readout=None, adam_for=[r"nope/.*"])
    with pytest.raises(ValueError, match="learning_rate"):
        optim.muon(abstract, -1.0, readout=None)


# ----------------------------------------------------------------------------
# μP with Muon: the coord check, and the Parametrization's Adam multipliers.


class MLP(nn.Module):
    width: int
    logit_mult: float = 1.0

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.width)(x))
        x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(10, name="readout")(x * self.logit_mult)


def _mlp_fn(width, mp):
    return MLP(width, logit_mult=mp.output_multiplier)


def _xent(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def test_coord_check_under_muon_mup_flat_sp_grows():
    """Muon on the hidden weights (unit_rms_norm), μP Adam on the rest: every
    module's l1 at widths 64 and 512 agrees within 1.2 for t = 1..3 under μP
    (zero readout, as mup's check); under SP the readout's Adam update makes the
    output grow with width (3.7x here)."""
    widths = (64, 512)
    x = jax.random.normal(jax.random.key(0), (32, 12))
    y = jax.random.randint(jax.random.key(1), (32,), 0, 10)
    rows = mup.coord_check(
        _mlp_fn,
        widths,
        x,
        y,
        _xent,
        jf.defaults("torch"),
        optimizer=lambda mp, lr: optim.muon(mp, lr, ns_steps=1),
        learning_rate=2e-2,
        readout=r".*readout/kernel",
        override={r".*/readout/kernel": jinit.zeros},
    )
    l1 = {(r["variant"], r["module"], r["t"], r["width"]): r["l1"] for r in rows}
    ratio = {
        (v, m, t): l1[(v, m, t, widths[1])] / l1[(v, m, t, widths[0])]
        for (v, m, t, w) in l1
        if w == widths[0]
    }
    mu = {k: r for k, r in ratio.items() if k[0] == "mup"}
    assert {m for _, m, _ in mu} == {"Dense_0", "Dense_1", "readout", "model"}
    assert all(1 / 1.2 < r < 1.2 for r in mu.values()), mu
    assert max(r for (v, m, t), r in ratio.items() if v == "sp" and t > 1) > 2.0


def test_muon_of_a_parametrization_takes_its_adam_multipliers():
    """Under "mup_table3" the readout's Adam LR is ``1 / m``: its update is the
    plain routing's times 1/m; the Muon leaves' updates are the plain ones."""
    base = jf.abstract(MLP(16), jnp.zeros((2, 12)))
    target = jf.abstract(MLP(64), jnp.zeros((2, 12)))
    mp = mup.parametrize(base, target, variant="mup_table3")
    params = _random_like(target["params"], 0)
    grads = _random_like(params, 1)
    plain = optim.muon(target, 1e-2, base=base, ns_steps=1)
    ours = optim.muon(mp, 1e-2, ns_steps=1)
    a = jax.jit(plain.update)(grads, plain.init(params), params)[0]
    b = jax.jit(ours.update)(grads, ours.init(params), params)[0]
    assert mp.roles is not None and mp.roles["params/readout/kernel"].role == "readout"
    for path in ("Dense_0/kernel", "Dense_1/kernel", "Dense_0/bias"):
        module, leaf = path.split("/")
        np.testing.assert_array_equal(a[module][leaf], b[module][leaf])
    np.testing.assert_allclose(
        b["readout"]["kernel"], a["readout"]["kernel"] / 4, rtol=1e-6
    )


def test_coord_check_names_its_optimizers():
    with pytest.raises(ValueError, match="optimizer.*'muon'"):
        mup.coord_check(
            _mlp_fn, (8,), jnp.zeros((2, 12)), None, _xent, {}, optimizer="lion"
        )


def test_bench_mup_transfer_muon_quick_smoke(tmp_path):
    """``bench/mup_transfer.py --optimizer muon`` runs end to end (tiny; no claim)."""
    import importlib.util
    import os
    import sys

    path = os.path.join(os.path.dirname(__file__), "..", "bench", "mup_transfer.py")
    spec = importlib.util.spec_from_file_location("mup_transfer", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["mup_transfer"] = bench  # its Flax modules are dataclasses
    spec.loader.exec_module(bench)
    bench.main(
        "--optimizer muon --quick --variants mup --widths 8 --steps 1 "
        f"--lrs=-5,-5 --depth 1 --seq 4 --batch 2 --out {tmp_path}".split()
    )
    text = (tmp_path / "mup_transfer_muon.md").read_text()
    assert "Muon LR" in text and "### mup" in text


def test_optax_is_optional_and_roles_are_not_given_twice(monkeypatch):
    abstract = jf.abstract(Llama(), TOK)["params"]
    r = jinit.roles(abstract, readout="lm_head/kernel")
    with pytest.raises(ValueError, match="`readout` must be left out"):
        optim.muon(r, 0.02, readout=None)
    monkeypatch.setitem(sys.modules, "optax", None)
    with pytest.raises(
        ImportError, match=r"pip install 'jinit\[optim\]' \(or 'optax>=0.2.8'\)"
    ):
        optim.muon(r, 0.02)


class Experts(nn.Module):
    """Two MoE layouts: experts declared in one (E, d, f) call, and vmapped Denses."""

    @nn.compact
    def __call__(self, x):
        w = self.param("kernel", nn.initializers.lecun_normal(), (4, D, F))
        h = jnp.einsum("td,edf->etf", x, w)
        dense = nn.vmap(
            nn.Dense,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=0,
            out_axes=0,
            axis_size=4,
        )
        return dense(D, name="down")(h)


def test_experts_are_batch_axes():
    tree = jf.abstract(Experts(), jnp.zeros((3, D)))["params"]
    assert optim.dimension_numbers(tree, readout=None) == {
        "kernel": mdn((1,), (2,)),  # (E, d, f): E a batch axis
        "down/kernel": mdn((1,), (2,)),  # nn.vmap's (E, f, d)
        "down/bias": None,
    }
    r = jinit.roles(tree, readout=None)
    assert r["down/kernel"].stacked_axes == (0,)
    assert r["kernel"].receptive_axes == (0,) and not r["kernel"].conv
