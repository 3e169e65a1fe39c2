"""OLMo's and OLMo-core's schemes (allenai/OLMo ``InitFnType``, allenai/OLMo-core
``InitMethod``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from .. import _errors, _signature
from .._base import Init
from .._distributions import normal
from .._tree import PerLeaf
from ._depth import DepthScaled, _law, _padded, residual_scaled
from ._roles import common, layer_count, positive_number, rules
from ._transformers import RESIDUAL, RESIDUAL_HEAD, SCALED_LLAMA, SCALED_PADDED


def olmo(
    init_fn: Literal["normal", "mitchell", "full_megatron"] = "normal",
    *,
    d_model: int = 2048,
    n_layers: int = 16,
    d_ff: int | None = None,
    init_std: float = 0.02,
    init_cutoff_factor: float | None = None,
    emb_init_std: float | None = None,
    layer: str | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""OLMo's ``InitFnType`` schemes (``allenai/OLMo``, ai2-olmo 0.6.0 ``olmo/model.py``).

    All laws are normals truncated at ``+-init_cutoff_factor`` stds when it is
    set (OLMo-2's configs use 3, the ``mitchell`` configs 3), untruncated
    otherwise. OLMo names: ``att_proj`` (fused qkv), ``attn_out``, ``ff_proj``,
    ``ff_out`` (block), ``transformer/ff_out`` (readout), ``wte``, ``wpe``.

    ============== =============== =============================== ==================
    role           ``normal``      ``mitchell``                    ``full_megatron``
    ============== =============== =============================== ==================
    q/k/v, ff_proj init_std        1/sqrt(d)                       init_std
    attn_out       init_std        1/sqrt(2 d (l + 1))             init_std/sqrt(2 L)
    block ff_out   init_std        1/sqrt(2 d_ff (l + 1))          init_std/sqrt(2 L)
    wte            init_std        emb_init_std or 1/sqrt(d)       emb_init_std or
                                                                   init_std
    wpe            init_std        1/sqrt(d)                       init_std
    readout        init_std        1/sqrt(d)                       1/sqrt(d)
    norms, biases  1, 0            1, 0                            1, 0
    ============== =============== =============================== ==================

    (``l``: the block index from 0; ``d_ff``: the block ``ff_out``'s input
    width, default ``4 d_model``.) At OLMo-1B (d 2048, L 16) ``mitchell``'s
    layer-0 ``attn_out`` std is 0.015625 and ``full_megatron``'s 0.0035355.

    Args:
      init_fn: the scheme.
      d_model, n_layers, d_ff: the model's sizes.
      init_std, init_cutoff_factor, emb_init_std: OLMo's config fields
        (``mitchell`` truncates at 3 stds when the factor is None, as OLMo-1's
        configs set it).
      layer: the layer-index regex of the depth-indexed laws (``mitchell``).
      patterns: role -> regex overrides.
    """
    choices = ("normal", "mitchell", "full_megatron")
    if init_fn not in choices:
        raise _errors.bad_choice("init_fn", init_fn, choices)
    d = layer_count("d_model", d_model)
    n = layer_count("n_layers", n_layers)
    d_ff = 4 * d if d_ff is None else layer_count("d_ff", d_ff)
    init_std = positive_number("init_std", init_std)
    cut = init_cutoff_factor
    if cut is not None:
        cut = positive_number("init_cutoff_factor", cut)
    emb = (
        None if emb_init_std is None else positive_number("emb_init_std", emb_init_std)
    )
    if init_fn == "normal":
        return rules(common(_law(init_std, cut)), patterns=patterns, name="olmo")
    if init_fn == "mitchell":
        cut = 3.0 if cut is None else cut
        laws = common(
            _law(d**-0.5, cut),
            embedding=_law(emb or d**-0.5, cut),
            attention_out=DepthScaled(1 / math.sqrt(d), cutoff=cut),
            mlp_out=DepthScaled(1 / math.sqrt(d_ff), cutoff=cut),
        )
        return rules(
            laws,
            patterns=patterns,
            layer=layer,
            scaled=(*RESIDUAL, "position_embedding"),
            name="olmo",
        )
    scaled = residual_scaled(_law(init_std / math.sqrt(2 * n), cut), n)
    laws = common(
        _law(init_std, cut),
        embedding=_law(emb or init_std, cut),
        attention_out=scaled,
        mlp_out=scaled,
        lm_head=_law(d**-0.5, cut),
    )
    return rules(
        laws,
        patterns=patterns,
        scaled=(*RESIDUAL_HEAD, "position_embedding"),
        name="olmo",
    )


def _fan_in_law(cutoff: float) -> PerLeaf:
    """N(0, 1/fan_in) truncated at +-``cutoff`` stds, fan_in the leaf's layer's."""

    def choose(path: str, leaves: Mapping[str, Any]) -> Init:
        spec = leaves[path]
        sig = _signature.signature_of(spec)
        fan_in, _ = _signature.fans(None, sig, tuple(spec.shape))
        return _law(fan_in**-0.5, cutoff)

    return PerLeaf("olmo_core_fan_in", choose)


def olmo_core(
    method: Literal["normal", "llama", "llama_depth", "normalized", "fan_in"] = "llama",
    *,
    d_model: int = 2048,
    n_layers: int = 16,
    std: float = 0.02,
    embedding_std: float | None = None,
    embed_scale: float | None = None,
    layer: str | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""OLMo-core's ``InitMethod`` (``src/olmo_core/nn/transformer/init.py``).

    Every Linear is ``init_linear``: a normal truncated at +-3 of its stds
    (``trunc_normal_`` with ``a = -3 std, b = 3 std``), bias 0. OLMo-core
    names: ``attention/w_q``, ``w_k``, ``w_v`` (or ``w_qkv``),
    ``attention/w_out``, ``feed_forward/w1`` (gate), ``w3`` (up), ``w2`` (down),
    ``embeddings``, ``lm_head/w_out``. With ``d = d_model``, ``L = n_layers``,
    ``l`` the block index from 0:

    ============ ============= =============== ================ ================= ==============
    role         ``normal``    ``llama``       ``llama_depth``  ``normalized``    ``fan_in``
    ============ ============= =============== ================ ================= ==============
    embeddings   embedding_std N(0, 1)         N(0, 1)          N(0, d^-1/2)      N(0, 1 /
                 (std)         untruncated     untruncated      untruncated       embed_scale)
    q, k, v, w1  std           std             std              d^-1/2            fan_in^-1/2
    attn w_out   std           std/sqrt(2L)    std/sqrt(2(l+1)) d^-1/2/sqrt(2L)   fan_in^-1/2
    ``w3``       std           std/sqrt(2L)    std/sqrt(2(l+1)) d^-1/2            fan_in^-1/2
    ``w2``       std           std/sqrt(2L)    std/sqrt(2(l+1)) d^-1/2/sqrt(2L)   fan_in^-1/2
    lm_head      std           d^-1/2          d^-1/2           d^-1/2            d^-1/2
    norms        1             1               1                1                 1
    ============ ============= =============== ================ ================= ==============

    (Each std is that of the normal before its 3-sigma truncation; embeddings
    other than ``normal``'s are untruncated ``normal_``. ``w2`` gets ``w3``'s
    std under ``llama``/``llama_depth`` and ``w3`` gets ``w1``'s under
    ``normalized``: the code reuses the variable.) ``fan_in`` reads each
    kernel's fan-in (``in_features``) from the leaf's signature
    (:func:`jinit.flax.abstract`), else from ``jinit.compute_fans`` of its
    shape. Read at ``allenai/OLMo-core`` commit ``fa6c5014`` (2026-06-22):
    ``init.py`` (``InitMethod.init_embeddings``, ``init_final_w_out``,
    ``init_feed_forward``), ``nn/attention/__init__.py``
    (``Attention.init_weights``, ``FusedAttention.init_weights``).

    Not covered: MoE routers and experts (``init_feed_forward_moe``), the
    attention gate ``w_g``, and what OLMo-core's ``NormalizedTransformer``
    (nGPT) does besides ``normalized``: it L2-normalizes every matrix after
    ``init_weights`` and after every optimizer step (``normalize_matrices``:
    ``w_q``, ``w_k``, ``w_v``, ``w1``, ``w3`` and ``lm_head`` along the input
    axis, ``w_out`` and ``w2`` along the output axis, each embedding row), and its
    blocks' scaling vectors (``attn_alpha``, ``mlp_alpha``, ...) start at
    ``1/sqrt(d)`` (``NormalizedTransformerBlock.reset_parameters``).

    Args:
      method: the ``InitMethod``.
      d_model, n_layers: the model's width and depth.
      std: ``init_std``.
      embedding_std: ``embedding_init_std`` (``normal`` only; default ``std``).
      embed_scale: the model's ``embed_scale`` (``fan_in`` only: embeddings at
        ``N(0, 1 / embed_scale)``).
      layer: the layer-index regex (``llama_depth``).
      patterns: role -> regex overrides.

    Raises:
      ValueError: an unknown method, a bad size or std.
    """
    choices = ("normal", "llama", "llama_depth", "normalized", "fan_in")
    if method not in choices:
        raise _errors.bad_choice("method", method, choices)
    d = layer_count("d_model", d_model)
    n = layer_count("n_layers", n_layers)
    std = positive_number("std", std)
    emb = (
        std
        if embedding_std is None
        else positive_number("embedding_std", embedding_std)
    )
    scale = 1.0 if embed_scale is None else positive_number("embed_scale", embed_scale)
    head = _law(d**-0.5, 3.0)
    if method == "normal":
        laws = common(_law(std, 3.0), embedding=_law(emb, 3.0))
        return rules(laws, patterns=patterns, name="olmo_core")
    if method == "normalized":
        base = _law(d**-0.5, 3.0)
        out: Any = residual_scaled(_law(d**-0.5 / math.sqrt(2 * n), 3.0), n)
        laws = common(
            base,
            embedding=normal(d**-0.5),
            attention_out=out,
            mlp_out=out,
            lm_head=head,
        )
        return rules(laws, patterns=patterns, scaled=RESIDUAL, name="olmo_core")
    if method == "fan_in":
        laws = common(_fan_in_law(3.0), embedding=normal(1.0 / scale), lm_head=head)
        return rules(laws, patterns=patterns, name="olmo_core")
    if method == "llama":
        out = residual_scaled(_law(std / math.sqrt(2 * n), 3.0), n)
    else:
        out = DepthScaled(std, cutoff=3.0)
    laws = common(
        _law(std, 3.0),
        embedding=normal(1.0),
        attention_out=out,
        mlp_in=out,
        mlp_out=out,
        lm_head=head,
    )
    return rules(
        laws, patterns=patterns, layer=layer, scaled=SCALED_LLAMA, name="olmo_core"
    )


def olmo2(
    initializer_range: float = 0.02,
    *,
    source: Literal["paper", "transformers"] = "paper",
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""OLMo 2, as its own training configs or as Hugging Face initializes it.

    ============================================ =============================== ===================
    role (HF names)                              ``"paper"`` (default)           ``"transformers"``
    ============================================ =============================== ===================
    ``embed_tokens``                             N(0, 0.02) truncated at +-3 std N(0, 0.02), row
                                                                                 ``pad_token_id``
                                                                                 zeroed if set
    ``q/k/v/o_proj``, ``gate/up/down_proj``,     N(0, 0.02) truncated at +-3 std N(0, 0.02)
    ``lm_head``
    ``q_norm``, ``k_norm`` (full width),         1                               1
    ``post_attention_layernorm``,
    ``post_feedforward_layernorm``, ``norm``
    ============================================ =============================== ===================

    ``"paper"``: OLMo 2's configs (``allenai/OLMo``
    ``configs/annealing/peteish7-*.yaml``: ``init_fn: normal``, ``init_std:
    0.02``, ``init_cutoff_factor: 3``), i.e. :func:`olmo` ``("normal",
    init_std=initializer_range, init_cutoff_factor=3)``; OLMo-core's
    ``InitMethod.normal`` is the same. No depth scaling, no padding row.
    ``"transformers"``: ``Olmo2PreTrainedModel`` keeps the base
    ``_init_weights`` (transformers 5.24): untruncated normals, the
    embedding's ``padding_idx`` row zeroed (``Olmo2Config.pad_token_id``
    defaults to 1), norms 1. OLMo 2's norms are plain (``w * x``).

    Args:
      initializer_range: the std (``init_std``).
      source: ``"paper"`` (OLMo 2's own recipe) or ``"transformers"``.
      pad_token_id: the embedding row zeroed (``"transformers"`` only; None:
        none).
      patterns: role -> regex overrides.

    Raises:
      ValueError: an unknown source, ``pad_token_id`` with ``"paper"``.
    """
    if source not in ("paper", "transformers"):
        raise _errors.bad_choice("source", source, ("paper", "transformers"))
    std = positive_number("initializer_range", initializer_range)
    if source == "paper":
        if pad_token_id is not None:
            raise _errors.bad_value(
                "pad_token_id",
                "None with source='paper' (OLMo 2's own init zeroes no row; "
                "transformers' does: pass source='transformers')",
                pad_token_id,
            )
        return olmo("normal", init_std=std, init_cutoff_factor=3.0, patterns=patterns)
    w = normal(std)
    laws = common(w, embedding=_padded(w, pad_token_id))
    return rules(laws, patterns=patterns, scaled=SCALED_PADDED, name="olmo2")
