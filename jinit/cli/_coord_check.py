"""``jinit report --coord-check``: microsoft/mup's coord check, SP against muP."""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

from ._options import COORD_FLAT, UsageError, check_out, make_out, positive, usage
from ._output import fmt

#: The data: inputs of this size, labels among this many classes.
COORD_INPUTS, COORD_CLASSES = 32, 10
#: The readout starts at 0, as in microsoft/mup's coord-check test
#: (``CoordCheckCase``): under muP its output at initialization shrinks with
#: width (the logits carry 1/m), so at t = 1 the output is exactly 0 at every
#: width and each later step shows what training made of it.
ZERO_READOUT = (r".*/readout/kernel", r".*/readout/bias")


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(",") if w.strip())
    except ValueError:
        widths = ()
    if len(widths) < 2 or min(widths) < 1 or len(set(widths)) != len(widths):
        raise usage("--widths", "at least two distinct positive ints", text)
    return tuple(sorted(widths))


def _check(opts) -> tuple[int, ...]:
    """The options of a coord check; those it does not use are refused."""
    model = opts.model_path or opts.model
    if opts.model_path is not None or opts.model != "mlp":
        allowed = "mlp with `--coord-check` (it runs jinit.models.ReadoutMLP)"
        raise usage("--model", allowed, model)
    unused = {
        "--init": opts.init,
        "--activation": opts.activation,
        "--input-shape": opts.input_shape,
        "--input-dtype": opts.input_dtype if opts.input_dtype != "float32" else None,
        "--width": opts.width,
    }
    for flag, value in unused.items():
        if value is not None:
            allowed = (
                "left out with `--coord-check` (it compares SP and muP on "
                "jinit.flax.defaults('flax') with ReLU, at each of --widths)"
            )
            raise usage(flag, allowed, value[0] if isinstance(value, list) else value)
    widths = _widths(opts.widths)
    positive(opts, "steps", "batch", "depth")
    if not opts.lr > 0:
        raise usage("--lr", "a positive float", opts.lr)
    check_out(opts.out)
    return widths


def coord_check_rows(opts) -> list[dict[str, Any]]:
    """:func:`jinit.mup.coord_check` of ``--coord-check``: SP and muP rows.

    The model is :class:`jinit.models.ReadoutMLP` (``--depth`` hidden layers,
    default 2) at each of ``--widths``, initialized by
    ``jinit.flax.defaults("flax")`` rescaled per parameter by each variant, and
    trained ``--steps`` Adam steps at ``--lr`` on one batch of ``--batch``
    Gaussian inputs with random labels (softmax cross-entropy); the readout
    starts at 0 (:data:`ZERO_READOUT`).
    """
    widths = _check(opts)
    try:
        import jax
        import optax

        import jinit

        from .. import flax as jf
        from .. import models, mup
    except ImportError as e:
        raise UsageError(
            f"`jinit report --coord-check` needs flax and optax ({e})."
        ) from None
    depth = opts.depth or 2
    x = jax.random.normal(jax.random.key(1), (opts.batch, COORD_INPUTS))
    y = jax.random.randint(jax.random.key(2), (opts.batch,), 0, COORD_CLASSES)

    def make(width, mp):
        return models.ReadoutMLP(
            width, depth=depth, outputs=COORD_CLASSES, logit_mult=mp.output_multiplier
        )

    def loss(logits, labels):
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    return mup.coord_check(
        make,
        widths,
        x,
        y,
        loss,
        jf.defaults("flax"),
        variants=("sp", "mup"),
        learning_rate=opts.lr,
        steps=opts.steps,
        key=jax.random.key(0),
        override=dict.fromkeys(ZERO_READOUT, jinit.zeros),
    )


def coord_ratios(rows) -> dict[tuple[str, str, int], float]:
    """``{(variant, module, t): l1 at the widest width / l1 at the narrowest}``."""
    l1 = {(r["variant"], r["module"], r["t"], r["width"]): r["l1"] for r in rows}
    lo, hi = min(r["width"] for r in rows), max(r["width"] for r in rows)
    out = {}
    for v, m, t, w in l1:
        if w == lo:
            a, b = l1[v, m, t, lo], l1[v, m, t, hi]
            out[v, m, t] = b / a if a > 0 else (1.0 if b == a else math.inf)
    return out


def _markdown(rows, opts) -> list[str]:
    widths = sorted({r["width"] for r in rows})
    ratios = coord_ratios(rows)
    l1 = {(r["variant"], r["module"], r["t"], r["width"]): r["l1"] for r in rows}
    lines = [
        f"# jinit report --coord-check: ReLU MLP, widths {', '.join(map(str, widths))}",
        "",
        "Mean |output| of every module (microsoft/mup's coord check: "
        "`jinit.mup.coord_check`), before each of "
        f"{opts.steps} Adam steps (t = 1: at initialization), lr {opts.lr:g}. "
        f"Criterion: under muP every module's value at width {widths[-1]} is "
        f"within x{COORD_FLAT:g} of its value at width {widths[0]} at every step "
        "(flat); under SP it grows with width after t = 1.",
        "",
    ]
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = {k: r for k, r in ratios.items() if k[0] == variant}
        worst = max(
            mine.values(), key=lambda r: abs(math.log(r)) if r > 0 else math.inf
        )
        if all(1 / COORD_FLAT < r < COORD_FLAT for r in mine.values()):
            word = "flat"
        else:
            word = "not flat: grows with width" if worst > 1 else "not flat"
        lines.append(
            f"- **{variant}**: {word} (largest change x{fmt(worst)} from width "
            f"{widths[0]} to {widths[-1]})."
        )
    header = [
        "variant",
        "module",
        "t",
        *map(str, widths),
        f"{widths[-1]} / {widths[0]}",
    ]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for v, m, t in ratios:
        cells = [v, m, str(t), *(fmt(l1[v, m, t, w]) for w in widths)]
        lines.append("| " + " | ".join([*cells, f"x{fmt(ratios[v, m, t])}"]) + " |")
    return lines


def coord_check(opts, start: float) -> int:
    """``--coord-check``: coord_check.md (and .png) in ``--out``."""
    rows = coord_check_rows(opts)
    make_out(opts.out)
    lines, files = _markdown(rows, opts), []
    if not opts.no_plots:
        try:
            from .. import plot

            plot.coord_check(rows, os.path.join(opts.out, "coord_check.png"))
        except ImportError as e:  # pragma: no cover - matplotlib missing
            print(f"jinit: no plots ({e}); pip install 'jinit[plot]'", file=sys.stderr)
        else:
            files.append("coord_check.png")
            lines += ["", "![coord_check.png](coord_check.png)"]
    seconds = time.perf_counter() - start
    lines += ["", f"Made by `jinit report --coord-check` in {seconds:.1f} s."]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(opts.out, "coord_check.md"), "w") as f:
        f.write(text)
    files.append("coord_check.md")
    print(text)
    print(f"Wrote {', '.join(files)} to {opts.out}/ in {seconds:.1f} s.")
    return 0
