"""Gemma 3 as Hugging Face initializes it (``Gemma3PreTrainedModel``, transformers 5.24)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._constant import zeros
from .._distributions import normal
from ._depth import _padded
from ._roles import common, positive_number, rules
from ._transformers import SCALED_PADDED


def gemma3(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = 0,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""Gemma 3's text model as Hugging Face initializes it.

    ``Gemma3PreTrainedModel._init_weights`` (transformers 5.24
    ``modeling_gemma3.py``) runs the base rule, then sets every ``*RMSNorm``
    weight to **zero**: Gemma's RMSNorm computes ``x * (1 + w)``, so a stored 0
    is a unit scale. A port must keep that forward; these leaves get the role
    ``zero_centred_norm`` (every ``scale`` leaf; the plain ``norm_scale`` role
    is dropped).

    ============================================== ===========================
    role (HF names)                                law (``initializer_range`` 0.02)
    ============================================== ===========================
    ``embed_tokens``                               N(0, 0.02), row ``pad_token_id``
                                                   (0) = 0
    ``q/k/v/o_proj``, ``gate/up/down_proj``        N(0, 0.02), no depth scaling
    ``input_layernorm``, ``post_attention_``,      0 (``zero_centred_norm``:
    ``pre_/post_feedforward_layernorm``,           the forward uses ``1 + w``)
    ``q_norm``, ``k_norm``, ``norm``
    biases (``attention_bias=True``)               0
    ============================================== ===========================

    The embedding scale is not a parameter: ``Gemma3TextScaledWordEmbedding``
    multiplies the looked-up rows by ``sqrt(hidden_size)`` cast to the weight's
    dtype (in bfloat16 ``sqrt(3072) = 55.43`` becomes 55.5), so the embedding's
    init is the plain ``N(0, initializer_range)`` and the port's forward does
    the scaling. The head is tied to the embedding (``tie_word_embeddings``); an
    untied ``lm_head`` gets N(0, 0.02). Only the text model is covered: the
    multimodal ``Gemma3ForConditionalGeneration`` adds a SigLIP vision tower
    (LayerNorms at 1) and a projector whose ``mm_input_projection_weight`` is
    zeros. Google's own training init for Gemma 3 is not published, so
    transformers' is the only source.

    Args:
      initializer_range: the std (the config's ``initializer_range``).
      pad_token_id: the embedding row set to zero (the config's
        ``pad_token_id``, 0 for Gemma 3; None: none).
      patterns: role -> regex overrides (see :func:`rules`).
    """
    w = normal(positive_number("initializer_range", initializer_range))
    laws = common(
        w, embedding=_padded(w, pad_token_id), norm_scale=None, zero_centred_norm=zeros
    )
    return rules(laws, patterns=patterns, scaled=SCALED_PADDED, name="gemma3")
