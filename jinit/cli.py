"""``jinit report``: what an initializer does to a network, before training it.

    jinit report                                  # 50-layer MLP, relu and tanh
    jinit report --model cnn --depth 20 --width 64 --activation relu
    jinit report --init he_normal --init "normal(0.02)" --init HeUniform
    jinit report --model-path mypkg.nets:Net --input-shape 32,32,3

For every (activation, initializer) pair it measures the network's signal
propagation with :func:`jinit.diagnostics.propagation` (one compilation per
activation, ``--seeds`` draws under ``jax.vmap``), prints a table, and writes to
``--out``: ``weights.png`` (drawn weights with their law), ``depth_<act>.png``
(activation std and gradient norm against depth) and ``summary.md`` (which
initializers keep the signal healthy). Bad options: a one-line error, exit 2.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

DEFAULT_INITS = (
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "orthogonal",
    "normal(0.02)",
)
MODELS = ("mlp", "cnn", "resmlp", "rescnn", "transformer")
ACTIVATIONS = (
    "relu",
    "leaky_relu",
    "gelu",
    "tanh",
    "sigmoid",
    "selu",
    "silu",
    "linear",
)
_DEFAULT_SIZE = {  # depth, width
    "mlp": (50, 256),
    "resmlp": (20, 256),
    "cnn": (20, 32),
    "rescnn": (10, 32),
    "transformer": (6, 64),
}


class UsageError(Exception):
    """A bad option: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jinit", description="jinit command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    report = sub.add_parser(
        "report",
        help="signal propagation of initializers through a network",
        description=__doc__.split("\n\n")[0],
    )
    report.add_argument("--model", default="mlp", help="|".join(MODELS))
    report.add_argument("--depth", type=int, help="layers (blocks)")
    report.add_argument("--width", type=int, help="features / channels")
    report.add_argument(
        "--activation",
        action="append",
        help=f"repeatable, one of {', '.join(ACTIVATIONS)} (default: relu and tanh)",
    )
    report.add_argument(
        "--init",
        action="append",
        help='repeatable: a jinit name ("he_normal", "normal(0.02)") or a Keras '
        'name ("HeNormal", "RandomNormal(stddev=0.05)")',
    )
    report.add_argument("--model-path", help="module:attr, your own Flax module")
    report.add_argument(
        "--input-shape",
        help="with --model-path: input shape without batch, e.g. 32,32,3",
    )
    report.add_argument("--out", default="jinit-report", help="output folder")
    report.add_argument("--seeds", type=int, default=4, help="draws (error bars)")
    report.add_argument("--batch", type=int, default=128, help="input batch size")
    report.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    return parser


# ----------------------------------------------------------------------------
# Initializer names.


def _call_args(text: str) -> tuple[list[Any], dict[str, Any]]:
    call = ast.parse(f"f({text})", mode="eval").body
    args = [ast.literal_eval(a) for a in call.args]  # type: ignore[attr-defined]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}  # type: ignore[attr-defined]
    return args, kwargs


def _jinit_names() -> list[str]:
    import jinit

    from ._base import Init

    return sorted(
        n
        for n in dir(jinit)
        if not n.startswith("_")
        and n[0].islower()
        and n not in ("compute_fans",)
        and (callable(getattr(jinit, n)) or isinstance(getattr(jinit, n), Init))
    )


def resolve_init(spec: str) -> Any:
    """An initializer from ``name`` or ``name(args)``: jinit's names, then Keras'.

    Raises:
      UsageError: an unknown name or bad arguments.
    """
    import jinit

    from ._base import Init

    match = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*", spec, re.S)
    if not match:
        raise UsageError(f"`--init` must be a name or name(args); got {spec!r}.")
    name, arg_text = match.group(1), match.group(2)
    try:
        args, kwargs = _call_args(arg_text) if arg_text else ([], {})
    except (SyntaxError, ValueError):
        raise UsageError(
            f"`--init` arguments must be Python literals; got {spec!r}."
        ) from None
    names = _jinit_names()
    try:
        if name in names:
            obj = getattr(jinit, name)
            if isinstance(obj, Init):
                if args or kwargs:
                    raise UsageError(f"`--init` {name!r} takes no arguments.")
                return obj
            return obj(*args, **kwargs)
        try:
            keras = importlib.import_module("jinit.keras")
        except ImportError:
            keras = None
        if keras is not None and name in getattr(keras, "NAMES", {}):
            return keras.NAMES[name](*args, **kwargs)
    except UsageError:
        raise
    except (TypeError, ValueError) as e:
        raise UsageError(f"`--init` {spec!r}: {e}") from None
    import difflib

    known = names + sorted(getattr(keras, "NAMES", {}) if keras else [])
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(
        f"`--init` must be a jinit or Keras initializer name; got {name!r}.{hint}"
    )


# ----------------------------------------------------------------------------
# Models.


def _load_user_model(path: str, input_shape: str | None):
    if ":" not in path:
        raise UsageError(f"`--model-path` must be module:attr; got {path!r}.")
    if not input_shape:
        raise UsageError("`--input-shape` must be given with `--model-path`.")
    try:
        shape = tuple(int(d) for d in input_shape.split(",") if d.strip())
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise UsageError(
            f"`--input-shape` must be positive ints like 32,32,3; got {input_shape!r}."
        )
    module_name, attr = path.split(":", 1)
    sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise UsageError(f"`--model-path` {path!r} cannot be loaded: {e}") from None
    finally:
        sys.path.remove(os.getcwd())
    import flax.linen as nn

    if isinstance(obj, type) and issubclass(obj, nn.Module):
        obj = obj()
    if not isinstance(obj, nn.Module):
        raise UsageError(
            f"`--model-path` must name a Flax linen Module (class or instance); "
            f"got {type(obj).__name__}."
        )
    return obj, shape


def _with_init(module: Any, init: Any, x: Any):
    """``init(key)`` drawing ``module``'s params with ``init`` for the kernels.

    A module with a ``kernel_init`` field is cloned with it (Flax's own fans); any
    other module has each parameter of ndim >= 2 redrawn by ``init``.
    """
    import jax

    from . import diagnostics

    fields = {f.name for f in dataclasses.fields(module)}
    if "kernel_init" in fields:
        return diagnostics.flax_fns(module.clone(kernel_init=init), x)[0]
    base_init = diagnostics.flax_fns(module, x)[0]

    def redraw(key):
        k_base, k_new = jax.random.split(key)
        params = base_init(k_base)
        leaves, treedef = jax.tree.flatten(params)
        keys = jax.random.split(k_new, max(1, len(leaves)))
        leaves = [
            init(k, p.shape, p.dtype) if p.ndim >= 2 else p
            for k, p in zip(keys, leaves, strict=False)
        ]
        return jax.tree.unflatten(treedef, leaves)

    return redraw


# ----------------------------------------------------------------------------
# Output.


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.1e}"


def _verdict(problems: list[str]) -> str:
    return "healthy" if not problems else "; ".join(problems)


def _rows(results):
    import numpy as np

    from .diagnostics import _geomean

    rows = []
    for (act, name), stats in results.items():
        std = _geomean(stats.std)
        grads = _geomean(stats.kernel_grad_norm())
        if not grads.size:
            grads = np.full(1, np.nan)
        rows.append(
            [
                act,
                name,
                f"{_fmt(float(std[0]))} > {_fmt(float(std[-1]))}",
                f"{_fmt(float(grads[-1]))} > {_fmt(float(grads[0]))}",
                f"{float(np.max(stats.dead.mean(0))):.0%}",
                f"{float(np.max(stats.saturated.mean(0))):.0%}",
                _verdict(stats.problems()),
            ]
        )
    return rows


_HEADER = [
    "activation",
    "initializer",
    "act. std in > out",
    "grad out > in",
    "dead",
    "satur.",
    "verdict",
]


def _print_table(rows, title: str) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [
            max(len(str(r[i])) for r in [_HEADER, *rows]) for i in range(len(_HEADER))
        ]
        print(title)
        for r in [_HEADER, *rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
        return
    table = Table(title=title)
    for h in _HEADER:
        table.add_column(
            h, justify="left" if h in _HEADER[:2] + ["verdict"] else "right"
        )
    for r in rows:
        style = "green" if r[-1] == "healthy" else "red"
        table.add_row(*r[:-1], f"[{style}]{r[-1]}[/{style}]")
    Console(width=max(Console().width, 120)).print(table)


def _summary(rows, title: str, files: list[str], seconds: float) -> str:
    lines = [f"# jinit report: {title}", ""]
    by_act: dict[str, tuple[list[str], list[str]]] = {}
    for r in rows:
        good, bad = by_act.setdefault(r[0], ([], []))
        (good if r[-1] == "healthy" else bad).append(r[1])
    for act, (good, bad) in by_act.items():
        lines.append(
            f"- **{act}**: healthy: {', '.join(good) or 'none'}; "
            f"unhealthy: {', '.join(bad) or 'none'}."
        )
    lines += ["", "| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += [
        "",
        "act. std: activation std at the first > last layer; grad: gradient norm "
        "of the last > first kernel (backward), geometric means over seeds; dead, "
        "satur.: the largest fraction of dead (<= 0 on the whole batch) or "
        "saturated units at any layer. Healthy: both stay within a factor 10 "
        "through depth, at most 90% of units dead or saturated.",
        "",
    ]
    lines += [f"![{f}]({f})" for f in files if f.endswith(".png")]
    lines += ["", f"Made by `jinit report` in {seconds:.1f} s."]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------
# The command.


def _check_options(opts) -> None:
    if opts.model_path is None and opts.model not in MODELS:
        import difflib

        close = difflib.get_close_matches(opts.model, MODELS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(
            f"`--model` must be one of {', '.join(MODELS)}; got {opts.model!r}.{hint}"
        )
    for act in opts.activation or []:
        if act not in ACTIVATIONS:
            raise UsageError(
                f"`--activation` must be one of {', '.join(ACTIVATIONS)}; got {act!r}."
            )
    for arg in ("depth", "width", "seeds", "batch"):
        value = getattr(opts, arg)
        if value is not None and value < 1:
            raise UsageError(f"`--{arg}` must be a positive int; got {value}.")


def report(opts) -> int:
    _check_options(opts)
    inits = {spec: resolve_init(spec) for spec in (opts.init or DEFAULT_INITS)}
    try:
        import jax
        import numpy as np

        from . import diagnostics, models
    except ImportError as e:
        raise UsageError(
            f'`jinit report` needs flax: pip install "jinit[report]" ({e}).'
        ) from None

    start = time.perf_counter()
    if opts.model_path:
        module, shape = _load_user_model(opts.model_path, opts.input_shape)
        configs = [(opts.activation[0] if opts.activation else "model", module)]
        title = opts.model_path
    else:
        depth, width = _DEFAULT_SIZE[opts.model]
        depth, width = opts.depth or depth, opts.width or width
        acts = opts.activation or ["relu", "tanh"]
        configs = []
        for act in dict.fromkeys(acts):
            module, shape = models.build(
                opts.model, depth=depth, width=width, activation=act
            )
            configs.append((act, module))
        title = f"{opts.model}, depth {depth}, width {width}"

    os.makedirs(opts.out, exist_ok=True)
    key = jax.random.key(0)
    x = jax.random.normal(jax.random.key(1), (opts.batch, *shape))
    jobs = [(act, m, name) for act, m in configs for name in inits]
    try:
        from tqdm import tqdm

        progress = tqdm(total=len(jobs), delay=2.0, leave=False, file=sys.stderr)
    except ImportError:
        progress = None
    results = {}
    applies = {}
    for act, module, name in jobs:
        if act not in applies:
            applies[act] = diagnostics.flax_fns(module, x)[1]
        init_fn = _with_init(module, inits[name], x)
        bounds = diagnostics.SATURATION_BOUNDS.get(act)
        results[act, name] = diagnostics.propagation(
            applies[act], init_fn, x, key, seeds=opts.seeds, bounds=bounds
        )
        if progress is not None:
            progress.set_description(f"{act} {name}")
            progress.update()
    if progress is not None:
        progress.close()

    files = []
    if not opts.no_plots:
        try:
            from . import plot
        except ImportError as e:  # pragma: no cover - matplotlib missing
            print(f"jinit: no plots ({e}); pip install 'jinit[plot]'", file=sys.stderr)
        else:
            w_shape = (shape[-1], shape[-1])
            weights = {
                n: np.asarray(i(jax.random.key(2), w_shape)) for n, i in inits.items()
            }
            plot.weight_histograms(
                weights, inits, w_shape, os.path.join(opts.out, "weights.png")
            )
            files.append("weights.png")
            for act, _ in configs:
                fname = f"depth_{act}.png"
                plot.depth_profiles(
                    {n: results[act, n] for n in inits},
                    os.path.join(opts.out, fname),
                    title=f"{title}, {act}: median over {opts.seeds} seeds, band min-max",
                )
                files.append(fname)
    rows = _rows(results)
    seconds = time.perf_counter() - start
    _print_table(rows, f"jinit report: {title}")
    with open(os.path.join(opts.out, "summary.md"), "w") as f:
        f.write(_summary(rows, title, files, seconds))
    files.append("summary.md")
    print(f"Wrote {', '.join(files)} to {opts.out}/ in {seconds:.1f} s.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``jinit`` console script. Returns the exit code (2 for bad options)."""
    parser = _parser()
    try:
        opts = parser.parse_args(argv)
        if opts.command is None:
            parser.print_help()
            return 2
        return report(opts)
    except UsageError as e:
        print(f"jinit: error: {e}", file=sys.stderr)
        return 2
