"""Figures for ``jinit report`` (matplotlib, Agg backend; the ``plot`` extra).

* :func:`weight_histograms`: one panel per initializer, a histogram of the drawn
  weights with the law they are drawn from overlaid (:func:`density`).
* :func:`depth_profiles`: activation and gradient root mean square against
  depth, one line per initializer (median over seeds, the band from the
  smallest to the largest seed), log scale, whole-layer ticks.
* :func:`coord_check`: microsoft/mup's coord check, l1 against width.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["coord_check", "density", "depth_profiles", "weight_histograms"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def density(init: Any, shape: tuple[int, ...], dtype: Any = None) -> Any:
    """The density of one weight drawn by ``init`` for ``shape``, or None.

    ``init.law(shape, dtype).density``: the one answer to "what does this
    initializer draw" (:meth:`jinit._base.Init.law`, also on the Keras-named
    classes), so a figure shows the law the draw has. None where there is no
    density: constants, identity, dirac, a law with atoms, a third-party
    initializer without ``law``, or a shape the initializer refuses.

    Returns:
      A function of a NumPy array, or None.
    """
    law = getattr(init, "law", None)
    if not callable(law):
        return None
    try:
        described = law(shape, dtype)
    except (TypeError, ValueError):  # a shape or dtype this initializer refuses
        return None
    return getattr(described, "density", None)


def weight_histograms(
    weights: Mapping[str, np.ndarray],
    inits: Mapping[str, Any],
    shape: tuple[int, ...],
    path: str,
    *,
    title: str = "",
) -> None:
    """Writes a PNG: one histogram per initializer, its law's density on top.

    Args:
      weights: drawn arrays by initializer name.
      inits: the initializers by the same names (for :func:`density`).
      shape: the shape the initializer was called with (one layer's call
        shape: the law's fans are read from it).
      path: the PNG file to write.
      title: the figure's title.
    """
    plt = _pyplot()
    names = list(weights)
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    title = title or f"Drawn weights, shape {shape} (red: the law's density)"
    title = _wrap(title, 3.6 * cols, 12)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(3.6 * cols, 2.8 * rows + 0.25 * title.count("\n")),
        squeeze=False,
    )
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        w = np.asarray(weights[name], np.float64).ravel()
        ax.hist(w, bins=80, density=True, color="#9ecae1", edgecolor="none")
        pdf = density(inits.get(name), shape)
        if pdf is not None:
            lim = np.max(np.abs(w)) * 1.05 if w.size else 1.0
            grid = np.linspace(-lim, lim, 400)
            ax.plot(grid, pdf(grid), color="#d62728", lw=1.3, label="law")
        ax.set_title(f"{_wrap(name, 3.6, 9)}\nstd {w.std():.3g}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _wrap(text: str, inches: float, points: float) -> str:
    """``text`` in lines that fit ``inches`` at a font of ``points`` (a glyph
    is at most 0.6 em wide on average in DejaVu Sans)."""
    return textwrap.fill(text, max(12, int(inches * 72 / (0.6 * points))))


def _zero_note(values: np.ndarray, names: tuple[str, ...] | None) -> str:
    """`` (0 from <layer>)`` when a curve's median reaches 0 (it leaves a log plot)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mid = np.median(values, axis=0)
    zero = np.nonzero(mid <= 0)[0]
    if not zero.size:
        return ""
    where = names[zero[0]] if names is not None else f"{zero[0] + 1}"
    return f" (0 from {where})"


def depth_profiles(
    results: Mapping[str, Any],
    path: str,
    *,
    title: str = "",
) -> None:
    """Writes a PNG: activation RMS and kernel gradient RMS against depth.

    One line per initializer: the median over seeds, the band from the smallest
    to the largest seed, log scale. Activations: the per-unit root mean square
    of each recorded layer; gradients: each kernel's per-parameter root mean
    square (so kernels of different sizes compare). Layer axes have whole-layer
    ticks; a curve that reaches 0 (and so leaves the log plot) says from where
    in the legend.

    Args:
      results: :class:`jinit.diagnostics.Propagation` by initializer name.
      path: the PNG file to write.
      title: the figure's title.
    """
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    cmap = plt.get_cmap("tab10")
    for i, (name, stats) in enumerate(results.items()):
        color = cmap(i % 10)
        style = "--" if "uniform" in name or i >= 10 else "-"
        kernel_names = tuple(
            n for n, k in zip(stats.params, stats.kernels, strict=True) if k
        )
        for ax, values, names in (
            (left, stats.rms, stats.layers),
            (right, stats.kernel_grad_rms(), kernel_names),
        ):
            if values.shape[1] == 0:
                continue
            v = np.where(values > 0, values, np.nan)  # log scale: 0 is off the plot
            depth = np.arange(1, v.shape[1] + 1)
            with warnings.catch_warnings():  # columns all 0 (all-NaN) stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                mid = np.nanmedian(v, axis=0)
                lo, hi = np.nanmin(v, axis=0), np.nanmax(v, axis=0)
            label = name + _zero_note(values, names)
            ax.plot(depth, mid, style, color=color, label=label)
            if v.shape[0] > 1:
                ax.fill_between(depth, lo, hi, color=color, alpha=0.15, lw=0)
    left.set(
        yscale="log",
        xlabel="layer",
        ylabel="activation RMS",
        title="Activations (forward)",
    )
    right.set(
        yscale="log",
        xlabel="kernel (input to output)",
        ylabel="gradient RMS per parameter",
        title="Gradients (backward)",
    )
    for ax in (left, right):
        ax.grid(True, which="major", alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle(_wrap(title, 12, 12))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def coord_check(rows: Sequence[Mapping[str, Any]], path: str | None = None) -> Any:
    """Writes a PNG: microsoft/mup's coord-check figure, l1 against width.

    One column per step ``t``, one row per variant (log-log, base 2), one line
    per module; the legend below the panels. Lines drawn later are thinner,
    with smaller markers, and alternate solid and dashed, so a module whose
    values equal another's (the model's output and its readout's) stays in
    sight; a module at 0 (the zero readout at t = 1) leaves the log plot.

    Args:
      rows: :func:`jinit.mup.coord_check`'s rows.
      path: the PNG file to write (then the figure is closed), or None.

    Returns:
      The matplotlib figure.
    """
    if path is None:  # keep the user's backend (a notebook shows the figure)
        import matplotlib.pyplot as plt
    else:
        plt = _pyplot()
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    ts = sorted({r["t"] for r in rows})
    modules = list(dict.fromkeys(r["module"] for r in rows))
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(
        len(variants),
        len(ts),
        figsize=(3.2 * len(ts), 2.8 * len(variants) + 0.6),
        squeeze=False,
        sharey="row",
    )
    last = max(1, len(modules) - 1)
    for i, v in enumerate(variants):
        for j, t in enumerate(ts):
            ax = axes[i][j]
            for k, m in enumerate(modules):
                pts = sorted(
                    (r["width"], r["l1"])
                    for r in rows
                    if r["variant"] == v and r["t"] == t and r["module"] == m
                )
                if pts and all(y > 0 for _, y in pts):
                    ax.plot(
                        *zip(*pts, strict=True),
                        "--" if k % 2 else "-",
                        marker="o",
                        lw=3.0 - 1.8 * k / last,
                        ms=8.0 - 4.0 * k / last,
                        color=cmap(k % 10),
                        label=m,
                    )
            ax.set_xscale("log", base=2)
            ax.set_yscale("log", base=2)
            ax.set_title(f"{v}, t={t}")
            ax.set_xlabel("width")
            if j == 0:
                ax.set_ylabel("mean |activation|")
    handles = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    order = [m for m in modules if m in handles]
    fig.legend(
        [handles[m] for m in order],
        order,
        loc="lower center",
        ncol=min(len(order), 6) or 1,
        fontsize=8,
        frameon=False,
    )
    rows_of_legend = math.ceil(len(order) / 6) if order else 0
    fig.tight_layout(rect=(0, 0.04 + 0.05 * rows_of_legend, 1, 1))
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
