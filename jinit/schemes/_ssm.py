"""State-space and linear-attention models as their sources initialize them:
Mamba-2 (``state-spaces/mamba`` or transformers) and Qwen3-Next (its
GatedDeltaNet as flash-linear-attention or transformers); with the builders
from a ``config.json`` (:data:`HF_BUILDERS`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from .. import _errors
from .. import torch as _torch
from .._constant import ones, zeros
from .._distributions import Uniform, normal
from .._logspace import LogArange, inverse_softplus_log_uniform, log_of_uniform
from .._variance import variance_scaling
from . import _config
from ._moe import moe_laws
from ._roles import common, layer_count, positive_number, rules
from ._transformers import SCALED_PADDED

_SOURCES = ("paper", "transformers")


def _check_source(source: Any) -> None:
    if source not in _SOURCES:
        raise _errors.bad_choice("source", source, _SOURCES)


def _dt_bias(dt_min: Any, dt_max: Any, floor: Any) -> Any:
    return inverse_softplus_log_uniform(dt_min, dt_max, floor)


def mamba2(
    n_layer: int = 64,
    *,
    source: Literal["paper", "transformers"] = "paper",
    initializer_range: float | None = None,
    dt_min: float = 1e-3,
    dt_max: float = 1e-1,
    dt_init_floor: float = 1e-4,
    A_init_range: tuple[float, float] = (1.0, 16.0),  # noqa: N803 (the source's name)
    conv_init: float | None = None,
    rescale_prenorm_residual: bool | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""Mamba-2 as its reference code (default) or transformers initializes it.

    With ``U(+-1/sqrt(fan_in))`` PyTorch's ``nn.Linear``/``nn.Conv1d`` default
    (``kaiming_uniform_(a=sqrt(5))``; the depthwise conv's fan_in is
    ``d_conv``), ``L = n_layer`` and ``std = initializer_range``:

    ========================================= =========================== ===========================
    role (HF / Flax names)                    ``"paper"``                 ``"transformers"``
    ========================================= =========================== ===========================
    ``embeddings``                            N(0, 0.02)                  N(0, std) (0.1 default)
    ``mixer/in_proj`` (ssm_in)                U(+-1/sqrt(fan_in))         N(0, std)
    ``mixer/conv1d`` kernel (ssm_conv)        U(+-1/sqrt(d_conv)), or     U(+-1/sqrt(d_conv))
                                              U(+-conv_init)
    ``mixer/conv1d`` bias (ssm_conv_bias)     U(+-1/sqrt(d_conv))         0
    ``mixer/dt_bias``                         softplus^-1(max(exp(U(log dt_min, log dt_max)),
                                              dt_init_floor)) in both
    ``mixer/A_log``                           log U(1, 16)                log(1), ..., log(heads)
    ``mixer/D``                               1                           1
    ``mixer/out_proj`` (ssm_out; attention    U(+-1/sqrt(fan_in)) /       U(+-1/sqrt(fan_in)),
    ``out_proj``, MLP ``fc2`` too)            sqrt(L)                     / sqrt(L) if rescaled
    ``lm_head`` (untied), other kernels       U(+-1/sqrt(fan_in))         N(0, std)
    ``mixer/norm`` (gated), layer norms       1                           1
    other biases                              0                           0
    ========================================= =========================== ===========================

    ``"paper"``: ``state-spaces/mamba`` at commit ``e9594ce1`` (2026-07-23):
    ``mamba_ssm/modules/mamba2.py`` (``Mamba2.__init__``: ``dt_min=0.001,
    dt_max=0.1, dt_init_floor=1e-4``, ``A_init_range=(1, 16)``, ``D`` ones,
    ``conv_init`` None, ``bias=False``, ``conv_bias=True``) and
    ``mamba_ssm/models/mixer_seq_simple.py`` (``_init_weights``: Linear biases
    0, embedding ``N(0, initializer_range=0.02)``, ``rescale_prenorm_residual``
    True: ``out_proj``/``fc2`` re-drawn ``kaiming_uniform_(a=sqrt(5))`` then
    divided by ``sqrt(n_layer)``; ``MambaLMHeadModel`` applies it last with
    ``n_residuals_per_layer=1``, so the MLP's ``sqrt(2)`` never survives).
    ``"transformers"``: ``Mamba2PreTrainedModel._init_weights`` (transformers
    5.24 ``modeling_mamba2.py``): the base rule (Linear and Embedding
    ``N(0, initializer_range)``), then per mixer ``A_log = log(arange(1,
    heads + 1))`` (no random draw), ``D`` 1, ``dt_bias`` as above from
    ``time_step_min/max/floor``, ``conv1d`` and ``out_proj``
    ``kaiming_uniform_(a=sqrt(5))``, ``conv1d.bias`` 0, ``out_proj`` divided by
    ``sqrt(num_hidden_layers)`` if ``rescale_prenorm_residual`` (False by
    default).

    Args:
      n_layer: the number of layers (the ``out_proj`` rescale).
      source: ``"paper"`` or ``"transformers"``.
      initializer_range: the embedding's std (``"paper"``, default 0.02) or
        every normal's (``"transformers"``, default 0.1, ``Mamba2Config``'s).
      dt_min, dt_max, dt_init_floor: ``dt``'s range and clamp
        (transformers' ``time_step_min``, ``time_step_max``, ``time_step_floor``).
      A_init_range: ``A``'s uniform range (``"paper"`` only).
      conv_init: the conv kernel's ``U(+-conv_init)`` (``"paper"`` only).
      rescale_prenorm_residual: divide ``out_proj`` by ``sqrt(n_layer)``
        (default: True for ``"paper"``, False for ``"transformers"``).
      patterns: role -> regex overrides (see :func:`rules`).

    Raises:
      ValueError: an unknown source, a bad size, range or std; ``A_init_range``
        or ``conv_init`` with ``source="transformers"`` (which has no such field).
    """
    _check_source(source)
    n = layer_count("n_layer", n_layer)
    rescale = (
        source == "paper"
        if rescale_prenorm_residual is None
        else bool(rescale_prenorm_residual)
    )
    dt = _dt_bias(dt_min, dt_max, dt_init_floor)
    torch_default = _torch.linear_default()
    out = variance_scaling(1 / (3 * n) if rescale else 1 / 3, "fan_in", "uniform")
    if source == "transformers":
        if A_init_range != (1.0, 16.0) or conv_init is not None:
            raise _errors.bad_value(
                "source",
                '"paper" with A_init_range= or conv_init= (transformers draws '
                "neither: A_log = log(1..heads), conv1d kaiming_uniform)",
                source,
            )
        std = 0.1 if initializer_range is None else initializer_range
        w = normal(positive_number("initializer_range", std))
        laws = common(
            w,
            ssm_in=w,
            ssm_conv=_torch.conv_default(),
            ssm_conv_bias=zeros,
            ssm_out=out,
        )
        laws.update(ssm_dt_bias=dt, ssm_a_log=LogArange(), ssm_d=ones, ssm_norm=ones)
        return rules(
            laws, patterns=patterns, scaled=("ssm_conv", "ssm_out"), name="mamba2"
        )
    if not isinstance(A_init_range, tuple | list) or len(A_init_range) != 2:
        raise _errors.bad_type("A_init_range", "a (low, high) pair", A_init_range)
    low = positive_number("A_init_range[0]", A_init_range[0])
    a_log = log_of_uniform(low, A_init_range[1])
    if conv_init is None:
        conv: Any = _torch.conv_default()
    else:
        c = positive_number("conv_init", conv_init)
        conv = Uniform(-c, c)
    std = 0.02 if initializer_range is None else initializer_range
    laws = common(
        torch_default,
        embedding=normal(positive_number("initializer_range", std)),
        attention_out=out,
        mlp_out=out,
    )
    laws.update(
        ssm_in=torch_default,
        ssm_conv=conv,
        ssm_conv_bias=_torch.bias_default(),
        ssm_out=out,
        ssm_dt_bias=dt,
        ssm_a_log=a_log,
        ssm_d=ones,
        ssm_norm=ones,
    )
    return rules(
        laws,
        patterns=patterns,
        scaled=("ssm_out", "attention_out", "mlp_out"),
        name="mamba2",
    )


def qwen3_next(
    initializer_range: float = 0.02,
    *,
    source: Literal["paper", "transformers"] = "paper",
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""Qwen3-Next: its GatedDeltaNet as flash-linear-attention (default) or
    transformers initializes it; the rest as transformers.

    ============================================= ========================= ==========================
    role (HF / Flax names)                        ``"paper"``               ``"transformers"``
    ============================================= ========================= ==========================
    ``linear_attn/A_log``                         log U(0, 16)              log U(0.01, 16)
    ``linear_attn/dt_bias``                       softplus^-1(max(exp(U(    1
                                                  log 0.001, log 0.1)),
                                                  1e-4))
    ``linear_attn/in_proj_qkvz``, ``in_proj_ba``, N(0, 0.02)                N(0, 0.02)
    ``out_proj``, ``conv1d`` (depthwise, no bias)
    ``linear_attn/norm`` (gated RMSNorm)          1                         1
    every other RMSNorm (``input_layernorm``,     **0** (zero-centred:      **0**
    ``post_attention_layernorm``, ``q_norm``,     the forward uses 1 + w)
    ``k_norm``, ``norm``)
    ``embed_tokens``, ``q/k/v/o_proj``,           N(0, 0.02)                N(0, 0.02) (row
    ``lm_head``                                                             ``pad_token_id`` 0)
    router ``mlp/gate``, experts                  N(0, 0.02)                N(0, 0.02)
    ``mlp/experts/gate_up_proj``, ``down_proj``,
    ``shared_expert/*``, ``shared_expert_gate``
    ============================================= ========================= ==========================

    ``"transformers"``: ``Qwen3NextPreTrainedModel._init_weights``
    (transformers 5.24 ``modeling_qwen3_next.py``): the base rule, then
    ``dt_bias`` ones, ``A_log = log(uniform_(0.01, 16))`` ("lower bound kept
    away from 0 so log(A) never becomes -inf"), ``Qwen3NextRMSNorm`` weights
    zeros, experts and router ``N(0, initializer_range)``. ``"paper"``: the
    Gated DeltaNet layer's reference, flash-linear-attention at commit
    ``bc3b101d`` (2026-08-22): ``fla/layers/gated_deltanet.py`` and
    ``GatedDeltaNetPreTrainedModel._init_weights`` (``A_log = log
    uniform_(0, 16)``, ``dt_bias`` the Mamba-2 draw with ``dt_min=0.001,
    dt_max=0.1``, floor ``1e-4``; Linear and Conv1d ``N(0, initializer_range)``,
    norms 1); Qwen did not publish another init. ``log U(0, 16)`` is drawn
    without a zero (:func:`jinit.log_of_uniform`), so it is finite.

    Args:
      initializer_range: the std.
      source: ``"paper"`` or ``"transformers"``.
      pad_token_id: the embedding row set to zero (None: none).
      patterns: role -> regex overrides (see :func:`rules`).
    """
    _check_source(source)
    w = normal(positive_number("initializer_range", initializer_range))
    laws = moe_laws(w, pad_token_id, ssm_in=w, ssm_conv=w, ssm_out=w, ssm_norm=ones)
    laws.update(norm_scale=None, zero_centred_norm=zeros)
    if source == "paper":
        laws.update(
            ssm_a_log=log_of_uniform(0.0, 16.0), ssm_dt_bias=_dt_bias(1e-3, 0.1, 1e-4)
        )
    else:
        laws.update(ssm_a_log=log_of_uniform(0.01, 16.0), ssm_dt_bias=ones)
    return rules(laws, patterns=patterns, scaled=SCALED_PADDED, name="qwen3_next")


# ----------------------------------------------------------------------------
# From a config.json (a dict): what transformers draws.


def _mamba2_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    return mamba2(
        _config.size(config, "num_hidden_layers", 64),
        source="transformers",
        initializer_range=_config.std(config, 0.1),
        dt_min=_config.number(config, "time_step_min", 1e-3),
        dt_max=_config.number(config, "time_step_max", 1e-1),
        dt_init_floor=_config.number(config, "time_step_floor", 1e-4),
        rescale_prenorm_residual=bool(
            _config.value(config, "rescale_prenorm_residual", False)
        ),
    )


#: ``model_type`` -> the scheme transformers 5.24 initializes that model with,
#: from its ``config.json`` dict (keys it omits take the config class's defaults).
HF_BUILDERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "mamba2": _mamba2_from_config,
    "qwen3_next": lambda c: qwen3_next(
        _config.std(c), source="transformers", pad_token_id=_config.pad(c)
    ),
}
