"""Each ``equinox.nn`` layer's parameters as signed leaves; ``init``, ``reinit``, ``table``."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from .. import _checks, _errors, _tree
from .._constant import Constant, ones, zeros
from .._distributions import Normal, Uniform
from .._signature import Abstract, Signature, role_of_name
from .._tree import qualname

# ----------------------------------------------------------------------------
# Signatures from the layers' fields.


def _qualname(cls: type) -> str:
    return qualname(cls, (("equinox.nn.", "equinox.nn"),))


@dataclasses.dataclass(frozen=True)
class _Param:
    """What a layer's field holds: one layer's stored shape and its signature."""

    layer: tuple[int, ...] | None  # None: any shape (drawn as stored, unstacked)
    in_axis: int = -2
    out_axis: int = -1
    init: Any = None
    role: str = ""
    fan_in: float | None = None
    fan_out: float | None = None
    cell: bool = False


#: The roles of a Linear/Conv weight and of any bias (``"weight"`` itself is
#: not decided by name: it is a norm's scale and an Embedding's table too).
_KERNEL, _BIAS = role_of_name("kernel"), role_of_name("bias")


def _uniform(lim: float) -> Uniform:
    """Equinox's ``default_init``: U(-lim, lim)."""
    return Uniform(-lim, lim)


def _linear(m: Any) -> dict[str, _Param]:
    fan_in = 1 if m.in_features == "scalar" else m.in_features
    fan_out = 1 if m.out_features == "scalar" else m.out_features
    law = _uniform(1.0 if fan_in == 0 else 1 / math.sqrt(fan_in))
    return {
        "weight": _Param((fan_out, fan_in), -1, -2, law, _KERNEL, fan_in, fan_out),
        "bias": _Param(
            (fan_out,), init=law, role=_BIAS, fan_in=fan_in, fan_out=fan_out
        ),
    }


def _conv(m: Any) -> dict[str, _Param]:
    import equinox as eqx

    k = math.prod(m.kernel_size)
    grouped = m.in_channels // m.groups
    law = _uniform(1 / math.sqrt(grouped * k))
    fan_out = m.out_channels * k
    if isinstance(m, eqx.nn.ConvTranspose):
        # Each input feeds out/groups * k outputs: PyTorch's fan_in of the same
        # layer (its ConvTranspose weight is (in, out / groups, *k)).
        fan_out = m.out_channels // m.groups * k
    fan_in = grouped * k
    weight = (m.out_channels, grouped, *m.kernel_size)
    bias = (m.out_channels,) + (1,) * m.num_spatial_dims
    return {
        "weight": _Param(weight, 1, 0, law, _KERNEL, fan_in, fan_out),
        "bias": _Param(bias, init=law, role=_BIAS, fan_in=fan_in, fan_out=fan_out),
    }


def _embedding(m: Any) -> dict[str, _Param]:
    shape = (m.num_embeddings, m.embedding_size)
    fans = (m.embedding_size, m.num_embeddings)
    embedding = role_of_name("embedding")
    return {"weight": _Param(shape, -1, -2, Normal(1.0), embedding, *fans)}


def _cell(m: Any, gates: int) -> dict[str, _Param]:
    h, n = m.hidden_size, m.input_size
    law = _uniform(math.sqrt(1 / h))
    g = gates * h
    out = {
        "weight_ih": _Param((g, n), -1, -2, law, role_of_name("weight_ih"), n, g),
        "weight_hh": _Param((g, h), -1, -2, law, role_of_name("weight_hh"), h, g),
        "bias": _Param((g,), init=law, role=_BIAS, fan_in=n, fan_out=g),
        # GRUCell's bias of the candidate's recurrent term (PyTorch's b_hn).
        "bias_n": _Param(
            (h,), init=law, role=role_of_name("bias_n"), fan_in=h, fan_out=g
        ),
    }
    return {k: dataclasses.replace(v, cell=True) for k, v in out.items()}


def _norm(shape: Any) -> dict[str, _Param]:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return {
        "weight": _Param(shape, init=ones, role=role_of_name("scale")),
        "bias": _Param(shape, init=zeros, role=_BIAS),
    }


def _params(m: Any) -> dict[str, _Param] | None:
    """The parameters of an ``equinox.nn`` layer by field, or None for other modules."""
    import equinox as eqx

    nn = eqx.nn
    if isinstance(m, nn.Linear):
        return _linear(m)
    if isinstance(m, nn.Conv | nn.ConvTranspose):
        return _conv(m)
    if isinstance(m, nn.Embedding):
        return _embedding(m)
    if isinstance(m, nn.GRUCell):
        return _cell(m, 3)
    if isinstance(m, nn.LSTMCell):
        return _cell(m, 4)
    if isinstance(m, nn.LayerNorm | nn.RMSNorm):
        return _norm(m.shape)
    if isinstance(m, nn.GroupNorm):
        return {} if m.channels is None else _norm(m.channels)
    if isinstance(m, nn.BatchNorm):
        return _norm(m.input_size)
    if isinstance(m, nn.PReLU):
        # eqx.nn.PReLU(init_alpha=0.25), torch.nn.PReLU(init=0.25).
        slope = role_of_name("negative_slope")
        return {"negative_slope": _Param(None, init=Constant(0.25), role=slope)}
    return None


def _is_arraylike(x: Any) -> bool:
    return isinstance(x, jax.Array | np.ndarray | jax.ShapeDtypeStruct)


def _is_param(x: Any) -> bool:
    """A float (or complex) array: a parameter. Integer and bool arrays (a step
    counter, a mask) are buffers, as in PyTorch, and pass through unchanged."""
    return _is_arraylike(x) and np.issubdtype(x.dtype, np.inexact)


def _rule_hint(path: str, rules: str) -> str:
    """A rule for ``path`` put before ``rules``, as an error's suggestion."""
    return f"{{r{re.escape(path)!r}: jinit.normal(0.02), **{rules}}}"


@dataclasses.dataclass
class _Found:
    """The signed parameters of a model, and the leaves derived from them."""

    signatures: dict[str, Signature]
    # WeightNorm: path of g -> (path of the weight, the WeightNorm, stacked dims).
    derived: dict[str, tuple[str, Any, int]]


def _signature_for(
    module: Any, spec: _Param, shape: tuple[int, ...], parents, path: str
) -> Signature:
    if spec.layer is None:
        layer, stacked = shape, ()
    else:
        k = len(shape) - len(spec.layer)
        if k < 0 or shape[k:] != spec.layer:
            raise _errors.bad_value(
                f"leaf {path!r}",
                f"an array of its layer's shape {spec.layer} (with leading "
                "stacked axes, as eqx.filter_vmap makes them)",
                shape,
            )
        layer, stacked = spec.layer, tuple(range(k))
    qualified = _qualname(type(module))
    return Signature(
        shape=layer,
        stacked=stacked,
        in_axis=spec.in_axis,
        out_axis=spec.out_axis,
        init=spec.init,
        module=qualified,
        parents=parents,
        role=spec.role,
        cell=qualified if spec.cell else "",
        fan_in=spec.fan_in,
        fan_out=spec.fan_out,
    )


def _walk(node: Any, prefix: tuple, parents: tuple[str, ...], found: _Found) -> None:
    """Signs the arrays ``node`` owns and recurses into its sub-modules."""
    import equinox as eqx

    is_module = isinstance(node, eqx.Module)
    if isinstance(node, eqx.nn.StateIndex):
        return  # state, made by eqx.nn.make_with_state: not a parameter
    params = _params(node) if is_module else None
    inner = parents + ((_qualname(type(node)),) if is_module else ())
    flat, _ = jax.tree_util.tree_flatten_with_path(
        node, is_leaf=lambda x: x is not node and isinstance(x, eqx.Module)
    )
    for rel, child in flat:
        key_path = prefix + tuple(rel)
        if isinstance(child, eqx.Module):
            _walk(child, key_path, inner, found)
            continue
        if not _is_arraylike(child):
            continue
        path = _tree.path_string(key_path)
        field = _tree.path_string(rel[:1])
        if isinstance(node, eqx.nn.WeightNorm) and field == "g":
            weight = _tree.path_string(
                prefix + (jax.tree_util.GetAttrKey("layer"),)
            ) + ("/" + node.weight_name)
            found.derived[path] = (weight, node, 0)
            continue
        if params is not None and field in params and len(rel) == 1:
            shape = tuple(int(d) for d in child.shape)
            found.signatures[path] = _signature_for(
                node, params[field], shape, parents, path
            )
        # Arrays of other modules (a user's own fields) are left unsigned: their
        # layout is not known, and they are drawn as stored.


def _find(model: Any) -> _Found:
    found = _Found({}, {})
    _walk(model, (), (), found)
    for path, (weight, wn, _) in list(found.derived.items()):
        sig = found.signatures.get(weight)
        stacked = 0 if sig is None else len(sig.stacked)
        found.derived[path] = (weight, wn, stacked)
    return found


def _leaves(model: Any) -> tuple[list[tuple[str, Any]], Any]:
    flat, treedef = jax.tree_util.tree_flatten_with_path(model)
    return [(_tree.path_string(p), x) for p, x in flat], treedef


def _abstract(x: Any, signature: Signature | None) -> Any:
    sharding = getattr(x, "sharding", None)
    if signature is None:
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)
    return Abstract(x.shape, x.dtype, sharding=sharding, signature=signature)


def _check_model(model: Any) -> None:
    import equinox as eqx

    leaves = jax.tree_util.tree_leaves(
        model, is_leaf=lambda x: isinstance(x, eqx.Module)
    )
    if not any(isinstance(x, eqx.Module) for x in leaves):
        raise _errors.bad_type(
            "model",
            "an equinox.Module (or a pytree of them), concrete or from "
            "eqx.filter_eval_shape",
            model,
        )


def abstract(model: Any) -> dict[str, Any]:
    """Every parameter of an Equinox model, by path, with its init signature.

    Returns a flat dict from path (``"layers/0/weight"``, as
    ``jinit.materialize`` names leaves) to :class:`jinit.Abstract` for the
    parameters of the ``equinox.nn`` layers (Linear, Conv/ConvTranspose 1-3D,
    Embedding, GRUCell, LSTMCell, the Linear projections of MultiheadAttention,
    LayerNorm, RMSNorm, GroupNorm, BatchNorm, PReLU), and to a plain
    ``jax.ShapeDtypeStruct`` for the array fields of other modules (whose
    layout is not known); integer and bool arrays (a step counter, a mask) are
    buffers, not parameters, and are not listed. Each signature has the shape Equinox draws the
    parameter with (``Linear.weight``: ``(out, in)``, fan-in on the last axis;
    a conv weight ``(out, in / groups, *k)``, fan axes 1 and 0), the stacked
    axes (the leading axes beyond the layer's shape that
    ``eqx.filter_vmap(make_layer)(keys)`` adds), Equinox's own law, its module
    and role. ``eqx.nn.StateIndex`` state and a ``WeightNorm``'s ``g`` are not
    parameters and are not listed.

    Args:
      model: an ``equinox.Module`` (or pytree of them), concrete or from
        ``eqx.filter_eval_shape``.

    Returns:
      ``{path: jinit.Abstract | jax.ShapeDtypeStruct}``, in the model's leaf order.

    Raises:
      TypeError: ``model`` holds no Equinox module.
      ValueError: a layer's array does not have its layer's shape.

    Example:
      >>> model = eqx.filter_eval_shape(eqx.nn.MLP, 2, 1, 64, 2, key=key)
      >>> rules = jinit.equinox.defaults("torch")
      >>> params = jinit.materialize(jinit.equinox.abstract(model), key, rules)
    """
    _check_model(model)
    found = _find(model)
    state = _state_paths(model)
    out = {}
    for path, x in _leaves(model)[0]:
        if not _is_param(x) or path in found.derived or path in state:
            continue
        out[path] = _abstract(x, found.signatures.get(path))
    return out


def _state_paths(model: Any) -> set[str]:
    import equinox as eqx

    paths: set[str] = set()
    flat, _ = jax.tree_util.tree_flatten_with_path(
        model, is_leaf=lambda x: isinstance(x, eqx.nn.StateIndex)
    )
    for p, x in flat:
        if isinstance(x, eqx.nn.StateIndex):
            for q, _ in jax.tree_util.tree_flatten_with_path(x)[0]:
                paths.add(_tree.path_string(tuple(p) + tuple(q)))
    return paths


def _fill(
    model: Any,
    key: Any,
    rules: Any,
    *,
    default: Any,
    stacked: Mapping[str, Any] | None,
    progress: bool | None,
    redraw: bool,
) -> Any:
    _checks.check_key(key)
    _check_model(model)
    found = _find(model)
    state = _state_paths(model)
    named, treedef = _leaves(model)
    abstract_state = sorted(
        p for p, x in named if p in state and isinstance(x, jax.ShapeDtypeStruct)
    )
    if abstract_state:
        raise _errors.bad_value(
            "model",
            "a model whose eqx.nn.StateIndex state is concrete (jinit draws "
            "parameters only; build the model, or its state, eagerly)",
            f"abstract state leaves: {abstract_state[:10]}",
        )
    leaves, index = [], []
    for i, (path, x) in enumerate(named):
        if _is_param(x) and path not in found.derived and path not in state:
            spec = _abstract(x, found.signatures.get(path))
            leaves.append(_tree.Leaf(path, x, spec))
            index.append(i)
    if not redraw and default is None:
        _check_covered(leaves, rules)
    planned = _tree.plan_leaves(
        leaves,
        rules,
        default=default,
        stacked=stacked,
        keep_unmatched=redraw,
        key=key,
    )
    kept_abstract = [
        p.path
        for p, leaf in zip(planned, leaves, strict=True)
        if p.init is None and isinstance(leaf.leaf, jax.ShapeDtypeStruct)
    ]
    if kept_abstract:
        raise _errors.bad_value(
            "model",
            "a concrete model (reinit keeps unmatched leaves as they are; for "
            "an abstract one use jinit.equinox.init)",
            f"abstract leaves no rule matches: {kept_abstract[:10]}",
        )
    drawn = _tree.draw_plan(planned, key, progress)
    values = [x for _, x in named]
    by_path = {}
    for j, array in drawn.items():
        values[index[j]] = array
        by_path[leaves[j].path] = array
    positions = {path: i for i, (path, _) in enumerate(named)}
    for path, (weight, wn, k) in found.derived.items():
        if weight in by_path:  # g = ||weight||, as WeightNorm(layer) sets it
            values[positions[path]] = _weight_norm(wn, by_path[weight], k)
    return jax.tree_util.tree_unflatten(treedef, values)


def _check_covered(leaves: list[Any], rules: Any) -> None:
    """Every parameter matches a rule; else an error suggesting one for them."""
    compiled = _tree.compile_rules(rules)
    missing = [
        leaf.path for leaf in leaves if _tree.match_rule(compiled, leaf.path)[1] is None
    ]
    if missing:
        hint = _rule_hint(missing[0], "rules")
        raise ValueError(
            f"{_tree.unmatched_error(missing)} Add a rule for each, e.g. {hint}."
        )


def _weight_norm(wn: Any, weight: jax.Array, stacked: int) -> jax.Array:
    """``g`` of a WeightNorm whose weight is ``weight``, per stacked layer."""
    norm = wn._norm
    for _ in range(stacked):
        norm = jax.vmap(norm)
    return norm(weight)


def init(
    model: Any,
    key: jax.Array,
    rules: Any,
    *,
    default: Callable[..., Any] | None = None,
    stacked: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> Any:
    """Draws every parameter of an Equinox model by path rules.

    The parameters are those of :func:`abstract`; each is drawn as
    ``jinit.materialize`` draws it (its key from the root key and its path, the
    first rule whose regex fully matches its path, ``default`` otherwise),
    through its signature: any jinit initializer gets the layer's fans
    (``he_normal`` on a ``Conv2d`` weight ``(out, in, kh, kw)`` reads fan_in
    ``in * kh * kw``), and a stack of layers made with ``eqx.filter_vmap`` is
    drawn layer by layer. The model may be abstract (``eqx.filter_eval_shape``).
    Non-array leaves pass through; a ``WeightNorm``'s ``g`` is recomputed from
    its new weight; ``eqx.nn.StateIndex`` state is kept (it must be concrete).

    Args:
      model: an ``equinox.Module`` (or pytree of them).
      key: the root PRNG key.
      rules: an ordered mapping from path regex to initializer (e.g.
        :func:`defaults`).
      default: the initializer of parameters no rule matches.
      stacked: stacked axes by path regex, for unsigned arrays.
      progress: a progress bar, as for ``jinit.materialize``.

    Returns:
      A module of the same structure, its parameters drawn.

    Raises:
      ValueError: parameters no rule matches (all listed), abstract state.
      TypeError: ``model`` holds no Equinox module, a bad rule.

    Example:
      >>> model = eqx.filter_eval_shape(eqx.nn.MLP, 2, 1, 64, 2, key=key)
      >>> model = jinit.equinox.init(model, key, jinit.equinox.defaults("torch"))
    """
    return _fill(
        model,
        key,
        rules,
        default=default,
        stacked=stacked,
        progress=progress,
        redraw=False,
    )


def reinit(
    model: Any,
    key: jax.Array,
    rules: Any,
    *,
    stacked: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> Any:
    """Redraws the parameters a rule matches; every other leaf is kept bit for bit.

    As :func:`init` for the matched parameters (a redrawn leaf equals what
    ``init`` gives it for the same key); unmatched leaves are the same objects.

    Example:
      >>> model = eqx.filter_eval_shape(eqx.nn.MLP, 2, 1, 64, 2, key=key)
      >>> model = jinit.equinox.init(model, key, jinit.equinox.defaults("torch"))
      >>> model = jinit.equinox.reinit(model, key, {r"layers/2/.*": jinit.zeros})
      >>> float(abs(model.layers[2].weight).max())
      0.0
    """
    return _fill(
        model,
        key,
        rules,
        default=None,
        stacked=stacked,
        progress=progress,
        redraw=True,
    )


def table(
    model: Any,
    rules: Any,
    *,
    default: Callable[..., Any] | None = None,
    stacked: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One row per parameter: what :func:`init` draws (``jinit.flax.table``'s rows).

    Example:
      >>> model = eqx.filter_eval_shape(eqx.nn.MLP, 2, 1, 64, 2, key=key)
      >>> rules = jinit.equinox.defaults("torch")
      >>> print(jinit.format_table(jinit.equinox.table(model, rules)))  # doctest: +SKIP
      >>> len(jinit.equinox.table(model, rules))  # 3 weights, 3 biases
      6
    """
    return _tree.table(abstract(model), rules, default=default, stacked=stacked)
