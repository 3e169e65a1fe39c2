"""Propagation statistics: one jitted function per model, one call per seed."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _caches, _checks, _errors
from ._layout import FLAT, Layout, WeakCache, at_layer, layer_rows
from ._names import Apply, InitFn, param_roles
from ._paths import named_leaves
from ._stats import Propagation


def _layer_stats(a, t, v_rms, bounds, is_unit):
    a32 = a.astype(jnp.float32).reshape(-1, a.shape[-1] if a.ndim else 1)
    nan = jnp.full((), jnp.nan, jnp.float32)
    if bounds is None or not is_unit:
        saturated = nan
    else:
        lo, hi = bounds
        margin = 0.01 * (hi - lo)
        saturated = jnp.mean(
            ((a32 <= lo + margin) | (a32 >= hi - margin)).astype(jnp.float32)
        )
    dead = jnp.mean(jnp.all(a32 <= 0, axis=0).astype(jnp.float32)) if is_unit else nan
    if t is None:
        gain = nan
    else:
        t32 = t.astype(jnp.float32)
        gain = jnp.sqrt(jnp.mean(t32 * t32)) / v_rms
    return jnp.mean(a32), jnp.std(a32), dead, saturated, gain


def check_seeds(seeds: Any) -> int:
    return _checks.integer("seeds", seeds, minimum=1)


def check_bounds(bounds: Any) -> tuple[float, float] | None:
    if bounds is None:
        return None
    if not isinstance(bounds, Sequence) or len(bounds) != 2:
        raise _errors.bad_type("bounds", "None or a pair (low, high)", bounds)
    lo = _checks.real_number("bounds", bounds[0])
    hi = _checks.real_number("bounds", bounds[1])
    if lo >= hi:
        raise _errors.bad_value("bounds", "a pair (low, high) with low < high", bounds)
    return lo, hi


def check_units(units: Any) -> str | None:
    if units is None:
        return None
    if not isinstance(units, str):
        raise _errors.bad_type("units", "None or a regular expression (str)", units)
    try:
        re.compile(units)
    except re.error:
        raise _errors.bad_value("units", "a valid regular expression", units) from None
    return units


def record(fn, *args) -> list[tuple[str, Any]]:
    """Traces ``fn(*args)`` abstractly and returns its output's leaves by name.

    The names are read inside the trace, where dicts keep their insertion (call
    or creation) order; ``jax.tree`` would sort them (``layer_10`` before
    ``layer_2``).
    """
    box: list[tuple[str, Any]] = []

    def traced(*a):
        box.extend(named_leaves(fn(*a)))

    jax.eval_shape(traced, *args)
    return box


_STATS = WeakCache()


def stats_fn(
    apply: Apply,
    bounds: tuple[float, float] | None,
    units: str | None,
    layout: Layout = FLAT,
):
    """One jitted statistics function of one seed's draw per ``apply`` (cached).

    Returns ``(fn, names)``: ``fn(params, x, v, g)`` takes the input
    perturbation ``v`` (None for integer inputs) and the output cotangent ``g``
    (:func:`noise`); ``names`` is filled with the activations' names in call
    order when ``fn`` is traced. The parameters are arguments: every
    initializer's draw reuses one compilation. A stacked parameter's norms
    and RMS are per layer (a vector along its stack axis).
    """
    return _STATS.get(
        apply, (bounds, units, layout), lambda ref: _stats(ref, bounds, units, layout)
    )


def _stats(apply_ref, bounds, units, layout):
    names: list[str] = []
    roots = layout.roots()
    axes = {path: axis for path, _, axis, _ in layout.stacks}

    def _other(a, n):
        """All axes but a stacked parameter's stack axis (None: all axes)."""
        axis = axes.get(n)
        return None if axis is None else tuple(i for i in range(a.ndim) if i != axis)

    def flat(params, x):
        # A list keeps the call order through jax.vjp/jvp (a dict comes back
        # with sorted keys: layer_10 before layer_2).
        y, acts = apply_ref()(params, x)
        named = layer_rows(named_leaves(acts), roots)
        names[:] = [n for n, _ in named]
        return y, [a for _, a in named]

    def one(params, x, v, g):
        def forward(p):
            # The perturbation's response rides along as an auxiliary output:
            # one forward pass serves the activations, the tangents and the
            # vjp's residuals.
            if v is None:
                y, acts = flat(p, x)
                return y, (acts, [None] * len(acts))
            (y, acts), (_, tangents) = jax.jvp(lambda x_: flat(p, x_), (x,), (v,))
            return y, (acts, tangents)

        _, pullback, (acts, tangents) = jax.vjp(forward, params, has_aux=True)
        (grads,) = pullback(g)
        v_rms = (
            jnp.sqrt(jnp.mean(v.astype(jnp.float32) ** 2)) if v is not None else None
        )
        pattern = re.compile(units) if units is not None else None
        layer = [
            _layer_stats(a, t, v_rms, bounds, pattern is None or pattern.fullmatch(n))
            for n, a, t in zip(names, acts, tangents, strict=True)
        ]
        stacked = tuple(
            jnp.stack([row[i] for row in layer]) if layer else jnp.zeros((0,))
            for i in range(5)
        )
        norms = {
            n: jnp.sqrt(jnp.sum(jnp.square(g.astype(jnp.float32)), _other(g, n)))
            for n, g in named_leaves(grads)
        }
        values = {
            n: jnp.sqrt(jnp.mean(jnp.square(p.astype(jnp.float32)), _other(p, n)))
            for n, p in named_leaves(params)
        }
        return stacked, norms, values

    return jax.jit(one), names


def seed_keys(key: jax.Array, seeds: int):
    """``(k_init, k_tan, k_cot)``, each ``seeds`` keys split from ``key``."""
    return tuple(jax.random.split(k, seeds) for k in jax.random.split(key, 3))


@_caches.registered
@functools.lru_cache(maxsize=64)
def _noise_fn(x: jax.ShapeDtypeStruct, y: jax.ShapeDtypeStruct, seeds: int):
    """The jitted :func:`noise` draw for these shapes (one compilation for every
    model and activation of the same input and output shapes)."""
    floating = jnp.issubdtype(x.dtype, jnp.floating)

    def noise(k_tan, k_cot):
        # One call per seed (not vmapped): the same kernel, compiled once.
        g = [jax.random.normal(k_cot[s], y.shape, y.dtype) for s in range(seeds)]
        if not floating:
            return [None] * seeds, g
        v = [jax.random.normal(k_tan[s], x.shape, x.dtype) for s in range(seeds)]
        return v, g

    return jax.jit(noise)


def noise(key: jax.Array, seeds: int, x: Any, y: Any):
    """Per seed, the input perturbation ``v ~ N(0, I)`` and output cotangent ``g``.

    ``v`` (None for an integer input: no gain) and ``g`` are drawn from the
    second and third of :func:`seed_keys`, as ``jax.random.normal(k, shape)``.
    """
    _, k_tan, k_cot = seed_keys(key, seeds)
    spec = (
        jax.ShapeDtypeStruct(x.shape, x.dtype),
        jax.ShapeDtypeStruct(y.shape, y.dtype),
    )
    return _noise_fn(*spec, seeds)(k_tan, k_cot)


_OUTPUTS = WeakCache()


def _output(apply: Apply, params: Any, x: jax.Array) -> jax.ShapeDtypeStruct:
    """The shape and dtype of ``apply``'s output for one seed's ``params``."""
    leaves, tree = jax.tree.flatten(params)
    specs = tuple((tuple(p.shape[1:]), np.dtype(p.dtype)) for p in leaves)
    spec = (tree, specs, (tuple(x.shape), np.dtype(x.dtype)))
    return _OUTPUTS.get(apply, spec, lambda ref: _output_spec(ref(), *spec))


def _output_spec(apply: Apply, tree: Any, specs: tuple, x: tuple):
    one = jax.tree.unflatten(tree, [jax.ShapeDtypeStruct(s, d) for s, d in specs])
    x_spec = jax.ShapeDtypeStruct(*x)
    return jax.eval_shape(lambda p, x_: apply(p, x_)[0], one, x_spec)


def measure(
    apply: Apply,
    params: Any,
    x: jax.Array,
    key: jax.Array,
    *,
    order: Sequence[str] | None = None,
    roles: Mapping[str, str] | None = None,
    bounds: tuple[float, float] | None = None,
    units: str | None = None,
    compiled: Any = None,
) -> Propagation:
    """:func:`propagation` of parameters already drawn, one per seed.

    Args:
      apply: ``apply(params, x) -> (output, activations)``.
      params: the parameters with a leading seed axis (``jax.vmap(init)(keys)``).
      x: an input batch (float, or integer tokens: then no gain is measured).
      key: a PRNG key for the perturbation and the cotangent (split as in
        :func:`propagation`, whose third key they are not).
      order: the parameters' paths in creation order; default: natural order
        of the paths (``dense_2`` before ``dense_10``).
      roles: ``{path: role}``; default :func:`param_roles` of ``params``.
      bounds: the activation's output range for the saturated fraction.
      units: a regular expression; dead and saturated fractions are measured on
        the activations whose names it matches in full (the activation
        functions' outputs; a residual stream has no dead units). None: all.
      compiled: the compiled statistics function (from
        :func:`compile_measure`), to skip the jit cache look-up.

    Returns:
      A :class:`Propagation`.
    """
    _checks.check_key(key)
    bounds = check_bounds(bounds)
    units = check_units(units)
    return _measure(
        apply, params, jnp.asarray(x), key, order, roles, bounds, units, compiled
    )


def _measure(
    apply, params, x, key, order, roles, bounds, units, compiled, layout=FLAT
) -> Propagation:
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise _errors.bad_value("params", "a tree with at least one array", params)
    seeds = int(jnp.shape(leaves[0])[0])
    fn, names = stats_fn(apply, bounds, units, layout)
    call = compiled if compiled is not None else fn
    vs, gs = noise(key, seeds, x, _output(apply, params, x))
    # One seed per call: vmapped over seeds, a convolution with per-seed weights
    # becomes a grouped convolution, 5-30x slower on the CPU.
    host = jax.tree.map(np.asarray, params)
    outs = [
        call(jax.tree.map(lambda p, s=s: p[s], host), x, vs[s], gs[s])
        for s in range(seeds)
    ]
    stacked, norms, values = jax.tree.map(lambda *a: np.stack(a), *outs)
    if not names:  # a compiled function traced elsewhere: names via a trace
        one = jax.tree.map(lambda p: p[0], params)
        named_acts = record(lambda p: apply(p, x)[1], one)
        names[:] = [n for n, _ in layer_rows(named_acts, layout.roots())]
    named = dict(named_leaves(params))
    paths = list(order) if order is not None else sorted(named, key=_natural_key)
    roles = dict(roles) if roles is not None else param_roles(params)
    rows = _param_rows(paths, layout)
    axes = {path: axis for path, _, axis, _ in layout.stacks}

    def column(table, src, layer):
        col = np.asarray(table[src])
        return col if layer is None else col[:, layer]

    def shape(src):
        dims = [int(d) for d in jnp.shape(named[src])[1:]]
        if src in axes:
            del dims[axes[src]]
        return tuple(dims)

    mean, std, dead, saturated, gain = (np.asarray(s) for s in stacked)
    grad_norm = np.stack([column(norms, src, i) for _, src, i in rows], axis=1)
    param_rms = np.stack([column(values, src, i) for _, src, i in rows], axis=1)
    return Propagation(
        tuple(names),
        mean,
        std,
        dead,
        saturated,
        gain,
        tuple(n for n, _, _ in rows),
        tuple(roles.get(src, "other") for _, src, _ in rows),
        tuple(shape(src) for _, src, _ in rows),
        grad_norm.reshape(seeds, len(rows)),
        param_rms.reshape(seeds, len(rows)),
        layout.unmeasured,
    )


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _param_rows(paths: Sequence[str], layout: Layout) -> list[tuple[str, str, Any]]:
    """``(name, path, layer)`` per row; a stack's parameters layer by layer."""
    stacks = {p: (root, size) for p, root, _, size in layout.stacks}
    rows, done = [], set()
    for p in paths:
        if p not in stacks:
            rows.append((p, p, None))
            continue
        root, size = stacks[p]
        if root in done:
            continue
        done.add(root)
        members = [q for q in paths if q in stacks and stacks[q][0] == root]
        for i in range(size):
            rows += [(at_layer(q, root, i), q, i) for q in members]
    return rows


def compile_measure(
    apply: Apply,
    params: Any,
    x: jax.Array,
    *,
    bounds: tuple[float, float] | None = None,
    units: str | None = None,
) -> Any:
    """Lowers :func:`measure`'s statistics function for ``params`` (abstract ok).

    Returns a ``jax.stages.Lowered``; ``.compile()`` it (in a thread, to compile
    several models at once) and pass the result as ``measure(compiled=...)``.
    """
    bounds = check_bounds(bounds)
    units = check_units(units)
    fn, _ = stats_fn(apply, bounds, units)
    one = jax.tree.map(lambda p: jax.ShapeDtypeStruct(p.shape[1:], p.dtype), params)
    floating = jnp.issubdtype(x.dtype, jnp.floating)
    v = jax.ShapeDtypeStruct(x.shape, x.dtype) if floating else None
    return fn.lower(one, x, v, _output(apply, params, x))


def propagation(
    apply: Apply,
    init: InitFn,
    x: jax.Array,
    key: jax.Array,
    *,
    seeds: int = 4,
    bounds: tuple[float, float] | None = None,
    units: str | None = None,
) -> Propagation:
    """Measures how a network at initialization propagates signals and gradients.

    For each of ``seeds`` keys split from ``key``: ``params = init(k)`` (under
    ``jax.vmap``), then the activations of ``apply(params, x)``, their response to
    an input perturbation (a ``jax.jvp``) and the parameters' gradient for a
    random output cotangent (a ``jax.vjp``), in one ``jax.jit`` called once per
    seed (not vmapped: a convolution vmapped over per-seed weights becomes a
    grouped convolution, many times slower on a CPU). That function is cached
    per ``apply`` (and
    ``bounds``, ``units``) and takes the parameters as arguments: reuse one
    ``apply`` to compare initializers with one compilation.

    Args:
      apply: ``apply(params, x) -> (output, activations)``, the activations a
        (nested) dict or list of arrays; see :func:`flax_fns` for a Flax module.
      init: ``init(key) -> params``; ``lambda key: params`` for fixed parameters.
      x: an input batch (float, or integer tokens: then no gain is measured).
      key: a PRNG key.
      seeds: how many independent draws (>= 1).
      bounds: the activation's output range for the saturated fraction, e.g.
        ``SATURATION_BOUNDS["tanh"]``; None: no saturation measured.
      units: a regular expression naming the activations that are activation
        function outputs (dead and saturated fractions); None: all of them.

    Returns:
      A :class:`Propagation`; layers in call order, parameters in creation order.

    Example:
      >>> import jax, jinit
      >>> from jinit import diagnostics, models
      >>> model, shape = models.build("mlp", depth=4, width=32)
      >>> x = jax.random.normal(jax.random.key(1), (64, *shape))
      >>> stats = diagnostics.diagnose(model, x, jax.random.key(0), seeds=2)
      >>> stats.std.shape
      (2, 4)
    """
    seeds, bounds, units, x = checked(key, seeds, bounds, units, x)
    if not callable(apply):
        raise _errors.bad_type("apply", "a function apply(params, x)", apply)
    if not callable(init):
        raise _errors.bad_type("init", "a function init(key) -> params", init)
    return run(apply, init, x, key, seeds, bounds, units)


def checked(key: Any, seeds: Any, bounds: Any, units: Any, x: Any):
    """``(seeds, bounds, units, x)`` checked, or a named error."""
    _checks.check_key(key)
    seeds = check_seeds(seeds)
    bounds = check_bounds(bounds)
    units = check_units(units)
    x = jnp.asarray(x)
    if not (
        jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)
    ):
        raise _errors.bad_type("x", "a float or integer input batch", x)
    return seeds, bounds, units, x


def run(apply, init, x, key, seeds, bounds, units, layout=FLAT) -> Propagation:
    """:func:`propagation` of checked arguments, with the model's ``layout``."""
    k_init, _, _ = seed_keys(key, seeds)
    # Jitted: an eager vmap would compile each of init's operations on its own.
    params = jax.jit(jax.vmap(init))(k_init)
    named = record(init, k_init[0])
    order = [n for n, _ in named]
    roles = param_roles(dict(named))
    return _measure(apply, params, x, key, order, roles, bounds, units, None, layout)
