"""Mixture-of-experts structure: which leaves are routers, which axes index experts.

A router is a weight named as one (``jinit.schemes.PATTERNS["router"]``:
``.../gate/kernel``, ``.../router/kernel``, ...) whose module has experts
beside it: a sibling leaf with an axis of the router's fan-out size (the
number of experts) that is no fan axis of one matrix, either a call axis
(experts declared in one ``(E, d, f)`` or ``(E, f, d)`` call, HF v5 and
MaxText layouts) or a stacked axis (``nn.vmap``-ed experts). A dense MLP's
``gate`` projection has no such sibling: it is no router.

An expert axis is a batch-like width: each expert is its own matrix, with its
own fans, so widening the number of experts changes no fan (``jinit.roles``'
``expert_axes``, ``expert_mult``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from . import _checks
from ._signature import Signature

#: Modules whose kernel's contraction is in an equation, not its call shape.
EQUATION_MODULES = ("Einsum",)
#: Convolutions whose receptive axes are positions, each its own matrix.
LOCAL_CONVS = ("ConvLocal",)


def short(module: str) -> str:
    """A qualified class name's last part."""
    return module.rsplit(".", 1)[-1]


def is_conv(module: str) -> bool:
    """Whether a module is a convolution (its receptive axes are a window)."""
    return "Conv" in short(module) and short(module) not in LOCAL_CONVS


def fan_axes(sig: Signature) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The fan-in and fan-out axes of a call shape of 2 or more dimensions."""
    n = len(sig.shape)
    return (
        _checks.check_axes("in_axis", sig.in_axis, n),
        _checks.check_axes("out_axis", sig.out_axis, n),
    )


def call_expert_axes(sig: Signature) -> tuple[int, ...]:
    """The call axes that index matrices declared in one call (``(E, d, f)``'s E).

    The non-fan axes of a call of 3 or more dimensions whose module is neither a
    convolution (a window, or ``ConvLocal``'s positions) nor an ``Einsum`` (an
    equation); none for a leaf whose module is unknown (a plain tree's: its
    3-D kernel may be a ``DenseGeneral``'s, whose call shape is not stored).
    """
    if len(sig.shape) < 3 or not sig.module or "Conv" in short(sig.module):
        return ()
    if short(sig.module) in EQUATION_MODULES:
        return ()
    ins, outs = fan_axes(sig)
    return tuple(a for a in range(len(sig.shape)) if a not in ins + outs)


def _parent(router: str) -> str:
    """The path prefix of the module that holds a router (``"mlp/"`` of
    ``"mlp/gate/kernel"``; ``""`` at the top)."""
    parts = router.split("/")
    return "/".join(parts[:-2]) + "/" if len(parts) > 2 else ""


def _router_regex() -> re.Pattern[str]:
    from .schemes import PATTERNS

    return re.compile(PATTERNS["router"])


def routers(specs: Mapping[str, tuple[Any, Signature]]) -> dict[str, int]:
    """``{router path: number of experts}`` of a tree's ``{path: (spec, sig)}``."""
    regex = _router_regex()
    out = {}
    for path, (_, sig) in specs.items():
        if len(sig.shape) != 2 or not regex.fullmatch(path):
            continue
        experts = math.prod(sig.shape[a] for a in fan_axes(sig)[1])
        parent = _parent(path)
        if any(
            stacked_expert_axes(sig, s, tuple(sp.shape), experts)
            or experts in [s.shape[a] for a in call_expert_axes(s)]
            for p, (sp, s) in specs.items()
            if p.startswith(parent) and p != path
        ):
            out[path] = experts
    return out


def stacked_expert_axes(
    router: Signature, sig: Signature, shape: tuple[int, ...], experts: int
) -> tuple[int, ...]:
    """The stacked axes of a leaf beside a router that index its experts.

    Those of size ``experts`` past the stack the router has too (the layers of
    an ``nn.scan`` around the whole block).
    """
    own = sig.stacked[len(router.stacked) :]
    return tuple(a for a in own if shape[a] == experts)


def expert_of(
    path: str,
    specs: Mapping[str, tuple[Any, Signature]],
    found: Mapping[str, int],
) -> tuple[int, ...]:
    """The stored stacked axes of ``path`` that index a router's experts."""
    spec, sig = specs[path]
    for router, experts in found.items():
        if path.startswith(_parent(router)) and path != router:
            axes = stacked_expert_axes(
                specs[router][1], sig, tuple(spec.shape), experts
            )
            if axes:
                return axes
    return ()
