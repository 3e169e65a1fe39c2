"""The options of ``jinit report``: their parser, checks and names.

Every bad option is a :class:`UsageError` worded by :mod:`jinit._errors`'s one
template, printed as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import re
import sys
from collections.abc import Iterable
from typing import Any

from .. import _errors
from .._tree import is_initializer
from ..diagnostics import ACTIVATIONS as _ACTIVATION_TABLE

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
#: ``--init model``: the module's own initializers, as it draws them.
AS_IS = "model"
#: The keys of :data:`jinit.models.MODELS` (restated: that module needs flax).
MODELS = ("mlp", "cnn", "resmlp", "rescnn", "transformer")
ACTIVATIONS = tuple(_ACTIVATION_TABLE)
#: ``(depth, width)`` of each built-in family unless ``--depth``/``--width``.
DEFAULT_SIZE = {
    "mlp": (50, 256),
    "resmlp": (20, 256),
    "cnn": (20, 32),
    "rescnn": (10, 32),
    "transformer": (6, 64),
}
#: ``--coord-check``'s default widths, and its criterion: microsoft/mup's
#: (every module's mean |activation| at the widest width within this factor of
#: the narrowest's, at every recorded step, under muP).
COORD_WIDTHS = (64, 128, 256, 512, 1024)
COORD_FLAT = 1.2
#: Input batch by model family: every unit's statistics are over batch x
#: positions, so the image and sequence models need fewer inputs than the MLP
#: for as many samples per unit (cnn: 32 x 8 x 8 = 2048 per channel, against
#: the MLP's 128), at a quarter of the compute.
DEFAULT_BATCH = {"mlp": 128, "resmlp": 128, "cnn": 32, "rescnn": 32, "transformer": 32}
INPUT_DTYPES = ("float32", "bfloat16", "float16", "int32", "int64", "uint8")

_DESCRIPTION = """\
Measures what each initializer does to a network at initialization: per layer
the activations' root mean square, dead and saturated units, the gain of an
input perturbation, and per kernel the gradient's root mean square, over several
seeds. Prints a table with a verdict (healthy, caution, unhealthy; the rules are
in jinit.diagnostics.verdict) and writes weights.png, depth_<activation>.png and
summary.md to --out. Bad options: a one-line error and exit code 2.

examples:
  jinit report
  jinit report --model cnn --depth 20 --width 64 --activation relu
  jinit report --init he_normal --init "normal(0.02)" --init HeUniform
  jinit report --model-path mypkg.nets:Net --input-shape 32,32,3 --init model
  jinit report --model-path mypkg.lm:LM --input-shape 128 --input-dtype int32
"""


class UsageError(Exception):
    """A bad option: printed as one line, exit code 2."""


def usage(arg: str, allowed: str, got: Any, hint: str = "") -> UsageError:
    """:func:`jinit._errors.bad_value`'s message as a UsageError, ``hint`` after."""
    return UsageError(_errors.bad_value(arg, allowed, got, hint).args[0])


def usage_choice(arg: str, got: str, allowed: Iterable[str]) -> UsageError:
    """:func:`jinit._errors.bad_choice`'s message (with its hint) as a UsageError."""
    return UsageError(_errors.bad_choice(arg, got, allowed).args[0])


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    """The ``jinit`` argument parser (one command, ``report``)."""
    top = _Parser(prog="jinit", description="jinit command line.")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    report = sub.add_parser(
        "report",
        help="signal propagation of initializers through a network",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sizes = ", ".join(f"{m} {d}" for m, (d, _) in DEFAULT_SIZE.items())
    widths = ", ".join(f"{m} {w}" for m, (_, w) in DEFAULT_SIZE.items())
    coord = ",".join(map(str, COORD_WIDTHS))
    batches = ", ".join(f"{m} {b}" for m, b in DEFAULT_BATCH.items())
    add = report.add_argument
    add("--model", default="mlp", help=f"one of {', '.join(MODELS)} (default: mlp)")
    add("--depth", type=int, help=f"layers or blocks (default: {sizes})")
    add("--width", type=int, help=f"features or channels (default: {widths})")
    add(
        "--activation",
        action="append",
        help=f"repeatable, one of {', '.join(ACTIVATIONS)} (default: relu and "
        "tanh; with --model-path, a label and the saturation bounds only)",
    )
    add(
        "--init",
        action="append",
        help='repeatable: a jinit name ("he_normal", "normal(0.02)"), a Keras '
        'name ("HeNormal", "RandomNormal(stddev=0.05)"), or "model" for the '
        f"module's own initializers (default: {', '.join(DEFAULT_INITS)}; "
        'with --model-path, "model" first)',
    )
    add(
        "--model-path",
        help="module:attr of your own Flax linen module (class or instance); "
        "its kernels are redrawn by --init, its biases, embeddings and norms "
        "kept (default: none, a built-in model)",
    )
    add(
        "--input-shape",
        help="with --model-path only: the input shape without the batch axis, "
        "e.g. 32,32,3 (required there)",
    )
    add(
        "--input-dtype",
        default="float32",
        help=f"with --model-path only: one of {', '.join(INPUT_DTYPES)}; integer "
        "inputs are tokens drawn below the smallest embedding's size "
        "(default: float32)",
    )
    add("--out", default="jinit-report", help="output folder (default: jinit-report)")
    add("--seeds", type=int, default=4, help="draws, for error bars (default: 4)")
    add(
        "--batch",
        type=int,
        help=f"input batch size (default: {batches}; {DEFAULT_BATCH['mlp']} with "
        "--model-path and --coord-check)",
    )
    add("--no-plots", action="store_true", help="skip the PNGs (default: off)")
    add(
        "--norms",
        action="store_true",
        help="also: a per-leaf norm table (Frobenius, spectral, largest row: the "
        "radius) of each initializer's first draw against sqrt(fan_out/fan_in), "
        "printed and written to norms.md (default: off)",
    )
    add(
        "--coord-check",
        action="store_true",
        help="instead: microsoft/mup's coord check, SP against muP, on a ReLU MLP "
        "with a readout (--depth hidden layers, default 2) trained --steps Adam "
        "steps at each of --widths; writes coord_check.md and coord_check.png "
        "(default: off)",
    )
    add(
        "--widths",
        default=coord,
        help=f"with --coord-check: the widths, comma-separated (default: {coord})",
    )
    add(
        "--steps",
        type=int,
        default=3,
        help="with --coord-check: recorded steps, t = 1 the initial model (default: 3)",
    )
    add(
        "--lr",
        type=float,
        default=1e-2,
        help="with --coord-check: the base Adam learning rate (default: 0.01)",
    )
    return top


# ----------------------------------------------------------------------------
# Initializer names.


def _jinit_names() -> list[str]:
    import jinit

    return sorted(
        n
        for n in dir(jinit)
        if not n.startswith("_")
        and n[0].islower()
        and is_initializer(getattr(jinit, n))
    )


def _call_args(text: str) -> tuple[list[Any], dict[str, Any]]:
    call = ast.parse(f"f({text})", mode="eval").body
    args = [ast.literal_eval(a) for a in call.args]  # type: ignore[attr-defined]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}  # type: ignore[attr-defined]
    return args, kwargs


def resolve_init(spec: str) -> Any:
    """An initializer from ``name`` or ``name(args)``: jinit's names, then Keras'.

    Raises:
      UsageError: an unknown name or bad arguments.
    """
    import jinit

    from .._base import Init

    match = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*", spec, re.S)
    if not match:
        raise usage("--init", "a name or name(args)", spec)
    name, arg_text = match.group(1), match.group(2)
    try:
        args, kwargs = _call_args(arg_text) if arg_text else ([], {})
    except (SyntaxError, ValueError):
        allowed = "a name(args) with Python literal arguments"
        raise usage("--init", allowed, spec) from None
    names = _jinit_names()
    try:
        keras = importlib.import_module("jinit.keras")
    except ImportError:
        keras = None
    keras_names = getattr(keras, "NAMES", {}) if keras is not None else {}
    try:
        if name in names:
            obj = getattr(jinit, name)
            if isinstance(obj, Init):
                if args or kwargs:
                    raise usage("--init", f"{name!r} without arguments", spec)
                return obj
            return obj(*args, **kwargs)
        if name in keras_names:
            return keras_names[name](*args, **kwargs)
    except UsageError:
        raise
    except (TypeError, ValueError) as e:
        allowed = "a name(args) that builds an initializer"
        raise usage("--init", allowed, spec, str(e)) from None
    known = [AS_IS, *names, *sorted(keras_names)]
    allowed = f"{AS_IS!r}, a jinit or a Keras initializer name"
    raise usage("--init", allowed, name, _errors.did_you_mean(name, known))


# ----------------------------------------------------------------------------
# Option checks.


def make_out(out: str) -> None:
    """Makes the ``--out`` folder (a UsageError where that fails)."""
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise usage("--out", "a writable folder", out, str(e)) from None


def check_out(out: str) -> None:
    """``--out`` must be a folder that exists and is writable, or can be made."""
    path = os.path.abspath(out)
    if os.path.exists(path) and not os.path.isdir(path):
        raise usage("--out", "a folder", out, "It is a file.")
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise usage("--out", "a folder", out, f"{parent!r} is a file.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise usage("--out", "a writable folder", out, f"{parent!r} is not.")


def positive(opts, *args: str) -> None:
    """Each ``--arg`` of ``args`` is None or a positive int."""
    for arg in args:
        value = getattr(opts, arg)
        if value is not None and value < 1:
            raise usage(f"--{arg}", "a positive int", value)


def resolve_batch(opts) -> None:
    """``--batch`` by default: :data:`DEFAULT_BATCH` of the built-in family."""
    if opts.batch is None:
        builtin = opts.model_path is None and not opts.coord_check
        family = opts.model if builtin else "mlp"
        opts.batch = DEFAULT_BATCH.get(family, DEFAULT_BATCH["mlp"])


def check_options(opts) -> None:
    """The options of a report (not ``--coord-check``), before any work."""
    if opts.model_path is None:
        if opts.model not in MODELS:
            raise usage_choice("--model", opts.model, MODELS)
        for flag, value in (
            ("--input-shape", opts.input_shape),
            (
                "--input-dtype",
                opts.input_dtype if opts.input_dtype != "float32" else None,
            ),
        ):
            if value is not None:
                raise usage(
                    flag,
                    "given with `--model-path` only (the built-in models take "
                    "their input from --model and --width)",
                    value,
                )
    for act in opts.activation or []:
        if act not in ACTIVATIONS:
            raise usage_choice("--activation", act, ACTIVATIONS)
    if opts.input_dtype not in INPUT_DTYPES:
        raise usage_choice("--input-dtype", opts.input_dtype, INPUT_DTYPES)
    positive(opts, "depth", "width", "seeds", "batch")
    check_out(opts.out)


def input_shape(text: str | None) -> tuple[int, ...]:
    """``--input-shape`` as ints (required with ``--model-path``)."""
    try:
        shape = tuple(int(d) for d in (text or "").split(",") if d.strip())
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        allowed = "positive ints like 32,32,3 (required with `--model-path`)"
        raise usage("--input-shape", allowed, text)
    return shape


def load_user_model(path: str, shape_text: str | None) -> tuple[Any, tuple[int, ...]]:
    """``(module, input shape)``: the Flax linen module ``--model-path`` names."""
    if ":" not in path:
        raise usage("--model-path", "module:attr", path)
    shape = input_shape(shape_text)
    module_name, attr = path.split(":", 1)
    sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        allowed = "module:attr of a module that can be imported"
        raise usage("--model-path", allowed, path, str(e)) from None
    finally:
        sys.path.remove(os.getcwd())
    import flax.linen as nn

    if isinstance(obj, type) and issubclass(obj, nn.Module):
        obj = obj()
    if not isinstance(obj, nn.Module):
        allowed = "module:attr naming a Flax linen Module (class or instance)"
        raise usage("--model-path", allowed, path, f"It is a {type(obj).__name__}.")
    return obj, shape
