"""``jinit report``: what an initializer does to a network, before training it.

    jinit report                                  # 50-layer MLP, relu and tanh
    jinit report --model cnn --depth 20 --width 64 --activation relu
    jinit report --init he_normal --init "normal(0.02)" --init HeUniform
    jinit report --model-path mypkg.nets:Net --input-shape 32,32,3
    jinit report --model-path mypkg.lm:LM --input-shape 128 --input-dtype int32

For every (activation, initializer) pair it measures the network's signal
propagation with :func:`jinit.diagnostics.measure` (one compilation per model,
the drawn weights its arguments; ``--seeds`` draws under ``jax.vmap``), prints a
table with a verdict by the rules of :func:`jinit.diagnostics.verdict`, and
writes to ``--out``: ``weights.png`` (drawn weights with their law),
``depth_<act>.png`` (activation and gradient RMS against depth) and
``summary.md``. Bad options: a one-line error, exit code 2.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import math
import os
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
#: ``--init model``: the module's own initializers, as it draws them.
AS_IS = "model"
MODELS = ("mlp", "cnn", "resmlp", "rescnn", "transformer")
ACTIVATIONS = (
    "relu",
    "leaky_relu",
    "gelu",
    "gelu_erf",
    "tanh",
    "sigmoid",
    "selu",
    "silu",
    "linear",
)
DEFAULT_SIZE = {  # depth, width
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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        raise UsageError(message)


def _message(arg: str, allowed: str, got: Any, hint: str = "") -> str:
    from . import _errors

    return _errors._message(arg, allowed, got, hint)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jinit", description="jinit command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    report = sub.add_parser(
        "report",
        help="signal propagation of initializers through a network",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sizes = ", ".join(f"{m} {d}" for m, (d, _) in DEFAULT_SIZE.items())
    widths = ", ".join(f"{m} {w}" for m, (_, w) in DEFAULT_SIZE.items())
    report.add_argument(
        "--model",
        default="mlp",
        help=f"built-in model family: {', '.join(MODELS)} (default: mlp)",
    )
    report.add_argument(
        "--depth", type=int, help=f"layers or blocks (default: {sizes})"
    )
    report.add_argument(
        "--width", type=int, help=f"features or channels (default: {widths})"
    )
    report.add_argument(
        "--activation",
        action="append",
        help=f"repeatable, one of {', '.join(ACTIVATIONS)} (default: relu and "
        "tanh; with --model-path, a label and the saturation bounds only)",
    )
    report.add_argument(
        "--init",
        action="append",
        help='repeatable: a jinit name ("he_normal", "normal(0.02)"), a Keras '
        'name ("HeNormal", "RandomNormal(stddev=0.05)"), or "model" for the '
        f"module's own initializers (default: {', '.join(DEFAULT_INITS)}; "
        'with --model-path, "model" first)',
    )
    report.add_argument(
        "--model-path",
        help="module:attr of your own Flax linen module (class or instance); "
        "its kernels are redrawn by --init, its biases, embeddings and norms "
        "kept (default: none, a built-in model)",
    )
    report.add_argument(
        "--input-shape",
        help="with --model-path only: the input shape without the batch axis, "
        "e.g. 32,32,3 (required there)",
    )
    report.add_argument(
        "--input-dtype",
        default="float32",
        help=f"with --model-path only: one of {', '.join(INPUT_DTYPES)}; integer "
        "inputs are tokens drawn below the smallest embedding's size "
        "(default: float32)",
    )
    report.add_argument(
        "--out", default="jinit-report", help="output folder (default: jinit-report)"
    )
    report.add_argument(
        "--seeds", type=int, default=4, help="draws, for error bars (default: 4)"
    )
    report.add_argument(
        "--batch",
        type=int,
        help="input batch size (default: "
        + ", ".join(f"{m} {b}" for m, b in DEFAULT_BATCH.items())
        + f"; {DEFAULT_BATCH['mlp']} with --model-path and --coord-check)",
    )
    report.add_argument(
        "--no-plots", action="store_true", help="skip the PNGs (default: off)"
    )
    report.add_argument(
        "--coord-check",
        action="store_true",
        help="instead: microsoft/mup's coord check, SP against muP, on a ReLU MLP "
        "with a readout (--depth hidden layers, default 2) trained --steps Adam "
        "steps at each of --widths; writes coord_check.md and coord_check.png "
        "(default: off)",
    )
    report.add_argument(
        "--widths",
        default=",".join(map(str, COORD_WIDTHS)),
        help="with --coord-check: the widths, comma-separated "
        f"(default: {','.join(map(str, COORD_WIDTHS))})",
    )
    report.add_argument(
        "--steps",
        type=int,
        default=3,
        help="with --coord-check: recorded steps, t = 1 the initial model (default: 3)",
    )
    report.add_argument(
        "--lr",
        type=float,
        default=1e-2,
        help="with --coord-check: the base Adam learning rate (default: 0.01)",
    )
    return parser


# ----------------------------------------------------------------------------
# Initializer names.


def _call_args(text: str) -> tuple[list[Any], dict[str, Any]]:
    call = ast.parse(f"f({text})", mode="eval").body
    args = [ast.literal_eval(a) for a in call.args]  # type: ignore[attr-defined]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}  # type: ignore[attr-defined]
    return args, kwargs


def is_initializer(obj: Any) -> bool:
    """Whether ``obj`` is a jinit initializer or a builder of one.

    The one predicate of what an initializer is: an :class:`jinit._base.Init`
    (``jinit.zeros``), or a function annotated to return one
    (``jinit.he_normal``). ``jinit.materialize`` and ``jinit.compute_fans`` are
    neither.
    """
    import typing

    from ._base import Init

    if isinstance(obj, Init):
        return True
    if not callable(obj) or isinstance(obj, type):
        return False
    try:
        ret = typing.get_type_hints(obj).get("return")
    except Exception:  # unresolvable annotations: not one of jinit's builders
        return False
    return isinstance(ret, type) and issubclass(ret, Init)


def _jinit_names() -> list[str]:
    import jinit

    return sorted(
        n
        for n in dir(jinit)
        if not n.startswith("_")
        and n[0].islower()
        and is_initializer(getattr(jinit, n))
    )


def resolve_init(spec: str) -> Any:
    """An initializer from ``name`` or ``name(args)``: jinit's names, then Keras'.

    Raises:
      UsageError: an unknown name or bad arguments.
    """
    import re

    import jinit

    from ._base import Init

    match = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*", spec, re.S)
    if not match:
        raise UsageError(_message("--init", "a name or name(args)", spec))
    name, arg_text = match.group(1), match.group(2)
    try:
        args, kwargs = _call_args(arg_text) if arg_text else ([], {})
    except (SyntaxError, ValueError):
        raise UsageError(
            f"`--init` arguments must be Python literals; got {spec!r}."
        ) from None
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
                    raise UsageError(f"`--init` {name!r} takes no arguments.")
                return obj
            return obj(*args, **kwargs)
        if name in keras_names:
            return keras_names[name](*args, **kwargs)
    except UsageError:
        raise
    except (TypeError, ValueError) as e:
        raise UsageError(f"`--init` {spec!r}: {e}") from None
    import difflib

    known = [AS_IS, *names, *sorted(keras_names)]
    lower = {k.lower(): k for k in known}
    close = [lower[name.lower()]] if name.lower() in lower else []
    close = close or difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(
        _message(
            "--init", f"{AS_IS!r}, a jinit or a Keras initializer name", name, hint
        )
    )


# ----------------------------------------------------------------------------
# Options.


def _make_out(out: str) -> None:
    """Makes the ``--out`` folder (a UsageError where that fails)."""
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise UsageError(_message("--out", "a writable folder", out, f" {e}")) from None


def _check_out(out: str) -> None:
    """``--out`` must be a folder that exists and is writable, or can be made."""
    path = os.path.abspath(out)
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(_message("--out", "a folder", out, " It is a file."))
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UsageError(_message("--out", "a folder", out, f" {parent!r} is a file."))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            _message("--out", "a writable folder", out, f" {parent!r} is not.")
        )


def _check_options(opts) -> None:
    if opts.model_path is None:
        if opts.model not in MODELS:
            import difflib

            close = difflib.get_close_matches(opts.model, MODELS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UsageError(
                f"`--model` must be one of {', '.join(MODELS)}; got "
                f"{opts.model!r}.{hint}"
            )
        given = [
            flag
            for flag, value in (
                ("--input-shape", opts.input_shape),
                ("--input-dtype", opts.input_dtype != "float32" or None),
            )
            if value is not None
        ]
        if given:
            raise UsageError(
                f"`{given[0]}` must be given with `--model-path` only; the "
                "built-in models take their input from --model and --width."
            )
    for act in opts.activation or []:
        if act not in ACTIVATIONS:
            raise UsageError(
                f"`--activation` must be one of {', '.join(ACTIVATIONS)}; got {act!r}."
            )
    if opts.input_dtype not in INPUT_DTYPES:
        raise UsageError(
            _message(
                "--input-dtype", "one of " + ", ".join(INPUT_DTYPES), opts.input_dtype
            )
        )
    for arg in ("depth", "width", "seeds", "batch"):
        value = getattr(opts, arg)
        if value is not None and value < 1:
            raise UsageError(f"`--{arg}` must be a positive int; got {value}.")
    _check_out(opts.out)


# ----------------------------------------------------------------------------
# Models and their parameters.


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


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def _abstract(module: Any, x: Any) -> list[tuple[str, Any]]:
    """The module's parameters as ``(path, ShapeDtypeStruct)``, creation order.

    Each carries its init signature (:func:`jinit.flax.abstract`) where the
    module has one, so roles (kernel, bias, embedding, norm) come from the model.
    """
    import jax

    from . import _tree, diagnostics
    from . import flax as jf

    box: list[tuple[str, Any]] = []

    def init(key, x):
        named = diagnostics._named_leaves(module.init(key, x)["params"])
        box.extend((n, jax.ShapeDtypeStruct(p.shape, p.dtype)) for n, p in named)

    jax.eval_shape(init, jax.random.key(0), x)
    leaves, _ = _tree.flatten(jf.abstract(module, x).get("params", {}))
    signed = {leaf.path: leaf.spec for leaf in leaves}
    return [(n, signed.get(n, leaf)) for n, leaf in box]


def _nest(named: dict[str, Any]) -> dict[str, Any]:
    """A nested dict from ``{"a/b": leaf}`` paths."""
    out: dict[str, Any] = {}
    for path, leaf in named.items():
        *parents, last = path.split("/")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = leaf
    return out


def _own_params(module: Any, x: Any, k_init: Any, keep: set[str] | None):
    """``{path: (seeds, ...)}``: the module's own draws (those in ``keep``)."""
    import jax

    from . import diagnostics

    def own(key):
        named = diagnostics._named_leaves(module.init(key, x)["params"])
        return {n: p for n, p in named if keep is None or n in keep}

    return jax.jit(jax.vmap(own))(k_init)


def _draw_groups(kernels: list[tuple[str, Any]]) -> dict[Any, list[str]]:
    """Kernel paths by (shape, dtype, signature): each group is drawn as one stack."""
    import numpy as np

    from . import _signature

    groups: dict[Any, list[str]] = {}
    for path, leaf in kernels:
        key = (tuple(leaf.shape), np.dtype(leaf.dtype), _signature.signature_of(leaf))
        groups.setdefault(key, []).append(path)
    return groups


def _stack_signature(shape, signature, seeds: int, n: int):
    """The signature of ``(seeds, n, *shape)``: ``seeds x n`` independent layers.

    Each layer is called as the module calls it (its signature's call shape and
    fan axes), or as stored where the leaf carries no signature.
    """
    from . import _signature

    if signature is None:
        return _signature.stacked_signature((seeds, n, *shape), (0, 1))
    stacked = (0, 1, *(a + 2 for a in signature.stacked))
    return dataclasses.replace(signature, stacked=stacked)


def _draw_plan(inits: dict[str, Any], groups, seeds: int):
    """``[(init, shape, dtype, stacked signature, kernels)]``, initializer-major."""
    return [
        (
            init,
            shape,
            dtype,
            _stack_signature(shape, sig, seeds, len(paths)),
            len(paths),
        )
        for init in inits.values()
        for (shape, dtype, sig), paths in groups.items()
    ]


def _lower_draws(inits: dict[str, Any], groups, seeds: int, key: Any) -> list[Any]:
    """``jax.jit(draw).lower(...)``s: every kernel of every initializer.

    The kernels of one group (shape, dtype, signature) are one stored stack of
    ``seeds x kernels`` independent layers, drawn by
    :func:`jinit._signature.draw` as ``jinit.materialize`` draws a stacked leaf:
    an elementwise law (uniform, normal, variance scaling) in one draw, with its
    fans per layer; anything else (orthogonal: one batched QR) per layer, each
    with its own key. Every one-draw stack is in one compiled function (their
    random bits are the same kernels, compiled once; a compilation costs far
    more than a draw); each per-layer stack has its own, run one after the
    other: two batched LAPACK QRs run concurrently by XLA deadlock jaxlib's
    CPU thread pool on a 2-core machine (``jax::ParallelBatchMap`` in
    ``lapack_sorgqr_ffi``, seen with the transformer's three kernel shapes).
    Returns the lowered functions; :func:`_run_draws` runs them in order.
    """
    import jax

    from . import _signature

    plan = list(enumerate(_draw_plan(inits, groups, seeds)))
    whole = [
        p
        for p in plan
        if not _signature.plan(p[1][0], p[1][3], (seeds, p[1][4], *p[1][1]))[2]
    ]
    per_layer = [p for p in plan if p not in whole]

    def draw(items):
        def fn(key):
            return [
                _signature.draw(
                    init, jax.random.fold_in(key, i), (seeds, n, *shape), dtype, sig
                )
                for i, (init, shape, dtype, sig, n) in items
            ]

        return jax.jit(fn).lower(key), [i for i, _ in items]

    parts = [draw(whole)] if whole else []
    return parts + [draw([p]) for p in per_layer]


def _run_draws(inits: dict[str, Any], groups, key: Any, compiled) -> dict[str, Any]:
    """``{spec: {path: (seeds, *shape)}}`` from :func:`_lower_draws`' compiled draws.

    ``compiled``: ``[(compiled function, plan indices)]``, run one after the
    other. Sliced in NumPy: slices inside the compiled draw would each be a
    kernel to compile, and eager slices compile once per index.
    """
    import numpy as np

    stacks: dict[int, Any] = {}
    for fn, indices in compiled:
        for i, value in zip(indices, fn(key), strict=True):
            stacks[i] = np.asarray(value)
    out: dict[str, Any] = {}
    i = 0
    for spec in inits:
        drawn = out.setdefault(spec, {})
        for paths in groups.values():
            drawn.update({p: stacks[i][:, k] for k, p in enumerate(paths)})
            i += 1
    return out


def _check_init(spec: str, init: Any, module: Any, x: Any, kernels, clone: bool):
    """Each initializer draws the model's kernels, checked before any work.

    Once per group of kernels (:func:`_draw_groups`): the initializer called as
    the module calls it (the signature's call shape), with its own checks.
    """
    import jax

    try:
        if clone:
            jax.eval_shape(
                lambda k: module.clone(kernel_init=init).init(k, x), jax.random.key(0)
            )
        else:
            for shape, dtype, sig in _draw_groups(kernels):
                call = sig.shape if sig is not None else shape
                jax.eval_shape(
                    lambda k, s=call, d=dtype: init(k, s, d), jax.random.key(0)
                )
    except (TypeError, ValueError) as e:
        shapes = sorted({leaf.shape for _, leaf in kernels})
        where = "" if clone else f" (kernels {shapes})"
        raise UsageError(
            f"`--init` {spec!r} cannot draw this model's kernels{where}: "
            f"{_first_line(e)}"
        ) from None


@dataclasses.dataclass
class _Model:
    """One architecture, for every activation it is run with."""

    title: str
    modules: dict[str, Any]  # activation label -> Flax module
    x: Any
    named: list[tuple[str, Any]]  # abstract params, creation order
    roles: dict[str, str]
    family: str | None  # the built-in family, None for --model-path
    depth: int


def _input(shape, dtype_name: str, batch: int, named, roles):
    import jax
    import jax.numpy as jnp

    dtype = jnp.dtype(dtype_name)
    key = jax.random.key(1)
    if jnp.issubdtype(dtype, jnp.floating):
        return jax.random.normal(key, (batch, *shape), dtype)
    sizes = [leaf.shape[0] for n, leaf in named if roles[n] == "embedding"]
    if not sizes:
        raise UsageError(
            _message(
                "--input-dtype",
                "a float dtype for a model without an embedding parameter",
                dtype_name,
            )
        )
    return jax.random.randint(key, (batch, *shape), 0, min(sizes), dtype)


def _build(opts) -> _Model:
    _resolve_batch(opts)
    import jax
    import jax.numpy as jnp

    from . import diagnostics, models

    if opts.model_path:
        module, shape = _load_user_model(opts.model_path, opts.input_shape)
        label = opts.activation[0] if opts.activation else "model"
        dtype = jnp.dtype(opts.input_dtype)
        probe = jax.ShapeDtypeStruct((opts.batch, *shape), dtype)
        try:
            named = _abstract(module, probe)
        except Exception as e:  # the user's model: any failure, in one line
            hint = (
                " Integer tokens? Pass --input-dtype int32."
                if jnp.issubdtype(dtype, jnp.floating)
                else ""
            )
            raise UsageError(
                f"`--model-path` {opts.model_path!r} fails on an input of shape "
                f"{probe.shape} and dtype {dtype.name}: {_first_line(e)}.{hint}"
            ) from None
        roles = diagnostics.param_roles(dict(named))
        x = _input(shape, opts.input_dtype, opts.batch, named, roles)
        depth = sum(r == "kernel" for r in roles.values())
        return _Model(opts.model_path, {label: module}, x, named, roles, None, depth)
    depth, width = DEFAULT_SIZE[opts.model]
    depth, width = opts.depth or depth, opts.width or width
    modules = {}
    shape = models.MODELS[opts.model][1](width)
    for act in dict.fromkeys(opts.activation or ["relu", "tanh"]):
        modules[act], _ = models.build(
            opts.model, depth=depth, width=width, activation=act
        )
    x = jax.random.normal(jax.random.key(1), (opts.batch, *shape))
    named = _abstract(next(iter(modules.values())), x)
    roles = diagnostics.param_roles(dict(named))
    title = f"{opts.model}, depth {depth}, width {width}"
    return _Model(title, modules, x, named, roles, opts.model, depth)


def _clones(model: _Model) -> bool:
    """Whether kernels are drawn by cloning the module with ``kernel_init``.

    A ``--model-path`` module with a ``kernel_init`` field decides itself which
    parameters that initializer draws, with Flax's own fans (its 3-D attention
    kernels included); a built-in model's kernels are Dense and Conv kernels,
    drawn in batches from their shapes.
    """
    module = next(iter(model.modules.values()))
    fields = {f.name for f in dataclasses.fields(module)}
    return model.family is None and "kernel_init" in fields


def draw_params(model: _Model, inits: dict[str, Any], k_init: Any, submit=None):
    """``{spec: params}``, each with a leading seed axis, for every initializer.

    Parameter roles come from the model (:func:`jinit.diagnostics.param_roles`):
    only kernels are drawn by an initializer; biases, embeddings, norms and any
    other parameter are the module's own draws (one per key of ``k_init``).
    ``None`` (``--init model``): every parameter as the module draws it. The
    kernels of every initializer are drawn in one compiled function
    (:func:`_lower_draws`) from ``k_init[0]`` (the seeds are independent layers
    of one stacked draw).

    Args:
      model: the model.
      inits: initializers by name, None for the module's own.
      k_init: one key per seed.
      submit: ``submit(fn) -> future`` to compile the draws concurrently (a
        thread pool's); default: compile here.
    """
    from concurrent.futures import Future

    import jax

    def now(fn):
        f: Future = Future()
        f.set_result(fn())
        return f

    submit = submit or now
    module0 = next(iter(model.modules.values()))
    kernels = [(n, leaf) for n, leaf in model.named if model.roles[n] == "kernel"]
    clone = _clones(model)
    drawn_inits = {s: i for s, i in inits.items() if i is not None and not clone}
    groups = _draw_groups(kernels)
    key = jax.random.fold_in(k_init[0], len(k_init))
    futures = []
    if drawn_inits and groups:
        for lowered, indices in _lower_draws(drawn_inits, groups, len(k_init), key):
            futures.append((submit(lowered.compile), indices))
    kernel_paths = {n for n, _ in kernels}
    need_all = any(i is None for i in inits.values()) or clone
    own = _own_params(
        module0, model.x, k_init, None if need_all else set(model.roles) - kernel_paths
    )
    compiled = [(f.result(), indices) for f, indices in futures]
    kernels_by_init = _run_draws(drawn_inits, groups, key, compiled) if compiled else {}
    params = {}
    for spec, init in inits.items():
        if init is None:
            drawn = own
        elif clone:
            cloned = module0.clone(kernel_init=init)
            drawn = {**own, **_own_params(cloned, model.x, k_init, kernel_paths)}
        else:
            drawn = {**own, **kernels_by_init.get(spec, {})}
        params[spec] = _nest({n: drawn[n] for n, _ in model.named})
    return params


# ----------------------------------------------------------------------------
# Output.


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.1e}"


def _main_kind(names, keep) -> list[int]:
    """The indices of the most numerous kind of layer (like-named entries)."""
    from .diagnostics import _kind

    kinds: dict[str, list[int]] = {}
    for i, (n, k) in enumerate(zip(names, keep, strict=True)):
        if k:
            kinds.setdefault(_kind(n), []).append(i)
    return max(kinds.values(), key=len) if kinds else []


def _rows(results, verdicts):
    import numpy as np

    from .diagnostics import _geomean

    rows = []
    for (act, name), stats in results.items():
        rms = _geomean(stats.rms)
        acts = _main_kind(stats.layers, [True] * len(stats.layers))
        grads = _geomean(stats.grad_rms)
        ks = _main_kind(stats.params, stats.kernels)
        with np.errstate(invalid="ignore"):
            dead = (
                np.nanmax(stats.dead.mean(0))
                if np.any(np.isfinite(stats.dead))
                else None
            )
            sat = (
                np.nanmax(stats.saturated.mean(0))
                if np.any(np.isfinite(stats.saturated))
                else None
            )
        rows.append(
            [
                act,
                name,
                f"{_fmt(float(rms[acts[0]]))} > {_fmt(float(rms[acts[-1]]))}"
                if acts
                else "-",
                f"{_fmt(float(grads[ks[-1]]))} > {_fmt(float(grads[ks[0]]))}"
                if ks
                else "-",
                "-" if dead is None else f"{float(dead):.0%}",
                "-" if sat is None else f"{float(sat):.0%}",
                str(verdicts[act, name]),
            ]
        )
    return rows


_HEADER = [
    "activation",
    "initializer",
    "act. RMS first > last",
    "grad RMS out > in",
    "dead",
    "satur.",
    "verdict",
]
_STYLE = {"healthy": "green", "caution": "yellow", "unhealthy": "red"}


def _print_table(rows, verdicts, title: str) -> None:
    try:
        from rich.console import Console
        from rich.markup import escape
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
            h, justify="left" if h in (*_HEADER[:2], "verdict") else "right"
        )
    for r, v in zip(rows, verdicts.values(), strict=True):
        style = _STYLE[v.status]
        table.add_row(*r[:-1], f"[{style}]{escape(r[-1])}[/{style}]")
    Console(width=max(Console().width, 140)).print(table)


_LEGEND = (
    "act. RMS: the activations' root mean square at the first > last layer (of "
    "the most numerous kind); grad RMS: the gradient's root mean square per "
    "parameter of the last > first kernel of that kind (backward); geometric "
    "means over seeds. dead, satur.: the largest fraction of dead (<= 0 on the "
    "whole batch) or saturated (within 1% of a bound) units at any layer, on the "
    "activation functions' outputs. Verdicts (jinit.diagnostics.verdict): "
    "unhealthy beyond x{growth} through depth, over {dead:.0%} dead or "
    "{sat:.0%} saturated, or non-finite; caution beyond x{drift}; healthy "
    "otherwise. For the plain MLP the mean-field expectation is shown."
)


def _summary(rows, verdicts, title: str, files: list[str], seconds: float) -> str:
    from .diagnostics import Rules

    lines = [f"# jinit report: {title}", ""]
    by_act: dict[str, dict[str, list[str]]] = {}
    for (act, name), v in verdicts.items():
        by_act.setdefault(act, {s: [] for s in _STYLE})[v.status].append(name)
    for act, groups in by_act.items():
        parts = [f"{s}: {', '.join(n) or 'none'}" for s, n in groups.items()]
        lines.append(f"- **{act}**: " + "; ".join(parts) + ".")
    lines += ["", "| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    rules = Rules()
    lines += [
        "",
        _LEGEND.format(
            growth=_fmt(rules.growth),
            drift=_fmt(rules.drift),
            dead=rules.dead,
            sat=rules.saturated,
        ),
        "",
    ]
    lines += [f"![{f}]({f})" for f in files if f.endswith(".png")]
    lines += ["", f"Made by `jinit report` in {seconds:.1f} s."]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------
# The command.


_LAPS: list[tuple[str, float]] = []


def _lap(what: str) -> None:
    """Phase timings, printed to stderr when JINIT_REPORT_TIMINGS is set (bench)."""
    _LAPS.append((what, time.perf_counter()))


def _resolve_batch(opts) -> None:
    """``--batch`` by default: :data:`DEFAULT_BATCH` of the built-in family."""
    if opts.batch is None:
        builtin = opts.model_path is None and not opts.coord_check
        family = opts.model if builtin else "mlp"
        opts.batch = DEFAULT_BATCH.get(family, DEFAULT_BATCH["mlp"])


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(",") if w.strip())
    except ValueError:
        widths = ()
    if len(widths) < 2 or min(widths) < 1 or len(set(widths)) != len(widths):
        raise UsageError(
            _message("--widths", "at least two distinct positive ints", text)
        )
    return tuple(sorted(widths))


#: ``--coord-check``'s data: inputs of this size, labels among this many classes.
COORD_INPUTS, COORD_CLASSES = 32, 10
#: The readout starts at 0, as in microsoft/mup's coord-check test
#: (``CoordCheckCase``): under muP its output at initialization shrinks with
#: width (the logits carry 1/m), so at t = 1 the output is exactly 0 at every
#: width and each later step shows what training made of it.
ZERO_READOUT = (r".*/readout/kernel", r".*/readout/bias")


def coord_check_rows(opts) -> list[dict[str, Any]]:
    """:func:`jinit.mup.coord_check` of ``--coord-check``: SP and muP rows.

    The model is :class:`jinit.models.ReadoutMLP` (``--depth`` hidden layers,
    default 2) at each of ``--widths``, initialized by
    ``jinit.flax.defaults("flax")`` rescaled per parameter by each variant, and
    trained ``--steps`` Adam steps at ``--lr`` on one batch of ``--batch``
    Gaussian inputs with random labels (softmax cross-entropy); the readout
    starts at 0 (:data:`ZERO_READOUT`).
    """
    if opts.model_path is not None or opts.model != "mlp":
        raise UsageError(
            "`--coord-check` runs the built-in mlp (jinit.models.ReadoutMLP) only; "
            f"got --model {opts.model_path or opts.model!r}."
        )
    widths = _widths(opts.widths)
    for arg in ("steps", "batch"):
        if getattr(opts, arg) < 1:
            raise UsageError(
                f"`--{arg}` must be a positive int; got {getattr(opts, arg)}."
            )
    if not opts.lr > 0:
        raise UsageError(_message("--lr", "a positive float", opts.lr))
    try:
        import jax
        import optax

        import jinit

        from . import flax as jf
        from . import models, mup
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


def _coord_check(opts, start: float) -> int:
    _check_out(opts.out)
    rows = coord_check_rows(opts)
    _make_out(opts.out)
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
        flat = all(1 / COORD_FLAT < r < COORD_FLAT for r in mine.values())
        word = (
            "flat"
            if flat
            else "not flat: grows with width"
            if worst > 1
            else "not flat"
        )
        lines.append(
            f"- **{variant}**: {word} (largest change x{_fmt(worst)} from width "
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
        cells = [v, m, str(t), *(_fmt(l1[v, m, t, w]) for w in widths)]
        lines.append("| " + " | ".join([*cells, f"x{_fmt(ratios[v, m, t])}"]) + " |")
    files = []
    if not opts.no_plots:
        from . import mup

        try:
            mup.plot_coord_check(rows, os.path.join(opts.out, "coord_check.png"))
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


def report(opts) -> int:
    start = time.perf_counter()
    _LAPS[:] = [("start", start)]
    _resolve_batch(opts)
    if opts.coord_check:
        return _coord_check(opts, start)
    _check_options(opts)
    specs = list(
        dict.fromkeys(
            opts.init or ([AS_IS, *DEFAULT_INITS] if opts.model_path else DEFAULT_INITS)
        )
    )
    inits = {s: None if s.strip() == AS_IS else resolve_init(s) for s in specs}
    try:
        import jax
        import numpy as np

        from . import diagnostics, models  # noqa: F401  (models needs flax)
    except ImportError as e:
        raise UsageError(
            f'`jinit report` needs flax: pip install "jinit[report]" ({e}).'
        ) from None

    _lap("imports")
    model = _build(opts)
    module0 = next(iter(model.modules.values()))
    kernels = [(n, leaf) for n, leaf in model.named if model.roles[n] == "kernel"]
    clone = _clones(model)
    for spec, init in inits.items():
        if init is not None:
            _check_init(spec, init, module0, model.x, kernels, clone)
    _lap("build, check inits")

    key = jax.random.key(0)
    k_init, _, _ = diagnostics._keys(key, opts.seeds)
    abstract = _nest(
        {
            n: jax.ShapeDtypeStruct((opts.seeds, *leaf.shape), leaf.dtype)
            for n, leaf in model.named
        }
    )
    units = {a: getattr(m, "units", None) for a, m in model.modules.items()}
    applies = {a: diagnostics.flax_fns(m, model.x)[1] for a, m in model.modules.items()}

    # Compile one statistics function per activation in threads (XLA releases
    # the GIL) while the weights are drawn here.
    from concurrent.futures import ThreadPoolExecutor

    _lap("setup")
    pool = ThreadPoolExecutor(max_workers=3)  # two statistics, one draw
    compiled = {}
    for act, apply in applies.items():
        bounds = diagnostics.SATURATION_BOUNDS.get(act)
        lowered = diagnostics.compile_measure(
            apply, abstract, model.x, bounds=bounds, units=units[act]
        )
        compiled[act] = pool.submit(lowered.compile)

    _lap("lower stats")
    params = draw_params(model, inits, k_init, submit=pool.submit)
    _lap("draw (waits for compiles)")
    order = [n for n, _ in model.named]
    results, verdicts = {}, {}
    for act, apply in applies.items():
        fn = compiled[act].result()
        for spec in inits:
            stats = diagnostics.measure(
                apply,
                params[spec],
                model.x,
                key,
                order=order,
                roles=model.roles,
                bounds=diagnostics.SATURATION_BOUNDS.get(act),
                units=units[act],
                compiled=fn,
            )
            expected = None
            if model.family == "mlp":
                expected = diagnostics.mean_field(
                    act,
                    stats.weight_var(),
                    model.depth,
                    input_var=float(np.mean(np.square(np.asarray(model.x)))),
                )
            results[act, spec] = stats
            verdicts[act, spec] = stats.verdict(expected=expected)
    _lap("run, verdicts")
    pool.shutdown()

    _make_out(opts.out)
    _lap("mkdir")
    files = []
    if not opts.no_plots:
        try:
            from . import plot
        except ImportError as e:  # pragma: no cover - matplotlib missing
            print(f"jinit: no plots ({e}); pip install 'jinit[plot]'", file=sys.stderr)
        else:
            from . import _signature

            drawn_inits = {s: i for s, i in inits.items() if i is not None}
            if drawn_inits and kernels:
                path, leaf = kernels[-1]
                shape = tuple(leaf.shape)
                sig = _signature.signature_of(leaf)
                call = sig.shape if sig is not None else shape  # as the module calls
                weights = {s: np.asarray(_get(params[s], path)[0]) for s in drawn_inits}
                plot.weight_histograms(
                    weights,
                    drawn_inits,
                    call,
                    os.path.join(opts.out, "weights.png"),
                    title=f"Drawn weights of {path}, shape {shape} (red: the "
                    "law's density)",
                )
                files.append("weights.png")
            for act in model.modules:
                fname = f"depth_{act}.png"
                plot.depth_profiles(
                    {s: results[act, s] for s in inits},
                    os.path.join(opts.out, fname),
                    title=f"{model.title}, {act}: median over {opts.seeds} "
                    "seeds, band min-max",
                )
                files.append(fname)
    _lap("plots")
    rows = _rows(results, verdicts)
    seconds = time.perf_counter() - start
    _print_table(rows, verdicts, f"jinit report: {model.title}")
    with open(os.path.join(opts.out, "summary.md"), "w") as f:
        f.write(_summary(rows, verdicts, model.title, files, seconds))
    files.append("summary.md")
    print(f"Wrote {', '.join(files)} to {opts.out}/ in {seconds:.1f} s.")
    if os.environ.get("JINIT_REPORT_TIMINGS"):
        _lap("output")
        laps = [
            f"{w} {t - t0:.2f}"
            for (_, t0), (w, t) in zip(_LAPS, _LAPS[1:], strict=False)
        ]
        print("jinit report timings (s): " + ", ".join(laps), file=sys.stderr)
    return 0


def _get(tree: Any, path: str) -> Any:
    for part in path.split("/"):
        tree = tree[part]
    return tree


def main(argv: Sequence[str] | None = None) -> int:
    """The ``jinit`` console script. Returns the exit code (2 for bad options)."""
    parser = _parser()
    try:
        opts = parser.parse_args(argv)
        if opts.command is None:
            parser.print_help()
            return 2
        # LAPACK (orthogonal's QR) in one thread unless the user says otherwise:
        # XLA already runs on every core, and OpenBLAS's own threads then spin
        # against it (200 QRs of 256 x 256: 24.8 s of CPU against 1.2 s, on
        # the 2-core machine under load). Read when LAPACK is first loaded.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        return report(opts)
    except UsageError as e:
        print(f"jinit: error: {e}", file=sys.stderr)
        return 2
