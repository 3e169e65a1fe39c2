"""``abstract``: a Flax model's variables, each parameter carrying its init signature."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax

from .. import _checks, _errors

# ----------------------------------------------------------------------------
# Abstract models whose leaves know how their module initializes them.


def abstract(model: Any, *args: Any, rngs: Any = None, **kwargs: Any) -> Any:
    """The model's abstract variables, each parameter carrying its init signature.

    For a linen module, the tree of ``jax.eval_shape(model.init, rngs, *args,
    **kwargs)``; for nnx, ``abstract(make_model)`` with a function that builds the
    module is ``nnx.eval_shape(make_model)``. Nothing is allocated. Every
    parameter's ``jax.ShapeDtypeStruct`` becomes a :class:`jinit.Abstract`
    (still a ``ShapeDtypeStruct``) whose ``signature``
    (:class:`jinit.Signature`) records what the module does: the shape its
    initializer is called with (``DenseGeneral``'s flattened kernel), the axes
    ``nn.scan``/``nn.vmap``/``nnx.vmap``/``nnx.scan`` stacked, the initializer it
    declared, its module and role. :func:`jinit.materialize` and
    :func:`jinit.reinit` then draw every rule's initializer per layer with the
    module's call shape and fans, and :func:`table` shows them.

    Args:
      model: a ``flax.linen.Module``, or a function of no arguments returning a
        ``flax.nnx.Module``.
      *args, **kwargs: the arguments of ``model.init`` after the key (linen).
      rngs: the key, or dict of keys, ``model.init`` gets (linen; default
        ``jax.random.key(0)``: only shapes are computed).

    Returns:
      linen: the variables dict ``model.init`` would return, abstract. nnx: the
      abstract module (``nnx.split`` it for its state).

    Raises:
      TypeError: ``model`` is neither (a built nnx module: pass the function
        that builds it, ``lambda: Model(..., rngs=nnx.Rngs(0))``); ``rngs``
        that linen's ``init`` does not take (an int seed, a string).
      ValueError: ``rngs`` given for an nnx model.

    Example:
      >>> model, tokens = nn.Dense(16), jnp.ones((2, 8))
      >>> abstract = jinit.flax.abstract(model, tokens)   # nn.scan-stacked blocks too
      >>> params = jinit.materialize(abstract, key, jinit.flax.defaults("flax"))
    """
    from flax import linen as nn
    from flax import nnx

    from . import _capture

    if isinstance(model, nn.Module):
        rngs = jax.random.key(0) if rngs is None else rngs
        _check_rngs(rngs)
        return _capture.linen(model, args, kwargs, rngs)
    if isinstance(model, nnx.Module):
        raise _errors.bad_type(
            "model",
            "for nnx, a function that builds the module (`lambda: "
            f"{type(model).__name__}(..., rngs=nnx.Rngs(0))`), not a built module: "
            "jinit builds it abstractly, under nnx.eval_shape",
            model,
        )
    if callable(model) and rngs is not None:
        raise _errors.bad_value(
            "rngs",
            "None for an nnx model (the function that builds it passes its own "
            "nnx.Rngs; `rngs` is the key of a linen module's init)",
            rngs,
        )
    if callable(model) and not args and not kwargs:
        return _capture.nnx(model)
    raise _errors.bad_type(
        "model",
        "a flax.linen.Module (with its init arguments), or a function of no "
        "arguments that builds a flax.nnx.Module",
        model,
    )


_RNGS = (
    "a PRNG key (jax.random.key(0)) or a dict of them by rng collection name "
    "({'params': key, 'dropout': key}), as flax.linen.Module.init takes (not an "
    "int seed)"
)


def _check_rngs(rngs: Any) -> None:
    """Checks ``rngs`` as linen's ``init`` would (it rejects int seeds too)."""
    keys = rngs.values() if isinstance(rngs, Mapping) else [rngs]
    if isinstance(rngs, Mapping) and not all(isinstance(k, str) for k in rngs):
        raise _errors.bad_type("rngs", _RNGS, rngs)
    for key in keys:
        try:
            _checks.check_key(key)
        except (TypeError, ValueError):
            raise _errors.bad_type("rngs", _RNGS, rngs) from None
