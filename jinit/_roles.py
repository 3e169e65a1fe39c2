"""Roles: what each parameter is, read once from the signatures (and two widths).

One :class:`LeafRole` per leaf says what a parameter does in its model: a
module's weight (``"hidden"``, ``"input"``, ``"readout"``), a mixture of
experts' ``"router"`` (:mod:`jinit._experts`), an ``"embedding"`` table, a norm ``"scale"``, a ``"bias"``, another ``"vector"``, or an
``"other"`` array of 2+ dimensions whose name says nothing (an SSM's ``A_log``,
a user's expert tensor, LoRA factors, a Flax ``Einsum`` kernel, whose
contraction is in its equation). It also gives the stored axes of its fans, the axes
stacking added, and, given a narrower ``base`` model, the width axes and
multipliers ``jinit.mup`` rescales by. Optimizers route by it
(:func:`jinit.optim.muon`), and :class:`Roles` turns it into label, mask and
value trees for any optax chain (``optax.partition``, ``mask=``).

The fans come from the call shape the module declared (:class:`jinit.Signature`):
a ``DenseGeneral`` kernel ``(512, 8, 64)`` has fan-in axis 0 and fan-out axes
(1, 2); an ``nn.scan``-stacked kernel ``(12, 256, 256)`` has its layers on axis
0; an Equinox ``Linear`` weight ``(out, in)`` its fan-in on axis 1.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax

from . import _errors, _tree
from ._experts import (
    EQUATION_MODULES,
    call_expert_axes,
    expert_of,
    fan_axes,
    is_conv,
    routers,
    short,
)
from ._signature import Signature, role_of_name
from ._widths import (
    BY_SHAPE,
    UNSIGNED,
    Width,
    check_same_paths,
    classify,
    leaf_specs,
    no_readout,
    path_regex,
)

#: The roles of :class:`LeafRole` (``LeafRole.role``).
ROLES: tuple[str, ...] = (
    "embedding",
    "input",
    "hidden",
    "readout",
    "norm",
    "bias",
    "vector",
    "router",
    "other",
)
#: The width roles (``LeafRole.width_role``, ``jinit.mup.Param.role``).
WIDTH_ROLES: tuple[str, ...] = ("input", "hidden", "readout", "vector", "finite")

_WEIGHTS = ("kernel", "recurrent_kernel")
_BIASES = ("bias", "recurrent_bias")
_NNX_VALUE = "/value"  # nnx.Optimizer's state paths: a Variable's value


@dataclasses.dataclass(frozen=True)
class LeafRole:
    """What one parameter is: its role, and its axes as stored.

    Attributes:
      path: the leaf's path (``"params/Dense_0/kernel"``).
      role: one of :data:`ROLES`.
      shape: the stored shape.
      fan_in_axes, fan_out_axes: the stored axes of the fans of one layer (a
        ``DenseGeneral`` kernel ``(512, 8, 64)``: ``(0,)`` and ``(1, 2)``); ()
        below two call dimensions.
      receptive_axes: the other axes of one layer: a convolution's window, an
        expert axis (``(E, d, f)`` declared in one call).
      stacked_axes: the axes stacking added (``nn.scan``, ``nn.vmap``, ...).
      width_axes: the stored axes that are width (they differ from the base
        model's): fan axes and expert axes; () without a base.
      expert_axes: the stored axes that index experts: a ``(E, d, f)`` call's
        E, the stacked axis of ``nn.vmap``-ed experts beside a router, a
        router's fan-out (its logits, one per expert).
      conv: whether the owning module is a convolution (its receptive axes are
        a window, not independent matrices).
      module: the qualified class name of the owning module, or "".
      width_role: ``jinit.mup``'s role by width (:data:`WIDTH_ROLES`), None
        without a base.
      infinite: the width axes of the call shape.
      fan_in_mult, fan_out_mult, width_mult: target / base of the width fans
        of one matrix (``jinit.mup.Param``'s), 1 without a base. The expert
        axes are no fan: each expert is its own matrix.
      expert_mult: target / base of the number of experts, 1 without a base.
        A batch-like width: no μP multiplier depends on it (per-expert fans are
        unchanged; a token's output sums its top-k experts, k fixed).
    """

    path: str
    role: str
    shape: tuple[int, ...]
    fan_in_axes: tuple[int, ...] = ()
    fan_out_axes: tuple[int, ...] = ()
    receptive_axes: tuple[int, ...] = ()
    stacked_axes: tuple[int, ...] = ()
    width_axes: tuple[int, ...] = ()
    conv: bool = False
    module: str = ""
    width_role: str | None = None
    infinite: tuple[int, ...] = ()
    fan_in_mult: float = 1.0
    fan_out_mult: float = 1.0
    width_mult: float = 1.0
    expert_axes: tuple[int, ...] = ()
    expert_mult: float = 1.0
    signature: Signature | None = dataclasses.field(
        default=None, compare=False, repr=False
    )


@dataclasses.dataclass(frozen=True)
class Roles(Mapping[str, LeafRole]):
    """Every leaf's :class:`LeafRole`, by path; from :func:`roles`.

    A read-only mapping ``{path: LeafRole}``. Its trees (:meth:`tree`,
    :meth:`labels`, :meth:`mask`) follow any tree of the model's paths: the
    model's variables, the subtree under one top-level key
    (``variables["params"]``) or ``nnx.Optimizer``'s state, as optax hands
    them to a ``mask=`` or ``optax.partition``'s labels.

    Attributes:
      leaves: one :class:`LeafRole` per leaf, in the tree's order.
      readout_known: whether the readout was found (by width) or named
        (``readout=`` a regex or None): routing needs it.
    """

    leaves: tuple[LeafRole, ...]
    readout_known: bool = True

    def __getitem__(self, path: str) -> LeafRole:
        for leaf in self.leaves:
            if leaf.path == path:
                return leaf
        raise _errors.bad_value("path", "the path of a parameter of the model", path)

    def __iter__(self) -> Iterator[str]:
        return iter(leaf.path for leaf in self.leaves)

    def __len__(self) -> int:
        return len(self.leaves)

    def __hash__(self) -> int:
        return hash(self.leaves)

    def lookup(self, paths: Sequence[str]) -> list[LeafRole]:
        """The :class:`LeafRole` of each path of a tree of (a subtree of) the model."""
        return lookup({leaf.path: leaf for leaf in self.leaves}, paths)

    def tree(self, tree: Any, values: Callable[[LeafRole], Any]) -> Any:
        """A tree like ``tree`` holding ``values(leaf_role)`` at each leaf."""
        flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
        found = self.lookup([_tree.path_string(k) for k, _ in flat])
        return jax.tree_util.tree_unflatten(treedef, [values(r) for r in found])

    def by_role(self, values: Mapping[str, Any], default: Any = None) -> Callable:
        """``params -> tree`` of ``values[role]`` per leaf (``default`` for others).

        E.g. per-role learning-rate or weight-decay factors. A role not in
        ``values`` with ``default=None`` is an error naming the leaf.
        """
        values = _role_mapping("values", values)

        def pick(leaf: LeafRole) -> Any:
            if leaf.role in values:
                return values[leaf.role]
            if default is None:
                raise _errors.bad_value(
                    "values",
                    f"a mapping with a value for role {leaf.role!r} (leaf "
                    f"{leaf.path!r}), or a default",
                    sorted(values),
                )
            return default

        return lambda params: self.tree(params, pick)

    def labels(self, params: Any) -> Any:
        """The role of each leaf of ``params``: ``optax.partition``'s labels."""
        return self.tree(params, lambda leaf: leaf.role)

    def mask(self, *role_names: str, exclude: Sequence[str] = ()) -> Callable:
        """``params -> bool tree``, True where the role is one of ``role_names``.

        With ``exclude``: True everywhere but those roles. For optax's masks:
        ``optax.adamw(lr, weight_decay=0.1, mask=r.mask(exclude=("norm",
        "bias", "vector")))`` decays no norm, bias or vector (an SSM's
        ``dt_bias``, a 1-D ``A_log``).
        """
        if bool(role_names) == bool(exclude):
            raise _errors.bad_value(
                "role_names", "some roles, or exclude= some roles (one of them)", None
            )
        chosen = set(_role_mapping("role_names", dict.fromkeys(role_names or exclude)))
        inside = bool(role_names)
        return lambda params: self.tree(
            params, lambda leaf: (leaf.role in chosen) == inside
        )


def _role_mapping(arg: str, values: Any) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise _errors.bad_type(arg, "a mapping from role to value", values)
    for role in values:
        if role not in ROLES:
            raise _errors.bad_choice(arg, role, ROLES)
    return dict(values)


def lookup(by_path: Mapping[str, Any], paths: Sequence[str]) -> list[Any]:
    """The entries of ``by_path`` for the paths of a tree of (a subtree of) the model.

    The tree's paths are the model's, or all of them under one top-level key
    (``variables["params"]`` for linen variables); nnx.Optimizer's
    ``.../value`` paths are those of the Variables.
    """
    prefixes = [""] + sorted({p.split("/")[0] + "/" for p in by_path})
    names = [list(paths)]
    if paths and all(p.endswith(_NNX_VALUE) for p in paths):
        names.append([p.removesuffix(_NNX_VALUE) for p in paths])
    for candidates in names:
        for prefix in prefixes:
            if all(prefix + p in by_path for p in candidates):
                return [by_path[prefix + p] for p in candidates]
    unknown = [p for p in paths if p not in by_path][:10]
    raise _errors.bad_value(
        "params",
        "a tree with the parametrized model's leaf paths (or those under one "
        "top-level key, such as variables['params'])",
        f"unknown paths {unknown}",
    )


# ----------------------------------------------------------------------------
# Axes as stored.


def _groups(
    layer: tuple[int, ...], call: tuple[int, ...]
) -> list[tuple[int, ...]] | None:
    """The axes of one stored layer that each call axis reshapes (row-major)."""
    groups, i = [], 0
    for c in call:
        group, p = [], 1
        while i < len(layer) and (p < c or (c == 1 and not group and layer[i] == 1)):
            group.append(i)
            p *= layer[i]
            i += 1
        if p != c:
            return None
        groups.append(tuple(group))
    if any(layer[j] != 1 for j in range(i, len(layer))):
        return None
    if groups:
        groups[-1] += tuple(range(i, len(layer)))
    return groups


def _stored_axes(path: str, sig: Signature, shape: tuple[int, ...]):
    """``(fan_in, fan_out, receptive, stored)`` stored axes of a leaf's layer.

    ``stored(call_axes)`` maps call axes to the stored axes they reshape.
    """
    if len(sig.shape) < 2:
        return (), (), (), lambda call_axes: ()
    layer = sig.layer_shape(shape)
    groups = _groups(layer, sig.shape)
    if groups is None:
        raise _errors.bad_value(
            f"signature of {path!r}",
            f"a call shape that merges adjacent axes of one stored layer {layer}",
            sig.shape,
        )
    where = [a for a in range(len(shape)) if a not in sig.stacked]
    ins, outs = fan_axes(sig)

    def stored(call_axes):
        return tuple(sorted(where[j] for a in call_axes for j in groups[a]))

    rest = [a for a in range(len(sig.shape)) if a not in ins and a not in outs]
    return stored(ins), stored(outs), stored(rest), stored


def _role(sig: Signature, name: str, width_role: str | None, how: str) -> str:
    """The leaf's role; ``how``: "readout" (named), "router", "expert" or ""."""
    kind = sig.role or role_of_name(name)
    if kind in _BIASES:
        return "bias"
    if kind == "scale":
        return "norm"
    if len(sig.shape) < 2:
        return "vector"
    if how in ("readout", "router"):
        return how
    if width_role == "readout" and how != "expert":
        return "readout"
    if kind == "embedding":
        return "embedding"
    if kind not in _WEIGHTS or short(sig.module) in EQUATION_MODULES:
        return "other"
    return "input" if width_role == "input" else "hidden"


def leaf_role(
    path: str,
    spec: Any,
    sig: Signature,
    width: Width | None = None,
    shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None,
    named_readout: bool = False,
    experts: tuple[tuple[int, ...], bool] = ((), False),
) -> LeafRole:
    """The :class:`LeafRole` of one leaf.

    ``width`` is :func:`classify`'s, ``shapes`` the stored ``(base, ref)``
    shapes (``ref``: the delta's, else the base's), ``experts`` the stored
    stacked axes that index experts and whether the leaf is a router.
    """
    shape = tuple(int(d) for d in spec.shape)
    ins, outs, rest, stored = _stored_axes(path, sig, shape)
    stacked_experts, router = experts
    w = width or Width(None, (), 1.0, 1.0, 1.0)  # type: ignore[arg-type]
    call_experts = fan_axes(sig)[1] if router else call_expert_axes(sig)
    expert_axes = tuple(sorted(stored(call_experts) + stacked_experts))
    width_axes, em = (), w.expert_mult
    if shapes is not None and len(shapes[1]) == len(shape):
        base_shape, ref = shapes
        moved = [a for a in stacked_experts if ref[a] != shape[a]]
        em *= math.prod(shape[a] / base_shape[a] for a in moved)
        width_axes = tuple(
            a
            for a in range(len(shape))
            if (a not in sig.stacked or a in moved) and ref[a] != shape[a]
        )
    if named_readout:
        how = "readout"
    else:
        how = "router" if router else "expert" if expert_axes else ""
    return LeafRole(
        path=path,
        role=_role(sig, path.rsplit("/", 1)[-1], w.role, how),
        shape=shape,
        fan_in_axes=ins,
        fan_out_axes=outs,
        receptive_axes=rest,
        stacked_axes=tuple(sig.stacked),
        width_axes=width_axes,
        conv=is_conv(sig.module),
        module=sig.module,
        width_role=w.role,
        infinite=w.infinite,
        fan_in_mult=w.fan_in_mult,
        fan_out_mult=w.fan_out_mult,
        width_mult=w.width_mult,
        expert_axes=expert_axes,
        expert_mult=em,
        signature=sig,
    )


def _experts(specs: Mapping[str, Any]) -> dict[str, tuple[tuple[int, ...], bool]]:
    """``{path: (stacked expert axes, is a router)}`` of a tree's leaves."""
    found = routers(specs)
    return {p: (expert_of(p, specs, found), p in found) for p in specs}


def one_model(
    tree: Any, readout: Any = BY_SHAPE, stacked: Mapping[str, Any] | None = None
) -> list[LeafRole]:
    """The leaf roles of one model (no width facts)."""
    readout_re = path_regex("readout", readout)
    t, _ = leaf_specs(tree, stacked, "tree")
    experts = _experts(t)
    out = []
    for path, (spec, sig) in t.items():
        named = readout_re is not None and bool(readout_re.fullmatch(path))
        if named and len(sig.shape) < 2:
            raise _errors.bad_value(
                "readout", "a regex naming weights of 2 or more dimensions", path
            )
        out.append(
            leaf_role(path, spec, sig, named_readout=named, experts=experts[path])
        )
    _check_named(readout_re, out, readout)
    return out


def _check_named(readout_re: Any, leaves: list[LeafRole], readout: Any) -> None:
    if readout_re is not None and not any(
        readout_re.fullmatch(leaf.path) for leaf in leaves
    ):
        raise _errors.bad_value("readout", "a regex matching a leaf path", readout)


def infer(
    base: Any,
    target: Any,
    delta: Any = None,
    readout: Any = BY_SHAPE,
    stacked: Mapping[str, Any] | None = None,
) -> tuple[list[LeafRole], dict[str, Any], dict[str, Any]]:
    """``(leaf roles, base, target)`` with each leaf's width role by :func:`classify`.

    ``base`` and ``target`` are :func:`leaf_specs`' ``{path: (spec, signature)}``.
    The errors are ``jinit.mup.parametrize``'s, in its order: base leaves,
    target leaves, paths, delta.
    """
    readout_re = path_regex("readout", readout)
    b, unsigned = leaf_specs(base, stacked, "base")
    t, _ = leaf_specs(target, stacked, "target")
    check_same_paths("target", b, t)
    dl = None
    if delta is not None:
        dl, _ = leaf_specs(delta, stacked, "delta")
        check_same_paths("delta", b, dl)
    experts = _experts(t)
    out = []
    for path in b:
        named = readout_re is not None and bool(readout_re.fullmatch(path))
        (bspec, bsig), (tspec, tsig) = b[path], t[path]
        width = classify(
            path,
            bsig,
            tsig,
            None if dl is None else dl[path][1],
            named,
            UNSIGNED if path in unsigned else "",
            router=experts[path][1],
        )
        ref = bspec if dl is None else dl[path][0]
        shapes = tuple(int(d) for d in bspec.shape), tuple(int(d) for d in ref.shape)
        out.append(leaf_role(path, tspec, tsig, width, shapes, named, experts[path]))
    _check_named(readout_re, out, readout)
    return out, b, t


def roles(
    tree: Any,
    *,
    base: Any = None,
    delta: Any = None,
    readout: Any = BY_SHAPE,
    stacked: Mapping[str, Any] | None = None,
) -> Roles:
    """Every parameter's role and axes, from the call shapes of an abstract model.

    Reads each leaf's :class:`jinit.Signature` (``jinit.flax.abstract``,
    ``jinit.equinox.abstract``, ``jinit.haiku.abstract``): a module's weight
    (``kernel``, ``w``, Equinox's ``weight``, a cell's recurrent kernel) is
    ``"hidden"``, an embedding table ``"embedding"``, a norm's scale
    ``"norm"``, a bias ``"bias"``, any other 0-D/1-D leaf ``"vector"``, a
    mixture of experts' router (named as one, ``.../gate/kernel``, with its
    experts beside it: :mod:`jinit._experts`) ``"router"``, with or without
    ``base``, and any other leaf of 2+ dimensions ``"other"`` (its name says no role; an
    optimizer that routes by role refuses it until named). Leaves of a plain
    tree are read by their names (``kernel``, ``embedding``, ``scale``, ...),
    stacked as ``stacked=`` says.

    One model's shapes cannot tell the readout from a hidden weight: name it
    (``readout=r".*lm_head/kernel"``; None: the model has none, or its
    readout is the tied embedding), or give ``base=``, the same model at a
    narrower width, and the readout is found as ``jinit.mup`` finds it (the
    weights whose fan-in alone is width; a router or an expert is never the
    readout), ``"input"`` the weights whose fan-out alone is width, and each
    leaf gets its width axes and multipliers. Width axes are fan axes or
    expert axes (the number of experts: a ``(E, d, f)`` call's E, ``nn.vmap``-ed
    experts' stack, a router's fan-out), which change no fan (each expert is
    its own matrix): ``LeafRole.expert_mult`` reports them, no μP multiplier
    depends on them.

    Args:
      tree: the abstract model (its ``params``, or all its variables).
      base: optionally, the same model at the base width.
      delta: optionally, a third model whose differences from ``base`` mark the
        width axes (as ``jinit.mup.parametrize``).
      readout: a path regex (``re.fullmatch``) naming readout weights; None for
        none; default: found by width (with ``base``), else unknown
        (:attr:`Roles.readout_known` False).
      stacked: stacked axes by path regex for plain trees, as for
        :func:`jinit.materialize`.

    Returns:
      :class:`Roles`.

    Raises:
      ValueError: an empty tree, a base or delta with other paths or ranks, a
        width axis that is neither a fan nor an expert axis, a ``readout`` that names
        no leaf or a vector, or (with ``base``) width but no readout found.

    Example:
      >>> class Net(nn.Module):
      ...     @nn.compact
      ...     def __call__(self, x):
      ...         return nn.Dense(10, name="head")(nn.Dense(32)(x))
      >>> model, x = Net(), jnp.ones((2, 8))
      >>> r = jinit.roles(jinit.flax.abstract(model, x), readout=r".*head/kernel")
      >>> r["params/Dense_0/kernel"].role, r["params/Dense_0/kernel"].fan_in_axes
      ('hidden', (0,))
      >>> tx = optax.adamw(1e-3, weight_decay=0.1,
      ...                  mask=r.mask(exclude=("norm", "bias", "vector")))
    """
    if base is None:
        if delta is not None:
            raise _errors.bad_value("delta", "None without a base", delta)
        leaves = one_model(tree, readout, stacked)
    else:
        leaves, _, _ = infer(base, tree, delta, readout, stacked)
    known = readout is not BY_SHAPE
    if base is not None and readout is BY_SHAPE:
        known = True
        if not any(leaf.role == "readout" for leaf in leaves) and any(
            leaf.infinite for leaf in leaves
        ):
            raise no_readout()
    return Roles(tuple(leaves), readout_known=known)
