"""μP's optax optimizers: per-parameter LR, eps and weight-decay multipliers."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .. import _checks, _errors

_OPTIMIZERS = ("adam", "sgd")


def optimizer_field(optimizer: Any, what: str) -> str:
    """The :class:`Param` field of ``optimizer``'s ``what`` multiplier."""
    if optimizer not in _OPTIMIZERS:
        raise _errors.bad_choice("optimizer", optimizer, _OPTIMIZERS)
    return f"{optimizer}_{what}"


def _times(x: Any, c: float) -> Any:
    return x if c == 1.0 else x * jnp.asarray(c, dtype=jnp.result_type(x))


def _no_state(params: Any) -> Any:
    import optax

    del params
    return optax.EmptyState()


def _check_numbers(learning_rate: Any, **numbers: Any) -> None:
    """Refuses a learning rate that is not a number or schedule, and bad numbers."""
    if not callable(learning_rate):
        try:
            _checks.real_number("learning_rate", learning_rate, positive=True)
        except (TypeError, ValueError):
            raise _errors.bad_type(
                "learning_rate", "a positive number or an optax schedule", learning_rate
            ) from None
    for arg, value in numbers.items():
        if value is not None:
            _checks.real_number(arg, value, nonnegative=True)


def scale_by_lr(mp: Any, optimizer: Any = "adam") -> Any:
    """The transform of :meth:`Parametrization.scale_by_lr`."""
    import optax

    field = optimizer_field(optimizer, "lr")

    def init(params):
        mp.multipliers(params, field)  # the paths and shapes of the plan's target
        return optax.EmptyState()

    def update(updates, state, params=None):
        del params
        mults = mp.multipliers(updates, field)
        return jax.tree.map(_times, updates, mults), state

    return optax.GradientTransformation(init, update)


def _decay(mp: Any, weight_decay: float, field: str) -> Any:
    """``updates + weight_decay · wd_mult · params``, per leaf."""
    import optax

    def update(updates, state, params=None):
        if params is None:
            raise _errors.bad_value(
                "params",
                "passed to update() (weight decay needs them): "
                "tx.update(grads, state, params)",
                None,
            )
        mults = mp.multipliers(updates, field)
        out = jax.tree.map(
            lambda u, p, c: u + _times(p, weight_decay * c), updates, params, mults
        )
        return out, state

    return optax.GradientTransformation(_no_state, update)


def _checked(mp: Any, tx: Any) -> Any:
    """``tx`` whose update first checks the updates' paths and shapes (same state)."""
    import optax

    def update(updates, state, params=None, **extra):
        mp.multipliers(updates, "adam_lr")
        return tx.update(updates, state, params, **extra)

    return optax.GradientTransformationExtraArgs(tx.init, update)


def adam(
    mp: Any,
    learning_rate: Any,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    peak_learning_rate: float | None = None,
) -> Any:
    """The optimizer of :meth:`Parametrization.adam`."""
    import optax

    _check_numbers(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    weight_decay = mp.variant.decay_coefficient(
        weight_decay, learning_rate, peak_learning_rate
    )
    groups = sorted({p.adam_eps for p in mp.params})

    def labels(params):
        mults = mp.multipliers(params, "adam_eps")
        return jax.tree.map(lambda c: groups.index(c), mults)

    chain = [
        optax.partition(
            {i: optax.scale_by_adam(b1, b2, eps * e) for i, e in enumerate(groups)},
            labels,
        )
    ]
    if weight_decay:
        chain.append(_decay(mp, weight_decay, "adam_wd"))
    chain += [scale_by_lr(mp, "adam"), optax.scale_by_learning_rate(learning_rate)]
    return _checked(mp, optax.chain(*chain))


def sgd(
    mp: Any,
    learning_rate: Any,
    momentum: float | None = None,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    peak_learning_rate: float | None = None,
) -> Any:
    """The optimizer of :meth:`Parametrization.sgd`."""
    import optax

    if not mp.variant.has_sgd:
        raise _errors.bad_value(
            "optimizer", f"'adam' under variant {mp.variant.name!r}", "sgd"
        )
    _check_numbers(learning_rate, momentum=momentum, weight_decay=weight_decay)
    weight_decay = mp.variant.decay_coefficient(
        weight_decay, learning_rate, peak_learning_rate
    )
    chain = []
    if weight_decay:
        chain.append(_decay(mp, weight_decay, "sgd_wd"))
    if momentum is not None:
        chain.append(optax.trace(decay=momentum, nesterov=nesterov))
    chain += [scale_by_lr(mp, "sgd"), optax.scale_by_learning_rate(learning_rate)]
    return _checked(mp, optax.chain(*chain))
