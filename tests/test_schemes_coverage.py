"""Every scheme accounts for every leaf, whatever the model names its modules.

The zoo: small language models (Flax linen and nnx, unrolled and stacked with
``nn.scan``/``nnx.vmap``) whose modules have other names than the schemes'
documentation uses, each paired with the same model under documented names (the
canonical model). For every scheme builder in ``jinit.schemes.__all__``, each
zoo leaf must be drawn with exactly the initializer (and std) its canonical twin
gets, which is the scheme's documented law for that role, or the call raises
naming a leaf of the tree: never a silent default.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
import jinit.flax as jf
import jinit.schemes as js

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")

KEY = jax.random.key(0)
D, F, VOCAB, SEQ, L = 16, 32, 32, 4, 2


class Names(NamedTuple):
    tok: str
    pos: str
    proj_in: str
    blocks: str
    attn: str
    q: str
    k: str
    v: str
    o: str
    ln1: str
    ln2: str
    ff: str
    up: str
    down: str
    proj_out: str
    ln_f: str
    head: str


# The documented names (Hugging Face GPT-2/Llama), recognised by every scheme.
CANON = Names(
    "wte", "wpe", "adapter_in", "layers", "self_attn", "q_proj", "k_proj",
    "v_proj", "o_proj", "ln_1", "ln_2", "mlp", "up_proj", "down_proj",
    "adapter_out", "ln_f", "lm_head",
)  # fmt: skip
ZOO = {
    # The names: blocks/attn/{wq,wk,wv,wo}, ff/{up,down}, tok_emb, head.
    "blocks": Names(
        "tok_emb",
        "pos_emb",
        "proj_in",
        "blocks",
        "attn",
        "wq",
        "wk",
        "wv",
        "wo",
        "ln_attn",
        "ln_ff",
        "ff",
        "up",
        "down",
        "proj_out",
        "ln_out",
        "head",
    ),  # fmt: skip
    # Attention and MLP names no default pattern knows.
    "mixer": Names(
        "embed",
        "positions",
        "embed_proj",
        "stack",
        "mixer",
        "to_q",
        "to_k",
        "to_v",
        "to_out",
        "ln_a",
        "ln_b",
        "mlp",
        "proj_in",
        "proj_out",
        "unembed_proj",
        "ln_final",
        "logits",
    ),  # fmt: skip
    # An MLP whose output is named ``out`` (attention's default name) under ``ff``.
    "ff_out": Names(
        "shared",
        "pos",
        "inp",
        "layer",
        "attention",
        "q",
        "k",
        "v",
        "o",
        "norm1",
        "norm2",
        "ff",
        "wi",
        "out",
        "outp",
        "final_norm",
        "readout",
    ),  # fmt: skip
}


def _to_canon(names: Names):
    """The canonical twin of a zoo leaf path (segment by segment)."""
    table = dict(zip(names, CANON, strict=True))
    for i in range(L):
        table[f"{names.blocks}_{i}"] = f"{CANON.blocks}_{i}"

    def canon(path: str) -> str:
        return "/".join(table.get(s, s) for s in path.split("/"))

    return canon


# ----------------------------------------------------------------------------
# The zoo, Flax linen.


class Attn(nn.Module):
    names: Names

    @nn.compact
    def __call__(self, x):
        n = self.names
        q, k = nn.Dense(D, name=n.q)(x), nn.Dense(D, name=n.k)(x)
        a = jax.nn.softmax(q @ k.swapaxes(-1, -2), axis=-1)
        return nn.Dense(D, name=n.o)(a @ nn.Dense(D, name=n.v)(x))


class FeedForward(nn.Module):
    names: Names

    @nn.compact
    def __call__(self, x):
        n = self.names
        return nn.Dense(D, name=n.down)(nn.gelu(nn.Dense(F, name=n.up)(x)))


class Block(nn.Module):
    names: Names

    @nn.compact
    def __call__(self, x, _=None):
        n = self.names
        x = x + Attn(n, name=n.attn)(nn.LayerNorm(name=n.ln1)(x))
        x = x + FeedForward(n, name=n.ff)(nn.LayerNorm(name=n.ln2)(x))
        return x, None


class LM(nn.Module):
    names: Names
    scan: bool = False
    positions: bool = False

    @nn.compact
    def __call__(self, tokens):
        n = self.names
        x = nn.Embed(VOCAB, D, name=n.tok)(tokens)
        if self.positions:
            x = x + nn.Embed(SEQ, D, name=n.pos)(jnp.arange(tokens.shape[-1]))
        x = nn.Dense(D, name=n.proj_in)(x)
        if self.scan:
            stack = nn.scan(
                Block,
                variable_axes={"params": 0},
                split_rngs={"params": True},
                length=L,
            )
            x, _ = stack(n, name=n.blocks)(x, None)
        else:
            for i in range(L):
                x, _ = Block(n, name=f"{n.blocks}_{i}")(x)
        x = nn.LayerNorm(name=n.ln_f)(nn.Dense(D, name=n.proj_out)(x))
        return nn.Dense(VOCAB, use_bias=False, name=n.head)(x)


# ----------------------------------------------------------------------------
# The zoo, Flax nnx.


class NnxAttn(nnx.Module):
    def __init__(self, n: Names, rngs):
        for name in (n.q, n.k, n.v, n.o):
            setattr(self, name, nnx.Linear(D, D, rngs=rngs))


NnxAttn.__name__ = NnxAttn.__qualname__ = "Attn"


class NnxFeedForward(nnx.Module):
    def __init__(self, n: Names, rngs):
        setattr(self, n.up, nnx.Linear(D, F, rngs=rngs))
        setattr(self, n.down, nnx.Linear(F, D, rngs=rngs))


NnxFeedForward.__name__ = NnxFeedForward.__qualname__ = "FeedForward"


class NnxBlock(nnx.Module):
    def __init__(self, n: Names, rngs):
        setattr(self, n.ln1, nnx.LayerNorm(D, rngs=rngs))
        setattr(self, n.attn, NnxAttn(n, rngs))
        setattr(self, n.ln2, nnx.LayerNorm(D, rngs=rngs))
        setattr(self, n.ff, NnxFeedForward(n, rngs))


class NnxLM(nnx.Module):
    def __init__(self, n: Names, stacked: bool, positions: bool, rngs):
        setattr(self, n.tok, nnx.Embed(VOCAB, D, rngs=rngs))
        if positions:
            setattr(self, n.pos, nnx.Embed(SEQ, D, rngs=rngs))
        setattr(self, n.proj_in, nnx.Linear(D, D, rngs=rngs))
        if stacked:

            @nnx.split_rngs(splits=L)
            @nnx.vmap(in_axes=(0,), out_axes=0)
            def make(rngs):
                return NnxBlock(n, rngs)

            setattr(self, n.blocks, make(rngs))
        else:
            setattr(self, n.blocks, nnx.List([NnxBlock(n, rngs) for _ in range(L)]))
        setattr(self, n.proj_out, nnx.Linear(D, D, rngs=rngs))
        setattr(self, n.ln_f, nnx.LayerNorm(D, rngs=rngs))
        setattr(self, n.head, nnx.Linear(D, VOCAB, use_bias=False, rngs=rngs))


TOKENS = jnp.zeros((2, SEQ), jnp.int32)


@functools.cache
def _tree(framework: str, names: Names, stacked: bool, positions: bool) -> Any:
    """The abstract parameters of a zoo model (one build per model)."""
    if framework == "linen":
        return jf.abstract(LM(names, stacked, positions), TOKENS)
    model = jf.abstract(lambda: NnxLM(names, stacked, positions, nnx.Rngs(0)))
    return nnx.split(model)[1]


def _rows(tree, rules, **kwargs) -> dict[str, dict[str, Any]]:
    return {r["path"]: r for r in jf.table(tree, rules, **kwargs)}


# ----------------------------------------------------------------------------
# Every scheme builder, with the arguments of the zoo's size.

_ALL_NAMES = {
    field: {getattr(n, field) for n in (CANON, *ZOO.values())}
    for field in Names._fields
}


def _named(*fields: str, leaf: str) -> str:
    """A rule's regex for the leaves named by ``fields`` under every naming."""
    names = sorted(set().union(*(_ALL_NAMES[f] for f in fields)))
    return r"(?:.*/)?(?:" + "|".join(names) + r")/" + leaf


# What the scheme leaves to the model (documented: DeepNet, ZerO and T-Fixup
# cover no embedding, readout or norm): explicit rules, placed first.
_EMBEDDINGS = {_named("tok", "pos", leaf="embedding"): jinit.normal(1.0)}
_OUTSIDE = {
    **_EMBEDDINGS,
    _named("proj_in", "proj_out", "head", leaf="kernel"): jinit.normal(0.02),
}
_NORMS = {r".*/scale": jinit.ones}

# name -> [(label, rules factory, the model has learned positions)]
SCHEMES: dict[str, list[tuple[str, Any, bool]]] = {
    "gpt2": [
        ("hf", lambda: js.gpt2(L), True),
        ("openai", lambda: js.gpt2(L, variant="openai"), True),
    ],
    "bert": [("pad0", lambda: js.bert(), True)],
    "vit": [("base", lambda: js.vit(), False)],
    "llama": [
        ("base", lambda: js.llama(), False),
        ("pad", lambda: js.llama(pad_token_id=0), False),
    ],
    "t5": [("small", lambda: js.t5(D, 4, 4, F), False)],
    "roberta": [("pad1", lambda: js.roberta(), True)],
    "qwen3": [
        ("base", lambda: js.qwen3(), False),
        ("pad", lambda: js.qwen3(pad_token_id=0), False),
    ],
    "gemma3": [("pad0", lambda: js.gemma3(), False)],
    "olmo2": [
        ("paper", lambda: js.olmo2(), False),
        ("hf", lambda: js.olmo2(source="transformers", pad_token_id=1), False),
    ],
    "megatron": [("emb", lambda: js.megatron(L, embedding_std=0.01), True)],
    "olmo": [
        (f, functools.partial(js.olmo, f, d_model=D, n_layers=L, d_ff=F), False)
        for f in ("normal", "mitchell", "full_megatron")
    ]
    + [
        (
            "mitchell-wpe",
            lambda: js.olmo("mitchell", d_model=D, n_layers=L, emb_init_std=0.5),
            True,
        )
    ],
    "olmo_core": [
        (m, functools.partial(js.olmo_core, m, d_model=D, n_layers=L), False)
        for m in ("normal", "llama", "llama_depth", "normalized", "fan_in")
    ],
    "torchtitan_llama3": [
        ("depth", lambda: js.torchtitan_llama3(D), False),
        ("flat", lambda: js.torchtitan_llama3(D, depth_init=False, n_layers=L), False),
    ],
    "deepnet": [
        ("paper", lambda: {**_OUTSIDE, **js.deepnet("decoder", n_decoder=L)}, False),
        (
            "torchscale",
            lambda: {
                **_OUTSIDE,
                **js.deepnet("decoder", n_decoder=L, source="torchscale"),
            },
            False,
        ),
    ],
    "tfixup": [("dec", lambda: {**js.tfixup(D, n_decoder=L), **_NORMS}, False)],
    "zero": [("base", lambda: {**_EMBEDDINGS, **js.zero()}, False)],
}
# Not language-model schemes: checked on their own zoos below.
OWN_ZOO = {"fixup", "rezero", "skipinit"}
# Names of jinit.schemes that are not scheme builders.
NOT_SCHEMES = {
    "GENERIC",
    "LAYER",
    "PATTERNS",
    "ROLES",
    "DeepNetCoefficients",
    "DepthScaled",
    "LayerStack",
    "StackLaw",
    "ZerO",
    "deepnet_coefficients",
    "from_hf_config",
    "layer_index",
    "rules",
    "stack_law",
    "zero_matrix",
}


def test_every_scheme_builder_is_in_the_zoo():
    """A new scheme fails here until it is covered (SCHEMES or its own zoo)."""
    builders = set(js.__all__) - NOT_SCHEMES
    assert builders == set(SCHEMES) | OWN_ZOO


def _cases():
    for name, configs in SCHEMES.items():
        for label, make, positions in configs:
            yield pytest.param(make, positions, id=f"{name}-{label}")


@pytest.mark.standard_promotion  # Flax layers' internals
@pytest.mark.parametrize("make, positions", list(_cases()))
def test_zoo_leaves_get_their_documented_law_or_an_error(make, positions):
    rules = make()
    for framework in ("linen", "nnx"):
        for stacked in (False, True):
            canon = _rows(_tree(framework, CANON, stacked, positions), rules)
            for zoo_name, names in ZOO.items():
                tree = _tree(framework, names, stacked, positions)
                where = (framework, stacked, zoo_name)
                try:
                    rows = _rows(tree, rules)
                except ValueError as e:
                    paths = [r for r in _paths(tree)]
                    assert any(p in str(e) for p in paths), (where, str(e))
                    continue
                to_canon = _to_canon(names)
                assert len(rows) == len(canon), where
                for path, row in rows.items():
                    twin = canon[to_canon(path)]
                    assert row["init"] == twin["init"], (where, path, row["init"])
                    assert row["std"] == twin["std"], (where, path)


def _paths(tree) -> list[str]:
    return [r["path"] for r in jf.table(tree, {".*": jinit.zeros})]


@pytest.mark.standard_promotion  # Flax layers' internals
def test_the_zoo_raises_where_a_scheme_would_have_defaulted():
    """The silent defaults of #23 item 5 are now errors naming the leaves."""
    tree = _tree("linen", ZOO["blocks"], False, True)
    for rules in (
        js.gpt2(L),
        js.olmo("mitchell", d_model=D, n_layers=L),
        js.t5(D, 4, 4, F),
        js.torchtitan_llama3(D),
    ):
        with pytest.raises(ValueError, match="mlp_out") as e:
            jinit.materialize(tree, KEY, rules)
        assert "'params/blocks_0/ff/down/kernel'" in str(e.value)
        assert "patterns=" in str(e.value)
    # An embedding besides the token one, while the scheme has its own position law.
    with pytest.raises(ValueError, match="position_embedding"):
        jf.table(tree, js.gpt2(L, variant="openai"))
    # The patterns the error asks for give the documented laws.
    fixed = js.gpt2(L, patterns={"mlp_out": r".*/ff/down/kernel"})
    row = _rows(tree, fixed)["params/blocks_1/ff/down/kernel"]
    assert row["std"] == pytest.approx(0.02 / math.sqrt(2 * L))
    assert row["rule"].startswith("(?#mlp_out)")


@pytest.mark.standard_promotion  # Flax layers' internals
def test_an_mlp_output_named_out_is_not_attention_output():
    """By path under an MLP module, by the module class on an abstract tree."""
    rules = js.t5(D, 4, 4, F)  # attention out (heads d_kv)^-1/2, MLP out d_ff^-1/2
    path = "encoder/block/0/layer/1/mlp/out/kernel"
    tree = {path: jax.ShapeDtypeStruct((F, D), np.float32)}
    (row,) = jf.table(tree, rules)
    assert row["rule"].startswith("(?#mlp_out)")
    assert row["std"] == pytest.approx(F**-0.5)
    # ``ff/out`` in a FeedForward module: its name says attention, its class MLP.
    tree = _tree("linen", ZOO["ff_out"], False, False)
    with pytest.raises(ValueError, match="FeedForward") as e:
        jf.table(tree, rules)
    assert "'params/layer_0/ff/out/kernel'" in str(e.value)
    fixed = js.t5(D, 4, 4, F, patterns={"mlp_out": r".*/ff/out/kernel"})
    row = _rows(tree, fixed)["params/layer_0/ff/out/kernel"]
    assert row["std"] == pytest.approx(F**-0.5)


def test_a_pattern_you_give_wins_over_a_default_one():
    rules = js.t5(D, 4, 4, F, patterns={"mlp_out": r".*/ffn_block/o/kernel"})
    path = "block/0/ffn_block/o/kernel"  # ``o`` is attention's default name
    (row,) = jf.table({path: jax.ShapeDtypeStruct((F, D), np.float32)}, rules)
    assert row["rule"].startswith("(?#mlp_out)")
    assert row["std"] == pytest.approx(F**-0.5)


# ----------------------------------------------------------------------------
# Fixup on a ResNet zoo; ReZero/SkipInit gates.


class ResBlock(nn.Module):
    convs: tuple[str, str]

    @nn.compact
    def __call__(self, x):
        b = {n: self.param(n, nn.initializers.zeros, ()) for n in ("bias1a", "bias2b")}
        scale = self.param("scale", nn.initializers.ones, ())
        c = x.shape[-1]
        out = nn.relu(
            nn.Conv(c, (3, 3), use_bias=False, name=self.convs[0])(x + b["bias1a"])
        )
        out = nn.Conv(c, (3, 3), use_bias=False, name=self.convs[1])(out)
        return nn.relu(out * scale + b["bias2b"] + x)


class ResNet(nn.Module):
    stem: str
    blocks: str
    convs: tuple[str, str]
    head: str

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(8, (3, 3), use_bias=False, name=self.stem)(x))
        for i in range(3):
            x = ResBlock(self.convs, name=f"{self.blocks}_{i}")(x)
        return nn.Dense(2, name=self.head)(x.mean((1, 2)))


IMAGES = jnp.zeros((1, 8, 8, 1))


@pytest.mark.standard_promotion  # Flax layers' internals
def test_fixup_on_other_names_raises_then_maps_by_patterns():
    canon = jf.abstract(ResNet("conv1", "layer1", ("conv1", "conv2"), "fc"), IMAGES)
    zoo = jf.abstract(ResNet("conv_in", "res", ("conv_a", "conv_b"), "head"), IMAGES)
    with pytest.raises(ValueError, match="residual_branch") as e:
        jinit.materialize(zoo, KEY, js.fixup(3))
    assert "'params/res_0/conv_b/kernel'" in str(e.value)
    expected = _rows(canon, js.fixup(3))
    rules = js.fixup(3, patterns={"residual_branch": r".*/res_\d+/conv_([ab])/kernel"})
    rows = _rows(zoo, rules)
    names = {"conv_in": "conv1", "res": "layer1", "conv_a": "conv1", "conv_b": "conv2"}
    names.update(head="fc")
    for path, row in rows.items():
        twin = re.sub(r"res_(\d)", r"layer1_\1", path)
        twin = "/".join(names.get(s, s) for s in twin.split("/"))
        assert row["init"] == expected[twin]["init"], path
        assert row["rule"].split(")")[0] == expected[twin]["rule"].split(")")[0]
    params = jinit.materialize(zoo, KEY, rules)["params"]
    assert not np.any(np.asarray(params["res_2"]["conv_b"]["kernel"]))
    assert np.any(np.asarray(params["res_2"]["conv_a"]["kernel"]))


def test_fixup_roles_are_tagged_and_checked():
    rows = _rows(
        {
            "stem/kernel": jax.ShapeDtypeStruct((3, 3, 1, 4), np.float32),
            "layer1/0/conv1/kernel": jax.ShapeDtypeStruct((3, 3, 4, 4), np.float32),
            "layer1/0/conv2/kernel": jax.ShapeDtypeStruct((3, 3, 4, 4), np.float32),
            "layer1/0/downsample/0/kernel": jax.ShapeDtypeStruct(
                (1, 1, 4, 4), np.float32
            ),
            "fc/kernel": jax.ShapeDtypeStruct((4, 2), np.float32),
        },
        js.fixup(1),
        stacked={},  # the stored layouts are right
    )
    roles = {p: re.match(r"\(\?#(\w+)\)", r["rule"]).group(1) for p, r in rows.items()}
    assert roles == {
        "stem/kernel": "kernel",
        "layer1/0/conv1/kernel": "residual_branch",
        "layer1/0/conv2/kernel": "residual_branch",
        "layer1/0/downsample/0/kernel": "shortcut",
        "fc/kernel": "classifier",
    }
    three = {
        f"layer1/0/conv{i}/kernel": jax.ShapeDtypeStruct((3, 3, 4, 4), np.float32)
        for i in (1, 2, 3)
    }
    with pytest.raises(ValueError, match="`m` must be the number of convs"):
        jf.table(three, js.fixup(1, m=2), stacked={})


def test_rezero_and_skipinit_on_other_gate_names():
    assert js.skipinit is js.rezero
    canon = {
        "layers_0/resweight": jnp.ones(()),
        "layers_0/dense/kernel": jnp.ones((2, 2)),
    }
    out = jinit.reinit(canon, KEY, js.rezero())
    assert float(out["layers_0/resweight"]) == 0.0
    zoo = {"blocks_0/alpha": jnp.ones(()), "blocks_0/dense/kernel": jnp.ones((2, 2))}
    with pytest.raises(ValueError, match="blocks_0/alpha"):
        jinit.reinit(zoo, KEY, js.skipinit())
    out = jinit.reinit(zoo, KEY, js.rezero(pattern=r".*/alpha"))
    assert float(out["blocks_0/alpha"]) == 0.0


# ----------------------------------------------------------------------------
# Bad inputs (#23 item 9).


def test_an_invalid_pattern_raises_when_the_scheme_is_built():
    with pytest.raises(ValueError, match=r"`patterns\['mlp_out'\]` must be a valid"):
        js.gpt2(patterns={"mlp_out": r".*/(down/kernel"})
    with pytest.raises(ValueError, match=r"`patterns\['residual_branch'\]` must be"):
        js.fixup(3, patterns={"residual_branch": r".*/res_\d+/conv_[ab]/kernel"})
    with pytest.raises(TypeError, match="`pattern` must be a regex"):
        js.rezero(pattern=3)
    with pytest.raises(ValueError, match="`layer` must be a regex with a group"):
        js.torchtitan_llama3(64, layer=r"layers/\d+/")
    with pytest.raises(ValueError, match="`layer` must be a valid regular"):
        js.olmo("mitchell", layer=r"layers/(\d+/")


@pytest.mark.parametrize(
    "given, meant",
    [("mlp_down", "mlp_out"), ("mlp_up", "mlp_in"), ("down_proj", "mlp_out")],
)
def test_a_role_typo_hint_names_the_role_meant(given, meant):
    with pytest.raises(ValueError, match=f"Did you mean '{meant}'") as e:
        js.gpt2(patterns={given: ".*"})
    assert "`patterns` must be one of" in str(e.value)
    with pytest.raises(ValueError, match=f"Did you mean '{meant}'"):
        js.rules({given: jinit.zeros})


def test_all_names_every_public_name():
    public = {
        n
        for n, v in vars(js).items()
        if not n.startswith("_")
        and getattr(v, "__module__", "").startswith("jinit.schemes")
    }
    assert public <= set(js.__all__)
    assert {"DeepNetCoefficients", "zero_matrix"} <= set(js.__all__)
    assert "FIXUP_PATTERNS" not in vars(js)  # one pattern system: PATTERNS


def test_depth_scaled_at_gives_the_layer_initializer():
    law = js.DepthScaled(0.02).at(3)
    assert law.stddev == pytest.approx(0.02 / math.sqrt(8))
    assert not hasattr(js.DepthScaled, "law")
