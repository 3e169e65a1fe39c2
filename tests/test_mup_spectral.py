"""Spectral μP, SP + embedding LR, OLMo-core's abc forms, Scion/Modula presets,
and CompleteP's depth compensation (issue 25, items 3-5)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

nn = pytest.importorskip("flax.linen")
torch = pytest.importorskip("torch")

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402
import jinit.mup as jm  # noqa: E402
import jinit.schemes as js  # noqa: E402
from jinit.schemes._depth import DepthScaled, residual_scaled  # noqa: E402

VOCAB, SEQ = 48, 4
TOKENS = jnp.zeros((2, SEQ), jnp.int32)


class Block(nn.Module):
    d: int

    @nn.compact
    def __call__(self, x, _):
        q = nn.DenseGeneral((2, self.d // 2), name="query")(nn.LayerNorm()(x))
        x = x + nn.DenseGeneral(self.d, axis=(-2, -1), name="out")(q)
        h = nn.Dense(3 * self.d, name="up")(nn.LayerNorm()(x))
        return x + nn.Dense(self.d, name="down")(nn.gelu(h)), None


class LM(nn.Module):
    d: int
    depth: int = 2

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(VOCAB, self.d)(tokens)
        blocks = nn.scan(
            Block,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            length=self.depth,
        )
        x, _ = blocks(self.d)(x, None)
        return nn.Dense(VOCAB, name="head")(nn.LayerNorm()(x))


_MODELS: dict = {}


def lm(d: int, depth: int = 2):
    if (d, depth) not in _MODELS:
        _MODELS[d, depth] = jf.abstract(LM(d, depth), TOKENS)
    return _MODELS[d, depth]


# -- spectral μP against nanotron's formulas ---------------------------------------
#
# huggingface/nanotron src/nanotron/scaling/parametrization.py (commit 2411b022):
#   L139  SpectralMupParametrizator: self.std = 1.0
#   L149  _compute_spectral_std: (std / sqrt(fan_in)) * min(1, sqrt(fan_out / fan_in))
#   L155  fan_in, fan_out = init._calculate_fan_in_and_fan_out(weight)   (torch's own)
#   L174  _parametrize_layer_norm: weight.fill_(1)
#   L183  _parametrize_embedding: init.normal_(weight, std=self.std)
#   L236  LearningRateForSpectralMup._get_mup_lr: self.lr * (fan_out / fan_in)
#   L215-216, L238  norms and embeddings: _get_global_lr (the LR itself)
# torch's fans read a (out, in) weight; a Flax kernel's call shape is (in, out).


def _nanotron(call_shape):
    weight = torch.empty(tuple(reversed(call_shape)))  # torch layout (out, in)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(weight)
    std = (1.0 / math.sqrt(fan_in)) * min(1, math.sqrt(fan_out / fan_in))
    return std, fan_out / fan_in


@pytest.mark.parametrize("widths", [(16, 64), (32, 24)])
def test_spectral_stds_and_lrs_equal_nanotrons_formulas(widths):
    mp = jm.parametrize(lm(widths[0]), lm(widths[1]), variant="spectral")
    rows = {r["path"]: r for r in mp.table()}
    kernels = 0
    for p in mp.params:
        row = rows[p.path]
        if p.path.endswith("embedding"):
            assert (row["std"], p.adam_lr, p.sgd_lr) == (1.0, 1.0, 1.0)
        elif len(p.shape) >= 2:
            std, lr = _nanotron(p.shape)
            assert row["std"] == pytest.approx(std, rel=1e-12), p.path
            assert p.adam_lr == pytest.approx(lr, rel=1e-12), p.path
            assert p.sgd_lr == p.adam_lr and p.adam_wd == 1.0 and p.adam_eps == 1.0
            kernels += 1
        else:
            want = 1.0 if p.path.endswith("scale") else 0.0
            assert row["init"] == ("ones" if want else "zeros")
            assert p.adam_lr == 1.0
    assert kernels == 5  # query (flattened d x d), out, up, down, head


def test_spectral_draws_the_table_law_and_scales_lr():
    optax = pytest.importorskip("optax")
    target = lm(64)
    mp = jm.parametrize(lm(16), target, variant="spectral")
    params = jinit.materialize(target, jax.random.key(0), mp.rules())
    up = np.asarray(params["params"]["ScanBlock_0"]["up"]["kernel"], np.float64)
    # (2, 64, 192): sigma = 1/8; 24576 values, 5-sigma bound on the variance.
    n = up.size
    assert abs(up.var() / (1 / 64) - 1) <= 5 * math.sqrt(2 / n)
    ones = jax.tree.map(jnp.ones_like, params)
    out, _ = mp.scale_by_lr("adam").update(ones, optax.EmptyState())
    assert float(out["params"]["ScanBlock_0"]["up"]["kernel"][0, 0, 0]) == 3.0
    assert float(out["params"]["head"]["kernel"][0, 0]) == VOCAB / 64
    assert float(out["params"]["Embed_0"]["embedding"][0, 0]) == 1.0


def test_spectral_std_record_and_refusals():
    mp = jm.parametrize(lm(16), lm(32), variant=jm.SpectralMuP(std=0.5))
    head = mp["params/head/kernel"]
    assert head.init_std == pytest.approx(0.5 * _nanotron((32, VOCAB))[0])
    with pytest.raises(ValueError, match="`std` must be a positive number"):
        jm.SpectralMuP(std=0.0)
    with pytest.raises(ValueError, match="`base_rules` must be None under variant"):
        mp.rules({".*": jinit.normal()})


# -- SP + embedding LR -----------------------------------------------------------


def test_sp_embedding_lr_keeps_sp_init_and_scales_the_embedding_lr_only():
    base, target = lm(16), lm(64)
    mp = jm.parametrize(base, target, variant="sp_embedding_lr")
    rules = jf.defaults("flax")
    key = jax.random.key(1)
    got = jinit.materialize(target, key, mp.rules(rules))
    want = jinit.materialize(target, key, rules)
    jax.tree.map(np.testing.assert_array_equal, got, want)
    for p in mp.params:
        assert p.adam_lr == (4.0 if p.path.endswith("embedding") else 1.0), p.path
    with pytest.raises(ValueError, match="`optimizer` must be 'adam'"):
        mp.sgd(0.1)


# -- OLMo-core's abc-equivalent forms ------------------------------------------------
#
# allenai/OLMo-core src/olmo_core/nn/mup.py, MuP.input_multiplier /
# init_std_multiplier / lr_multiplier (MuPScalingStrategy), with m the input
# scaling: scaling_input (readout) and scaling_input_output (hidden).
OLMO = {
    "constant_outputs": {"readout": (1, -1, -1), "hidden": (1, -0.5, -1)},
    "constant_init_std": {"readout": (-1, 1, 1), "hidden": (-0.5, 1, -0.5)},
    "constant_lr": {"readout": (-1, 1, 1), "hidden": (-1, 0.5, 1)},
    "table_8": {"readout": (-1, 1, 1), "hidden": (1, -0.5, -1)},
}


def _olmo(form, role, m):
    # 1 stands for "no multiplier" (None in OLMo-core's maps).
    return tuple(1.0 if e == 1 else m**e for e in OLMO[form][role])


def test_abc_forms_equal_olmo_core_and_are_abc_equivalent():
    base, target = lm(16), lm(64)
    plans = {
        f: jm.parametrize(base, target, variant=jm.MuPABC(form=f)) for f in jm.ABC_FORMS
    }
    for form, mp in plans.items():
        for p in mp.params:
            got = (p.forward, p.init_mult, p.adam_lr)
            if p.role in ("readout", "hidden") and len(p.shape) >= 2:
                assert got == pytest.approx(_olmo(form, p.role, p.fan_in_mult)), p.path
            else:
                assert got == (1.0, 1.0, 1.0), p.path
    # abc symmetry: input x c, init / c, Adam LR / c leave forward*init and
    # forward*lr unchanged across the forms.
    ref = plans["constant_outputs"]
    for mp in plans.values():
        for a, b in zip(ref.params, mp.params, strict=True):
            assert a.forward * a.init_mult == pytest.approx(b.forward * b.init_mult)
            assert a.forward * a.adam_lr == pytest.approx(b.forward * b.adam_lr)
    assert plans["constant_outputs"].output_multiplier == 1.0
    assert plans["table_8"].output_multiplier == 1 / 4
    mup = jm.parametrize(base, target)  # jinit's Table 8
    for a, b in zip(mup.params, plans["table_8"].params, strict=True):
        assert (a.init_mult, a.adam_lr) == (b.init_mult, b.adam_lr)
    with pytest.raises(ValueError, match="`form` must be one of"):
        jm.MuPABC(form="constant_output")


# -- Scion / Modula presets ----------------------------------------------------------


def test_scion_and_modula_presets_give_each_norm_its_radius():
    target = lm(32)
    key = jax.random.key(2)
    p = jinit.materialize(target, key, jm.scion(r".*/head/kernel", radius=2.0))[
        "params"
    ]
    down = np.asarray(p["ScanBlock_0"]["down"]["kernel"][1], np.float64)  # (96, 32)
    np.testing.assert_allclose(
        np.linalg.svd(down, compute_uv=False), 2.0 * math.sqrt(32 / 96), rtol=1e-5
    )
    query = np.asarray(p["ScanBlock_0"]["query"]["kernel"][0], np.float64)
    np.testing.assert_allclose(  # DenseGeneral: the flattened (32, 32) call shape
        np.linalg.svd(query.reshape(32, 32), compute_uv=False), 2.0, rtol=1e-5
    )
    head = np.asarray(p["head"]["kernel"])
    assert set(np.unique(np.abs(head))) == {np.float32(3000.0 / 32)}
    emb = np.asarray(p["Embed_0"]["embedding"], np.float64)
    np.testing.assert_allclose(np.sqrt((emb**2).mean(axis=1)), 1.0, rtol=1e-5)
    assert float(p["LayerNorm_0"]["scale"].min()) == 1.0
    assert float(jnp.abs(p["head"]["bias"]).max()) == 0.0
    plain = {  # no signatures: Flax's (in, out) layout; embeddings by regex
        "tok": jax.ShapeDtypeStruct((12, 8), jnp.float32),
        "w": jax.ShapeDtypeStruct((8, 24), jnp.float32),
    }
    m = jinit.materialize(plain, key, jm.modula(scale=0.5, embedding="tok"))
    np.testing.assert_allclose(
        np.linalg.svd(np.asarray(m["w"], np.float64), compute_uv=False),
        0.5 * math.sqrt(24 / 8),
        rtol=1e-5,
    )
    tok = np.asarray(m["tok"], np.float64)
    np.testing.assert_allclose(np.sqrt((tok**2).mean(axis=1)), 0.5, rtol=1e-5)
    with pytest.raises(ValueError, match="`radius` must be a positive number"):
        jm.scion(None, radius=-1.0)


# -- CompleteP: depth counted once --------------------------------------------------

L_BASE, L = 2, 8


def _gpt2_like(layers: int):
    """GPT-2's rules (0.02, residual outputs 0.02/sqrt(2 L)), marked."""
    residual = residual_scaled(jinit.normal(0.02 / math.sqrt(2 * layers)), layers)
    return {
        r".*/(out|down)/kernel": residual,
        r".*(kernel|embedding)": jinit.normal(0.02),
        r".*": jinit.zeros,
        r".*scale": jinit.ones,
    }


def _unmarked(layers: int):
    return {
        r".*/(out|down)/kernel": jinit.normal(0.02 / math.sqrt(2 * layers)),
        r".*(kernel|embedding)": jinit.normal(0.02),
        r".*scale": jinit.ones,
        r".*": jinit.zeros,
    }


def test_completep_compensates_a_depth_scaled_residual_init():
    base, target = lm(16, L_BASE), lm(32, L)
    mp = jm.parametrize(base, target, variant="completep", alpha=0.5)
    assert mp.depth_mult == L / L_BASE
    rows = {r["path"]: r for r in mp.table(_gpt2_like(L))}
    plain = {r["path"]: r for r in mp.table(_unmarked(L))}
    down = "params/ScanBlock_0/down/kernel"
    fi = mp[down].fan_in_mult
    # Megatron depth_mup: output-projection init x depth_mult^{+1/2}: the std of
    # the base depth, 0.02/sqrt(2 L_base), times muP's 1/sqrt(m_in).
    assert rows[down]["std"] == pytest.approx(
        0.02 / math.sqrt(2 * L_BASE) / math.sqrt(fi)
    )
    assert plain[down]["std"] == pytest.approx(0.02 / math.sqrt(2 * L) / math.sqrt(fi))
    up = "params/ScanBlock_0/up/kernel"
    assert rows[up]["std"] == plain[up]["std"]  # not a residual output
    # The marked law draws what the plain one draws.
    key = jax.random.key(3)
    shape = (64, 32)
    np.testing.assert_array_equal(
        _gpt2_like(L)[r".*/(out|down)/kernel"](key, shape),
        _unmarked(L)[r".*/(out|down)/kernel"](key, shape),
    )


def test_completep_refuses_depth_counted_twice():
    base, target = lm(16, L_BASE), lm(16, L)
    refuse = jm.CompleteP(alpha=1.0, depth_scaled_init="refuse")
    mp = jm.parametrize(base, target, variant=refuse)
    with pytest.raises(ValueError, match="would count depth twice"):
        mp.table(_gpt2_like(L))
    mp = jm.parametrize(base, target, variant="completep", alpha=1.0)
    per_layer = {r".*/down/kernel": DepthScaled(0.02), **_unmarked(L)}
    with pytest.raises(ValueError, match="its std depends on the layer index"):
        mp.table(per_layer)
    # At the base depth nothing is counted twice: the rules pass.
    same = jm.parametrize(base, lm(32, L_BASE), variant=refuse)
    same.table(_gpt2_like(L_BASE))
    with pytest.raises(ValueError, match="`depth_scaled_init` must be one of"):
        jm.CompleteP(alpha=0.5, depth_scaled_init="ignore")


# The named schemes whose residual outputs hold 1/sqrt(2 L) mark them, so
# CompleteP sees it on the scheme itself (not only on hand-marked rules).
_PORT = {"attention_out": r".*/out/kernel", "mlp_out": r".*/down/kernel"}


@pytest.mark.parametrize(
    "scheme",
    [
        lambda n: js.gpt2(n, patterns=_PORT),
        lambda n: js.megatron(n, patterns=_PORT),
    ],
    ids=["gpt2", "megatron"],
)
def test_completep_on_a_named_scheme_counts_depth_once(scheme):
    base, target = lm(16, L_BASE), lm(16, L)
    down = "params/ScanBlock_0/down/kernel"
    refuse = jm.CompleteP(alpha=0.5, depth_scaled_init="refuse")
    with pytest.raises(ValueError, match="would count depth twice"):
        jm.parametrize(base, target, variant=refuse).table(scheme(L))
    rows = jm.parametrize(base, target, variant="completep", alpha=0.5).table(scheme(L))
    std = {r["path"]: r["std"] for r in rows}
    plain = {
        r["path"]: r["std"] for r in jm.parametrize(target, target).table(scheme(L))
    }
    # Compensated: x depth_mult^{+1/2} over the scheme's own 1/sqrt(L) std.
    assert std[down] == pytest.approx(plain[down] * math.sqrt(L / L_BASE))


class TiedLM(nn.Module):
    """Readout tied to the embedding: no weight's fan-in alone is width."""

    d: int

    @nn.compact
    def __call__(self, tokens):
        embed = nn.Embed(VOCAB, self.d)
        h = nn.Dense(2 * self.d, name="up")(embed(tokens))
        return embed.attend(nn.Dense(self.d, name="down")(nn.gelu(h)))


def test_spectral_needs_no_readout_named_on_a_tied_model():
    base = jf.abstract(TiedLM(16), TOKENS)
    target = jf.abstract(TiedLM(48), TOKENS)
    # μP needs the readout named here (its rule differs); spectral μP does not.
    with pytest.raises(ValueError, match="`readout`"):
        jm.parametrize(base, target, variant="mup")
    mp = jm.parametrize(base, target, variant="spectral")
    rows = {r["path"]: r for r in mp.table()}
    kernel = rows["params/up/kernel"]
    assert kernel["std"] == pytest.approx(
        (1 / math.sqrt(48)) * min(1.0, math.sqrt(96 / 48))
    )
