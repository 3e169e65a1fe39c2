"""Schemes for deep residual networks: DeepNet, T-Fixup, Fixup, ReZero/SkipInit
and ZerO."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, NamedTuple

import jax.numpy as jnp
import numpy as np

from .. import _checks, _errors, _signature
from .. import torch as _torch
from .._base import Init
from .._constant import ones, zeros
from .._distributions import Uniform, normal
from .._tree import PerLeaf, sibling
from .._types import DTypeLike
from .._variance import variance_scaling
from ._depth import _padded
from ._roles import layer_count, ordered, role_of, rules

#: The roles DeepNet and T-Fixup scale by depth.
_SCALED = ("v", "attention_out", "mlp_in", "mlp_out")
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
    spec = leaves.get(sibling(path, "kernel"))
    if spec is None:
        return None
    return _signature.fans(None, _signature.signature_of(spec), tuple(spec.shape))[0]


def _torch_biases(
    name: str, patterns: Mapping[str, str | None] | None, gains: Mapping[str, Any]
) -> PerLeaf:
    """Biases as separate ``nn.Linear`` layers leave them, per their kernel's role.

    A bias whose sibling kernel has a role in ``gains`` (the role its path
    gets, as :func:`rules` tries them) is PyTorch's Linear
    default ``U(+-1/sqrt(fan_in))`` times ``gains[role]`` (a number, or a
    ``(encoder, decoder)`` pair by side); every other bias is 0.
    """
    roles = ordered(patterns)

    def choose(path: str, leaves: Mapping[str, Any]) -> Init:
        role = role_of(sibling(path, "kernel"), roles)
        fan_in = _kernel_fan_in(path, leaves)
        if role is None or role not in gains or fan_in is None:
            return zeros
        gain = gains[role]
        if isinstance(gain, tuple):
            gain = gain[1] if re.search(_SIDE, path) else gain[0]
        bound = gain * _torch.bias_default(fan_in=fan_in).maxval  # PyTorch's
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
        n = layer_count("n_encoder", n_encoder)
        return DeepNetCoefficients((2 * n) ** 0.25, (8 * n) ** -0.25, None, None)
    if architecture == "decoder":
        m = layer_count("n_decoder", n_decoder)
        return DeepNetCoefficients(None, None, (2 * m) ** 0.25, (8 * m) ** -0.25)
    n = layer_count("n_encoder", n_encoder)
    m = layer_count("n_decoder", n_decoder)
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
    return rules(laws, patterns=patterns, scaled=_SCALED, name="deepnet")


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
    d = layer_count("d_model", d_model)
    if n_encoder is None and n_decoder is None:
        raise _errors.bad_value(
            "n_encoder", "a layer count (or n_decoder), not both None", None
        )
    enc = (
        None
        if n_encoder is None
        else 0.67 * layer_count("n_encoder", n_encoder) ** -0.25
    )
    dec = (
        None
        if n_decoder is None
        else (9 * layer_count("n_decoder", n_decoder)) ** -0.25
    )
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
    return rules(
        laws, patterns=patterns, scaled=("q", "k", *_SCALED, "lm_head"), name="tfixup"
    )


def fixup(
    n_branches: int,
    m: int = 2,
    *,
    patterns: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    r"""Fixup (Zhang et al. 2019) for a residual network without normalization.

    As ``hongyi-zhang/Fixup`` at commit ``f3fa449f`` (2019-05-05;
    ``cifar/models/fixup_resnet_cifar.py``,
    ``imagenet/models/fixup_resnet_imagenet.py``): L = ``n_branches`` residual
    branches of ``m`` layers each (BasicBlock m = 2, Bottleneck m = 3).

    ================================ =============================================
    role (Fixup's names)             law
    ================================ =============================================
    ``residual_branch`` ``conv1`` .. He normal (fan_out) x L^(-1/(2m-2)):
    ``conv{m-1}``                    std sqrt(2/fan_out) L^(-1/2) for m = 2
    ``residual_branch`` last conv    0
    ``shortcut`` (``downsample``)    He normal (fan_out)
    ``classifier`` (``fc``) weight,  0
    bias
    ``branch_bias`` ``bias1a`` ..    0
    ``branch_scale`` ``scale``       1
    ``kernel`` (the stem, any other) PyTorch's Conv2d default (the code leaves it)
    ================================ =============================================

    The ``residual_branch`` pattern's first group orders a block's ``m`` convs
    (numbers, or any sortable names: ``patterns={"residual_branch":
    r".*/res_\d+/conv_([ab])/kernel"}``); each block must have ``m``. If no
    leaf matches ``residual_branch`` (or ``classifier``) while kernels fell to
    the stem's law, the call raises, naming them.

    Args:
      n_branches: L, the number of residual branches (``sum(layers)``).
      m: the layers per branch (>= 2).
      patterns: role -> regex overrides (see :func:`rules`).
    """
    n = layer_count("n_branches", n_branches)
    m = _checks.integer("m", m, minimum=2)
    he = variance_scaling(2.0, "fan_out", "normal")
    scaled = variance_scaling(2.0 * n ** (-1 / (m - 1)), "fan_out", "normal")
    regex = dict(ordered(patterns)).get("residual_branch")
    inits = {
        "branch_bias": zeros,
        "branch_scale": ones,
        "classifier": zeros,
        "shortcut": he,
        "kernel": _torch.conv_default(),
    }
    if regex is not None:
        inits["residual_branch"] = PerLeaf("fixup_branch", _Branch(regex, m, scaled))
    return rules(
        inits,
        patterns=patterns,
        scaled=("residual_branch", "classifier"),
        name="fixup",
    )


@dataclasses.dataclass(frozen=True)
class _Branch:
    """Fixup's branch convs: the last of each block's ``m`` (by the pattern's
    first group) zero, the others ``scaled``."""

    regex: str
    m: int
    scaled: Any
    _last: list[Any] = dataclasses.field(default_factory=list, compare=False)

    def __call__(self, path: str, leaves: Mapping[str, Any]) -> Any:
        if not self._last or self._last[0] is not leaves:
            self._last[:] = [leaves, self._blocks(leaves)]
        return zeros if path in self._last[1] else self.scaled

    def _blocks(self, leaves: Mapping[str, Any]) -> set[str]:
        """The path of each block's last conv; raises unless each has ``m``."""
        blocks: dict[str, list[tuple[Any, str]]] = {}
        pattern = re.compile(self.regex)
        for path in leaves:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            i, j = match.span(1)
            index = match.group(1)
            order = (0, int(index), "") if index.isdigit() else (1, 0, index)
            blocks.setdefault(path[:i] + "#" + path[j:], []).append((order, path))
        last = set()
        for convs in blocks.values():
            if len(convs) != self.m:
                raise _errors.bad_value(
                    "m",
                    "the number of convs in each residual branch (the leaves "
                    "`patterns['residual_branch']` matches, per block)",
                    f"{self.m}, but {sorted(p for _, p in convs)} are one block",
                )
            last.add(max(convs)[1])
        return last


def rezero(*, pattern: str | None = None) -> dict[str, Any]:
    """ReZero (Bachlechner et al. 2020) and SkipInit (De and Smith 2020): every
    residual gate starts at 0.

    ``x + resweight * F(x)`` with one scalar per branch, initialized to zero
    (``majumderb/rezero rztx.py``; timm's NFNet ``skipinit_gain = 0``,
    ``timm/models/nfnet.py``); the rest of the model keeps its own init. Use
    with :func:`jinit.reinit`, or merge into another scheme's rules
    (``{**jinit.schemes.rezero(), **jinit.schemes.gpt2(12)}``).

    Args:
      pattern: the gates' path regex (default ``PATTERNS["residual_gate"]``).
    """
    patterns = None if pattern is None else {"residual_gate": pattern}
    if pattern is not None and not isinstance(pattern, str):
        raise _errors.bad_type("pattern", "a regex string", pattern)
    return rules({"residual_gate": zeros}, patterns=patterns, name="rezero")


#: SkipInit's rule is ReZero's (gates at zero).
skipinit = rezero


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
    return rules(laws, patterns=patterns, name="zero")
