r"""μP for JAX: widths inferred from two abstract models; init, optax and multipliers.

μP (the Maximal Update Parametrization, Tensor Programs V) makes the best
learning rate and init scale of a narrow proxy hold for the wide model. It is a
rule per parameter, by its role and its width multiplier ``m = width /
base_width``:

=========== ===================== ============== ============== ============
role        init std (Table 8)    Adam LR        SGD LR         forward
=========== ===================== ============== ============== ============
input       base                  1              m              1
vector      base                  1              m              1
hidden      base / sqrt(m_in)     1 / m_in       m_out / m_in   1
readout     base                  1              m              × 1 / m
finite      base                  1              1              1
=========== ===================== ============== ============== ============

"base" is the std the base rule set gives the parameter *at the base width*
(so a readout, a bias or an input layer keeps its base-width init whatever the
width), ``m_in``/``m_out`` the multipliers of the fan-in and fan-out. Attention
logits use ``q·k / d`` instead of ``/ sqrt(d)``. This is microsoft/mup's
parametrization (``MuReadout``, ``MuAdam``, ``MuSGD``, ``mup.init``); Adam's eps
of hidden weights is also scaled by ``1 / m_in`` (Megatron-core; CompleteP's
table) and weight decay stays decoupled from the learning rate: the
per-step decay ``lr · wd`` of a hidden weight is width-independent, as with
``MuAdamW`` (``wd × m``).

Variants (``variant=``):

* ``"sp"``: standard parametrization, the identity (base rules, optax's own
  optimizers, no multipliers): the control of every μP experiment.
* ``"mup"``: the table above (Tensor Programs V, Table 8; microsoft/mup).
* ``"mup_table3"``: Table 3: no readout multiplier; the readout's init std is
  ``base / m`` (variance ∝ 1/fan_in²) and its Adam and SGD LR ``× 1 / m``.
  Equivalent to Table 8 (abc-symmetry), but not for a readout tied to the
  embedding.
* ``"completep"`` (Dey et al. 2025), ``alpha`` ½ or 1, depth multiplier
  ``m_L = L / L_base``: μP plus, for the parameters of the residual blocks,
  Adam LR ``× m_L^(alpha - 1)``, Adam eps ``× m_L^(-alpha)``, and residual
  branches ``x + m_L^(-alpha) · f(x)``. Adam(W) only.
* ``"umup"``: u-μP (Blake et al. 2024; graphcore ``unit-scaling`` 0.3.5): every
  weight is drawn at unit scale (weights N(0, 1), biases 0, norm scales 1:
  :meth:`Parametrization.rules`) and the scales move into the forward pass
  (:func:`unit_linear_scale`, :func:`unit_attention_output_scale`,
  :func:`unit_residual_tau`, ...; see :class:`Parametrization` for the Flax
  recipe). Its learning-rate rules are absolute, not relative to the base width
  (the base only tells which weight is the readout): with ``fan_in`` read as
  ``unit_scaling.optim._get_fan_in`` does and ``d`` the number of layers of the
  residual stack (``mup_scaling_depth``; 1 outside it),

  ======== =============== ============================ ========================
  kind     Adam LR         SGD LR (``"to_output_scale"``) forward
  ======== =============== ============================ ========================
  weight   fan_in^-½ d^-½  fan_in^½ d^-½                output × fan_in^-½
  output   d^-½            d^-½                         output × 1 / fan_in
  bias     d^-½            size · d^-½                  (scaled with its layer)
  norm     d^-½            size · d^-½                  1
  ======== =============== ============================ ========================

  (an embedding is a ``weight`` whose fan-in is its embedding dim, with no
  forward scale). SGD without a readout constraint (``readout_constraint=None``,
  unit-scaling's default) uses the Adam rule. Weight decay is *independent*
  (unit-scaling's ``independent_weight_decay=True``): the per-step decay is
  ``weight_decay × lr_t / peak_lr`` whatever a parameter's LR multiplier. Adam's
  eps is not scaled.

Roles are read off the shapes: for each parameter, the axes of its *call shape*
(what its module's initializer is called with, per layer:
:class:`jinit.Signature`) that differ between the base model and the target
(or, with ``delta=``, between the base and the delta model) are width. A
weight (2-D or more) whose fan-in and fan-out are both width is ``hidden``;
fan-in only: ``readout``; fan-out only: ``input`` (an embedding ``(vocab, d)``
is input-like); a 1-D parameter with a width axis (bias, norm scale) is
``vector``; a parameter without one is ``finite``. Flax's ``(in, out)`` layout,
``DenseGeneral``'s flattened kernels and ``nn.scan``-stacked layers are read
from the signatures, so stacked axes are never width.

References:
  Yang et al. 2022, "Tensor Programs V: Tuning Large Neural Networks via
  Zero-Shot Hyperparameter Transfer", arXiv 2203.03466 (Tables 3 and 8).
  Dey et al. 2025, "Don't be lazy: CompleteP enables compute-efficient deep
  transformers", arXiv 2505.01618 (Table 1).
  Blake et al. 2024, "u-μP: The Unit-Scaled Maximal Update Parametrization",
  arXiv 2407.17465; graphcore ``unit-scaling`` 0.3.5 (``unit_scaling/optim.py``,
  ``functional.py``, ``_modules.py``, ``core/functional.py``).
  microsoft/mup 1.0.0 (``mup/shape.py``, ``mup/optim.py``, ``mup/layer.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks, _errors, _signature, _tree
from ._constant import Constant, ones, zeros
from ._distributions import Normal, TruncatedNormal, Uniform
from ._fans import compute_fans
from ._signature import Signature
from ._structured import Orthogonal
from ._variance import VarianceScaling

__all__ = [
    "KINDS",
    "ROLES",
    "VARIANTS",
    "Param",
    "Parametrization",
    "coord_check",
    "format_table",
    "identity",
    "parametrize",
    "plot_coord_check",
    "unit_attention_output_scale",
    "unit_gelu_scale",
    "unit_linear_scale",
    "unit_residual_tau",
    "unit_residual_weights",
    "unit_silu_glu_scale",
    "unit_silu_scale",
]

Variant = Literal["sp", "mup", "mup_table3", "completep", "umup"]
VARIANTS: tuple[str, ...] = ("sp", "mup", "mup_table3", "completep", "umup")
ROLES: tuple[str, ...] = ("input", "hidden", "readout", "vector", "finite")
KINDS: tuple[str, ...] = ("weight", "output", "bias", "norm")  # unit-scaling's mup_type
_READOUT_CONSTRAINTS = (None, "to_output_scale")
_ALPHAS = (0.5, 1.0)


@dataclasses.dataclass(frozen=True)
class Param:
    """What μP does to one parameter.

    Attributes:
      path: the leaf's path (``"params/Dense_0/kernel"``).
      role: one of :data:`ROLES`.
      infinite: the width axes of the call shape (non-negative, ascending).
      base_shape, shape: the call shapes at the base and the target width.
      fan_in_mult, fan_out_mult: target / base of the fan-in and fan-out axes
        that are width (1 for a finite fan; both 1 below 2-D).
      width_mult: ``m``: the fan-in's multiplier for a hidden or readout weight,
        the fan-out's for an input weight, the width axis's for a vector, 1.
      in_block: whether it belongs to a residual block (CompleteP's depth rules).
      init_mult: its init std over the std its base rule gives it at the base
        width (None under ``"umup"``: unit init, whatever the base rules).
      adam_lr, adam_eps, adam_wd: multipliers of Adam's learning rate, eps
        and weight decay (decay coefficient, optax's ``lr · wd · param``).
      sgd_lr, sgd_wd: the same for SGD (None where the variant has no SGD rule).
      kind: unit-scaling's ``mup_type``: ``"output"`` for a readout,
        ``"weight"`` for any other weight (2-D or more, embeddings included),
        ``"norm"`` for a norm scale, ``"bias"`` for the other vectors.
      depth: u-μP's ``mup_scaling_depth``: the number of layers of the residual
        stack for a parameter inside it, else None.
      forward: the factor the model applies to this weight's layer output: u-μP
        ``fan_in^-½`` (a readout ``1 / fan_in``, an embedding 1); Table 8 ``1 /
        m`` for a readout (at its input, :attr:`Parametrization.output_multiplier`);
        else 1.
    """

    path: str
    role: str
    infinite: tuple[int, ...]
    base_shape: tuple[int, ...]
    shape: tuple[int, ...]
    fan_in_mult: float
    fan_out_mult: float
    width_mult: float
    in_block: bool
    init_mult: float | None
    adam_lr: float
    adam_eps: float
    adam_wd: float
    sgd_lr: float | None
    sgd_wd: float | None
    kind: str = "weight"
    depth: int | None = None
    forward: float = 1.0


# ----------------------------------------------------------------------------
# Width inference.


def _leaf_specs(tree: Any, stacked: Mapping[str, Any] | None, arg: str):
    """``{path: (spec, signature)}`` of a tree's leaves (signature: call shape)."""
    leaves, _ = _tree.flatten(tree)
    sigs = _tree.signatures(leaves, stacked)
    out = {}
    for leaf, sig in zip(leaves, sigs, strict=True):
        if leaf.spec is None:
            raise _errors.bad_type(
                f"{arg} leaf {leaf.path!r}",
                "a jax.ShapeDtypeStruct, an array or a Flax box holding one",
                leaf.leaf,
            )
        if sig is None:
            sig = Signature(tuple(int(d) for d in leaf.spec.shape))
        out[leaf.path] = (leaf.spec, sig)
    return out


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


def _fan_axes(sig: Signature, ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    ins = _checks.check_axes("in_axis", sig.in_axis, ndim)
    outs = _checks.check_axes("out_axis", sig.out_axis, ndim)
    return ins, outs


def _classify(
    path: str,
    base: Signature,
    target: Signature,
    delta: Signature | None,
    named_readout: bool,
    absolute: bool = False,
) -> tuple[str, tuple[int, ...], float, float, float]:
    """``(role, infinite axes, fan_in_mult, fan_out_mult, width_mult)``."""
    b, t = base.shape, target.shape
    d = b if delta is None else delta.shape
    ref = t if delta is None else d
    if not len(b) == len(t) == len(d):
        raise _errors.bad_value(
            f"target leaf {path!r}",
            f"a call shape of the base's rank, {b}",
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
    ins, outs = _fan_axes(target, len(b))
    other = [a for a in infinite if a not in ins and a not in outs]
    if other:
        raise _errors.bad_value(
            f"target leaf {path!r}",
            "a weight whose width axes are fan-in or fan-out axes",
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
        if not infinite and absolute:
            return "readout", infinite, fi, fo, 1.0  # u-μP at the base width
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


def _rules_for(
    variant: str,
    role: str,
    m: float,
    fi: float,
    fo: float,
    in_block: bool,
    alpha: float | None,
    depth_mult: float,
) -> dict[str, Any]:
    """The multipliers of one parameter (see the module docstring)."""
    one = {"init_mult": 1.0, "adam_lr": 1.0, "adam_eps": 1.0, "adam_wd": 1.0}
    if variant == "sp":
        return {**one, "sgd_lr": 1.0, "sgd_wd": 1.0}
    out = dict(one)
    if role == "hidden":
        out.update(init_mult=fi**-0.5, adam_lr=1 / fi, adam_eps=1 / fi, adam_wd=fi)
        sgd = fo / fi
    elif role == "finite":
        sgd = 1.0
    else:
        sgd = m
    if variant == "mup_table3" and role == "readout":
        out.update(init_mult=1 / m, adam_lr=1 / m, adam_wd=m)
        sgd = 1 / m
    if variant == "completep":
        if in_block:
            depth = depth_mult ** (alpha - 1)  # type: ignore[operator]
            out.update(
                adam_lr=out["adam_lr"] * depth,
                adam_eps=out["adam_eps"] * depth_mult**-alpha,  # type: ignore[operator]
            )
        return {**out, "sgd_lr": None, "sgd_wd": None}
    return {**out, "sgd_lr": sgd, "sgd_wd": 1 / sgd}


def _depth_mult(base, target, in_block: Mapping[str, bool]) -> float | None:
    """``L / L_base`` from the stacked axes of the block leaves, if they agree."""
    ratios = set()
    for path, blocked in in_block.items():
        (bspec, bsig), (tspec, tsig) = base[path], target[path]
        if not blocked or not tsig.stacked:
            continue
        nb = math.prod(bsig.layers(tuple(bspec.shape)))
        nt = math.prod(tsig.layers(tuple(tspec.shape)))
        ratios.add(nt / nb)
    return ratios.pop() if len(ratios) == 1 else None


def _layers(target, in_block: Mapping[str, bool]) -> int | None:
    """The number of stacked layers of the target's block leaves, if they agree."""
    counts = {
        math.prod(sig.layers(tuple(spec.shape)))
        for path, (spec, sig) in target.items()
        if in_block[path] and sig.stacked
    }
    return counts.pop() if len(counts) == 1 else None


def _kind(sig: Signature, role: str) -> str:
    """unit-scaling's ``mup_type`` of a parameter."""
    if role == "readout":
        return "output"
    if len(sig.shape) >= 2:
        return "weight"
    return "norm" if sig.role == "scale" else "bias"


def _unit_fan_in(sig: Signature) -> float:
    """``unit_scaling.optim._get_fan_in`` on the call shape, in jinit's layouts.

    A vector's size; an embedding's embedding dim (its ``(vocab, d)`` axis -1:
    unit-scaling reads ``shape[1]`` of torch's ``(vocab, d)``); any other
    weight's fan-in by the one fan rule on its call shape (a torch ``(out, in)``
    matrix's ``shape[1]``, a conv1d ``(out, in, k)``'s ``shape[1] * shape[2]``).
    """
    shape = sig.shape
    if len(shape) < 2:
        return float(math.prod(shape))
    if sig.role == "embedding":
        return float(shape[-1])
    return compute_fans(shape, sig.in_axis, sig.out_axis)[0]


def _umup_rules(
    kind: str,
    sig: Signature,
    depth: int | None,
    readout_constraint: str | None,
) -> dict[str, Any]:
    """u-μP's multipliers (``unit_scaling.optim.lr_scale_func_adam``/``_sgd``)."""
    scale = 1.0 if depth is None else depth**-0.5
    fan_in = _unit_fan_in(sig)
    adam = scale * fan_in**-0.5 if kind == "weight" else scale
    if readout_constraint is None:
        sgd = adam
    elif kind in ("bias", "norm"):
        sgd = scale * float(sig.shape[0])
    elif kind == "weight":
        sgd = scale * fan_in**0.5
    else:
        sgd = scale
    if kind == "output":
        forward = 1 / fan_in
    elif kind == "weight" and sig.role != "embedding":
        forward = fan_in**-0.5
    else:
        forward = 1.0
    return {
        "init_mult": None,
        "adam_lr": adam,
        "adam_eps": 1.0,
        # Independent weight decay: the coefficient is divided by the parameter's
        # LR (its multiplier here, the peak LR in Parametrization.adam/sgd).
        "adam_wd": 1 / adam,
        "sgd_lr": sgd,
        "sgd_wd": 1 / sgd,
        "forward": forward,
    }


def parametrize(
    base: Any,
    target: Any,
    *,
    variant: Variant = "mup",
    delta: Any = None,
    readout: str | None = None,
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
    roles and the rules of each variant.

    Args:
      base: the abstract model at the base (tuned) width.
      target: the abstract model at the width to train, same paths.
      variant: ``"sp"``, ``"mup"``, ``"mup_table3"``, ``"completep"`` or
        ``"umup"``.
      delta: optionally, a third abstract model whose differences from ``base``
        mark the width axes (when several sizes change together, e.g. heads and
        head dim).
      readout: a path regex (``re.fullmatch``) naming the readout weights;
        default: those whose fan-in is width and fan-out is not. A tied
        embedding may be named (Table 8 only). Under ``"umup"`` (absolute
        rules) a named weight is the readout even at the base width, where no
        axis is width (there the shapes cannot tell it).
      alpha: CompleteP's depth exponent, ½ or 1 (``"completep"`` only).
      depth_mult: CompleteP's ``L / L_base``; default: inferred from the
        stacked axes of the block parameters (``nn.scan``) of base and target.
      blocks: a path regex naming the residual blocks' parameters (CompleteP);
        default: the stacked parameters.
      stacked: stacked axes by path regex for plain trees, as for
        :func:`jinit.materialize`.
      depth: u-μP's ``mup_scaling_depth`` of the block parameters (the number
        of layers of the residual stack, as ``unit_scaling.DepthSequential``
        sets it; ``"umup"`` only); default: the target's number of stacked
        layers of the block parameters, or none (no depth factor) when nothing
        is stacked and ``blocks`` is not given.
      readout_constraint: u-μP's SGD rule, as ``unit_scaling.optim.SGD``:
        None (the Adam rule) or ``"to_output_scale"`` (``"umup"`` only).

    Returns:
      A :class:`Parametrization`.

    Raises:
      ValueError: a bad variant or alpha, trees with different paths or ranks,
        a width axis that is neither fan-in nor fan-out, a ``readout`` regex
        that names no readout-like weight.

    Example:
      >>> base = jinit.flax.abstract(LM(width=64), tokens)
      >>> target = jinit.flax.abstract(LM(width=1024), tokens)
      >>> mp = jinit.mup.parametrize(base, target)
      >>> params = jinit.materialize(target, key, mp.rules(jinit.flax.defaults("flax")))
      >>> tx = mp.adam(3e-3)                     # μP Adam: per-parameter LR and eps
      >>> print(jinit.mup.format_table(mp.table()))
    """
    if variant not in VARIANTS:
        raise _errors.bad_choice("variant", variant, VARIANTS)
    if variant == "completep":
        if alpha not in _ALPHAS:
            raise _errors.bad_value("alpha", "0.5 or 1 for 'completep'", alpha)
        alpha = float(alpha)  # type: ignore[arg-type]
    elif alpha is not None:
        raise _errors.bad_value("alpha", "None unless variant='completep'", alpha)
    for arg, value in (("readout", readout), ("blocks", blocks)):
        if value is not None and not isinstance(value, str):
            raise _errors.bad_type(arg, "a path regex string or None", value)
    if depth_mult is not None and not (
        isinstance(depth_mult, int | float) and depth_mult > 0
    ):
        raise _errors.bad_value("depth_mult", "a positive number or None", depth_mult)
    if variant != "umup":
        for arg, value in (
            ("depth", depth),
            ("readout_constraint", readout_constraint),
        ):
            if value is not None:
                raise _errors.bad_value(arg, "None unless variant='umup'", value)
    elif depth is not None:
        _positive_int("depth", depth)
    if readout_constraint not in _READOUT_CONSTRAINTS:
        raise _errors.bad_choice(
            "readout_constraint", readout_constraint, ("to_output_scale",)
        )
    b = _leaf_specs(base, stacked, "base")
    t = _leaf_specs(target, stacked, "target")
    _check_same_paths("target", b, t)
    dl = None
    if delta is not None:
        dl = _leaf_specs(delta, stacked, "delta")
        _check_same_paths("delta", b, dl)
    readout_re = None if readout is None else re.compile(readout)
    blocks_re = None if blocks is None else re.compile(blocks)
    in_block = {
        p: bool(blocks_re.fullmatch(p)) if blocks_re else bool(t[p][1].stacked)
        for p in t
    }
    if variant == "completep" and not any(in_block.values()):
        raise _errors.bad_value(
            "blocks",
            "a regex naming the residual blocks' parameters (no parameter is stacked)",
            blocks,
        )
    if depth_mult is None:
        depth_mult = _depth_mult(b, t, in_block) if variant == "completep" else 1.0
        if depth_mult is None:
            raise _errors.bad_value(
                "depth_mult",
                "given where the blocks' stacked sizes do not give one L / L_base",
                None,
            )
    if variant == "umup" and depth is not None and not any(in_block.values()):
        raise _errors.bad_value(
            "blocks",
            "a regex naming the residual blocks' parameters when depth is given "
            "(no parameter is stacked)",
            blocks,
        )
    if variant == "umup" and depth is None:
        depth = _layers(t, in_block)
        if depth is None and blocks_re is not None:
            raise _errors.bad_value(
                "depth",
                "given where the blocks are not stacked with one number of layers",
                None,
            )
    named = set()
    params = []
    for path in b:
        is_readout = readout_re is not None and bool(readout_re.fullmatch(path))
        named.update([path] if is_readout else [])
        role, inf, fi, fo, m = _classify(
            path,
            b[path][1],
            t[path][1],
            None if dl is None else dl[path][1],
            is_readout,
            absolute=variant == "umup",  # rules not relative to the base width
        )
        if (
            role == "readout"
            and variant == "mup_table3"
            and b[path][1].role == ("embedding")
        ):
            raise _errors.bad_value(
                "variant", "'mup' for a readout tied to the embedding", variant
            )
        kind = _kind(t[path][1], role)
        if variant == "umup":
            layers = depth if in_block[path] else None
            rule = _umup_rules(kind, t[path][1], layers, readout_constraint)
            rule["depth"] = layers
        else:
            rule = _rules_for(
                variant, role, m, fi, fo, in_block[path], alpha, depth_mult
            )
            if variant in ("mup", "completep") and role == "readout":
                rule["forward"] = 1 / m
        params.append(
            Param(
                path=path,
                role=role,
                infinite=inf,
                base_shape=b[path][1].shape,
                shape=t[path][1].shape,
                fan_in_mult=fi,
                fan_out_mult=fo,
                width_mult=m,
                in_block=in_block[path],
                kind=kind,
                **rule,
            )
        )
    if readout_re is not None and not named:
        raise _errors.bad_value("readout", "a regex matching a leaf path", readout)
    return Parametrization(
        variant=variant,
        params=tuple(params),
        alpha=alpha,
        depth_mult=float(depth_mult),
        base={p: b[p][0] for p in b},
    )


def identity() -> Parametrization:
    """Standard parametrization with no parameters: the multipliers of SP.

    For building a model before its parametrization exists (its abstract shapes
    do not depend on the multipliers).
    """
    return Parametrization(variant="sp", params=(), alpha=None, depth_mult=1.0)


# ----------------------------------------------------------------------------
# Rescaling an initializer's law.


def _rescaled(init: Any, f: float, path: str) -> Any:
    """``init`` whose values are ``f`` times as large (the same law, scaled)."""
    from .torch import Sparse

    if f == 1.0:
        return init
    if isinstance(init, VarianceScaling):
        return dataclasses.replace(init, scale=init.scale * f * f)
    if isinstance(init, Normal):
        return dataclasses.replace(init, stddev=init.stddev * f, mean=init.mean * f)
    if isinstance(init, Uniform):
        return dataclasses.replace(init, minval=init.minval * f, maxval=init.maxval * f)
    if isinstance(init, TruncatedNormal):
        scaled = dataclasses.replace(init, stddev=init.stddev * f, mean=init.mean * f)
        if init.bounds == "absolute":
            scaled = dataclasses.replace(
                scaled, lower=init.lower * f, upper=init.upper * f
            )
        return scaled
    if isinstance(init, Orthogonal):
        return dataclasses.replace(init, scale=init.scale * f)
    if isinstance(init, Sparse):
        return dataclasses.replace(init, std=init.std * f)
    if isinstance(init, Constant):
        return dataclasses.replace(init, value=np.asarray(init.value) * f)
    raise _errors.bad_value(
        f"base rule of {path!r}",
        "a jinit initializer whose law jinit can rescale (variance scaling, "
        "normal, uniform, truncated normal, orthogonal)",
        init,
    )


def _planned(path: str, init: Any, spec: Any) -> _tree.Planned:
    sig = _signature.signature_of(spec)
    shape = tuple(int(d) for d in spec.shape)
    return _tree.Planned(0, path, "", init, shape, np.dtype(spec.dtype), sig, None)


def _std(path: str, init: Any, spec: Any) -> float | None:
    from .flax import _row_law

    return _row_law(_planned(path, init, spec))[3]


def _for_leaf(compiled, default, path: str, leaves: Mapping[str, Any]) -> Any:
    _, init = _tree.match_rule(compiled, path)
    if init is None:
        init = default
    if init is None:
        raise _tree.unmatched_error([path])
    for_leaf = getattr(init, "for_leaf", None)
    return for_leaf(path, leaves) if callable(for_leaf) else init


# ----------------------------------------------------------------------------
# The parametrization.


@dataclasses.dataclass(frozen=True)
class Parametrization:
    """Everything μP needs for one (base, target) pair, from :func:`parametrize`.

    * :meth:`rules`: ``jinit.materialize`` rules: the base rule set, rescaled
      per parameter.
    * :meth:`adam`, :meth:`sgd`: optax optimizers with the per-parameter LR, eps
      and weight decay; :meth:`scale_by_lr`: the LR multipliers alone, a
      ``GradientTransformation`` for any ``optax.chain``.
    * :attr:`output_multiplier`, :meth:`attention_scale`,
      :attr:`residual_multiplier`, :meth:`attention_fn`: what the model's
      forward pass must apply.
    * :meth:`table`: one row per parameter (role, width axes, m, init std, LR,
      eps and WD multipliers); :func:`format_table` prints it.

    Flax recipe (linen; ``mp`` is passed in as plain floats)::

        class LM(nn.Module):
            width: int
            logit_mult: float = 1.0         # mp.output_multiplier
            attn_scale: float | None = None # mp.attention_scale(head_dim)
            residual_mult: float = 1.0      # mp.residual_multiplier (CompleteP)

            @nn.compact
            def __call__(self, tokens):
                ...
                attn = nn.MultiHeadDotProductAttention(
                    heads, attention_fn=jinit.mup.attention_fn(self.attn_scale))
                x = x + self.residual_mult * attn(nn.LayerNorm()(x))
                ...
                return nn.Dense(vocab, name="head")(x * self.logit_mult)

    u-μP recipe (``variant="umup"``, unit-scaling's ``TransformerLayer``: pre-norm,
    no biases; ``um = jinit.mup``; ``taus`` from :func:`unit_residual_tau` for
    branch ``2i`` (attention) and ``2i + 1`` (MLP) of ``2 L``)::

        class Block(nn.Module):
            d: int
            heads: int
            taus: tuple[float, float]

            @nn.compact
            def __call__(self, x):
                b, s, d = x.shape
                dh = d // self.heads
                branch, skip = um.unit_residual_weights(self.taus[0])
                y = nn.RMSNorm(use_scale=False)(x)
                qkv = nn.Dense(3 * d, use_bias=False)(y) * um.unit_linear_scale(d)
                q, k, v = jnp.moveaxis(qkv.reshape(b, s, 3, self.heads, dh), 2, 0)
                a = um.attention_fn(1 / dh)(q, k, v, mask=nn.make_causal_mask(x[..., 0]))
                a = a * um.unit_attention_output_scale(s, dh, causal=True)
                a = nn.Dense(d, use_bias=False)(a.reshape(b, s, d))
                x = branch * a * um.unit_linear_scale(d) + skip * x
                branch, skip = um.unit_residual_weights(self.taus[1])
                y = nn.RMSNorm(use_scale=False)(x)
                u = nn.Dense(4 * d, use_bias=False)(y) * um.unit_linear_scale(d)
                g = nn.Dense(4 * d, use_bias=False)(y) * um.unit_linear_scale(d)
                z = u * nn.silu(g) * um.unit_silu_glu_scale()
                z = nn.Dense(d, use_bias=False)(z) * um.unit_linear_scale(4 * d)
                return branch * z + skip * x

        # embedding unscaled; readout: nn.Dense(vocab, use_bias=False)(x) *
        # mp.output_multiplier (= unit_linear_scale(d, readout=True)).
        mp = jinit.mup.parametrize(base, target, variant="umup")
        params = jinit.materialize(target, key, mp.rules())   # N(0, 1), 0, 1
        tx = mp.adam(lr, weight_decay=wd)                     # independent decay

    With Adam this model trains as unit-scaling's (tested against
    ``unit_scaling.TransformerDecoder`` + ``unit_scaling.optim.AdamW``):
    unit-scaling's backward-only scales make each tensor's gradient a constant
    multiple of JAX's true gradient, and Adam is invariant to that (up to eps).
    """

    variant: str
    params: tuple[Param, ...]
    alpha: float | None
    depth_mult: float
    base: Mapping[str, Any] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    # -- lookup ---------------------------------------------------------------

    def __getitem__(self, path: str) -> Param:
        """The :class:`Param` of the leaf at ``path``."""
        for p in self.params:
            if p.path == path:
                return p
        raise _errors.bad_value(
            "path", "the path of a parameter of the parametrized model", path
        )

    def _lookup(self, paths: Sequence[str]) -> list[Param]:
        """The :class:`Param` of each path of a tree of (a subtree of) the model.

        The tree's paths are the model's, or all of them under one top-level
        key (``variables["params"]`` for linen variables).
        """
        by_path = {p.path: p for p in self.params}
        prefixes = [""] + sorted({p.split("/")[0] + "/" for p in by_path})
        for prefix in prefixes:
            if all(prefix + p in by_path for p in paths):
                return [by_path[prefix + p] for p in paths]
        unknown = [p for p in paths if p not in by_path][:10]
        raise _errors.bad_value(
            "params",
            "a tree with the parametrized model's leaf paths (or those under one "
            "top-level key, such as variables['params'])",
            f"unknown paths {unknown}",
        )

    # -- forward multipliers ---------------------------------------------------

    @property
    def readout_multipliers(self) -> dict[str, float]:
        """``{path: multiplier}`` of each readout (Table 8: ``1 / m``; u-μP ``1 / fan_in``)."""
        return {p.path: p.forward for p in self.params if p.role == "readout"}

    @property
    def forward_multipliers(self) -> dict[str, float]:
        """``{path: Param.forward}`` of every weight (2-D or more).

        Under ``"umup"``: the factor of each layer's output, ``fan_in^-½`` (the
        readout ``1 / fan_in``, an embedding 1), as ``unit_scaling.functional.
        linear``/``linear_readout``; the model applies it
        (:func:`unit_linear_scale` computes it from the layer's fan-in).
        """
        return {p.path: p.forward for p in self.params if len(p.shape) >= 2}

    @property
    def output_multiplier(self) -> float:
        """The multiplier of the readout's input (or logits): ``1 / m`` in Table 8.

        1 for ``"sp"`` and ``"mup_table3"``. Under ``"umup"``, ``1 / fan_in``
        of the readout: ``unit_scaling.functional.linear_readout`` scales the
        readout's output, bias included (the recipe's readout has no bias, as
        unit-scaling's ``LinearReadout`` by default, so the input or the output
        may be scaled).

        Raises:
          ValueError: under ``"mup"``/``"completep"``/``"umup"``, no readout was
            found, or readouts of different widths (use
            :attr:`readout_multipliers`).
        """
        if self.variant in ("sp", "mup_table3"):
            return 1.0
        if self.variant != "umup" and all(not p.infinite for p in self.params):
            return 1.0  # the base width itself
        values = set(self.readout_multipliers.values())
        if len(values) != 1:
            raise _errors.bad_value(
                "readout",
                "one readout width (name the readout with readout=..., e.g. a tied "
                "embedding; or read readout_multipliers)",
                sorted(self.readout_multipliers),
            )
        return values.pop()

    def attention_scale(self, head_dim: int, base_head_dim: int | None = None) -> float:
        """The factor of the attention logits ``q·k``.

        ``1 / sqrt(head_dim)`` under SP; under μP and u-μP ``1 / head_dim``
        (u-μP: ``unit_scaling.functional.scaled_dot_product_attention``'s
        ``scale = mult / d_head`` at ``mult = 1``; its output also needs
        :func:`unit_attention_output_scale`), or with ``base_head_dim``,
        ``sqrt(base_head_dim) / head_dim`` (Megatron-core's
        ``mup_base_head_dim``: equal to SP's at the base head dim).
        """
        _positive_int("head_dim", head_dim)
        if base_head_dim is not None:
            _positive_int("base_head_dim", base_head_dim)
        if self.variant == "sp":
            return head_dim**-0.5
        return (1.0 if base_head_dim is None else math.sqrt(base_head_dim)) / head_dim

    @property
    def residual_multiplier(self) -> float:
        """The factor of each residual branch: ``m_L^(-alpha)`` (CompleteP), else 1.

        Raises:
          ValueError: under ``"umup"``, whose residuals weigh branch and skip
            per layer (:func:`unit_residual_tau`, :func:`unit_residual_weights`).
        """
        if self.variant == "umup":
            raise _errors.bad_value(
                "residual_multiplier",
                "read under a variant other than 'umup' (u-μP weighs each "
                "residual with jinit.mup.unit_residual_tau/unit_residual_weights)",
                self.variant,
            )
        if self.variant != "completep":
            return 1.0
        return self.depth_mult**-self.alpha  # type: ignore[operator]

    # -- init -------------------------------------------------------------------

    def rules(
        self,
        base_rules: _tree.Rules | None = None,
        *,
        default: Callable[..., Any] | None = None,
    ) -> dict[str, Any]:
        """``jinit.materialize`` rules for the target model: ``base_rules`` rescaled.

        Under ``"umup"`` there are no base rules: u-μP's unit init, weights
        (embeddings and readouts included) N(0, 1), biases 0, norm scales 1
        (``unit_scaling.Linear.reset_parameters``, ``Embedding``, ``RMSNorm``).

        Each parameter gets the initializer its base rule gives it on the target,
        with its values scaled so that its std is ``init_mult`` times the std the
        base rule gives it at the base width (hidden: ``1 / sqrt(m_in)``; Table
        3's readout ``1 / m``; else 1). At width multiplier 1 every factor is 1
        and the rules draw what ``base_rules`` draw, bit for bit. ``"sp"``
        returns ``base_rules`` unchanged (as a dict). Prepend rules to override
        some leaves (microsoft/mup recommends a zero readout and query:
        ``{r".*/head/kernel": jinit.zeros, **mp.rules(base_rules)}``).

        Args:
          base_rules: rules as for ``materialize`` (e.g.
            ``jinit.flax.defaults("flax")``, or ``{r".*kernel": jinit.normal(0.02),
            ...}``); their laws must be jinit's (a std jinit knows). None (and
            only None) under ``"umup"``.
          default: the base initializer of leaves no rule matches.

        Returns:
          ``{".*": PerLeaf}``: one rule that picks each leaf's initializer.

        Raises:
          ValueError: base rules under ``"umup"``, or none under another variant.
        """
        if self.variant == "umup":
            return self._unit_rules(base_rules, default)
        if base_rules is None:
            raise _errors.bad_value(
                "base_rules", f"a rule set under variant {self.variant!r}", None
            )
        compiled = _tree.compile_rules(base_rules)
        if default is not None:
            _tree.check_rule("default", default)
        if self.variant == "sp":
            out = {r.pattern: init for r, init in compiled}
            return out if default is None else {**out, ".*": default}
        from .flax import PerLeaf

        def choose(path: str, leaves: Mapping[str, Any]) -> Any:
            init = _for_leaf(compiled, default, path, leaves)
            if path not in self.base:
                raise _errors.bad_value(
                    "tree", "the parametrized target model's tree", f"leaf {path!r}"
                )
            param = self[path]
            base_init = _for_leaf(compiled, default, path, self.base)
            if param.init_mult == 1.0 and param.base_shape == param.shape:
                if _same(base_init, init):
                    return init  # the same law at the same shape
            base_std = _std(path, base_init, self.base[path])
            std = _std(path, init, leaves[path])
            if base_std is None or std is None:
                raise _errors.bad_value(
                    f"base rule of {path!r}",
                    "an initializer whose std jinit knows (a jinit law)",
                    init,
                )
            if std == 0.0:
                if base_std != 0.0:
                    raise _errors.bad_value(
                        f"base rule of {path!r}",
                        "a law that is zero at both widths or at neither",
                        init,
                    )
                return init
            mult = 1.0 if param.init_mult is None else param.init_mult
            return _rescaled(init, mult * base_std / std, path)

        return {".*": PerLeaf(f"{self.variant}_rules", choose)}

    def _unit_rules(self, base_rules: Any, default: Any) -> dict[str, Any]:
        """u-μP's unit init, by each parameter's kind."""
        from .flax import PerLeaf

        for arg, value in (("base_rules", base_rules), ("default", default)):
            if value is not None:
                raise _errors.bad_value(
                    arg,
                    "None under variant 'umup' (u-μP draws every parameter at unit "
                    "scale; prepend rules to override some leaves)",
                    value,
                )
        unit = {"weight": Normal(1.0), "output": Normal(1.0), "bias": zeros}

        def choose(path: str, leaves: Mapping[str, Any]) -> Any:
            del leaves
            if path not in self.base:
                raise _errors.bad_value(
                    "tree", "the parametrized target model's tree", f"leaf {path!r}"
                )
            return unit.get(self[path].kind, ones)

        return {".*": PerLeaf("umup_rules", choose)}

    # -- optimizers ------------------------------------------------------------

    def _multipliers(self, tree: Any, field: str) -> Any:
        """A tree like ``tree`` holding each leaf's ``field`` multiplier."""
        flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
        params = self._lookup([_tree.path_string(k) for k, _ in flat])
        values = [getattr(p, field) for p in params]
        if any(v is None for v in values):
            raise _errors.bad_value(
                "optimizer", f"'adam' under variant {self.variant!r}", "sgd"
            )
        return jax.tree_util.tree_unflatten(treedef, values)

    def scale_by_lr(self, optimizer: Literal["adam", "sgd"] = "adam") -> Any:
        """An optax ``GradientTransformation`` multiplying each update by its LR multiplier.

        Put it before the learning rate (any schedule), after the optimizer's
        own scaling: ``optax.chain(optax.scale_by_adam(), mp.scale_by_lr("adam"),
        optax.scale_by_learning_rate(schedule))``. Leaves are matched by path:
        the tree is the parametrized model's variables, or the subtree under one
        top-level key (``variables["params"]``). It has no state.
        """
        import optax

        field = _optimizer_field(optimizer, "lr")

        def update(updates, state, params=None):
            del params
            mults = self._multipliers(updates, field)
            return jax.tree.map(_times, updates, mults), state

        return optax.GradientTransformation(_no_state, update)

    def _decay(self, weight_decay: float, field: str) -> Any:
        """``updates + weight_decay · wd_mult · params``, per leaf."""
        import optax

        def update(updates, state, params=None):
            if params is None:
                raise _errors.bad_value(
                    "params",
                    "passed to update() (weight decay needs them): "
                    "tx.update(grads, state, params)",
                    None,
                )
            mults = self._multipliers(updates, field)
            out = jax.tree.map(
                lambda u, p, c: u + _times(p, weight_decay * c), updates, params, mults
            )
            return out, state

        return optax.GradientTransformation(_no_state, update)

    def _decay_coefficient(
        self, weight_decay: float, learning_rate: Any, peak: float | None
    ) -> float:
        """``weight_decay``, over the peak LR under ``"umup"`` (independent decay)."""
        if self.variant != "umup":
            if peak is not None:
                raise _errors.bad_value(
                    "peak_learning_rate", "None unless variant='umup'", peak
                )
            return weight_decay
        if not weight_decay:
            return weight_decay
        if peak is None:
            if callable(learning_rate):
                raise _errors.bad_value(
                    "peak_learning_rate",
                    "the schedule's peak LR under variant 'umup' with weight decay "
                    "(independent weight decay divides by it)",
                    None,
                )
            peak = float(learning_rate)
        if not peak > 0:
            raise _errors.bad_value("peak_learning_rate", "a positive number", peak)
        return weight_decay / peak

    def adam(
        self,
        learning_rate: Any,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        peak_learning_rate: float | None = None,
    ) -> Any:
        """μP Adam (AdamW with ``weight_decay``) as an optax ``GradientTransformation``.

        ``optax.adamw``'s chain (``scale_by_adam``, ``add_decayed_weights``,
        ``scale_by_learning_rate``) with, per parameter, eps ``× adam_eps``, decay
        ``× adam_wd`` and the update ``× adam_lr`` before the learning rate
        (a float or any optax schedule). Under ``"sp"``, and at width multiplier
        1, it equals ``optax.adamw`` (``optax.adam`` for no decay) bit for bit.

        Under ``"umup"`` the decay is independent (``unit_scaling.optim.AdamW``):
        the decay coefficient is ``weight_decay / (peak_lr · adam_lr)``, so each
        step decays a parameter by ``weight_decay · lr_t / peak_lr``, whatever its
        LR multiplier; ``peak_lr`` is ``learning_rate`` if it is a number, else
        ``peak_learning_rate`` (required then).
        """
        import optax

        weight_decay = self._decay_coefficient(
            weight_decay, learning_rate, peak_learning_rate
        )

        groups = sorted({p.adam_eps for p in self.params})

        def labels(params):
            mults = self._multipliers(params, "adam_eps")
            return jax.tree.map(lambda c: groups.index(c), mults)

        adam = optax.multi_transform(
            {i: optax.scale_by_adam(b1, b2, eps * e) for i, e in enumerate(groups)},
            labels,
        )
        chain = [adam]
        if weight_decay:
            chain.append(self._decay(weight_decay, "adam_wd"))
        chain += [self.scale_by_lr("adam"), optax.scale_by_learning_rate(learning_rate)]
        return optax.chain(*chain)

    def sgd(
        self,
        learning_rate: Any,
        momentum: float | None = None,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        *,
        peak_learning_rate: float | None = None,
    ) -> Any:
        """μP SGD as an optax ``GradientTransformation`` (``MuSGD``'s rules).

        ``optax.sgd``'s chain with torch's coupled weight decay first
        (``g + weight_decay · sgd_wd · param``, as ``torch.optim.SGD``) and the
        update ``× sgd_lr`` before the learning rate. Under ``"umup"`` the
        decay is independent, as in :meth:`adam` (``unit_scaling.optim.SGD``).

        u-μP's SGD rule assumes unit-scaling's backward scales (unit-scaled
        gradients); a model that applies only the forward multipliers has JAX's
        true gradients, which differ from those by one factor per tensor. Adam
        is invariant to that (up to eps); SGD is not.

        Raises:
          ValueError: under ``"completep"`` (Adam rules only).
        """
        import optax

        if self.variant == "completep":
            raise _errors.bad_value(
                "optimizer", f"'adam' under variant {self.variant!r}", "sgd"
            )
        weight_decay = self._decay_coefficient(
            weight_decay, learning_rate, peak_learning_rate
        )
        chain = []
        if weight_decay:
            chain.append(self._decay(weight_decay, "sgd_wd"))
        if momentum is not None:
            chain.append(optax.trace(decay=momentum, nesterov=nesterov))
        chain += [self.scale_by_lr("sgd"), optax.scale_by_learning_rate(learning_rate)]
        return optax.chain(*chain)

    @staticmethod
    def attention_fn(scale: float | None) -> Callable[..., Any]:
        """A linen ``attention_fn`` with logits ``scale · q·k`` (None: Flax's own).

        ``flax.linen.dot_product_attention`` divides ``q`` by ``sqrt(head_dim)``;
        this multiplies ``q`` by ``scale · sqrt(head_dim)`` first. Pass it to
        ``nn.MultiHeadDotProductAttention(attention_fn=...)``.
        """
        return attention_fn(scale)

    # -- the table -------------------------------------------------------------

    def table(
        self,
        base_rules: _tree.Rules | None = None,
        *,
        target: Any = None,
        default: Callable[..., Any] | None = None,
    ) -> list[dict[str, Any]]:
        """One row per parameter: role, width axes, m, init std, LR/eps/WD multipliers.

        With ``base_rules`` and the ``target`` abstract tree, each row also has
        ``std``, the std of the law :meth:`rules` draws the parameter from, and
        ``sp_std``, the std ``base_rules`` give it at the target width (under
        ``"umup"``, ``target`` alone gives ``std``: the unit init).
        """
        rows = []
        stds: dict[str, Any] = {}
        if self.variant == "umup" and target is not None and base_rules is None:
            from .flax import table

            stds = {r["path"]: (r["std"], None) for r in table(target, self.rules())}
        elif base_rules is not None:
            if target is None:
                raise _errors.bad_value(
                    "target", "the target abstract tree when base_rules are given", None
                )
            from .flax import table

            mine = table(target, self.rules(base_rules, default=default))
            sp = table(target, base_rules, default=default)
            stds = {
                r["path"]: (r["std"], s["std"]) for r, s in zip(mine, sp, strict=True)
            }
        for p in self.params:
            row = dataclasses.asdict(p)
            if p.path in stds:
                row["std"], row["sp_std"] = stds[p.path]
            rows.append(row)
        return rows


def _no_state(params: Any) -> Any:
    import optax

    del params
    return optax.EmptyState()


def _same(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # an initializer whose == is not a bool
        return False


def _times(x: Any, c: float) -> Any:
    return x if c == 1.0 else x * jnp.asarray(c, dtype=jnp.result_type(x))


def _optimizer_field(optimizer: str, what: str) -> str:
    if optimizer not in ("adam", "sgd"):
        raise _errors.bad_choice("optimizer", optimizer, ("adam", "sgd"))
    return f"{optimizer}_{what}"


def _positive_int(arg: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _errors.bad_type(arg, "a positive int", value)
    if value <= 0:
        raise _errors.bad_value(arg, "a positive int", value)


def attention_fn(scale: float | None) -> Callable[..., Any]:
    """A linen ``attention_fn`` whose logits are ``scale · q·k`` (see
    :meth:`Parametrization.attention_fn`)."""
    from flax import linen as nn

    if scale is None:
        return nn.dot_product_attention

    # Flax passes an attention_fn only the keyword arguments its signature names
    # (mask, dropout, ...): the wrapper has dot_product_attention's signature.
    @functools.wraps(nn.dot_product_attention)
    def attend(query, key, value, *args, **kwargs):
        q = query * jnp.asarray(
            scale * math.sqrt(query.shape[-1]), dtype=jnp.result_type(query)
        )
        return nn.dot_product_attention(q, key, value, *args, **kwargs)

    return attend


# ----------------------------------------------------------------------------
# u-μP's forward scales (unit_scaling 0.3.5 ``functional.py``), as plain floats.


def _log_interpolation(alpha: float, lower: float, upper: float) -> float:
    """``unit_scaling.core.functional.logarithmic_interpolation``."""
    return math.exp(alpha * math.log(upper) + (1 - alpha) * math.log(lower))


def unit_linear_scale(fan_in: int, *, readout: bool = False) -> float:
    r"""u-μP's factor of a linear layer's output (bias included).

    .. math:: y = s \, (x W + b), \quad s = \text{fan\_in}^{-1/2}
       \ (\text{readout: } 1 / \text{fan\_in})

    ``unit_scaling.functional.linear`` (``scale_power[0] = 0.5``) and
    ``linear_readout`` (``1.0``). ``fan_in`` is the layer's number of inputs
    (a ``DenseGeneral``'s product of input axes).

    Args:
      fan_in: the layer's fan-in, a positive int.
      readout: the network's output layer.

    Returns:
      ``fan_in ** -0.5``, or ``1 / fan_in`` for the readout.

    Example:
      >>> y = nn.Dense(4 * d, use_bias=False)(x) * jinit.mup.unit_linear_scale(d)
    """
    _positive_int("fan_in", fan_in)
    return 1.0 / fan_in if readout else fan_in**-0.5


def unit_attention_output_scale(
    seq_len: int,
    head_dim: int,
    *,
    mult: float = 1.0,
    causal: bool = False,
    dropout: float = 0.0,
) -> float:
    r"""u-μP's factor of the attention output (logits ``mult · q·k / head_dim``).

    ``unit_scaling.functional.scaled_dot_product_attention``'s empirical model of
    the output's std:

    .. math:: s = \frac{\sqrt{1 - p}}{\exp(a \log 1 + (1 - a) \log \ell)},
       \quad a = \frac{1}{1 + 4 d / \text{mult}^2},
       \quad \ell = \sqrt{(\log n \text{ if causal else } 1) / n}

    with ``n = seq_len``, ``d = head_dim``, ``p = dropout``.

    Args:
      seq_len: the sequence length (of the values).
      head_dim: the head dim.
      mult: the attention multiplier (logits ``mult / head_dim``).
      causal: a causal mask (unit-scaling's ``is_causal``).
      dropout: the attention dropout rate.

    Returns:
      The factor of the attention output, a float.
    """
    _positive_int("seq_len", seq_len)
    _positive_int("head_dim", head_dim)
    mult = _checks.real_number("mult", mult, positive=True)
    dropout = _checks.real_number("dropout", dropout, nonnegative=True)
    if dropout >= 1:
        raise _errors.bad_value("dropout", "a rate in [0, 1)", dropout)
    lower = ((math.log(seq_len) if causal else 1) / seq_len) ** 0.5
    alpha = 1 / (1 + 4 * head_dim / mult**2)
    return (1 - dropout) ** 0.5 / _log_interpolation(alpha, lower, 1.0)


def unit_gelu_scale(mult: float = 1.0) -> float:
    """u-μP's factor of ``gelu(mult · x) / mult`` (exact, erf GELU).

    ``unit_scaling.functional.gelu``: ``exp(a log u + (1 - a) log 2)`` with
    ``a = 1 / (1 + 0.25 / mult²)`` and ``u = sqrt(2 / (1 - 1/π))``. In Flax use
    ``nn.gelu(x * mult, approximate=False) / mult * unit_gelu_scale(mult)``
    (torch's GELU is the exact one; Flax's default is the tanh approximation).
    """
    mult = _checks.real_number("mult", mult, positive=True)
    alpha = 1 / (1 + 0.25 / mult**2)
    return _log_interpolation(alpha, 2.0, (2 / (1 - 1 / math.pi)) ** 0.5)


def unit_silu_scale(mult: float = 1.0) -> float:
    """u-μP's factor of ``x · sigmoid(mult · x)`` (``unit_scaling.functional.silu``).

    The same empirical model as :func:`unit_gelu_scale`.
    """
    return unit_gelu_scale(mult)


def unit_silu_glu_scale(mult: float = 1.0) -> float:
    """u-μP's factor of ``x · g · sigmoid(mult · g)`` (``functional.silu_glu``).

    ``exp(a log sqrt(2) + (1 - a) log 2)`` with ``a = 1 / (1 + 1 / mult²)``.
    """
    mult = _checks.real_number("mult", mult, positive=True)
    alpha = 1 / (1 + 1 / mult**2)
    return _log_interpolation(alpha, 2.0, 2**0.5)


def unit_residual_tau(
    index: int,
    layers: int,
    *,
    residual_mult: float = 1.0,
    residual_attn_ratio: float = 1.0,
) -> float:
    r"""u-μP's residual weight ``tau`` of branch ``index`` of ``layers`` (App. G).

    ``unit_scaling.core.functional.transformer_residual_scaling_rule``: branches
    alternate attention (even ``index``) and MLP (odd), ``layers = 2 ×`` the
    number of transformer layers (``TransformerStack`` calls it with ``(2i,
    2L)`` and ``(2i + 1, 2L)``):

    .. math:: \alpha_{mlp} = r \sqrt{2 / (1 + q^2)}, \ \alpha_{attn} = q
       \alpha_{mlp}, \ \tau = \alpha / \sqrt{L/2 + n_{attn} \alpha_{attn}^2 +
       n_{mlp} \alpha_{mlp}^2}

    with ``r = residual_mult``, ``q = residual_attn_ratio``, ``n_attn =
    (index + 1) // 2``, ``n_mlp = index // 2``. Weigh the branch with
    :func:`unit_residual_weights`.

    Returns:
      ``tau``, a float.
    """
    _checks.integer("index", index, minimum=0)
    _positive_int("layers", layers)
    r = _checks.real_number("residual_mult", residual_mult, positive=True)
    q = _checks.real_number("residual_attn_ratio", residual_attn_ratio, positive=True)
    alpha_mlp = r * (2 / (1 + q**2)) ** 0.5
    alpha_attn = q * alpha_mlp
    n_attn, n_mlp = (index + 1) // 2, index // 2
    alpha = alpha_attn if index % 2 == 0 else alpha_mlp
    return alpha / (layers / 2 + n_attn * alpha_attn**2 + n_mlp * alpha_mlp**2) ** 0.5


def unit_residual_weights(tau: float) -> tuple[float, float]:
    r"""``(branch, skip)`` factors of a u-μP residual: ``y = branch · f(x) + skip · x``.

    ``unit_scaling.functional.residual_split``/``residual_add``:
    ``branch = tau / sqrt(1 + tau²)``, ``skip = 1 / sqrt(1 + tau²)``.

    Example:
      >>> branch, skip = jinit.mup.unit_residual_weights(tau)
      >>> x = branch * attn(norm(x)) + skip * x
    """
    tau = _checks.real_number("tau", tau, nonnegative=True)
    denom = (1 + tau**2) ** 0.5
    return tau / denom, 1 / denom


_COLUMNS = (
    "path",
    "role",
    "kind",
    "infinite",
    "width_mult",
    "init_mult",
    "std",
    "sp_std",
    "adam_lr",
    "adam_eps",
    "adam_wd",
    "sgd_lr",
    "sgd_wd",
    "depth",
    "forward",
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(str, value)) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """:meth:`Parametrization.table` rows as a Markdown table."""
    columns = [c for c in _COLUMNS if any(c in r for r in rows)]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(c)) for c in columns) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# Coord check.


def coord_check(
    make_model: Callable[[int, Parametrization], Any],
    widths: Sequence[int],
    inputs: Any,
    targets: Any,
    loss: Callable[[Any, Any], Any],
    base_rules: _tree.Rules,
    *,
    base_width: int | None = None,
    variants: Sequence[Variant] = ("sp", "mup"),
    optimizer: Literal["adam", "sgd"] = "adam",
    learning_rate: float = 1e-2,
    steps: int = 3,
    key: Any = None,
    override: Mapping[str, Any] | None = None,
    **parametrize_kwargs: Any,
) -> list[dict[str, Any]]:
    r"""microsoft/mup's coord check: mean |activation| per module, step and width.

    For each variant and width, builds ``make_model(width, mp)`` (a linen
    module; ``mp`` the :class:`Parametrization` of that width against
    ``base_width``), draws its parameters with ``mp.rules(base_rules)``
    (``override`` rules first), and trains ``steps`` steps on the one batch
    ``(inputs, targets)`` with ``mp.adam``/``mp.sgd`` at ``learning_rate``.
    Before each update (``t = 1`` is the initial model) it records
    ``l1 = mean(|y|)`` of every module's output ``y``
    (``capture_intermediates``; modules inside ``nn.scan`` are recorded when the
    scan lifts that collection, ``variable_axes={"params": 0, "intermediates":
    0}``, their layers pooled). Under a correct μP the curves of ``l1``
    against width are flat; under SP they grow with width after ``t = 1``.

    Args:
      make_model: ``(width, mp) -> flax.linen.Module``; the module must apply
        ``mp``'s forward multipliers. It is also called with
        ``jinit.mup.identity()`` to read shapes.
      widths: the widths to compare.
      inputs, targets: one batch; ``model.apply(params, inputs)`` is the output.
      loss: ``(output, targets) -> scalar``.
      base_rules: the base init rules (e.g. ``jinit.flax.defaults("flax")``);
        not used by ``"umup"`` (unit init).
      base_width: the base width (default: the smallest of ``widths``).
      variants: the variants to run, e.g. ``("sp", "mup")``.
      optimizer: ``"adam"`` or ``"sgd"``.
      learning_rate: the base learning rate.
      steps: recorded steps (``t = 1 .. steps``).
      key: the PRNG key of the init (default ``jax.random.key(0)``).
      override: rules prepended to the parametrized ones (e.g. a zero readout).
      **parametrize_kwargs: passed to :func:`parametrize` (``readout=``, ...;
        ``"umup"`` needs ``readout=`` for the base width itself, where the
        shapes cannot tell the readout).

    Returns:
      A list of rows ``{"variant", "width", "module", "t", "l1"}``.
    """
    if not widths or any(
        isinstance(w, bool) or not isinstance(w, int | np.integer) or w <= 0
        for w in widths
    ):
        raise _errors.bad_value(
            "widths", "a non-empty sequence of positive ints", widths
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise _errors.bad_value("steps", "a positive int", steps)
    for v in variants:
        if v not in VARIANTS:
            raise _errors.bad_choice("variants", v, VARIANTS)
    _optimizer_field(optimizer, "lr")
    key = jax.random.key(0) if key is None else key
    base_width = min(widths) if base_width is None else base_width
    from .flax import abstract

    def shapes(width):
        return abstract(make_model(width, identity()), inputs)

    base = shapes(base_width)
    rows = []
    for variant in variants:
        for width in widths:
            target = shapes(width)
            mp = parametrize(
                base,
                target,
                variant=variant,
                **parametrize_kwargs,
            )
            model = make_model(width, mp)
            unit = variant == "umup"  # u-μP's unit init has no base rules
            rules = {**(override or {}), **mp.rules(None if unit else base_rules)}
            variables = _tree.materialize(target, key, rules)
            params = variables["params"]
            tx = (
                mp.adam(learning_rate) if optimizer == "adam" else mp.sgd(learning_rate)
            )
            for t, stats in enumerate(
                _train(model, params, tx, inputs, targets, loss, steps), 1
            ):
                for module, l1 in stats.items():
                    rows.append(
                        {
                            "variant": variant,
                            "width": width,
                            "module": module,
                            "t": t,
                            "l1": l1,
                        }
                    )
    return rows


def _train(model, params, tx, inputs, targets, loss, steps):
    """Yields ``{module: mean |output|}`` before each of ``steps`` updates."""

    def forward(p):
        out, state = model.apply(
            {"params": p}, inputs, capture_intermediates=True, mutable=["intermediates"]
        )
        return loss(out, targets), state["intermediates"]

    @jax.jit
    def step(p, opt_state):
        (_, inter), grads = jax.value_and_grad(forward, has_aux=True)(p)
        stats = {
            _tree.path_string(k): jnp.mean(jnp.abs(v))
            for k, v in jax.tree_util.tree_flatten_with_path(inter)[0]
        }
        updates, opt_state = tx.update(grads, opt_state, p)
        return _apply(p, updates), opt_state, stats

    opt_state = tx.init(params)
    for _ in range(steps):
        params, opt_state, stats = step(params, opt_state)
        yield {_module_name(k): float(v) for k, v in stats.items()}


def _apply(params, updates):
    return jax.tree.map(lambda p, u: p + u, params, updates)


def _module_name(path: str) -> str:
    """``"Dense_0/__call__/0"`` -> ``"Dense_0"`` (the model itself is ``"model"``)."""
    parts = [p for p in path.split("/") if p != "__call__" and not p.isdigit()]
    return "/".join(parts) or "model"


def plot_coord_check(rows: Sequence[Mapping[str, Any]], path: str | None = None):
    """microsoft/mup's figure: l1 against width (log-log, base 2), per module.

    One column per step ``t``, one row per variant (SP above μP). Returns the
    matplotlib figure; saves it to ``path`` if given.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    variants = list(dict.fromkeys(r["variant"] for r in rows))
    ts = sorted({r["t"] for r in rows})
    modules = list(dict.fromkeys(r["module"] for r in rows))
    colors = [plt.get_cmap("tab20")(i % 20) for i in range(len(modules))]
    fig, axes = plt.subplots(
        len(variants),
        len(ts),
        figsize=(3.2 * len(ts) + 3.5, 2.8 * len(variants)),
        squeeze=False,
        sharey="row",
    )
    for i, v in enumerate(variants):
        for j, t in enumerate(ts):
            ax = axes[i][j]
            for k, m in enumerate(modules):
                pts = sorted(
                    (r["width"], r["l1"])
                    for r in rows
                    if r["variant"] == v and r["t"] == t and r["module"] == m
                )
                if pts and all(y > 0 for _, y in pts):
                    ax.plot(
                        *zip(*pts, strict=True),
                        marker="o",
                        label=m,
                        color=colors[k % len(colors)],
                    )
            ax.set_xscale("log", base=2)
            ax.set_yscale("log", base=2)
            ax.set_title(f"{v}, t={t}")
            ax.set_xlabel("width")
            if j == 0:
                ax.set_ylabel("mean |activation|")
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="center right", fontsize=7)
    fig.tight_layout(rect=(0, 0, 0.78, 1))
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
