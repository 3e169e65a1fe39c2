"""The variants as data: one frozen record each, owning its per-parameter rules.

A record answers, for one parameter whose width role the inference found, its
init, optimizer and forward multipliers (:meth:`Variant.rule`), and, for the
whole model, the attention, residual and weight-decay rules. The strings
``"sp"``, ``"mup"``, ... name default records (:data:`BY_NAME`); the
variant-only arguments of :func:`jinit.mup.parametrize` are the records' fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from .. import _checks, _errors
from .._constant import ones, zeros
from .._distributions import Normal
from .._fans import compute_fans
from .._signature import Signature
from ..schemes._depth import SQRT_DEPTH
from ._unit import positive_int


@dataclasses.dataclass(frozen=True)
class Leaf:
    """What the width inference found for one parameter (its call shapes)."""

    role: str
    kind: str
    signature: Signature
    width_mult: float
    fan_in_mult: float
    fan_out_mult: float
    in_block: bool


@dataclasses.dataclass(frozen=True)
class Variant:
    """Base of the variant records: the whole-model rules default to SP's."""

    name: ClassVar[str]
    #: Rules not relative to the base width (u-μP): the readout is named even there.
    absolute: ClassVar[bool] = False
    #: What :meth:`Parametrization.rules` draws: the base rules as given,
    #: rescaled per parameter, or the variant's own init (:meth:`own_init`:
    #: u-μP's unit init, spectral μP's fan-given stds), no base rules.
    init: ClassVar[Literal["base", "rescaled", "unit"]] = "base"
    #: Whether the readout's output is multiplied (``output_multiplier``).
    readout_forward: ClassVar[bool] = False
    #: Whether an SGD rule exists.
    has_sgd: ClassVar[bool] = True
    #: Whether the readout has rules of its own (else no readout need be found).
    needs_readout: ClassVar[bool] = True

    def rule(self, leaf: Leaf, depth_mult: float, depth: int | None) -> dict[str, Any]:
        """The multiplier fields of the parameter's :class:`Param`.

        ``depth_mult`` and ``depth`` are those :meth:`depths` gave.
        """
        raise NotImplementedError

    def own_init(self, param: Any) -> tuple[Any, str]:
        """``(initializer, law name)`` of a :class:`Param` where ``init == "unit"``."""
        raise NotImplementedError

    def depths(
        self,
        depth_mult: Callable[[], float],
        layers: Callable[[], int | None],
        blocks: str | None,
        any_block: bool,
    ) -> tuple[float, int | None]:
        """CompleteP's ``L / L_base`` (1 elsewhere) and u-μP's depth (else None).

        ``depth_mult``/``layers`` infer them from the stacked block leaves;
        ``blocks`` is the user's regex naming the blocks (None: the stacked
        leaves); ``any_block`` whether some parameter is in a block.
        """
        del depth_mult, layers, blocks, any_block
        return 1.0, None

    def check_readout(self, path: str, base: Signature) -> None:
        """Refuses a readout this variant cannot plan (none here)."""
        del path, base

    def depth_compensation(
        self, scaling: str | None, path: str, depth_mult: float
    ) -> float:
        """The init factor of a leaf whose base rule already scales it by depth.

        ``scaling`` is :func:`jinit.schemes._depth.depth_scaling` of the leaf's
        base rule. 1 here: only a variant with depth rules counts depth.
        """
        del scaling, path, depth_mult
        return 1.0

    def attention_scale(self, head_dim: int, base_head_dim: int | None) -> float:
        del base_head_dim
        return head_dim**-0.5

    def residual_multiplier(self, depth_mult: float) -> float:
        del depth_mult
        return 1.0

    def decay_coefficient(
        self, weight_decay: float, learning_rate: Any, peak: float | None
    ) -> float:
        """The coefficient of the decoupled weight decay (``weight_decay`` here)."""
        del learning_rate
        if peak is not None:
            raise _errors.bad_value(
                "peak_learning_rate", "None unless variant='umup'", peak
            )
        return weight_decay


@dataclasses.dataclass(frozen=True)
class SP(Variant):
    """Standard parametrization: the base rules, optax's optimizers, no multipliers."""

    name: ClassVar[str] = "sp"

    def rule(self, leaf: Leaf, depth_mult: float, depth: int | None) -> dict[str, Any]:
        del leaf, depth_mult, depth
        one = {"init_mult": 1.0, "adam_lr": 1.0, "adam_eps": 1.0, "adam_wd": 1.0}
        return {**one, "sgd_lr": 1.0, "sgd_wd": 1.0}


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


def no_blocks(why: str, blocks: Any) -> ValueError:
    """No parameter is in a residual block where the variant needs some."""
    return _errors.bad_value(
        "blocks",
        f"a regex naming the residual blocks' parameters{why} (no parameter is "
        "stacked)",
        blocks,
    )


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

    def depths(
        self,
        depth_mult: Callable[[], float],
        layers: Callable[[], int | None],
        blocks: str | None,
        any_block: bool,
    ) -> tuple[float, int | None]:
        if not any_block:
            raise no_blocks("", blocks)
        return (depth_mult() if self.depth_mult is None else self.depth_mult), None

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

    def depths(
        self,
        depth_mult: Callable[[], float],
        layers: Callable[[], int | None],
        blocks: str | None,
        any_block: bool,
    ) -> tuple[float, int | None]:
        if self.depth is not None:
            if not any_block:
                raise no_blocks(" when depth is given", blocks)
            return 1.0, self.depth
        depth = layers()
        if depth is None and blocks is not None:
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


def _ones(sgd: bool = True) -> dict[str, Any]:
    out = {"init_mult": 1.0, "adam_lr": 1.0, "adam_eps": 1.0, "adam_wd": 1.0}
    return {**out, "sgd_lr": 1.0 if sgd else None, "sgd_wd": 1.0 if sgd else None}


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
        out = {**_ones(), "init_mult": None, "init_std": None}
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
        out = _ones(sgd=False)
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
        out = {**_ones(sgd=False), "forward": 1.0}
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


#: The variant of each name (the records' defaults).
BY_NAME: dict[str, type[Variant]] = {
    cls.name: cls
    for cls in (SP, MuP, MuPTable3, CompleteP, UMuP, SpectralMuP, SPEmbeddingLR, MuPABC)
}
VARIANTS: tuple[str, ...] = tuple(BY_NAME)


def variant_of(variant: Any, **fields: Any) -> Variant:
    """The record of ``variant`` (a name or a record), with the fields given.

    Raises:
      ValueError: an unknown name; a field (not None) the variant lacks,
        naming the variant that has it; a field given with a record.
    """
    given = {k: v for k, v in fields.items() if v is not None}
    if isinstance(variant, Variant):
        for arg, value in given.items():
            raise _errors.bad_value(
                arg, "None when `variant` is a record (set it on the record)", value
            )
        return variant
    if not isinstance(variant, str) or variant not in BY_NAME:
        raise _errors.bad_choice("variant", variant, VARIANTS)
    cls = BY_NAME[variant]
    own = {f.name for f in dataclasses.fields(cls)}
    for arg, value in given.items():
        if arg not in own:
            owner = next(
                n
                for n, c in BY_NAME.items()
                if arg in {f.name for f in dataclasses.fields(c)}
            )
            raise _errors.bad_value(arg, f"None unless variant={owner!r}", value)
    return cls(**given)
