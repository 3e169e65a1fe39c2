"""The schemes of transformers as their reference code initializes them: GPT-2,
BERT, RoBERTa, ViT, Llama, T5 (Hugging Face), Megatron-LM and torchtitan's Llama 3."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from .. import _errors
from .. import torch as _torch
from .._constant import constant, ones
from .._distributions import normal
from ._depth import DepthScaled, _law, _padded, residual_scaled
from ._roles import common, layer_count, positive_number, rules

#: The roles a scheme scales: the residual outputs, and (T5, OLMo-core, torchtitan)
#: the others whose law is not the scheme's generic one. Drawing a tree where
#: one matches no leaf, while leaves fell to the generic law, is an error.
RESIDUAL = ("attention_out", "mlp_out")
RESIDUAL_HEAD = (*RESIDUAL, "lm_head")
SCALED_LLAMA = ("attention_out", "mlp_in", "mlp_out", "lm_head")
SCALED_T5 = ("q", "attention_out", "mlp_out", "lm_head", "relative_attention_bias")
# Other tables taken for the token embedding would get its padding row.
SCALED_PADDED = ("position_embedding", "token_type_embedding")


def gpt2(
    n_layer: int = 12,
    *,
    std: float = 0.02,
    variant: Literal["hf", "openai"] = "hf",
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""GPT-2's initialization, as Hugging Face/nanoGPT or as OpenAI released it.

    ================================== ================================ ===========
    role (HF Flax names)               ``"hf"`` (n_layer 12)            ``"openai"``
    ================================== ================================ ===========
    ``wte`` embedding, lm_head         N(0, 0.02)                       N(0, 0.02)
    ``wpe`` position embedding         N(0, 0.02)                       N(0, 0.01)
    ``attn/c_attn``, ``mlp/c_fc``      N(0, 0.02)                       N(0, 0.02)
    ``attn/c_proj``, ``mlp/c_proj``    N(0, 0.02/sqrt(2*12)=0.0040825)  N(0, 0.02)
    ``ln_1``, ``ln_2``, ``ln_f``       scale 1, bias 0                  1, 0
    biases                             0                                0
    ================================== ================================ ===========

    Args:
      n_layer: the number of blocks (``"hf"`` scales the residual projections
        by ``1/sqrt(2 n_layer)``).
      std: ``initializer_range`` (``w_init_stdev`` in OpenAI's code).
      variant: ``"hf"`` (``GPT2PreTrainedModel._init_weights``, transformers
        5.x; nanoGPT's ``c_proj`` rule is the same) or ``"openai"``
        (``openai/gpt-2 src/model.py``: no depth scaling in the released code,
        ``wpe`` at 0.01).
      patterns: role -> regex overrides (see :func:`rules`).

    Raises:
      ValueError: ``n_layer < 1``, ``std <= 0``, an unknown variant or role.
    """
    n_layer = layer_count("n_layer", n_layer)
    std = positive_number("std", std)
    if variant not in ("hf", "openai"):
        raise _errors.bad_choice("variant", variant, ("hf", "openai"))
    if variant == "openai":
        laws = common(normal(std), position_embedding=normal(0.01))
        scaled: tuple[str, ...] = ("position_embedding",)
    else:
        residual = residual_scaled(normal(std / math.sqrt(2 * n_layer)), n_layer)
        laws = common(normal(std), attention_out=residual, mlp_out=residual)
        scaled = RESIDUAL
    return rules(laws, patterns=patterns, scaled=scaled, name="gpt2")


def bert(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = 0,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """BERT as Hugging Face initializes it (``BertPreTrainedModel``, transformers 5.x).

    ======================================= ============================
    role                                    law (``initializer_range`` 0.02)
    ======================================= ============================
    ``word_embeddings``                     N(0, 0.02), row ``pad_token_id`` (0) = 0
    ``position_/token_type_embeddings``     N(0, 0.02)
    every Dense (q/k/v, attention output,   N(0, 0.02)
    intermediate, output, pooler, heads)
    LayerNorm                               scale 1, bias 0
    biases (``cls/predictions/bias`` too)   0
    ======================================= ============================

    No depth scaling. (Google's TF BERT drew ``truncated_normal(0.02)`` at 2
    sigma; HF PyTorch draws untruncated, as here.)

    Args:
      initializer_range: the std.
      pad_token_id: the word-embedding row set to zero (None: none).
      patterns: role -> regex overrides.
    """
    w = normal(positive_number("initializer_range", initializer_range))
    laws = common(w, embedding=_padded(w, pad_token_id))
    return rules(laws, patterns=patterns, scaled=SCALED_PADDED, name="bert")


def roberta(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = 1,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """RoBERTa as Hugging Face initializes it (``RobertaPreTrainedModel``, transformers 5.x).

    :func:`bert`'s laws, but the padding row is zeroed in **both** embedding
    tables: HF builds ``word_embeddings`` and ``position_embeddings`` with
    ``padding_idx=pad_token_id``, and ``_init_weights`` zeroes that row of each
    (RoBERTa's positions start at ``pad_token_id + 1``, so the row is never read).

    ======================================= ============================
    role                                    law (``initializer_range`` 0.02)
    ======================================= ============================
    ``word_embeddings``                     N(0, 0.02), row ``pad_token_id`` (1) = 0
    ``position_embeddings``                 N(0, 0.02), row ``pad_token_id`` (1) = 0
    ``token_type_embeddings``               N(0, 0.02)
    every Dense (q/k/v, attention output,   N(0, 0.02)
    intermediate, output, pooler, heads)
    LayerNorm                               scale 1, bias 0
    biases (``lm_head/bias`` too)           0
    ======================================= ============================

    Args:
      initializer_range: the std.
      pad_token_id: the row zeroed in both tables (None: none).
      patterns: role -> regex overrides.
    """
    w = normal(positive_number("initializer_range", initializer_range))
    pad = _padded(w, pad_token_id)
    laws = common(w, embedding=pad, position_embedding=pad)
    return rules(laws, patterns=patterns, scaled=SCALED_PADDED, name="roberta")


def vit(
    initializer_range: float = 0.02,
    *,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """ViT as Hugging Face initializes it (``ViTPreTrainedModel``, transformers 5.x).

    ============================================ ==================================
    role                                         law (``initializer_range`` 0.02)
    ============================================ ==================================
    ``cls_token``, ``position_embeddings``       ``trunc_normal_(std=0.02)``: bounds
                                                 +-2 absolute (effectively N(0, 0.02))
    patch projection (Conv), q/k/v/o, fc1, fc2,  N(0, 0.02)
    pooler, classifier
    LayerNorm                                    scale 1, bias 0
    biases                                       0
    ============================================ ==================================
    """
    std = positive_number("initializer_range", initializer_range)
    token = _torch.trunc_normal(0.0, std)
    laws = common(normal(std), cls_token=token, position_embedding=token)
    return rules(laws, patterns=patterns, name="vit")


def llama(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Llama as Hugging Face initializes it (``LlamaPreTrainedModel``, the base rule).

    ============================================== ===========================
    role                                           law (``initializer_range`` 0.02)
    ============================================== ===========================
    ``embed_tokens``                               N(0, 0.02) (row ``pad_token_id``
                                                   zeroed if set)
    ``q/k/v/o_proj``, ``gate/up/down_proj``,       N(0, 0.02), no depth scaling
    ``lm_head``
    RMSNorm scale                                  1
    biases (if any)                                0
    ============================================== ===========================

    For Meta's/torchtitan's depth-scaled init see :func:`torchtitan_llama3`.
    """
    w = normal(positive_number("initializer_range", initializer_range))
    laws = common(w, embedding=_padded(w, pad_token_id))
    return rules(laws, patterns=patterns, scaled=SCALED_PADDED, name="llama")


def t5(
    d_model: int = 512,
    d_kv: int = 64,
    num_heads: int = 8,
    d_ff: int = 2048,
    *,
    factor: float = 1.0,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""T5's per-matrix init (Mesh TensorFlow), as ``T5PreTrainedModel._init_weights``.

    ============================= ======================================== ==========
    role                          law                                      T5-small
    ============================= ======================================== ==========
    ``shared`` embedding, lm_head N(0, factor)                             1.0
    ``q``                         N(0, factor (d_model d_kv)^-1/2)         0.0055243
    ``k``, ``v``                  N(0, factor d_model^-1/2)                0.0441942
    ``o``                         N(0, factor (num_heads d_kv)^-1/2)       0.0441942
    ``relative_attention_bias``   N(0, factor d_model^-1/2)                0.0441942
    ``wi`` / ``wi_0``, ``wi_1``   N(0, factor d_model^-1/2)                0.0441942
    ``wo``                        N(0, factor d_ff^-1/2)                   0.0220971
    layer norms (RMS)             factor                                   1.0
    ============================= ======================================== ==========

    T5 has no biases (a bias rule gives zeros) and no 1/sqrt(d_kv) in its
    attention: it lives in the ``q`` init. Other kernels (heads) get
    N(0, factor d_model^-1/2), as HF's ``qa_outputs`` and classification head.
    """
    d_model = layer_count("d_model", d_model)
    d_kv = layer_count("d_kv", d_kv)
    num_heads = layer_count("num_heads", num_heads)
    d_ff = layer_count("d_ff", d_ff)
    factor = positive_number("factor", factor)
    hidden = normal(factor * d_model**-0.5)
    laws = common(
        hidden,
        embedding=normal(factor),
        lm_head=normal(factor),
        q=normal(factor * (d_model * d_kv) ** -0.5),
        attention_out=normal(factor * (num_heads * d_kv) ** -0.5),
        mlp_out=normal(factor * d_ff**-0.5),
        norm_scale=ones if factor == 1.0 else constant(factor),
    )
    return rules(laws, patterns=patterns, scaled=SCALED_T5, name="t5")


# ----------------------------------------------------------------------------
# Megatron, torchtitan.


def megatron(
    n_layer: int,
    *,
    std: float = 0.02,
    multiplier: float = 2.0,
    embedding_std: float | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""Megatron-LM's ``init_method_normal`` / ``scaled_init_method_normal``.

    =============================================== ===============================
    role (Megatron names)                           law (``init_method_std`` 0.02)
    =============================================== ===============================
    word/position embeddings                        N(0, embedding_std or 0.02)
    ``linear_qkv``, ``linear_fc1``, output layer    ``init_method_normal``: N(0, 0.02)
    ``linear_proj``, ``linear_fc2``                 ``scaled_init_method_normal``:
                                                    N(0, 0.02 / sqrt(multiplier L))
    norms                                           1, 0
    biases                                          0
    =============================================== ===============================

    ``multiplier`` is 2 (one attention and one MLP residual per layer), 1 for
    Megatron's hybrid (Mamba) models. Source: ``megatron/core/utils.py``,
    ``transformer_config.py`` (megatron-core 0.19).
    """
    n_layer = layer_count("n_layer", n_layer)
    std = positive_number("std", std)
    multiplier = positive_number("multiplier", multiplier)
    emb = (
        std
        if embedding_std is None
        else positive_number("embedding_std", embedding_std)
    )
    scaled = residual_scaled(normal(std / math.sqrt(multiplier * n_layer)), n_layer)
    laws = common(normal(std), attention_out=scaled, mlp_out=scaled)
    laws.update(
        embedding=normal(emb),
        position_embedding=normal(emb),
        token_type_embedding=normal(emb),
    )
    return rules(laws, patterns=patterns, scaled=RESIDUAL, name="megatron")


def torchtitan_llama3(
    dim: int = 4096,
    *,
    std: float = 0.02,
    depth_init: bool = True,
    n_layers: int | None = None,
    layer: str | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""Llama 3 as torchtitan initializes it (``torchtitan/models/llama3``).

    Read at ``pytorch/torchtitan`` commit ``b5bcd76c`` (2026-08-21):
    ``torchtitan/models/llama3/__init__.py`` (``_LINEAR_INIT``:
    ``trunc_normal_(std=0.02)``; ``_depth_init(layer_id)`` for ``wo`` and
    ``w2``/``w3``; ``_output_linear_init(dim)``: ``trunc_normal_(std=s, a=-3 s,
    b=3 s)``, ``s = dim**-0.5``; ``_EMBEDDING_INIT``: ``normal_(std=1.0)``;
    norms ``ones_``; biases ``zeros_``) and ``torchtitan/models/common/
    param_init.py`` (``depth_scaled_std(base, layer_id) = base / (2 (layer_id
    + 1))**0.5``). Older torchtitan had the same rules in
    ``Transformer.init_weights`` (``models/llama3/model/model.py``), where
    ``depth_init=False`` gave ``0.02 / sqrt(2 n_layers)`` to every block.

    PyTorch's ``trunc_normal_`` bounds are absolute: ``trunc_normal_(std=0.02)``
    keeps the default ``a=-2, b=2``, i.e. +-100 stds (so practically untruncated);
    only the output layer is truly truncated, at 3 stds.

    ================================== =============================================
    role (torchtitan names)            law (dim 4096)
    ================================== =============================================
    ``tok_embeddings``                 N(0, 1)
    ``wq``, ``wk``, ``wv``, ``w1``     trunc_normal(std 0.02, bounds +-2)
    ``wo``, ``w2``, ``w3``             trunc_normal(std 0.02/sqrt(2 (l + 1)),
                                       bounds +-2): layer 0 0.014142, layer 15
                                       0.0035355
    ``output`` (lm_head)               trunc_normal(std dim^-1/2 = 0.015625,
                                       bounds +-3 std)
    ``attention_norm``, ``ffn_norm``,  1
    ``norm``
    ================================== =============================================

    Args:
      dim: the model width (the output layer's std is ``dim**-0.5``).
      std: the base std.
      depth_init: layer-indexed stds (torchtitan's default); False gives
        ``std / sqrt(2 n_layers)`` to every layer.
      n_layers: the number of layers (needed with ``depth_init=False``).
      layer: the layer-index regex.
      patterns: role -> regex overrides.
    """
    dim = layer_count("dim", dim)
    std = positive_number("std", std)
    bounds = (-2.0, 2.0)
    if depth_init:
        depth: Any = DepthScaled(std, bounds=bounds)
    else:
        if n_layers is None:
            raise _errors.bad_value(
                "n_layers", "the number of layers with depth_init=False", n_layers
            )
        n = layer_count("n_layers", n_layers)
        depth = residual_scaled(_law(std / math.sqrt(2 * n), None, bounds), n)
    out = dim**-0.5
    laws = common(
        _law(std, None, bounds),
        embedding=normal(1.0),
        attention_out=depth,
        mlp_in=depth,  # torchtitan's w3 (the up projection) is depth-scaled, w1 not
        mlp_out=depth,
        lm_head=_torch.trunc_normal(0.0, out, -3 * out, 3 * out),
    )
    return rules(
        laws,
        patterns=patterns,
        layer=layer,
        scaled=SCALED_LLAMA,
        name="torchtitan_llama3",
    )
