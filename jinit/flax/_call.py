"""A Flax module's call of its declared initializer, made again by jinit.

A module calls ``self.param(name, fn, *args, **kwargs)`` (linen) or an
``*_init`` argument (nnx) with whatever arguments it likes; Flax calls
``fn(rng, *args, **kwargs)``. :func:`declared_call` turns the recorded call into
an initializer that makes the same call with jinit's key (:class:`DeclaredCall`),
or says why it cannot be made again (an argument traced from the inputs).
"""

from __future__ import annotations

import inspect
from typing import Any

import jax
import numpy as np
from jax.core import Tracer

from .. import _errors
from .._base import Init


def is_shape(x: Any, layer: tuple[int, ...]) -> bool:
    """Whether ``x`` is a shape with as many values as ``layer``."""
    try:
        shape = tuple(int(d) for d in x)
    except (TypeError, ValueError):
        return False
    return int(np.prod(shape)) == int(np.prod(layer))


def _as_key(x: Any) -> Any:
    """``x`` if hashable, else its identity (for comparing recorded arguments)."""
    try:
        hash(x)
    except TypeError:
        return ("id", id(x))
    return (type(x), x)


def _is_dtype(x: Any) -> bool:
    if x is None:
        return True
    try:
        np.dtype(x)
    except TypeError:
        return False
    return not isinstance(x, str | int | float)


class DeclaredCall:
    """A module's initializer, called as the module called it.

    The module called ``fn(key, *args, **kwargs)`` with the parameter's shape
    at ``slot`` (an index of ``args``, a keyword, or None where the call has
    no shape argument); a draw calls it the same way with its own key and the
    shape it asks for (that shape, for a call with no shape argument). A
    call of the form ``fn(key, shape)`` or ``fn(key, shape, dtype)`` is called
    ``fn(key, shape, dtype)`` with the draw's dtype, as any initializer.
    """

    __slots__ = ("__name__", "args", "fn", "kwargs", "shape", "slot")

    def __init__(self, fn: Any, args: tuple, kwargs: dict, slot: Any, shape: tuple):
        self.fn, self.args, self.kwargs, self.slot = fn, args, kwargs, slot
        self.shape = shape  # the recorded call shape
        self.__name__ = _call_name(fn, args, kwargs, slot, self.plain)

    @property
    def plain(self) -> bool:
        return (
            self.slot == 0
            and not self.kwargs
            and (
                len(self.args) == 1 or (len(self.args) == 2 and _is_dtype(self.args[1]))
            )
        )

    def __call__(self, key, shape, dtype=None, out_sharding=None):
        shape = tuple(int(d) for d in shape)
        if self.plain:
            return self.fn(key, shape, dtype)
        args, kwargs = list(self.args), dict(self.kwargs)
        if isinstance(self.slot, int):
            args[self.slot] = shape
        elif isinstance(self.slot, str):
            kwargs[self.slot] = shape
        elif shape != self.shape:
            raise _errors.bad_value(
                "shape",
                f"the shape {self.shape} that {self.__name__} makes (its module "
                "calls it without a shape)",
                shape,
            )
        out = self.fn(key, *args, **kwargs)
        if dtype is not None and hasattr(out, "astype") and out.dtype != dtype:
            out = out.astype(dtype)
        return out

    def law(self, shape: tuple[int, ...]) -> Any:
        """The law of a JAX initializer called plainly (for :func:`jinit.flax.table`)."""
        known = _jax_init(self.fn) if self.plain else None
        return None if known is None else known.law(shape)

    def _key(self) -> tuple:
        kwargs = tuple(sorted((k, _as_key(v)) for k, v in self.kwargs.items()))
        return (id(self.fn), self.slot, tuple(map(_as_key, self.args)), kwargs)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, DeclaredCall)
            and other.fn is self.fn
            and (self.plain and other.plain or other._key() == self._key())
        )

    def __hash__(self) -> int:
        return hash(id(self.fn))

    def __repr__(self) -> str:
        return self.__name__


def _call_name(fn: Any, args: tuple, kwargs: dict, slot: Any, plain: bool) -> str:
    qual = str(getattr(fn, "__qualname__", ""))
    if qual.endswith(".<locals>.init"):  # jax.nn.initializers' closures
        name = qual.removesuffix(".<locals>.init")
    else:
        name = str(getattr(fn, "__name__", None) or type(fn).__name__)
    if plain:
        return name

    def show(a: Any) -> str:
        return np.dtype(a).name if a is not None and _is_dtype(a) else repr(a)

    shown = ["key"] + ["shape" if i == slot else show(a) for i, a in enumerate(args)]
    shown += [f"{k}={'shape' if k == slot else show(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


def _jax_init(fn: Any) -> Any:
    """jinit's equivalent of one of ``jax.nn.initializers``' laws, else None."""
    from .._constant import constant, ones, zeros
    from .._distributions import Normal, TruncatedNormal, Uniform
    from .._variance import variance_scaling

    if fn is jax.nn.initializers.zeros:
        return zeros
    if fn is jax.nn.initializers.ones:
        return ones
    if getattr(fn, "__module__", "") != "jax._src.nn.initializers":
        return None
    try:
        v = inspect.getclosurevars(fn).nonlocals
        kind = fn.__qualname__.replace(".<locals>.init", "")
        if kind == "variance_scaling":
            return variance_scaling(
                v["scale"],
                v["mode"],
                v["distribution"],
                in_axis=v["in_axis"],
                out_axis=v["out_axis"],
                batch_axis=v["batch_axis"],
            )
        if kind == "normal":
            return Normal(float(v["stddev"]))
        if kind == "truncated_normal":
            return TruncatedNormal(
                float(v["stddev"]), float(v["lower"]), float(v["upper"])
            )
        if kind == "uniform":
            return Uniform(0.0, float(v["scale"]))
        if kind == "constant":
            return constant(v["value"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return None


def _traced(args: tuple, kwargs: dict) -> str:
    """The first argument of the call that is traced (made from the inputs), or ""."""
    named = [(f"argument {i + 1}", a) for i, a in enumerate(args)]
    named += [(f"argument {k}=", v) for k, v in kwargs.items()]
    for name, value in named:
        if any(isinstance(x, Tracer) for x in jax.tree_util.tree_leaves(value)):
            return name
    return ""


def declared_call(
    fn: Any, args: tuple, kwargs: dict, layer: tuple[int, ...]
) -> tuple[Any, tuple[int, ...], str]:
    """``(initializer, call shape, why not)`` for the call ``fn(key, *args, **kwargs)``.

    ``layer`` is the shape of the value it made. The shape argument is the
    first positional one (else the keyword ``shape``) with ``layer``'s size;
    a call whose arguments are traced cannot be made again.
    """
    traced = _traced(args, kwargs)
    if traced:
        name = getattr(fn, "__name__", repr(fn))
        return (
            None,
            layer,
            (
                f"its module calls {name} with a traced value as {traced} (made "
                "from the model's inputs), which jinit cannot pass again"
            ),
        )
    slot: Any = None
    shape = layer
    for i, a in enumerate(args):
        if is_shape(a, layer):
            slot, shape = i, tuple(int(d) for d in a)
            break
    else:
        if "shape" in kwargs and is_shape(kwargs["shape"], layer):
            slot, shape = "shape", tuple(int(d) for d in kwargs["shape"])
    call = DeclaredCall(fn, tuple(args), dict(kwargs), slot, shape)
    if isinstance(fn, Init) and call.plain:
        return fn, shape, ""  # a jinit initializer, drawn as one
    return call, shape, ""
