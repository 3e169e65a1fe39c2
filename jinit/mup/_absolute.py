"""Variants whose rules are absolute, from each weight's own fans: u-μP, spectral μP.

Neither rescales the base rules: each draws its own init (u-μP's unit init,
spectral μP's fan-given stds) and gives each parameter multipliers from its
own call shape, whatever the base width.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Literal

from .. import _checks, _errors
from .._constant import ones, zeros
from .._distributions import Normal
from .._fans import compute_fans
from .._signature import Signature
from ._unit import positive_int
from ._variant import Depths, Leaf, Variant, no_blocks, ones_rule

_READOUT_CONSTRAINTS = (None, "to_output_scale")

#: u-μP's unit init and its name, by kind (any other kind: ones).
UNIT_INIT: dict[str, tuple[Any, str]] = {
    "weight": (Normal(1.0), "N(0, 1)"),
    "output": (Normal(1.0), "N(0, 1)"),
    "bias": (zeros, "zeros"),
}


def unit_fan_in(sig: Signature) -> float:
    """``unit_scaling.optim._get_fan_in`` on the call shape, in jinit's layouts.

    A vector's size; an embedding's embedding dim (its ``(vocab, d)`` axis -1:
    unit-scaling reads ``shape[1]`` of torch's ``(vocab, d)``); any other
    weight's fan-in by the one fan rule on its call shape.
    """
    shape = sig.shape
    if len(shape) < 2:
        return float(math.prod(shape))
    if sig.role == "embedding":
        return float(shape[-1])
    return compute_fans(shape, sig.in_axis, sig.out_axis)[0]


@dataclasses.dataclass(frozen=True)
class UMuP(Variant):
    """u-μP (Blake et al. 2024; unit-scaling 0.3.5): unit init, absolute LR rules.

    Attributes:
      depth: ``mup_scaling_depth`` of the block parameters; None: the target's
        number of stacked block layers (none when nothing is stacked).
      readout_constraint: the SGD rule, None (Adam's) or ``"to_output_scale"``.
    """

    name: ClassVar[str] = "umup"
    absolute: ClassVar[bool] = True
    init: ClassVar[Literal["base", "rescaled", "unit"]] = "unit"
    readout_forward: ClassVar[bool] = True
    depth: int | None = None
    readout_constraint: str | None = None

    def __post_init__(self):
        if self.depth is not None:
            object.__setattr__(self, "depth", positive_int("depth", self.depth))
        if self.readout_constraint not in _READOUT_CONSTRAINTS:
            raise _errors.bad_choice(
                "readout_constraint", self.readout_constraint, ("to_output_scale",)
            )

    def rule(self, leaf: Leaf, depth_mult: float, depth: int | None) -> dict[str, Any]:
        """``unit_scaling.optim.lr_scale_func_adam``/``_sgd`` and the forward scale."""
        del depth_mult
        kind, sig = leaf.kind, leaf.signature
        layers = depth if leaf.in_block else None
        scale = 1.0 if layers is None else layers**-0.5
        fan_in = unit_fan_in(sig)
        adam = scale * fan_in**-0.5 if kind == "weight" else scale
        if self.readout_constraint is None:
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
            # Independent weight decay: the coefficient is divided by the LR
            # (its multiplier here, the peak LR in decay_coefficient).
            "adam_wd": 1 / adam,
            "sgd_lr": sgd,
            "sgd_wd": 1 / sgd,
            "forward": forward,
            "depth": layers,
        }

    def own_init(self, param: Any) -> tuple[Any, str]:
        """u-μP's unit init by kind: weights N(0, 1), biases 0, norm scales 1."""
        return UNIT_INIT.get(param.kind, (ones, "ones"))

    def attention_scale(self, head_dim: int, base_head_dim: int | None) -> float:
        return (1.0 if base_head_dim is None else math.sqrt(base_head_dim)) / head_dim

    def depths(self, given: Depths) -> tuple[float, int | None]:
        if self.depth is not None:
            if not given.any_block:
                raise no_blocks(" when depth is given", given.blocks)
            return 1.0, self.depth
        depth = given.layers()
        if depth is None and given.blocks is not None:
            raise _errors.bad_value(
                "depth",
                "given where the blocks are not stacked with one number of layers",
                None,
            )
        return 1.0, depth

    def residual_multiplier(self, depth_mult: float) -> float:
        raise _errors.bad_value(
            "residual_multiplier",
            "read under a variant other than 'umup' (u-μP weighs each "
            "residual with jinit.mup.unit_residual_tau/unit_residual_weights)",
            self.name,
        )

    def decay_coefficient(
        self, weight_decay: float, learning_rate: Any, peak: float | None
    ) -> float:
        """Independent decay: ``weight_decay`` over the peak LR."""
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


def spectral_std(std: float, fan_in: float, fan_out: float) -> float:
    """``σ = std/√fan_in · min(1, √(fan_out/fan_in))`` (nanotron's ``_compute_spectral_std``)."""
    return (std / math.sqrt(fan_in)) * min(1, math.sqrt(fan_out / fan_in))


@dataclasses.dataclass(frozen=True)
class SpectralMuP(Variant):
    """Spectral μP (Yang, Simon & Bernstein 2023), as nanotron's ``SpectralMupParametrizator``.

    Absolute rules from each matrix's fans (read off its call shape, so the
    fans are global whatever the sharding: nanotron's tensor-parallel
    corrections are not needed):

    * every weight of 2 or more dimensions but an embedding: init
      N(0, σ²), ``σ = std/√fan_in · min(1, √(fan_out/fan_in))``, and the
      learning rate (Adam and SGD alike, as nanotron's
      ``LearningRateForSpectralMup._get_mup_lr``) ``× fan_out/fan_in``;
    * embeddings (by their signature): N(0, std²), LR × 1;
    * norm scales 1, biases 0, LR × 1.

    Weight decay follows the LR multiplier (a param group's ``lr`` in torch's
    AdamW). The attention and the readout keep SP's forward pass.

    Attributes:
      std: nanotron's ``self.std`` (1.0).
    """

    name: ClassVar[str] = "spectral"
    init: ClassVar[Literal["base", "rescaled", "unit"]] = "unit"
    needs_readout: ClassVar[bool] = False  # every matrix has the same rule
    std: float = 1.0

    def __post_init__(self):
        object.__setattr__(
            self, "std", _checks.real_number("std", self.std, positive=True)
        )

    def rule(self, leaf: Leaf, depth_mult: float, depth: int | None) -> dict[str, Any]:
        del depth_mult, depth
        sig = leaf.signature
        out = {**ones_rule(), "init_mult": None, "init_std": None}
        if len(sig.shape) < 2:
            return out
        if sig.role == "embedding":
            return {**out, "init_std": self.std}
        fan_in, fan_out = compute_fans(sig.shape, sig.in_axis, sig.out_axis)
        ratio = fan_out / fan_in
        return {
            **out,
            "init_std": spectral_std(self.std, fan_in, fan_out),
            "adam_lr": ratio,
            "sgd_lr": ratio,
        }

    def own_init(self, param: Any) -> tuple[Any, str]:
        if param.init_std is not None:
            return Normal(param.init_std), f"N(0, {param.init_std:.4g}²)"
        return (ones, "ones") if param.kind == "norm" else (zeros, "zeros")
