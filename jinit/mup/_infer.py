"""Width inference: each parameter's role and multipliers from two abstract models."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .. import _errors, _roles, _widths
from .._signature import Signature
from .._widths import BY_SHAPE
from ._plan import Param, Parametrization
from ._relative import SP
from ._variant import Depths, Leaf, Variant
from ._variants import variant_of

#: The width multipliers a :class:`Param` takes from its leaf's ``LeafRole``.
_MULTS = ("width_mult", "fan_in_mult", "fan_out_mult")


def _kind(sig: Signature, role: str) -> str:
    """unit-scaling's ``mup_type`` of a parameter."""
    if role == "readout":
        return "output"
    if len(sig.shape) >= 2:
        return "weight"
    return "norm" if sig.role == "scale" else "bias"


def _layer_count(spec: Any, sig: Signature, experts: tuple[int, ...]) -> int:
    """The number of stacked layers of a leaf, its stacked experts left out."""
    shape = tuple(spec.shape)
    return math.prod(shape[a] for a in sig.stacked if a not in experts)


def _depth_mult(base, target, in_block: Mapping[str, bool], experts) -> float:
    """``L / L_base`` from the stacked axes of the block leaves, if they agree."""
    ratios = set()
    for path, blocked in in_block.items():
        (bspec, bsig), (tspec, tsig) = base[path], target[path]
        if not blocked or not tsig.stacked:
            continue
        nb = _layer_count(bspec, bsig, experts[path])
        nt = _layer_count(tspec, tsig, experts[path])
        ratios.add(nt / nb)
    if len(ratios) != 1:
        raise _errors.bad_value(
            "depth_mult",
            "given where the blocks' stacked sizes do not give one L / L_base",
            None,
        )
    return ratios.pop()


def _layers(target, in_block: Mapping[str, bool], experts) -> int | None:
    """The number of stacked layers of the target's block leaves, if they agree."""
    counts = {
        _layer_count(spec, sig, experts[path])
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
    roles and the rules of each variant. A mixture of experts' number of
    experts (a ``(E, d, f)`` expert kernel's E, ``nn.vmap``-ed experts beside a
    router, the router's fan-out) is a batch-like width: it changes no fan, so
    no multiplier (:attr:`jinit.roles` ``expert_mult`` reports it); the expert
    hidden size is a fan axis; a router's role is its fan-in's (a readout when
    ``d_model`` widens: its logits × ``1 / m`` under Table 8, in
    :attr:`Parametrization.readout_multipliers`). The plan keeps the target's shapes
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
        different paths or ranks, a width axis that is neither a fan nor an
        expert axis, a ``readout`` that names no readout-like weight, no readout.

    Example:
      >>> class LM(nn.Module):
      ...     width: int
      ...     @nn.compact
      ...     def __call__(self, x):
      ...         h = nn.Dense(self.width)(nn.Embed(100, self.width)(x))
      ...         return nn.Dense(100, name="lm_head")(nn.relu(h))
      >>> tokens = jnp.zeros((2, 8), dtype=jnp.int32)
      >>> base = jinit.flax.abstract(LM(width=64), tokens)
      >>> target = jinit.flax.abstract(LM(width=1024), tokens)
      >>> mp = jinit.mup.parametrize(base, target)
      >>> params = jinit.materialize(target, key, mp.rules(jinit.flax.defaults("flax")))
      >>> tx = mp.adam(3e-3)                     # μP Adam: per-parameter LR and eps
      >>> print(jinit.mup.format_table(mp.table()))  # doctest: +SKIP
    """
    var = variant_of(
        variant,
        alpha=alpha,
        depth_mult=depth_mult,
        depth=depth,
        readout_constraint=readout_constraint,
    )
    blocks_re = _roles.path_regex("blocks", blocks)
    leaves, b, t = _roles.infer(base, target, delta, readout, stacked)
    in_block = {
        p: bool(blocks_re.fullmatch(p)) if blocks_re else bool(t[p][1].stacked)
        for p in t
    }
    experts = {leaf.path: leaf.expert_axes for leaf in leaves}
    plan_depth_mult, layers = var.depths(
        Depths(
            lambda: _depth_mult(b, t, in_block, experts),
            lambda: _layers(t, in_block, experts),
            blocks,
            any(in_block.values()),
        )
    )
    params = []
    for leaf in leaves:
        path, role = leaf.path, leaf.width_role
        bsig, tsig = b[path][1], t[path][1]
        assert role is not None
        if role == "readout":
            var.check_readout(path, bsig)
        kind = _kind(tsig, role)
        mults = {f: getattr(leaf, f) for f in _MULTS}
        width = Leaf(role, kind, tsig, **mults, in_block=in_block[path])
        rule = var.rule(width, plan_depth_mult, layers)
        params.append(
            Param(
                path=path,
                role=role,
                infinite=leaf.infinite,
                base_shape=bsig.shape,
                shape=tsig.shape,
                in_block=in_block[path],
                kind=kind,
                **mults,
                **rule,
            )
        )
    _check_found_readout(var, params, readout)
    return Parametrization(
        variant=var,
        params=tuple(params),
        depth_mult=float(plan_depth_mult),
        base={p: b[p][0] for p in b},
        target={p: t[p][0] for p in t},
        roles=_roles.Roles(
            tuple(leaves),
            readout_known=readout is not BY_SHAPE
            or any(p.role == "readout" for p in params),
        ),
    )


def _check_found_readout(var: Variant, params: list[Param], readout: Any) -> None:
    """No readout where one matters: an error unless ``readout=None`` was said."""
    if readout is not BY_SHAPE or var.init == "base" or not var.needs_readout:
        return
    if any(p.role == "readout" for p in params):
        return
    if var.absolute or any(p.infinite for p in params):
        raise _widths.no_readout()


def identity() -> Parametrization:
    """Standard parametrization with no parameters: the multipliers of SP.

    For building a model before its parametrization exists (its abstract shapes
    do not depend on the multipliers).
    """
    return Parametrization(variant=SP(), params=(), depth_mult=1.0)
