"""Verdicts: healthy, caution or unhealthy, by thresholds checkable by hand."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ._mean_field import MeanField
    from ._stats import Propagation


def kind(name: str) -> str:
    """The name with its layer indices removed: ``dense_12/kernel`` -> ``dense_#/kernel``.

    Layers of one kind are compared with each other (like with like).
    """
    return re.sub(r"\d+", "#", name)


def geomean(x: Any) -> np.ndarray:
    """The geometric mean of ``|x|`` over its first axis (the seeds), in float64."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(np.mean(np.log(np.abs(np.asarray(x, np.float64))), axis=0))


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The thresholds of :func:`verdict`.

    Attributes:
      growth: a change through depth beyond this factor (either way) is
        unhealthy: the signal vanishes or explodes.
      drift: a change beyond this factor (and within ``growth``) is a caution:
        the signal shrinks or grows slowly, and a deeper network would lose it.
      dead: more than this fraction of a layer's units dead is unhealthy. With
        zero biases and weights symmetric about 0, a unit is dead with
        probability at most 1/2 (flipping its weights' signs revives it), so
        this catches biased weights or inputs, not the ReLU's own half.
      saturated: more than this fraction of a bounded activation's values
        saturated (within 1% of its range of a bound, where tanh' <= 0.04) is
        unhealthy: gradients through them are cut 25-fold.
    """

    growth: float = 10.0
    drift: float = 2.0
    dead: float = 0.6
    saturated: float = 0.5


@dataclasses.dataclass(frozen=True)
class Verdict:
    """``status`` ("healthy", "caution" or "unhealthy") and the reasons, in words."""

    status: str
    reasons: tuple[str, ...] = ()

    def __str__(self) -> str:
        return (
            self.status
            if not self.reasons
            else f"{self.status}: " + "; ".join(self.reasons)
        )


def _fmt(x: float) -> str:
    return f"{x:.3g}" if 1e-2 <= abs(x) < 1e3 else f"{x:.1e}"


def _groups(names: Sequence[str], keep: Sequence[bool]) -> dict[str, list[int]]:
    """Indices of like-named entries (layer indices removed), in order."""
    groups: dict[str, list[int]] = {}
    for i, (n, k) in enumerate(zip(names, keep, strict=True)):
        if k:
            groups.setdefault(kind(n), []).append(i)
    return {g: idx for g, idx in groups.items() if len(idx) >= 2}


def _change(
    what: str,
    ratio: float,
    span: str,
    steps: int,
    thresholds: Thresholds,
    words: tuple[str, str],
    expected: float | None,
    suffix: str = "",
) -> tuple[str, str] | None:
    """``(status, reason)`` for a change by ``ratio`` over ``steps`` layers."""
    log = abs(math.log(ratio))
    if log <= math.log(thresholds.drift):
        return None
    per = ratio ** (1 / max(1, steps))
    mf = ""
    if expected is not None and math.isfinite(expected) and expected > 0:
        agree = abs(math.log(ratio / expected)) <= math.log(thresholds.drift)
        mf = f"; mean field: x{_fmt(expected)}" + (", as expected" if agree else "")
    if log > math.log(thresholds.growth):
        verb = (words[0] if ratio < 1 else words[1]) + suffix
        status = "unhealthy"
    else:
        verb = ("shrink slowly" if ratio < 1 else "grow slowly") + suffix
        status = "caution"
    return status, f"{what} {verb}: x{_fmt(ratio)} {span} (x{per:.3g} per layer{mf})"


def _worst(
    what: str,
    names: Sequence[str],
    values: np.ndarray,
    groups: dict[str, list[int]],
    backward: bool,
    thresholds: Thresholds,
    expected: np.ndarray | None,
    position: np.ndarray,
) -> tuple[str, str] | None:
    """The rule's outcome for the kind of layer that changes the most."""
    best = None
    for kind, idx in groups.items():
        first, last = values[idx[0]], values[idx[-1]]
        zero = [i for i in idx if values[i] == 0]
        if zero:
            return "unhealthy", f"{what} reach 0 at {names[zero[0]]}"
        ratio = first / last if backward else last / first
        if best is None or abs(math.log(ratio)) > abs(math.log(best[1])):
            best = (kind, ratio, idx)
    if best is None:
        return None
    kind, ratio, idx = best
    mf = None
    if expected is not None:
        e = expected[position[idx]]
        mf = e[0] / e[-1] if backward else e[-1] / e[0]
    label = what if len(groups) == 1 else f"{what} of {kind}"
    a, b = (idx[-1], idx[0]) if backward else (idx[0], idx[-1])
    span = f"from {names[a]} to {names[b]}"
    suffix = " toward the input" if backward else ""
    words = ("vanish", "explode")
    return _change(label, ratio, span, len(idx) - 1, thresholds, words, mf, suffix)


def verdict(
    stats: Propagation,
    thresholds: Thresholds | None = None,
    expected: MeanField | None = None,
) -> Verdict:
    """Healthy, caution or unhealthy, by rules that can each be checked by hand.

    Seeds are combined by the geometric mean (fractions by the mean). Layers of
    one kind are compared with each other: names with their layer indices
    removed (``layer_3`` and ``layer_49``, ``block_0_mlp_in/kernel`` and
    ``block_5_mlp_in/kernel``). The rules, in order:

    1. A NaN or Inf activation or gradient: unhealthy.
    2. Activations: for each kind with >= 2 layers, ``r = rms_last / rms_first``
       (per-unit root mean square). An activation that reaches 0 is unhealthy;
       ``r`` beyond ``thresholds.growth`` either way is unhealthy (vanish/explode),
       beyond ``thresholds.drift`` a caution (shrink/grow slowly).
    3. Gradients: for each kind of kernel with >= 2 layers, ``r = g_first /
       g_last`` with ``g`` the gradient's per-parameter root mean square (the
       norm over ``sqrt(size)``: a first kernel with 3 input channels is not
       "small" for having fewer entries); the same thresholds, backward.
    4. Dead units: more than ``thresholds.dead`` of a layer's units dead (measured on
       the activation functions' outputs): unhealthy.
    5. Saturation: more than ``thresholds.saturated`` of a layer's values saturated:
       unhealthy.
    6. Layers that hold parameters but record no activation
       (``stats.unmeasured``: an ``nn.scan`` that does not lift
       ``"intermediates"``): a caution that lists them, never "healthy".

    With ``expected`` (the mean field of a plain MLP, :func:`mean_field`), each
    change is also compared with what the mean field predicts for the
    weights' variance: tanh at scale 1 (the ordered phase) shrinks slowly,
    ReLU at scale 1 halves each layer's variance, and the reasons say so.

    Args:
      stats: a :class:`Propagation`.
      thresholds: the thresholds (default :class:`Thresholds`).
      expected: a :class:`MeanField` with one entry per recorded layer, or None.

    Returns:
      A :class:`Verdict`.
    """
    thresholds = Thresholds() if thresholds is None else thresholds
    rms = geomean(stats.rms)
    grads = geomean(stats.grad_rms)
    kernels = np.asarray(stats.kernels, bool)
    if not (np.all(np.isfinite(rms)) and np.all(np.isfinite(grads[kernels]))):
        return Verdict("unhealthy", ("non-finite activations or gradients",))
    found = []
    n_layers, n_kernels = len(stats.layers), int(kernels.sum())
    found.append(
        _worst(
            "activations",
            stats.layers,
            rms,
            _groups(stats.layers, [True] * n_layers),
            False,
            thresholds,
            expected.rms
            if expected is not None and len(expected.rms) == n_layers
            else None,
            np.arange(n_layers),
        )
    )
    found.append(
        _worst(
            "gradients",
            stats.params,
            grads,
            _groups(stats.params, list(kernels)),
            True,
            thresholds,
            expected.grad_rms
            if expected is not None and len(expected.grad_rms) == n_kernels
            else None,
            np.cumsum(kernels) - 1,  # a parameter's index among the kernels
        )
    )
    for what, values, limit in (
        ("dead", stats.dead, thresholds.dead),
        ("saturated", stats.saturated, thresholds.saturated),
    ):
        frac = np.asarray(values, np.float64).mean(axis=0)
        if frac.size and np.any(np.isfinite(frac)):
            worst = int(np.nanargmax(frac))
            if frac[worst] > limit:
                found.append(
                    (
                        "unhealthy",
                        f"{frac[worst]:.0%} of units {what} at {stats.layers[worst]}",
                    )
                )
    if stats.unmeasured:
        found.append(("caution", "not measured: " + ", ".join(stats.unmeasured)))
    found = [f for f in found if f is not None]
    if not found:
        return Verdict("healthy")
    status = "unhealthy" if any(s == "unhealthy" for s, _ in found) else "caution"
    return Verdict(status, tuple(r for _, r in found))
