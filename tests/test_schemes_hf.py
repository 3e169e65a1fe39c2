"""Qwen3, Gemma 3, OLMo 2 and RoBERTa schemes against transformers 5.24's models.

Each decoder is ported to Flax linen in the usual style (Hugging Face names,
``nn.Dense`` kernels, ``nn.Embed`` tables, RMSNorm ``scale``), its abstract tree
taken with :func:`jinit.flax.abstract` and drawn with
:func:`jinit.schemes.from_hf_config` of the transformers config's dict. The
transformers model is built from the same config (PyTorch, CPU, fixed seed).
The port's parameters and transformers' are paired by path (torch ``Linear``
(out, in) -> kernel (in, out), ``Embedding`` -> ``embedding``, norm ``weight``
-> ``scale``); the two sets must be equal (an unpaired parameter fails), and
each pair must have the same role: the one jinit's rule names and the one the
transformers module has (its class and name). Per pair, for n values:

- zeros at the same places (padding rows), constants (norms, biases) equal;
- random laws: transformers' sample std within 5 standard errors of the law's
  std (relative error <= 5 sqrt(1/(2n)), the normal's), jinit's too, and a
  two-sample KS test between them with p > 1e-6.

Each architecture at two sizes and two ``initializer_range`` values.
"""

from __future__ import annotations

import functools
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import jinit
import jinit.flax as jf
import jinit.schemes as js

nn = pytest.importorskip("flax.linen")
torch = pytest.importorskip("torch")
tr = pytest.importorskip("transformers")

KEY = jax.random.key(0)


# ----------------------------------------------------------------------------
# A Flax port of the three decoders, in the usual style.


class RMSNorm(nn.Module):
    """Plain (``w * x``, ``w`` at 1) or zero-centred (Gemma: ``(1 + w) * x``,
    ``w`` at 0)."""

    zero_centred: bool = False

    @nn.compact
    def __call__(self, x):
        init = nn.initializers.zeros if self.zero_centred else nn.initializers.ones
        w = self.param("scale", init, (x.shape[-1],))
        y = x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + 1e-6)
        return y * (1 + w) if self.zero_centred else y * w


class Attention(nn.Module):
    arch: str
    heads: int
    kv_heads: int
    head_dim: int

    @nn.compact
    def __call__(self, x):
        dense = functools.partial(nn.Dense, use_bias=False)
        b, t, d = x.shape
        h, kv, hd = self.heads, self.kv_heads, self.head_dim
        q, k, v = (
            dense(h * hd, name="q_proj")(x),
            dense(kv * hd, name="k_proj")(x),
            dense(kv * hd, name="v_proj")(x),
        )
        zc = self.arch == "gemma3"
        if self.arch == "olmo2":  # OLMo 2 normalises the whole projection
            q = RMSNorm(name="q_norm")(q)
            k = RMSNorm(name="k_norm")(k)
        q, k, v = (a.reshape(b, t, -1, hd) for a in (q, k, v))
        if self.arch != "olmo2":  # Qwen3, Gemma 3: per head
            q = RMSNorm(zc, name="q_norm")(q)
            k = RMSNorm(zc, name="k_norm")(k)
        k, v = (jnp.repeat(a, h // kv, axis=2) for a in (k, v))
        y = nn.dot_product_attention(q, k, v).reshape(b, t, h * hd)
        return dense(d, name="o_proj")(y)


class MLP(nn.Module):
    width: int

    @nn.compact
    def __call__(self, x):
        dense = functools.partial(nn.Dense, use_bias=False)
        g = dense(self.width, name="gate_proj")(x)
        u = dense(self.width, name="up_proj")(x)
        return dense(x.shape[-1], name="down_proj")(nn.silu(g) * u)


class Layer(nn.Module):
    arch: str
    cfg: dict

    @nn.compact
    def __call__(self, x):
        c, zc = self.cfg, self.arch == "gemma3"
        attn = Attention(
            self.arch,
            c["num_attention_heads"],
            c["num_key_value_heads"],
            c["head_dim"],
            name="self_attn",
        )
        mlp = MLP(c["intermediate_size"], name="mlp")
        if self.arch == "olmo2":  # norms after each branch
            x = x + RMSNorm(name="post_attention_layernorm")(attn(x))
            return x + RMSNorm(name="post_feedforward_layernorm")(mlp(x))
        if self.arch == "gemma3":  # sandwich norms
            a = attn(RMSNorm(zc, name="input_layernorm")(x))
            x = x + RMSNorm(zc, name="post_attention_layernorm")(a)
            m = mlp(RMSNorm(zc, name="pre_feedforward_layernorm")(x))
            return x + RMSNorm(zc, name="post_feedforward_layernorm")(m)
        x = x + attn(RMSNorm(name="input_layernorm")(x))
        return x + mlp(RMSNorm(name="post_attention_layernorm")(x))


class Model(nn.Module):
    arch: str
    cfg: dict

    @nn.compact
    def __call__(self, tokens):
        c = self.cfg
        embed = nn.Embed(c["vocab_size"], c["hidden_size"], name="embed_tokens")
        x = embed(tokens)
        if self.arch == "gemma3":
            x = x * jnp.asarray(c["hidden_size"] ** 0.5, x.dtype)
        for i in range(c["num_hidden_layers"]):
            x = Layer(self.arch, c, name=f"layers_{i}")(x)
        return RMSNorm(self.arch == "gemma3", name="norm")(x), embed


class CausalLM(nn.Module):
    arch: str
    cfg: dict

    @nn.compact
    def __call__(self, tokens):
        x, embed = Model(self.arch, self.cfg, name="model")(tokens)
        if self.cfg["tie_word_embeddings"]:
            return embed.attend(x)
        return nn.Dense(self.cfg["vocab_size"], use_bias=False, name="lm_head")(x)


def _port_path(path: str) -> str:
    """The port's linen path as transformers names the parameter."""
    return re.sub(r"layers_(\d+)", r"layers/\1", path.removeprefix("params/"))


# ----------------------------------------------------------------------------
# transformers' parameters in the Flax layout, each with its role.

_HF_ROLES = {
    "embed_tokens": "embedding",
    "q_proj": "q",
    "k_proj": "k",
    "v_proj": "v",
    "o_proj": "attention_out",
    "gate_proj": "mlp_gate",
    "up_proj": "mlp_in",
    "down_proj": "mlp_out",
    "lm_head": "lm_head",
}


def _hf_role(owner: str, module, leaf: str) -> str:
    kind = type(module).__name__
    if "RMSNorm" in kind:
        return "zero_centred_norm" if kind.startswith("Gemma") else "norm_scale"
    return _HF_ROLES[owner.rpartition(".")[2]]


def _hf_params(model) -> dict[str, tuple[np.ndarray, str]]:
    """path -> (value in the Flax layout, the role of its transformers module)."""
    modules = dict(model.named_modules())
    out = {}
    for name, p in model.named_parameters():
        owner, _, leaf = name.rpartition(".")
        module = modules[owner]
        w = p.detach().numpy().astype(np.float32)
        if isinstance(module, torch.nn.Embedding):
            leaf = "embedding"
        elif isinstance(module, torch.nn.Linear):
            leaf, w = "kernel", w.T
        else:
            leaf = "scale"
        out["/".join([*owner.split("."), leaf])] = (w, _hf_role(owner, module, leaf))
    return out


def _role(rule: str) -> str:
    match = re.match(r"\(\?#(\w+)\)", rule)
    assert match is not None, rule
    return match.group(1)


def _assert_same_law(path, ref, ours, std):
    """``ref`` (transformers) and ``ours`` (jinit) from the same law of std
    ``std``: the bounds of the module docstring."""
    assert ours.shape == ref.shape, path
    np.testing.assert_array_equal(ours == 0, ref == 0, err_msg=path)
    if np.all(ref == ref.flat[0]):
        np.testing.assert_array_equal(ours, ref, err_msg=path)
        return
    ref, ours = ref[ref != 0], ours[ours != 0]  # zero rows compared above
    for sample in (ref, ours):
        bound = 5 * math.sqrt(1 / (2 * sample.size))
        assert abs(sample.std() / std - 1) <= bound, (path, sample.std(), std)
        assert abs(sample.mean()) <= 5 * std / math.sqrt(sample.size), path
    p = scipy.stats.ks_2samp(ref.ravel(), ours.ravel()).pvalue  # pyright: ignore[reportAttributeAccessIssue]
    assert p > 1e-6, (path, p)


# ----------------------------------------------------------------------------
# The decoders.

_SIZES = {  # two sizes: width, depth, heads, vocab (and a pad row)
    "small": dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        vocab_size=96,
    ),
    "large": dict(
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        vocab_size=160,
    ),
}
_CONFIGS = {
    "qwen3": tr.Qwen3Config,
    "gemma3": tr.Gemma3TextConfig,
    "olmo2": tr.Olmo2Config,
}
_MODELS = {
    "qwen3": tr.Qwen3ForCausalLM,
    "gemma3": tr.Gemma3ForCausalLM,
    "olmo2": tr.Olmo2ForCausalLM,
}


def _config(arch: str, size: str, std: float):
    extra = dict(pad_token_id=5, bos_token_id=1, eos_token_id=2)
    sizes = dict(_SIZES[size])
    if arch == "olmo2":  # Olmo2Config has no head_dim: hidden_size / heads (16)
        del sizes["head_dim"]
    return _CONFIGS[arch](**sizes, **extra, initializer_range=std)


@functools.cache
def _abstract(arch: str, size: str):
    c = _config(arch, size, 0.02).to_dict()
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    return jf.abstract(CausalLM(arch, c), jnp.zeros((1, 4), jnp.int32))


_CASES = [
    pytest.param(arch, size, std, id=f"{arch}-{size}-{std}")
    for arch in _CONFIGS
    for size in _SIZES
    for std in (0.02, 0.05)
]


@pytest.mark.standard_promotion  # Flax layers' internals
@pytest.mark.parametrize("arch, size, std", _CASES)
def test_decoder_port_matches_transformers(arch, size, std):
    config = _config(arch, size, std)
    torch.manual_seed(0)
    with torch.no_grad():
        hf = _hf_params(_MODELS[arch](config))
    rules = js.from_hf_config(config.to_dict())
    tree = _abstract(arch, size)
    rows = {_port_path(r["path"]): r for r in jf.table(tree, rules)}
    assert set(rows) == set(hf)  # every parameter paired, none left over
    drawn = jinit.materialize(tree, KEY, rules)
    ours = {
        _port_path(jax.tree_util.keystr(p, simple=True, separator="/")): np.asarray(v)
        for p, v in jax.tree_util.tree_leaves_with_path(drawn)
    }
    for path, (ref, role) in hf.items():
        assert _role(rows[path]["rule"]) == role, (path, rows[path]["rule"])
        assert rows[path]["std"] in (std, None, 0.0), (path, rows[path]["std"])
        _assert_same_law(path, ref, ours[path], std)
    # The padding row: zero in both, and only it.
    emb = hf["model/embed_tokens/embedding"][0]
    assert np.flatnonzero(~emb.any(axis=1)).tolist() == [5]
    if arch == "gemma3":  # zero-centred norms: every scale stored at 0
        assert all(np.all(ref == 0) for ref, r in hf.values() if r.endswith("norm"))


def test_gemma3_norm_roles_and_choices():
    tree = _abstract("gemma3", "small")
    rows = {_port_path(r["path"]): r for r in jf.table(tree, js.gemma3())}
    norms = [p for p in rows if p.endswith("/scale")]
    assert len(norms) == 7  # 4 per layer, q/k norms, the final norm
    assert {_role(rows[p]["rule"]) for p in norms} == {"zero_centred_norm"}
    # Other schemes keep their norms at 1 (the new role is not in common()).
    rows = {_port_path(r["path"]): r for r in jf.table(tree, js.qwen3())}
    assert {_role(rows[p]["rule"]) for p in norms} == {"norm_scale"}
    with pytest.raises(ValueError, match="Did you mean 'zero_centred_norm'"):
        js.rules({"zero_centered_norm": jinit.zeros})


def test_olmo2_paper_is_olmos_truncated_normal():
    """OLMo 2's configs: init_fn normal, init_std, init_cutoff_factor 3."""
    tree = _abstract("olmo2", "small")
    paper = js.olmo2(0.03)
    assert paper == js.olmo("normal", init_std=0.03, init_cutoff_factor=3.0)
    rows = {_port_path(r["path"]): r for r in jf.table(tree, paper)}
    q = rows["model/layers/0/self_attn/q_proj/kernel"]
    assert q["init"] == jinit.truncated_normal(0.03, lower=-3.0, upper=3.0)
    emb = rows["model/embed_tokens/embedding"]
    assert emb["init"] == q["init"]  # no padding row
    assert rows["model/norm/scale"]["init"] == jinit.ones
    with pytest.raises(ValueError, match="`pad_token_id` must be None"):
        js.olmo2(pad_token_id=1)
    with pytest.raises(ValueError, match="`source` must be one of"):
        js.olmo2(source="hf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`initializer_range` must be"):
        js.qwen3(-1.0)


# ----------------------------------------------------------------------------
# RoBERTa: the padding row of the position table too.


def _roberta_role(path: str) -> str:
    table = [
        (r".*/word_embeddings/embedding", "embedding"),
        (r".*/position_embeddings/embedding", "position_embedding"),
        (r".*/token_type_embeddings/embedding", "token_type_embedding"),
        (r".*/(query|key|value)/kernel", None),
        (r".*/attention/output/dense/kernel", "attention_out"),
        (r".*/intermediate/dense/kernel", "mlp_in"),
        (r".*/output/dense/kernel", "mlp_out"),
        (r".*/(LayerNorm|layer_norm)/scale", "norm_scale"),
        (r".*/(LayerNorm|layer_norm)/bias", "norm_bias"),
        (r".*bias", "bias"),
        (r".*/kernel", "kernel"),  # the LM head's and pooler's dense
    ]
    for regex, role in table:
        m = re.fullmatch(regex, path)
        if m:
            return role or {"query": "q", "key": "k", "value": "v"}[m.group(1)]
    raise AssertionError(path)


@pytest.mark.parametrize(
    "size, std, cls",
    [(32, 0.02, "RobertaForMaskedLM"), (64, 0.05, "RobertaModel")],
)
def test_roberta_matches_transformers(size, std, cls):
    config = tr.RobertaConfig(
        hidden_size=size,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=2 * size,
        vocab_size=128,
        max_position_embeddings=80,
        initializer_range=std,
    )
    torch.manual_seed(0)
    with torch.no_grad():
        model = getattr(tr, cls)(config)
    modules = dict(model.named_modules())
    ref = {}
    for name, p in model.named_parameters():
        owner, _, leaf = name.rpartition(".")
        module, w = modules[owner], p.detach().numpy().astype(np.float32)
        if isinstance(module, torch.nn.Embedding):
            leaf = "embedding"
        elif isinstance(module, torch.nn.Linear) and leaf == "weight":
            leaf, w = "kernel", w.T
        elif leaf == "weight":
            leaf = "scale"
        ref["/".join([*owner.split("."), leaf])] = w
    rules = js.from_hf_config(config.to_dict())
    assert rules == js.roberta(std, pad_token_id=1)
    tree = {p: jax.ShapeDtypeStruct(w.shape, np.float32) for p, w in ref.items()}
    rows = {r["path"]: r for r in jf.table(tree, rules)}
    drawn = jinit.materialize(tree, KEY, rules)
    for path, w in ref.items():
        assert _role(rows[path]["rule"]) == _roberta_role(path), path
        _assert_same_law(path, w, np.asarray(drawn[path]), std)
    pos = next(w for p, w in ref.items() if "position_embeddings" in p)
    assert np.flatnonzero(~pos.any(axis=1)).tolist() == [1]  # HF zeroes it
    # bert() leaves the position row drawn: the difference roberta() makes.
    bert = jinit.materialize(tree, KEY, js.bert(std, pad_token_id=1))
    key = next(p for p in ref if "position_embeddings" in p)
    assert np.all(np.asarray(bert[key])[1] != 0)


def test_a_port_leaf_no_role_names_is_an_error():
    """Every parameter of a port gets its role's law or an error naming it:
    Gemma 3's multimodal projector (zeros in transformers) is not covered."""
    tree = dict(jax.tree_util.tree_leaves_with_path(_abstract("gemma3", "small")))
    tree = {
        jax.tree_util.keystr(p, simple=True, separator="/"): v for p, v in tree.items()
    }
    path = "params/multi_modal_projector/mm_input_projection_weight"
    tree[path] = jax.ShapeDtypeStruct((16, 32), np.float32)
    with pytest.raises(ValueError, match=re.escape(path)):
        jinit.materialize(tree, KEY, js.gemma3())
