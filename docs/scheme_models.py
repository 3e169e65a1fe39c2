"""The reference models of the "Named schemes" section: data the code cannot know.

For each scheme (``jinit.schemes``): the arguments of its reference size, that
size in words, the source code it reproduces, and the reference model's
parameter paths and shapes (Flax layout, one layer per role, two where the law
depends on the layer). The laws and stds in the tables are computed from the
scheme's rules (``docs/gen_schemes.py``), never written here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class Scheme:
    """A named scheme at its reference model size, for the reference's table.

    Attributes:
      title: the section's title.
      builder: the ``jinit.schemes`` builder.
      kwargs: its arguments (the reference model's sizes).
      size: the reference model, in words.
      source: the code it reproduces.
      leaves: ``(path, shape)`` of the reference model's parameters, one per
        role (two layers where the law depends on the layer); Flax layout.
      notes: extra lines under the table.
      name: the builder's public name, where it is an alias (``skipinit``).
    """

    title: str
    builder: Callable[..., Any]
    kwargs: Mapping[str, Any]
    size: str
    source: str
    leaves: tuple[tuple[str, tuple[int, ...]], ...]
    notes: tuple[str, ...] = ()
    name: str = ""

    def call(self) -> str:
        args = ", ".join(
            repr(v) if k.startswith("_") else f"{k}={v!r}"
            for k, v in self.kwargs.items()
        )
        name = self.name or self.builder.__name__
        return f"jinit.schemes.{name}({args})".replace("'", '"')

    def rules(self) -> dict[str, Any]:
        args = [v for k, v in self.kwargs.items() if k.startswith("_")]
        kwargs = {k: v for k, v in self.kwargs.items() if not k.startswith("_")}
        return self.builder(*args, **kwargs)


def _gpt2_leaves(d: int = 768, vocab: int = 50257, ctx: int = 1024):
    h = "transformer/h/0/"
    return (
        ("transformer/wte/embedding", (vocab, d)),
        ("transformer/wpe/embedding", (ctx, d)),
        (h + "attn/c_attn/kernel", (d, 3 * d)),
        (h + "attn/c_attn/bias", (3 * d,)),
        (h + "attn/c_proj/kernel", (d, d)),
        (h + "mlp/c_fc/kernel", (d, 4 * d)),
        (h + "mlp/c_proj/kernel", (4 * d, d)),
        (h + "ln_1/scale", (d,)),
        (h + "ln_1/bias", (d,)),
    )


def _llama_leaves(prefix, attn, mlp, names, layers, d, kv, ff, vocab, extra=()):
    """A Llama-style model's leaves: ``names`` maps each role to its module name."""
    out = [(prefix + names["embedding"], (vocab, d))]
    for i in layers:
        block = f"{prefix}{names['layers']}/{i}/"
        out += [
            (f"{block}{attn}/{names['q']}/kernel", (d, d)),
            (f"{block}{attn}/{names['k']}/kernel", (d, kv)),
            (f"{block}{attn}/{names['v']}/kernel", (d, kv)),
            (f"{block}{attn}/{names['o']}/kernel", (d, d)),
            (f"{block}{mlp}/{names['gate']}/kernel", (d, ff)),
            (f"{block}{mlp}/{names['up']}/kernel", (d, ff)),
            (f"{block}{mlp}/{names['down']}/kernel", (ff, d)),
        ]
    out += [(f"{prefix}{names['layers']}/0/{names['norm']}/scale", (d,))]
    return tuple(out) + tuple(extra)


_HF_LLAMA = dict(
    embedding="embed_tokens/embedding",
    layers="layers",
    q="q_proj",
    k="k_proj",
    v="v_proj",
    o="o_proj",
    gate="gate_proj",
    up="up_proj",
    down="down_proj",
    norm="input_layernorm",
)
_TITAN = dict(
    embedding="tok_embeddings/embedding",
    layers="layers",
    q="wq",
    k="wk",
    v="wv",
    o="wo",
    gate="w1",
    up="w3",
    down="w2",
    norm="attention_norm",
)
_OLMO_CORE = dict(
    embedding="embeddings/embedding",
    layers="blocks",
    q="w_q",
    k="w_k",
    v="w_v",
    o="w_out",
    gate="w1",
    up="w3",
    down="w2",
    norm="attention_norm",
)


def _olmo_leaves(layers=(0,), d=2048, ff=8192, vocab=50304, ctx=2048):
    t = "transformer/"
    out = [(t + "wte/embedding", (vocab, d)), (t + "wpe/embedding", (ctx, d))]
    for i in layers:
        b = f"{t}blocks/{i}/"
        out += [
            (b + "att_proj/kernel", (d, 3 * d)),
            (b + "attn_out/kernel", (d, d)),
            (b + "ff_proj/kernel", (d, 2 * ff)),
            (b + "ff_out/kernel", (ff, d)),
        ]
    return tuple(out) + ((t + "ff_out/kernel", (d, vocab)),)


def _olmo_core_leaves(layers=(0,)):
    return _llama_leaves(
        "",
        "attention",
        "feed_forward",
        _OLMO_CORE,
        layers,
        2048,
        2048,
        8192,
        100352,
        extra=(("lm_head/w_out/kernel", (2048, 100352)),),
    )


def _seq2seq_leaves(
    d=512, ff=2048, vocab=32000, cross=False, sides=("decoder",), biases=False
):
    out = []
    for side in sides:
        b = f"{side}/layers/0/"
        attns = ("self_attn", "encoder_attn") if cross and side == "decoder" else ()
        out += [(f"{side}/embed_tokens/embedding", (vocab, d))] if cross else []
        for attn in attns or ("self_attn",):
            out += [
                (f"{b}{attn}/{p}/kernel", (d, d))
                for p in ("q_proj", "k_proj", "v_proj", "out_proj")
            ]
            if biases:
                out += [
                    (f"{b}{attn}/{p}/bias", (d,))
                    for p in ("q_proj", "v_proj", "out_proj")
                ]
        out += [(b + "fc1/kernel", (d, ff)), (b + "fc2/kernel", (ff, d))]
        out += [(b + "fc1/bias", (ff,))] if biases else []
    if cross:
        out += [("decoder/lm_head/kernel", (d, vocab))]
    return tuple(out)


_DEEPNET_WHY = (
    "Where the sources disagree: the encoder-decoder encoder's β is "
    "0.87·(N⁴M)^(−1/16) in the paper (Wang et al. 2022, Fig. 2) and in xformers' "
    "`get_deepnorm_coefficients`, but 1.15·(N⁴M)^(−1/16) in torchscale's code "
    "(`init_scale = (N⁴M)^(1/16) / 1.15`, `torchscale/architecture/encoder.py`). "
    "jinit follows the paper by default (two independent sources agree on it, and "
    "torchscale's constant is close to the reciprocal of 0.87); "
    '`source="torchscale"` gives torchscale\'s coefficient and its base laws '
    "(xavier_uniform with gain 1/√2 for q, k, v; PyTorch's Linear default for "
    "fc1, fc2; the gains divided by the init scale)."
)


def _deepnet_coefficients_lines() -> list[str]:
    """The DeepNorm coefficients table, from ``jinit.schemes.deepnet_coefficients``."""
    import jinit.schemes as js

    cases = (
        ("encoder-only, N = 24", "encoder", 24, None, "encoder"),
        ("decoder-only, M = 24", "decoder", None, 24, "decoder"),
        ("encoder-decoder N = M = 6, encoder", "encoder_decoder", 6, 6, "encoder"),
        ("encoder-decoder N = M = 6, decoder", "encoder_decoder", 6, 6, "decoder"),
    )
    lines = [
        "| architecture | α | β (paper, jinit's default) | β (torchscale) |",
        "|---|---|---|---|",
    ]
    for label, arch, n, m, side in cases:
        paper = js.deepnet_coefficients(arch, n, m)
        code = js.deepnet_coefficients(arch, n, m, source="torchscale")
        alpha = getattr(paper, f"{side}_alpha")
        b1, b2 = getattr(paper, f"{side}_beta"), getattr(code, f"{side}_beta")
        lines.append(f"| {label} | {alpha:.4g} | {b1:.4g} | {b2:.4g} |")
    return lines


def _schemes() -> tuple[Scheme, ...]:
    import jinit.schemes as js

    hf = "transformers 5.x"
    titan = _llama_leaves(
        "",
        "attention",
        "feed_forward",
        _TITAN,
        (0, 31),
        4096,
        1024,
        14336,
        128256,
        extra=(("norm/scale", (4096,)), ("output/kernel", (4096, 128256))),
    )
    hf_llama = _llama_leaves(
        "model/",
        "self_attn",
        "mlp",
        _HF_LLAMA,
        (0,),
        4096,
        4096,
        11008,
        32000,
        extra=(("lm_head/kernel", (4096, 32000)),),
    )
    bert = "bert/encoder/layer/0/"
    vit = "vit/layers/0/"
    t5 = "encoder/block/0/layer/"
    mega = "decoder/layers/0/"
    olmo_core_source = (
        "`allenai/OLMo-core` at `fa6c5014` (2026-06-22): "
        "`src/olmo_core/nn/transformer/init.py` (`InitMethod`), "
        "`src/olmo_core/nn/attention/__init__.py` (`Attention.init_weights`)"
    )
    olmo_core_size = "OLMo-2 1B: 16 blocks, d_model 2048, hidden 8192, vocab 100352"
    return (
        Scheme(
            "GPT-2 (Hugging Face / nanoGPT)",
            js.gpt2,
            {"n_layer": 12},
            "GPT-2 small: 12 layers, d 768, vocab 50257, context 1024",
            f"{hf} `GPT2PreTrainedModel._init_weights` "
            "(`models/gpt2/modeling_gpt2.py`); nanoGPT's `c_proj` rule is the same",
            _gpt2_leaves(),
        ),
        Scheme(
            "GPT-2 (as OpenAI released it)",
            js.gpt2,
            {"n_layer": 12, "variant": "openai"},
            "GPT-2 small",
            "`openai/gpt-2` `src/model.py` (`w_init_stdev=0.02`, `wpe` at 0.01; "
            "no depth scaling in the released code)",
            _gpt2_leaves(),
        ),
        Scheme(
            "BERT (Hugging Face)",
            js.bert,
            {},
            "BERT-base: 12 layers, d 768, vocab 30522, pad token 0",
            f"{hf} `BertPreTrainedModel._init_weights` (`models/bert/modeling_bert.py`)",
            (
                ("bert/embeddings/word_embeddings/embedding", (30522, 768)),
                ("bert/embeddings/position_embeddings/embedding", (512, 768)),
                ("bert/embeddings/token_type_embeddings/embedding", (2, 768)),
                ("bert/embeddings/LayerNorm/scale", (768,)),
                (bert + "attention/self/query/kernel", (768, 768)),
                (bert + "attention/output/dense/kernel", (768, 768)),
                (bert + "intermediate/dense/kernel", (768, 3072)),
                (bert + "output/dense/kernel", (3072, 768)),
                (bert + "output/dense/bias", (768,)),
            ),
        ),
        Scheme(
            "ViT (Hugging Face)",
            js.vit,
            {},
            "ViT-B/16 at 224: 12 layers, d 768, 196 patches + 1",
            f"{hf} `ViTPreTrainedModel._init_weights` (`models/vit/modeling_vit.py`)",
            (
                ("vit/embeddings/cls_token", (1, 1, 768)),
                ("vit/embeddings/position_embeddings", (1, 197, 768)),
                ("vit/embeddings/patch_embeddings/projection/kernel", (16, 16, 3, 768)),
                (vit + "attention/q_proj/kernel", (768, 768)),
                (vit + "attention/o_proj/kernel", (768, 768)),
                (vit + "mlp/fc1/kernel", (768, 3072)),
                (vit + "mlp/fc2/kernel", (3072, 768)),
                (vit + "layernorm_before/scale", (768,)),
                ("classifier/kernel", (768, 1000)),
            ),
        ),
        Scheme(
            "Llama (Hugging Face)",
            js.llama,
            {},
            "Llama-2 7B: 32 layers, d 4096, MLP 11008, vocab 32000",
            f"{hf} `LlamaPreTrainedModel` (the base `_init_weights` rule)",
            hf_llama,
        ),
        Scheme(
            "T5 (Mesh TensorFlow, as Hugging Face)",
            js.t5,
            {},
            "T5-small: d_model 512, d_kv 64, 8 heads, d_ff 2048, vocab 32128",
            f"{hf} `T5PreTrainedModel._init_weights` (`models/t5/modeling_t5.py`)",
            (
                ("shared/embedding", (32128, 512)),
                (t5 + "0/SelfAttention/q/kernel", (512, 512)),
                (t5 + "0/SelfAttention/k/kernel", (512, 512)),
                (t5 + "0/SelfAttention/v/kernel", (512, 512)),
                (t5 + "0/SelfAttention/o/kernel", (512, 512)),
                (t5 + "0/SelfAttention/relative_attention_bias/embedding", (32, 8)),
                (t5 + "1/DenseReluDense/wi/kernel", (512, 2048)),
                (t5 + "1/DenseReluDense/wo/kernel", (2048, 512)),
                (t5 + "0/layer_norm/scale", (512,)),
            ),
        ),
        Scheme(
            "Megatron-LM",
            js.megatron,
            {"n_layer": 24},
            "24 layers, hidden 1024, vocab 50304",
            "megatron-core 0.19 `megatron/core/utils.py` (`init_method_normal`, "
            "`scaled_init_method_normal`), `transformer_config.py`",
            (
                ("embedding/word_embeddings/embedding", (50304, 1024)),
                (mega + "self_attention/linear_qkv/kernel", (1024, 3072)),
                (mega + "self_attention/linear_proj/kernel", (1024, 1024)),
                (mega + "mlp/linear_fc1/kernel", (1024, 4096)),
                (mega + "mlp/linear_fc2/kernel", (4096, 1024)),
            ),
        ),
        Scheme(
            "OLMo `normal` (OLMo-2's configs)",
            js.olmo,
            {"init_fn": "normal", "init_cutoff_factor": 3.0},
            "OLMo-1B: 16 blocks, d_model 2048, MLP 8192, vocab 50304",
            "`allenai/OLMo` (ai2-olmo 0.6.0) `olmo/model.py`, `olmo/config.py` "
            "(`InitFnType`)",
            _olmo_leaves(),
        ),
        Scheme(
            "OLMo `mitchell` (OLMo-1's configs)",
            js.olmo,
            {"init_fn": "mitchell", "d_model": 2048, "n_layers": 16},
            "OLMo-1B: 16 blocks, d_model 2048, MLP 8192",
            "`allenai/OLMo` (ai2-olmo 0.6.0) `olmo/model.py`; "
            "`configs/official-0724/OLMo-1B.yaml`",
            _olmo_leaves((0, 15)),
        ),
        Scheme(
            "OLMo `full_megatron`",
            js.olmo,
            {
                "init_fn": "full_megatron",
                "d_model": 2048,
                "n_layers": 16,
                "init_cutoff_factor": 3.0,
            },
            "OLMo-1B: 16 blocks, d_model 2048",
            "`allenai/OLMo` (ai2-olmo 0.6.0) `olmo/model.py`",
            _olmo_leaves(),
        ),
        *(
            Scheme(
                f"OLMo-core `{method}`",
                js.olmo_core,
                {"method": method, "d_model": 2048, "n_layers": 16},
                olmo_core_size,
                olmo_core_source,
                _olmo_core_leaves((0, 15) if method == "llama_depth" else (0,)),
            )
            for method in ("normal", "llama", "llama_depth", "normalized", "fan_in")
        ),
        Scheme(
            "Llama 3 (torchtitan)",
            js.torchtitan_llama3,
            {"dim": 4096},
            "Llama 3 8B: 32 layers, dim 4096, 8 kv heads, FFN 14336, vocab 128256",
            "`pytorch/torchtitan` at `b5bcd76c` (2026-08-21): "
            "`torchtitan/models/llama3/__init__.py`, "
            "`torchtitan/models/common/param_init.py` (`depth_scaled_std`)",
            titan,
            (
                "`trunc_normal_(std=0.02)` keeps PyTorch's absolute bounds ±2, i.e. "
                "±100σ: practically untruncated; only `output` is cut at 3σ.",
            ),
        ),
        Scheme(
            "DeepNet (decoder-only)",
            js.deepnet,
            {"_architecture": "decoder", "n_decoder": 24},
            "M = 24 decoder layers, d 512, FFN 2048",
            "Wang et al. 2022 (DeepNet), Fig. 2 and its Algorithm; the model applies "
            "α to the residual (`LN(α·x + f(x))`)",
            _seq2seq_leaves(),
        ),
        Scheme(
            "DeepNet (encoder-decoder, paper)",
            js.deepnet,
            {"_architecture": "encoder_decoder", "n_encoder": 6, "n_decoder": 6},
            "N = M = 6 layers, d 512, FFN 2048",
            "Wang et al. 2022, Fig. 2; xformers `get_deepnorm_coefficients`",
            _seq2seq_leaves(sides=("encoder", "decoder")),
        ),
        Scheme(
            "DeepNet (encoder-decoder, torchscale)",
            js.deepnet,
            {
                "_architecture": "encoder_decoder",
                "n_encoder": 6,
                "n_decoder": 6,
                "source": "torchscale",
            },
            "N = M = 6 layers, d 512, FFN 2048",
            "`microsoft/torchscale` at `4d1e0e82` (2024-04-11): "
            "`torchscale/architecture/encoder.py`, `decoder.py` (`init_scale`), "
            "`torchscale/component/multihead_attention.py` (`reset_parameters`)",
            _seq2seq_leaves(sides=("encoder", "decoder"), biases=True),
            (
                "DeepNorm's coefficients (α, β) by source:",
                "",
                *_deepnet_coefficients_lines(),
                "",
                _DEEPNET_WHY,
            ),
        ),
        Scheme(
            "T-Fixup",
            js.tfixup,
            {"d_model": 512, "n_encoder": 6, "n_decoder": 6, "pad_token_id": 1},
            "N = M = 6 layers, d 512, FFN 2048, vocab 32000, fairseq's pad index 1",
            "`layer6ai-labs/T-Fixup` at `b17e166d` (2021-02-01): "
            "`fairseq/modules/transformer_layer.py` (`fixup_initialization`), "
            "`fairseq/modules/multihead_attention.py`, `fairseq/models/transformer.py`",
            _seq2seq_leaves(cross=True, sides=("encoder", "decoder"), biases=True),
        ),
        Scheme(
            "Fixup (ResNet-110, CIFAR)",
            js.fixup,
            {"n_branches": 54},
            "ResNet-110: 54 BasicBlocks (m = 2), widths 16/32/64, 10 classes",
            "`hongyi-zhang/Fixup` at `f3fa449f` (2019-05-05): "
            "`cifar/models/fixup_resnet_cifar.py`",
            (
                ("conv1/kernel", (3, 3, 3, 16)),
                ("layer1/0/conv1/kernel", (3, 3, 16, 16)),
                ("layer1/0/conv2/kernel", (3, 3, 16, 16)),
                ("layer1/0/bias1a", (1,)),
                ("layer1/0/scale", (1,)),
                ("fc/kernel", (64, 10)),
                ("fc/bias", (10,)),
            ),
        ),
        Scheme(
            "ReZero",
            js.rezero,
            {},
            "any depth",
            "`majumderb/rezero` `rezero/transformer/rztx.py` (`resweight = 0`)",
            (("layers/0/resweight", ()),),
        ),
        Scheme(
            "SkipInit",
            js.skipinit,
            {},
            "any depth",
            "timm 1.0 `timm/models/nfnet.py` (`skipinit_gain = 0`)",
            (("stages/0/blocks/0/skipinit_gain", ()),),
            name="skipinit",
        ),
        Scheme(
            "ZerO",
            js.zero,
            {},
            "d 512, MLP 2048",
            "`jiaweizzhao/ZerO-initialization` `example_mnist.ipynb` "
            "(`ZerO_Init_on_matrix`)",
            (
                ("layers/0/mlp/fc1/kernel", (512, 2048)),
                ("layers/0/mlp/fc2/kernel", (2048, 512)),
                ("layers/0/mlp/fc1/bias", (2048,)),
            ),
        ),
    )
