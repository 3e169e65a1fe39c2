"""The MoE schemes (DeepSeek-V3, Qwen3-MoE, Mixtral, OLMoE, gpt-oss) against
transformers 5.24's models (see tests/hf_layout.py for the pairing and the
tolerances).

Each model is built from a tiny config (PyTorch, CPU, fixed seed) at two sizes,
each with its own ``initializer_range``; the scheme comes from the config's
dict through the ``HF_BUILDERS`` entry ``from_hf_config`` dispatches to.
"""

from __future__ import annotations

import functools
import re

import jax
import numpy as np
import pytest
from hf_layout import assert_parity, flax_layout

import jinit
import jinit.flax as jf
import jinit.schemes as js
from jinit.schemes._moe import HF_BUILDERS

torch = pytest.importorskip("torch")
tr = pytest.importorskip("transformers")

KEY = jax.random.key(0)

# Two sizes (hidden, experts, expert width), each with its own std.
SIZES = [(32, 4, 16, 0.02), (48, 6, 24, 0.05)]


def _attention(hidden: int) -> dict:
    return dict(num_attention_heads=4, num_key_value_heads=2, head_dim=hidden // 4)


def _configs(hidden, experts, width, std):
    common = dict(
        vocab_size=96,
        hidden_size=hidden,
        num_hidden_layers=2,
        initializer_range=std,
        num_experts_per_tok=2,
    )
    return {
        "deepseek_v3": tr.DeepseekV3Config(
            **common,
            intermediate_size=2 * hidden,
            moe_intermediate_size=width,
            first_k_dense_replace=1,
            num_attention_heads=4,
            num_key_value_heads=4,
            n_routed_experts=experts,
            n_shared_experts=1,
            n_group=2,
            topk_group=1,
            q_lora_rank=hidden // 2,
            kv_lora_rank=16,
            qk_rope_head_dim=8,
            qk_nope_head_dim=8,
            v_head_dim=16,
            pad_token_id=3,
        ),
        "qwen3_moe": tr.Qwen3MoeConfig(
            **common,
            **_attention(hidden),
            intermediate_size=2 * hidden,
            moe_intermediate_size=width,
            num_experts=experts,
        ),
        "mixtral": tr.MixtralConfig(
            **common,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=width,
            num_local_experts=experts,
        ),
        "olmoe": tr.OlmoeConfig(
            **common,
            num_attention_heads=4,
            num_key_value_heads=4,
            intermediate_size=width,
            num_experts=experts,
            eos_token_id=0,
        ),
        "gpt_oss": tr.GptOssConfig(
            **common,
            **_attention(hidden),
            intermediate_size=width,
            num_local_experts=experts,
        ),
    }


_MODELS = {
    "deepseek_v3": "DeepseekV3ForCausalLM",
    "qwen3_moe": "Qwen3MoeForCausalLM",
    "mixtral": "MixtralForCausalLM",
    "olmoe": "OlmoeForCausalLM",
    "gpt_oss": "GptOssForCausalLM",
}
# transformers 5.24's MtpModel keeps the base _init_weights, which leaves the MTP
# block's router and routed experts torch.empty; its embedding and head are the
# main model's.
_MTP_SKIP = (
    r"layers\.\d+\.mtp_block\.mlp\.(?:gate|experts)\..*",
    "embed_tokens.*",
    "shared_head.*",
)


@functools.cache
def _reference(model_type: str, size: tuple) -> dict:
    """transformers' parameters (one build per model and size)."""
    config = _configs(*size)[model_type]
    torch.manual_seed(0)
    with torch.no_grad():
        model = getattr(tr, _MODELS[model_type])(config)
        reference = flax_layout(model)
        if model_type == "deepseek_v3":
            from transformers.modeling_layers import MtpModel

            mtp = flax_layout(MtpModel(model, 1), skip=_MTP_SKIP)
            reference.update({f"mtp/{p}": v for p, v in mtp.items()})
    return reference


CASES = [
    pytest.param(model_type, size, id=f"{model_type}-{size[0]}")
    for model_type in _MODELS
    for size in SIZES
]


@pytest.mark.parametrize("model_type, size", CASES)
def test_moe_parity_with_transformers(model_type, size):
    config = _configs(*size)[model_type]
    reference = _reference(model_type, size)
    roles = {role for _, role in reference.values()}
    assert {"router", "expert_in", "expert_out"} <= roles
    if model_type == "deepseek_v3":
        assert {"mla_down", "mla_up", "score_correction_bias"} <= roles
        assert "mtp/layers/0/eh_proj/kernel" in reference
        word = reference["model/embed_tokens/embedding"][0]
        assert np.all(word[3] == 0)  # HF zeroes the padding row
    if model_type == "gpt_oss":
        assert {"router_bias", "expert_bias", "attention_sink"} <= roles
    rules = HF_BUILDERS[model_type](config.to_dict())
    assert_parity(reference, rules, KEY)


def test_deepseek_v3_paper_is_transformers_at_0006():
    """The report's std (0.006) is the default: every random leaf of the
    transformers model's tree gets N(0, 0.006) (transformers' default, 0.02,
    under source="transformers"); the rest as transformers."""
    reference = _reference("deepseek_v3", SIZES[0])
    tree = {p: jax.ShapeDtypeStruct(w.shape, "f4") for p, (w, _) in reference.items()}
    for rules, std in (
        (js.deepseek_v3(), 0.006),
        (js.deepseek_v3(source="transformers"), 0.02),
    ):
        for row in jf.table(tree, rules, stacked={}):
            ref = reference[row["path"]][0]
            if np.all(ref == ref.flat[0]):
                assert row["std"] == 0, row["path"]  # norms 1, the routing bias 0
            else:
                assert row["std"] == std, row["path"]
    assert tr.DeepseekV3Config().initializer_range == 0.02  # the porting trap


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`source` must be one of"):
        js.deepseek_v3(source="hf")
    with pytest.raises(ValueError, match="`initializer_range`"):
        js.mixtral(-0.02)
    with pytest.raises(ValueError, match="`pad_token_id`"):
        js.qwen3_moe(pad_token_id=-1)
    with pytest.raises(ValueError, match=r"config\['initializer_range'\]"):
        HF_BUILDERS["olmoe"]({"model_type": "olmoe", "initializer_range": 0})


def test_other_schemes_leave_moe_leaves_as_before():
    """The new roles get no law in the older schemes: a router kernel is still
    their generic kernel, a 3-D expert tensor still has no rule."""
    tree = {
        "model/layers/0/mlp/gate/kernel": jax.ShapeDtypeStruct((8, 4), "f4"),
        "model/layers/0/mlp/experts/gate_up_proj": jax.ShapeDtypeStruct(
            (4, 8, 6), "f4"
        ),
    }
    (row,) = jf.table({k: v for k, v in tree.items() if "gate/" in k}, js.llama())
    assert row["rule"].startswith("(?#kernel)")
    with pytest.raises(ValueError, match="experts/gate_up_proj"):
        jinit.materialize(tree, KEY, js.llama())


@pytest.mark.standard_promotion  # Flax layers' internals
def test_a_flax_port_of_a_deepseek_v3_layer_has_a_role_for_every_leaf():
    """A linen DeepSeek-V3 layer in the usual style (MLA ``nn.Dense``
    projections and norms, an ``nn.Dense`` router, 3-D experts as bare params,
    dense shared experts), unrolled and under ``nn.scan`` (4-D expert leaves):
    every leaf gets its role and the paper's std."""
    nn = pytest.importorskip("flax.linen")
    import jax.numpy as jnp

    d, e, w = 16, 4, 8

    class Experts(nn.Module):
        @nn.compact
        def __call__(self, x):
            gate_up = self.param("gate_up_proj", nn.initializers.zeros, (e, d, 2 * w))
            down = self.param("down_proj", nn.initializers.zeros, (e, w, d))
            h = jnp.einsum("td,edf->etf", x, gate_up)[..., :w]
            return jnp.einsum("etf,efd->td", h, down)

    class Layer(nn.Module):
        @nn.compact
        def __call__(self, x, _=None):
            dense = lambda n, name: nn.Dense(n, use_bias=False, name=name)  # noqa: E731
            h = nn.RMSNorm(name="input_layernorm")(x)
            q = dense(d, "q_b_proj")(
                nn.RMSNorm(name="q_a_layernorm")(dense(8, "q_a_proj")(h))
            )
            kv = dense(d, "kv_b_proj")(
                nn.RMSNorm(name="kv_a_layernorm")(dense(8, "kv_a_proj_with_mqa")(h))
            )
            x = x + dense(d, "o_proj")(q * kv)
            h = nn.RMSNorm(name="post_attention_layernorm")(x)
            score = self.param("e_score_correction_bias", nn.initializers.zeros, (e,))
            route = nn.Dense(e, use_bias=False, name="gate")(h) + score
            shared = nn.Dense(d, use_bias=False, name="down_proj")
            s = shared(nn.Dense(w, use_bias=False, name="up_proj")(h))
            return x + Experts(name="experts")(h) * route.sum() + s, None

    class Model(nn.Module):
        stacked: bool

        @nn.compact
        def __call__(self, tokens):
            x = nn.Embed(96, d, name="embed_tokens")(tokens)[0]
            if self.stacked:
                stack = nn.scan(
                    Layer,
                    variable_axes={"params": 0},
                    split_rngs={"params": True},
                    length=2,
                )
                x, _ = stack(name="layers")(x, None)
            else:
                for i in range(2):
                    x, _ = Layer(name=f"layers_{i}")(x)
            return nn.Dense(96, use_bias=False, name="lm_head")(x)

    tokens = jnp.zeros((1, 8), jnp.int32)
    expected = {
        "q_a_proj": "mla_down",
        "kv_a_proj_with_mqa": "mla_down",
        "q_b_proj": "mla_up",
        "kv_b_proj": "mla_up",
        "o_proj": "attention_out",
        "gate": "router",
        "e_score_correction_bias": "score_correction_bias",
        "gate_up_proj": "expert_in",
        "experts/down_proj": "expert_out",
        "up_proj": "mlp_in",
        "down_proj": "mlp_out",
        "scale": "norm_scale",
        "embed_tokens": "embedding",
        "lm_head": "lm_head",
    }
    for stacked in (False, True):
        abstract = jf.abstract(Model(stacked), tokens)
        rows = jf.table(abstract, js.deepseek_v3())
        assert len(rows) == (17 if stacked else 32)
        for row in rows:
            role = row["rule"].partition(")")[0].removeprefix("(?#")
            parts = row["path"].removeprefix("params/")
            want = next(
                r for s, r in expected.items() if re.search(rf"(^|/){s}(/|$)", parts)
            )
            assert role == want, (row["path"], role)
            if role not in ("norm_scale", "score_correction_bias"):
                assert row["std"] == 0.006, row["path"]
    (row,) = [r for r in rows if r["path"].endswith("experts/gate_up_proj")]
    assert row["shape"] == (2, e, d, 2 * w) and row["stacked"] == (0,)
