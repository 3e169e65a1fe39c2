r"""μP for JAX: widths inferred from two abstract models; init, optax and multipliers.

μP (the Maximal Update Parametrization, Tensor Programs V) makes the best
learning rate and init scale of a narrow proxy hold for the wide model. It is a
rule per parameter, by its role and its width multiplier ``m = width /
base_width`` (Table 8, microsoft/mup's ``MuReadout``, ``MuAdam``, ``MuSGD``):

=========== ===================== ============== ============== ============
role        init std              Adam LR        SGD LR         forward
=========== ===================== ============== ============== ============
input       base                  1              m              1
vector      base                  1              m              1
hidden      base / sqrt(m_in)     1 / m_in       m_out / m_in   1
readout     base                  1              m              × 1 / m
finite      base                  1              1              1
=========== ===================== ============== ============== ============

"base" is the std the base rules give the parameter at the base width. Hidden
weights also get Adam eps ``× 1 / m_in``; weight decay is decoupled
(``MuAdamW``); attention logits use ``q·k / d``. Roles are read off the call
shapes (:class:`jinit.Signature`) of the two models: an axis is width where
they differ. Variants (``variant=``, names or records): ``"sp"`` (:class:`SP`,
the control), ``"mup"`` (:class:`MuP`), ``"mup_table3"`` (:class:`MuPTable3`:
readout init and LR ``× 1 / m``, no multiplier), ``"completep"``
(:class:`CompleteP`, Dey et al. 2025: depth rules for residual blocks) and
``"umup"`` (:class:`UMuP`, Blake et al. 2024, graphcore ``unit-scaling`` 0.3.5:
unit init, absolute LR rules, forward scales ``unit_*``). Recipes:
``notebooks/06_mup.ipynb``. Also ``"spectral"`` (:class:`SpectralMuP`, Yang,
Simon & Bernstein 2023 as nanotron: ``σ = 1/√fan_in · min(1, √(fan_out/fan_in))``,
LR ``× fan_out/fan_in``), ``"sp_embedding_lr"`` (:class:`SPEmbeddingLR`, Kalra &
Barkeshli 2026: SP, embedding LR ``× m``), ``"mup_abc"`` (:class:`MuPABC`, the
abc-equivalent forms of OLMo-core's ``MuPScalingStrategy``), and the
norm-controlled presets :func:`scion` and :func:`modula`.

References:
  Yang et al. 2022, arXiv 2203.03466 (Tables 3 and 8); Dey et al. 2025, arXiv
  2505.01618 (Table 1); Blake et al. 2024, arXiv 2407.17465; microsoft/mup
  1.0.0; graphcore unit-scaling 0.3.5.
"""

from ._absolute import SpectralMuP, UMuP
from ._coord_check import coord_check, plot_coord_check
from ._forward import attention_fn
from ._infer import BY_SHAPE, identity, parametrize
from ._plan import KINDS, ROLES, Param, Parametrization
from ._relative import (
    ABC_FORMS,
    SP,
    CompleteP,
    MuP,
    MuPABC,
    MuPTable3,
    SPEmbeddingLR,
)
from ._scion import modula, scion
from ._table import format_table
from ._unit import (
    unit_attention_output_scale,
    unit_gelu_scale,
    unit_linear_scale,
    unit_residual_tau,
    unit_residual_weights,
    unit_silu_glu_scale,
    unit_silu_scale,
)
from ._variant import Variant
from ._variants import VARIANTS

__all__ = [
    "ABC_FORMS",
    "BY_SHAPE",
    "KINDS",
    "ROLES",
    "SP",
    "VARIANTS",
    "CompleteP",
    "MuP",
    "MuPABC",
    "MuPTable3",
    "Param",
    "Parametrization",
    "SPEmbeddingLR",
    "SpectralMuP",
    "UMuP",
    "Variant",
    "attention_fn",
    "coord_check",
    "format_table",
    "identity",
    "modula",
    "parametrize",
    "plot_coord_check",
    "scion",
    "unit_attention_output_scale",
    "unit_gelu_scale",
    "unit_linear_scale",
    "unit_residual_tau",
    "unit_residual_weights",
    "unit_silu_glu_scale",
    "unit_silu_scale",
]
