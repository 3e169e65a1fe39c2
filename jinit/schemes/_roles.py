"""Roles: the default path pattern of each kind of parameter, and rules from roles.

A scheme is a role -> initializer mapping; :func:`rules` turns it into
materialize rules and makes the scheme account for every leaf it draws: a role
the scheme scales that matches no leaf, while leaves of that kind fell to the
scheme's generic law, is an error naming them and the ``patterns=`` to pass.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .. import _caches, _checks, _errors, _signature
from .._constant import ones, zeros
from .._tree import ANY, PerLeaf
from ._depth import DepthScaled, check_regex

# A module name of an attention block (GPT-2 "attn", BERT "attention", Llama
# "self_attn", T5 "SelfAttention"/"EncDecAttention", linen
# "MultiHeadDotProductAttention_0", Megatron "self_attention").
_ATTN = r"[^/]*(?:attn|attention|Attention)[^/]*"
_MLP = r"[^/]*(?:mlp|Mlp|MLP|ffn|FFN|feed_forward|DenseReluDense)[^/]*"
# A state-space or linear-attention mixer (Mamba "mixer", Qwen3-Next
# "linear_attn", GatedDeltaNet), a routed experts' module (HF "experts", MaxText
# "MoeBlock_0") and an MoE router (HF "gate"/"router").
_SSM = r"[^/]*(?:mixer|Mixer|mamba|Mamba|ssm|SSM|linear_attn|[Dd]elta_?[Nn]et)[^/]*"
_EXPERTS = r"(?:experts|routed_experts|MoeBlock_\d+)"
_ROUTER = r"(?:router|gate|moe_gate)"

#: The default path pattern of each role (``re.fullmatch`` on the leaf path), in
#: the order rules are tried (after the roles whose pattern you give): the first
#: role whose pattern matches a path wins.
PATTERNS: dict[str, str] = {
    # Mixture-of-experts (HF names: mlp/gate, mlp/experts/{gate_up_proj,down_proj},
    # stored 3-D (experts, in, out); gpt-oss' sinks), tried first: their names
    # would otherwise fall to the generic kernel/bias roles.
    "router": ANY + _ROUTER + r"/(?:kernel|weight)",
    "router_bias": ANY + _ROUTER + r"/bias",
    "score_correction_bias": ANY + r"e_score_correction_bias",
    "expert_in": ANY
    + _EXPERTS
    + r"/(?:gate_up_proj|gate_proj|up_proj|w1|w3|wi_0|wi_1|wi)(?:/kernel)?",
    "expert_out": ANY + _EXPERTS + r"/(?:down_proj|w2|wo)(?:/kernel)?",
    "expert_bias": ANY + _EXPERTS + r"/(?:[^/]+_bias|[^/]+/bias)",
    "attention_sink": ANY + r"(?:sinks|attention_sinks)",
    # DeepSeek's multi-head latent attention: the low-rank q and kv projections
    # (HF and DeepSeek names); their norms (q_a_layernorm, kv_a_layernorm) are norms.
    "mla_down": ANY + r"(?:q_a_proj|kv_a_proj_with_mqa|wq_a|wkv_a)/kernel",
    "mla_up": ANY + r"(?:q_b_proj|kv_b_proj|wq_b|wkv_b)/kernel",
    # State-space and linear-attention mixers (Mamba-2, Qwen3-Next's GatedDeltaNet).
    "ssm_in": ANY + _SSM + r"/in_proj[^/]*/kernel",
    "ssm_conv": ANY + _SSM + r"/conv1d/kernel",
    "ssm_conv_bias": ANY + _SSM + r"/conv1d/bias",
    "ssm_dt_bias": ANY + r"dt_bias",
    "ssm_a_log": ANY + r"(?:A_log|a_log)",
    "ssm_d": ANY + _SSM + r"/(?:D|d_skip)",
    "ssm_norm": ANY + _SSM + r"/norm/scale",
    "ssm_out": ANY + _SSM + r"/out_proj/kernel",
    # ReZero's resweight, SkipInit's skipinit_gain: a scalar gate per branch.
    "residual_gate": ANY + r"(?:resweight|rezero(?:_alpha)?|skipinit_gain|res_gate)",
    "position_embedding": ANY
    + r"(?:wpe|pos_embed(?:ding)?s?|position_embeddings?)(?:/embedding)?",
    "token_type_embedding": ANY + r"token_type_embeddings?(?:/embedding)?",
    "cls_token": ANY + r"(?:cls_token|class_token)",
    "relative_attention_bias": ANY + r"relative_attention_bias(?:/embedding)?",
    "embedding": ANY + r"embedding",
    "q": ANY + r"(?:query|q_proj|q|wq|w_q)/kernel",
    "k": ANY + r"(?:key|k_proj|k|wk|w_k)/kernel",
    "v": ANY + r"(?:value|v_proj|v|wv|w_v)/kernel",
    "qkv": ANY + r"(?:c_attn|qkv|qkv_proj|wqkv|w_qkv|att_proj|in_proj|query_key_value|"
    r"linear_qkv)"
    r"/kernel",
    # A bare ``out``/``o`` under an MLP module is the MLP's (mlp_out), not attention's.
    "attention_out": r"(?!"
    + ANY
    + _MLP
    + r"/(?:out|o)/kernel$)"
    + ANY
    + r"(?:out|o_proj|out_proj|attn_out|o|"
    + _ATTN
    + r"/(?:c_proj|wo|w_out|dense|proj|linear_proj)|attention/output/dense)/kernel",
    "lm_head": ANY + r"(?:lm_head(?:/w_out)?|output|head|readout|logits)/kernel"
    r"|(?:params/)?(?:transformer/)?ff_out/kernel",
    "mlp_gate": ANY + r"(?:gate_proj|w1|wi_0)/kernel",
    "mlp_in": ANY
    + r"(?:c_fc|fc1|up_proj|w3|wi|wi_1|ff_proj|fc_in|dense_h_to_4h|linear_fc1|"
    r"intermediate/dense|" + _MLP + r"/(?:Dense_0|dense_0|fc|wi|in))/kernel",
    "mlp_out": ANY
    + r"(?:c_proj|fc2|down_proj|w2|wo|ff_out|fc_out|dense_4h_to_h|linear_fc2|"
    r"output/dense|" + _MLP + r"/(?:Dense_1|dense_1|out))/kernel",
    # Fixup's ResNet roles (torchvision names, as hongyi-zhang/Fixup): the convs
    # of a residual branch (group 1 orders them within their block: the last one
    # is zeroed), the projection shortcut, the classifier, the scalar biases.
    "residual_branch": r".*(?:layer|block|Block)[^/]*/(?:\d+/)?conv(\d+)/kernel",
    "shortcut": ANY + r"(?:downsample|shortcut)(?:/[^/]+)?/kernel",
    "classifier": ANY + r"(?:fc|head|classifier)/(?:kernel|bias)",
    "branch_bias": ANY + r"bias\d[ab]?",
    # The generic roles: every leaf of a kind (a scheme's law for "any other").
    "kernel": ANY + r"kernel",
    "norm_scale": ANY + r"scale",
    # A zero-centred norm's scale (Gemma, Qwen3-Next: the forward uses 1 + w):
    # stored at 0 where a plain norm's is 1. Every norm scale by name; a scheme
    # whose norms are all zero-centred drops norm_scale so its leaves come here.
    "zero_centred_norm": ANY + r"scale",
    "branch_scale": ANY + r"scale",
    "norm_bias": ANY + r"[^/]*(?:norm|Norm|ln_[^/]*|ln)/bias",
    "bias": ANY + r"bias",
}

#: The roles, in the order their rules are tried.
ROLES: tuple[str, ...] = tuple(PATTERNS)


#: The generic role a leaf of each specific role falls to when its name is not
#: known: a scheme that scales the specific role checks that it matched.
GENERIC: dict[str, str] = {
    **{
        role: "kernel"
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
            "residual_branch",
            "shortcut",
            "classifier",
        )
    },
    "position_embedding": "embedding",
    "token_type_embedding": "embedding",
    "relative_attention_bias": "embedding",
    "norm_bias": "bias",
    "router": "kernel",
    "router_bias": "bias",
    "mla_down": "kernel",
    "mla_up": "kernel",
    "ssm_in": "kernel",
    "ssm_conv": "kernel",
    "ssm_conv_bias": "bias",
    "ssm_norm": "norm_scale",
    "ssm_out": "kernel",
}

#: The mixture-of-experts, MLA and state-space roles: :func:`common` gives them
#: no law (a scheme for those architectures gives each its own), so other
#: schemes draw those leaves as before (their generic role, or no rule).
ARCHITECTURE_ROLES: tuple[str, ...] = tuple(
    role for role in PATTERNS if role.startswith(("router", "expert", "ssm_", "mla_"))
) + ("score_correction_bias", "attention_sink")

#: Names users write for a role (the closest spelling can be the opposite role:
#: "mlp_down" is one edit nearer "mlp_in" than "mlp_out").
_SYNONYMS: dict[str, str] = {
    "mlp_down": "mlp_out",
    "down_proj": "mlp_out",
    "mlp_output": "mlp_out",
    "ffn_out": "mlp_out",
    "mlp_up": "mlp_in",
    "up_proj": "mlp_in",
    "ffn_in": "mlp_in",
    "gate_proj": "mlp_gate",
    "o_proj": "attention_out",
    "out_proj": "attention_out",
    "attn_out": "attention_out",
    "attention_output": "attention_out",
    "readout": "lm_head",
    "head": "lm_head",
    "output": "lm_head",
    "unembedding": "lm_head",
    "wte": "embedding",
    "token_embedding": "embedding",
    "wpe": "position_embedding",
    "pos_embedding": "position_embedding",
    "norm": "norm_scale",
    "zero_centered_norm": "zero_centred_norm",
    "norm_zero_centred": "zero_centred_norm",
    "offset_norm": "zero_centred_norm",
    "layernorm": "norm_scale",
    "fixup_branch": "residual_branch",
    "branch": "residual_branch",
    "downsample": "shortcut",
    "fc": "classifier",
    "experts": "expert_in",
    "gate_up_proj": "expert_in",
    "e_score_correction_bias": "score_correction_bias",
    "sinks": "attention_sink",
    "dt_bias": "ssm_dt_bias",
    "A_log": "ssm_a_log",
    "D": "ssm_d",
    "conv1d": "ssm_conv",
}

_BRANCH_GROUP = (
    "it orders the branch's convs within their block "
    r"(e.g. r'.*/res_\d+/conv_(\w)/kernel')"
)
_ATTENTION_ROLES = ("q", "k", "v", "qkv", "attention_out")
_MLP_ROLES = ("mlp_gate", "mlp_in", "mlp_out")
_ATTENTION_CLASS = re.compile(r"(?i)attn|attention")
_MLP_CLASS = re.compile(r"(?i)mlp|feed_?forward|ffn|densereludense")


def _bad_role(arg: str, role: Any) -> ValueError:
    """An unknown role: the hint is the role a known synonym means (the closest
    spelling can be the opposite role), else the closest spelling."""
    meant = _SYNONYMS.get(role) if isinstance(role, str) else None
    if meant is None:
        return _errors.bad_choice(arg, role, ROLES)
    listed = "one of " + ", ".join(repr(r) for r in ROLES)
    return ValueError(f"{_errors.bad_value(arg, listed, role)} Did you mean {meant!r}?")


def check_patterns(patterns: Mapping[str, str | None] | None) -> dict[str, Any]:
    """:data:`PATTERNS` with ``patterns``' overrides (None drops a role), checked."""
    out: dict[str, Any] = dict(PATTERNS)
    if patterns is None:
        return out
    if not isinstance(patterns, Mapping):
        raise _errors.bad_type("patterns", "a mapping from role to regex", patterns)
    for role, regex in patterns.items():
        if role not in PATTERNS:
            raise _bad_role("patterns", role)
        arg = f"patterns[{role!r}]"
        group = _BRANCH_GROUP if role == "residual_branch" else ""
        out[role] = None if regex is None else check_regex(arg, regex, group)
    return out


def ordered(patterns: Mapping[str, str | None] | None) -> list[tuple[str, str]]:
    """``(role, regex)`` in the order rules are tried: the roles ``patterns``
    overrides first (a pattern you give wins over a default one), then the rest,
    each group in the order of :data:`ROLES`; dropped roles left out."""
    table = check_patterns(patterns)
    given = set(patterns or ())
    first = [r for r in ROLES if r in given] + [r for r in ROLES if r not in given]
    return [(r, table[r]) for r in first if table[r] is not None]


@_caches.registered
@functools.cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def role_of(path: str, roles: Iterable[tuple[str, str]]) -> str | None:
    """The first role whose regex fully matches ``path``, else None."""
    return next((r for r, rx in roles if _compiled(rx).fullmatch(path)), None)


def _context(sig: Any) -> str | None:
    """ "attention" or "mlp": the kind of the innermost module class (the leaf's
    own module first, then its parents) whose name says one, else None."""
    if sig is None:
        return None
    for name in (sig.module, *reversed(sig.parents)):
        short = name.rsplit(".", 1)[-1]
        if _ATTENTION_CLASS.search(short):
            return "attention"
        if _MLP_CLASS.search(short):
            return "mlp"
    return None


@dataclasses.dataclass(frozen=True)
class Scheme:
    """A scheme's roles, in the order tried, and the roles it scales.

    Each leaf it draws is checked against its module signature
    (:func:`jinit.flax.abstract`): an attention role inside an MLP class, or the
    reverse, is an error. The first leaf that falls to a generic role
    (:data:`GENERIC`) checks the whole tree, once per tree: the signatures of
    every leaf, and that each role in ``scaled`` matched a leaf (else the leaves
    of its generic role may be it: an error naming them).
    """

    name: str
    roles: tuple[tuple[str, str], ...]
    scaled: tuple[str, ...] = ()
    _checked: list[Any] = dataclasses.field(
        default_factory=list, compare=False, repr=False
    )

    def check(self, path: str, role: str, leaves: Mapping[str, Any]) -> None:
        self._check_signature(path, role, leaves.get(path))
        if role not in GENERIC.values():
            return
        if self._checked and self._checked[0] is leaves:
            return
        self._check_tree(leaves)
        self._checked[:] = [leaves]

    def _check_signature(self, path: str, role: str, spec: Any) -> None:
        kind = _context(_signature.signature_of(spec))
        if (role in _ATTENTION_ROLES and kind == "mlp") or (
            role in _MLP_ROLES and kind == "attention"
        ):
            sig = _signature.signature_of(spec)
            assert sig is not None
            owners = ", ".join(n.rsplit(".", 1)[-1] for n in (*sig.parents, sig.module))
            raise _errors.bad_value(
                f"patterns[{role!r}]",
                f"a pattern that matches only {role} leaves ({self.name}); "
                f"{path!r} matched it by name but its modules ({owners}) make it "
                f"an {kind} parameter: name it with patterns= for the right role",
                dict(self.roles)[role],
            )

    def _check_tree(self, leaves: Mapping[str, Any]) -> None:
        found: dict[str, list[str]] = {}
        for path, spec in leaves.items():
            role = role_of(path, self.roles)
            if role is not None:
                self._check_signature(path, role, spec)
                found.setdefault(role, []).append(path)
        # A model has one token embedding: only a second one in the generic
        # role can be a position embedding without a role of its own.
        spare = {"embedding": 1}
        missing = [
            r
            for r in self.scaled
            if r in dict(self.roles)
            and not found.get(r)
            and len(found.get(GENERIC[r], ())) > spare.get(GENERIC[r], 0)
        ]
        if not missing:
            return
        fell = sorted({p for r in missing for p in found[GENERIC[r]]})
        shown = ", ".join(repr(p) for p in fell[:20])
        if len(fell) > 20:
            shown += f", ... ({len(fell) - 20} more)"
        roles = ", ".join(f"{r!r}: r'...'" for r in missing)
        raise _errors.bad_value(
            "patterns",
            f"a pattern for each role {self.name} scales; no leaf path matches "
            f"{', '.join(missing)}, and these leaves fell to the generic "
            f"{'/'.join(sorted({GENERIC[r] for r in missing}))} law instead: "
            f"{shown}. Pass patterns={{{roles}}} matching those leaves (or None "
            "for a role the model does not have)",
            tuple(missing),
        )


@dataclasses.dataclass(frozen=True)
class _Choice:
    """A role's rule: the scheme's checks, then the role's initializer."""

    scheme: Scheme
    role: str
    init: Any

    def __call__(self, path: str, leaves: Mapping[str, Any]) -> Any:
        self.scheme.check(path, self.role, leaves)
        for_leaf = getattr(self.init, "for_leaf", None)
        return for_leaf(path, leaves) if callable(for_leaf) else self.init


def rules(
    inits: Mapping[str, Any],
    *,
    patterns: Mapping[str, str | None] | None = None,
    layer: str | None = None,
    scaled: Iterable[str] = (),
    name: str = "the scheme",
) -> dict[str, Any]:
    """Materialize rules from a role -> initializer mapping.

    The building block of every scheme here, and of your own. Roles are tried
    in the order of :data:`ROLES` (the roles ``patterns`` overrides first), each
    with its pattern (:data:`PATTERNS`, or ``patterns[role]``; None drops the
    role). Roles missing from ``inits`` get no rule, so a leaf no role matches
    is an error of ``jinit.materialize`` (unless you pass ``default=``).

    Args:
      inits: role -> initializer (or a :class:`DepthScaled` / ``PerLeaf`` rule).
      patterns: role -> regex overrides.
      layer: the layer-index regex of depth-indexed laws (default :data:`LAYER`).
      scaled: the roles the scheme gives a law of their own: drawing a tree
        where one matches no leaf while leaves fell to its generic role
        (:data:`GENERIC`: ``kernel`` for the projections; a second table for
        ``embedding``) raises, naming them. Roles whose initializer is the
        generic role's are ignored.
      name: the scheme's name in those errors.

    Returns:
      An ordered ``dict`` regex -> rule. Each regex starts with a comment
      naming its role, ``(?#mlp_out)(?:...)``, so ``jinit.flax.table`` rows say
      which role a leaf got.

    Raises:
      ValueError: an unknown role, an invalid regex.
      TypeError: a pattern that is not a string.

    Example:
      >>> rules = jinit.schemes.rules(
      ...     {"embedding": jinit.normal(1.0), "kernel": jinit.normal(0.02)},
      ...     patterns={"embedding": r".*/tok_embeddings/embedding"})
    """
    if not isinstance(inits, Mapping):
        raise _errors.bad_type("inits", "a mapping from role to initializer", inits)
    for role in inits:
        if role not in PATTERNS:
            raise _bad_role("inits", role)
    scaled = tuple(scaled)
    for role in scaled:
        if role not in GENERIC:
            raise _errors.bad_choice("scaled", role, tuple(GENERIC))
    if layer is not None:
        check_regex("layer", layer, "the layer index")
    table = [(r, rx) for r, rx in ordered(patterns) if inits.get(r) is not None]
    # Only a law other than the generic one's can be missed.
    scaled = tuple(r for r in scaled if inits.get(r) != inits.get(GENERIC[r]))
    scheme = Scheme(name, tuple(table), scaled)
    out: dict[str, Any] = {}
    for role, regex in table:
        init = inits[role]
        if isinstance(init, DepthScaled) and layer is not None:
            init = dataclasses.replace(init, layer=layer)
        out[f"(?#{role})(?:{regex})"] = PerLeaf(role, _Choice(scheme, role, init))
    return out


def common(weight: Any, **inits: Any) -> dict[str, Any]:
    """``weight`` for every projection and embedding role, zeros for biases,
    ones for norm scales (no ResNet roles)."""
    skip = ("residual_gate", "norm_scale", "norm_bias", "bias", "branch_scale")
    skip += ("zero_centred_norm",)
    fixup = ("residual_branch", "shortcut", "classifier", "branch_bias")
    fixup += ARCHITECTURE_ROLES  # their schemes give them laws of their own
    base = {role: weight for role in ROLES if role not in skip + fixup}
    base.update(norm_scale=ones, norm_bias=zeros, bias=zeros)
    base.update(inits)
    return base


def positive_number(arg: str, value: Any) -> float:
    return _checks.real_number(arg, value, positive=True)


def layer_count(arg: str, value: Any) -> int:
    return _checks.integer(arg, value, minimum=1)
