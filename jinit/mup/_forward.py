"""μP's attention logits ``scale · q·k`` as a Flax linen ``attention_fn``."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp


def attention_fn(scale: float | None) -> Callable[..., Any]:
    """A linen ``attention_fn`` with logits ``scale · q·k`` (None: Flax's own).

    ``flax.linen.dot_product_attention`` divides ``q`` by ``sqrt(head_dim)``;
    this multiplies ``q`` by ``scale · sqrt(head_dim)`` first. Pass it to
    ``nn.MultiHeadDotProductAttention(attention_fn=...)``, with ``scale`` from
    :meth:`Parametrization.attention_scale`.
    """
    from flax import linen as nn

    if scale is None:
        return nn.dot_product_attention

    # Flax passes an attention_fn only the keyword arguments its signature names
    # (mask, dropout, ...): the wrapper has dot_product_attention's signature.
    @functools.wraps(nn.dot_product_attention)
    def attend(query, key, value, *args, **kwargs):
        q = query * jnp.asarray(
            scale * math.sqrt(query.shape[-1]), dtype=jnp.result_type(query)
        )
        return nn.dot_product_attention(q, key, value, *args, **kwargs)

    return attend
