"""Init signatures: how a model's module calls the initializer of each parameter.

A stored parameter does not say how it was made. A ``nn.scan``-stacked kernel
``(12, 256, 256)`` is twelve ``(256, 256)`` calls; a ``DenseGeneral`` kernel
``(512, 8, 64)`` is one ``(512, 512)`` call, reshaped; an Equinox ``Linear``
weight ``(out, in)`` has its fan-in on the last axis. Reading fans off the stored
shape gets all three wrong. A :class:`Signature` records what the module does,
learned from the model itself (:func:`jinit.flax.abstract`), and
:func:`draw` applies any initializer the way the module would have called it.

The adapters (Flax, Equinox, Haiku) build signatures; the engine
(``jinit._tree``) plans each leaf once with :func:`plan` and draws it with
:func:`draw_planned`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _blocks, _checks, _errors
from ._base import Init
from ._constant import Constant
from ._fans import compute_fans
from ._types import Axis
from ._variance import VarianceScaling


@dataclasses.dataclass(frozen=True)
class Signature:
    """How one parameter's initializer is called by the module that owns it.

    Attributes:
      shape: the call shape of one layer: the shape the module's initializer is
        called with (``DenseGeneral``: the flattened 2-D kernel). One layer's
        stored array is this call's value reshaped (row-major).
      stacked: the axes of the stored leaf added by stacking (``nn.scan``,
        ``nn.vmap``, ``nnx.vmap``, ``eqx.filter_vmap``, ``hk.layer_stack``),
        ascending; each index along them is an independent layer.
      in_axis, out_axis: the fan axes of the call shape, where an initializer
        with default axes reads its fans (Flax ``(in, out)``: -2, -1; Equinox
        and PyTorch ``(out, in)``: -1, -2; a conv ``(out, in, *k)``: 1, 0).
      init: the initializer the module declared for this parameter, or None.
      module: the qualified class name of the module that owns it
        (``"flax.linen.Dense"``).
      parents: the qualified class names of the enclosing modules, outermost
        first (a ``GRUCell``'s ``Dense`` has the cell among them).
      role: ``"kernel"``, ``"recurrent_kernel"``, ``"bias"``,
        ``"recurrent_bias"``, ``"embedding"``, ``"scale"``, or the parameter's
        own name for anything else.
      cell: the qualified class name of the recurrent cell the parameter
        belongs to (``"flax.linen.GRUCell"``), or ``""``.
      fan_in, fan_out: the fans of the layer the parameter belongs to (for a
        bias, its layer's kernel), or None when there is no such layer.
      undeclared: why the module's own initializer cannot be drawn again
        (``init`` is then None), or ``""``.
    """

    shape: tuple[int, ...]
    stacked: tuple[int, ...] = ()
    in_axis: Axis = -2
    out_axis: Axis = -1
    init: Any = dataclasses.field(default=None, compare=False)
    module: str = ""
    parents: tuple[str, ...] = ()
    role: str = ""
    cell: str = ""
    fan_in: float | None = None
    fan_out: float | None = None
    undeclared: str = dataclasses.field(default="", compare=False)

    def layers(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The stacked dimensions of a stored leaf of ``shape``."""
        return tuple(shape[a] for a in self.stacked)

    def layer_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """One layer's stored shape: ``shape`` without the stacked axes."""
        return tuple(d for i, d in enumerate(shape) if i not in self.stacked)


class Abstract(jax.ShapeDtypeStruct):
    """A ``jax.ShapeDtypeStruct`` that also carries its parameter's :class:`Signature`.

    It works anywhere a ``ShapeDtypeStruct`` does (``jax.jit(...).lower``,
    ``jax.eval_shape``, ``nn.get_sharding``), and compares equal to the plain
    struct of the same shape, dtype and sharding.
    """

    __slots__ = ("signature",)

    def __init__(
        self, shape: Any, dtype: Any, *, sharding: Any = None, signature: Signature
    ):
        super().__init__(shape, dtype, sharding=sharding)
        self.signature = signature

    def __repr__(self) -> str:
        s = self.signature
        stacked = f", stacked={s.stacked}" if s.stacked else ""
        return (
            f"Abstract(shape={self.shape}, dtype={np.dtype(self.dtype).name}, "
            f"call={s.shape}{stacked}, module={s.module.rsplit('.', 1)[-1]!r})"
        )


def signature_of(leaf: Any) -> Signature | None:
    """The signature a leaf carries (an :class:`Abstract`), else None."""
    return getattr(leaf, "signature", None)


def declared(path: str, leaves: Mapping[str, Any], source: str) -> Any:
    """The initializer the module of leaf ``path`` declared, from its signature.

    A ``for_leaf`` choice (``leaves`` maps paths to specs); a leaf without one
    is an error that names ``source``, the function whose leaves carry it.
    """
    leaf = leaves.get(path)
    sig = signature_of(leaf)
    reason = getattr(sig if sig is not None else leaf, "undeclared", "")
    if reason:
        raise _errors.bad_value(
            f"leaf {path!r}",
            "a parameter whose module's initializer can be drawn again for "
            f"declared() ({reason}); give it a rule before declared()",
            leaf,
        )
    if sig is None:
        raise _errors.bad_value(
            f"leaf {path!r}",
            f"a parameter of {source}, which carries the initializer its "
            "module declared; this leaf carries none, and it is not known from "
            "its name alone (a leaf of a plain tree, or a variable such as "
            "batch_stats that no initializer argument made): give it a rule "
            "before declared()",
            leaf,
        )
    if sig.init is None:
        raise _errors.bad_value(
            f"leaf {path!r}",
            "a parameter whose module declared an initializer for it; "
            f"{sig.module or 'its module'} declared none for it (a variable "
            "such as batch_stats, not a parameter): give it a rule before "
            "declared()",
            leaf,
        )
    return sig.init


#: The roles whose fans are those of their layer's kernel (role ``kernel`` for
#: ``bias``, ``recurrent_kernel`` for ``recurrent_bias``).
_LAYER_FANS = ("bias", "recurrent_bias")


def layer_kernel_role(role: str) -> str | None:
    """The role of the kernel whose fans a parameter of ``role`` has, or None."""
    return role.replace("bias", "kernel") if role in _LAYER_FANS else None


def with_layer_fans(
    signatures: Mapping[str, Signature], weight: str
) -> dict[str, Signature]:
    """Each bias without fans gets its layer's: those of its sibling ``weight``.

    ``weight`` is the layer's weight name (``"kernel"`` in Flax, ``"w"`` in
    Haiku), a path component beside the bias.
    """
    out = dict(signatures)
    for path, sig in signatures.items():
        if sig.role in _LAYER_FANS and sig.fan_in is None:
            w = signatures.get(f"{path.rpartition('/')[0]}/{weight}")
            if w is not None and w.fan_in is not None:
                out[path] = dataclasses.replace(sig, fan_in=w.fan_in, fan_out=w.fan_out)
    return out


def check(signature: Signature, shape: tuple[int, ...], path: str) -> None:
    """Checks that ``signature`` describes a stored leaf of ``shape``."""
    if any(not 0 <= a < len(shape) for a in signature.stacked) or list(
        signature.stacked
    ) != sorted(set(signature.stacked)):
        raise _errors.bad_value(
            f"signature of {path!r}",
            f"stacked axes that are distinct, ascending axes of the shape {shape}",
            signature.stacked,
        )
    layer = signature.layer_shape(shape)
    if math.prod(layer) != math.prod(signature.shape):
        raise _errors.bad_value(
            f"signature of {path!r}",
            f"a call shape with as many values as one layer {layer}",
            signature.shape,
        )


def stacked_signature(shape: tuple[int, ...], axes: Axis) -> Signature:
    """The signature of a leaf stacked along ``axes``, each layer called as stored."""
    stacked = tuple(sorted(_checks.check_axes("stacked", axes, len(shape))))
    layer = tuple(d for i, d in enumerate(shape) if i not in stacked)
    return Signature(layer, stacked)


def with_stacked(signature: Signature, shape: tuple[int, ...], axes: Axis) -> Signature:
    """``signature`` with the stored leaf's ``axes`` (of ``shape``) stacked too.

    For a leaf that carries its module's layout, ``stacked=`` names axes of
    its call that hold independent layers, or experts (a MoE kernel ``(E, in,
    out)`` made by one call): they become batch axes, each index with the law
    of one layer or expert. Axes already stacked stay so. The call shape must
    be the stored layer (not reshaped), and the fan axes must stay in it.

    Raises:
      ValueError: axes out of range, a reshaped call, or a fan axis named.
    """
    named = _checks.check_axes("stacked", axes, len(shape))
    added = tuple(sorted(set(named) - set(signature.stacked)))
    if not added:
        return signature
    layer = signature.layer_shape(shape)
    if signature.shape != layer:
        raise _errors.bad_value(
            "stacked",
            "axes of a leaf whose module's call has its stored layer's shape "
            f"{layer} (this call is {signature.shape}, reshaped)",
            axes,
        )
    stacked = tuple(sorted(set(signature.stacked) | set(added)))
    kept = [i for i in range(len(shape)) if i not in signature.stacked]
    removed = [kept.index(a) for a in added]  # call-shape positions of the axes
    call = tuple(d for i, d in enumerate(layer) if i not in removed)
    n = len(layer)
    fan_axes = {}
    # A bias's fans are its layer's kernel's, not its call's: no fan axes to
    # keep, and its per-layer fans come from its stacked kernel (the plan's).
    bias = signature.role in _LAYER_FANS
    for name in () if bias else ("in_axis", "out_axis"):
        axis = getattr(signature, name)
        if not isinstance(axis, int) or not -n <= axis < n or axis % n in removed:
            raise _errors.bad_value(
                "stacked",
                f"axes other than the call's fan axes ({name}={axis} of {layer})",
                axes,
            )
        moved = axis % n - sum(r < axis % n for r in removed)
        fan_axes[name] = moved - len(call) if axis < 0 else moved
    fans = {}
    if signature.fan_in is not None and len(call) >= 2 and not bias:
        fan_in, fan_out = compute_fans(call, fan_axes["in_axis"], fan_axes["out_axis"])
        fans = {"fan_in": fan_in, "fan_out": fan_out}
    return dataclasses.replace(
        signature, shape=call, stacked=stacked, **fan_axes, **fans
    )


# ----------------------------------------------------------------------------
# Drawing by a signature.


def _has_default_axes(init: VarianceScaling) -> bool:
    return (init.in_axis, init.out_axis, init.batch_axis) == (-2, -1, ())


def _shifted(axis: Axis, ndim: int, by: int) -> tuple[int, ...]:
    return tuple(a + by for a in _checks.check_axes("axis", axis, ndim))


def _as_batched(init: VarianceScaling, signature: Signature, layer: tuple[int, ...]):
    """``(x, init')``: ``init'`` on ``(*layers, *x)`` has ``init``'s fans per layer.

    ``x`` is the call shape for default axes (the module's fans), else one
    layer's stored shape (axes the user named refer to the stored layout); the
    layers are batch axes. None where that cannot be said with axes (a stacked
    0-D or 1-D layer, whose fans come from its own shape alone).
    """
    k = len(signature.stacked)
    if _has_default_axes(init):
        x, ins, outs, batch = signature.shape, signature.in_axis, signature.out_axis, ()
        if k == 0 and x == layer and (ins, outs) == (-2, -1):
            return x, init  # the stored shape as it is: the initializer unchanged
    else:
        x, ins, outs, batch = layer, init.in_axis, init.out_axis, init.batch_axis
    if len(x) < 2:
        return (x, init) if k == 0 else None
    return x, dataclasses.replace(
        init,
        in_axis=_shifted(ins, len(x), k),
        out_axis=_shifted(outs, len(x), k),
        batch_axis=tuple(range(k)) + _shifted(batch, len(x), k),
    )


def plan(init: Any, signature: Signature, shape: tuple[int, ...]):
    """How ``init`` fills a stored leaf of ``shape``: ``(init, draw_shape, per_layer)``.

    * An elementwise jinit law (uniform, normal, truncated normal, variance
      scaling, a scalar constant) is drawn once in ``draw_shape = (*layers,
      *x)``; a variance
      scaling reads its fans per layer (see :func:`_as_batched`), the layers
      being batch axes.
    * Any other initializer (orthogonal, identity, dirac, a JAX or user
      callable) is ``per_layer``: called once per layer with the call shape, as
      the module calls its own, each layer with its own key
      (``jax.random.split(key, layers)``); an unstacked leaf uses the key itself.

    Either way the values are then reshaped into one layer's stored shape and
    the stacked axes moved where they are stored.

    An initializer with ``draws_stack = True`` (a depth-indexed rule of a named
    scheme) is instead called once with the whole stored shape, and lays out
    the layers itself; its ``for_leaf`` reads the signature to build it.
    """
    layers = signature.layers(shape)
    layer = signature.layer_shape(shape)
    if getattr(init, "draws_stack", False):
        return init, shape, False
    if isinstance(init, VarianceScaling):
        batched = _as_batched(init, signature, layer)
        if batched is not None:
            return batched[1], layers + batched[0], False
    if (isinstance(init, Init) and init.elementwise) or (
        isinstance(init, Constant) and init._array().ndim == 0
    ):
        return init, layers + layer, False  # one draw (or fill) of the stack
    return init, layers + signature.shape, True


def draw(
    init: Any,
    key: Any,
    shape: tuple[int, ...],
    dtype: Any,
    signature: Signature,
    blocks: bool = False,
) -> jax.Array:
    """The stored leaf of ``shape`` that ``init`` gives under ``signature`` (traced).

    The one definition of what a leaf with a signature holds; see :func:`plan`.
    ``blocks`` draws an elementwise law in blocks with the same bits
    (:func:`jinit._blocks.draw_in_blocks`).
    """
    return draw_planned(
        plan(init, signature, shape), key, shape, dtype, signature, blocks
    )


def draw_planned(
    planned: Any,
    key: Any,
    shape: tuple[int, ...],
    dtype: Any,
    signature: Signature,
    blocks: bool = False,
) -> jax.Array:
    """:func:`draw` from the ``(init, draw_shape, per_layer)`` :func:`plan` gave."""
    init, draw_shape, per_layer = planned
    if getattr(init, "draws_stack", False):
        return _call(init, key, shape, dtype)
    layers = signature.layers(shape)
    if blocks and not per_layer:
        out = _blocks.draw_in_blocks(init, key, draw_shape, np.dtype(dtype))
    elif not per_layer or not layers:
        out = _call(init, key, draw_shape, dtype)
    else:
        n = math.prod(layers)
        keys = jax.random.split(key, n)
        out = jax.vmap(lambda k: _call(init, k, signature.shape, dtype))(keys)
    return arrange(out, signature, shape)


def arrange(out: Any, signature: Signature, shape: tuple[int, ...]) -> Any:
    """The draw of :func:`plan`'s ``draw_shape`` laid out as the stored leaf.

    Each layer reshaped into its stored shape, the layers moved to the stacked
    axes; a NumPy array stays one (a view where no axis moves).
    """
    layers = signature.layers(shape)
    k = len(layers)
    out = out.reshape(layers + signature.layer_shape(shape))
    if not k:
        return out
    xp = np if isinstance(out, np.ndarray) else jnp
    return xp.moveaxis(out, tuple(range(k)), signature.stacked)


def _call(init: Any, key: Any, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    if isinstance(init, Init):
        return init._generate(key, shape, np.dtype(dtype))
    return init(key, shape, dtype)


def fans(init: Any, signature: Signature | None, shape: tuple[int, ...]):
    """The ``(fan_in, fan_out)`` that ``init`` uses on a leaf of ``shape``.

    With a signature: a variance scaling's fans per layer (the module's fans for
    default axes), else the layer's fans the signature records, else those of
    the call shape. Without one: :func:`jinit.compute_fans` of the stored shape
    with the initializer's axes, if it has any.
    """
    if signature is None:
        axes = {
            a: getattr(init, a)
            for a in ("in_axis", "out_axis", "batch_axis")
            if hasattr(init, a)
        }
        try:
            return compute_fans(shape, **axes)
        except ValueError:
            return compute_fans(shape)
    if isinstance(init, VarianceScaling):
        adapted, draw_shape, per_layer = plan(init, signature, shape)
        if per_layer or not isinstance(adapted, VarianceScaling):
            return compute_fans(signature.shape, init.in_axis, init.out_axis)
        return compute_fans(
            draw_shape, adapted.in_axis, adapted.out_axis, adapted.batch_axis
        )
    if signature.fan_in is not None and signature.fan_out is not None:
        return signature.fan_in, signature.fan_out
    return compute_fans(signature.shape, signature.in_axis, signature.out_axis)


# ----------------------------------------------------------------------------
# Leaves without a declared initializer, and the roles of parameters.


class Undeclared(jax.ShapeDtypeStruct):
    """A parameter of an abstract model with no declared initializer, and why.

    An adapter leaves it unsigned (rules see a plain ``ShapeDtypeStruct``);
    :func:`declared` says why it cannot draw it.
    """

    __slots__ = ("undeclared",)

    def __init__(self, shape: Any, dtype: Any, *, sharding: Any = None, why: str):
        super().__init__(shape, dtype, sharding=sharding)
        self.undeclared = why


#: The roles a parameter plays, whatever its framework names it.
ROLES: tuple[str, ...] = (
    "kernel",
    "recurrent_kernel",
    "bias",
    "recurrent_bias",
    "embedding",
    "scale",
)

_ROLE_NAMES = {
    "kernel": "kernel",
    "w": "kernel",  # Haiku
    "w_i": "kernel",  # Haiku's GRU
    "weight_ih": "kernel",  # PyTorch's, Equinox's cells
    "recurrent_kernel": "recurrent_kernel",
    "w_h": "recurrent_kernel",
    "weight_hh": "recurrent_kernel",
    "bias": "bias",
    "b": "bias",
    "offset": "bias",  # Haiku's norms
    "recurrent_bias": "recurrent_bias",
    "bias_n": "recurrent_bias",  # Equinox's GRUCell (PyTorch's b_hn)
    "embedding": "embedding",
    "embeddings": "embedding",
    "scale": "scale",
}


def role_of_name(name: str) -> str:
    """The role (one of :data:`ROLES`) of a parameter named ``name``, else ``name``.

    ``"weight"`` is not decided by its name (a Linear's kernel, a norm's scale,
    an embedding): its adapter says which.
    """
    return _ROLE_NAMES.get(name, name)
