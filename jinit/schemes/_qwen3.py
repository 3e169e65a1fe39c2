"""Qwen3 as Hugging Face initializes it (``Qwen3PreTrainedModel``, transformers 5.24)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._distributions import normal
from ._depth import _padded
from ._roles import common, positive_number, rules
from ._transformers import SCALED_PADDED


def qwen3(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Qwen3 (dense) as Hugging Face initializes it.

    ``Qwen3PreTrainedModel`` keeps ``PreTrainedModel._init_weights``, the base
    rule (transformers 5.24 ``modeling_utils.py``): every ``nn.Linear`` and
    ``nn.Embedding`` ``N(0, initializer_range)``, the embedding's
    ``padding_idx`` row zeroed, every ``*RMSNorm`` weight 1, biases 0. Qwen3's
    norms are plain (``w * x``, not ``(1 + w) * x``), the per-head ``q_norm`` /
    ``k_norm`` included. The Qwen3 technical report publishes no other init, so
    this is the only source.

    ============================================== ===========================
    role (HF names)                                law (``initializer_range`` 0.02)
    ============================================== ===========================
    ``embed_tokens``                               N(0, 0.02) (row ``pad_token_id``
                                                   zeroed if set)
    ``q/k/v/o_proj``, ``gate/up/down_proj``,       N(0, 0.02), no depth scaling
    ``lm_head``
    ``input_layernorm``,                           1
    ``post_attention_layernorm``, ``q_norm``,
    ``k_norm``, ``norm``
    q/k/v biases (``attention_bias=True``)         0
    ============================================== ===========================

    Args:
      initializer_range: the std (the config's ``initializer_range``).
      pad_token_id: the embedding row set to zero (the config's
        ``pad_token_id``; None: none).
      patterns: role -> regex overrides (see :func:`rules`).
    """
    w = normal(positive_number("initializer_range", initializer_range))
    laws = common(w, embedding=_padded(w, pad_token_id))
    return rules(laws, patterns=patterns, scaled=SCALED_PADDED, name="qwen3")
