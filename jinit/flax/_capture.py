"""Learning each Flax parameter's init signature from the model itself.

``abstract`` runs the model's init abstractly (``jax.eval_shape`` for linen,
``nnx.eval_shape`` for nnx, so nothing is allocated) while recording, for every
parameter, the shape its declared initializer is called with, the module that
owns it, and the axes stacking transforms add:

* linen: ``Module.param`` is wrapped for the duration of the call: it records
  each parameter by its path (the module's scope path, which lifted transforms
  keep), and wraps the module's ``*_init`` fields for the call, so a module
  that calls its initializer with another shape than it stores
  (``DenseGeneral`` flattens to 2-D) is seen calling it.
* nnx: every module class of ``flax.nnx`` whose constructor takes ``*_init``
  initializers gets them wrapped (defaults and given ones), and each new
  ``nnx.Variable`` of the ``Param`` kind is paired with the initializer call
  that made its value.

In both, the axes a stacking transform added (``nn.scan``, ``nn.vmap``,
``nnx.vmap``, ``nnx.scan``) are those the stored shape has beyond one layer's
(leading ones first where sizes make that ambiguous). The wrappers exist only
during the call: the tree returned is the one Flax returns (no extra boxes, so
modules that walk their variables' paths, like ``SpectralNorm``, see what they
always see), with each parameter's ``jax.ShapeDtypeStruct`` replaced by a
:class:`jinit._signature.Abstract` carrying its signature.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import itertools
import threading
from typing import Any

import jax
import numpy as np

from .. import _errors
from .._fans import compute_fans
from .._signature import Abstract, Signature, Undeclared, role_of_name, with_layer_fans
from .._tree import qualname
from ._call import declared_call, is_shape

_LOCK = threading.Lock()
_PUBLIC = (("flax.linen.", "flax.linen"), ("flax.nnx.", "flax.nnx"))


def _qualname(cls: type) -> str:
    return qualname(cls, _PUBLIC)


# ----------------------------------------------------------------------------
# What one call of a declared initializer was.


@dataclasses.dataclass
class _Call:
    """The record of one parameter's creation."""

    name: str  # the parameter's name ("kernel")
    owner: str  # the owning module's name in its parent ("ir", "Dense_0")
    module: str
    parents: tuple[str, ...]
    init: Any  # the declared initializer, or the module's own init function
    shape: tuple[int, ...]  # the call shape
    layer: tuple[int, ...]  # one layer's stored shape
    cell: str = ""  # the enclosing recurrent cell's class, if any
    stacked: tuple[int, ...] = ()
    undeclared: str = ""  # why ``init`` is None
    names: tuple | None = None  # one layer's axis names (a box's, out_sharding)


_RNN_CELLS = ("RNNCellBase",)


def _is_rnn_cell(cls: type) -> bool:
    return any(c.__name__ in _RNN_CELLS for c in cls.__mro__)


def _role(call: _Call) -> str:
    """The parameter's role; in a recurrent cell, the layers on h are recurrent."""
    role = role_of_name(call.name)
    if role not in ("kernel", "bias"):
        return role
    recurrent = bool(call.cell) and call.owner.startswith(("h", "dense_h"))
    return ("recurrent_" if recurrent else "") + role


def _signature(call: _Call) -> Signature:
    fan_in = fan_out = None
    if call.name == "kernel" and len(call.shape) >= 2:
        fan_in, fan_out = compute_fans(call.shape)
    return Signature(
        shape=call.shape,
        stacked=call.stacked,
        init=call.init,
        module=call.module,
        parents=call.parents,
        role=_role(call),
        cell=call.cell,
        fan_in=fan_in,
        fan_out=fan_out,
        undeclared=call.undeclared,
    )


#: A recorded call of a declared initializer: ``(fn, args, kwargs)``.
_Recorded = tuple[Any, tuple, dict]


def _recording(calls: list[_Recorded], fn: Any):
    """``fn``, recording each call's arguments into ``calls``."""

    @functools.wraps(fn)
    def init(key, *args, **kwargs):
        calls.append((fn, args, kwargs))
        return fn(key, *args, **kwargs)

    return init


def _pick(calls: list[_Recorded], layer: tuple[int, ...]) -> _Recorded | None:
    """The recorded call whose values make ``layer`` (the last one of that size)."""
    for call in reversed(calls):
        fn, args, kwargs = call
        shape = args[0] if args else kwargs.get("shape")
        if shape is not None and is_shape(shape, layer):
            return call
    return None


# ----------------------------------------------------------------------------
# linen.


def _parents(module: Any) -> tuple[type, ...]:
    """The classes of the modules enclosing ``module``, outermost first."""
    chain = []
    parent = getattr(module, "parent", None)
    while parent is not None and hasattr(parent, "scope"):
        chain.append(type(parent))
        parent = getattr(parent, "parent", None)
    return tuple(reversed(chain))


@contextlib.contextmanager
def _recording_linen(records: dict[tuple[str, ...], _Call]):
    """Records every ``Module.param`` creation into ``records`` by its path."""
    from flax import linen as nn
    from flax.core import meta

    original = nn.Module.param

    def param(self: Any, name, init_fn, *init_args, unbox=True, **init_kwargs):
        fields = {}
        if dataclasses.is_dataclass(type(self)):
            for f in dataclasses.fields(self):
                value = getattr(self, f.name, None)
                if f.name.endswith("_init") and callable(value):
                    fields[f.name] = value
        calls: list[_Recorded] = []
        direct = next((v for v in fields.values() if v is init_fn), None)

        def init(key, *args, **kwargs):
            value = init_fn(key, *args, **kwargs)
            inner = value.unbox() if isinstance(value, meta.AxisMetadata) else value
            layer = tuple(int(d) for d in np.shape(inner))
            picked = None if direct is not None else _pick(calls, layer)
            call = picked if picked is not None else (init_fn, args, kwargs)
            if isinstance(value, meta.AxisMetadata):  # nn.with_partitioning's box
                call = _unwrapped(call)
            declared, shape, undeclared = declared_call(*call, layer)
            parents = _parents(self)
            cells = [c for c in (*parents, type(self)) if _is_rnn_cell(c)]
            records[("params", *self.scope.path, name)] = _Call(
                name=name,
                owner=str(getattr(self, "name", "") or ""),
                module=_qualname(type(self)),
                parents=tuple(_qualname(c) for c in parents),
                init=declared,
                shape=shape,
                layer=layer,
                cell=_qualname(cells[0]) if cells else "",
                undeclared=undeclared,
                names=_names(value),
            )
            return value

        for field, fn in fields.items():
            object.__setattr__(self, field, _recording(calls, fn))
        try:
            return original(self, name, init, *init_args, unbox=unbox, **init_kwargs)
        finally:
            for field, fn in fields.items():
                object.__setattr__(self, field, fn)

    with _LOCK:
        nn.Module.param = param  # type: ignore[method-assign]
        try:
            yield
        finally:
            nn.Module.param = original  # type: ignore[method-assign]


def linen(model: Any, args: tuple, kwargs: dict, rngs: Any) -> Any:
    """``jax.eval_shape(model.init, rngs, *args, **kwargs)``, params signed."""
    from flax.core import meta

    from .._tree import path_string

    records: dict[tuple[str, ...], _Call] = {}
    with _recording_linen(records):
        tree = jax.eval_shape(lambda r: model.init(r, *args, **kwargs), rngs)
    flat, treedef = jax.tree_util.tree_flatten_with_path(
        tree, is_leaf=meta.is_axis_metadata
    )
    signatures = {}
    for p, x in flat:
        path = tuple(path_string([k]) for k in p)
        call = records.get(path)
        value = _unboxed(x) if meta.is_axis_metadata(x) else x
        if call is not None and isinstance(value, jax.ShapeDtypeStruct):
            names = (_names(x), call.names)
            stacked = _stacked_axes(tuple(value.shape), call.layer, names)
            call = dataclasses.replace(call, stacked=stacked)
            signatures[path_string(p)] = _signature(call)
    signatures = with_layer_fans(signatures, "kernel")
    leaves = []
    for p, x in flat:
        sig = signatures.get(path_string(p))
        if sig is None:
            leaves.append(x)
        elif meta.is_axis_metadata(x):
            leaves.append(
                x.replace_boxed(_signed(x.unbox(apply_constraint=False), sig))
            )
        else:
            leaves.append(_signed(x, sig))
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _unboxed(box: Any) -> Any:
    """A box's abstract value, without the sharding constraint it would apply."""
    from flax.core import meta

    if isinstance(box, meta.Partitioned):  # linen_partitioning(..., mesh) too
        return box.unbox(apply_constraint=False)
    return box.unbox()


def _signed(value: Any, sig: Signature, sharding: Any = None) -> Abstract:
    if not isinstance(value, jax.ShapeDtypeStruct):
        raise _errors.bad_type(
            "model", "a model whose parameters are arrays", type(value).__name__
        )
    sharding = value.sharding if sharding is None else sharding
    return Abstract(value.shape, value.dtype, sharding=sharding, signature=sig)


# ----------------------------------------------------------------------------
# nnx.

_PENDING = threading.local()


def _nnx_classes() -> list[type]:
    """Every module class of ``flax.nnx`` (whose constructors take the inits)."""
    from flax import nnx

    seen, todo = [], [nnx.Module]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return [
        c for c in seen if c.__module__.startswith("flax.nnx") and "__init__" in vars(c)
    ]


def _wrap_constructor(cls: type):
    original = vars(cls)["__init__"]
    try:
        params = inspect.signature(original).parameters
    except (TypeError, ValueError):
        return None
    names = [n for n in params if n.endswith(("_init", "_initializer"))]
    if not names:
        return None

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        bound = inspect.signature(original).bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name in names:
            fn = bound.arguments.get(name)
            if callable(fn) and not getattr(fn, "_jinit_recording", False):
                bound.arguments[name] = _recording_nnx(name, fn)
        return original(*bound.args, **bound.kwargs)

    return original, __init__


def _recording_nnx(field: str, fn: Any):
    @functools.wraps(fn)
    def init(key, *args, **kwargs):
        out = fn(key, *args, **kwargs)
        pending = getattr(_PENDING, "calls", None)
        if pending is not None:
            pending.append((id(out), (fn, args, kwargs)))
        return out

    init._jinit_recording = True  # type: ignore[attr-defined]
    return init


def _unwrapped(call: _Recorded) -> _Recorded:
    """The call of the initializer a boxing wrapper wraps (its ``__wrapped__``).

    ``nnx.with_metadata``'s wrapper returns ``VariableMetadata(initializer(*args))``,
    ``nn.with_partitioning``'s ``Partitioned(initializer(*args), names)``: the
    values are the initializer's, the metadata (names, ``out_sharding``,
    ``mesh``) the parameter's. A ``jf.*_partitioning`` initializer is the jinit
    initializer it draws.
    """
    fn, args, kwargs = call
    fn = getattr(fn, "__wrapped__", fn)
    return getattr(fn, "jinit_init", fn), args, kwargs


def _claim(value: Any, raw: Any) -> _Recorded | None:
    """The pending initializer call that made ``value`` (by identity, else size)."""
    pending = getattr(_PENDING, "calls", None)
    if not pending:
        return None
    layer = tuple(int(d) for d in np.shape(raw))
    for i, (ident, call) in enumerate(pending):
        if ident == id(value):
            del pending[i]
            return call
    for i, (_, call) in enumerate(pending):
        fn, args, kwargs = call
        shape = args[0] if args else kwargs.get("shape")
        if shape is not None and is_shape(shape, layer):
            del pending[i]
            return call
    return None


def _names(x: Any) -> tuple | None:
    """The axis names a box (``nn.Partitioned``) or its metadata gives, if any."""
    names = getattr(x, "names", None)
    if names is None:
        metadata = getattr(x, "metadata", None)  # nnx's VariableMetadata
        names = metadata.get("out_sharding") if isinstance(metadata, dict) else None
    return _tuple_or_none(names)


def _tuple_or_none(names: Any) -> tuple | None:
    return tuple(names) if isinstance(names, tuple | list) else None


def _stacked_axes(
    shape: tuple[int, ...], layer: tuple[int, ...], names: tuple = (None, None)
) -> tuple[int, ...]:
    """The axes whose removal from ``shape`` leaves ``layer``, leading ones first.

    Stacking transforms add axes without telling the parameter which. Where
    the stored leaf and its layer carry axis names (``nn.Partitioned`` boxes
    under ``nn.scan(metadata_params={nn.PARTITION_NAME: ...})``, nnx
    ``out_sharding`` under ``nnx.transform_metadata``) the axes are those the
    stack's names add: a MaxText stack on axis 1 whose size equals a layer's
    dimension is found. Otherwise the first combination in lexicographic order
    is taken (``nnx.vmap``'s default ``out_axes=0`` is the leading axis), so
    only stacks whose sizes repeat a layer's dimension next to it are
    ambiguous, and then leading axes win.
    """
    stored, own = names
    k = len(shape) - len(layer)
    fits = [
        axes
        for axes in itertools.combinations(range(len(shape)), k)
        if tuple(d for i, d in enumerate(shape) if i not in axes) == layer
    ]
    if stored is not None and own is not None and len(stored) == len(shape):
        named = [
            axes
            for axes in fits
            if tuple(n for i, n in enumerate(stored) if i not in axes) == own
        ]
        fits = named[:1] + fits
    if fits:
        return fits[0]
    raise _errors.bad_value(
        "model", f"parameters whose stored shape {shape} contains its layer's", layer
    )


@contextlib.contextmanager
def _recording_nnx_calls():
    from flax import nnx
    from flax.nnx import variablelib

    patched = []
    for cls in _nnx_classes():
        wrapped = _wrap_constructor(cls)
        if wrapped is not None:
            patched.append((cls, wrapped[0]))
            cls.__init__ = wrapped[1]  # type: ignore[misc]
    original_variable_init = variablelib.Variable.__init__

    def variable_init(self, value, *args, **metadata):
        # nnx.with_metadata (nnx.with_partitioning, jf.nnx_partitioning) wraps
        # the initializer's value in a VariableMetadata: the value is its raw one.
        raw = getattr(value, "raw_value", value)
        if (
            isinstance(self, nnx.Param)
            and "jinit_call" not in metadata
            and hasattr(raw, "shape")
        ):
            claimed = _claim(value, raw)
            layer = tuple(int(d) for d in np.shape(raw))
            if claimed is not None:
                if raw is not value:
                    claimed = _unwrapped(claimed)
                init, shape, why = declared_call(*claimed, layer)
                names = _names(value) or metadata.get("out_sharding")
                metadata["jinit_call"] = _Call(
                    "",
                    "",
                    "",
                    (),
                    init,
                    shape,
                    layer,
                    undeclared=why,
                    names=tuple(names) if names else None,
                )
        original_variable_init(self, value, *args, **metadata)

    with _LOCK:
        _PENDING.calls = []
        variablelib.Variable.__init__ = variable_init  # type: ignore[method-assign]
        try:
            yield
        finally:
            variablelib.Variable.__init__ = original_variable_init  # type: ignore[method-assign]
            for cls, original in patched:
                cls.__init__ = original  # type: ignore[misc]
            _PENDING.calls = None


def nnx(make_model: Any) -> Any:
    """``nnx.eval_shape(make_model)``, each ``Param``'s value signed."""
    from flax import nnx as _nnx

    with _recording_nnx_calls():
        model = _nnx.eval_shape(make_model)
    if not isinstance(model, _nnx.Module):
        raise _errors.bad_type(
            "model", "a function that returns a flax.nnx.Module", type(model).__name__
        )
    nodes = dict(_nnx.iter_graph(model))
    signatures, variables = {}, {}
    for path, node in nodes.items():
        if not isinstance(node, _nnx.Variable):
            continue
        if not node.has_metadata("jinit_call"):
            if isinstance(node, _nnx.Param):
                _mark_undeclared(node)
            continue
        call = node.get_metadata("jinit_call")
        parents = [nodes.get(path[:i]) for i in range(len(path))]
        classes = [type(p) for p in parents if isinstance(p, _nnx.Module)]
        owner = classes[-1] if classes else type(model)
        call = dataclasses.replace(
            call,
            stacked=_stacked_axes(
                tuple(node.get_value().shape),
                call.layer,
                (_tuple_or_none(node.get_metadata("out_sharding", None)), call.names),
            ),
            name=str(path[-1]),
            owner=str(path[-2]) if len(path) > 1 else "",
            module=_qualname(owner),
            parents=tuple(_qualname(c) for c in classes[:-1]),
            cell=next((_qualname(c) for c in classes if _is_rnn_cell(c)), ""),
        )
        key = "/".join(str(p) for p in path)
        signatures[key] = _signature(call)
        variables[key] = node
    for key, sig in with_layer_fans(signatures, "kernel").items():
        node = variables[key]
        node.del_metadata("jinit_call")
        value = node.get_value()
        node.set_value(_signed(value, sig, _sharding(node, value)))
    return model


def _sharding(node: Any, value: Any) -> Any:
    """The value's sharding, else that of the Variable's ``out_sharding`` metadata.

    As ``nnx.as_abstract`` gives it (Flax's eager sharding off, or an ``Auto``
    mesh): on the Variable's ``mesh``, else the context mesh; None where no
    mesh is known (drawn unsharded, as Flax makes it).
    """
    from flax.nnx import spmd

    if value.sharding is not None or not node.get_metadata("out_sharding", None):
        return value.sharding
    mesh = node.get_metadata("mesh", None) or jax.sharding.get_abstract_mesh()
    spec = spmd.get_var_pspec(node)
    if mesh.empty or spec is None:
        return None
    return jax.sharding.NamedSharding(mesh, spec)


_FROM_ARRAY = (
    "its module set it from an array (nnx.Param(array)), not from an initializer "
    "argument (`*_init`) of a flax.nnx layer, so no initializer was declared for it"
)


def _mark_undeclared(node: Any) -> None:
    value = node.get_value()
    if type(value) is jax.ShapeDtypeStruct:
        node.set_value(
            Undeclared(
                value.shape, value.dtype, sharding=value.sharding, why=_FROM_ARRAY
            )
        )
