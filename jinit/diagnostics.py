r"""Signal propagation at initialization: statistics, verdicts, mean field, LSUV.

A good initializer keeps the scale of the activations and of the gradients
through depth; a bad one makes them vanish or explode. This module measures it
on a real network, before any training:

* :func:`propagation` (and :func:`diagnose` for a Flax module, :func:`measure`
  for parameters already drawn): per layer, the activation mean, std and root
  mean square, the fraction of dead units (<= 0 on the whole batch: dead ReLUs)
  and of saturated ones (within 1% of a bounded activation's range: tanh,
  sigmoid), the *gain* of a small input perturbation (the root mean square of
  ``J v`` for ``v ~ N(0, I)``, ``J`` the Jacobian from the input to the layer),
  and per parameter the norm of the gradient of ``<g, f(x)>`` for a random
  cotangent ``g ~ N(0, I)``. One ``jax.jit`` per model (the parameters are its
  arguments, so every initializer and seed reuses it), ``seeds`` draws.
* :func:`verdict`: healthy, caution or unhealthy, each by a documented rule
  (:class:`Rules`), comparing like with like (layers of one kind, per-unit and
  per-parameter root mean squares) and, for a plain MLP, with the mean-field
  expectation (:func:`mean_field`).
* :func:`mean_field`, :func:`fixed_points`, :func:`depth_scale`: the mean-field
  recursion of a deep MLP at initialization (Poole et al. 2016; Schoenholz et
  al. 2017): the activations' second moment layer by layer, its fixed points and
  their stability, and the scale a network of a given depth actually keeps.
* :func:`gain_search`: the variance-scaling ``scale`` at which the perturbation
  gain from the input to the last layer is 1, by bisection on ``log(scale)``.
* :func:`lsuv`: layer-sequential unit-variance initialization (Mishkin & Matas
  2016).

Activations are what the model records: for a Flax module, what it ``sow``\ s
into ``"intermediates"`` (the built-in :mod:`jinit.models` sow each layer's
output), else every submodule's output by ``capture_intermediates``. For a plain
function, ``apply(params, x)`` returns ``(output, activations)``, the activations
a (nested) dict or list of arrays whose last axis is the units.

Parameter roles (kernel, bias, embedding, scale, ...) come from the model:
:func:`param_roles` reads a leaf's ``signature.role`` where the leaf carries one
(``jinit.flax`` abstract trees), else the leaf's name (``kernel``, ``bias``,
``embedding``, ``scale``, ...), never its number of dimensions.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _caches, _checks, _errors
from ._fans import compute_fans


def _identity(x):
    return x


#: Activations by name, as ``jinit.models`` and ``jinit report`` spell them.
#: ``"gelu"`` is ``jax.nn.gelu``, whose default is the tanh approximation;
#: ``"gelu_erf"`` is the exact (erf) GELU.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "leaky_relu": jax.nn.leaky_relu,
    "gelu": jax.nn.gelu,
    "gelu_erf": functools.partial(jax.nn.gelu, approximate=False),
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "selu": jax.nn.selu,
    "silu": jax.nn.silu,
    "linear": _identity,
}

#: Output ranges of the bounded activations, for the saturated fraction.
SATURATION_BOUNDS: dict[str, tuple[float, float]] = {
    "tanh": (-1.0, 1.0),
    "sigmoid": (0.0, 1.0),
}

Apply = Callable[[Any, jax.Array], tuple[jax.Array, Any]]
InitFn = Callable[[jax.Array], Any]


def get_activation(name: Any) -> Callable[..., Any]:
    """The activation called ``name`` (one of :data:`ACTIVATIONS`), or a callable."""
    if callable(name):
        return name
    if name not in ACTIVATIONS:
        raise _errors.bad_choice("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]


# ----------------------------------------------------------------------------
# Trees in insertion (call) order, and parameter roles.


def _named_leaves(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(path, leaf)`` pairs in insertion order (``jax.tree`` sorts dict keys).

    A ``sow``\\ n tuple gives its last value; Flax's ``__call__`` key is dropped
    from the path, so a captured submodule output is named after the submodule.
    """
    if isinstance(tree, Mapping):
        out = []
        for k, v in tree.items():
            name = prefix if k == "__call__" else f"{prefix}/{k}" if prefix else str(k)
            out += _named_leaves(v, name)
        return out
    if isinstance(tree, tuple) and tree and not hasattr(tree, "_fields"):
        return _named_leaves(tree[-1], prefix)
    if isinstance(tree, list | tuple):
        out = []
        for i, v in enumerate(tree):
            out += _named_leaves(v, f"{prefix}/{i}" if prefix else str(i))
        return out
    return [(prefix, tree)]


def _last_activation(out: tuple[jax.Array, Any]) -> tuple[jax.Array, Any]:
    y, acts = out
    named = _named_leaves(acts)
    return y, named[-1][1] if named else None


#: Roles by parameter name (Flax, Haiku, Equinox spellings), for leaves that
#: carry no ``signature``. Any other name has the role ``"other"``.
NAME_ROLES: dict[str, str] = {
    "kernel": "kernel",
    "w": "kernel",
    "recurrent_kernel": "recurrent_kernel",
    "bias": "bias",
    "b": "bias",
    "offset": "bias",
    "embedding": "embedding",
    "embeddings": "embedding",
    "scale": "scale",
}


def param_roles(tree: Any) -> dict[str, str]:
    """The role of every parameter: ``{path: role}``, in the tree's order.

    A leaf's role is ``leaf.signature.role`` where the leaf has a ``signature``
    (the abstract leaves of ``jinit.flax``); otherwise it comes from the leaf's
    name, the last part of its path, by :data:`NAME_ROLES` (``kernel``,
    ``bias``, ``embedding``, ``scale``, ``recurrent_kernel``; ``"other"`` for
    any other name). It never comes from the number of dimensions: a 2-D bias
    of an attention head is a bias, a 1-D kernel a kernel.

    Args:
      tree: a (nested) dict or list of arrays, ``ShapeDtypeStruct``\\ s or
        abstract leaves; paths joined by ``/`` as in :class:`Propagation`.

    Returns:
      A dict from path to role.

    Example:
      >>> from jinit import diagnostics
      >>> diagnostics.param_roles({"dense": {"kernel": 0, "bias": 0}})
      {'dense/kernel': 'kernel', 'dense/bias': 'bias'}
    """
    roles = {}
    for path, leaf in _named_leaves(tree):
        role = getattr(getattr(leaf, "signature", None), "role", None)
        if role is None:
            role = NAME_ROLES.get(path.rsplit("/", 1)[-1], "other")
        roles[path] = str(role)
    return roles


def _kind(name: str) -> str:
    """The name with its layer indices removed: ``dense_12/kernel`` -> ``dense_#/kernel``.

    Layers of one kind are compared with each other (like with like).
    """
    return re.sub(r"\d+", "#", name)


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


# ----------------------------------------------------------------------------
# Statistics.


@dataclasses.dataclass(frozen=True)
class Propagation:
    """Per-layer and per-parameter statistics, one row per seed.

    Attributes:
      layers: the recorded activations' names, in call order.
      mean, std: activation mean and std over batch and units, ``(seeds, layers)``.
      dead: fraction of units that are <= 0 for every example of the batch;
        NaN for layers that are not activation outputs (see ``units`` in
        :func:`measure`).
      saturated: fraction of values within 1% of the activation's range of its
        bounds; NaN where not measured (no bounds, or not activation outputs).
      gain: root mean square of the layer's response ``J v`` to an input
        perturbation ``v ~ N(0, I)`` (1: a perturbation keeps its size); NaN for
        an integer input (tokens).
      params: the parameters' names, in creation order.
      roles: each parameter's role (:func:`param_roles`).
      shapes: each parameter's shape (without the seed axis).
      grad_norm: the gradient's L2 norm per parameter, ``(seeds, params)``.
      param_rms: the root mean square of each parameter's values.
    """

    layers: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    dead: np.ndarray
    saturated: np.ndarray
    gain: np.ndarray
    params: tuple[str, ...]
    roles: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    grad_norm: np.ndarray
    param_rms: np.ndarray

    @property
    def rms(self) -> np.ndarray:
        """Activation root mean square ``sqrt(mean^2 + std^2)``, ``(seeds, layers)``."""
        return np.sqrt(self.mean.astype(np.float64) ** 2 + self.std**2)

    @property
    def kernels(self) -> tuple[bool, ...]:
        """Whether each parameter is a kernel (role ``"kernel"``)."""
        return tuple(r == "kernel" for r in self.roles)

    @property
    def grad_rms(self) -> np.ndarray:
        """Per-parameter gradient root mean square: the norm over ``sqrt(size)``."""
        sizes = np.array([max(1, math.prod(s)) for s in self.shapes], np.float64)
        return self.grad_norm / np.sqrt(sizes)

    def kernel_grad_norm(self) -> np.ndarray:
        """Gradient norms of the kernels only, ``(seeds, kernels)``, in order."""
        return self.grad_norm[:, np.asarray(self.kernels, bool)]

    def kernel_grad_rms(self) -> np.ndarray:
        """Per-parameter gradient RMS of the kernels only, ``(seeds, kernels)``."""
        return self.grad_rms[:, np.asarray(self.kernels, bool)]

    def weight_var(self) -> np.ndarray:
        """``fan_in * E[W^2]`` of each kernel (the mean-field ``sigma_w^2``).

        Averaged over the seeds, kernels in order; the fan is jinit's fan rule
        (:func:`jinit.compute_fans`) on the kernel's shape.
        """
        idx = [i for i, k in enumerate(self.kernels) if k]
        fans = np.array([compute_fans(self.shapes[i])[0] for i in idx])
        ms = np.mean(self.param_rms[:, idx].astype(np.float64) ** 2, axis=0)
        return fans * ms

    def verdict(
        self, rules: Rules | None = None, expected: MeanField | None = None
    ) -> Verdict:
        """:func:`verdict` of these statistics."""
        return verdict(self, rules, expected)

    def problems(self, rules: Rules | None = None) -> list[str]:
        """The reasons the verdict is unhealthy, in words (empty: not unhealthy)."""
        v = self.verdict(rules)
        return list(v.reasons) if v.status == "unhealthy" else []


def _geomean(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(np.mean(np.log(np.abs(np.asarray(x, np.float64))), axis=0))


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


def _check_seeds(seeds: Any) -> int:
    if isinstance(seeds, bool) or not isinstance(seeds, int | np.integer) or seeds < 1:
        raise _errors.bad_value("seeds", "a positive int", seeds)
    return int(seeds)


def _check_bounds(bounds: Any) -> tuple[float, float] | None:
    if bounds is None:
        return None
    if not isinstance(bounds, Sequence) or len(bounds) != 2:
        raise _errors.bad_type("bounds", "None or a pair (low, high)", bounds)
    lo = _checks.real_number("bounds", bounds[0])
    hi = _checks.real_number("bounds", bounds[1])
    if lo >= hi:
        raise _errors.bad_value("bounds", "a pair (low, high) with low < high", bounds)
    return lo, hi


def _check_units(units: Any) -> str | None:
    if units is None:
        return None
    if not isinstance(units, str):
        raise _errors.bad_type("units", "None or a regular expression (str)", units)
    try:
        re.compile(units)
    except re.error:
        raise _errors.bad_value("units", "a valid regular expression", units) from None
    return units


def _record(fn, *args) -> list[tuple[str, Any]]:
    """Traces ``fn(*args)`` abstractly and returns its output's leaves by name.

    The names are read inside the trace, where dicts keep their insertion (call
    or creation) order; ``jax.tree`` would sort them (``layer_10`` before
    ``layer_2``).
    """
    box: list[tuple[str, Any]] = []

    def traced(*a):
        box.extend(_named_leaves(fn(*a)))

    jax.eval_shape(traced, *args)
    return box


@_caches.registered
@functools.lru_cache(maxsize=64)
def _stats_fn(apply: Apply, bounds: tuple[float, float] | None, units: str | None):
    """One jitted statistics function of one seed's draw per ``apply`` (cached).

    Returns ``(fn, names)``: ``fn(params, x, v, g)`` takes the input
    perturbation ``v`` (None for integer inputs) and the output cotangent ``g``
    (:func:`_noise`); ``names`` is filled with the activations' names in call
    order when ``fn`` is traced. The parameters are arguments: every
    initializer's draw reuses one compilation.
    """
    names: list[str] = []

    def flat(params, x):
        # A list keeps the call order through jax.vjp/jvp (a dict comes back
        # with sorted keys: layer_10 before layer_2).
        y, acts = apply(params, x)
        named = _named_leaves(acts)
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
        leaves = _named_leaves(grads)
        norms = {
            n: jnp.sqrt(jnp.sum(jnp.square(g.astype(jnp.float32)))) for n, g in leaves
        }
        values = {
            n: jnp.sqrt(jnp.mean(jnp.square(p.astype(jnp.float32))))
            for n, p in _named_leaves(params)
        }
        return stacked, norms, values

    return jax.jit(one), names


def _keys(key: jax.Array, seeds: int):
    """``(k_init, k_tan, k_cot)``, each ``seeds`` keys split from ``key``."""
    return tuple(jax.random.split(k, seeds) for k in jax.random.split(key, 3))


@_caches.registered
@functools.lru_cache(maxsize=64)
def _noise_fn(x: jax.ShapeDtypeStruct, y: jax.ShapeDtypeStruct, seeds: int):
    """The jitted :func:`_noise` draw for these shapes (one compilation for every
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


def _noise(key: jax.Array, seeds: int, x: Any, y: Any):
    """Per seed, the input perturbation ``v ~ N(0, I)`` and output cotangent ``g``.

    ``v`` (None for an integer input: no gain) and ``g`` are drawn from the
    second and third of :func:`_keys`, as ``jax.random.normal(k, shape)``.
    """
    _, k_tan, k_cot = _keys(key, seeds)
    spec = (
        jax.ShapeDtypeStruct(x.shape, x.dtype),
        jax.ShapeDtypeStruct(y.shape, y.dtype),
    )
    return _noise_fn(*spec, seeds)(k_tan, k_cot)


def _output(apply: Apply, params: Any, x: jax.Array) -> jax.ShapeDtypeStruct:
    """The shape and dtype of ``apply``'s output for one seed's ``params``."""
    leaves, tree = jax.tree.flatten(params)
    specs = tuple((tuple(p.shape[1:]), np.dtype(p.dtype)) for p in leaves)
    return _output_spec(apply, tree, specs, (tuple(x.shape), np.dtype(x.dtype)))


@_caches.registered
@functools.lru_cache(maxsize=64)
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
    bounds = _check_bounds(bounds)
    units = _check_units(units)
    x = jnp.asarray(x)
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise _errors.bad_value("params", "a tree with at least one array", params)
    seeds = int(jnp.shape(leaves[0])[0])
    fn, names = _stats_fn(apply, bounds, units)
    run = compiled if compiled is not None else fn
    vs, gs = _noise(key, seeds, x, _output(apply, params, x))
    # One seed per call: vmapped over seeds, a convolution with per-seed weights
    # becomes a grouped convolution, 5-30x slower on the CPU.
    host = jax.tree.map(np.asarray, params)
    outs = [
        run(jax.tree.map(lambda p, s=s: p[s], host), x, vs[s], gs[s])
        for s in range(seeds)
    ]
    stacked, norms, values = jax.tree.map(lambda *a: np.stack(a), *outs)
    if not names:  # a compiled function traced elsewhere: names via a trace
        one = jax.tree.map(lambda p: p[0], params)
        names[:] = [n for n, _ in _record(lambda p: apply(p, x)[1], one)]
    named = dict(_named_leaves(params))
    paths = list(order) if order is not None else sorted(named, key=_natural_key)
    roles = dict(roles) if roles is not None else param_roles(params)
    mean, std, dead, saturated, gain = (np.asarray(s) for s in stacked)
    grad_norm = np.stack([np.asarray(norms[n]) for n in paths], axis=1)
    param_rms = np.stack([np.asarray(values[n]) for n in paths], axis=1)
    return Propagation(
        tuple(names),
        mean,
        std,
        dead,
        saturated,
        gain,
        tuple(paths),
        tuple(roles.get(n, "other") for n in paths),
        tuple(tuple(int(d) for d in jnp.shape(named[n])[1:]) for n in paths),
        grad_norm.reshape(seeds, len(paths)),
        param_rms.reshape(seeds, len(paths)),
    )


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
    bounds = _check_bounds(bounds)
    units = _check_units(units)
    fn, _ = _stats_fn(apply, bounds, units)
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
    _checks.check_key(key)
    seeds = _check_seeds(seeds)
    bounds = _check_bounds(bounds)
    units = _check_units(units)
    if not callable(apply):
        raise _errors.bad_type("apply", "a function apply(params, x)", apply)
    if not callable(init):
        raise _errors.bad_type("init", "a function init(key) -> params", init)
    x = jnp.asarray(x)
    if not (
        jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)
    ):
        raise _errors.bad_type("x", "a float or integer input batch", x)
    k_init, _, _ = _keys(key, seeds)
    params = jax.vmap(init)(k_init)
    named = _record(init, k_init[0])
    return measure(
        apply,
        params,
        x,
        key,
        order=[n for n, _ in named],
        roles=param_roles(dict(named)),
        bounds=bounds,
        units=units,
    )


# ----------------------------------------------------------------------------
# Verdicts.


@dataclasses.dataclass(frozen=True)
class Rules:
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
            groups.setdefault(_kind(n), []).append(i)
    return {g: idx for g, idx in groups.items() if len(idx) >= 2}


def _change(
    what: str,
    ratio: float,
    span: str,
    steps: int,
    rules: Rules,
    words: tuple[str, str],
    expected: float | None,
    suffix: str = "",
) -> tuple[str, str] | None:
    """``(status, reason)`` for a change by ``ratio`` over ``steps`` layers."""
    log = abs(math.log(ratio))
    if log <= math.log(rules.drift):
        return None
    per = ratio ** (1 / max(1, steps))
    mf = ""
    if expected is not None and math.isfinite(expected) and expected > 0:
        agree = abs(math.log(ratio / expected)) <= math.log(rules.drift)
        mf = f"; mean field: x{_fmt(expected)}" + (", as expected" if agree else "")
    if log > math.log(rules.growth):
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
    rules: Rules,
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
    return _change(label, ratio, span, len(idx) - 1, rules, words, mf, suffix)


def verdict(
    stats: Propagation, rules: Rules | None = None, expected: MeanField | None = None
) -> Verdict:
    """Healthy, caution or unhealthy, by rules that can each be checked by hand.

    Seeds are combined by the geometric mean (fractions by the mean). Layers of
    one kind are compared with each other: names with their layer indices
    removed (``layer_3`` and ``layer_49``, ``block_0_mlp_in/kernel`` and
    ``block_5_mlp_in/kernel``). The rules, in order:

    1. A NaN or Inf activation or gradient: unhealthy.
    2. Activations: for each kind with >= 2 layers, ``r = rms_last / rms_first``
       (per-unit root mean square). An activation that reaches 0 is unhealthy;
       ``r`` beyond ``rules.growth`` either way is unhealthy (vanish/explode),
       beyond ``rules.drift`` a caution (shrink/grow slowly).
    3. Gradients: for each kind of kernel with >= 2 layers, ``r = g_first /
       g_last`` with ``g`` the gradient's per-parameter root mean square (the
       norm over ``sqrt(size)``: a first kernel with 3 input channels is not
       "small" for having fewer entries); the same thresholds, backward.
    4. Dead units: more than ``rules.dead`` of a layer's units dead (measured on
       the activation functions' outputs): unhealthy.
    5. Saturation: more than ``rules.saturated`` of a layer's values saturated:
       unhealthy.

    With ``expected`` (the mean field of a plain MLP, :func:`mean_field`), each
    change is also compared with what the mean field predicts for the
    weights' variance: tanh at scale 1 (the ordered phase) shrinks slowly,
    ReLU at scale 1 halves each layer's variance, and the reasons say so.

    Args:
      stats: a :class:`Propagation`.
      rules: the thresholds (default :class:`Rules`).
      expected: a :class:`MeanField` with one entry per recorded layer, or None.

    Returns:
      A :class:`Verdict`.
    """
    rules = Rules() if rules is None else rules
    rms = _geomean(stats.rms)
    grads = _geomean(stats.grad_rms)
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
            rules,
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
            rules,
            expected.grad_rms
            if expected is not None and len(expected.grad_rms) == n_kernels
            else None,
            np.cumsum(kernels) - 1,  # a parameter's index among the kernels
        )
    )
    for what, values, limit in (
        ("dead", stats.dead, rules.dead),
        ("saturated", stats.saturated, rules.saturated),
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
    found = [f for f in found if f is not None]
    if not found:
        return Verdict("healthy")
    status = "unhealthy" if any(s == "unhealthy" for s, _ in found) else "caution"
    return Verdict(status, tuple(r for _, r in found))


# ----------------------------------------------------------------------------
# Mean field.

_Z_STEP = 1e-3
# Midpoint rule in z ~ N(0, 1) on [-10, 10], 0 on a cell boundary (the kink of
# ReLU-like activations): error O(1e-6) for a smooth integrand.
_Z = (np.arange(20_000) - 10_000 + 0.5) * _Z_STEP
_W = np.exp(-0.5 * _Z**2) / math.sqrt(2 * math.pi) * _Z_STEP


@_caches.registered
@functools.lru_cache(maxsize=32)
def _moments_fn(activation: Any):
    f = get_activation(activation)
    df = jax.vmap(jax.grad(lambda h: f(h)))
    z = jnp.asarray(_Z, jnp.float32)
    w = jnp.asarray(_W, jnp.float32)

    @jax.jit
    def moments(q):
        h = jnp.sqrt(q)[:, None] * z
        fh = f(h)
        dh = df(h.ravel()).reshape(h.shape)
        return fh**2 @ w, dh**2 @ w

    return moments


def _moments(activation: Any, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(E[f(sqrt(q) z)^2], E[f'(sqrt(q) z)^2])`` for each ``q``, z ~ N(0, 1)."""
    m, d = _moments_fn(activation)(jnp.asarray(np.atleast_1d(q), jnp.float32))
    return np.asarray(m, np.float64), np.asarray(d, np.float64)


@dataclasses.dataclass(frozen=True)
class MeanField:
    """The mean-field prediction for a deep MLP, per layer.

    Attributes:
      q: the pre-activations' second moment ``q_l``.
      rms: the activations' root mean square ``sqrt(E[f(h_l)^2])``.
      chi: the backward factor ``sigma_w^2(l+1) E[f'(h_l)^2]`` by which the
        gradients' mean square grows from layer ``l + 1`` to ``l`` (the last
        layer's is its own ``E[f'^2]``).
      grad_rms: each kernel's per-parameter gradient root mean square, relative
        (the last kernel's is ``sqrt(E[a_{L-2}^2] E[f'(h_{L-1})^2])``).
    """

    q: np.ndarray
    rms: np.ndarray
    chi: np.ndarray
    grad_rms: np.ndarray


def mean_field(
    activation: Any,
    weight_var: float | Sequence[float] | np.ndarray,
    depth: int,
    *,
    input_var: float = 1.0,
    bias_var: float = 0.0,
) -> MeanField:
    r"""The mean-field recursion of an MLP ``h_l = W_l f(h_{l-1}) + b_l``.

    With ``Var(W_l) = sigma_w^2 / fan_in`` (``weight_var = sigma_w^2``, one per
    layer or one for all), ``Var(b_l) = bias_var`` and an input of second moment
    ``input_var``, at infinite width (Poole et al. 2016; Schoenholz et al.
    2017)::

        q_0     = sigma_w^2 input_var + bias_var
        q_l     = sigma_w^2 E[f(sqrt(q_{l-1}) z)^2] + bias_var,   z ~ N(0, 1)
        delta_l = sigma_w^2(l+1) E[f'(sqrt(q_l) z)^2] delta_{l+1}  (backward)

    and a kernel's gradient has mean square ``E[a_{l-1}^2] delta_l`` (the
    gradient-independence assumption; square layers). Expectations by the
    midpoint rule in float32 (about 6 digits).

    Args:
      activation: a name in :data:`ACTIVATIONS` or a function.
      weight_var: ``sigma_w^2`` = the variance-scaling ``scale`` for fan-in
        initializers on square layers.
      depth: number of layers, >= 1.
      input_var: the input's second moment.
      bias_var: the biases' variance.

    Returns:
      A :class:`MeanField` with ``depth`` entries in each field.

    Example:
      >>> from jinit import diagnostics
      >>> mf = diagnostics.mean_field("relu", 2.0, 50)  # He: q stays 2
      >>> round(float(mf.q[-1]), 4)
      2.0
    """
    depth = _checks.integer("depth", depth, minimum=1)
    w = np.broadcast_to(np.asarray(weight_var, np.float64), (depth,))
    m = float(input_var)
    q, ms, ds = [], [m], []
    for layer in range(depth):
        q.append(w[layer] * m + bias_var)
        if not 0 < q[-1] < 1e30:  # beyond float32: it has vanished or exploded
            m, d = (math.inf, math.nan) if q[-1] >= 1e30 else (0.0, math.nan)
        else:
            m_l, d_l = _moments(activation, np.array([q[-1]]))
            m, d = float(m_l[0]), float(d_l[0])
        ms.append(m)
        ds.append(d)
    delta = np.empty(depth)
    chi = np.empty(depth)
    delta[-1] = chi[-1] = ds[-1]
    for layer in range(depth - 2, -1, -1):
        chi[layer] = w[layer + 1] * ds[layer]
        delta[layer] = chi[layer] * delta[layer + 1]
    grad = np.sqrt(np.asarray(ms[:-1]) * delta)
    return MeanField(np.asarray(q), np.sqrt(ms[1:]), chi, grad)


@dataclasses.dataclass(frozen=True)
class FixedPoint:
    """A fixed point ``q* = V(q*)`` of the forward map ``V(q) = s E[f(sqrt(q) z)^2] + b``.

    Attributes:
      q: the second moment ``q*``.
      slope: ``V'(q*)``; the fixed point attracts nearby ``q`` when ``|slope| < 1``.
      stable: ``|slope| < 1``.
      chi: ``s E[f'(sqrt(q*) z)^2]``, the gradients' growth per layer there
        (< 1 ordered: they vanish; > 1 chaotic: they explode).
    """

    q: float
    slope: float
    stable: bool
    chi: float


def fixed_points(
    activation: Any,
    scale: float,
    *,
    bias_var: float = 0.0,
    q_max: float = 1e4,
) -> tuple[FixedPoint, ...]:
    r"""The fixed points of the mean-field forward map in ``[0, q_max]``.

    ``V(q) = scale E[f(sqrt(q) z)^2] + bias_var``: found by sign changes of
    ``V(q) - q`` on a log grid from 1e-6 to ``q_max``, refined by bisection,
    plus ``q = 0`` when ``V(0) = 0``. ``slope`` is ``V'(q*)`` by a central
    difference. For ``"gelu"`` at the forward scale ``1 / E[gelu(z)^2]`` (2.35),
    ``q = 1`` is a fixed point by construction, but unstable (slope > 1): a
    50-layer network moves away from it (see :func:`depth_scale`). An
    activation that is positively homogeneous at its critical scale (ReLU at 2,
    linear at 1) has every ``q`` as a (marginal) fixed point: the result is
    empty.

    Returns:
      The fixed points, by increasing ``q``.
    """
    scale = _checks.real_number("scale", scale, positive=True)

    def v(q):
        return scale * _moments(activation, q)[0] + bias_var

    grid = np.geomspace(1e-6, q_max, 400)
    g = v(grid) - grid
    if np.all(np.abs(g) <= 1e-4 * grid):
        return ()
    roots = []
    if bias_var == 0 and abs(float(v(np.array([0.0]))[0])) < 1e-12:
        roots.append(0.0)
    for i in np.nonzero(np.sign(g[:-1]) * np.sign(g[1:]) < 0)[0]:
        a, b = grid[i], grid[i + 1]
        ga = g[i]
        for _ in range(60):
            m = math.sqrt(a * b)
            gm = float(v(np.array([m]))[0] - m)
            if np.sign(gm) == np.sign(ga):
                a, ga = m, gm
            else:
                b = m
        roots.append(math.sqrt(a * b))
    out = []
    for q in roots:
        eps = 1e-4 * max(q, 1e-6)
        lo, hi = max(q - eps, 0.0), q + eps
        slope = float((v(np.array([hi])) - v(np.array([lo])))[0] / (hi - lo))
        chi = scale * float(_moments(activation, np.array([q]))[1][0])
        out.append(FixedPoint(float(q), slope, abs(slope) < 1, chi))
    return tuple(out)


def _log_bisect(f: Callable[[float], float], a: float, b: float, rtol: float) -> float:
    """``exp`` of the root of increasing ``f`` in the log bracket ``a < b``, to ``rtol``."""
    while b - a > math.log1p(rtol):
        m = 0.5 * (a + b)
        if f(m) < 0:
            a = m
        else:
            b = m
    return math.exp(0.5 * (a + b))


def depth_scale(
    activation: Any,
    depth: int = 50,
    *,
    input_var: float = 1.0,
    lo: float = 0.5,
    hi: float = 8.0,
    rtol: float = 1e-6,
) -> float:
    r"""The ``scale`` at which a ``depth``-layer MLP keeps its activations' size.

    The scale ``s`` (``Var(W) = s / fan_in``) for which the mean field
    (:func:`mean_field`) gives the last layer's activations the root mean square
    of the first layer's, by bisection on ``log(s)``. It differs from the forward
    scale ``1 / E[f(z)^2]`` where that fixed point is unstable: for ``"gelu"``
    the network at 2.35 drifts away from unit variance and grows, at He's 2 it
    shrinks; this is the scale in between that keeps it for ``depth`` layers.
    ReLU gives 2 and linear 1 at every depth.

    Raises:
      ValueError: the ratio does not cross 1 in ``[lo, hi]`` (tanh: its
        activations shrink at every scale, towards the stable fixed point).
    """
    depth = _checks.integer("depth", depth, minimum=2)

    def log_ratio(log_s):
        rms = mean_field(activation, math.exp(log_s), depth, input_var=input_var).rms
        with np.errstate(divide="ignore", over="ignore"):
            return float(np.log(rms[-1] / rms[0]))  # -inf where it underflows

    a, b = math.log(lo), math.log(hi)
    fa, fb = log_ratio(a), log_ratio(b)
    if not (fa < 0 < fb):
        raise _errors.bad_value(
            "lo/hi",
            "a bracket where the last layer's activations go from smaller to "
            f"larger than the first's (ratio {math.exp(fa):.3g} at lo, "
            f"{math.exp(fb):.3g} at hi)",
            (lo, hi),
        )
    return _log_bisect(log_ratio, a, b, rtol)


# ----------------------------------------------------------------------------
# Flax.


def flax_fns(module: Any, x: Any) -> tuple[InitFn, Apply]:
    """``(init, apply)`` for a Flax linen module, for :func:`propagation`.

    ``init(key)`` is ``module.init(key, x)["params"]``. ``apply(params, x)``
    returns the module's output and the values it sows into ``"intermediates"``;
    if it sows none, every submodule's output (``capture_intermediates=True``),
    the module's own output left out. Only the ``"params"`` collection is used.
    """
    if not (hasattr(module, "init") and hasattr(module, "apply")):
        raise _errors.bad_type("module", "a Flax linen Module", module)

    def init(key):
        return module.init(key, x)["params"]

    def apply(params, x_):
        y, state = module.apply({"params": params}, x_, mutable=["intermediates"])
        acts = state.get("intermediates", {})
        if not acts:
            y, state = module.apply(
                {"params": params},
                x_,
                mutable=["intermediates"],
                capture_intermediates=True,
            )
            acts = {k: v for k, v in state["intermediates"].items() if k != "__call__"}
        return y, acts

    return init, apply


@_caches.registered
@functools.lru_cache(maxsize=64)
def _flax_apply(module: Any) -> Apply:
    """One ``apply`` per (hashable) module, so that its compilation is reused."""
    return flax_fns(module, None)[1]


def diagnose(
    module: Any,
    x: jax.Array,
    key: jax.Array,
    *,
    seeds: int = 4,
    bounds: tuple[float, float] | None = None,
    units: str | None = None,
) -> Propagation:
    """:func:`propagation` of a Flax linen module on the input batch ``x``.

    ``units`` defaults to the module's ``units`` attribute where it has one
    (the built-in :mod:`jinit.models` name their activation outputs).
    """
    x = jnp.asarray(x)
    init, apply = flax_fns(module, x)
    try:
        apply = _flax_apply(module)
    except TypeError:  # an unhashable module: its own apply, compiled per call
        pass
    if units is None:
        units = getattr(module, "units", None)
    return propagation(apply, init, x, key, seeds=seeds, bounds=bounds, units=units)


# ----------------------------------------------------------------------------
# Gain search.


def gain_search(
    apply: Apply,
    init: InitFn,
    x: jax.Array,
    key: jax.Array,
    *,
    seeds: int = 4,
    lo: float = 1 / 16,
    hi: float = 16.0,
    rtol: float = 1e-4,
) -> float:
    r"""The variance-scaling ``scale`` that makes the input-to-output gain 1.

    ``init`` must draw the kernels with ``scale = 1`` (e.g. ``lecun_normal()``,
    or ``variance_scaling(1.0, mode, distribution)``): a kernel drawn with scale
    ``s`` is the same draw times ``sqrt(s)``, so every kernel (every parameter
    whose role is ``"kernel"``, :func:`param_roles`) is multiplied by ``sqrt(s)`` and one compiled function serves
    every candidate. The gain is the root mean square of ``J v`` at the last
    recorded activation, ``v ~ N(0, I)`` and ``J`` the Jacobian from the input;
    its logarithm, averaged over the seeds, is bisected on ``log(s)`` in
    ``[lo, hi]`` until ``hi / lo < 1 + rtol``.

    For ``h_{l+1} = W_{l+1} phi(h_l)`` the gain is multiplied per layer by
    ``chi_l = s E[phi'(h_l)^2]`` (mean field): ReLU gives ``s / 2``, hence
    ``s = 2`` (He et al. 2015) at every depth; a linear network ``s = 1``; tanh
    slightly more than 1, where the shrinking ``E[tanh'(h)^2]`` of the layers'
    fixed point balances ``s > 1``.

    Args:
      apply, init, x, key, seeds: as for :func:`propagation`.
      lo, hi: the bracket, ``0 < lo < hi``.
      rtol: the bracket's relative width at which to stop.

    Returns:
      The scale, a Python float.

    Raises:
      ValueError: the gain does not cross 1 in ``[lo, hi]``.

    References:
      Poole et al. (2016), Exponential expressivity in deep neural networks
      through transient chaos; Schoenholz et al. (2017), Deep Information
      Propagation.
    """
    _checks.check_key(key)
    seeds = _check_seeds(seeds)
    lo = _checks.real_number("lo", lo, positive=True)
    hi = _checks.real_number("hi", hi, positive=True)
    rtol = _checks.real_number("rtol", rtol, positive=True)
    if lo >= hi:
        raise _errors.bad_value("lo", f"less than `hi` ({hi})", lo)
    x = jnp.asarray(x)

    k_init, k_tan = (jax.random.split(k, seeds) for k in jax.random.split(key))
    params = jax.vmap(init)(k_init)
    kernel = set(
        n
        for n, r in param_roles(dict(_record(init, k_init[0]))).items()
        if r == "kernel"
    )
    if not _record(lambda p: apply(p, x)[1], jax.tree.map(lambda p: p[0], params)):
        raise _errors.bad_value(
            "apply", "a function whose activations are not empty", apply
        )

    def one(params, k, log_s):
        root = jnp.exp(0.5 * log_s).astype(x.dtype)
        params = _map_named(
            lambda n, p: p * root.astype(p.dtype) if n in kernel else p, params
        )
        v = jax.random.normal(k, x.shape, x.dtype)
        _, (_, t) = jax.jvp(lambda x_: _last_activation(apply(params, x_)), (x,), (v,))
        t, v = t.astype(jnp.float32), v.astype(jnp.float32)
        return 0.5 * (jnp.log(jnp.mean(t * t)) - jnp.log(jnp.mean(v * v)))

    batched = jax.jit(jax.vmap(one, in_axes=(0, 0, None)))

    def log_gain(log_s: float) -> float:
        return float(np.mean(batched(params, k_tan, np.float32(log_s))))

    a, b = math.log(lo), math.log(hi)
    fa, fb = log_gain(a), log_gain(b)
    if not (fa < 0 < fb):
        raise _errors.bad_value(
            "lo/hi",
            "a bracket where the gain crosses 1 (at lo it is "
            f"{math.exp(fa):.3g}, at hi {math.exp(fb):.3g})",
            (lo, hi),
        )
    return _log_bisect(log_gain, a, b, rtol)


# ----------------------------------------------------------------------------
# LSUV.


def _layer_order(module: Any, params: Any, x: jax.Array) -> list[tuple[str, ...]]:
    """Paths of the submodules that own a ``kernel``, in call order."""

    def run(p):
        _, state = module.apply(
            {"params": p}, x, mutable=["intermediates"], capture_intermediates=True
        )
        order.extend(name for name, _ in _named_leaves(state["intermediates"]))
        return None

    order: list[str] = []
    jax.eval_shape(run, params)
    owners = {
        tuple(name.split("/")[:-1])
        for name, role in param_roles(params).items()
        if role == "kernel"
    }
    seen = []
    for name in order:
        path = tuple(name.split("/")) if name else ()
        if path in owners and path not in seen:
            seen.append(path)
    return seen


def _map_named(fn, tree, prefix=""):
    """``tree`` with each leaf replaced by ``fn(path, leaf)`` (dicts and lists)."""
    if isinstance(tree, Mapping):
        return {
            k: _map_named(fn, v, f"{prefix}/{k}" if prefix else str(k))
            for k, v in tree.items()
        }
    if isinstance(tree, list | tuple):
        return type(tree)(
            _map_named(fn, v, f"{prefix}/{i}" if prefix else str(i))
            for i, v in enumerate(tree)
        )
    return fn(prefix, tree)


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def _replace(tree, path, value):
    if not path:
        return value
    new = dict(tree)
    new[path[0]] = _replace(tree[path[0]], path[1:], value)
    return new


def lsuv(
    module: Any,
    x: jax.Array,
    key: jax.Array,
    *,
    init: Any = None,
    tol: float = 0.02,
    max_iters: int = 10,
) -> Any:
    """Layer-sequential unit-variance initialization of a Flax module's params.

    Mishkin & Matas (2016): every kernel (role ``"kernel"``, :func:`param_roles`)
    is drawn by ``init`` (default ``jinit.orthogonal()``); then for each layer
    owning a kernel, in call order, the layer's output variance ``v`` on the batch
    ``x`` is measured and the kernel divided by ``sqrt(v)``, until
    ``|v - 1| <= tol`` or ``max_iters`` rescalings. Later layers do not change
    earlier outputs in a feed-forward network, so at the end every layer's output
    variance is within ``tol`` of 1 (residual and attention layers included, as
    each is fixed in the order it is called). Biases are left as the module
    initialized them (zeros, usually). The forward pass is compiled once.

    Args:
      module: a Flax linen module (``"params"`` only).
      x: the data batch.
      key: a PRNG key.
      init: the kernels' initializer before rescaling (``jinit.orthogonal()``).
      tol: the tolerance on each output variance, > 0.
      max_iters: the most rescalings per layer, >= 1.

    Returns:
      The ``params`` tree.

    Raises:
      ValueError: a layer whose output variance is 0 or not finite.

    References:
      Mishkin & Matas (2016), All you need is a good init.
    """
    from ._structured import orthogonal

    _checks.check_key(key)
    tol = _checks.real_number("tol", tol, positive=True)
    if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
        raise _errors.bad_value("max_iters", "a positive int", max_iters)
    init = orthogonal() if init is None else init
    x = jnp.asarray(x)
    k_module, k_kernels = jax.random.split(key)
    params = module.init(k_module, x)["params"]
    named = _named_leaves(params)
    roles = param_roles(params)
    keys = jax.random.split(k_kernels, max(1, len(named)))
    for (name, leaf), k in zip(named, keys, strict=False):
        if roles[name] == "kernel":
            path = tuple(name.split("/"))
            params = _replace(params, path, init(k, leaf.shape, leaf.dtype))
    layers = _layer_order(module, params, x)

    @jax.jit
    def variances(p):
        _, state = module.apply(
            {"params": p}, x, mutable=["intermediates"], capture_intermediates=True
        )
        out = state["intermediates"]
        return [jnp.var(_get(out, path)["__call__"][-1]) for path in layers]

    for i, path in enumerate(layers):
        for _ in range(max_iters):
            v = float(variances(params)[i])
            if not (math.isfinite(v) and v > 0):
                raise _errors.bad_value(
                    "module",
                    "layers whose output variance is finite and > 0",
                    f"variance {v} at {'/'.join(path)}",
                )
            if abs(v - 1.0) <= tol:
                break
            kernel = jnp.asarray(_get(params, (*path, "kernel")))
            scale = np.asarray(1.0 / math.sqrt(v), kernel.dtype)
            params = _replace(params, (*path, "kernel"), kernel * scale)
    return params
