"""Width inference: each parameter's role and multipliers from two abstract models."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .. import _checks, _errors, _tree
from .._signature import Signature
from ._plan import Param, Parametrization
from ._variants import SP, Leaf, Variant, variant_of


class _FindByShape:
    """The default of ``readout=``: found by shape, an error if none is."""

    def __repr__(self) -> str:
        return "BY_SHAPE"


#: ``parametrize``'s default ``readout``: the weights whose fan-in only is width.
BY_SHAPE: Any = _FindByShape()

_UNSIGNED = (
    " (its leaves carry no call shapes, as model.init's or eval_shape's: "
    "build base and target with jinit.flax.abstract)"
)


def _leaf_specs(tree: Any, stacked: Mapping[str, Any] | None, arg: str):
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


def _check_same_paths(arg: str, base: Mapping[str, Any], other: Mapping[str, Any]):
    missing = sorted(set(base) - set(other))
    extra = sorted(set(other) - set(base))
    if missing or extra:
        raise _errors.bad_value(
            arg,
            "a tree with the leaf paths of `base` (build the base at the target's "
            "depth, or stack the layers with nn.scan)",
            f"missing {missing[:10]}, extra {extra[:10]}",
        )


def _regex(arg: str, value: Any) -> re.Pattern[str] | None:
    if value is None or value is BY_SHAPE:
        return None
    if not isinstance(value, str):
        raise _errors.bad_type(arg, "a path regex string or None", value)
    try:
        return re.compile(value)
    except re.error as e:
        raise _errors.bad_value(arg, "a valid regex", f"{value!r} ({e})") from None


def _classify(
    path: str,
    base: Signature,
    target: Signature,
    delta: Signature | None,
    named_readout: bool,
    hint: str = "",
) -> tuple[str, tuple[int, ...], float, float, float]:
    """``(role, infinite axes, fan_in_mult, fan_out_mult, width_mult)``."""
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
        return role, infinite, 1.0, 1.0, m
    ins = _checks.check_axes("in_axis", target.in_axis, len(b))
    outs = _checks.check_axes("out_axis", target.out_axis, len(b))
    other = [a for a in infinite if a not in ins and a not in outs]
    if other:
        raise _errors.bad_value(
            f"target leaf {path!r}",
            f"a weight whose width axes are fan-in or fan-out axes{hint}",
            f"width on axes {tuple(other)} of the call shape {t}",
        )
    fi = math.prod(mult[a] for a in ins)
    fo = math.prod(mult[a] for a in outs)
    in_inf = any(a in infinite for a in ins)
    out_inf = any(a in infinite for a in outs)
    if named_readout:
        if in_inf and not out_inf:
            return "readout", infinite, fi, fo, fi
        if base.role == "embedding" and out_inf and not in_inf:
            return "readout", infinite, fi, fo, fo  # a readout tied to it
        if not infinite:
            # The base width (or depth alone): the shapes cannot tell a readout,
            # every multiplier of a relative variant is 1 (MuSharedReadout too).
            return "readout", infinite, fi, fo, 1.0
        raise _errors.bad_value(
            "readout",
            "a regex naming weights whose fan-in (only) is width, or a tied embedding",
            f"{path!r} with width axes {infinite} of {t}",
        )
    if in_inf and out_inf:
        return "hidden", infinite, fi, fo, fi
    if in_inf:
        return "readout", infinite, fi, fo, fi
    if out_inf:
        return "input", infinite, fi, fo, fo
    return "finite", infinite, fi, fo, 1.0


def _kind(sig: Signature, role: str) -> str:
    """unit-scaling's ``mup_type`` of a parameter."""
    if role == "readout":
        return "output"
    if len(sig.shape) >= 2:
        return "weight"
    return "norm" if sig.role == "scale" else "bias"


def _depth_mult(base, target, in_block: Mapping[str, bool]) -> float:
    """``L / L_base`` from the stacked axes of the block leaves, if they agree."""
    ratios = set()
    for path, blocked in in_block.items():
        (bspec, bsig), (tspec, tsig) = base[path], target[path]
        if not blocked or not tsig.stacked:
            continue
        nb = math.prod(bsig.layers(tuple(bspec.shape)))
        nt = math.prod(tsig.layers(tuple(tspec.shape)))
        ratios.add(nt / nb)
    if len(ratios) != 1:
        raise _errors.bad_value(
            "depth_mult",
            "given where the blocks' stacked sizes do not give one L / L_base",
            None,
        )
    return ratios.pop()


def _layers(target, in_block: Mapping[str, bool]) -> int | None:
    """The number of stacked layers of the target's block leaves, if they agree."""
    counts = {
        math.prod(sig.layers(tuple(spec.shape)))
        for path, (spec, sig) in target.items()
        if in_block[path] and sig.stacked
    }
    return counts.pop() if len(counts) == 1 else None


def parametrize(
    base: Any,
    target: Any,
    *,
    variant: str | Variant = "mup",
    delta: Any = None,
    readout: Any = BY_SHAPE,
    alpha: float | None = None,
    depth_mult: float | None = None,
    blocks: str | None = None,
    stacked: Mapping[str, Any] | None = None,
    depth: int | None = None,
    readout_constraint: str | None = None,
) -> Parametrization:
    r"""Infers every parameter's width role and multiplier; returns the μP plan.

    Compares, per parameter path, the call shapes of the base-width and the
    target-width models (``jinit.flax.abstract`` of each: nothing is
    allocated). An axis is width where they differ (with ``delta``: where the
    base and the delta model differ, as ``mup.set_base_shapes(delta=...)``;
    then ``m`` is still target over base). See the module docstring for the
    roles and the rules of each variant. The plan keeps the target's shapes
    and refuses any other tree.

    Args:
      base: the abstract model at the base (tuned) width.
      target: the abstract model at the width to train, same paths.
      variant: ``"sp"``, ``"mup"``, ``"mup_table3"``, ``"completep"``,
        ``"umup"``, or a record (``jinit.mup.CompleteP(alpha=0.5)``, ...).
      delta: optionally, a third abstract model whose differences from ``base``
        mark the width axes (when several sizes change together, e.g. heads and
        head dim).
      readout: a path regex (``re.fullmatch``) naming readout weights, besides
        those found by shape (fan-in only width). A tied embedding may be named
        (Table 8 only), at any width; at the base width a named weight is the
        readout (the shapes cannot tell). By default a plan that has width axes
        (or is u-μP's) must find a readout; ``readout=None`` says the model has
        none.
      alpha: CompleteP's depth exponent, ½ or 1 (``"completep"`` only).
      depth_mult: CompleteP's ``L / L_base`` (``"completep"`` only); default:
        inferred from the stacked axes of the block parameters.
      blocks: a path regex naming the residual blocks' parameters (CompleteP,
        u-μP); default: the stacked parameters.
      stacked: stacked axes by path regex for plain trees, as for
        :func:`jinit.materialize`.
      depth: u-μP's ``mup_scaling_depth`` of the block parameters
        (``"umup"`` only); default: the target's number of stacked block layers,
        or no depth factor when nothing is stacked and ``blocks`` is not given.
      readout_constraint: u-μP's SGD rule, None (the Adam rule) or
        ``"to_output_scale"`` (``"umup"`` only).

    Returns:
      A :class:`Parametrization`.

    Raises:
      ValueError: a bad variant or variant argument, empty trees or trees with
        different paths or ranks, a width axis that is neither fan-in nor
        fan-out, a ``readout`` that names no readout-like weight, no readout.

    Example:
      >>> base = jinit.flax.abstract(LM(width=64), tokens)
      >>> target = jinit.flax.abstract(LM(width=1024), tokens)
      >>> mp = jinit.mup.parametrize(base, target)
      >>> params = jinit.materialize(target, key, mp.rules(jinit.flax.defaults("flax")))
      >>> tx = mp.adam(3e-3)                     # μP Adam: per-parameter LR and eps
      >>> print(jinit.mup.format_table(mp.table()))
    """
    var = variant_of(
        variant,
        alpha=alpha,
        depth_mult=depth_mult,
        depth=depth,
        readout_constraint=readout_constraint,
    )
    readout_re = _regex("readout", readout)
    blocks_re = _regex("blocks", blocks)
    b, unsigned = _leaf_specs(base, stacked, "base")
    t, _ = _leaf_specs(target, stacked, "target")
    _check_same_paths("target", b, t)
    dl = None
    if delta is not None:
        dl, _ = _leaf_specs(delta, stacked, "delta")
        _check_same_paths("delta", b, dl)
    in_block = {
        p: bool(blocks_re.fullmatch(p)) if blocks_re else bool(t[p][1].stacked)
        for p in t
    }
    plan_depth_mult, layers = var.depths(
        lambda: _depth_mult(b, t, in_block),
        lambda: _layers(t, in_block),
        blocks,
        any(in_block.values()),
    )
    named = set()
    params = []
    for path in b:
        is_readout = readout_re is not None and bool(readout_re.fullmatch(path))
        named.update([path] if is_readout else [])
        bsig, tsig = b[path][1], t[path][1]
        role, inf, fi, fo, m = _classify(
            path,
            bsig,
            tsig,
            None if dl is None else dl[path][1],
            is_readout,
            _UNSIGNED if path in unsigned else "",
        )
        if role == "readout":
            var.check_readout(path, bsig)
        kind = _kind(tsig, role)
        leaf = Leaf(role, kind, tsig, m, fi, fo, in_block[path])
        params.append(
            Param(
                path=path,
                role=role,
                infinite=inf,
                base_shape=bsig.shape,
                shape=tsig.shape,
                fan_in_mult=fi,
                fan_out_mult=fo,
                width_mult=m,
                in_block=in_block[path],
                kind=kind,
                **var.rule(leaf, plan_depth_mult, layers),
            )
        )
    if readout_re is not None and not named:
        raise _errors.bad_value("readout", "a regex matching a leaf path", readout)
    _check_found_readout(var, params, readout)
    return Parametrization(
        variant=var,
        params=tuple(params),
        depth_mult=float(plan_depth_mult),
        base={p: b[p][0] for p in b},
        target={p: t[p][0] for p in t},
    )


def _check_found_readout(var: Variant, params: list[Param], readout: Any) -> None:
    """No readout where one matters: an error unless ``readout=None`` was said."""
    if readout is not BY_SHAPE or var.init == "base":
        return
    if any(p.role == "readout" for p in params):
        return
    if var.absolute or any(p.infinite for p in params):
        raise _errors.bad_value(
            "readout",
            "given where no weight's fan-in alone is width: name the readout "
            "with readout=r'...' (e.g. a tied embedding r'.*embed/embedding'), "
            "or say the model has none with readout=None",
            "no readout found",
        )


def identity() -> Parametrization:
    """Standard parametrization with no parameters: the multipliers of SP.

    For building a model before its parametrization exists (its abstract shapes
    do not depend on the multipliers).
    """
    return Parametrization(variant=SP(), params=(), depth_mult=1.0)
