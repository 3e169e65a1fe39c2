"""``jinit report``: the model, its parameters per initializer, the measurements.

One statistics function is compiled per activation (in a thread while the
weights are drawn); every initializer's kernels are drawn as stacks
(:func:`jinit._tree.draw_stacks`), ``--seeds`` independent layers each.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import diagnostics
from . import _output
from ._options import (
    AS_IS,
    DEFAULT_INITS,
    DEFAULT_SIZE,
    UsageError,
    check_options,
    load_user_model,
    make_out,
    resolve_batch,
    resolve_init,
    usage,
)

_LAPS: list[tuple[str, float]] = []


def _lap(what: str) -> None:
    """Phase timings, printed to stderr when JINIT_REPORT_TIMINGS is set (bench)."""
    _LAPS.append((what, time.perf_counter()))


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def _nest(named: Mapping[str, Any]) -> dict[str, Any]:
    """A nested dict from ``{"a/b": leaf}`` paths."""
    out: dict[str, Any] = {}
    for path, leaf in named.items():
        *parents, last = path.split("/")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = leaf
    return out


def _abstract(module: Any, x: Any) -> tuple[list[tuple[str, Any]], list[str]]:
    """``(params, other collections)``: the module's parameters as ``(path,
    ShapeDtypeStruct)`` in creation order, and its other variable collections.

    Each parameter carries its init signature (:func:`jinit.flax.abstract`)
    where the module has one, so roles (kernel, bias, embedding, norm) come
    from the model. ``x`` may be abstract: it is an argument of the trace.
    """
    import jax

    from .. import _tree
    from .. import flax as jf

    box: dict[str, Any] = {}

    def init(key, x):
        variables = module.init(key, x)
        box["other"] = [c for c in variables if c != "params"]
        named = diagnostics.named_leaves(variables["params"])
        box["named"] = [(n, jax.ShapeDtypeStruct(p.shape, p.dtype)) for n, p in named]
        leaves, _ = _tree.flatten(jf.abstract(module, x).get("params", {}))
        box["signed"] = {leaf.path: leaf.spec for leaf in leaves}

    jax.eval_shape(init, jax.random.key(0), x)
    named = [(n, box["signed"].get(n, leaf)) for n, leaf in box["named"]]
    return named, box["other"]


def _own_params(module: Any, x: Any, k_init: Any, keep: set[str] | None):
    """``{path: (seeds, ...)}``: the module's own draws (those in ``keep``)."""
    import jax

    def own(key):
        named = diagnostics.named_leaves(module.init(key, x)["params"])
        return {n: p for n, p in named if keep is None or n in keep}

    return jax.jit(jax.vmap(own))(k_init)


@dataclasses.dataclass
class Model:
    """One architecture, for every activation it is run with."""

    title: str
    modules: dict[str, Any]  # activation label -> Flax module
    x: Any
    named: list[tuple[str, Any]]  # abstract params, creation order
    roles: dict[str, str]
    family: str | None  # the built-in family, None for --model-path
    depth: int

    @property
    def kernels(self) -> list[tuple[str, Any]]:
        return [(n, leaf) for n, leaf in self.named if self.roles[n] == "kernel"]

    @property
    def clones(self) -> bool:
        """Whether kernels are drawn by cloning the module with ``kernel_init``.

        A ``--model-path`` module with a ``kernel_init`` field decides itself
        which parameters that initializer draws, with Flax's own fans; a
        built-in model's kernels are drawn as stacks from their shapes.
        """
        module = next(iter(self.modules.values()))
        fields = {f.name for f in dataclasses.fields(module)}
        return self.family is None and "kernel_init" in fields


def _input(shape, dtype_name: str, batch: int, named, roles):
    import jax
    import jax.numpy as jnp

    dtype = jnp.dtype(dtype_name)
    key = jax.random.key(1)
    if jnp.issubdtype(dtype, jnp.floating):
        return jax.random.normal(key, (batch, *shape), dtype)
    sizes = [leaf.shape[0] for n, leaf in named if roles[n] == "embedding"]
    if not sizes:
        allowed = "a float dtype for a model without an embedding parameter"
        raise usage("--input-dtype", allowed, dtype_name)
    return jax.random.randint(key, (batch, *shape), 0, min(sizes), dtype)


def build(opts) -> Model:
    """The model of the options: ``--model-path``'s, or a built-in family."""
    import jax
    import jax.numpy as jnp

    from .. import models

    resolve_batch(opts)
    if opts.model_path:
        module, shape = load_user_model(opts.model_path, opts.input_shape)
        label = opts.activation[0] if opts.activation else "model"
        dtype = jnp.dtype(opts.input_dtype)
        probe = jax.ShapeDtypeStruct((opts.batch, *shape), dtype)
        try:
            named, other = _abstract(module, probe)
        except Exception as e:  # the user's model: any failure, in one line
            floating = jnp.issubdtype(dtype, jnp.floating)
            hint = " Integer tokens? Pass --input-dtype int32." if floating else ""
            allowed = (
                f"a module that runs on an input of shape {probe.shape} and "
                f"dtype {dtype.name}"
            )
            reason = f"{_first_line(e)}.{hint}"
            raise usage("--model-path", allowed, opts.model_path, reason) from None
        roles = diagnostics.param_roles(dict(named))
        x = _input(shape, opts.input_dtype, opts.batch, named, roles)
        depth = sum(r == "kernel" for r in roles.values())
        return Model(opts.model_path, {label: module}, x, named, roles, None, depth)
    depth, width = DEFAULT_SIZE[opts.model]
    depth, width = opts.depth or depth, opts.width or width
    acts = dict.fromkeys(opts.activation or ["relu", "tanh"])
    built = {
        a: models.build(opts.model, depth=depth, width=width, activation=a)
        for a in acts
    }
    modules = {a: module for a, (module, _) in built.items()}
    shape = next(iter(built.values()))[1]
    x = jax.random.normal(jax.random.key(1), (opts.batch, *shape))
    named, _ = _abstract(next(iter(modules.values())), x)
    roles = diagnostics.param_roles(dict(named))
    title = f"{opts.model}, depth {depth}, width {width}"
    return Model(title, modules, x, named, roles, opts.model, depth)


def _check_init(spec: str, init: Any, model: Model) -> None:
    """The initializer draws the model's kernels, checked before any work.

    Once per kernel group: the initializer called as the module calls it (the
    signature's call shape), with its own checks.
    """
    import jax

    from .. import _tree

    module = next(iter(model.modules.values()))
    try:
        if model.clones:
            jax.eval_shape(
                lambda k: module.clone(kernel_init=init).init(k, model.x),
                jax.random.key(0),
            )
        else:
            for shape, dtype, sig in _tree.kernel_groups(model.kernels):
                call = sig.shape if sig is not None else shape
                jax.eval_shape(
                    lambda k, s=call, d=dtype: init(k, s, d), jax.random.key(0)
                )
    except (TypeError, ValueError) as e:
        shapes = sorted({leaf.shape for _, leaf in model.kernels})
        where = "" if model.clones else f" (kernels {shapes})"
        allowed = f"an initializer that draws this model's kernels{where}"
        raise usage("--init", allowed, spec, _first_line(e)) from None


def draw_params(model: Model, inits: dict[str, Any], k_init: Any, submit=None):
    """``{spec: params}``, each with a leading seed axis, for every initializer.

    Only kernels (roles from :func:`jinit.diagnostics.param_roles`) are drawn
    by an initializer, as stacks from ``fold_in(k_init[0], seeds)``
    (:func:`jinit._tree.draw_stacks`); every other parameter, and all of
    them for ``None`` (``--init model``), is the module's own draw, one per
    key of ``k_init``. ``submit``: compile the draws there (a thread pool's).
    """
    import jax

    from .. import _tree

    module0 = next(iter(model.modules.values()))
    kernel_paths = {n for n, _ in model.kernels}
    need_all = any(i is None for i in inits.values()) or model.clones
    keep = None if need_all else set(model.roles) - kernel_paths
    own = _own_params(module0, model.x, k_init, keep)
    drawn_inits = {s: i for s, i in inits.items() if i is not None and not model.clones}
    kernels: dict[str, dict[str, Any]] = {}
    if drawn_inits and model.kernels:
        key = jax.random.fold_in(k_init[0], len(k_init))
        kernels = _tree.draw_stacks(
            drawn_inits, model.kernels, len(k_init), key, submit
        )
    params = {}
    for spec, init in inits.items():
        if init is None:
            drawn = own
        elif model.clones:
            cloned = module0.clone(kernel_init=init)
            drawn = {**own, **_own_params(cloned, model.x, k_init, kernel_paths)}
        else:
            drawn = {**own, **kernels[spec]}
        params[spec] = _nest({n: drawn[n] for n, _ in model.named})
    return params


def _measure(model: Model, inits, opts):
    """``(results, verdicts, params)`` by ``(activation, spec)``."""
    import jax
    import numpy as np

    key = jax.random.key(0)
    k_init = jax.random.split(jax.random.split(key, 3)[0], opts.seeds)
    abstract = _nest(
        {
            n: jax.ShapeDtypeStruct((opts.seeds, *leaf.shape), leaf.dtype)
            for n, leaf in model.named
        }
    )
    units = {a: getattr(m, "units", None) for a, m in model.modules.items()}
    applies = {a: diagnostics.flax_fns(m, model.x)[1] for a, m in model.modules.items()}
    _lap("setup")
    # One statistics function per activation, compiled in threads (XLA releases
    # the GIL) while the weights are drawn here.
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
    return results, verdicts, params


def _norms(model: Model, params: Mapping[str, Any]) -> str:
    """``--norms``: each initializer's per-leaf norm table, first draw."""
    import jax

    like = _nest(dict(model.named))
    parts = []
    for spec, tree in params.items():
        first = jax.tree.map(lambda x: x[0], tree)
        rows = diagnostics.norm_table(first, like)
        parts.append(f"### {spec}\n\n{diagnostics.format_norms(rows)}\n")
    return "\n".join(parts)


def report(opts) -> int:
    """The report of the options: a table, PNGs and summary.md in ``--out``."""
    start = time.perf_counter()
    _LAPS[:] = [("start", start)]
    check_options(opts)
    default = [AS_IS, *DEFAULT_INITS] if opts.model_path else DEFAULT_INITS
    specs = list(dict.fromkeys(opts.init or default))
    inits = {s: None if s.strip() == AS_IS else resolve_init(s) for s in specs}
    try:
        from .. import diagnostics, models  # noqa: F401  (models needs flax)
    except ImportError as e:
        raise UsageError(
            f'`jinit report` needs flax: pip install "jinit[report]" ({e}).'
        ) from None
    _lap("imports")
    model = build(opts)
    for spec, init in inits.items():
        if init is not None:
            _check_init(spec, init, model)
    _lap("build, check inits")
    results, verdicts, params = _measure(model, inits, opts)
    make_out(opts.out)
    _lap("mkdir")
    files = []
    if not opts.no_plots:
        files = _output.plots(model, inits, params, results, opts)
    _lap("plots")
    rows = _output.rows(results, verdicts)
    seconds = time.perf_counter() - start
    _output.print_table(rows, verdicts, f"jinit report: {model.title}")
    with open(os.path.join(opts.out, "summary.md"), "w") as f:
        f.write(_output.summary(rows, verdicts, model.title, files, seconds))
    files.append("summary.md")
    if getattr(opts, "norms", False):
        text = f"# Norms: {model.title}\n\n{_norms(model, params)}"
        print(text)
        with open(os.path.join(opts.out, "norms.md"), "w") as f:
            f.write(text)
        files.append("norms.md")
    print(f"Wrote {', '.join(files)} to {opts.out}/ in {seconds:.1f} s.")
    if os.environ.get("JINIT_REPORT_TIMINGS"):
        _lap("output")
        laps = [
            f"{w} {t - t0:.2f}"
            for (_, t0), (w, t) in zip(_LAPS, _LAPS[1:], strict=False)
        ]
        print("jinit report timings (s): " + ", ".join(laps), file=sys.stderr)
    return 0
