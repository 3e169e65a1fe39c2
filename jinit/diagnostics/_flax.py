"""Flax linen glue: ``init``/``apply`` functions, stacked layers, other collections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from .. import _errors
from ._layout import Layout, WeakCache, at_layer
from ._names import Apply, InitFn
from ._paths import named_leaves
from ._propagation import check_units, checked, run
from ._stats import Propagation


def check_module(module: Any) -> None:
    """Raises a TypeError unless ``module`` is a Flax linen module."""
    if not (hasattr(module, "init") and hasattr(module, "apply")):
        raise _errors.bad_type("module", "a Flax linen Module", module)


def _apply_fn(get_module: Callable[[], Any], collections: tuple[str, ...]) -> Apply:
    mutable = ["intermediates", *collections]

    def apply(params, x_):
        module = get_module()
        y, state = module.apply({"params": params}, x_, mutable=mutable)
        acts = state.get("intermediates", {})
        if not acts:
            y, state = module.apply(
                {"params": params}, x_, mutable=mutable, capture_intermediates=True
            )
            acts = {k: v for k, v in state["intermediates"].items() if k != "__call__"}
        return y, acts

    return apply


def flax_fns(module: Any, x: Any) -> tuple[InitFn, Apply]:
    """``(init, apply)`` for a Flax linen module, for :func:`propagation`.

    ``init(key)`` is ``module.init(key, x)["params"]``. ``apply(params, x)``
    returns the module's output and the values it sows into ``"intermediates"``;
    if it sows none, every submodule's output (``capture_intermediates=True``),
    the module's own output left out. The other collections ``init`` makes
    (``batch_stats``, ...) are made again by each call and left out.
    """
    check_module(module)
    collections = _collections(module, x)

    def init(key):
        return module.init(key, x)["params"]

    return init, _apply_fn(lambda: module, collections)


def _collections(module: Any, x: Any) -> tuple[str, ...]:
    """The variable collections ``module.init`` makes, other than ``"params"``."""
    from flax import errors as flax_errors

    try:
        variables = jax.eval_shape(lambda k: module.init(k, x), jax.random.key(0))
    except flax_errors.FlaxError as e:
        raise _flax_error(e) from None
    return tuple(c for c in variables if c not in ("params", "intermediates"))


def _flax_error(e: Exception) -> ValueError:
    return _errors.bad_value(
        "module", "a Flax module that runs on `x`", f"{type(e).__name__}: {e}"
    )


def inspect(module: Any, x: jax.Array) -> tuple[Layout, tuple[str, ...]]:
    """``(layout, collections)`` of a linen module on ``x``, abstractly.

    The layout's stacks are the parameters a transform stacked (their
    signatures' ``stacked`` axis, from :func:`jinit.flax.abstract`), each named
    after the transform's module (``nn.scan`` named ``blocks``); its unmeasured
    modules are those owning parameters that ``capture_intermediates`` does
    not see (inside a transform that does not lift ``"intermediates"``).
    ``collections`` are the variable collections other than ``"params"``.
    """
    from flax import errors as flax_errors
    from flax import linen as nn

    from ..flax import abstract

    roots: set[str] = set()
    lifted = [False]

    def note(next_fun, args, kwargs, context):
        # A transformed module (nn.scan, nn.vmap: a class of flax.linen.transforms)
        # runs its body module next, at the transform's path.
        m = context.module
        if type(m).__module__ == "flax.linen.transforms":
            lifted[0] = True
        elif lifted[0] and m.scope is not None:
            lifted[0] = False
            roots.add("/".join(m.scope.path))
        return next_fun(*args, **kwargs)

    try:
        variables = abstract(module, x)
        collections = tuple(
            c for c in variables if c not in ("params", "intermediates")
        )

        def capture(params):
            with nn.intercept_methods(note):
                _, state = module.apply(
                    {"params": params},
                    x,
                    mutable=["intermediates", *collections],
                    capture_intermediates=True,
                )
            return state["intermediates"]

        params = variables.get("params", {})
        captured = {n for n, _ in named_leaves(jax.eval_shape(capture, params))}
    except flax_errors.FlaxError as e:
        raise _flax_error(e) from None
    stacks, owners = [], {}
    for path, leaf in named_leaves(params):
        leaf = leaf.unbox() if hasattr(leaf, "unbox") else leaf
        owner = path.rsplit("/", 1)[0] if "/" in path else ""
        owners.setdefault(owner, None)
        axes = getattr(getattr(leaf, "signature", None), "stacked", ())
        if len(axes) == 1:
            under = [r for r in roots if owner == r or owner.startswith(r + "/")]
            root = max(under, key=len) if under else owner
            stacks.append((path, root, axes[0], int(leaf.shape[axes[0]])))
            owners[owner] = (root, int(leaf.shape[axes[0]]))
    unmeasured = []
    for owner, stack in owners.items():
        if owner in captured:
            continue
        if stack is None:
            unmeasured.append(owner or "(the model)")
        else:
            unmeasured += [at_layer(owner, stack[0], i) for i in range(stack[1])]
    return Layout(tuple(stacks), tuple(unmeasured)), collections


_APPLIES = WeakCache()


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
    (the built-in :mod:`jinit.models` name their activation outputs). Layers
    stacked by ``nn.scan`` (or ``nn.vmap``) give one row per layer, named
    ``blocks/0/...``, ``blocks/1/...`` after the transform's module: their
    parameters always, their activations where the transform lifts
    ``"intermediates"`` (``variable_axes={"params": 0, "intermediates": 0}``).
    Modules whose activations no one can record are listed in
    ``unmeasured``, and the verdict says so. Collections other than
    ``"params"`` (``batch_stats``) are made by each call, as ``init`` does.

    Raises:
      ValueError: the module does not run on ``x`` (Flax's error, named).
    """
    check_module(module)
    seeds, bounds, units, x = checked(key, seeds, bounds, units, x)
    layout, collections = inspect(module, x)

    def init(k):
        return module.init(k, x)["params"]

    apply = _APPLIES.get(module, collections, lambda ref: _apply_fn(ref, collections))
    if units is None:
        units = getattr(module, "units", None)
    return run(apply, init, x, key, seeds, bounds, check_units(units), layout)
