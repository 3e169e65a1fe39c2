r"""Named schemes: the initializations large models are trained with, as rules.

Each builder returns an ordered ``dict`` of path regex -> initializer for
:func:`jinit.materialize`, :func:`jinit.reinit` and :func:`jinit.flax.table`.
The rules are keyed by **role** (:data:`ROLES`: embedding, position embedding,
q/k/v, attention output, MLP in/out, norms, biases, readout, ...), each role
with a default path pattern (:data:`PATTERNS`) that matches common Flax naming:
linen ``MultiHeadDotProductAttention``/nnx ``MultiHeadAttention``
(``query``/``key``/``value``/``out``), Hugging Face's Flax port names
(``transformer/h/0/attn/c_attn/kernel``, ``mlp/c_proj``, ``wte``, ``wpe``,
``ln_f``), Llama/torchtitan, T5, BERT and ViT names. Override any role's
pattern with ``patterns={"mlp_out": r".*/down_proj/kernel"}`` (None drops it).

**Depth-indexed laws** (torchtitan, OLMo ``mitchell``) read the layer index from
the path (``layer=``, a regex whose first group is the index; default
:data:`LAYER`), or, for ``nn.scan``/``vmap``-stacked layers, from the position
along the stacked axis of a :func:`jinit.flax.abstract` leaf: the whole stacked
leaf is then drawn in one call, slice ``l`` from the law of layer ``l``
(:class:`LayerStack`).

>>> import jax, jinit, jinit.schemes
>>> rules = jinit.schemes.gpt2(n_layer=12)          # HF / nanoGPT GPT-2
>>> params = jinit.materialize(abstract, jax.random.key(0), rules)

Every scheme documents, as a table, each role's law at its model's default size
and the source code it reproduces; ``tests/test_schemes.py`` compares the
Hugging Face schemes with ``transformers``' own PyTorch models.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks, _errors, _laws, _signature
from . import torch as _torch
from ._base import Init
from ._constant import constant, ones, zeros
from ._distributions import Uniform, normal, truncated_normal
from ._types import DTypeLike
from ._variance import variance_scaling
from .flax import PerLeaf

__all__ = [
    "LAYER",
    "PATTERNS",
    "ROLES",
    "DepthScaled",
    "LayerStack",
    "StackLaw",
    "ZerO",
    "bert",
    "deepnet",
    "deepnet_coefficients",
    "fixup",
    "gpt2",
    "layer_index",
    "llama",
    "megatron",
    "olmo",
    "olmo_core",
    "rezero",
    "rules",
    "skipinit",
    "stack_law",
    "t5",
    "tfixup",
    "torchtitan_llama3",
    "vit",
    "zero",
]

# ----------------------------------------------------------------------------
# Roles and their default path patterns.

_ANY = r"(?:.*/)?"
# A module name of an attention block (GPT-2 "attn", BERT "attention", Llama
# "self_attn", T5 "SelfAttention"/"EncDecAttention", linen
# "MultiHeadDotProductAttention_0", Megatron "self_attention").
_ATTN = r"[^/]*(?:attn|attention|Attention)[^/]*"
_MLP = r"[^/]*(?:mlp|Mlp|MLP|ffn|FFN|feed_forward|DenseReluDense)[^/]*"

#: The default path pattern of each role (``re.fullmatch`` on the leaf path), in
#: the order rules are tried: the first role whose pattern matches a path wins.
PATTERNS: dict[str, str] = {
    # ReZero's resweight, SkipInit's skipinit_gain: a scalar gate per branch.
    "residual_gate": _ANY + r"(?:resweight|rezero(?:_alpha)?|skipinit_gain|res_gate)",
    "position_embedding": _ANY
    + r"(?:wpe|pos_embed(?:ding)?s?|position_embeddings?)(?:/embedding)?",
    "token_type_embedding": _ANY + r"token_type_embeddings?(?:/embedding)?",
    "cls_token": _ANY + r"(?:cls_token|class_token)",
    "relative_attention_bias": _ANY + r"relative_attention_bias(?:/embedding)?",
    "embedding": _ANY + r"embedding",
    "q": _ANY + r"(?:query|q_proj|q|wq|w_q)/kernel",
    "k": _ANY + r"(?:key|k_proj|k|wk|w_k)/kernel",
    "v": _ANY + r"(?:value|v_proj|v|wv|w_v)/kernel",
    "qkv": _ANY + r"(?:c_attn|qkv|qkv_proj|wqkv|w_qkv|att_proj|in_proj|query_key_value|"
    r"linear_qkv)"
    r"/kernel",
    "attention_out": _ANY
    + r"(?:out|o_proj|out_proj|attn_out|o|"
    + _ATTN
    + r"/(?:c_proj|wo|w_out|dense|proj|linear_proj)|attention/output/dense)/kernel",
    "lm_head": _ANY + r"(?:lm_head(?:/w_out)?|output|head|readout|logits)/kernel"
    r"|(?:params/)?(?:transformer/)?ff_out/kernel",
    "mlp_gate": _ANY + r"(?:gate_proj|w1|wi_0)/kernel",
    "mlp_in": _ANY
    + r"(?:c_fc|fc1|up_proj|w3|wi|wi_1|ff_proj|fc_in|dense_h_to_4h|linear_fc1|"
    r"intermediate/dense|" + _MLP + r"/(?:Dense_0|dense_0|fc|wi|in))/kernel",
    "mlp_out": _ANY
    + r"(?:c_proj|fc2|down_proj|w2|wo|ff_out|fc_out|dense_4h_to_h|linear_fc2|"
    r"output/dense|" + _MLP + r"/(?:Dense_1|dense_1|out))/kernel",
    "kernel": _ANY + r"kernel",
    "norm_scale": _ANY + r"scale",
    "norm_bias": _ANY + r"[^/]*(?:norm|Norm|ln_[^/]*|ln)/bias",
    "bias": _ANY + r"bias",
}

#: The roles, in the order their rules are tried.
ROLES: tuple[str, ...] = tuple(PATTERNS)

#: The default layer-index pattern: the number after ``h``, ``layer(s)``,
#: ``block(s)`` (any prefix, ``/`` or ``_`` before it: ``h/3``, ``layers_3``,
#: ``Block_3``, ``encoder/block/3``); the first match in the path counts.
LAYER = r"(?:^|/)(?:h|[A-Za-z_]*(?:[Ll]ayers?|[Bb]locks?))[_/](\d+)(?=/)"


def layer_index(path: str, layer: str = LAYER) -> int | None:
    """The layer index in ``path``: the first group of ``layer``'s first match.

    >>> layer_index("transformer/h/11/attn/c_proj/kernel")
    11
    """
    m = re.search(layer, path)
    return None if m is None else int(m.group(1))


# ----------------------------------------------------------------------------
# Depth-indexed laws.


@dataclasses.dataclass(frozen=True)
class LayerStack(Init):
    """A stacked leaf whose slice ``l`` along ``axis`` is drawn from ``laws[l]``.

    Drawn in one call on the whole stored shape (``draws_stack``): the key is
    split into one key per layer and slice ``l`` equals
    ``laws[l](jax.random.split(key, n)[l], layer_shape, dtype)``, so each
    layer's law is exactly that of the unrolled layer (truncation bounds
    included, absolute or relative).

    ``law(shape, dtype)`` is a :class:`StackLaw`: the law of the whole leaf
    (its ``std`` is what ``leaf.std()`` estimates, and what
    ``jinit.flax.table`` shows as the leaf's std) with each layer's law in
    ``.layers`` (``law(shape).layers[0].std`` is layer 0's std).
    """

    draws_stack: ClassVar[bool] = True
    laws: tuple[Any, ...] = ()
    axis: int = 0
    dtype: DTypeLike | None = None

    def _layer_shape(self, shape):
        return tuple(d for i, d in enumerate(shape) if i != self.axis)

    def _check(self, shape, dtype):
        if not 0 <= self.axis < len(shape) or shape[self.axis] != len(self.laws):
            raise _errors.bad_value(
                "shape",
                f"a shape with {len(self.laws)} layers on axis {self.axis}",
                shape,
            )
        for law in self.laws:
            law._check(self._layer_shape(shape), dtype)

    def _law(self, shape, dtype):
        layer = self._layer_shape(shape)
        laws = tuple(law.law(layer, dtype) for law in self.laws)
        if any(law is None for law in laws):
            return None
        return stack_law(laws)

    def _generate(self, key, shape, dtype):
        keys = jax.random.split(key, len(self.laws))
        layer = self._layer_shape(shape)
        slices = [
            law._generate(k, layer, dtype)
            for law, k in zip(self.laws, keys, strict=True)
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
        if not isinstance(self.layer, str):
            raise _errors.bad_type("layer", "a regex string with one group", self.layer)

    def std_of(self, layer: int) -> float:
        """The std of layer ``layer``."""
        return self.std / math.sqrt(self.multiplier * (layer + self.offset))

    def law(self, layer: int) -> Init:
        """The core initializer of layer ``layer``."""
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
            return LayerStack(tuple(self.law(i) for i in range(n)), axis)
        index = layer_index(path, self.layer)
        if index is None:
            raise _errors.bad_value(
                f"layer of {path!r}",
                f"a path with a layer index matching `layer` ({self.layer!r}), or "
                "a stacked leaf of jinit.flax.abstract(...)",
                path,
            )
        return self.law(index)

    def __call__(self, key, shape, dtype=None, out_sharding=None):
        raise _errors.bad_value(
            "rule",
            "used through jinit.materialize/reinit (a depth-indexed law picks its "
            "std from the leaf's path or stacked axis)",
            self,
        )


def _law(std: float, cutoff: float | None = None, bounds: Any = None) -> Init:
    """N(0, std^2), truncated at +-cutoff stds or at absolute ``bounds``."""
    if bounds is not None:
        return _torch.trunc_normal(0.0, std, bounds[0], bounds[1])
    if cutoff is not None:
        return truncated_normal(std, lower=-cutoff, upper=cutoff)
    return normal(std)


# ----------------------------------------------------------------------------
# Rules from roles.


def _check_patterns(patterns: Mapping[str, str | None] | None) -> dict[str, Any]:
    out: dict[str, Any] = dict(PATTERNS)
    if patterns is None:
        return out
    if not isinstance(patterns, Mapping):
        raise _errors.bad_type("patterns", "a mapping from role to regex", patterns)
    for role, regex in patterns.items():
        if role not in PATTERNS:
            raise _errors.bad_choice("patterns", role, ROLES)
        if regex is not None and not isinstance(regex, str):
            raise _errors.bad_type(f"patterns[{role!r}]", "a regex string", regex)
        out[role] = regex
    return out


def rules(
    laws: Mapping[str, Any],
    *,
    patterns: Mapping[str, str | None] | None = None,
    layer: str | None = None,
) -> dict[str, Any]:
    """Materialize rules from a role -> initializer mapping.

    The building block of every scheme here, and of your own: roles are tried in
    the order of :data:`ROLES`, each with its pattern (:data:`PATTERNS`, or
    ``patterns[role]``; None drops the role). Roles missing from ``laws`` get
    no rule.

    Args:
      laws: role -> initializer (or a :class:`DepthScaled` / ``PerLeaf`` rule).
      patterns: role -> regex overrides.
      layer: the layer-index regex of depth-indexed laws (default :data:`LAYER`).

    Returns:
      An ordered ``dict`` regex -> initializer. Each regex starts with a comment
      naming its role, ``(?#mlp_out)(?:...)``, so ``jinit.flax.table`` rows say
      which role a leaf got.

    Raises:
      ValueError: an unknown role. TypeError: a pattern that is not a string.

    Example:
      >>> rules = jinit.schemes.rules(
      ...     {"embedding": jinit.normal(1.0), "kernel": jinit.normal(0.02)},
      ...     patterns={"embedding": r".*/tok_embeddings/embedding"})
    """
    table = _check_patterns(patterns)
    if not isinstance(laws, Mapping):
        raise _errors.bad_type("laws", "a mapping from role to initializer", laws)
    for role in laws:
        if role not in PATTERNS:
            raise _errors.bad_choice("laws", role, ROLES)
    if layer is not None and not isinstance(layer, str):
        raise _errors.bad_type("layer", "a regex string with one group", layer)
    out: dict[str, Any] = {}
    for role in ROLES:
        law = laws.get(role)
        regex = table[role]
        if law is None or regex is None:
            continue
        if isinstance(law, DepthScaled) and layer is not None:
            law = dataclasses.replace(law, layer=layer)
        out[f"(?#{role})(?:{regex})"] = law
    return out


def _common(weight: Any, **laws: Any) -> dict[str, Any]:
    """``weight`` for every random role, zeros for biases, ones for norm scales."""
    base = {
        role: weight
        for role in ROLES
        if role not in ("residual_gate", "norm_scale", "norm_bias", "bias")
    }
    base.update(norm_scale=ones, norm_bias=zeros, bias=zeros)
    base.update(laws)
    return base


def _positive(arg: str, value: Any) -> float:
    return _checks.real_number(arg, value, positive=True)


def _layers(arg: str, value: Any) -> int:
    return _checks.integer(arg, value, minimum=1)


# ----------------------------------------------------------------------------
# Padding rows.


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


# ----------------------------------------------------------------------------
# GPT-2, BERT, ViT, Llama (Hugging Face), T5.


def gpt2(
    n_layer: int = 12,
    *,
    std: float = 0.02,
    variant: Literal["hf", "openai"] = "hf",
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""GPT-2's initialization, as Hugging Face/nanoGPT or as OpenAI released it.

    ================================== ================================ ===========
    role (HF Flax names)               ``"hf"`` (n_layer 12)            ``"openai"``
    ================================== ================================ ===========
    ``wte`` embedding, lm_head         N(0, 0.02)                       N(0, 0.02)
    ``wpe`` position embedding         N(0, 0.02)                       N(0, 0.01)
    ``attn/c_attn``, ``mlp/c_fc``      N(0, 0.02)                       N(0, 0.02)
    ``attn/c_proj``, ``mlp/c_proj``    N(0, 0.02/sqrt(2*12)=0.0040825)  N(0, 0.02)
    ``ln_1``, ``ln_2``, ``ln_f``       scale 1, bias 0                  1, 0
    biases                             0                                0
    ================================== ================================ ===========

    Args:
      n_layer: the number of blocks (``"hf"`` scales the residual projections
        by ``1/sqrt(2 n_layer)``).
      std: ``initializer_range`` (``w_init_stdev`` in OpenAI's code).
      variant: ``"hf"`` (``GPT2PreTrainedModel._init_weights``, transformers
        5.x; nanoGPT's ``c_proj`` rule is the same) or ``"openai"``
        (``openai/gpt-2 src/model.py``: no depth scaling in the released code,
        ``wpe`` at 0.01).
      patterns: role -> regex overrides (see :func:`rules`).

    Raises:
      ValueError: ``n_layer < 1``, ``std <= 0``, an unknown variant or role.
    """
    n_layer = _layers("n_layer", n_layer)
    std = _positive("std", std)
    if variant not in ("hf", "openai"):
        raise _errors.bad_choice("variant", variant, ("hf", "openai"))
    if variant == "openai":
        laws = _common(normal(std), position_embedding=normal(0.01))
    else:
        residual = normal(std / math.sqrt(2 * n_layer))
        laws = _common(normal(std), attention_out=residual, mlp_out=residual)
    return rules(laws, patterns=patterns)


def bert(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = 0,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """BERT as Hugging Face initializes it (``BertPreTrainedModel``, transformers 5.x).

    ======================================= ============================
    role                                    law (``initializer_range`` 0.02)
    ======================================= ============================
    ``word_embeddings``                     N(0, 0.02), row ``pad_token_id`` (0) = 0
    ``position_/token_type_embeddings``     N(0, 0.02)
    every Dense (q/k/v, attention output,   N(0, 0.02)
    intermediate, output, pooler, heads)
    LayerNorm                               scale 1, bias 0
    biases (``cls/predictions/bias`` too)   0
    ======================================= ============================

    No depth scaling. (Google's TF BERT drew ``truncated_normal(0.02)`` at 2
    sigma; HF PyTorch draws untruncated, as here.)

    Args:
      initializer_range: the std.
      pad_token_id: the word-embedding row set to zero (None: none).
      patterns: role -> regex overrides.
    """
    w = normal(_positive("initializer_range", initializer_range))
    return rules(_common(w, embedding=_padded(w, pad_token_id)), patterns=patterns)


def vit(
    initializer_range: float = 0.02,
    *,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """ViT as Hugging Face initializes it (``ViTPreTrainedModel``, transformers 5.x).

    ============================================ ==================================
    role                                         law (``initializer_range`` 0.02)
    ============================================ ==================================
    ``cls_token``, ``position_embeddings``       ``trunc_normal_(std=0.02)``: bounds
                                                 +-2 absolute (effectively N(0, 0.02))
    patch projection (Conv), q/k/v/o, fc1, fc2,  N(0, 0.02)
    pooler, classifier
    LayerNorm                                    scale 1, bias 0
    biases                                       0
    ============================================ ==================================
    """
    std = _positive("initializer_range", initializer_range)
    token = _torch.trunc_normal(0.0, std)
    laws = _common(normal(std), cls_token=token, position_embedding=token)
    return rules(laws, patterns=patterns)


def llama(
    initializer_range: float = 0.02,
    *,
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Llama as Hugging Face initializes it (``LlamaPreTrainedModel``, the base rule).

    ============================================== ===========================
    role                                           law (``initializer_range`` 0.02)
    ============================================== ===========================
    ``embed_tokens``                               N(0, 0.02) (row ``pad_token_id``
                                                   zeroed if set)
    ``q/k/v/o_proj``, ``gate/up/down_proj``,       N(0, 0.02), no depth scaling
    ``lm_head``
    RMSNorm scale                                  1
    biases (if any)                                0
    ============================================== ===========================

    For Meta's/torchtitan's depth-scaled init see :func:`torchtitan_llama3`.
    """
    w = normal(_positive("initializer_range", initializer_range))
    return rules(_common(w, embedding=_padded(w, pad_token_id)), patterns=patterns)


def t5(
    d_model: int = 512,
    d_kv: int = 64,
    num_heads: int = 8,
    d_ff: int = 2048,
    *,
    factor: float = 1.0,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""T5's per-matrix init (Mesh TensorFlow), as ``T5PreTrainedModel._init_weights``.

    ============================= ======================================== ==========
    role                          law                                      T5-small
    ============================= ======================================== ==========
    ``shared`` embedding, lm_head N(0, factor)                             1.0
    ``q``                         N(0, factor (d_model d_kv)^-1/2)         0.0055243
    ``k``, ``v``                  N(0, factor d_model^-1/2)                0.0441942
    ``o``                         N(0, factor (num_heads d_kv)^-1/2)       0.0441942
    ``relative_attention_bias``   N(0, factor d_model^-1/2)                0.0441942
    ``wi`` / ``wi_0``, ``wi_1``   N(0, factor d_model^-1/2)                0.0441942
    ``wo``                        N(0, factor d_ff^-1/2)                   0.0220971
    layer norms (RMS)             factor                                   1.0
    ============================= ======================================== ==========

    T5 has no biases (a bias rule gives zeros) and no 1/sqrt(d_kv) in its
    attention: it lives in the ``q`` init. Other kernels (heads) get
    N(0, factor d_model^-1/2), as HF's ``qa_outputs`` and classification head.
    """
    d_model = _layers("d_model", d_model)
    d_kv = _layers("d_kv", d_kv)
    num_heads = _layers("num_heads", num_heads)
    d_ff = _layers("d_ff", d_ff)
    factor = _positive("factor", factor)
    hidden = normal(factor * d_model**-0.5)
    laws = _common(
        hidden,
        embedding=normal(factor),
        lm_head=normal(factor),
        q=normal(factor * (d_model * d_kv) ** -0.5),
        attention_out=normal(factor * (num_heads * d_kv) ** -0.5),
        mlp_out=normal(factor * d_ff**-0.5),
        norm_scale=ones if factor == 1.0 else constant(factor),
    )
    return rules(laws, patterns=patterns)


# ----------------------------------------------------------------------------
# Megatron, OLMo, torchtitan.


def megatron(
    n_layer: int,
    *,
    std: float = 0.02,
    multiplier: float = 2.0,
    embedding_std: float | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""Megatron-LM's ``init_method_normal`` / ``scaled_init_method_normal``.

    =============================================== ===============================
    role (Megatron names)                           law (``init_method_std`` 0.02)
    =============================================== ===============================
    word/position embeddings                        N(0, embedding_std or 0.02)
    ``linear_qkv``, ``linear_fc1``, output layer    ``init_method_normal``: N(0, 0.02)
    ``linear_proj``, ``linear_fc2``                 ``scaled_init_method_normal``:
                                                    N(0, 0.02 / sqrt(multiplier L))
    norms                                           1, 0
    biases                                          0
    =============================================== ===============================

    ``multiplier`` is 2 (one attention and one MLP residual per layer), 1 for
    Megatron's hybrid (Mamba) models. Source: ``megatron/core/utils.py``,
    ``transformer_config.py`` (megatron-core 0.19).
    """
    n_layer = _layers("n_layer", n_layer)
    std = _positive("std", std)
    multiplier = _positive("multiplier", multiplier)
    emb = std if embedding_std is None else _positive("embedding_std", embedding_std)
    scaled = normal(std / math.sqrt(multiplier * n_layer))
    laws = _common(normal(std), attention_out=scaled, mlp_out=scaled)
    laws.update(
        embedding=normal(emb),
        position_embedding=normal(emb),
        token_type_embedding=normal(emb),
    )
    return rules(laws, patterns=patterns)


def olmo(
    init_fn: Literal["normal", "mitchell", "full_megatron"] = "normal",
    *,
    d_model: int = 2048,
    n_layers: int = 16,
    d_ff: int | None = None,
    init_std: float = 0.02,
    init_cutoff_factor: float | None = None,
    emb_init_std: float | None = None,
    layer: str | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""OLMo's ``InitFnType`` schemes (``allenai/OLMo``, ai2-olmo 0.6.0 ``olmo/model.py``).

    All laws are normals truncated at ``+-init_cutoff_factor`` stds when it is
    set (OLMo-2's configs use 3, the ``mitchell`` configs 3), untruncated
    otherwise. OLMo names: ``att_proj`` (fused qkv), ``attn_out``, ``ff_proj``,
    ``ff_out`` (block), ``transformer/ff_out`` (readout), ``wte``, ``wpe``.

    ============== =============== =============================== ==================
    role           ``normal``      ``mitchell``                    ``full_megatron``
    ============== =============== =============================== ==================
    q/k/v, ff_proj init_std        1/sqrt(d)                       init_std
    attn_out       init_std        1/sqrt(2 d (l + 1))             init_std/sqrt(2 L)
    block ff_out   init_std        1/sqrt(2 d_ff (l + 1))          init_std/sqrt(2 L)
    wte            init_std        emb_init_std or 1/sqrt(d)       emb_init_std or
                                                                   init_std
    wpe            init_std        1/sqrt(d)                       init_std
    readout        init_std        1/sqrt(d)                       1/sqrt(d)
    norms, biases  1, 0            1, 0                            1, 0
    ============== =============== =============================== ==================

    (``l``: the block index from 0; ``d_ff``: the block ``ff_out``'s input
    width, default ``4 d_model``.) At OLMo-1B (d 2048, L 16) ``mitchell``'s
    layer-0 ``attn_out`` std is 0.015625 and ``full_megatron``'s 0.0035355.

    Args:
      init_fn: the scheme.
      d_model, n_layers, d_ff: the model's sizes.
      init_std, init_cutoff_factor, emb_init_std: OLMo's config fields
        (``mitchell`` truncates at 3 stds when the factor is None, as OLMo-1's
        configs set it).
      layer: the layer-index regex of the depth-indexed laws (``mitchell``).
      patterns: role -> regex overrides.
    """
    choices = ("normal", "mitchell", "full_megatron")
    if init_fn not in choices:
        raise _errors.bad_choice("init_fn", init_fn, choices)
    d = _layers("d_model", d_model)
    n = _layers("n_layers", n_layers)
    d_ff = 4 * d if d_ff is None else _layers("d_ff", d_ff)
    init_std = _positive("init_std", init_std)
    cut = init_cutoff_factor
    if cut is not None:
        cut = _positive("init_cutoff_factor", cut)
    emb = None if emb_init_std is None else _positive("emb_init_std", emb_init_std)
    if init_fn == "normal":
        return rules(_common(_law(init_std, cut)), patterns=patterns)
    if init_fn == "mitchell":
        cut = 3.0 if cut is None else cut
        laws = _common(
            _law(d**-0.5, cut),
            embedding=_law(emb or d**-0.5, cut),
            attention_out=DepthScaled(1 / math.sqrt(d), cutoff=cut),
            mlp_out=DepthScaled(1 / math.sqrt(d_ff), cutoff=cut),
        )
        return rules(laws, patterns=patterns, layer=layer)
    scaled = _law(init_std / math.sqrt(2 * n), cut)
    laws = _common(
        _law(init_std, cut),
        embedding=_law(emb or init_std, cut),
        attention_out=scaled,
        mlp_out=scaled,
        lm_head=_law(d**-0.5, cut),
    )
    return rules(laws, patterns=patterns)


def _fan_in_law(cutoff: float) -> PerLeaf:
    """N(0, 1/fan_in) truncated at +-``cutoff`` stds, fan_in the leaf's layer's."""

    def choose(path: str, leaves: Mapping[str, Any]) -> Init:
        spec = leaves[path]
        sig = _signature.signature_of(spec)
        fan_in, _ = _signature.fans(None, sig, tuple(spec.shape))
        return _law(fan_in**-0.5, cutoff)

    return PerLeaf("olmo_core_fan_in", choose)


def olmo_core(
    method: Literal["normal", "llama", "llama_depth", "normalized", "fan_in"] = "llama",
    *,
    d_model: int = 2048,
    n_layers: int = 16,
    std: float = 0.02,
    embedding_std: float | None = None,
    embed_scale: float | None = None,
    layer: str | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""OLMo-core's ``InitMethod`` (``src/olmo_core/nn/transformer/init.py``).

    Every Linear is ``init_linear``: a normal truncated at +-3 of its stds
    (``trunc_normal_`` with ``a = -3 std, b = 3 std``), bias 0. OLMo-core
    names: ``attention/w_q``, ``w_k``, ``w_v`` (or ``w_qkv``),
    ``attention/w_out``, ``feed_forward/w1`` (gate), ``w3`` (up), ``w2`` (down),
    ``embeddings``, ``lm_head/w_out``. With ``d = d_model``, ``L = n_layers``,
    ``l`` the block index from 0:

    ============ ============= =============== ================ ================= ==============
    role         ``normal``    ``llama``       ``llama_depth``  ``normalized``    ``fan_in``
    ============ ============= =============== ================ ================= ==============
    embeddings   embedding_std N(0, 1)         N(0, 1)          N(0, d^-1/2)      N(0, 1 /
                 (std)         untruncated     untruncated      untruncated       embed_scale)
    q, k, v, w1  std           std             std              d^-1/2            fan_in^-1/2
    attn w_out   std           std/sqrt(2L)    std/sqrt(2(l+1)) d^-1/2/sqrt(2L)   fan_in^-1/2
    ``w3``       std           std/sqrt(2L)    std/sqrt(2(l+1)) d^-1/2            fan_in^-1/2
    ``w2``       std           std/sqrt(2L)    std/sqrt(2(l+1)) d^-1/2/sqrt(2L)   fan_in^-1/2
    lm_head      std           d^-1/2          d^-1/2           d^-1/2            d^-1/2
    norms        1             1               1                1                 1
    ============ ============= =============== ================ ================= ==============

    (Each std is that of the normal before its 3-sigma truncation; embeddings
    other than ``normal``'s are untruncated ``normal_``. ``w2`` gets ``w3``'s
    std under ``llama``/``llama_depth`` and ``w3`` gets ``w1``'s under
    ``normalized``: the code reuses the variable.) ``fan_in`` reads each
    kernel's fan-in (``in_features``) from the leaf's signature
    (:func:`jinit.flax.abstract`), else from ``jinit.compute_fans`` of its
    shape. Read at ``allenai/OLMo-core`` commit ``fa6c5014`` (2026-06-22):
    ``init.py`` (``InitMethod.init_embeddings``, ``init_final_w_out``,
    ``init_feed_forward``), ``nn/attention/__init__.py``
    (``Attention.init_weights``, ``FusedAttention.init_weights``).

    Not covered: MoE routers and experts (``init_feed_forward_moe``), the
    attention gate ``w_g``, and what OLMo-core's ``NormalizedTransformer``
    (nGPT) does besides ``normalized``: it L2-normalizes every matrix after
    ``init_weights`` and after every optimizer step (``normalize_matrices``:
    ``w_q``, ``w_k``, ``w_v``, ``w1``, ``w3`` and ``lm_head`` along the input
    axis, ``w_out`` and ``w2`` along the output axis, each embedding row), and its
    blocks' scaling vectors (``attn_alpha``, ``mlp_alpha``, ...) start at
    ``1/sqrt(d)`` (``NormalizedTransformerBlock.reset_parameters``).

    Args:
      method: the ``InitMethod``.
      d_model, n_layers: the model's width and depth.
      std: ``init_std``.
      embedding_std: ``embedding_init_std`` (``normal`` only; default ``std``).
      embed_scale: the model's ``embed_scale`` (``fan_in`` only: embeddings at
        ``N(0, 1 / embed_scale)``).
      layer: the layer-index regex (``llama_depth``).
      patterns: role -> regex overrides.

    Raises:
      ValueError: an unknown method, a bad size or std.
    """
    choices = ("normal", "llama", "llama_depth", "normalized", "fan_in")
    if method not in choices:
        raise _errors.bad_choice("method", method, choices)
    d = _layers("d_model", d_model)
    n = _layers("n_layers", n_layers)
    std = _positive("std", std)
    emb = std if embedding_std is None else _positive("embedding_std", embedding_std)
    scale = 1.0 if embed_scale is None else _positive("embed_scale", embed_scale)
    head = _law(d**-0.5, 3.0)
    if method == "normal":
        return rules(
            _common(_law(std, 3.0), embedding=_law(emb, 3.0)), patterns=patterns
        )
    if method == "normalized":
        base = _law(d**-0.5, 3.0)
        out: Any = _law(d**-0.5 / math.sqrt(2 * n), 3.0)
        laws = _common(
            base,
            embedding=normal(d**-0.5),
            attention_out=out,
            mlp_out=out,
            lm_head=head,
        )
        return rules(laws, patterns=patterns)
    if method == "fan_in":
        laws = _common(_fan_in_law(3.0), embedding=normal(1.0 / scale), lm_head=head)
        return rules(laws, patterns=patterns)
    if method == "llama":
        out = _law(std / math.sqrt(2 * n), 3.0)
    else:
        out = DepthScaled(std, cutoff=3.0)
    laws = _common(
        _law(std, 3.0),
        embedding=normal(1.0),
        attention_out=out,
        mlp_in=out,
        mlp_out=out,
        lm_head=head,
    )
    return rules(laws, patterns=patterns, layer=layer)


def torchtitan_llama3(
    dim: int = 4096,
    *,
    std: float = 0.02,
    depth_init: bool = True,
    n_layers: int | None = None,
    layer: str | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""Llama 3 as torchtitan initializes it (``torchtitan/models/llama3``).

    Read at ``pytorch/torchtitan`` commit ``b5bcd76c`` (2026-08-21):
    ``torchtitan/models/llama3/__init__.py`` (``_LINEAR_INIT``:
    ``trunc_normal_(std=0.02)``; ``_depth_init(layer_id)`` for ``wo`` and
    ``w2``/``w3``; ``_output_linear_init(dim)``: ``trunc_normal_(std=s, a=-3 s,
    b=3 s)``, ``s = dim**-0.5``; ``_EMBEDDING_INIT``: ``normal_(std=1.0)``;
    norms ``ones_``; biases ``zeros_``) and ``torchtitan/models/common/
    param_init.py`` (``depth_scaled_std(base, layer_id) = base / (2 (layer_id
    + 1))**0.5``). Older torchtitan had the same rules in
    ``Transformer.init_weights`` (``models/llama3/model/model.py``), where
    ``depth_init=False`` gave ``0.02 / sqrt(2 n_layers)`` to every block.

    PyTorch's ``trunc_normal_`` bounds are absolute: ``trunc_normal_(std=0.02)``
    keeps the default ``a=-2, b=2``, i.e. +-100 stds (so practically untruncated);
    only the output layer is truly truncated, at 3 stds.

    ================================== =============================================
    role (torchtitan names)            law (dim 4096)
    ================================== =============================================
    ``tok_embeddings``                 N(0, 1)
    ``wq``, ``wk``, ``wv``, ``w1``     trunc_normal(std 0.02, bounds +-2)
    ``wo``, ``w2``, ``w3``             trunc_normal(std 0.02/sqrt(2 (l + 1)),
                                       bounds +-2): layer 0 0.014142, layer 15
                                       0.0035355
    ``output`` (lm_head)               trunc_normal(std dim^-1/2 = 0.015625,
                                       bounds +-3 std)
    ``attention_norm``, ``ffn_norm``,  1
    ``norm``
    ================================== =============================================

    Args:
      dim: the model width (the output layer's std is ``dim**-0.5``).
      std: the base std.
      depth_init: layer-indexed stds (torchtitan's default); False gives
        ``std / sqrt(2 n_layers)`` to every layer.
      n_layers: the number of layers (needed with ``depth_init=False``).
      layer: the layer-index regex.
      patterns: role -> regex overrides.
    """
    dim = _layers("dim", dim)
    std = _positive("std", std)
    bounds = (-2.0, 2.0)
    if depth_init:
        depth: Any = DepthScaled(std, bounds=bounds)
    else:
        if n_layers is None:
            raise _errors.bad_value(
                "n_layers", "the number of layers with depth_init=False", n_layers
            )
        depth = _law(std / math.sqrt(2 * _layers("n_layers", n_layers)), None, bounds)
    out = dim**-0.5
    laws = _common(
        _law(std, None, bounds),
        embedding=normal(1.0),
        attention_out=depth,
        mlp_in=depth,  # torchtitan's w3 (the up projection) is depth-scaled, w1 not
        mlp_out=depth,
        lm_head=_torch.trunc_normal(0.0, out, -3 * out, 3 * out),
    )
    return rules(laws, patterns=patterns, layer=layer)


# ----------------------------------------------------------------------------
# DeepNet, T-Fixup, Fixup, ReZero, SkipInit, ZerO.

_SIDE = r"(?:^|/)[^/]*decoder[^/]*/"


def _by_side(name: str, encoder: Any, decoder: Any) -> Any:
    """``decoder`` on paths under a ``*decoder*`` module, ``encoder`` elsewhere."""
    if encoder == decoder:
        return encoder
    return PerLeaf(
        name, lambda path, leaves: decoder if re.search(_SIDE, path) else encoder
    )


def _kernel_fan_in(path: str, leaves: Mapping[str, Any]) -> float | None:
    """The fan_in of a bias's layer: its signature's, else its sibling kernel's."""
    sig = _signature.signature_of(leaves.get(path))
    if sig is not None and sig.fan_in is not None:
        return sig.fan_in
    spec = leaves.get(re.sub(r"[^/]+$", "kernel", path))
    if spec is None:
        return None
    return _signature.fans(None, _signature.signature_of(spec), tuple(spec.shape))[0]


def _torch_biases(
    name: str, patterns: Mapping[str, str | None] | None, gains: Mapping[str, Any]
) -> PerLeaf:
    """Biases as separate ``nn.Linear`` layers leave them, per their kernel's role.

    A bias whose sibling kernel has a role in ``gains`` (the first role of
    :data:`ROLES` whose pattern matches the kernel's path) is PyTorch's Linear
    default ``U(+-1/sqrt(fan_in))`` times ``gains[role]`` (a number, or a
    ``(encoder, decoder)`` pair by side); every other bias is 0.
    """
    table = _check_patterns(patterns)
    compiled = [(r, re.compile(table[r])) for r in ROLES if table[r] is not None]

    def choose(path: str, leaves: Mapping[str, Any]) -> Init:
        kernel = re.sub(r"[^/]+$", "kernel", path)
        role = next((r for r, rx in compiled if rx.fullmatch(kernel)), None)
        fan_in = _kernel_fan_in(path, leaves)
        if role is None or role not in gains or fan_in is None:
            return zeros
        gain = gains[role]
        if isinstance(gain, tuple):
            gain = gain[1] if re.search(_SIDE, path) else gain[0]
        bound = gain / math.sqrt(fan_in) if fan_in > 0 else 0.0
        return Uniform(-bound, bound)

    return PerLeaf(name, choose)


class DeepNetCoefficients(NamedTuple):
    """DeepNorm's residual multipliers ``alpha`` and init gains ``beta`` per stack.

    ``None`` for a stack the architecture does not have.
    """

    encoder_alpha: float | None
    encoder_beta: float | None
    decoder_alpha: float | None
    decoder_beta: float | None


_ARCHITECTURES = ("encoder", "decoder", "encoder_decoder")


def deepnet_coefficients(
    architecture: Literal["encoder", "decoder", "encoder_decoder"],
    n_encoder: int | None = None,
    n_decoder: int | None = None,
    *,
    source: Literal["paper", "torchscale"] = "paper",
) -> DeepNetCoefficients:
    r"""DeepNorm's ``alpha`` (``x_{l+1} = LN(alpha x_l + f(x_l))``) and ``beta``.

    ================= ============================ ==========================
    architecture      alpha                        beta
    ================= ============================ ==========================
    encoder (N)       (2N)^(1/4)                   (8N)^(-1/4)
    decoder (M)       (2M)^(1/4)                   (8M)^(-1/4)
    enc-dec, encoder  0.81 (N^4 M)^(1/16)          0.87 (N^4 M)^(-1/16)
    enc-dec, decoder  (3M)^(1/4)                   (12M)^(-1/4)
    ================= ============================ ==========================

    Decoder-only, M = 24: alpha = 2.632, beta = 0.2686. The encoder-decoder
    encoder's beta differs between sources: the paper (Wang et al. 2022, Fig. 2)
    and xformers' ``get_deepnorm_coefficients`` give ``0.87 (N^4 M)^(-1/16)``,
    torchscale's code ``1.15 (N^4 M)^(-1/16)`` (its ``init_scale`` is
    ``(N^4 M)^(1/16) / 1.15``). jinit follows the paper by default (two
    independent sources agree on it; torchscale's constant looks like the
    reciprocal of 0.87); ``source="torchscale"`` gives torchscale's.

    Raises:
      ValueError: an unknown architecture or source, a missing or bad depth.
    """
    if architecture not in _ARCHITECTURES:
        raise _errors.bad_choice("architecture", architecture, _ARCHITECTURES)
    if source not in ("paper", "torchscale"):
        raise _errors.bad_choice("source", source, ("paper", "torchscale"))
    if architecture == "encoder":
        n = _layers("n_encoder", n_encoder)
        return DeepNetCoefficients((2 * n) ** 0.25, (8 * n) ** -0.25, None, None)
    if architecture == "decoder":
        m = _layers("n_decoder", n_decoder)
        return DeepNetCoefficients(None, None, (2 * m) ** 0.25, (8 * m) ** -0.25)
    n = _layers("n_encoder", n_encoder)
    m = _layers("n_decoder", n_decoder)
    c = 0.87 if source == "paper" else 1.15
    return DeepNetCoefficients(
        0.81 * (n**4 * m) ** (1 / 16),
        c * (n**4 * m) ** (-1 / 16),
        (3 * m) ** 0.25,
        (12 * m) ** -0.25,
    )


def deepnet(
    architecture: Literal["encoder", "decoder", "encoder_decoder"],
    n_encoder: int | None = None,
    n_decoder: int | None = None,
    *,
    source: Literal["paper", "torchscale"] = "paper",
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""DeepNet's DeepNorm initialization (Wang et al. 2022) for a post-LN transformer.

    ``beta`` from :func:`deepnet_coefficients`; ``alpha`` is a forward
    multiplier of the residual, which the model applies (not an init).

    ================================ ================================ =================================
    role                             ``"paper"`` (Algorithm / Fig. 2) ``"torchscale"`` (code)
    ================================ ================================ =================================
    q, k                             xavier_normal, gain 1            xavier_uniform, gain 1/sqrt2
    v                                xavier_normal, gain beta         xavier_uniform, gain beta/sqrt2
    attention out                    xavier_normal, gain beta         xavier_uniform, gain beta
    MLP in/out (fc1, fc2)            xavier_normal, gain beta         PyTorch Linear default x beta
    q, k biases                      0                                U(+-1/sqrt(fan_in))
    v, fc1, fc2 biases               0                                U(+-1/sqrt(fan_in)) x beta
    attention out bias, norms        0, 1                             0, 1
    ================================ ================================ =================================

    ``"torchscale"`` as ``microsoft/torchscale`` at commit ``4d1e0e82``
    (2024-04-11): ``torchscale/component/multihead_attention.py``
    (``reset_parameters``: q, k, v xavier_uniform gain ``1/sqrt(2)``,
    ``out_proj`` xavier_uniform, ``out_proj.bias`` 0; the q, k, v biases keep
    ``nn.Linear``'s default), ``feedforward_network.py`` (``fc1``, ``fc2``:
    ``nn.Linear``'s default), ``architecture/encoder.py`` and ``decoder.py``
    (with ``deepnorm``, every parameter whose name contains ``fc1``, ``fc2``,
    ``out_proj`` or ``v_proj``, biases included, divided by ``init_scale =
    1/beta``). Magneto/SubLN (torchscale's ``subln``) is not covered.

    Decoder-only at M = 24: beta = 0.2686. In an encoder-decoder, leaves under
    a ``*decoder*`` module get the decoder's beta, others the encoder's. Not
    covered: fused qkv kernels (q/k and v differ) and embeddings: add rules for
    them.
    """
    coeffs = deepnet_coefficients(architecture, n_encoder, n_decoder, source=source)
    enc_beta = coeffs.encoder_beta or coeffs.decoder_beta
    dec_beta = coeffs.decoder_beta or coeffs.encoder_beta
    assert enc_beta is not None and dec_beta is not None

    bias: Any = zeros  # the paper: biases 0
    if source == "paper":

        def gain(beta):
            return variance_scaling(beta**2, "fan_avg", "normal")

        qk = gain(1.0)
        v = _by_side("deepnet_v", gain(enc_beta), gain(dec_beta))
        out = _by_side("deepnet_out", gain(enc_beta), gain(dec_beta))
        ffn = out
    else:

        def xavier(g):
            return variance_scaling(g**2, "fan_avg", "uniform")

        def linear(beta):
            return variance_scaling(beta**2 / 3, "fan_in", "uniform")

        qk = xavier(0.5**0.5)
        v = _by_side("deepnet_v", xavier(enc_beta / 2**0.5), xavier(dec_beta / 2**0.5))
        out = _by_side("deepnet_out", xavier(enc_beta), xavier(dec_beta))
        ffn = _by_side("deepnet_ffn", linear(enc_beta), linear(dec_beta))
        beta = (enc_beta, dec_beta)
        bias = _torch_biases(
            "deepnet_bias",
            patterns,
            dict(q=1.0, k=1.0, v=beta, mlp_gate=beta, mlp_in=beta, mlp_out=beta),
        )
    laws = {
        "q": qk,
        "k": qk,
        "v": v,
        "attention_out": out,
        "mlp_gate": ffn,
        "mlp_in": ffn,
        "mlp_out": ffn,
        "norm_scale": ones,
        "norm_bias": zeros,
        "bias": bias,
    }
    return rules(laws, patterns=patterns)


def tfixup(
    d_model: int,
    n_encoder: int | None = None,
    n_decoder: int | None = None,
    *,
    pad_token_id: int | None = None,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""T-Fixup (Huang et al. 2020) for a transformer without LayerNorm or warmup.

    As ``layer6ai-labs/T-Fixup`` (``fixup_initialization`` in fairseq): the base
    init, then per-stack factors (N encoder, M decoder layers):

    ============================= ============================== ================================
    role                          encoder                        decoder
    ============================= ============================== ================================
    token embedding               N(0, d^-1/2) x (9N)^(-1/4)     N(0, d^-1/2) x (9M)^(-1/4)
    q, k                          xavier_uniform, gain 1/sqrt2   xavier_uniform, gain 1/sqrt2
    v                             xavier_uniform x 0.67 N^(-1/4) xavier_uniform x (9M)^(-1/4)
    attention out, fc1, fc2       xavier_uniform x 0.67 N^(-1/4) xavier_uniform x (9M)^(-1/4)
    q, k, v biases                U(+-1/sqrt(fan_in))            U(+-1/sqrt(fan_in))
    other biases                  0                              0
    output projection (lm_head)   N(0, d^-1/2)                   N(0, d^-1/2)
    other kernels                 xavier_uniform                 xavier_uniform
    ============================= ============================== ================================

    (The code scales v by ``0.67 N^(-1/4) sqrt2`` after its gain-1/sqrt2 base,
    i.e. gain ``0.67 N^(-1/4)``; it scales the encoder embedding by
    ``(9 N)^(-1/4)``, ``N`` the encoder's depth, as here.) Leaves under a
    ``*decoder*`` module are decoder leaves when both stacks exist; with one
    stack every leaf gets its factors. There are no norms.

    Read at ``layer6ai-labs/T-Fixup`` commit ``b17e166d`` (2021-02-01):
    ``fairseq/modules/transformer_layer.py`` (``fixup_initialization``, the
    ``Linear`` helper: xavier_uniform, bias 0), ``fairseq/modules/
    multihead_attention.py`` (``reset_parameters``: q, k, v xavier_uniform gain
    ``1/sqrt(2)``, their biases left at ``nn.Linear``'s default, ``out_proj``
    bias 0), ``fairseq/models/transformer.py`` (``Embedding``: N(0, d^-1/2),
    padding row 0; the embedding factors; ``embed_out``: N(0, d^-1/2)).
    """
    d = _layers("d_model", d_model)
    if n_encoder is None and n_decoder is None:
        raise _errors.bad_value(
            "n_encoder", "a layer count (or n_decoder), not both None", None
        )
    enc = None if n_encoder is None else 0.67 * _layers("n_encoder", n_encoder) ** -0.25
    dec = None if n_decoder is None else (9 * _layers("n_decoder", n_decoder)) ** -0.25
    enc_emb = None if n_encoder is None else (9 * n_encoder) ** -0.25
    enc, dec = enc or dec, dec or enc
    enc_emb = enc_emb or dec
    assert enc is not None and dec is not None and enc_emb is not None

    def xavier(g):
        return variance_scaling(g**2, "fan_avg", "uniform")

    def emb(c):
        return _padded(normal(c * d**-0.5), pad_token_id)

    scaled = _by_side("tfixup", xavier(enc), xavier(dec))
    qk = xavier(0.5**0.5)
    bias = _torch_biases("tfixup_bias", patterns, dict(q=1.0, k=1.0, v=1.0))
    laws = {
        "embedding": _by_side("tfixup_embedding", emb(enc_emb), emb(dec)),
        "q": qk,
        "k": qk,
        "v": scaled,
        "attention_out": scaled,
        "mlp_gate": scaled,
        "mlp_in": scaled,
        "mlp_out": scaled,
        "lm_head": normal(d**-0.5),
        "kernel": xavier(1.0),
        "bias": bias,
    }
    return rules(laws, patterns=patterns)


#: Fixup's default path patterns (torchvision-style ResNet names, as in
#: ``hongyi-zhang/Fixup``: ``layer1/0/conv1``, ``downsample``, ``fc``).
FIXUP_PATTERNS: dict[str, str] = {
    "scalar_bias": _ANY + r"bias\d[ab]?",
    "scalar_scale": _ANY + r"scale",
    "fc": _ANY + r"(?:fc|head|classifier)/(?:kernel|bias)",
    "downsample": _ANY + r"(?:downsample|shortcut)(?:/[^/]+)?/kernel",
    "branch": r".*(?:layer|block|Block)[^/]*/(?:\d+/)?conv(\d+)/kernel",
    "stem": _ANY + r"kernel",
}


def fixup(
    n_branches: int,
    m: int = 2,
    *,
    patterns: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    r"""Fixup (Zhang et al. 2019) for a residual network without normalization.

    As ``hongyi-zhang/Fixup`` at commit ``f3fa449f`` (2019-05-05;
    ``cifar/models/fixup_resnet_cifar.py``,
    ``imagenet/models/fixup_resnet_imagenet.py``): L = ``n_branches`` residual
    branches of ``m`` layers each (BasicBlock m = 2, Bottleneck m = 3).

    ================================ =============================================
    role (Fixup's names)             law
    ================================ =============================================
    branch ``conv1`` .. ``conv{m-1}`` He normal (fan_out) x L^(-1/(2m-2)):
                                     std sqrt(2/fan_out) L^(-1/2) for m = 2
    branch ``conv{m}`` (the last)    0
    ``downsample`` conv              He normal (fan_out)
    ``fc`` weight and bias           0
    scalar ``bias1a``, ``bias2b``..  0
    scalar ``scale``                 1
    stem conv (any other kernel)     PyTorch's Conv2d default (the code leaves it)
    ================================ =============================================

    Args:
      n_branches: L, the number of residual branches (``sum(layers)``).
      m: the layers per branch (>= 2).
      patterns: overrides of :data:`FIXUP_PATTERNS` (the ``branch`` pattern's
        first group is the conv's number within its block).
    """
    n = _layers("n_branches", n_branches)
    m = _checks.integer("m", m, minimum=2)
    table = dict(FIXUP_PATTERNS)
    for role, regex in (patterns or {}).items():
        if role not in table:
            raise _errors.bad_choice("patterns", role, tuple(table))
        table[role] = regex
    he = variance_scaling(2.0, "fan_out", "normal")
    scaled = variance_scaling(2.0 * n ** (-1 / (m - 1)), "fan_out", "normal")
    branch = re.compile(table["branch"])

    def conv(path, leaves):
        match = branch.fullmatch(path)
        assert match is not None
        return zeros if int(match.group(1)) >= m else scaled

    return {
        table["scalar_bias"]: zeros,
        table["scalar_scale"]: ones,
        table["fc"]: zeros,
        table["downsample"]: he,
        table["branch"]: PerLeaf("fixup_branch", conv),
        table["stem"]: _torch.conv_default(),
    }


def rezero(*, pattern: str | None = None) -> dict[str, Any]:
    """ReZero (Bachlechner et al. 2020): every residual gate ``resweight`` starts at 0.

    ``x + resweight * F(x)`` with one scalar per layer, initialized to zero
    (``majumderb/rezero rztx.py``); the rest of the model keeps its own init.
    Use with :func:`jinit.reinit`, or merge into another scheme's rules
    (``{**jinit.schemes.rezero(), **jinit.schemes.gpt2(12)}``).

    Args:
      pattern: the gates' path regex (default ``PATTERNS["residual_gate"]``).
    """
    if pattern is not None and not isinstance(pattern, str):
        raise _errors.bad_type("pattern", "a regex string", pattern)
    return {pattern or PATTERNS["residual_gate"]: zeros}


def skipinit(*, pattern: str | None = None) -> dict[str, Any]:
    """SkipInit (De and Smith 2020): the scalar multiplier of each residual branch is 0.

    As timm's NFNet ``skipinit_gain = 0`` (``timm/models/nfnet.py``). The same
    rule as :func:`rezero` (gates at zero), kept under its own name.
    """
    return rezero(pattern=pattern)


@dataclasses.dataclass(frozen=True)
class ZerO(Init):
    r"""ZerO (Zhao et al. 2022): a deterministic identity/Hadamard init of a 2-D kernel.

    For a Flax kernel ``(n, m)`` = (in, out), the matrix ``M`` (out, in) of
    ``jiaweizzhao/ZerO-initialization``'s ``ZerO_Init_on_matrix`` transposed:
    ``M = I_{m x n}`` if ``m <= n``, else ``M = I_{m x p} H_p I_{p x n} / 2^(c/2)``
    with ``c = ceil(log2 m)``, ``p = 2^c`` and ``H_p`` the Sylvester Hadamard
    matrix. The key is ignored.
    """

    random: ClassVar[bool] = False
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        if len(shape) != 2:
            raise _errors.bad_value("shape", "a 2-D kernel (in, out) for ZerO", shape)
        _checks.check_real_dtype("ZerO", dtype)

    def _generate(self, key, shape, dtype):
        return jnp.asarray(zero_matrix(shape[1], shape[0]).T, dtype)


def zero_matrix(m: int, n: int) -> np.ndarray:
    """ZerO's ``(m, n)`` matrix (PyTorch's ``(out, in)``), in float64."""
    if m <= n:
        return np.eye(m, n)
    c = math.ceil(math.log2(m))
    h = np.ones((1, 1))
    for _ in range(c):
        h = np.block([[h, h], [h, -h]])
    return h[:m, :n] / 2 ** (c / 2)


def zero(*, patterns: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """ZerO's rules: every dense kernel :class:`ZerO`, biases 0, norm scales 1.

    Embeddings and convolutions are not covered (the released code covers
    matrices only): add rules for them.
    """
    w = ZerO()
    laws: dict[str, Any] = {
        role: w
        for role in (
            "q",
            "k",
            "v",
            "qkv",
            "attention_out",
            "lm_head",
            "mlp_gate",
            "mlp_in",
            "mlp_out",
            "kernel",
        )
    }
    laws.update(norm_scale=ones, norm_bias=zeros, bias=zeros)
    return rules(laws, patterns=patterns)
