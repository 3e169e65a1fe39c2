"""The activation table of ``docs/reference.md`` (a documentation tool).

Each row's moments are computed by quadrature from the activation itself
(float64 NumPy, checked against JAX's function ``jinit report`` runs), its
mean-field cells by :mod:`jinit.diagnostics`, its PyTorch gain by
``jinit.torch.calculate_gain``. Hand-written: the Keras guides' recommendation
and jinit's, per row.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import numpy as np

import jinit.torch as _torch


def _phi(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF, in float64."""
    return 0.5 * (1.0 + np.vectorize(math.erf, otypes=[float])(x / math.sqrt(2)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(x / 2))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_LAMBDA = 1.0507009873554804934193349852946
_SLOPE = 0.01


def _selu(x, d):
    neg = np.exp(np.minimum(x, 0.0))
    if d:
        return _SELU_LAMBDA * np.where(x > 0, 1.0, _SELU_ALPHA * neg)
    return _SELU_LAMBDA * np.where(x > 0, x, _SELU_ALPHA * (neg - 1))


@dataclasses.dataclass(frozen=True)
class Activation:
    """An activation with its derivative, for the scale that preserves variance.

    Attributes:
      name: the name, as ``jinit.diagnostics.ACTIVATIONS``, ``jinit.models`` and
        ``jinit report --activation`` spell it: the row is that function.
      fn: ``fn(x, derivative) -> array`` in float64.
      torch: its name for ``torch.nn.init.calculate_gain``, if PyTorch has one.
      guide: what the Keras guides (keras.io developer guides) recommend for it.
      use: jinit's recommendation, a format string of :func:`deep`'s cells
        (``{scale}``: the scale a ``DEPTH``-layer network keeps).
      note: what the name means, where it is not obvious.
    """

    name: str
    fn: Callable[[np.ndarray, bool], np.ndarray]
    torch: str | None
    guide: str
    use: str
    note: str = ""


_GELU_C = math.sqrt(2 / math.pi)


def _gelu_tanh(x, d):
    """``jax.nn.gelu``'s default: ``x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    t = np.tanh(_GELU_C * (x + 0.044715 * x**3))
    if d:
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (
            1 + 3 * 0.044715 * x * x
        )
    return 0.5 * x * (1 + t)


def _gelu_erf(x, d):
    if d:
        return _phi(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return x * _phi(x)


_DEEP = (
    '`variance_scaling({scale}, "fan_in", ...)` keeps a {n}-layer MLP\'s size, '
    "but on an unstable fixed point: He's 2.0 shrinks it {he}, the forward "
    "scale grows it {forward}; measure the real model (`jinit report`, "
    "`jinit.diagnostics.gain_search`)"
)


ACTIVATIONS: tuple[Activation, ...] = (
    Activation(
        "linear",
        lambda x, d: np.ones_like(x) if d else x,
        "linear",
        "—",
        "`lecun_normal()`, `lecun_uniform()`",
    ),
    Activation(
        "relu",
        lambda x, d: (x > 0).astype(float) if d else np.maximum(x, 0.0),
        "relu",
        "HeNormal, HeUniform",
        "`he_normal()`, `he_uniform()`",
    ),
    Activation(
        "leaky_relu",
        lambda x, d: (
            np.where(x > 0, 1.0, _SLOPE) if d else np.where(x > 0, x, _SLOPE * x)
        ),
        "leaky_relu",
        "HeNormal, HeUniform",
        "`he_normal()` (exactly: `variance_scaling(2 / (1 + 0.01²), ...)`)",
    ),
    Activation(
        "gelu",
        _gelu_tanh,
        None,
        "—",
        _DEEP,
        note="tanh approximation: `jax.nn.gelu`'s default",
    ),
    Activation(
        "gelu_erf",
        _gelu_erf,
        None,
        "—",
        _DEEP,
        note="exact: `jax.nn.gelu(x, approximate=False)`, PyTorch's default",
    ),
    Activation(
        "silu",
        lambda x, d: (
            _sigmoid(x) * (1 + x * (1 - _sigmoid(x))) if d else x * _sigmoid(x)
        ),
        None,
        "—",
        _DEEP,
    ),
    Activation(
        "tanh",
        lambda x, d: 1 - np.tanh(x) ** 2 if d else np.tanh(x),
        "tanh",
        "GlorotUniform",
        "`glorot_*()`, `lecun_*()`, `orthogonal()`; deep: the table's scale",
    ),
    Activation(
        "sigmoid",
        lambda x, d: _sigmoid(x) * (1 - _sigmoid(x)) if d else _sigmoid(x),
        "sigmoid",
        "GlorotUniform",
        "`glorot_*()` for gates and outputs; avoid as a deep hidden activation",
    ),
    Activation(
        "selu",
        _selu,
        "selu",
        "—",
        "`lecun_normal()` (Klambauer et al. 2017)",
    ),
)


def moments(act: Activation) -> tuple[float, float]:
    """``(E[f(z)^2], E[f'(z)^2])`` for ``z ~ N(0, 1)``, by the midpoint rule.

    On [-12, 12] in cells of 1e-4, with 0 (where ReLU-like activations have their
    kink, and their derivatives a jump) on a cell boundary: the error is O(1e-9),
    far below the 3 digits printed.
    """
    h = 1e-4
    x = (np.arange(240_000) - 120_000 + 0.5) * h
    w = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) * h
    forward = float(np.sum(act.fn(x, False) ** 2 * w))
    backward = float(np.sum(act.fn(x, True) ** 2 * w))
    return forward, backward


def _g(x: float) -> str:
    return f"{x:.3g}"


#: The depth of the network whose kept scale the table gives.
DEPTH = 50


@functools.cache
def deep(name: str, forward: float) -> dict[str, str]:
    """The mean-field cells of ``name``'s row, from :mod:`jinit.diagnostics`.

    ``fixed``: the fixed points of the map ``q -> forward E[f(sqrt(q) z)^2]``
    at the forward scale (``q = 1`` is one by construction) with their
    stability (:func:`jinit.diagnostics.fixed_points`); ``depth``: the scale at
    which a ``DEPTH``-layer MLP ends with its first layer's activation size
    (:func:`jinit.diagnostics.depth_scale`), or why there is none; ``he`` and
    ``forward``: how much the activations' root mean square changes through
    ``DEPTH`` layers at He's scale 2 and at the forward scale
    (:func:`jinit.diagnostics.mean_field`).
    """
    from jinit import diagnostics

    points = diagnostics.fixed_points(name, forward)
    fixed = (
        ", ".join(
            f"q={p.q:.3g} ({'stable' if p.stable else 'unstable'})" for p in points
        )
        if points
        else "every q (marginal)"
    )
    try:
        scale = diagnostics.depth_scale(name, DEPTH)
    except ValueError:
        scale, keeps = math.nan, "none: shrinks at every scale"
    else:
        # With a unit-variance input the first pre-activations have q = scale:
        # a network keeps its size by starting on a fixed point, stable or not.
        on = [
            p for p in diagnostics.fixed_points(name, scale) if abs(p.q - scale) < 1e-3
        ]
        how = ("stable" if on[0].stable else "unstable") if on else "marginal"
        keeps = f"{scale:.3f} ({how})"

    def change(scale: float) -> str:
        rms = diagnostics.mean_field(name, scale, DEPTH).rms
        return f"×{rms[-1] / rms[0]:.2g}"

    return {
        "fixed": fixed,
        "depth": keeps,
        "scale": f"{scale:.3f}",
        "he": change(2.0),
        "forward": change(forward),
        "n": str(DEPTH),
    }


def _activation_table() -> list[str]:
    lines = [
        "| activation | E[f(z)²] | forward scale 1/E[f(z)²] | fixed points there "
        f"| scale {DEPTH} layers keep | backward scale 1/E[f′(z)²] | PyTorch gain² "
        "| Keras guides | jinit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for act in ACTIVATIONS:
        forward, backward = moments(act)
        gain2 = (
            _g(_torch.calculate_gain(act.torch) ** 2) if act.torch is not None else "—"
        )
        cells = deep(act.name, 1 / forward)
        name = f"`{act.name}`" + (f" ({act.note})" if act.note else "")
        use = act.use.format(**cells)
        lines.append(
            f"| {name} | {_g(forward)} | {_g(1 / forward)} | {cells['fixed']} "
            f"| {cells['depth']} "
            f"| {_g(1 / backward)} | {gain2} | {act.guide} | {use} |"
        )
    return lines


def section_lines() -> list[str]:
    """The "Which scale for which activation" section."""
    return [
        "## Which scale for which activation",
        "",
        "For a layer `h′ = W f(h)` with `Var(W) = scale / fan_in` and `h ~ N(0, 1)`,"
        " the next pre-activation has variance `scale · E[f(z)²]` and the gradient"
        " is multiplied (in mean square) by `scale · E[f′(z)²]`: the forward scale"
        " keeps activations, the backward scale keeps gradients, at unit variance."
        " A fixed point `q` of the map `q -> scale · E[f(√q z)²]` is stable when the"
        " map's slope there is below 1: at an unstable one (gelu, silu at their"
        " forward scale) a deep network drifts away from unit variance, so the"
        f" table also gives the scale at which a {DEPTH}-layer MLP ends with its"
        " first layer's activation size (`jinit.diagnostics.fixed_points`,"
        " `depth_scale`; mean field at infinite width, unit-variance input): the"
        " scale that makes the first layer's `q = scale` a fixed point. Where that"
        " point is unstable the balance is fragile: a different input variance, or"
        " a finite width's fluctuations, grow by the slope per layer."
        " Rows are named as `jinit report --activation` and `jinit.models` spell"
        " them. Computed here by quadrature (`docs/gen_activations.py: moments`);"
        " PyTorch's `calculate_gain(name)²` and the Keras guides' recommendations"
        " are shown for comparison (PyTorch's tanh gain 5/3 and SELU gain 3/4 are"
        " deliberate choices, not these moments). For a measured answer on a real"
        " model, use `jinit.diagnostics.gain_search` or `jinit report`.",
        "",
        *_activation_table(),
        "",
    ]
