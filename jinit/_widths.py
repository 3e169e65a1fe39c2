"""Width inference: which axes of each leaf are width, from two models' call shapes.

An axis is width where the base model (the tuned width) and the target model
differ (with a ``delta`` model: where the base and the delta differ). A width
axis is either a fan axis of one matrix (``d_model``, an MLP's or an expert's
hidden size, heads) or an **expert axis**: the number of experts, a batch-like
width (each expert is its own matrix with its own fans; see
:mod:`jinit._experts`). The fan multipliers decide μP's role of a weight
(hidden: fan-in and fan-out width; readout: fan-in only; input: fan-out only);
the expert axes change no fan, so they change no multiplier. A router's fan-out
is its number of experts: its role is that of its fan-in alone (a readout of
``d_model`` when ``d_model`` widens; finite when only the experts do).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from . import _errors, _tree
from ._experts import call_expert_axes, fan_axes
from ._signature import Signature


class _FindByShape:
    """The default of ``readout=``: found by shape, an error if none is."""

    def __repr__(self) -> str:
        return "BY_SHAPE"


#: ``readout=``'s default: the weights whose fan-in only is width.
BY_SHAPE: Any = _FindByShape()

UNSIGNED = (
    " (its leaves carry no call shapes, as model.init's or eval_shape's: "
    "build base and target with jinit.flax.abstract)"
)


class Width(NamedTuple):
    """What the width inference found for one leaf (call-shape axes)."""

    role: str  # jinit.mup's width role (_roles.WIDTH_ROLES)
    infinite: tuple[int, ...]  # the call axes that are width (fans and experts)
    fan_in_mult: float
    fan_out_mult: float
    width_mult: float
    expert_mult: float = 1.0  # target / base of the call's expert axes


def leaf_specs(tree: Any, stacked: Mapping[str, Any] | None, arg: str):
    """``({path: (spec, signature)}, unsigned paths)`` of a tree's leaves."""
    leaves, _ = _tree.flatten(tree)
    sigs = _tree.signatures(leaves, stacked)
    out, unsigned = {}, set()
    for leaf, sig in zip(leaves, sigs, strict=True):
        if leaf.spec is None:
            raise _errors.bad_type(
                f"{arg} leaf {leaf.path!r}",
                "a jax.ShapeDtypeStruct, an array or a Flax box holding one",
                leaf.leaf,
            )
        if sig is None:
            sig = Signature(tuple(int(d) for d in leaf.spec.shape))
            unsigned.add(leaf.path)
        out[leaf.path] = (leaf.spec, sig)
    if not out:
        raise _errors.bad_value(
            arg, "a model tree with at least one parameter (jinit.flax.abstract)", tree
        )
    return out, unsigned


def check_same_paths(arg: str, base: Mapping[str, Any], other: Mapping[str, Any]):
    """Refuses ``other`` unless it has exactly ``base``'s leaf paths."""
    missing = sorted(set(base) - set(other))
    extra = sorted(set(other) - set(base))
    if missing or extra:
        raise _errors.bad_value(
            arg,
            "a tree with the leaf paths of `base` (build the base at the target's "
            "depth, or stack the layers with nn.scan)",
            f"missing {missing[:10]}, extra {extra[:10]}",
        )


def path_regex(arg: str, value: Any) -> re.Pattern[str] | None:
    """``value`` compiled (a path regex), or None for None and :data:`BY_SHAPE`."""
    if value is None or value is BY_SHAPE:
        return None
    if not isinstance(value, str):
        raise _errors.bad_type(arg, "a path regex string or None", value)
    return _tree.compile_regex(arg, value, "a valid regex")


def no_readout() -> ValueError:
    """The error of a model with width but no readout found or named."""
    return _errors.bad_value(
        "readout",
        "given where no weight's fan-in alone is width: name the readout "
        "with readout=r'...' (e.g. a tied embedding r'.*embed/embedding'), "
        "or say the model has none with readout=None",
        "no readout found",
    )


def classify(
    path: str,
    base: Signature,
    target: Signature,
    delta: Signature | None,
    named_readout: bool,
    hint: str = "",
    router: bool = False,
) -> Width:
    """The leaf's :class:`Width`; a router's fan-out axes are its experts."""
    b, t = base.shape, target.shape
    d = b if delta is None else delta.shape
    ref = t if delta is None else d
    if not len(b) == len(t) == len(d):
        raise _errors.bad_value(
            f"target leaf {path!r}",
            f"a call shape of the base's rank, {b}{hint}",
            t if len(t) != len(b) else d,
        )
    infinite = tuple(a for a in range(len(b)) if b[a] != ref[a])
    mult = [t[a] / b[a] if a in infinite else 1.0 for a in range(len(b))]
    if len(b) < 2:
        m = math.prod(mult)
        role = "vector" if infinite else "finite"
        if named_readout:
            raise _errors.bad_value(
                "readout", "a regex naming weights of 2 or more dimensions", path
            )
        return Width(role, infinite, 1.0, 1.0, m)
    ins, outs = fan_axes(target)
    experts = outs if router else call_expert_axes(target)
    other = [a for a in infinite if a not in ins + outs + experts]
    if other:
        raise _errors.bad_value(
            f"target leaf {path!r}",
            f"a weight whose width axes are fan-in, fan-out or expert axes{hint}",
            f"width on axes {tuple(other)} of the call shape {t}",
        )
    ins = tuple(a for a in ins if a not in experts)
    outs = tuple(a for a in outs if a not in experts)
    fi = math.prod(mult[a] for a in ins)
    fo = math.prod(mult[a] for a in outs)
    em = math.prod(mult[a] for a in experts)
    in_inf = any(a in infinite for a in ins)
    out_inf = any(a in infinite for a in outs)

    def width(role: str, m: float) -> Width:
        return Width(role, infinite, fi, fo, m, em)

    if named_readout:
        if in_inf and not out_inf:
            return width("readout", fi)
        if base.role == "embedding" and out_inf and not in_inf:
            return width("readout", fo)  # a readout tied to it
        if not in_inf and not out_inf:
            # The base width (or depth alone): the shapes cannot tell a readout,
            # every multiplier of a relative variant is 1 (MuSharedReadout too).
            return width("readout", 1.0)
        raise _errors.bad_value(
            "readout",
            "a regex naming weights whose fan-in (only) is width, or a tied embedding",
            f"{path!r} with width axes {infinite} of {t}",
        )
    if in_inf and out_inf:
        return width("hidden", fi)
    if in_inf:
        return width("readout", fi)
    if out_inf:
        return width("input", fo)
    return width("finite", 1.0)
