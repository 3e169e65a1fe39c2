"""Depth-indexed laws: a normal whose std depends on the layer, drawn per layer
or on a whole stacked leaf at once; and the padding-row wrapper of embeddings."""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks, _errors, _laws, _signature
from .. import torch as _torch
from .._base import Init
from .._distributions import Normal, TruncatedNormal, normal, truncated_normal
from .._types import DTypeLike

#: The default layer-index pattern: the number after ``h``, ``layer(s)``,
#: ``block(s)`` (any prefix, ``/`` or ``_`` before it: ``h/3``, ``layers_3``,
#: ``Block_3``, ``encoder/block/3``); the first match in the path counts.
LAYER = r"(?:^|/)(?:h|[A-Za-z_]*(?:[Ll]ayers?|[Bb]locks?))[_/](\d+)(?=/)"


_LAYER_GROUP = "the layer index"


def check_regex(arg: str, regex: Any, group: str = "") -> str:
    """``regex``, checked: a string that compiles (with a group where ``group``
    says what its first group means)."""
    if not isinstance(regex, str):
        allowed = (
            f"a regex string whose first group is {group}"
            if group
            else "a regex string"
        )
        raise _errors.bad_type(arg, allowed, regex)
    try:
        compiled = re.compile(regex)
    except re.error as e:
        raise _errors.bad_value(
            arg, f"a valid regular expression ({e})", regex
        ) from None
    if group and compiled.groups < 1:
        raise _errors.bad_value(arg, f"a regex with a group: {group}", regex)
    return regex


def layer_index(path: str, layer: str = LAYER) -> int | None:
    """The layer index in ``path``: the first group of ``layer``'s first match.

    >>> layer_index("transformer/h/11/attn/c_proj/kernel")
    11
    """
    m = re.search(layer, path)
    return None if m is None else int(m.group(1))


@dataclasses.dataclass(frozen=True)
class LayerStack(Init):
    """A stacked leaf whose slice ``l`` along ``axis`` is drawn from ``inits[l]``.

    Drawn in one call on the whole stored shape (``draws_stack``): the key is
    split into one key per layer and slice ``l`` equals
    ``inits[l](jax.random.split(key, n)[l], layer_shape, dtype)``, so each
    layer's law is exactly that of the unrolled layer (truncation bounds
    included, absolute or relative).

    ``law(shape, dtype)`` is a :class:`StackLaw`: the law of the whole leaf
    (its ``std`` is what ``leaf.std()`` estimates, and what
    ``jinit.flax.table`` shows as the leaf's std) with each layer's law in
    ``.layers`` (``law(shape).layers[0].std`` is layer 0's std).
    """

    draws_stack: ClassVar[bool] = True
    inits: tuple[Any, ...] = ()
    axis: int = 0
    dtype: DTypeLike | None = None

    def _layer_shape(self, shape):
        return tuple(d for i, d in enumerate(shape) if i != self.axis)

    def _check(self, shape, dtype):
        if not 0 <= self.axis < len(shape) or shape[self.axis] != len(self.inits):
            raise _errors.bad_value(
                "shape",
                f"a shape with {len(self.inits)} layers on axis {self.axis}",
                shape,
            )
        for init in self.inits:
            init._check(self._layer_shape(shape), dtype)

    def _law(self, shape, dtype):
        layer = self._layer_shape(shape)
        laws = tuple(init.law(layer, dtype) for init in self.inits)
        if any(law is None for law in laws):
            return None
        return stack_law(laws)

    def _generate(self, key, shape, dtype):
        keys = jax.random.split(key, len(self.inits))
        layer = self._layer_shape(shape)
        slices = [
            init._generate(k, layer, dtype)
            for init, k in zip(self.inits, keys, strict=True)
        ]
        return jnp.stack(slices, axis=self.axis)


@dataclasses.dataclass(frozen=True)
class StackLaw(_laws.Law):
    """The law of a value of a stacked leaf, and the law of each of its layers.

    ``mean``, ``std``, ``support`` and ``density`` are those of a value at a
    uniformly random position of the leaf: the equal-weight mixture of the
    layers' laws, so ``std`` is what ``leaf.std()`` estimates. ``layers[l]`` is
    the law of layer ``l``'s values (``layers[l].std`` its std).
    """

    layers: tuple[_laws.Law, ...] = ()


def _mixture_density(densities: tuple[Any, ...], x: np.ndarray) -> np.ndarray:
    return np.mean([f(x) for f in densities], axis=0)


def stack_law(layers: tuple[_laws.Law, ...]) -> StackLaw:
    """The :class:`StackLaw` of equal-size layers with laws ``layers``.

    Mixture moments: ``mean = mean_l(m_l)``, ``std^2 = mean_l(s_l^2 + m_l^2) -
    mean^2``; support the hull of the layers' supports; density the mean of
    theirs (None if any is None).
    """
    n = len(layers)
    mean = sum(law.mean for law in layers) / n
    second = sum(law.std**2 + law.mean**2 for law in layers) / n
    std = math.sqrt(max(second - mean**2, 0.0))
    supports = [law.support for law in layers]
    support = None
    if all(s is not None for s in supports):
        support = (min(s[0] for s in supports), max(s[1] for s in supports))  # type: ignore[index]
    densities = [law.density for law in layers]
    density = None
    if all(f is not None for f in densities):
        density = functools.partial(_mixture_density, tuple(densities))
    return StackLaw(mean, std, support, density, layers)


@dataclasses.dataclass(frozen=True)
class DepthScaled:
    r"""A normal law whose std depends on the layer: ``std / sqrt(multiplier * (l + offset))``.

    The depth rule of torchtitan (``0.02 / sqrt(2 (l + 1))``), OLMo ``mitchell``
    and OLMo-core ``llama_depth``. Used as a rule, it picks each leaf's law from
    its layer index ``l`` (see :func:`layer_index`), or, on a stacked leaf of
    :func:`jinit.flax.abstract`, draws all layers at once (:class:`LayerStack`).

    Attributes:
      std: the base std (layer ``l`` gets ``std / sqrt(multiplier (l + offset))``).
      multiplier, offset: see above.
      cutoff: truncate at ``+-cutoff`` stds of each layer (OLMo), or None.
      bounds: absolute truncation bounds ``(a, b)`` (PyTorch's ``trunc_normal_``,
        torchtitan's ``(-2, 2)``), or None.
      layer: the layer-index regex.
    """

    std: float
    multiplier: float = 2.0
    offset: float = 1.0
    cutoff: float | None = None
    bounds: tuple[float, float] | None = None
    layer: str = LAYER

    def __post_init__(self):
        _checks.real_number("std", self.std, positive=True)
        _checks.real_number("multiplier", self.multiplier, positive=True)
        _checks.real_number("offset", self.offset, positive=True)
        if self.cutoff is not None:
            _checks.real_number("cutoff", self.cutoff, positive=True)
        if self.bounds is not None and (
            len(self.bounds) != 2 or not self.bounds[0] < self.bounds[1]
        ):
            raise _errors.bad_value("bounds", "a pair (a, b) with a < b", self.bounds)
        if self.cutoff is not None and self.bounds is not None:
            raise _errors.bad_value(
                "bounds", "None when `cutoff` is set (one truncation)", self.bounds
            )
        check_regex("layer", self.layer, _LAYER_GROUP)

    def std_of(self, layer: int) -> float:
        """The std of layer ``layer``."""
        return self.std / math.sqrt(self.multiplier * (layer + self.offset))

    def at(self, layer: int) -> Init:
        """The initializer of layer ``layer``."""
        return _law(self.std_of(layer), self.cutoff, self.bounds)

    def for_leaf(self, path: str, leaves: Mapping[str, Any]) -> Init:
        sig = _signature.signature_of(leaves.get(path))
        if sig is not None and sig.stacked:
            if len(sig.stacked) != 1:
                raise _errors.bad_value(
                    f"leaf {path!r}",
                    "a leaf stacked along one axis (the layers) for a "
                    "depth-indexed law",
                    f"stacked axes {sig.stacked}",
                )
            (axis,) = sig.stacked
            n = tuple(leaves[path].shape)[axis]
            return LayerStack(tuple(self.at(i) for i in range(n)), axis)
        index = layer_index(path, self.layer)
        if index is None:
            raise _errors.bad_value(
                f"layer of {path!r}",
                f"a path with a layer index matching `layer` ({self.layer!r}), or "
                "a stacked leaf of jinit.flax.abstract(...)",
                path,
            )
        return self.at(index)


# ----------------------------------------------------------------------------
# Residual outputs already scaled by depth, and what CompleteP does with them.


@dataclasses.dataclass(frozen=True)
class ResidualNormal(Normal):
    """A normal law of residual outputs whose std already holds ``1/sqrt(2 L)``.

    The same draw as :class:`jinit.Normal` (bit for bit); ``layers`` is the
    ``L`` its std was divided by (GPT-2's ``c_proj``, Megatron's output
    layers, OLMo's ``full_megatron``). CompleteP, whose residual multiplier
    already scales the branches by depth, compensates it (see
    :func:`depth_scaling`).
    """

    layers: int = 1


@dataclasses.dataclass(frozen=True)
class ResidualTruncatedNormal(TruncatedNormal):
    """:class:`ResidualNormal`'s truncated twin (OLMo's cutoffs)."""

    layers: int = 1


_RESIDUAL = {Normal: ResidualNormal, TruncatedNormal: ResidualTruncatedNormal}


def residual_scaled(law: Any, layers: int) -> Any:
    """``law`` (a normal or truncated normal whose std holds ``1/sqrt(2 layers)``), marked.

    The draw is unchanged; the mark tells :func:`depth_scaling` (and so
    CompleteP) that the law already scales a residual output by depth.
    """
    layers = _checks.integer("layers", layers, minimum=1)
    cls = _RESIDUAL.get(type(law))
    if cls is None:
        raise _errors.bad_type(
            "law", "a jinit normal or truncated_normal of a residual output", law
        )
    fields = {f.name: getattr(law, f.name) for f in dataclasses.fields(law)}
    return cls(**fields, layers=layers)


#: :func:`depth_scaling`'s answers.
SQRT_DEPTH = "1/sqrt(L)"
PER_LAYER = "per layer"


def depth_scaling(rule: Any) -> str | None:
    """How the rule already scales a residual output by depth, or None.

    :data:`SQRT_DEPTH` for a :func:`residual_scaled` law (one std for the
    model's ``L`` layers: compensated by ``depth_mult^{+1/2}``, as Megatron's
    ``depth_mup`` recipe does, PR #4999); :data:`PER_LAYER` for a
    depth-indexed law (:class:`DepthScaled`, :class:`LayerStack`: no one
    factor compensates it).
    """
    if isinstance(rule, ResidualNormal | ResidualTruncatedNormal):
        return SQRT_DEPTH
    if isinstance(rule, DepthScaled | LayerStack):
        return PER_LAYER
    return None


def _law(std: float, cutoff: float | None = None, bounds: Any = None) -> Init:
    """N(0, std^2), truncated at +-cutoff stds or at absolute ``bounds``."""
    if bounds is not None:
        return _torch.trunc_normal(0.0, std, bounds[0], bounds[1])
    if cutoff is not None:
        return truncated_normal(std, lower=-cutoff, upper=cutoff)
    return normal(std)


@dataclasses.dataclass(frozen=True)
class _ZeroRow(Init):
    """``base``'s draw with row ``index`` (of axis 0) set to zero: a padding row."""

    base: Any = None
    index: int = 0
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        if not shape or not -shape[0] <= self.index < shape[0]:
            raise _errors.bad_value(
                "pad_token_id", f"a row of an embedding of shape {shape}", self.index
            )
        self.base._check(shape, dtype)

    def _generate(self, key, shape, dtype):
        return self.base._generate(key, shape, dtype).at[self.index].set(0)


def _padded(law: Any, pad_token_id: int | None) -> Any:
    if pad_token_id is None:
        return law
    return _ZeroRow(law, _checks.integer("pad_token_id", pad_token_id, minimum=0))
