"""Mixture-of-experts transformers as their sources initialize them: DeepSeek-V3,
Qwen3-MoE, Mixtral, OLMoE and gpt-oss (transformers 5.24), and DeepSeek-V3's
own recipe; with the builders from a ``config.json`` (:data:`HF_BUILDERS`).

Routed experts are stored 3-D, ``(experts, in, out)`` in the Flax layout
(transformers' ``(experts, out, in)``, gpt-oss' ``(experts, in, out)``); every
law here is fan-free (``normal(std)``), so the expert axis changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from .. import _errors
from .._constant import zeros
from .._distributions import normal
from . import _config
from ._depth import _padded
from ._roles import common, positive_number, rules
from ._transformers import SCALED_PADDED

#: DeepSeek-V3's std (the technical report, arXiv 2412.19437, sec. 4.2: "all
#: learnable parameters are randomly initialized with a standard deviation of
#: 0.006"); transformers' ``DeepseekV3Config.initializer_range`` defaults to 0.02.
DEEPSEEK_V3_STD = 0.006

_SOURCES = ("paper", "transformers")


def moe_laws(weight: Any, pad_token_id: int | None, **inits: Any) -> dict[str, Any]:
    """:func:`common`'s laws with ``weight`` for the router, the routed experts and
    MLA's projections, the token embedding's ``pad_token_id`` row zeroed."""
    laws = common(weight, embedding=_padded(weight, pad_token_id))
    laws.update(
        router=weight,
        expert_in=weight,
        expert_out=weight,
        mla_down=weight,
        mla_up=weight,
    )
    laws.update(inits)
    return laws


def deepseek_v3(
    initializer_range: float | None = None,
    *,
    source: Literal["paper", "transformers"] = "paper",
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""DeepSeek-V3 as its report trains it (default) or as transformers initializes it.

    ================================================= ============== ================
    role (HF / Flax names)                            ``"paper"``    ``"transformers"``
    ================================================= ============== ================
    ``embed_tokens``, ``lm_head``                     N(0, 0.006)    N(0, 0.02), row
                                                                     ``pad_token_id`` 0
    MLA ``q_a_proj``, ``kv_a_proj_with_mqa``          N(0, 0.006)    N(0, 0.02)
    (mla_down), ``q_b_proj``, ``kv_b_proj``
    (mla_up), ``o_proj``
    dense and shared-expert ``gate/up/down_proj``     N(0, 0.006)    N(0, 0.02)
    router ``mlp/gate`` (``DeepseekV3TopkRouter``)    N(0, 0.006)    N(0, 0.02)
    routed experts ``mlp/experts/gate_up_proj``,      N(0, 0.006)    N(0, 0.02)
    ``down_proj``, 3-D (expert axis first)
    ``e_score_correction_bias``                       0              0
    every RMSNorm (``q_a_layernorm``,                 1              1
    ``kv_a_layernorm``, layer and final norms)
    MTP layers (``eh_proj``; ``enorm``, ``hnorm``,    as above       as above
    ``post_norm``; their decoder block)
    ================================================= ============== ================

    ``"paper"``: the DeepSeek-V3 technical report (arXiv 2412.19437, sec. 4.2,
    "all learnable parameters are randomly initialized with a standard deviation
    of 0.006"); norms 1 and the routing bias 0, as in DeepSeek's
    ``inference/model.py``. ``"transformers"``: ``DeepseekV3PreTrainedModel.
    _init_weights`` (transformers 5.24 ``modeling_deepseek_v3.py``): the base
    rule (every ``nn.Linear``/``nn.Embedding`` ``N(0, initializer_range)``, the
    embedding's ``padding_idx`` row 0, RMSNorms 1), the router's weight normal
    and ``e_score_correction_bias`` zeros (a float32 buffer), the experts'
    ``gate_up_proj``/``down_proj`` normal. ``initializer_range`` defaults to
    0.02 there, a porting trap: DeepSeek-V3 trained at 0.006.

    MTP (multi-token prediction) layers: transformers 5.24 builds them
    separately (``MtpModel``, ``modeling_layers.py``) with the base rule only,
    which leaves the MTP block's router and routed experts uninitialized
    (``torch.empty``); this scheme gives them the main layers' law.

    Args:
      initializer_range: the std; default 0.006 (``"paper"``) or 0.02
        (``"transformers"``, the config's default).
      source: ``"paper"`` or ``"transformers"``.
      pad_token_id: the embedding row set to zero (transformers: the config's
        ``pad_token_id``; None: none).
      patterns: role -> regex overrides (see :func:`rules`).

    Raises:
      ValueError: an unknown source, a std that is not positive, a negative
        ``pad_token_id``, an unknown role.
    """
    if source not in _SOURCES:
        raise _errors.bad_choice("source", source, _SOURCES)
    if initializer_range is None:
        initializer_range = DEEPSEEK_V3_STD if source == "paper" else 0.02
    w = normal(positive_number("initializer_range", initializer_range))
    laws = moe_laws(w, pad_token_id, score_correction_bias=zeros)
    return rules(laws, patterns=patterns, scaled=SCALED_PADDED, name="deepseek_v3")


def _hf_moe(
    name: str,
    initializer_range: float,
    pad_token_id: int | None,
    patterns: Mapping[str, str | None] | None,
    **inits: Any,
) -> dict[str, Any]:
    w = normal(positive_number("initializer_range", initializer_range))
    laws = moe_laws(
        w, pad_token_id, **{k: w if v is None else v for k, v in inits.items()}
    )
    return rules(laws, patterns=patterns, scaled=SCALED_PADDED, name=name)


def qwen3_moe(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Qwen3-MoE as transformers initializes it (``Qwen3MoePreTrainedModel``).

    ============================================== ===========================
    role (HF / Flax names)                         law (``initializer_range`` 0.02)
    ============================================== ===========================
    ``embed_tokens``                               N(0, 0.02) (row ``pad_token_id``
                                                   zeroed if set)
    ``q/k/v/o_proj``, ``lm_head``, shared          N(0, 0.02), no depth scaling
    experts' ``gate/up/down_proj``
    router ``mlp/gate``                            N(0, 0.02)
    routed experts ``mlp/experts/gate_up_proj``,   N(0, 0.02), 3-D (expert axis
    ``down_proj``                                  first)
    RMSNorms (``q_norm``/``k_norm`` included)      1
    biases                                         0
    ============================================== ===========================

    transformers 5.24 ``modeling_qwen3_moe.py`` ``_init_weights``: the base rule,
    then ``Qwen3MoeExperts.gate_up_proj``/``down_proj`` and
    ``Qwen3MoeTopKRouter.weight`` ``N(0, initializer_range)``. The Qwen3
    technical report publishes no other init. Names as :func:`deepseek_v3`'s
    (``mlp/gate/kernel``, ``mlp/experts/gate_up_proj``, ``mlp/experts/down_proj``).

    Args:
      initializer_range: the std.
      pad_token_id: the embedding row set to zero (None: none).
      patterns: role -> regex overrides (see :func:`rules`).
    """
    return _hf_moe("qwen3_moe", initializer_range, pad_token_id, patterns)


def mixtral(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Mixtral as transformers initializes it (``MixtralPreTrainedModel``).

    ============================================== ===========================
    role (HF / Flax names)                         law (``initializer_range`` 0.02)
    ============================================== ===========================
    ``embed_tokens``                               N(0, 0.02) (row ``pad_token_id``
                                                   zeroed if set)
    ``q/k/v/o_proj``, ``lm_head``, shared          N(0, 0.02), no depth scaling
    experts' ``gate/up/down_proj``
    router ``mlp/gate``                            N(0, 0.02)
    routed experts ``mlp/experts/gate_up_proj``,   N(0, 0.02), 3-D (expert axis
    ``down_proj``                                  first)
    RMSNorms (``q_norm``/``k_norm`` included)      1
    biases                                         0
    ============================================== ===========================

    transformers 5.24 ``modeling_mixtral.py`` ``_init_weights``: the base rule,
    then ``MixtralExperts.gate_up_proj``/``down_proj`` and
    ``MixtralTopKRouter.weight`` ``N(0, initializer_range)`` (Mistral published
    no training init). Older ports name the block ``block_sparse_moe``: its
    ``gate/kernel`` is the router all the same.

    Args:
      initializer_range: the std.
      pad_token_id: the embedding row set to zero (None: none).
      patterns: role -> regex overrides (see :func:`rules`).
    """
    return _hf_moe("mixtral", initializer_range, pad_token_id, patterns)


def olmoe(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """OLMoE as transformers initializes it (``OlmoePreTrainedModel``).

    ============================================== ===========================
    role (HF / Flax names)                         law (``initializer_range`` 0.02)
    ============================================== ===========================
    ``embed_tokens``                               N(0, 0.02) (row ``pad_token_id``
                                                   zeroed if set)
    ``q/k/v/o_proj``, ``lm_head``, shared          N(0, 0.02), no depth scaling
    experts' ``gate/up/down_proj``
    router ``mlp/gate``                            N(0, 0.02)
    routed experts ``mlp/experts/gate_up_proj``,   N(0, 0.02), 3-D (expert axis
    ``down_proj``                                  first)
    RMSNorms (``q_norm``/``k_norm`` included)      1
    biases                                         0
    ============================================== ===========================

    transformers 5.24 ``modeling_olmoe.py`` ``_init_weights``: the base rule
    (``PreTrainedModel._init_weights``), then ``OlmoeExperts`` and
    ``OlmoeTopKRouter`` ``N(0, initializer_range)``. OLMoE's config has
    ``pad_token_id=1``: pass it to zero that row as transformers does.

    Args:
      initializer_range: the std.
      pad_token_id: the embedding row set to zero (None: none).
      patterns: role -> regex overrides (see :func:`rules`).
    """
    return _hf_moe("olmoe", initializer_range, pad_token_id, patterns)


def gpt_oss(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """gpt-oss as transformers initializes it (``GptOssPreTrainedModel``).

    Its rules differ from the other MoE models' in the biases and the sinks:

    ============================================== ===========================
    role (HF / Flax names)                         law (``initializer_range`` 0.02)
    ============================================== ===========================
    ``embed_tokens``, ``q/k/v/o_proj``,            N(0, 0.02) (embedding row
    ``lm_head``                                    ``pad_token_id`` zeroed if set)
    ``q/k/v/o_proj`` biases                        0
    attention ``sinks`` (one per head)             N(0, 0.02)
    router ``mlp/router/kernel``                   N(0, 0.02)
    router ``mlp/router/bias``                     **N(0, 0.02)**
    experts ``gate_up_proj``, ``down_proj``        N(0, 0.02), 3-D (experts, in, out)
    experts ``gate_up_proj_bias``,                 0
    ``down_proj_bias``
    RMSNorms                                       1
    ============================================== ===========================

    transformers 5.24 ``modeling_gpt_oss.py`` ``_init_weights`` (OpenAI's
    release has no training code).

    Args:
      initializer_range: the std.
      pad_token_id: the embedding row set to zero (None: none).
      patterns: role -> regex overrides (see :func:`rules`).
    """
    return _hf_moe(
        "gpt_oss",
        initializer_range,
        pad_token_id,
        patterns,
        router_bias=None,
        attention_sink=None,
        expert_bias=zeros,
    )


# ----------------------------------------------------------------------------
# From a config.json (a dict): what transformers draws.


def _transformers_moe(
    scheme: Callable[..., dict[str, Any]], pad: int | None = None
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    return lambda c: scheme(_config.std(c), pad_token_id=_config.pad(c, pad))


#: ``model_type`` -> the scheme transformers 5.24 initializes that model with,
#: from its ``config.json`` dict (keys it omits take the config class's defaults).
HF_BUILDERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "deepseek_v3": lambda c: deepseek_v3(
        _config.std(c), source="transformers", pad_token_id=_config.pad(c)
    ),
    "qwen3_moe": _transformers_moe(qwen3_moe),
    "mixtral": _transformers_moe(mixtral),
    "olmoe": _transformers_moe(olmoe, pad=1),
    "gpt_oss": _transformers_moe(gpt_oss),
}
