"""Searches over a model's initialization: the gain-1 scale, LSUV."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks, _errors
from ._flax import check_module, inspect
from ._mean_field import log_bisect
from ._names import Apply, InitFn, param_roles
from ._paths import get, map_named, named_leaves, replace
from ._propagation import check_seeds, record


def _last_activation(out: tuple[jax.Array, Any]) -> tuple[jax.Array, Any]:
    y, acts = out
    named = named_leaves(acts)
    return y, named[-1][1] if named else None


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
    seeds = check_seeds(seeds)
    lo = _checks.real_number("lo", lo, positive=True)
    hi = _checks.real_number("hi", hi, positive=True)
    rtol = _checks.real_number("rtol", rtol, positive=True)
    if lo >= hi:
        raise _errors.bad_value("lo", f"less than `hi` ({hi})", lo)
    x = jnp.asarray(x)

    k_init, k_tan = (jax.random.split(k, seeds) for k in jax.random.split(key))
    # Jitted: an eager vmap would compile each of init's operations on its own.
    params = jax.jit(jax.vmap(init))(k_init)
    kernel = set(
        n
        for n, r in param_roles(dict(record(init, k_init[0]))).items()
        if r == "kernel"
    )
    if not record(lambda p: apply(p, x)[1], jax.tree.map(lambda p: p[0], params)):
        raise _errors.bad_value(
            "apply", "a function whose activations are not empty", apply
        )

    def one(params, k, log_s):
        root = jnp.exp(0.5 * log_s).astype(x.dtype)
        params = map_named(
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
    return log_bisect(log_gain, a, b, rtol)


def _layer_order(
    module: Any, params: Any, x: jax.Array, mutable: list[str]
) -> list[tuple[str, ...]]:
    """Paths of the submodules that own a ``kernel``, in call order."""

    def run(p):
        _, state = module.apply(
            {"params": p}, x, mutable=mutable, capture_intermediates=True
        )
        order.extend(name for name, _ in named_leaves(state["intermediates"]))
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
      module: a Flax linen module; its other collections (``batch_stats``)
        are made by each call, as ``init`` does. Layers stacked by ``nn.scan``
        or ``nn.vmap`` are refused (a ValueError that names them).
      x: the data batch.
      key: a PRNG key.
      init: the kernels' initializer before rescaling (``jinit.orthogonal()``).
      tol: the tolerance on each output variance, > 0.
      max_iters: the most rescalings per layer, >= 1.

    Returns:
      The ``params`` tree.

    Raises:
      ValueError: a layer whose output variance is 0 or not finite; stacked
        layers, or kernels whose layers record no output.

    References:
      Mishkin & Matas (2016), All you need is a good init.
    """
    from .._structured import orthogonal

    _checks.check_key(key)
    check_module(module)
    tol = _checks.real_number("tol", tol, positive=True)
    max_iters = _checks.integer("max_iters", max_iters, minimum=1)
    init = orthogonal() if init is None else init
    x = jnp.asarray(x)
    layout, collections = inspect(module, x)
    if layout.stacks:
        raise _errors.bad_value(
            "module",
            "a module without stacked layers (LSUV rescales one layer at a time)",
            f"parameters stacked by a transform: {', '.join(p for p, *_ in layout.stacks)}",
        )
    mutable = ["intermediates", *collections]
    k_module, k_kernels = jax.random.split(key)
    params = jax.jit(module.init)(k_module, x)["params"]  # one compilation
    named = named_leaves(params)
    roles = param_roles(params)
    keys = jax.random.split(k_kernels, max(1, len(named)))
    for (name, leaf), k in zip(named, keys, strict=False):
        if roles[name] == "kernel":
            path = tuple(name.split("/"))
            params = replace(params, path, init(k, leaf.shape, leaf.dtype))
    layers = _layer_order(module, params, x, mutable)
    owners = {tuple(n.split("/")[:-1]) for n, r in roles.items() if r == "kernel"}
    if owners - set(layers):
        missing = sorted("/".join(p) for p in owners - set(layers))
        raise _errors.bad_value(
            "module", "layers whose outputs Flax records", f"no output of {missing}"
        )

    @jax.jit
    def variances(p):
        _, state = module.apply(
            {"params": p}, x, mutable=mutable, capture_intermediates=True
        )
        out = state["intermediates"]
        return [jnp.var(get(out, path)["__call__"][-1]) for path in layers]

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
            kernel = jnp.asarray(get(params, (*path, "kernel")))
            scale = np.asarray(1.0 / math.sqrt(v), kernel.dtype)
            params = replace(params, (*path, "kernel"), kernel * scale)
    return params
