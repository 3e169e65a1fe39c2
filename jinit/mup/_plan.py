"""The μP plan: one :class:`Param` per parameter, and what the model must apply."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import jax
import numpy as np

from .. import _errors, _roles, _tree
from . import _forward, _init, _optax, _table
from ._unit import positive_int
from ._variant import Variant

#: The width roles of :class:`Param` (``Param.role``).
ROLES: tuple[str, ...] = ("input", "hidden", "readout", "vector", "finite")
#: unit-scaling's ``mup_type`` of a parameter (``Param.kind``).
KINDS: tuple[str, ...] = ("weight", "output", "bias", "norm")


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
      init_std: the std of the variant's own init (spectral μP's ``σ``), else None.
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
    init_std: float | None = None


@dataclasses.dataclass(frozen=True)
class Parametrization:
    """Everything μP needs for one (base, target) pair, from :func:`parametrize`.

    * :meth:`rules`: ``jinit.materialize`` rules: the base rule set, rescaled
      per parameter.
    * :meth:`adam`, :meth:`sgd`: optax optimizers with the per-parameter LR, eps
      and weight decay; :meth:`scale_by_lr`: the LR multipliers alone.
    * :attr:`output_multiplier`, :meth:`attention_scale`,
      :attr:`residual_multiplier`, :meth:`attention_fn`: what the model's
      forward pass must apply (Flax and u-μP recipes: ``notebooks/06_mup.ipynb``).
    * :meth:`table`: one row per parameter; :func:`format_table` prints it.

    The plan keeps the base's and the target's leaf shapes: its rules and
    optimizers refuse a tree of any other shape.
    """

    variant: Variant
    params: tuple[Param, ...]
    depth_mult: float
    base: Mapping[str, Any] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )
    target: Mapping[str, Any] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )
    #: Each leaf's role and axes (:func:`jinit.roles` with the base).
    roles: _roles.Roles | None = dataclasses.field(
        default=None, compare=False, repr=False
    )

    @property
    def alpha(self) -> float | None:
        """CompleteP's depth exponent (None under other variants)."""
        return getattr(self.variant, "alpha", None)

    # -- lookup ---------------------------------------------------------------

    def __getitem__(self, path: str) -> Param:
        """The :class:`Param` of the leaf at ``path``."""
        for p in self.params:
            if p.path == path:
                return p
        raise _errors.bad_value(
            "path", "the path of a parameter of the parametrized model", path
        )

    def lookup(self, paths: Sequence[str]) -> list[Param]:
        """The :class:`Param` of each path of a tree of (a subtree of) the model.

        The tree's paths are the model's, or all of them under one top-level
        key (``variables["params"]`` for linen variables); nnx.Optimizer's
        ``.../value`` paths are those of the Variables.
        """
        return _roles.lookup({p.path: p for p in self.params}, paths)

    def check_shape(self, path: str, shape: Sequence[int], arg: str = "tree") -> None:
        """Refuses a leaf whose stored shape is not the target's."""
        spec = self.target.get(path)
        if spec is None:
            return
        expected = tuple(int(d) for d in spec.shape)
        if tuple(int(d) for d in shape) != expected:
            raise _errors.bad_value(
                f"{arg} leaf {path!r}",
                f"of the shape {expected} the plan was made for (parametrize "
                "again for another width)",
                tuple(shape),
            )

    def multipliers(self, tree: Any, field: str) -> Any:
        """A tree like ``tree`` holding each leaf's ``field`` multiplier."""
        flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
        params = self.lookup([_tree.path_string(k) for k, _ in flat])
        for p, (_, leaf) in zip(params, flat, strict=True):
            self.check_shape(p.path, np.shape(leaf), "params")
        values = [getattr(p, field) for p in params]
        if any(v is None for v in values):
            raise _errors.bad_value(
                "optimizer", f"'adam' under variant {self.variant.name!r}", "sgd"
            )
        return jax.tree_util.tree_unflatten(treedef, values)

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
        of the readout (``unit_scaling.functional.linear_readout`` scales the
        readout's output, bias included).

        Raises:
          ValueError: under ``"mup"``/``"completep"``/``"umup"``, no readout
            (``readout=None``), or readouts of different widths (use
            :attr:`readout_multipliers`).
        """
        if not self.variant.readout_forward:
            return 1.0
        if not self.variant.absolute and all(not p.infinite for p in self.params):
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
        positive_int("head_dim", head_dim)
        if base_head_dim is not None:
            positive_int("base_head_dim", base_head_dim)
        return self.variant.attention_scale(head_dim, base_head_dim)

    @property
    def residual_multiplier(self) -> float:
        """The factor of each residual branch: ``m_L^(-alpha)`` (CompleteP), else 1.

        Raises:
          ValueError: under ``"umup"``, whose residuals weigh branch and skip
            per layer (:func:`unit_residual_tau`, :func:`unit_residual_weights`).
        """
        return self.variant.residual_multiplier(self.depth_mult)

    attention_fn = staticmethod(_forward.attention_fn)

    # -- init, optimizers, table: in their modules ------------------------------

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
          ``{".*": PerLeaf}``: one rule that picks each leaf's initializer; it
          refuses a leaf of a shape other than the target's.

        Raises:
          ValueError: base rules under ``"umup"``, or none under another variant.
        """
        return _init.rules(self, base_rules, default)

    def scale_by_lr(self, optimizer: Literal["adam", "sgd"] = "adam") -> Any:
        """An optax ``GradientTransformation`` multiplying each update by its LR multiplier.

        Put it before the learning rate (any schedule), after the optimizer's
        own scaling: ``optax.chain(optax.scale_by_adam(), mp.scale_by_lr("adam"),
        optax.scale_by_learning_rate(schedule))``. Leaves are matched by path:
        the tree is the parametrized model's variables, the subtree under one
        top-level key (``variables["params"]``), or ``nnx.Optimizer``'s state; each
        leaf must have the target's shape. It has no state.
        """
        return _optax.scale_by_lr(self, optimizer)

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
        Works inside ``nnx.Optimizer(model, mp.adam(lr), wrt=nnx.Param)``.

        Under ``"umup"`` the decay is independent (``unit_scaling.optim.AdamW``):
        the decay coefficient is ``weight_decay / (peak_lr · adam_lr)``, so each
        step decays a parameter by ``weight_decay · lr_t / peak_lr``, whatever its
        LR multiplier; ``peak_lr`` is ``learning_rate`` if it is a number, else
        ``peak_learning_rate`` (required then).
        """
        return _optax.adam(
            self, learning_rate, b1, b2, eps, weight_decay, peak_learning_rate
        )

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
        return _optax.sgd(
            self, learning_rate, momentum, nesterov, weight_decay, peak_learning_rate
        )

    def table(
        self,
        base_rules: _tree.Rules | None = None,
        target: Any = None,
        *,
        default: Callable[..., Any] | None = None,
    ) -> list[dict[str, Any]]:
        """One row per parameter: role, width axes, m, init std, LR/eps/WD multipliers.

        Each row is :class:`Param`'s fields. With ``base_rules`` (or under
        ``"umup"``, whose unit init needs none) each row also has ``std``, the std
        of the law :meth:`Parametrization.rules` draws the parameter from on the
        target, and ``sp_std``, the std ``base_rules`` give it there; under
        ``"umup"``, ``init``: the unit law. ``target`` defaults to the plan's.
        """
        return _table.table(self, base_rules, target, default)
