"""Variants whose rules are relative to the base width: SP, μP's forms, CompleteP.

Each multiplier is a power of the width multipliers ``m`` the inference found
(Tensor Programs V, Table 8 and Table 3; OLMo-core's abc-equivalent forms;
Dey et al.'s CompleteP depth rules; Kalra and Barkeshli's SP with embedding
LR). At the base width every multiplier is 1.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Literal

from .. import _checks, _errors
from .._signature import Signature
from ..schemes._depth import SQRT_DEPTH
from ._variant import Depths, Leaf, Variant, no_blocks, ones_rule


@dataclasses.dataclass(frozen=True)
class SP(Variant):
    """Standard parametrization: the base rules, optax's optimizers, no multipliers."""

    name: ClassVar[str] = "sp"

    def rule(self, leaf: Leaf, depth_mult: float, depth: int | None) -> dict[str, Any]:
        del leaf, depth_mult, depth
        return ones_rule()


@dataclasses.dataclass(frozen=True)
class MuP(Variant):
    """μP, Tensor Programs V Table 8 (microsoft/mup): readout output ``× 1 / m``."""

    name: ClassVar[str] = "mup"
    init: ClassVar[Literal["base", "rescaled", "unit"]] = "rescaled"
    readout_forward: ClassVar[bool] = True

    def rule(self, leaf: Leaf, depth_mult: float, depth: int | None) -> dict[str, Any]:
        out, sgd = self._relative(leaf)
        out["forward"] = 1 / leaf.width_mult if leaf.role == "readout" else 1.0
        return {**out, "sgd_lr": sgd, "sgd_wd": 1 / sgd}

    def _relative(self, leaf: Leaf) -> tuple[dict[str, Any], float]:
        """Table 8's init and Adam multipliers, and its SGD LR."""
        out = {"init_mult": 1.0, "adam_lr": 1.0, "adam_eps": 1.0, "adam_wd": 1.0}
        fi = leaf.fan_in_mult
        if leaf.role == "hidden":
            out.update(init_mult=fi**-0.5, adam_lr=1 / fi, adam_eps=1 / fi, adam_wd=fi)
            return out, leaf.fan_out_mult / fi
        return out, 1.0 if leaf.role == "finite" else leaf.width_mult

    def attention_scale(self, head_dim: int, base_head_dim: int | None) -> float:
        return (1.0 if base_head_dim is None else math.sqrt(base_head_dim)) / head_dim


@dataclasses.dataclass(frozen=True)
class MuPTable3(MuP):
    """μP, Table 3: no readout multiplier; readout init, Adam and SGD LR ``× 1 / m``."""

    name: ClassVar[str] = "mup_table3"
    readout_forward: ClassVar[bool] = False

    def rule(self, leaf: Leaf, depth_mult: float, depth: int | None) -> dict[str, Any]:
        out, sgd = self._relative(leaf)
        if leaf.role == "readout":
            m = leaf.width_mult
            out.update(init_mult=1 / m, adam_lr=1 / m, adam_wd=m)
            sgd = 1 / m
        return {**out, "sgd_lr": sgd, "sgd_wd": 1 / sgd}

    def check_readout(self, path: str, base: Signature) -> None:
        if base.role == "embedding":
            raise _errors.bad_value(
                "variant", "'mup' for a readout tied to the embedding", self.name
            )


_ALPHAS = (0.5, 1.0)
_DEPTH_SCALED_INIT = ("compensate", "refuse")


@dataclasses.dataclass(frozen=True)
class CompleteP(MuP):
    """CompleteP (Dey et al. 2025): μP plus depth rules for the residual blocks.

    Base rules that already scale the residual outputs by depth (GPT-2's,
    Megatron's and OLMo's ``1/sqrt(2 L)``, marked by
    :func:`jinit.schemes._depth.residual_scaled`) would count depth twice with
    the residual multiplier ``depth_mult^-alpha``: their init is compensated
    by ``depth_mult^{+1/2}`` (the std of the base depth, as Megatron's
    ``depth_mup`` recipe, PR #4999, "to avoid double-counting depth"), or,
    with ``depth_scaled_init="refuse"``, refused; a depth-indexed law
    (``1/sqrt(2 (l + 1))``) is always refused, as no one factor undoes it.

    Attributes:
      alpha: the depth exponent, ½ or 1.
      depth_mult: ``L / L_base``; None: inferred from the stacked block leaves.
      depth_scaled_init: ``"compensate"`` or ``"refuse"`` (see above).
    """

    name: ClassVar[str] = "completep"
    has_sgd: ClassVar[bool] = False
    alpha: float | None = None
    depth_mult: float | None = None
    depth_scaled_init: str = "compensate"

    def __post_init__(self):
        if self.depth_scaled_init not in _DEPTH_SCALED_INIT:
            raise _errors.bad_choice(
                "depth_scaled_init", self.depth_scaled_init, _DEPTH_SCALED_INIT
            )
        if self.alpha not in _ALPHAS:
            raise _errors.bad_value("alpha", "0.5 or 1 for 'completep'", self.alpha)
        object.__setattr__(self, "alpha", float(self.alpha))  # type: ignore[arg-type]
        if self.depth_mult is not None:
            value = _checks.real_number("depth_mult", self.depth_mult, positive=True)
            object.__setattr__(self, "depth_mult", value)

    def rule(self, leaf: Leaf, depth_mult: float, depth: int | None) -> dict[str, Any]:
        out, _ = self._relative(leaf)
        alpha: float = self.alpha  # type: ignore[assignment]
        if leaf.in_block:
            out.update(
                adam_lr=out["adam_lr"] * depth_mult ** (alpha - 1),
                adam_eps=out["adam_eps"] * depth_mult**-alpha,
            )
        out["forward"] = 1 / leaf.width_mult if leaf.role == "readout" else 1.0
        return {**out, "sgd_lr": None, "sgd_wd": None}

    def depths(self, given: Depths) -> tuple[float, int | None]:
        if not given.any_block:
            raise no_blocks("", given.blocks)
        if self.depth_mult is not None:
            return self.depth_mult, None
        return given.depth_mult(), None

    def residual_multiplier(self, depth_mult: float) -> float:
        return depth_mult**-self.alpha  # type: ignore[operator]

    def depth_compensation(
        self, scaling: str | None, path: str, depth_mult: float
    ) -> float:
        if scaling is None or depth_mult == 1.0:
            return 1.0
        if scaling == SQRT_DEPTH and self.depth_scaled_init == "compensate":
            return depth_mult**0.5
        why = (
            "its std depends on the layer index"
            if scaling != SQRT_DEPTH
            else "depth_scaled_init='refuse'"
        )
        raise _errors.bad_value(
            f"base rule of {path!r}",
            "a law not already scaled by depth under variant 'completep' (its "
            "residual multiplier scales the branches by depth; the law's "
            f"{scaling} would count depth twice; {why})",
            scaling,
        )


@dataclasses.dataclass(frozen=True)
class SPEmbeddingLR(Variant):
    """SP with the embedding LR ``× m`` (Kalra & Barkeshli 2026, arXiv 2605.21486).

    The base rules as given (SP's init and forward pass); the input weights
    (embeddings, and any weight whose fan-out alone is width) get Adam's LR
    ``× m``, ``m`` their fan-out multiplier; everything else ``× 1``. Adam only.
    """

    name: ClassVar[str] = "sp_embedding_lr"
    has_sgd: ClassVar[bool] = False

    def rule(self, leaf: Leaf, depth_mult: float, depth: int | None) -> dict[str, Any]:
        del depth_mult, depth
        out = ones_rule(sgd=False)
        if leaf.role == "input" and len(leaf.signature.shape) >= 2:
            out["adam_lr"] = leaf.width_mult
        return out


#: OLMo-core's ``MuPScalingStrategy`` names.
ABC_FORMS: tuple[str, ...] = (
    "constant_outputs",
    "constant_init_std",
    "constant_lr",
    "table_8",
)

#: ``{form: {role: (input multiplier, init std multiplier, LR multiplier)}}`` as
#: powers of the fan-in multiplier ``m`` (OLMo-core ``src/olmo_core/nn/mup.py``,
#: ``MuP.input_multiplier``/``init_std_multiplier``/``lr_multiplier``; its
#: ``scaling_input`` is jinit's readout, ``scaling_input_output`` the hidden).
_ABC_POWERS: dict[str, dict[str, tuple[float, float, float]]] = {
    "constant_outputs": {"readout": (0, -1, -1), "hidden": (0, -0.5, -1)},
    "constant_init_std": {"readout": (-1, 0, 0), "hidden": (-0.5, 0, -0.5)},
    "constant_lr": {"readout": (-1, 0, 0), "hidden": (-1, 0.5, 0)},
    "table_8": {"readout": (-1, 0, 0), "hidden": (0, -0.5, -1)},
}


@dataclasses.dataclass(frozen=True)
class MuPABC(MuP):
    """μP in one of the abc-equivalent forms of OLMo-core's ``MuPScalingStrategy``.

    The abc symmetry (Tensor Programs V, Lemma J.1): a weight's input
    multiplier ``× c``, init std ``÷ c`` and Adam LR ``÷ c`` train alike.
    ``form`` says which stays constant for the readout and the hidden weights
    (:data:`_ABC_POWERS`, powers of their fan-in multiplier ``m``; input
    weights and vectors: all 1). The input multiplier is :attr:`Param.forward`
    (:attr:`Parametrization.forward_multipliers`, which the model applies).
    Adam eps and weight decay are not scaled (OLMo-core's); Adam only.

    Attributes:
      form: one of :data:`ABC_FORMS`.
    """

    name: ClassVar[str] = "mup_abc"
    has_sgd: ClassVar[bool] = False
    form: str = "constant_outputs"

    def __post_init__(self):
        if self.form not in ABC_FORMS:
            raise _errors.bad_choice("form", self.form, ABC_FORMS)

    @property
    def readout_forward(self) -> bool:  # type: ignore[override]
        return _ABC_POWERS[self.form]["readout"][0] != 0

    def rule(self, leaf: Leaf, depth_mult: float, depth: int | None) -> dict[str, Any]:
        del depth_mult, depth
        out = {**ones_rule(sgd=False), "forward": 1.0}
        powers = _ABC_POWERS[self.form].get(leaf.role)
        if powers is not None:
            m = leaf.fan_in_mult
            forward, init, lr = (m**p for p in powers)
            out.update(forward=forward, init_mult=init, adam_lr=lr)
        return out

    def check_readout(self, path: str, base: Signature) -> None:
        if base.role == "embedding" and _ABC_POWERS[self.form]["readout"][1]:
            raise _errors.bad_value(
                "form",
                "one that keeps the readout's init std (a readout tied to the "
                "embedding)",
                self.form,
            )
