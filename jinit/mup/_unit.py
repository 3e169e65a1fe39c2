"""u-μP's forward scales (graphcore unit-scaling 0.3.5 ``functional.py``), as floats."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _checks, _errors


def positive_int(arg: str, value: Any) -> int:
    """``value`` as an int >= 1; TypeError "`arg` must be a positive int" otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _errors.bad_type(arg, "a positive int", value)
    if value <= 0:
        raise _errors.bad_value(arg, "a positive int", value)
    return int(value)


def _log_interpolation(alpha: float, lower: float, upper: float) -> float:
    """``unit_scaling.core.functional.logarithmic_interpolation``."""
    return math.exp(alpha * math.log(upper) + (1 - alpha) * math.log(lower))


def unit_linear_scale(fan_in: int, *, readout: bool = False) -> float:
    r"""u-μP's factor of a linear layer's output (bias included).

    .. math:: y = s \, (x W + b), \quad s = \text{fan\_in}^{-1/2}
       \ (\text{readout: } 1 / \text{fan\_in})

    ``unit_scaling.functional.linear`` (``scale_power[0] = 0.5``) and
    ``linear_readout`` (``1.0``). ``fan_in`` is the layer's number of inputs
    (a ``DenseGeneral``'s product of input axes).

    Args:
      fan_in: the layer's fan-in, a positive int.
      readout: the network's output layer.

    Returns:
      ``fan_in ** -0.5``, or ``1 / fan_in`` for the readout.

    Example:
      >>> d = 256  # then y = nn.Dense(4 * d, use_bias=False)(x) * scale
      >>> scale = jinit.mup.unit_linear_scale(d)
      >>> scale
      0.0625
    """
    positive_int("fan_in", fan_in)
    return 1.0 / fan_in if readout else fan_in**-0.5


def unit_attention_output_scale(
    seq_len: int,
    head_dim: int,
    *,
    mult: float = 1.0,
    causal: bool = False,
    dropout: float = 0.0,
) -> float:
    r"""u-μP's factor of the attention output (logits ``mult · q·k / head_dim``).

    ``unit_scaling.functional.scaled_dot_product_attention``'s empirical model of
    the output's std:

    .. math:: s = \frac{\sqrt{1 - p}}{\exp(a \log 1 + (1 - a) \log \ell)},
       \quad a = \frac{1}{1 + 4 d / \text{mult}^2},
       \quad \ell = \sqrt{(\log n \text{ if causal else } 1) / n}

    with ``n = seq_len``, ``d = head_dim``, ``p = dropout``.

    Args:
      seq_len: the sequence length (of the values).
      head_dim: the head dim.
      mult: the attention multiplier (logits ``mult / head_dim``).
      causal: a causal mask (unit-scaling's ``is_causal``).
      dropout: the attention dropout rate.

    Returns:
      The factor of the attention output, a float.
    """
    positive_int("seq_len", seq_len)
    positive_int("head_dim", head_dim)
    mult = _checks.real_number("mult", mult, positive=True)
    dropout = _checks.real_number("dropout", dropout, nonnegative=True)
    if dropout >= 1:
        raise _errors.bad_value("dropout", "a rate in [0, 1)", dropout)
    lower = ((math.log(seq_len) if causal else 1) / seq_len) ** 0.5
    alpha = 1 / (1 + 4 * head_dim / mult**2)
    return (1 - dropout) ** 0.5 / _log_interpolation(alpha, lower, 1.0)


def unit_gelu_scale(mult: float = 1.0) -> float:
    """u-μP's factor of ``gelu(mult · x) / mult`` (exact, erf GELU).

    ``unit_scaling.functional.gelu``: ``exp(a log u + (1 - a) log 2)`` with
    ``a = 1 / (1 + 0.25 / mult²)`` and ``u = sqrt(2 / (1 - 1/π))``. In Flax use
    ``nn.gelu(x * mult, approximate=False) / mult * unit_gelu_scale(mult)``
    (torch's GELU is the exact one; Flax's default is the tanh approximation).
    """
    mult = _checks.real_number("mult", mult, positive=True)
    alpha = 1 / (1 + 0.25 / mult**2)
    return _log_interpolation(alpha, 2.0, (2 / (1 - 1 / math.pi)) ** 0.5)


def unit_silu_scale(mult: float = 1.0) -> float:
    """u-μP's factor of ``x · sigmoid(mult · x)`` (``unit_scaling.functional.silu``).

    The same empirical model as :func:`unit_gelu_scale`.
    """
    return unit_gelu_scale(mult)


def unit_silu_glu_scale(mult: float = 1.0) -> float:
    """u-μP's factor of ``x · g · sigmoid(mult · g)`` (``functional.silu_glu``).

    ``exp(a log sqrt(2) + (1 - a) log 2)`` with ``a = 1 / (1 + 1 / mult²)``.
    """
    mult = _checks.real_number("mult", mult, positive=True)
    alpha = 1 / (1 + 1 / mult**2)
    return _log_interpolation(alpha, 2.0, 2**0.5)


def unit_residual_tau(
    index: int,
    layers: int,
    *,
    residual_mult: float = 1.0,
    residual_attn_ratio: float = 1.0,
) -> float:
    r"""u-μP's residual weight ``tau`` of branch ``index`` of ``layers`` (App. G).

    ``unit_scaling.core.functional.transformer_residual_scaling_rule``: branches
    alternate attention (even ``index``) and MLP (odd), ``layers = 2 ×`` the
    number of transformer layers (``TransformerStack`` calls it with ``(2i,
    2L)`` and ``(2i + 1, 2L)``):

    .. math:: \alpha_{mlp} = r \sqrt{2 / (1 + q^2)}, \ \alpha_{attn} = q
       \alpha_{mlp}, \ \tau = \alpha / \sqrt{L/2 + n_{attn} \alpha_{attn}^2 +
       n_{mlp} \alpha_{mlp}^2}

    with ``r = residual_mult``, ``q = residual_attn_ratio``, ``n_attn =
    (index + 1) // 2``, ``n_mlp = index // 2``. Weigh the branch with
    :func:`unit_residual_weights`.

    Returns:
      ``tau``, a float.
    """
    _checks.integer("index", index, minimum=0)
    positive_int("layers", layers)
    r = _checks.real_number("residual_mult", residual_mult, positive=True)
    q = _checks.real_number("residual_attn_ratio", residual_attn_ratio, positive=True)
    alpha_mlp = r * (2 / (1 + q**2)) ** 0.5
    alpha_attn = q * alpha_mlp
    n_attn, n_mlp = (index + 1) // 2, index // 2
    alpha = alpha_attn if index % 2 == 0 else alpha_mlp
    return alpha / (layers / 2 + n_attn * alpha_attn**2 + n_mlp * alpha_mlp**2) ** 0.5


def unit_residual_weights(tau: float) -> tuple[float, float]:
    r"""``(branch, skip)`` factors of a u-μP residual: ``y = branch · f(x) + skip · x``.

    ``unit_scaling.functional.residual_split``/``residual_add``:
    ``branch = tau / sqrt(1 + tau²)``, ``skip = 1 / sqrt(1 + tau²)``.

    Example:
      >>> branch, skip = jinit.mup.unit_residual_weights(0.5)
      >>> round(branch**2 + skip**2, 6)  # then x = branch * attn(norm(x)) + skip * x
      1.0
    """
    tau = _checks.real_number("tau", tau, nonnegative=True)
    denom = (1 + tau**2) ** 0.5
    return tau / denom, 1 / denom
