"""The leaf plan: which initializer each leaf gets, how it is drawn, checked in Python.

:func:`plan_leaves` is the one place that decides, for every leaf, the rule
that matched, the initializer (after ``for_leaf``), the signature (how the
module calls it) and the :class:`LeafDraw` (what is drawn, in which shape).
``materialize``, ``reinit`` and ``table`` read the plan; nothing re-derives it.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Sharding

from .. import _caches, _checks, _errors, _signature
from .._base import Init
from .._signature import Signature
from .._variance import VarianceScaling
from . import _paths, _rules
from ._paths import Leaf


class LayoutWarning(UserWarning):
    """Fans read off stored shapes where the model's layout was not given."""


class LeafDraw(NamedTuple):
    """How a leaf's values are drawn (:func:`jinit._signature.plan`).

    ``init`` is drawn once in ``shape`` (a variance scaling adapted to read its
    fans per layer), or, if ``per_layer``, called once per layer with the
    signature's call shape; the values are then laid out as stored.
    """

    init: Any
    shape: tuple[int, ...]
    per_layer: bool


@dataclasses.dataclass(frozen=True)
class Planned:
    """What one leaf gets: the plan ``materialize``, ``reinit`` and ``table`` share.

    ``rule`` is the regex that matched (``"default"`` for ``default=``), or None
    for a leaf that is kept as it is (``reinit``'s unmatched leaves); ``init`` is
    the initializer after ``for_leaf``; ``signature`` how the module calls it;
    ``draw`` how it is drawn (None for a kept leaf).
    """

    index: int
    path: str
    rule: str | None
    init: Any
    shape: tuple[int, ...]
    dtype: np.dtype
    signature: Signature | None
    sharding: Sharding | None
    draw: LeafDraw | None = None


def leaf_draw(init: Any, sig: Signature | None, shape: tuple[int, ...]) -> LeafDraw:
    """How ``init`` fills a stored leaf of ``shape`` (as stored without a signature)."""
    if sig is None:
        return LeafDraw(init, shape, False)
    return LeafDraw(*_signature.plan(init, sig, shape))


def planned_leaf(path: str, init: Any, spec: Any) -> Planned:
    """The plan of one leaf ``spec`` drawn by ``init``, unchecked (for its law)."""
    sig = _signature.signature_of(spec)
    shape = tuple(int(d) for d in spec.shape)
    draw = leaf_draw(init, sig, shape)
    return Planned(0, path, None, init, shape, np.dtype(spec.dtype), sig, None, draw)


def _like_signatures(leaves: list[Leaf], like: Any) -> list[Signature | None]:
    """The signatures of ``like`` (an abstract tree of the same paths and shapes)."""
    theirs = {leaf.path: leaf.spec for leaf in _paths.nonempty(like, "like")[0]}
    missing = [leaf.path for leaf in leaves if leaf.path not in theirs]
    extra = sorted(set(theirs) - {leaf.path for leaf in leaves})
    if missing or extra:
        raise _errors.bad_value(
            "like",
            "an abstract tree with exactly the leaf paths of `tree` "
            "(jinit.flax.abstract of the same model)",
            f"missing {missing[:10]}, unknown {extra[:10]}",
        )
    out = []
    for leaf in leaves:
        spec = theirs[leaf.path]
        if spec is None or (
            leaf.spec is not None and tuple(spec.shape) != tuple(leaf.spec.shape)
        ):
            raise _errors.bad_value(
                f"like[{leaf.path!r}]",
                f"a leaf of the tree's shape {getattr(leaf.spec, 'shape', None)}",
                getattr(spec, "shape", spec),
            )
        out.append(_signature.signature_of(spec))
    return out


def _stacked_signature(leaf: Leaf, axes: Any, sig: Signature | None) -> Signature:
    """``stacked=``'s axes: a plain leaf's layers, or a signed leaf's more batch axes."""
    assert leaf.spec is not None
    shape = tuple(leaf.spec.shape)
    try:
        if sig is None:
            return _signature.stacked_signature(shape, axes)
        return _signature.with_stacked(sig, shape, axes)
    except ValueError as e:
        raise with_path(e, leaf.path, axes) from None


def signatures(
    leaves: list[Leaf], stacked: Mapping[str, Any] | None, like: Any = None
) -> list[Signature | None]:
    """Each leaf's signature: its own, ``like``'s, else one from ``stacked``."""
    if like is not None:
        if stacked is not None:
            raise _errors.bad_value(
                "stacked", "None when `like` gives the layouts", stacked
            )
        return _like_signatures(leaves, like)
    if stacked is None:
        return [_signature.signature_of(leaf.spec) for leaf in leaves]
    if not isinstance(stacked, Mapping):
        raise _errors.bad_type(
            "stacked", "a mapping from path regex to stacked axes", stacked
        )
    compiled = [(_rules.compile_regex("stacked key", p), a) for p, a in stacked.items()]
    before, out = [], []
    for leaf in leaves:
        sig = _signature.signature_of(leaf.spec)
        before.append(sig)
        if leaf.spec is not None:
            _, axes = _rules.match_rule(compiled, leaf.path)
            if axes is not None:
                sig = _stacked_signature(leaf, axes, sig)
        out.append(sig)
    return _stacked_bias_fans(leaves, before, out)


def _stacked_bias_fans(
    leaves: list[Leaf], before: list[Signature | None], after: list[Signature | None]
) -> list[Signature | None]:
    """A bias stacked with its kernel gets the kernel's per-layer fans.

    A bias records its layer's fans (its kernel's, e.g. ``(E * in, E * out)``
    for a MoE kernel made by one call); once ``stacked=`` makes the layers (or
    experts) batch axes, its layer is one of them: the fans of its sibling
    kernel (same parent path, the matching role and recorded fans) as stacked.
    A bias whose kernel is not stacked keeps the whole kernel's fans.
    """
    siblings: dict[str, list[int]] = {}
    for j, leaf in enumerate(leaves):
        siblings.setdefault(leaf.path.rpartition("/")[0], []).append(j)
    out = list(after)
    for i, (old, new) in enumerate(zip(before, after, strict=True)):
        if new is None or old is None or new is old or old.fan_in is None:
            continue
        role = _signature.layer_kernel_role(new.role)
        if role is None:
            continue
        kernels = [
            k
            for j in siblings[leaves[i].path.rpartition("/")[0]]
            if (k := after[j]) is not None
            and (b := before[j]) is not None
            and k is not b
            and b.role == role
            and (b.fan_in, b.fan_out) == (old.fan_in, old.fan_out)
        ]
        if len(kernels) == 1:
            k = kernels[0]
            out[i] = dataclasses.replace(new, fan_in=k.fan_in, fan_out=k.fan_out)
    return out


def shardings_by_path(shardings: Any, leaves: list[Leaf]) -> list[Any]:
    """One Sharding (or None) per leaf: a matching tree, a path function, or own."""
    if shardings is None:
        return [_own_sharding(leaf) for leaf in leaves]
    if callable(shardings) and not isinstance(shardings, Sharding):
        out = [shardings(leaf.path) for leaf in leaves]
        for leaf, s in zip(leaves, out, strict=True):
            if s is not None and not isinstance(s, Sharding):
                raise _errors.bad_type(
                    f"shardings({leaf.path!r})", "a jax.sharding.Sharding or None", s
                )
        return [
            concrete_sharding(s, f"shardings({leaf.path!r})")
            for leaf, s in zip(leaves, out, strict=True)
        ]
    flat, _ = jax.tree_util.tree_flatten_with_path(
        shardings,
        is_leaf=lambda x: x is None or isinstance(x, Sharding) or _paths.is_box(x),
    )
    given = {}
    for p, s in flat:
        if _paths.is_box(s):
            inner = jax.tree_util.tree_leaves(s, is_leaf=lambda x: x is None)
            s = inner[0] if inner else None
        if s is not None and not isinstance(s, Sharding):
            raise _errors.bad_type(
                "shardings",
                "a tree of jax.sharding.Sharding (or None) matching `tree`, or a "
                "function of the path",
                s,
            )
        given[_paths.path_string(p)] = s
    paths = [leaf.path for leaf in leaves]
    missing = [p for p in paths if p not in given]
    extra = sorted(set(given) - set(paths))
    if missing or extra:
        raise _errors.bad_value(
            "shardings",
            "a tree with exactly the leaf paths of `tree`",
            f"missing {missing[:10]}, unknown {extra[:10]}",
        )
    return [concrete_sharding(given[p], f"shardings[{p!r}]") for p in paths]


def _own_sharding(leaf: Leaf) -> Sharding | None:
    sharding = getattr(leaf.spec, "sharding", None)
    if not isinstance(sharding, Sharding):
        return None
    return concrete_sharding(sharding, f"tree leaf {leaf.path!r}")


def concrete_sharding(sharding: Any, arg: str) -> Any:
    """``sharding`` on devices: one on an ``AbstractMesh`` goes to the context mesh.

    ``nnx.eval_shape`` under ``jax.set_mesh`` gives abstract leaves whose
    ``NamedSharding`` is on the abstract mesh (no devices); they are drawn on
    the mesh ``jax.set_mesh`` sets, which must have the same axes.
    """
    mesh = getattr(sharding, "mesh", None)
    if not isinstance(mesh, jax.sharding.AbstractMesh):
        return sharding
    context = jax.sharding.get_mesh()
    if context.empty or context.abstract_mesh != mesh:
        raise _errors.bad_value(
            arg,
            "a sharding on devices, or one on an abstract mesh (nnx.eval_shape "
            "under jax.set_mesh) drawn under jax.set_mesh of a mesh with its axes "
            f"({'none set' if context.empty else f'the mesh set is {context}'})",
            sharding,
        )
    return jax.sharding.NamedSharding(context, sharding.spec)


def with_path(e: Exception, path: str, init: Any) -> Exception:
    """``e`` again, its message naming the leaf and the initializer."""
    return type(e)(f"{e} (leaf {path!r}, initializer {init!r})")


def _has_default_axes(init: Any) -> bool:
    return isinstance(init, VarianceScaling) and (
        init.in_axis,
        init.out_axis,
        init.batch_axis,
    ) == (-2, -1, ())


def _check_stacked_layout(init: Any, sig: Signature, path: str) -> None:
    """``stacked=`` gives the layers, not how a layer of 3+ axes is read."""
    if len(sig.shape) >= 3 and sig.module == "" and _has_default_axes(init):
        raise _errors.bad_value(
            f"stacked[{path!r}]",
            "a layout jinit can read: a stacked layer of 3+ axes "
            f"{sig.shape} has no known fan axes (a DenseGeneral kernel and a conv "
            "kernel look alike). Pass like=jinit.flax.abstract(model, x) (the "
            "model's own layout), or an initializer with explicit in_axis/out_axis",
            init,
        )


def _check_leaf(
    init: Any, leaf: Leaf, key: Any, sig: Signature | None, from_stacked: bool
) -> tuple[tuple[int, ...], np.dtype, LeafDraw]:
    """Checks one (initializer, leaf) pair in Python, before anything is traced."""
    if leaf.spec is None:
        raise _errors.bad_type(
            f"tree leaf {leaf.path!r}",
            "a jax.ShapeDtypeStruct, an array or a Flax Variable holding one",
            leaf.leaf,
        )
    shape = tuple(leaf.spec.shape)
    try:
        if sig is not None:
            if from_stacked:
                _check_stacked_layout(init, sig, leaf.path)
            _signature.check(sig, shape, leaf.path)
        draw = leaf_draw(init, sig, shape)
        call_shape = sig.shape if sig is not None and draw.per_layer else shape
        if isinstance(init, Init):
            dtype = _checks.resolve_dtype(
                leaf.spec.dtype, init._default_dtype(), init.dtype_kind
            )
            init._check(call_shape, dtype)
        else:
            dtype = np.dtype(leaf.spec.dtype)
            out = jax.eval_shape(lambda k: init(k, call_shape, dtype), key)
            if not (
                isinstance(out, jax.ShapeDtypeStruct)
                and out.shape == call_shape
                and out.dtype == dtype
            ):
                raise _errors.bad_value(
                    "initializer",
                    f"a callable returning an array of shape {call_shape} and dtype "
                    f"{dtype} for this leaf",
                    out,
                )
    except (ValueError, TypeError) as e:
        raise with_path(e, leaf.path, init) from None
    return shape, dtype, draw


def _warn_guessed_layouts(planned: list[Planned]) -> None:
    guessed = [
        p.path
        for p in planned
        if p.signature is None and len(p.shape) >= 3 and _has_default_axes(p.init)
    ]
    if guessed:
        shown = ", ".join(repr(p) for p in guessed[:3])
        more = f" and {len(guessed) - 3} more" if len(guessed) > 3 else ""
        warnings.warn(
            f"{len(guessed)} leaves of 3+ dimensions ({shown}{more}) take their "
            "fans from the stored shape's last two axes; if any is stacked "
            "(nn.scan, vmap) or reshaped (DenseGeneral), pass "
            "jinit.flax.abstract(...) (or like= to reinit) or stacked={regex: "
            "axes}; stacked={} says the stored layouts are right.",
            LayoutWarning,
            stacklevel=4,
        )


@_caches.registered
@functools.cache
def _abstract_key() -> jax.ShapeDtypeStruct:
    """A key to check initializers with (made on first use: importing jinit must
    not start JAX's backends, so ``jax.distributed.initialize`` can still run)."""
    return jax.eval_shape(lambda: jax.random.key(0))


def _signed_spec(spec: Any, sig: Signature | None) -> Any:
    if sig is None or _signature.signature_of(spec) is sig:
        return spec
    return _signature.Abstract(
        spec.shape, spec.dtype, sharding=getattr(spec, "sharding", None), signature=sig
    )


def plan_leaves(
    leaves: list[Leaf],
    rules: _rules.Rules,
    *,
    default: Any = None,
    shardings: Any = None,
    stacked: Mapping[str, Any] | None = None,
    like: Any = None,
    keep_unmatched: bool = False,
    key: Any = None,
) -> list[Planned]:
    """The plan of every leaf, checked in Python; raises where a draw would fail.

    Unmatched leaves are an error (listing them all), or, with
    ``keep_unmatched``, planned with ``rule=None`` and ``init=None``.
    """
    compiled = _rules.compile_rules(rules)
    if default is not None:
        _rules.check_rule("default", default)
    matched = [_rules.match_rule(compiled, leaf.path) for leaf in leaves]
    if default is not None:
        matched = [
            (r, i) if i is not None else ("default", default) for r, i in matched
        ]
    unmatched = [
        leaf.path for leaf, (_, i) in zip(leaves, matched, strict=True) if i is None
    ]
    if unmatched and not keep_unmatched:
        raise _rules.unmatched_error(unmatched)
    if unmatched and len(unmatched) == len(leaves):
        raise _errors.bad_value(
            "rules",
            "a mapping whose regexes match at least one leaf path",
            [leaf.path for leaf in leaves][:50],
        )
    signed = signatures(leaves, stacked, like)
    per_leaf = shardings_by_path(shardings, leaves)
    # Every leaf as for_leaf rules see it: signed when it has a signature.
    specs = {
        leaf.path: _signed_spec(leaf.spec, sig)
        for leaf, sig in zip(leaves, signed, strict=True)
        if leaf.spec is not None
    }
    check_key = _abstract_key() if key is None else key
    planned = []
    for i, (leaf, (rule, init), sig, sharding) in enumerate(
        zip(leaves, matched, signed, per_leaf, strict=True)
    ):
        if init is None:
            kept = Planned(i, leaf.path, None, None, (), np.dtype("V"), sig, None)
            planned.append(kept)
            continue
        if _rules.is_rule(init):
            init = init.for_leaf(leaf.path, specs)
            _rules.check_rule(f"for_leaf({leaf.path!r})", init)
        from_stacked = stacked is not None and sig is not _signature.signature_of(
            leaf.spec
        )
        shape, dtype, draw = _check_leaf(init, leaf, check_key, sig, from_stacked)
        _checks.check_sharding(sharding, shape, f"shardings[{leaf.path!r}]")
        planned.append(
            Planned(i, leaf.path, rule, init, shape, dtype, sig, sharding, draw)
        )
    if stacked is None and like is None:
        _warn_guessed_layouts([p for p in planned if p.rule is not None])
    return planned
