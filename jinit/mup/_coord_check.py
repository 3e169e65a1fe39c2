"""microsoft/mup's coord check: mean |activation| per module, step and width."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _errors, _tree
from ._infer import identity, parametrize
from ._plan import Parametrization
from ._variant import Variant
from ._variants import VARIANTS


def coord_check(
    make_model: Callable[[int, Parametrization], Any],
    widths: Sequence[int],
    inputs: Any,
    targets: Any,
    loss: Callable[[Any, Any], Any],
    base_rules: _tree.Rules,
    *,
    base_width: int | None = None,
    variants: Sequence[str | Variant] = ("sp", "mup"),
    optimizer: str | Callable[[Parametrization, float], Any] = "adam",
    learning_rate: float = 1e-2,
    steps: int = 3,
    key: Any = None,
    override: Mapping[str, Any] | None = None,
    **parametrize_kwargs: Any,
) -> list[dict[str, Any]]:
    r"""microsoft/mup's coord check: mean |activation| per module, step and width.

    For each variant and width, builds ``make_model(width, mp)`` (a linen
    module; ``mp`` the :class:`Parametrization` of that width against
    ``base_width``), draws its parameters with ``mp.rules(base_rules)``
    (``override`` rules first), and trains ``steps`` steps on the one batch
    ``(inputs, targets)`` with ``mp.adam``, ``mp.sgd`` or
    ``jinit.optim.muon(mp, ...)`` at ``learning_rate``.
    Before each update (``t = 1`` is the initial model) it records
    ``l1 = mean(|y|)`` of every module's output ``y``
    (``capture_intermediates``; modules inside ``nn.scan`` are recorded when the
    scan lifts that collection, ``variable_axes={"params": 0, "intermediates":
    0}``, their layers pooled). Under a correct μP the curves of ``l1``
    against width are flat; under SP they grow with width after ``t = 1``.

    Args:
      make_model: ``(width, mp) -> flax.linen.Module``; the module must apply
        ``mp``'s forward multipliers. It is also called with
        ``jinit.mup.identity()`` to read shapes.
      widths: the widths to compare.
      inputs, targets: one batch; ``model.apply(params, inputs)`` is the output.
      loss: ``(output, targets) -> scalar``.
      base_rules: the base init rules (e.g. ``jinit.flax.defaults("flax")``);
        not used by ``"umup"`` (unit init).
      base_width: the base width (default: the smallest of ``widths``).
      variants: the variants to run, e.g. ``("sp", "mup")``.
      optimizer: ``"adam"``, ``"sgd"``, ``"muon"`` (:func:`jinit.optim.muon` of
        ``mp``: hidden weights by Muon, the others by μP Adam, both at
        ``learning_rate``; name the readout with ``readout=`` for the base
        width), or a function ``(mp, learning_rate) -> optax transform``.
      learning_rate: the base learning rate.
      steps: recorded steps (``t = 1 .. steps``).
      key: the PRNG key of the init (default ``jax.random.key(0)``).
      override: rules prepended to the parametrized ones (e.g. a zero readout).
      **parametrize_kwargs: passed to :func:`parametrize` (``readout=``, ...;
        ``"umup"`` needs ``readout=`` for the base width itself, where the
        shapes cannot tell the readout).

    Returns:
      A list of rows ``{"variant", "width", "module", "t", "l1"}``.
    """
    if not widths or any(
        isinstance(w, bool) or not isinstance(w, int | np.integer) or w <= 0
        for w in widths
    ):
        raise _errors.bad_value(
            "widths", "a non-empty sequence of positive ints", widths
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise _errors.bad_value("steps", "a positive int", steps)
    for v in variants:
        if not isinstance(v, Variant) and v not in VARIANTS:
            raise _errors.bad_choice("variants", v, VARIANTS)
    make_tx = _optimizer(optimizer)
    key = jax.random.key(0) if key is None else key
    base_width = min(widths) if base_width is None else base_width
    from ..flax import abstract

    def shapes(width):
        return abstract(make_model(width, identity()), inputs)

    base = shapes(base_width)
    rows = []
    for variant in variants:
        for width in widths:
            target = shapes(width)
            mp = parametrize(
                base,
                target,
                variant=variant,
                **parametrize_kwargs,
            )
            model = make_model(width, mp)
            unit = mp.variant.init == "unit"  # u-μP's unit init has no base rules
            rules = {**(override or {}), **mp.rules(None if unit else base_rules)}
            variables = _tree.materialize(target, key, rules)
            params = variables["params"]
            tx = make_tx(mp, learning_rate)
            for t, stats in enumerate(
                _train(model, params, tx, inputs, targets, loss, steps), 1
            ):
                for module, l1 in stats.items():
                    rows.append(
                        {
                            "variant": variant,
                            "width": width,
                            "module": module,
                            "t": t,
                            "l1": l1,
                        }
                    )
    return rows


def _muon(mp: Parametrization, learning_rate: float) -> Any:
    from ..optim import muon

    return muon(mp, learning_rate)


_OPTIMIZERS: dict[str, Callable[[Parametrization, float], Any]] = {
    "adam": lambda mp, lr: mp.adam(lr),
    "sgd": lambda mp, lr: mp.sgd(lr),
    "muon": _muon,
}


def _optimizer(optimizer: Any) -> Callable[[Parametrization, float], Any]:
    """The ``(mp, learning_rate) -> transform`` of ``coord_check``'s ``optimizer``."""
    if callable(optimizer):
        return optimizer
    if optimizer not in _OPTIMIZERS:
        raise _errors.bad_choice("optimizer", optimizer, tuple(_OPTIMIZERS))
    return _OPTIMIZERS[optimizer]


def _train(model, params, tx, inputs, targets, loss, steps):
    """Yields ``{module: mean |output|}`` before each of ``steps`` updates."""

    def forward(p):
        out, state = model.apply(
            {"params": p}, inputs, capture_intermediates=True, mutable=["intermediates"]
        )
        return loss(out, targets), state["intermediates"]

    @jax.jit
    def step(p, opt_state):
        (_, inter), grads = jax.value_and_grad(forward, has_aux=True)(p)
        stats = {
            _tree.path_string(k): jnp.mean(jnp.abs(v))
            for k, v in jax.tree_util.tree_flatten_with_path(inter)[0]
        }
        updates, opt_state = tx.update(grads, opt_state, p)
        return _apply(p, updates), opt_state, stats

    opt_state = tx.init(params)
    for _ in range(steps):
        params, opt_state, stats = step(params, opt_state)
        yield {_module_name(k): float(v) for k, v in stats.items()}


def _apply(params, updates):
    return jax.tree.map(lambda p, u: p + u, params, updates)


def _module_name(path: str) -> str:
    """``"Dense_0/__call__/0"`` -> ``"Dense_0"`` (the model itself is ``"model"``)."""
    parts = [p for p in path.split("/") if p != "__call__" and not p.isdigit()]
    return "/".join(parts) or "model"


def plot_coord_check(rows: Sequence[Mapping[str, Any]], path: str | None = None):
    """microsoft/mup's figure: l1 against width (log-log, base 2), per module.

    One column per step ``t``, one row per variant (SP above μP); the figure
    :func:`jinit.plot.coord_check` draws. Returns the matplotlib figure; saves
    it to ``path`` if given.
    """
    from .. import plot

    return plot.coord_check(rows, path)
