"""What ``jinit report`` shows: the table, summary.md and the PNGs."""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import numpy as np

from .. import diagnostics

HEADER = [
    "activation",
    "initializer",
    "act. RMS first > last",
    "grad RMS out > in",
    "dead",
    "satur.",
    "verdict",
]
_STYLE = {"healthy": "green", "caution": "yellow", "unhealthy": "red"}
_LEGEND = (
    "act. RMS: the activations' root mean square at the first > last layer of "
    "the kind the verdict judges (the kind that changes the most); grad RMS: the "
    "gradient's root mean square per parameter of the last > first kernel of "
    "the kind it judges (backward); geometric means over seeds; '-': no kind "
    "with two layers. dead, satur.: the largest fraction of dead (<= 0 on the "
    "whole batch) or saturated (within 1% of a bound) units at any layer, on the "
    "activation functions' outputs. Verdicts (jinit.diagnostics.verdict): "
    "unhealthy beyond x{growth} through depth, over {dead:.0%} dead or "
    "{sat:.0%} saturated, or non-finite; caution beyond x{drift}; healthy "
    "otherwise. For the plain MLP the mean-field expectation is shown."
)


def fmt(x: float) -> str:
    """A number in three significant digits (scientific outside 1e-3..1e4)."""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.1e}"


def _judged(names, values, keep, backward: bool) -> tuple[int, int] | None:
    """``(first, last)`` index of the kind :func:`jinit.diagnostics.verdict`
    judges: among kinds (names without their digits) of >= 2 layers, the first
    that reaches 0, else the one that changes the most."""
    kinds: dict[str, list[int]] = {}
    for i, (n, k) in enumerate(zip(names, keep, strict=True)):
        if k:
            kinds.setdefault(diagnostics.kind(n), []).append(i)
    best, best_log = None, -1.0
    for idx in (i for i in kinds.values() if len(i) >= 2):
        first, last = values[idx[0]], values[idx[-1]]
        if any(values[i] == 0 for i in idx):
            return idx[0], idx[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            log = abs(math.log(first / last if backward else last / first))
        if best is None or log > best_log:
            best, best_log = (idx[0], idx[-1]), log
    return best


def rows(results, verdicts) -> list[list[str]]:
    """One table row per ``(activation, initializer)``."""
    out = []
    for (act, name), stats in results.items():
        rms, grads = diagnostics.geomean(stats.rms), diagnostics.geomean(stats.grad_rms)
        a = _judged(stats.layers, rms, [True] * len(stats.layers), False)
        g = _judged(stats.params, grads, stats.kernels, True)
        with np.errstate(invalid="ignore"):
            dead, sat = (
                np.nanmax(v.mean(0)) if np.any(np.isfinite(v)) else None
                for v in (stats.dead, stats.saturated)
            )
        out.append(
            [
                act,
                name,
                f"{fmt(float(rms[a[0]]))} > {fmt(float(rms[a[1]]))}" if a else "-",
                f"{fmt(float(grads[g[1]]))} > {fmt(float(grads[g[0]]))}" if g else "-",
                "-" if dead is None else f"{float(dead):.0%}",
                "-" if sat is None else f"{float(sat):.0%}",
                str(verdicts[act, name]),
            ]
        )
    return out


def print_table(rows, verdicts, title: str) -> None:
    """The table on stdout (rich where installed, else plain columns)."""
    try:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table
    except ImportError:
        widths = [max(len(str(r[i])) for r in [HEADER, *rows]) for i in range(7)]
        print(title)
        for r in [HEADER, *rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
        return
    table = Table(title=title)
    for h in HEADER:
        table.add_column(
            h, justify="left" if h in (*HEADER[:2], "verdict") else "right"
        )
    for r, v in zip(rows, verdicts.values(), strict=True):
        style = _STYLE[v.status]
        table.add_row(*r[:-1], f"[{style}]{escape(r[-1])}[/{style}]")
    Console(width=max(Console().width, 140)).print(table)


def summary(rows, verdicts, title: str, files: list[str], seconds: float) -> str:
    """summary.md: the verdicts by activation, the table, its legend, the PNGs."""

    lines = [f"# jinit report: {title}", ""]
    by_act: dict[str, dict[str, list[str]]] = {}
    for (act, name), v in verdicts.items():
        by_act.setdefault(act, {s: [] for s in _STYLE})[v.status].append(name)
    for act, groups in by_act.items():
        parts = [f"{s}: {', '.join(n) or 'none'}" for s, n in groups.items()]
        lines.append(f"- **{act}**: " + "; ".join(parts) + ".")
    lines += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    rules = diagnostics.Thresholds()
    legend = _LEGEND.format(
        growth=fmt(rules.growth),
        drift=fmt(rules.drift),
        dead=rules.dead,
        sat=rules.saturated,
    )
    lines += ["", legend, ""]
    lines += [f"![{f}]({f})" for f in files if f.endswith(".png")]
    lines += ["", f"Made by `jinit report` in {seconds:.1f} s."]
    return "\n".join(lines) + "\n"


def plots(model, inits, params, results, opts) -> list[str]:
    """weights.png (the last kernel, every initializer) and depth_<act>.png."""
    try:
        from .. import plot
    except ImportError as e:  # pragma: no cover - matplotlib missing
        print(f"jinit: no plots ({e}); pip install 'jinit[plot]'", file=sys.stderr)
        return []
    from .. import _signature

    files = []
    if model.kernels:
        path, leaf = model.kernels[-1]
        shape = tuple(leaf.shape)
        sig = _signature.signature_of(leaf)
        call = sig.shape if sig is not None else shape  # as the module calls
        weights = {s: np.asarray(_get(params[s], path)[0]) for s in inits}
        plot.weight_histograms(
            weights,
            {s: i for s, i in inits.items() if i is not None},
            call,
            os.path.join(opts.out, "weights.png"),
            title=f"Drawn weights of {path}, shape {shape} (red: the law's density)",
        )
        files.append("weights.png")
    for act in model.modules:
        fname = f"depth_{act}.png"
        plot.depth_profiles(
            {s: results[act, s] for s in inits},
            os.path.join(opts.out, fname),
            title=f"{model.title}, {act}: median over {opts.seeds} seeds, band min-max",
        )
        files.append(fname)
    return files


def _get(tree: Any, path: str) -> Any:
    for part in path.split("/"):
        tree = tree[part]
    return tree
