"""The variant record: what a variant answers per parameter and for the model.

A record answers, for one parameter whose width role the inference found, its
init, optimizer and forward multipliers (:meth:`Variant.rule`), and, for the
whole model, the attention, residual and weight-decay rules. The records are in
:mod:`._relative` (rules relative to the base width: SP, μP's forms,
CompleteP) and :mod:`._absolute` (rules from each weight's own fans: u-μP,
spectral μP); :mod:`._variants` names them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from .. import _errors
from .._signature import Signature


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
class Depths:
    """What :meth:`Variant.depths` reads of the model's depth.

    ``depth_mult``/``layers`` infer ``L / L_base`` and the number of layers
    from the stacked block leaves; ``blocks`` is the user's regex naming the
    blocks (None: the stacked leaves); ``any_block`` whether some parameter is
    in a block.
    """

    depth_mult: Callable[[], float]
    layers: Callable[[], int | None]
    blocks: str | None
    any_block: bool


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

    def depths(self, given: Depths) -> tuple[float, int | None]:
        """CompleteP's ``L / L_base`` (1 elsewhere) and u-μP's depth (else None)."""
        del given
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


def ones_rule(sgd: bool = True) -> dict[str, Any]:
    """Every multiplier 1 (SGD's None where the variant has no SGD rule)."""
    out = {"init_mult": 1.0, "adam_lr": 1.0, "adam_eps": 1.0, "adam_wd": 1.0}
    return {**out, "sgd_lr": 1.0 if sgd else None, "sgd_wd": 1.0 if sgd else None}


def no_blocks(why: str, blocks: Any) -> ValueError:
    """No parameter is in a residual block where the variant needs some."""
    return _errors.bad_value(
        "blocks",
        f"a regex naming the residual blocks' parameters{why} (no parameter is "
        "stacked)",
        blocks,
    )
