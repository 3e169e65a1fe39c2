r"""Signal propagation at initialization: statistics, gain search and LSUV.

A good initializer keeps the scale of the activations and of the gradients
through depth; a bad one makes them vanish or explode. This module measures it
on a real network, before any training:

* :func:`propagation` (and :func:`diagnose` for a Flax module): per layer, the
  activation mean and std, the fraction of dead units (<= 0 on the whole batch:
  dead ReLUs) and of saturated ones (within 1% of a bounded activation's range:
  tanh, sigmoid), the *gain* of a small input perturbation (the root mean square
  of ``J v`` for ``v ~ N(0, I)``, ``J`` the Jacobian from the input to the
  layer), and per parameter the norm of the gradient of ``<g, f(x)>`` for a
  random cotangent ``g ~ N(0, I)``. One ``jax.jit`` per call, ``jax.vmap`` over
  ``seeds`` keys (each seed draws new parameters and new ``v``, ``g``) for error
  bars.
* :func:`gain_search`: the variance-scaling ``scale`` at which the perturbation
  gain from the input to the last layer is 1, by bisection on ``log(scale)``.
  For a layer ``h' = W phi(h)`` with ``Var(W) = scale / fan_in`` the gain grows
  by ``chi = scale * E[phi'(h)^2]`` per layer (Poole et al. 2016; Schoenholz et
  al. 2017): the answer is 2 for ReLU (``E[phi'^2] = 1/2``, He et al. 2015), 1
  for a linear network, and slightly above 1 for tanh (``tanh'(0) = 1``, and the
  activations' fixed point moves with the scale).
* :func:`lsuv`: layer-sequential unit-variance initialization (Mishkin & Matas
  2016): orthogonal kernels, then, layer by layer in call order, each kernel
  divided by the std of its layer's output on a batch until that output has
  variance 1.

Activations are what the model records: for a Flax module, what it ``sow``\ s
into ``"intermediates"`` (the built-in :mod:`jinit.models` sow each layer's
output), else every submodule's output by ``capture_intermediates``. For a plain
function, ``apply(params, x)`` returns ``(output, activations)``, the activations
a (nested) dict or list of arrays whose last axis is the units.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks, _errors

#: Output ranges of the bounded activations, for the saturated fraction.
SATURATION_BOUNDS: dict[str, tuple[float, float]] = {
    "tanh": (-1.0, 1.0),
    "sigmoid": (0.0, 1.0),
}

Apply = Callable[[Any, jax.Array], tuple[jax.Array, Any]]
InitFn = Callable[[jax.Array], Any]


# ----------------------------------------------------------------------------
# Trees in insertion (call) order.


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


def _is_kernel(leaf: Any) -> bool:
    return getattr(leaf, "ndim", 0) >= 2


# ----------------------------------------------------------------------------
# Statistics.


@dataclasses.dataclass(frozen=True)
class Propagation:
    """Per-layer and per-parameter statistics, one row per seed.

    Attributes:
      layers: the recorded activations' names, in call order.
      mean, std: activation mean and std over batch and units, ``(seeds, layers)``.
      dead: fraction of units that are <= 0 for every example of the batch.
      saturated: fraction of values within 1% of the activation's range of its
        bounds (0 where no bounds were given).
      gain: root mean square of the layer's response ``J v`` to an input
        perturbation ``v ~ N(0, I)`` (1: a perturbation keeps its size).
      params: the parameters' names, in creation order.
      grad_norm: the gradient's L2 norm per parameter, ``(seeds, params)``.
      kernels: whether each parameter is a kernel (ndim >= 2).
    """

    layers: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    dead: np.ndarray
    saturated: np.ndarray
    gain: np.ndarray
    params: tuple[str, ...]
    grad_norm: np.ndarray
    kernels: tuple[bool, ...]

    def kernel_grad_norm(self) -> np.ndarray:
        """Gradient norms of the kernels only, ``(seeds, kernels)``, in order."""
        return self.grad_norm[:, np.asarray(self.kernels, bool)]

    def problems(self, factor: float = 10.0, fraction: float = 0.9) -> list[str]:
        """What is unhealthy, in words (an empty list: healthy).

        Unhealthy: the activation std at the last layer is off the first
        layer's by more than ``factor`` (either way); the first kernel's gradient
        norm is off the last kernel's by more than ``factor``; more than
        ``fraction`` of the units dead or saturated at some layer; a NaN or Inf.
        Seeds are combined by the geometric mean.
        """
        out = []
        std = _geomean(self.std)
        grads = _geomean(self.kernel_grad_norm())
        if not (np.all(np.isfinite(std)) and np.all(np.isfinite(grads))):
            return ["non-finite activations or gradients"]
        for what, first, last in (
            ("activation std", std[0], std[-1]),
            (
                "gradient norm",
                grads[-1] if grads.size else 1.0,
                grads[0] if grads.size else 1.0,
            ),
        ):
            if first == 0 or last == 0:
                out.append(f"{what} reaches 0")
                continue
            ratio = last / first
            if ratio < 1 / factor:
                out.append(f"{what} vanishes (x{ratio:.1e} through depth)")
            elif ratio > factor:
                out.append(f"{what} explodes (x{ratio:.1e} through depth)")
        for what, values in (("dead", self.dead), ("saturated", self.saturated)):
            worst = float(np.max(np.mean(values, axis=0)))
            if worst > fraction:
                out.append(f"{worst:.0%} of units {what} at some layer")
        return out


def _geomean(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(np.mean(np.log(np.abs(x)), axis=0))


def _layer_stats(a, t, v_rms, bounds):
    a32 = a.astype(jnp.float32).reshape(-1, a.shape[-1] if a.ndim else 1)
    t32 = t.astype(jnp.float32)
    if bounds is None:
        saturated = jnp.zeros((), jnp.float32)
    else:
        lo, hi = bounds
        margin = 0.01 * (hi - lo)
        saturated = jnp.mean(
            ((a32 <= lo + margin) | (a32 >= hi - margin)).astype(jnp.float32)
        )
    return (
        jnp.mean(a32),
        jnp.std(a32),
        jnp.mean(jnp.all(a32 <= 0, axis=0).astype(jnp.float32)),
        saturated,
        jnp.sqrt(jnp.mean(t32 * t32)) / v_rms,
    )


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


@functools.lru_cache(maxsize=64)
def _stats_fn(apply: Apply, bounds: tuple[float, float] | None):
    """One jitted, seed-vmapped statistics function per ``apply`` (cached)."""

    def flat(params, x):
        # A list keeps the call order through jax.vjp/jvp (a dict comes back
        # with sorted keys: layer_10 before layer_2).
        y, acts = apply(params, x)
        return y, [a for _, a in _named_leaves(acts)]

    def one(params, x, k_tan, k_cot):
        y, pullback, acts = jax.vjp(lambda p: flat(p, x), params, has_aux=True)
        (grads,) = pullback(jax.random.normal(k_cot, jnp.shape(y), jnp.result_type(y)))
        v = jax.random.normal(k_tan, x.shape, x.dtype)
        _, (_, tangents) = jax.jvp(lambda x_: flat(params, x_), (x,), (v,))
        v_rms = jnp.sqrt(jnp.mean(v.astype(jnp.float32) ** 2))
        layer = [
            _layer_stats(a, t, v_rms, bounds)
            for a, t in zip(acts, tangents, strict=True)
        ]
        stacked = tuple(
            jnp.stack([row[i] for row in layer]) if layer else jnp.zeros((0,))
            for i in range(5)
        )
        norms = {
            n: jnp.linalg.norm(g.astype(jnp.float32).ravel())
            for n, g in _named_leaves(grads)
        }
        return stacked, norms

    return jax.jit(jax.vmap(one, in_axes=(0, None, 0, 0)))


def propagation(
    apply: Apply,
    init: InitFn,
    x: jax.Array,
    key: jax.Array,
    *,
    seeds: int = 4,
    bounds: tuple[float, float] | None = None,
) -> Propagation:
    """Measures how a network at initialization propagates signals and gradients.

    For each of ``seeds`` keys split from ``key``: ``params = init(k)`` (under
    ``jax.vmap``), then the activations of ``apply(params, x)``, their response to
    an input perturbation (a ``jax.jvp``) and the parameters' gradient for a
    random output cotangent (a ``jax.vjp``), all seeds in one
    ``jax.jit(jax.vmap(...))``. That function is cached per ``apply`` (and
    ``bounds``): reuse one ``apply`` to compare initializers with one compilation.

    Args:
      apply: ``apply(params, x) -> (output, activations)``, the activations a
        (nested) dict or list of arrays; see :func:`flax_fns` for a Flax module.
      init: ``init(key) -> params``; ``lambda key: params`` for fixed parameters.
      x: an input batch (float).
      key: a PRNG key.
      seeds: how many independent draws (>= 1).
      bounds: the activation's output range for the saturated fraction, e.g.
        ``SATURATION_BOUNDS["tanh"]``; None: no saturation measured.

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
    if not callable(apply):
        raise _errors.bad_type("apply", "a function apply(params, x)", apply)
    if not callable(init):
        raise _errors.bad_type("init", "a function init(key) -> params", init)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise _errors.bad_type("x", "a floating-point input batch", x)
    k_init, k_tan, k_cot = (
        jax.random.split(k, seeds) for k in jax.random.split(key, 3)
    )
    params = jax.vmap(init)(k_init)
    one = jax.tree.map(lambda p: p[0], params)
    named_params = _record(init, k_init[0])
    param_names = tuple(n for n, _ in named_params)
    kernels = tuple(_is_kernel(p) for _, p in named_params)
    layers = tuple(n for n, _ in _record(lambda p: apply(p, x)[1], one))
    stacked, norms = _stats_fn(apply, bounds)(params, x, k_tan, k_cot)
    mean, std, dead, saturated, gain = (np.asarray(s) for s in stacked)
    grad_norm = np.zeros((seeds, len(param_names)), np.float32)
    for i, n in enumerate(param_names):
        grad_norm[:, i] = np.asarray(norms[n])
    return Propagation(
        layers,
        mean,
        std,
        dead,
        saturated,
        gain,
        param_names,
        grad_norm,
        kernels,
    )


# ----------------------------------------------------------------------------
# Flax.


def flax_fns(module: Any, x: jax.Array) -> tuple[InitFn, Apply]:
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


def diagnose(
    module: Any,
    x: jax.Array,
    key: jax.Array,
    *,
    seeds: int = 4,
    bounds: tuple[float, float] | None = None,
) -> Propagation:
    """:func:`propagation` of a Flax linen module on the input batch ``x``."""
    init, apply = flax_fns(module, x)
    return propagation(apply, init, x, key, seeds=seeds, bounds=bounds)


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
    with ndim >= 2) is multiplied by ``sqrt(s)`` and one compiled function serves
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
    if not _record(lambda p: apply(p, x)[1], jax.tree.map(lambda p: p[0], params)):
        raise _errors.bad_value(
            "apply", "a function whose activations are not empty", apply
        )

    def one(params, k, log_s):
        root = jnp.exp(0.5 * log_s).astype(x.dtype)
        params = jax.tree.map(lambda p: p * root if _is_kernel(p) else p, params)
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
    while b - a > math.log1p(rtol):
        m = 0.5 * (a + b)
        if log_gain(m) < 0:
            a = m
        else:
            b = m
    return math.exp(0.5 * (a + b))


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
        for name, leaf in _named_leaves(params)
        if name.split("/")[-1] == "kernel" and _is_kernel(leaf)
    }
    seen = []
    for name in order:
        path = tuple(name.split("/")) if name else ()
        if path in owners and path not in seen:
            seen.append(path)
    return seen


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

    Mishkin & Matas (2016): every kernel (a ``kernel`` parameter with ndim >= 2)
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
    keys = jax.random.split(k_kernels, max(1, len(named)))
    for (name, leaf), k in zip(named, keys, strict=False):
        path = tuple(name.split("/"))
        if path[-1] == "kernel" and _is_kernel(leaf):
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
            kernel = _get(params, (*path, "kernel"))
            scale = np.asarray(1.0 / math.sqrt(v), kernel.dtype)
            params = _replace(params, (*path, "kernel"), kernel * scale)
    return params
