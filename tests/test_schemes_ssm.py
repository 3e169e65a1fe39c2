"""The state-space schemes (Mamba-2, Qwen3-Next) against transformers 5.24's
models (see tests/hf_layout.py for the pairing and the tolerances), and their
``"paper"`` sources against the reference code's own lines.

Each transformers model is built from a tiny config (PyTorch, CPU, fixed seed)
at two sizes, each with its own ``initializer_range``; the scheme comes from
the config's dict through the ``HF_BUILDERS`` entry ``from_hf_config``
dispatches to.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
import scipy.stats
from hf_layout import assert_parity, flax_layout

import jinit
import jinit.flax as jf
import jinit.schemes as js
from jinit.schemes._ssm import HF_BUILDERS

torch = pytest.importorskip("torch")
tr = pytest.importorskip("transformers")

KEY = jax.random.key(0)


def _mamba2(hidden: int, heads: int, std: float, rescale: bool):
    return tr.Mamba2Config(
        vocab_size=96,
        hidden_size=hidden,
        num_hidden_layers=2,
        num_heads=heads,
        head_dim=2 * hidden // heads,
        state_size=8,
        n_groups=1,
        expand=2,
        initializer_range=std,
        rescale_prenorm_residual=rescale,
    )


def _qwen3_next(hidden: int, heads: int, std: float):
    return tr.Qwen3NextConfig(
        vocab_size=96,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        moe_intermediate_size=16,
        shared_expert_intermediate_size=16,
        num_hidden_layers=2,
        layer_types=["linear_attention", "full_attention"],
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        num_experts=4,
        num_experts_per_tok=2,
        linear_num_value_heads=heads,
        linear_num_key_heads=2,
        linear_key_head_dim=8,
        linear_value_head_dim=8,
        initializer_range=std,
        pad_token_id=5,
    )


CASES = [
    pytest.param("mamba2", lambda: _mamba2(32, 4, 0.1, False), id="mamba2-32"),
    pytest.param("mamba2", lambda: _mamba2(48, 6, 0.03, True), id="mamba2-48-rescaled"),
    pytest.param("qwen3_next", lambda: _qwen3_next(32, 4, 0.02), id="qwen3_next-32"),
    pytest.param("qwen3_next", lambda: _qwen3_next(48, 6, 0.05), id="qwen3_next-48"),
]
_MODELS = {"mamba2": "Mamba2ForCausalLM", "qwen3_next": "Qwen3NextForCausalLM"}


@pytest.mark.parametrize("model_type, make", CASES)
def test_ssm_parity_with_transformers(model_type, make):
    config = make()
    torch.manual_seed(0)
    with torch.no_grad():
        reference = flax_layout(getattr(tr, _MODELS[model_type])(config))
    roles = {role for _, role in reference.values()}
    assert {
        "ssm_in",
        "ssm_conv",
        "ssm_dt_bias",
        "ssm_a_log",
        "ssm_out",
        "ssm_norm",
    } <= roles
    if model_type == "qwen3_next":
        assert {"zero_centred_norm", "router", "expert_in"} <= roles
    rules = HF_BUILDERS[model_type](config.to_dict())
    assert_parity(reference, rules, KEY)


# ----------------------------------------------------------------------------
# The "paper" sources: the reference code's lines, run in torch.


def _reference_dt(n, dt_min=1e-3, dt_max=0.1, floor=1e-4):
    # state-spaces/mamba mamba_ssm/modules/mamba2.py (and fla's GatedDeltaNet).
    dt = torch.exp(
        torch.rand(n) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
    )
    dt = torch.clamp(dt, min=floor)
    return (dt + torch.log(-torch.expm1(-dt))).numpy()


def _ks(ours, theirs):
    return scipy.stats.ks_2samp(np.ravel(ours), np.ravel(theirs)).pvalue


def _draw(rules, path, shape):
    tree = {path: jax.ShapeDtypeStruct(shape, np.float32)}
    (row,) = jf.table(tree, rules, stacked={})
    return row, np.asarray(jinit.materialize(tree, KEY, rules, stacked={})[path])


def test_mamba2_paper_matches_the_reference_code():
    torch.manual_seed(0)
    n = 4096  # one draw of many heads
    rules = js.mamba2(n_layer=4)
    mixer = "backbone/layers/0/mixer/"
    row, dt = _draw(rules, mixer + "dt_bias", (n,))
    assert row["rule"].startswith("(?#ssm_dt_bias)")
    assert _ks(dt, _reference_dt(n)) > 1e-6
    a = torch.empty(n).uniform_(1, 16).log().numpy()  # A_init_range=(1, 16)
    row, a_log = _draw(rules, mixer + "A_log", (n,))
    assert _ks(a_log, a) > 1e-6 and row["std"] == pytest.approx(a.std(), rel=0.05)
    _, d = _draw(rules, mixer + "D", (n,))
    assert np.all(d == 1)
    # conv1d (k, 1, C) and its bias: PyTorch's Conv1d default, fan_in = d_conv = 4.
    tree = {
        mixer + "conv1d/kernel": jax.ShapeDtypeStruct((4, 1, 512), np.float32),
        mixer + "conv1d/bias": jax.ShapeDtypeStruct((512,), np.float32),
        mixer + "out_proj/kernel": jax.ShapeDtypeStruct((128, 64), np.float32),
        mixer + "in_proj/kernel": jax.ShapeDtypeStruct((64, 256), np.float32),
        "lm_head/kernel": jax.ShapeDtypeStruct((64, 96), np.float32),
        "backbone/embeddings/embedding": jax.ShapeDtypeStruct((96, 64), np.float32),
    }
    drawn = jinit.materialize(tree, KEY, rules, stacked={})
    bounds = {
        "conv1d/kernel": 0.5,
        "conv1d/bias": 0.5,
        "out_proj/kernel": 1 / math.sqrt(128) / math.sqrt(4),  # rescaled by sqrt(L)
        "in_proj/kernel": 1 / 8,
        "lm_head/kernel": 1 / 8,
    }
    for name, bound in bounds.items():
        path = next(p for p in tree if p.endswith(name))
        x = np.asarray(drawn[path])
        assert (
            _ks(x, scipy.stats.uniform(-bound, 2 * bound).rvs(4096, random_state=0))
            > 1e-6
        )
        assert np.abs(x).max() <= bound
    emb = np.asarray(drawn["backbone/embeddings/embedding"])
    assert abs(emb.std() / 0.02 - 1) < 5 / math.sqrt(2 * emb.size)


def test_qwen3_next_paper_is_fla_gated_deltanet():
    torch.manual_seed(0)
    n = 4096
    paper, hf = js.qwen3_next(), js.qwen3_next(source="transformers")
    path = "model/layers/0/linear_attn/"
    _, dt = _draw(paper, path + "dt_bias", (n,))
    assert _ks(dt, _reference_dt(n)) > 1e-6
    _, a_log = _draw(paper, path + "A_log", (n,))
    a = torch.empty(n).uniform_(0, 16).log().numpy()  # fla: uniform_(0, 16).log()
    assert _ks(a_log, a) > 1e-6 and np.all(np.isfinite(a_log))
    _, dt_hf = _draw(hf, path + "dt_bias", (n,))
    assert np.all(dt_hf == 1)
    row, _ = _draw(paper, "model/layers/0/input_layernorm/scale", (8,))
    assert row["rule"].startswith("(?#zero_centred_norm)")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`source` must be one of"):
        js.mamba2(source="reference")
    with pytest.raises(ValueError, match="`n_layer`"):
        js.mamba2(0)
    with pytest.raises(ValueError, match="`source`"):
        js.mamba2(source="transformers", A_init_range=(1.0, 8.0))
    with pytest.raises(ValueError, match=r"`A_init_range\[0\]`"):
        js.mamba2(A_init_range=(0.0, 16.0))
    with pytest.raises(ValueError, match="`dt_max`"):
        js.mamba2(dt_min=0.1, dt_max=0.01)
    with pytest.raises(ValueError, match=r"config\['time_step_min'\]"):
        HF_BUILDERS["mamba2"]({"model_type": "mamba2", "time_step_min": -1})


@pytest.mark.standard_promotion  # Flax layers' internals
def test_a_flax_port_of_a_mamba2_layer_has_a_role_for_every_leaf():
    """A linen Mamba-2 mixer in the usual style (``nn.Dense`` in/out
    projections, a depthwise ``nn.Conv``, bare ``dt_bias``/``A_log``/``D``, a
    gated norm), unrolled and under ``nn.scan``: every leaf gets its role, the
    conv its fan_in ``d_conv`` from the module (not the stored shape)."""
    nn = pytest.importorskip("flax.linen")
    import jax.numpy as jnp

    d, heads, conv_dim, k = 16, 4, 40, 4

    class Mixer(nn.Module):
        @nn.compact
        def __call__(self, x):
            z = nn.Dense(2 * conv_dim + heads, use_bias=False, name="in_proj")(x)
            c = nn.Conv(conv_dim, (k,), feature_group_count=conv_dim, name="conv1d")(
                z[..., :conv_dim]
            )
            dt = self.param("dt_bias", nn.initializers.zeros, (heads,))
            a = self.param("A_log", nn.initializers.zeros, (heads,))
            skip = self.param("D", nn.initializers.ones, (heads,))
            y = nn.RMSNorm(name="norm")(c) + (dt.sum() + a.sum() + skip.sum())
            return nn.Dense(d, use_bias=False, name="out_proj")(y)

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, _=None):
            return x + Mixer(name="mixer")(nn.RMSNorm(name="norm")(x)), None

    class Model(nn.Module):
        stacked: bool

        @nn.compact
        def __call__(self, tokens):
            x = nn.Embed(96, d, name="embeddings")(tokens)
            if self.stacked:
                stack = nn.scan(
                    Block,
                    variable_axes={"params": 0},
                    split_rngs={"params": True},
                    length=2,
                )
                x, _ = stack(name="layers")(x, None)
            else:
                for i in range(2):
                    x, _ = Block(name=f"layers_{i}")(x)
            return x

    tokens = jnp.zeros((1, 8), jnp.int32)
    expected = {
        "in_proj/kernel": "ssm_in",
        "conv1d/kernel": "ssm_conv",
        "conv1d/bias": "ssm_conv_bias",
        "dt_bias": "ssm_dt_bias",
        "A_log": "ssm_a_log",
        "D": "ssm_d",
        "mixer/norm/scale": "ssm_norm",
        "/norm/scale": "norm_scale",
        "out_proj/kernel": "ssm_out",
        "embedding": "embedding",
    }
    for stacked in (False, True):
        abstract = jf.abstract(Model(stacked), tokens)
        for source in ("paper", "transformers"):
            rules = js.mamba2(2, source=source)
            rows = jf.table(abstract, rules)
            assert len(rows) == (10 if stacked else 19)
            for row in rows:
                role = row["rule"].partition(")")[0].removeprefix("(?#")
                want = next(r for s, r in expected.items() if row["path"].endswith(s))
                assert role == want, (row["path"], role)
                if row["path"].endswith("conv1d/kernel"):
                    assert row["std"] == pytest.approx(1 / math.sqrt(3 * k))
    (row,) = [r for r in rows if r["path"].endswith("A_log")]  # stacked
    assert row["shape"] == (2, heads) and row["stacked"] == (0,)
