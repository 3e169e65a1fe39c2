"""Named schemes (jinit.schemes) against their sources.

Parity: GPT-2, BERT, Llama, T5 and ViT are built from tiny configs with
``transformers`` (PyTorch, CPU, no download); every parameter is moved into the
Flax layout (torch ``Linear`` (out, in) -> kernel (in, out), ``Conv2d``
(out, in, h, w) -> (h, w, in, out), ``Embedding`` -> ``embedding``, norm
``weight`` -> ``scale``) and the scheme is applied to a tree of the same paths
and shapes. Per parameter:
- the exact zeros (padding rows, biases) are at the same places, and constant
  parameters (norms, biases) are equal;
- the torch values' std is within 6 sqrt((k - 1)/(4 n)) (k = 3, the normal's
  kurtosis; n the parameter's size) of the std of jinit's law (a six-sigma bound
  on the sample std's relative error: it never fails by chance with fixed seeds,
  and catches the factors schemes get wrong, sqrt(2 L), sqrt(d_kv), 2x);
- a two-sample KS test between the torch and the jinit values gives p > 1e-3.
Formula tests check the published numbers; the depth-indexed laws are checked
per slice on a real ``nn.scan`` model; tiny Flax transformers train with optax.
"""

from __future__ import annotations

import functools
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.stats

import jinit
import jinit.flax as jf
import jinit.schemes as js
from jinit import _tree

KEY = jax.random.key(0)


def _six_sigma(n: int, kurtosis: float = 3.0) -> float:
    return 6 * math.sqrt((kurtosis - 1) / (4 * n))


# ----------------------------------------------------------------------------
# Parity with transformers.


def _flax_layout(model) -> dict[str, np.ndarray]:
    """Every parameter of a torch model, by Flax path, in the Flax layout."""
    torch = pytest.importorskip("torch")
    modules = dict(model.named_modules())
    out = {}
    for name, p in model.named_parameters():
        owner, _, leaf = name.rpartition(".")
        module = modules[owner]
        w = p.detach().numpy().astype(np.float32)
        kind = type(module).__name__
        if leaf == "weight":
            if isinstance(module, torch.nn.Embedding):
                leaf = "embedding"
            elif isinstance(module, torch.nn.Linear):
                leaf, w = "kernel", w.T
            elif isinstance(module, torch.nn.Conv2d):
                leaf, w = "kernel", w.transpose(2, 3, 1, 0)
            elif kind == "Conv1D":  # GPT-2's (in, out) linear
                leaf = "kernel"
            elif "Norm" in kind:
                leaf = "scale"
        out["/".join([*owner.split("."), leaf])] = w
    return out


def _assert_parity(reference: dict[str, np.ndarray], rules, key=KEY):
    tree = {p: jax.ShapeDtypeStruct(w.shape, np.float32) for p, w in reference.items()}
    rows = {row["path"]: row for row in jf.table(tree, rules)}
    drawn = jinit.materialize(tree, key, rules)
    for path, ref in reference.items():
        ours = np.asarray(drawn[path])
        assert ours.shape == ref.shape, path
        np.testing.assert_array_equal(ours == 0, ref == 0, err_msg=path)
        if np.all(ref == ref.flat[0]):
            np.testing.assert_array_equal(ours, ref, err_msg=path)
            continue
        ref, ours = ref[ref != 0], ours[ours != 0]  # padding rows compared above
        n = ref.size
        std = rows[path]["std"]
        if std is None:  # a padded embedding: the law's std is not one number
            std = ours.std()
            bound = 6 * math.sqrt(1 / (2 * n) + 1 / (2 * ours.size))
        else:
            bound = _six_sigma(n)
        assert abs(ref.std() / std - 1) <= bound, (path, ref.std(), std, bound)
        assert abs(ref.mean()) <= 6 * std / math.sqrt(n), (path, ref.mean())
        p = scipy.stats.ks_2samp(ref.ravel(), ours.ravel()).pvalue
        assert p > 1e-3, (path, p)


def _role(rule: str) -> str:
    """The role a scheme's rule names in its leading regex comment."""
    match = re.match(r"\(\?#(\w+)\)", rule)
    assert match is not None, rule
    return match.group(1)


def _hf(make):
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    torch.manual_seed(0)
    with torch.no_grad():
        return make()


def test_gpt2_parity_with_transformers():
    import transformers as tr

    config = tr.GPT2Config(
        n_embd=128,
        n_layer=3,
        n_head=4,
        vocab_size=512,
        n_positions=256,
        bos_token_id=0,
        eos_token_id=0,
    )
    reference = _flax_layout(_hf(lambda: tr.GPT2LMHeadModel(config)))
    assert "transformer/h/2/mlp/c_proj/kernel" in reference
    rules = js.gpt2(n_layer=3, std=config.initializer_range)
    _assert_parity(reference, rules)
    roles = {r["path"]: _role(r["rule"]) for r in jf.table(reference, rules)}
    assert roles["transformer/h/0/attn/c_proj/kernel"] == "attention_out"
    assert roles["transformer/h/0/mlp/c_proj/kernel"] == "mlp_out"
    assert roles["transformer/h/0/attn/c_attn/kernel"] == "qkv"
    assert roles["transformer/wpe/embedding"] == "position_embedding"


def test_bert_parity_with_transformers():
    import transformers as tr

    config = tr.BertConfig(
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        vocab_size=512,
        max_position_embeddings=128,
    )
    reference = _flax_layout(_hf(lambda: tr.BertForPreTraining(config)))
    word = reference["bert/embeddings/word_embeddings/embedding"]
    assert np.all(word[config.pad_token_id] == 0)  # HF zeroes the padding row
    _assert_parity(reference, js.bert(config.initializer_range))


def test_llama_parity_with_transformers():
    import transformers as tr

    config = tr.LlamaConfig(
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=512,
        pad_token_id=3,
        bos_token_id=1,
        eos_token_id=2,
    )
    reference = _flax_layout(_hf(lambda: tr.LlamaForCausalLM(config)))
    _assert_parity(reference, js.llama(config.initializer_range, pad_token_id=3))


def test_t5_parity_with_transformers():
    import transformers as tr

    config = tr.T5Config(
        d_model=128,
        d_kv=32,
        num_heads=4,
        d_ff=256,
        num_layers=2,
        vocab_size=512,
        relative_attention_num_buckets=64,
    )
    reference = _flax_layout(_hf(lambda: tr.T5ForConditionalGeneration(config)))
    assert (
        "encoder/block/0/layer/0/SelfAttention/relative_attention_bias/embedding"
        in (reference)
    )
    rules = js.t5(config.d_model, config.d_kv, config.num_heads, config.d_ff)
    _assert_parity(reference, rules)


def test_vit_parity_with_transformers():
    import transformers as tr

    config = tr.ViTConfig(
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        image_size=64,
        patch_size=8,
    )
    reference = _flax_layout(_hf(lambda: tr.ViTModel(config)))
    assert reference["embeddings/position_embeddings"].shape == (1, 65, 128)
    _assert_parity(reference, js.vit(config.initializer_range))


# ----------------------------------------------------------------------------
# Formulas with the published numbers.


def _std(rules, path, shape=(64, 64)):
    tree = {path: jax.ShapeDtypeStruct(shape, np.float32)}
    (row,) = jf.table(tree, rules)
    return row["std"]


def test_gpt2_residual_std_at_12_layers():
    rules = js.gpt2(12)
    assert _std(rules, "transformer/h/5/attn/c_proj/kernel") == pytest.approx(
        0.0040825, abs=5e-8
    )
    assert _std(rules, "transformer/h/5/mlp/c_proj/kernel") == pytest.approx(
        0.0040825, abs=5e-8
    )
    assert _std(rules, "transformer/h/5/attn/c_attn/kernel") == 0.02
    openai = js.gpt2(12, variant="openai")
    assert _std(openai, "transformer/h/5/attn/c_proj/kernel") == 0.02
    assert _std(openai, "transformer/wpe/embedding") == 0.01
    assert _std(openai, "transformer/wte/embedding") == 0.02


def test_t5_small_stds():
    rules = js.t5()  # d_model 512, d_kv 64, 8 heads, d_ff 2048
    attn = "encoder/block/0/layer/0/SelfAttention/"
    assert _std(rules, attn + "q/kernel") == pytest.approx(0.0055243, abs=5e-8)
    assert _std(rules, attn + "k/kernel") == pytest.approx(0.0441942, abs=5e-8)
    assert _std(rules, attn + "v/kernel") == pytest.approx(0.0441942, abs=5e-8)
    assert _std(rules, attn + "o/kernel") == pytest.approx(0.0441942, abs=5e-8)
    ff = "encoder/block/0/layer/1/DenseReluDense/"
    assert _std(rules, ff + "wi/kernel") == pytest.approx(0.0441942, abs=5e-8)
    assert _std(rules, ff + "wo/kernel") == pytest.approx(0.0220971, abs=5e-8)
    assert _std(rules, "shared/embedding") == 1.0


def test_deepnet_coefficients_published_values():
    c = js.deepnet_coefficients("decoder", n_decoder=24)
    assert round(c.decoder_alpha, 3) == 2.632
    assert round(c.decoder_beta, 4) == 0.2686
    assert c.encoder_alpha is None and c.encoder_beta is None
    e = js.deepnet_coefficients("encoder", n_encoder=24)
    assert (e.encoder_alpha, e.encoder_beta) == (c.decoder_alpha, c.decoder_beta)
    # Encoder-decoder, N = M = 6: paper 0.87 (N^4 M)^(-1/16) vs torchscale 1.15.
    paper = js.deepnet_coefficients("encoder_decoder", 6, 6)
    code = js.deepnet_coefficients("encoder_decoder", 6, 6, source="torchscale")
    assert paper.encoder_beta == pytest.approx(0.87 * 6 ** (-5 / 16))
    assert code.encoder_beta == pytest.approx(1.15 * 6 ** (-5 / 16))
    assert paper.encoder_alpha == pytest.approx(0.81 * 6 ** (5 / 16))
    assert paper.decoder_alpha == pytest.approx(18**0.25)
    assert paper.decoder_beta == pytest.approx(72**-0.25)


def test_deepnet_rules_scale_v_out_ffn_not_qk():
    beta = js.deepnet_coefficients("decoder", n_decoder=24).decoder_beta
    rules = js.deepnet("decoder", n_decoder=24)
    d = 64  # xavier_normal on (64, 64): std gain / sqrt(64)
    block = "decoder/layers/0/self_attn/"
    assert _std(rules, block + "q_proj/kernel") == pytest.approx(1 / 8)
    assert _std(rules, block + "k_proj/kernel") == pytest.approx(1 / 8)
    assert _std(rules, block + "v_proj/kernel") == pytest.approx(beta / math.sqrt(d))
    assert _std(rules, block + "out_proj/kernel") == pytest.approx(beta / 8)
    assert _std(rules, "decoder/layers/0/fc1/kernel") == pytest.approx(beta / 8)
    assert _std(rules, "decoder/layers/0/fc2/kernel") == pytest.approx(beta / 8)
    both = js.deepnet("encoder_decoder", 6, 6)
    coeffs = js.deepnet_coefficients("encoder_decoder", 6, 6)
    enc = _std(both, "encoder/layers/0/fc1/kernel")
    dec = _std(both, "decoder/layers/0/fc1/kernel")
    assert enc == pytest.approx(coeffs.encoder_beta / 8)
    assert dec == pytest.approx(coeffs.decoder_beta / 8)


def test_torchtitan_layer_stds():
    rules = js.torchtitan_llama3(dim=4096)
    wo = _std(rules, "layers/0/attention/wo/kernel")
    assert wo == pytest.approx(0.0141421, abs=5e-8)  # 0.02 / sqrt(2)
    assert _std(rules, "layers/15/attention/wo/kernel") == pytest.approx(
        0.0035355, abs=5e-8
    )  # 0.02 / sqrt(32)
    assert _std(rules, "layers/15/feed_forward/w2/kernel") == pytest.approx(
        0.0035355, abs=5e-8
    )
    assert _std(rules, "layers/15/feed_forward/w3/kernel") == pytest.approx(
        0.0035355, abs=5e-8
    )
    assert _std(rules, "layers/15/feed_forward/w1/kernel") == pytest.approx(0.02)
    assert _std(rules, "tok_embeddings/embedding") == 1.0
    # The output layer: N(0, 4096^-1/2) truncated at 3 of its stds.
    tree = {"output/kernel": jax.ShapeDtypeStruct((4096, 64), np.float32)}
    (row,) = jf.table(tree, rules)
    s = 4096**-0.5
    law = scipy.stats.truncnorm(-3, 3, scale=s)
    assert row["std"] == pytest.approx(law.std(), rel=1e-9)
    x = np.asarray(jinit.materialize(tree, KEY, rules)["output/kernel"]).ravel()
    assert np.abs(x).max() <= 3 * s
    assert scipy.stats.kstest(x, law.cdf).pvalue > 1e-3


def test_olmo_stds():
    mitchell = js.olmo("mitchell", d_model=2048, n_layers=16)
    block = "transformer/blocks/0/"
    assert _std(mitchell, block + "attn_out/kernel") == pytest.approx(
        2048**-0.5 / math.sqrt(2) * scipy.stats.truncnorm(-3, 3).std()
    )
    assert _std(mitchell, "transformer/blocks/3/ff_out/kernel") == pytest.approx(
        (8192 * 8) ** -0.5 * scipy.stats.truncnorm(-3, 3).std()
    )
    assert _std(mitchell, block + "att_proj/kernel") == pytest.approx(
        2048**-0.5 * scipy.stats.truncnorm(-3, 3).std()
    )
    megatron = js.olmo("full_megatron", n_layers=16, init_cutoff_factor=3)
    assert _std(megatron, block + "attn_out/kernel") == pytest.approx(
        0.02 / math.sqrt(32) * scipy.stats.truncnorm(-3, 3).std()
    )
    assert _std(megatron, "transformer/ff_out/kernel") == pytest.approx(
        2048**-0.5 * scipy.stats.truncnorm(-3, 3).std()
    )
    assert _std(js.olmo("normal"), block + "ff_out/kernel") == 0.02


def test_olmo_core_stds():
    trunc = scipy.stats.truncnorm(-3, 3).std()
    for method, depth in (("llama", 16), ("llama_depth", 4)):
        rules = js.olmo_core(method, d_model=2048, n_layers=16)
        for name in ("attention/w_out", "feed_forward/w2", "feed_forward/w3"):
            assert _std(rules, f"blocks/3/{name}/kernel") == pytest.approx(
                0.02 / math.sqrt(2 * depth) * trunc
            ), (method, name)
        assert _std(rules, "blocks/3/attention/w_q/kernel") == pytest.approx(
            0.02 * trunc
        )
        assert _std(rules, "blocks/3/feed_forward/w1/kernel") == pytest.approx(
            0.02 * trunc
        )
        assert _std(rules, "lm_head/w_out/kernel") == pytest.approx(2048**-0.5 * trunc)
        assert _std(rules, "embeddings/embedding") == 1.0
    normal = js.olmo_core("normal")
    assert _std(normal, "blocks/3/attention/w_out/kernel") == pytest.approx(
        0.02 * trunc
    )
    assert _std(normal, "embeddings/embedding") == pytest.approx(0.02 * trunc)


# OLMo-core at allenai/OLMo-core fa6c5014 (src/olmo_core/nn/transformer/init.py,
# nn/attention/__init__.py::Attention.init_weights): every Linear
# trunc_normal_(std=s, a=-3s, b=3s); the s of each parameter, written out from
# the code (d = d_model, L = n_layers, in = the Linear's in_features).
def _olmo_core_reference(method, d, n, d_ff, embed_scale=None):
    q = w1 = w3 = out = w2 = 0.0
    if method == "normalized":
        q = w1 = w3 = d**-0.5  # std = d_model**-0.5, carried into w3
        out = w2 = d**-0.5 / math.sqrt(2 * n)  # std / (2 * num_blocks) ** 0.5
        emb = d**-0.5  # normal_(std=d_model**-0.5), untruncated
    else:  # fan_in: w.in_features**-0.5 for each Linear
        q, out, w1, w3, w2 = d**-0.5, d**-0.5, d**-0.5, d**-0.5, d_ff**-0.5
        emb = 1.0 if embed_scale is None else 1.0 / embed_scale
    return {
        "attention/w_q": q,
        "attention/w_k": q,
        "attention/w_v": q,
        "attention/w_out": out,
        "feed_forward/w1": w1,
        "feed_forward/w3": w3,
        "feed_forward/w2": w2,
    }, emb


@pytest.mark.parametrize("method", ["normalized", "fan_in"])
def test_olmo_core_normalized_and_fan_in_stds(method):
    d, n, d_ff = 256, 8, 1024
    rules = js.olmo_core(method, d_model=d, n_layers=n, embed_scale=4.0)
    shapes = {
        "attention/w_q": (d, d),
        "attention/w_k": (d, d // 4),  # grouped kv heads: fan_in is still d
        "attention/w_v": (d, d // 4),
        "attention/w_out": (d, d),
        "feed_forward/w1": (d, d_ff),
        "feed_forward/w3": (d, d_ff),
        "feed_forward/w2": (d_ff, d),
    }
    # Blocks 2 and 5 unrolled, and all blocks stacked on axis 0 (fans per layer).
    tree = {
        f"blocks/{i}/{name}/kernel": jax.ShapeDtypeStruct(shape, np.float32)
        for i in (2, 5)
        for name, shape in shapes.items()
    }
    tree.update(
        {
            f"stack/{name}/kernel": jax.ShapeDtypeStruct((n, *shape), np.float32)
            for name, shape in shapes.items()
        }
    )
    tree["embeddings/embedding"] = jax.ShapeDtypeStruct((100, d), np.float32)
    tree["lm_head/w_out/kernel"] = jax.ShapeDtypeStruct((d, 100), np.float32)
    rows = {r["path"]: r for r in jf.table(tree, rules, stacked={r"stack/.*": (0,)})}
    expected, emb = _olmo_core_reference(method, d, n, d_ff, embed_scale=4.0)
    trunc = scipy.stats.truncnorm(-3, 3).std()
    for path, row in rows.items():
        if path.startswith("embeddings"):
            s, cut = emb, None
        elif path.startswith("lm_head"):
            s, cut = d**-0.5, 3.0  # init_final_w_out: d_model**-0.5
        else:
            name = "/".join(path.split("/")[-3:-1])
            s, cut = expected[name], 3.0
        init = row["init"]
        assert init.stddev == pytest.approx(s, rel=1e-12), path
        if cut is None:
            assert isinstance(init, jinit.Normal), path
            assert row["std"] == pytest.approx(s, rel=1e-12)
        else:
            assert (init.lower, init.upper, init.bounds) == (-3, 3, "relative"), path
            assert row["std"] == pytest.approx(s * trunc, rel=1e-12), path
    if method == "fan_in":  # the stacked w2 as drawn: fan_in per layer, 3 sigma
        path = "stack/feed_forward/w2/kernel"
        leaf = {path: tree[path]}
        w2 = np.asarray(jinit.materialize(leaf, KEY, rules, stacked={".*": (0,)})[path])
        law = scipy.stats.truncnorm(-3, 3, scale=d_ff**-0.5)
        assert np.abs(w2).max() <= 3 * d_ff**-0.5 * (1 + 1e-6)
        kurt = law.stats(moments="k") + 3
        assert abs(w2.std() / law.std() - 1) <= _six_sigma(w2.size, kurt)
        assert scipy.stats.kstest(w2.ravel(), law.cdf).pvalue > 1e-3


def test_olmo_core_embedding_std_and_choices():
    rules = js.olmo_core("normal", embedding_std=0.01)
    row = jf.table(
        {"embeddings/embedding": jax.ShapeDtypeStruct((8, 8), np.float32)}, rules
    )[0]
    assert (row["init"].stddev, row["init"].lower, row["init"].upper) == (0.01, -3, 3)
    with pytest.raises(ValueError, match="`method`"):
        js.olmo_core("kaiming")
    with pytest.raises(ValueError, match="`embed_scale`"):
        js.olmo_core("fan_in", embed_scale=0.0)


def test_layer_stack_law_is_the_mixture_of_its_layers():
    """law() of a depth-indexed stack: per-layer laws and the whole leaf's law."""
    n, stds = 4, [0.02 / math.sqrt(2 * (i + 1)) for i in range(4)]
    tree = {"layers/attention/wo/kernel": jax.ShapeDtypeStruct((n, 96, 96), np.float32)}
    stacked = {r"layers/.*": (0,)}
    rules = js.torchtitan_llama3(dim=96)  # bounds +-2: effectively untruncated
    (row,) = jf.table(tree, rules, stacked=stacked)
    law = row["init"].law((n, 96, 96))
    assert [layer.std for layer in law.layers] == pytest.approx(stds, rel=1e-9)
    pooled = math.sqrt(sum(s * s for s in stds) / n)  # mean 0: E x^2 = mean s_l^2
    assert law.std == pytest.approx(pooled, rel=1e-9)
    assert row["std"] == pytest.approx(pooled, rel=1e-9)
    # The table also gives each layer's std; its text shows layer 0 .. layer n-1.
    assert row["layer_stds"] == pytest.approx(stds, rel=1e-9)
    assert f"{stds[0]:.4g}..{stds[-1]:.4g}" in jf.format_table([row])
    assert law.mean == 0 and law.support == (-2.0, 2.0)
    grid = np.linspace(-0.05, 0.05, 5)
    mixture = np.mean([scipy.stats.norm(scale=s).pdf(grid) for s in stds], axis=0)
    np.testing.assert_allclose(law.density(grid), mixture, rtol=1e-6)
    # The drawn leaf's std is the pooled std (mixture kurtosis in the bound).
    x = np.asarray(jinit.materialize(tree, KEY, rules, stacked=stacked)[row["path"]])
    kurt = 3 * np.mean(np.power(stds, 4)) / np.mean(np.square(stds)) ** 2
    assert abs(x.std() / pooled - 1) <= _six_sigma(x.size, kurt)
    # A layer whose values share no one law (identity) leaves the stack's unknown.
    mixed = js.LayerStack((jinit.normal(1.0), jinit.identity()))
    assert mixed.law((2, 3, 3)) is None


def test_megatron_stds():
    rules = js.megatron(24)
    assert _std(rules, "layers/3/self_attention/linear_proj/kernel") == (
        pytest.approx(0.02 / math.sqrt(48))
    )
    assert _std(rules, "layers/3/mlp/linear_fc2/kernel") == pytest.approx(
        0.02 / math.sqrt(48)
    )
    assert _std(rules, "layers/3/self_attention/linear_qkv/kernel") == 0.02
    assert _std(rules, "layers/3/mlp/linear_fc1/kernel") == 0.02
    hybrid = js.megatron(24, multiplier=1.0)
    assert _std(hybrid, "layers/3/mlp/linear_fc2/kernel") == pytest.approx(
        0.02 / math.sqrt(24)
    )


# ----------------------------------------------------------------------------
# docs/reference.md's "Named schemes" section (docs/gen_schemes.py).


def _generator():
    """docs/gen_schemes.py (a documentation tool, not part of jinit)."""
    import importlib
    import pathlib
    import sys

    docs = str(pathlib.Path(__file__).resolve().parent.parent / "docs")
    if docs not in sys.path:
        sys.path.insert(0, docs)  # the docs tools import each other by name
    return importlib.import_module("gen_schemes")


_TRUNC3 = scipy.stats.truncnorm(-3, 3).std()
_B24 = (8 * 24) ** -0.25  # DeepNet decoder-only beta, M = 24 (paper: 0.2686)
# (section, path, sigma): a published number (a string, to its last digit) or
# the source's formula at the reference size.
_PUBLISHED = [
    ("GPT-2 (Hugging Face / nanoGPT)", "transformer/h/0/attn/c_proj/kernel", "0.0040825"),
    ("GPT-2 (Hugging Face / nanoGPT)", "transformer/h/0/mlp/c_proj/kernel", "0.0040825"),
    ("GPT-2 (Hugging Face / nanoGPT)", "transformer/h/0/mlp/c_fc/kernel", 0.02),
    ("GPT-2 (as OpenAI released it)", "transformer/h/0/mlp/c_proj/kernel", 0.02),
    ("GPT-2 (as OpenAI released it)", "transformer/wpe/embedding", 0.01),
    ("T5 (Mesh TensorFlow, as Hugging Face)", "encoder/block/0/layer/0/SelfAttention/q/kernel", "0.0055243"),
    ("T5 (Mesh TensorFlow, as Hugging Face)", "encoder/block/0/layer/0/SelfAttention/k/kernel", "0.0441942"),
    ("T5 (Mesh TensorFlow, as Hugging Face)", "encoder/block/0/layer/0/SelfAttention/o/kernel", "0.0441942"),
    ("T5 (Mesh TensorFlow, as Hugging Face)", "encoder/block/0/layer/1/DenseReluDense/wo/kernel", "0.0220971"),
    ("T5 (Mesh TensorFlow, as Hugging Face)", "shared/embedding", 1.0),
    ("Megatron-LM", "decoder/layers/0/mlp/linear_fc2/kernel", 0.02 / math.sqrt(48)),
    ("OLMo `mitchell` (OLMo-1's configs)", "transformer/blocks/0/attn_out/kernel", 1 / math.sqrt(2 * 2048)),
    ("OLMo `mitchell` (OLMo-1's configs)", "transformer/blocks/15/attn_out/kernel", 1 / math.sqrt(2 * 2048 * 16)),
    ("OLMo `mitchell` (OLMo-1's configs)", "transformer/blocks/0/ff_out/kernel", 1 / math.sqrt(2 * 8192)),
    ("OLMo `full_megatron`", "transformer/blocks/0/attn_out/kernel", "0.0035355"),
    ("OLMo-core `llama`", "blocks/0/feed_forward/w2/kernel", "0.0035355"),
    ("OLMo-core `llama_depth`", "blocks/15/attention/w_out/kernel", 0.02 / math.sqrt(32)),
    ("OLMo-core `normalized`", "blocks/0/feed_forward/w2/kernel", 2048**-0.5 / math.sqrt(32)),
    ("OLMo-core `fan_in`", "blocks/0/feed_forward/w2/kernel", 8192**-0.5),
    ("OLMo-core `fan_in`", "embeddings/embedding", 1.0),
    ("Llama 3 (torchtitan)", "layers/0/attention/wo/kernel", "0.0141421"),
    ("Llama 3 (torchtitan)", "layers/31/feed_forward/w2/kernel", "0.0025"),
    ("Llama 3 (torchtitan)", "output/kernel", 4096**-0.5),
    ("DeepNet (decoder-only)", "decoder/layers/0/self_attn/v_proj/kernel", _B24 * math.sqrt(2 / 1024)),
    ("DeepNet (decoder-only)", "decoder/layers/0/fc1/kernel", _B24 * math.sqrt(2 / 2560)),
    ("DeepNet (decoder-only)", "decoder/layers/0/self_attn/q_proj/kernel", math.sqrt(2 / 1024)),
    ("T-Fixup", "encoder/layers/0/self_attn/v_proj/kernel", 0.67 * 6**-0.25 / math.sqrt(512)),
    ("T-Fixup", "decoder/embed_tokens/embedding", (9 * 6) ** -0.25 / math.sqrt(512)),
    ("Fixup (ResNet-110, CIFAR)", "layer1/0/conv1/kernel", math.sqrt(2 / 144) / math.sqrt(54)),
]  # fmt: skip


def test_reference_scheme_tables_have_the_published_values():
    gen = _generator()
    schemes = {s.title: s for s in gen._schemes()}
    rows = {t: {r["path"]: r for r in gen.scheme_rows(s)} for t, s in schemes.items()}
    text = "\n".join(gen.section_lines())
    for title, path, sigma in _PUBLISHED:
        row = rows[title][path]
        if isinstance(sigma, str):  # half a unit in the last published digit
            tol = 0.5 * 10.0 ** -len(sigma.split(".")[1])
            assert abs(row["sigma"] - float(sigma)) <= tol, (title, path, row)
        else:
            assert row["sigma"] == pytest.approx(sigma, rel=1e-12), (title, path)
        assert f"{row['sigma']:.5g}" in row["law"], (title, path)
        assert f"`{path}`" in text
    # std is the values' std: 3-sigma truncation where the source cuts.
    out = rows["Llama 3 (torchtitan)"]["output/kernel"]
    assert out["std"] == pytest.approx(4096**-0.5 * _TRUNC3, rel=1e-9)
    assert out["law"].endswith("cut at [-0.046875, 0.046875] (absolute)")
    wo = rows["OLMo `full_megatron`"]["transformer/blocks/0/attn_out/kernel"]
    assert wo["std"] == pytest.approx(0.02 / math.sqrt(32) * _TRUNC3, rel=1e-9)
    assert rows["BERT (Hugging Face)"]["bert/embeddings/word_embeddings/embedding"][
        "law"
    ].endswith("row 0 = 0")
    # DeepNorm's coefficients by source, and the line saying which jinit follows.
    x = 6**5  # N^4 M at N = M = 6
    line = (
        f"| encoder-decoder N = M = 6, encoder | {0.81 * x ** (1 / 16):.4g} "
        f"| {0.87 * x ** (-1 / 16):.4g} | {1.15 * x ** (-1 / 16):.4g} |"
    )
    assert line in text
    assert (
        f"| decoder-only, M = 24 | {48**0.25:.4g} | {_B24:.4g} | {_B24:.4g} |" in text
    )
    assert "jinit follows the paper by default" in text
    assert text.startswith("## Named schemes (`jinit.schemes`)")
    assert [line for line in text.splitlines() if line.startswith("### ")] == [
        f"### {t}" for t in schemes
    ]


def _zero_reference(m: int, n: int) -> np.ndarray:
    """ZerO_Init_on_matrix (Zhao et al. 2022, Algorithm 1), torch layout (m, n)."""
    if m <= n:
        return np.eye(m, n)
    c = math.ceil(math.log2(m))
    p = 2**c
    return np.eye(m, p) @ scipy.linalg.hadamard(p) @ np.eye(p, n) / 2 ** (c / 2)


@pytest.mark.parametrize("m, n", [(3, 5), (4, 4), (5, 3), (12, 7), (16, 2)])
def test_zero_matrix_equals_reference(m, n):
    kernel = js.ZerO()(KEY, (n, m), np.float32)  # Flax (in, out)
    np.testing.assert_array_equal(
        np.asarray(kernel), _zero_reference(m, n).T.astype(np.float32)
    )


def test_fixup_rules():
    """hongyi-zhang/Fixup f3fa449f: cifar/models/fixup_resnet_cifar.py (conv1
    normal_(std=np.sqrt(2 / (out * prod(k))) * num_layers ** (-0.5)), conv2 0, fc
    0), imagenet/models/fixup_resnet_imagenet.py (Bottleneck conv1, conv2
    num_layers ** (-0.25), conv3 0, downsample std np.sqrt(2 / (out * prod(k))))."""
    rules = js.fixup(n_branches=8, m=2)
    tree = {
        "conv1/kernel": jax.ShapeDtypeStruct((3, 3, 3, 16), np.float32),
        "layer1/0/conv1/kernel": jax.ShapeDtypeStruct((3, 3, 16, 16), np.float32),
        "layer1/0/conv2/kernel": jax.ShapeDtypeStruct((3, 3, 16, 16), np.float32),
        "layer1/0/bias1a": jax.ShapeDtypeStruct((), np.float32),
        "layer1/0/scale": jax.ShapeDtypeStruct((), np.float32),
        "layer2/0/downsample/kernel": jax.ShapeDtypeStruct((1, 1, 16, 32), np.float32),
        "fc/kernel": jax.ShapeDtypeStruct((64, 10), np.float32),
        "fc/bias": jax.ShapeDtypeStruct((10,), np.float32),
    }
    rows = {r["path"]: r for r in jf.table(tree, rules, stacked={})}
    # He normal fan_out (3*3*16) times L^-1/2.
    assert rows["layer1/0/conv1/kernel"]["std"] == pytest.approx(
        math.sqrt(2 / 144) / math.sqrt(8)
    )
    assert rows["layer2/0/downsample/kernel"]["std"] == pytest.approx(math.sqrt(2 / 32))
    params = jinit.materialize(tree, KEY, rules, stacked={})
    for path in ("layer1/0/conv2/kernel", "layer1/0/bias1a", "fc/kernel", "fc/bias"):
        assert not np.any(np.asarray(params[path])), path
    assert float(params["layer1/0/scale"]) == 1.0
    # The stem keeps PyTorch's Conv2d default, U(+-1/sqrt(fan_in)).
    assert rows["conv1/kernel"]["std"] == pytest.approx(1 / math.sqrt(27 * 3))
    bottleneck = js.fixup(n_branches=16, m=3)
    tree3 = {
        f"layer1/0/conv{i}/kernel": jax.ShapeDtypeStruct((1, 1, 16, 16), np.float32)
        for i in (1, 2, 3)
    }
    rows3 = {r["path"]: r for r in jf.table(tree3, bottleneck, stacked={})}
    for i in (1, 2):
        assert rows3[f"layer1/0/conv{i}/kernel"]["std"] == pytest.approx(
            math.sqrt(2 / 16) * 16**-0.25
        )
    assert rows3["layer1/0/conv3/kernel"]["std"] == 0.0


def test_tfixup_factors():
    rules = js.tfixup(512, n_encoder=6, n_decoder=6)
    xavier = math.sqrt(2 / 128)  # xavier on (64, 64)
    enc, dec = 0.67 * 6**-0.25, (9 * 6) ** -0.25
    assert _std(rules, "encoder/layers/0/fc1/kernel") == pytest.approx(enc * xavier)
    assert _std(rules, "encoder/layers/0/self_attn/v_proj/kernel") == pytest.approx(
        enc * xavier
    )
    assert _std(rules, "decoder/layers/0/encoder_attn/out_proj/kernel") == (
        pytest.approx(dec * xavier)
    )
    assert _std(rules, "decoder/layers/0/self_attn/q_proj/kernel") == pytest.approx(
        xavier / math.sqrt(2)
    )
    assert _std(rules, "encoder/embed_tokens/embedding") == pytest.approx(
        512**-0.5 * (9 * 6) ** -0.25
    )


# ----------------------------------------------------------------------------
# The constants of the reference code, read from the repositories (none of these
# packages is installed; the expressions below are copied from the files cited).


def _inits(rules, shapes, **kw):
    tree = {p: jax.ShapeDtypeStruct(s, np.float32) for p, s in shapes.items()}
    return {r["path"]: r["init"] for r in jf.table(tree, rules, **kw)}


def _vs(init, scale, mode, distribution):
    assert isinstance(init, jinit.VarianceScaling), init
    assert (init.mode, init.distribution) == (mode, distribution), init
    assert init.scale == pytest.approx(scale, rel=1e-12), (init.scale, scale)


def _bias(init, bound):
    if bound == 0:
        assert isinstance(init, jinit.Constant) and init.value == 0, init
    else:
        assert isinstance(init, jinit.Uniform), init
        assert (init.minval, init.maxval) == pytest.approx((-bound, bound), rel=1e-12)


def test_deepnet_torchscale_constants():
    """microsoft/torchscale 4d1e0e82: architecture/encoder.py (alpha, init_scale),
    architecture/decoder.py, component/multihead_attention.py (reset_parameters),
    component/feedforward_network.py (nn.Linear defaults)."""
    n = m = 6
    d, ffn = 64, 256
    enc_scale = math.pow(math.pow(n, 4) * m, 0.0625) / 1.15  # encoder.py
    dec_scale = math.pow(12.0 * m, 0.25)  # decoder.py, is_encoder_decoder
    coeffs = js.deepnet_coefficients("encoder_decoder", n, m, source="torchscale")
    assert coeffs.encoder_alpha == pytest.approx(
        math.pow(math.pow(n, 4) * m, 0.0625) * 0.81, rel=1e-12
    )
    assert coeffs.decoder_alpha == pytest.approx(math.pow(3.0 * m, 0.25), rel=1e-12)
    assert coeffs.encoder_beta == pytest.approx(1 / enc_scale, rel=1e-12)
    assert coeffs.decoder_beta == pytest.approx(1 / dec_scale, rel=1e-12)
    only = js.deepnet_coefficients("decoder", n_decoder=m, source="torchscale")
    assert only.decoder_alpha == pytest.approx(math.pow(2.0 * m, 0.25), rel=1e-12)
    assert only.decoder_beta == pytest.approx(1 / math.pow(8.0 * m, 0.25), rel=1e-12)
    shapes = {}
    for side in ("encoder", "decoder"):
        a = f"{side}/layers/0/self_attn/"
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[f"{a}{p}/kernel"], shapes[f"{a}{p}/bias"] = (d, d), (d,)
        f = f"{side}/layers/0/"
        shapes[f + "fc1/kernel"], shapes[f + "fc1/bias"] = (d, ffn), (ffn,)
        shapes[f + "fc2/kernel"], shapes[f + "fc2/bias"] = (ffn, d), (d,)
    inits = _inits(js.deepnet("encoder_decoder", n, m, source="torchscale"), shapes)
    for side, c in (("encoder", enc_scale), ("decoder", dec_scale)):
        a, f = f"{side}/layers/0/self_attn/", f"{side}/layers/0/"
        g = 1 / math.sqrt(2)  # xavier_uniform_(gain=1 / math.sqrt(2))
        _vs(inits[a + "q_proj/kernel"], g**2, "fan_avg", "uniform")
        _vs(inits[a + "k_proj/kernel"], g**2, "fan_avg", "uniform")
        _vs(inits[a + "v_proj/kernel"], (g / c) ** 2, "fan_avg", "uniform")
        _vs(inits[a + "out_proj/kernel"], (1 / c) ** 2, "fan_avg", "uniform")
        # nn.Linear: kaiming_uniform_(a=sqrt(5)): U(+-1/sqrt(fan_in)), / init_scale.
        _vs(inits[f + "fc1/kernel"], 1 / (3 * c**2), "fan_in", "uniform")
        _vs(inits[f + "fc2/kernel"], 1 / (3 * c**2), "fan_in", "uniform")
        _bias(inits[a + "q_proj/bias"], 1 / math.sqrt(d))
        _bias(inits[a + "k_proj/bias"], 1 / math.sqrt(d))
        _bias(inits[a + "v_proj/bias"], 1 / math.sqrt(d) / c)
        _bias(inits[a + "out_proj/bias"], 0)  # constant_(out_proj.bias, 0.0) / c
        _bias(inits[f + "fc1/bias"], 1 / math.sqrt(d) / c)
        _bias(inits[f + "fc2/bias"], 1 / math.sqrt(ffn) / c)
    paper = _inits(js.deepnet("encoder_decoder", n, m), shapes)
    assert all(
        isinstance(paper[p], jinit.Constant) for p in shapes if p.endswith("bias")
    )


def test_tfixup_constants():
    """layer6ai-labs/T-Fixup b17e166d: fairseq/modules/transformer_layer.py
    (fixup_initialization, Linear), fairseq/modules/multihead_attention.py
    (reset_parameters), fairseq/models/transformer.py (Embedding, the embedding
    factors, embed_out)."""
    en_layers, de_layers, d, ffn, vocab = 6, 4, 64, 256, 100
    shapes = {
        "encoder/embed_tokens/embedding": (vocab, d),
        "decoder/embed_tokens/embedding": (vocab, d),
        "decoder/lm_head/kernel": (d, vocab),
    }
    for side, attns in (
        ("encoder", ("self_attn",)),
        ("decoder", ("self_attn", "encoder_attn")),
    ):
        for attn in attns:
            for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
                shapes[f"{side}/layers/0/{attn}/{p}/kernel"] = (d, d)
                shapes[f"{side}/layers/0/{attn}/{p}/bias"] = (d,)
        for p, shape in (("fc1", (d, ffn)), ("fc2", (ffn, d))):
            shapes[f"{side}/layers/0/{p}/kernel"] = shape
            shapes[f"{side}/layers/0/{p}/bias"] = shape[1:]
    inits = _inits(js.tfixup(d, en_layers, de_layers, pad_token_id=1), shapes)
    enc = 0.67 * (en_layers) ** (-1.0 / 4.0)  # transformer_layer.py, encoder
    dec = (9 * de_layers) ** (-1.0 / 4.0)  # transformer_layer.py, decoder
    g = 1 / math.sqrt(2)  # multihead_attention.py: xavier_uniform_(gain=1/sqrt(2))
    for side, c, attns in (
        ("encoder", enc, ("self_attn",)),
        ("decoder", dec, ("self_attn", "encoder_attn")),
    ):
        b = f"{side}/layers/0/"
        for attn in attns:
            _vs(inits[f"{b}{attn}/q_proj/kernel"], g**2, "fan_avg", "uniform")
            _vs(inits[f"{b}{attn}/k_proj/kernel"], g**2, "fan_avg", "uniform")
            # v: c * (param * 2**0.5) on the gain-1/sqrt(2) base.
            _vs(
                inits[f"{b}{attn}/v_proj/kernel"],
                (c * g * 2**0.5) ** 2,
                "fan_avg",
                "uniform",
            )
            _vs(inits[f"{b}{attn}/out_proj/kernel"], c**2, "fan_avg", "uniform")
            for p in ("q_proj", "k_proj", "v_proj"):  # nn.Linear's default bias
                _bias(inits[f"{b}{attn}/{p}/bias"], 1 / math.sqrt(d))
            _bias(inits[f"{b}{attn}/out_proj/bias"], 0)
        for p in ("fc1", "fc2"):  # Linear(): xavier_uniform_, bias 0, then * c
            _vs(inits[f"{b}{p}/kernel"], c**2, "fan_avg", "uniform")
            _bias(inits[f"{b}{p}/bias"], 0)
    # Embedding(): normal_(std=embedding_dim ** -0.5), padding row 0; then times
    # (9 * encoder_layers) ** (-1 / 4) or (9 * decoder_layers) ** (-1 / 4).
    for side, layers in (("encoder", en_layers), ("decoder", de_layers)):
        emb = inits[f"{side}/embed_tokens/embedding"]
        assert emb.index == 1
        assert emb.base.stddev == pytest.approx(d**-0.5 * (9 * layers) ** (-1 / 4))
    # embed_out: normal_(std=output_embed_dim ** -0.5).
    assert inits["decoder/lm_head/kernel"].stddev == pytest.approx(d**-0.5)


def test_torchtitan_constants():
    """pytorch/torchtitan b5bcd76c: torchtitan/models/llama3/__init__.py
    (_LINEAR_INIT, _depth_init, _output_linear_init, _EMBEDDING_INIT, _NORM_INIT),
    torchtitan/models/common/param_init.py (depth_scaled_std)."""
    dim, layers = 256, 4

    def depth_scaled_std(base_std, layer_id):  # param_init.py, verbatim
        return base_std / (2 * (layer_id + 1)) ** 0.5

    shapes = {"tok_embeddings/embedding": (100, dim), "output/kernel": (dim, 100)}
    shapes["norm/scale"] = (dim,)
    for i in range(layers):
        for p in ("attention/wq", "attention/wo", "feed_forward/w1"):
            shapes[f"layers/{i}/{p}/kernel"] = (dim, dim)
        for p in ("feed_forward/w2", "feed_forward/w3"):
            shapes[f"layers/{i}/{p}/kernel"] = (dim, dim)
        shapes[f"layers/{i}/attention_norm/scale"] = (dim,)
    inits = _inits(js.torchtitan_llama3(dim=dim), shapes)

    def trunc(init, std, a, b):  # nn.init.trunc_normal_(std=, a=, b=): absolute
        assert isinstance(init, jinit.TruncatedNormal) and init.bounds == "absolute"
        assert init.stddev == pytest.approx(std, rel=1e-12)
        assert (init.lower, init.upper) == pytest.approx((a, b), rel=1e-12)

    for i in range(layers):
        b = f"layers/{i}/"
        for p in ("attention/wq", "feed_forward/w1"):  # trunc_normal_(std=0.02)
            trunc(inits[f"{b}{p}/kernel"], 0.02, -2.0, 2.0)  # torch's a, b defaults
        for p in ("attention/wo", "feed_forward/w2", "feed_forward/w3"):
            trunc(inits[f"{b}{p}/kernel"], depth_scaled_std(0.02, i), -2.0, 2.0)
        assert inits[f"{b}attention_norm/scale"].value == 1
    s = dim**-0.5
    trunc(inits["output/kernel"], s, -3 * s, 3 * s)
    assert inits["tok_embeddings/embedding"].stddev == 1.0
    assert isinstance(inits["tok_embeddings/embedding"], jinit.Normal)


def test_rezero_and_skipinit_gates_are_zero():
    tree = {
        "layers/0/resweight": jnp.ones(()),
        "layers/0/skipinit_gain": jnp.ones(()),
        "layers/0/dense/kernel": jnp.ones((2, 2)),
    }
    out = jinit.reinit(tree, KEY, js.rezero())
    assert float(out["layers/0/resweight"]) == 0.0
    assert float(out["layers/0/skipinit_gain"]) == 0.0
    assert out["layers/0/dense/kernel"] is tree["layers/0/dense/kernel"]
    assert js.skipinit() == js.rezero()


# ----------------------------------------------------------------------------
# Roles, patterns and errors.


@pytest.mark.parametrize(
    "path, role",
    [
        ("params/MultiHeadDotProductAttention_0/query/kernel", "q"),
        ("params/MultiHeadDotProductAttention_0/out/kernel", "attention_out"),
        ("attn/key/kernel", "k"),
        ("transformer/h/0/attn/c_attn/kernel", "qkv"),
        ("transformer/h/0/attn/c_proj/kernel", "attention_out"),
        ("transformer/h/0/mlp/c_fc/kernel", "mlp_in"),
        ("transformer/h/0/mlp/c_proj/kernel", "mlp_out"),
        ("transformer/wte/embedding", "embedding"),
        ("transformer/wpe/embedding", "position_embedding"),
        ("transformer/ln_f/scale", "norm_scale"),
        ("transformer/ln_f/bias", "norm_bias"),
        ("transformer/h/0/attn/c_attn/bias", "bias"),
        ("model/layers/0/self_attn/o_proj/kernel", "attention_out"),
        ("model/layers/0/mlp/gate_proj/kernel", "mlp_gate"),
        ("model/layers/0/mlp/down_proj/kernel", "mlp_out"),
        ("lm_head/kernel", "lm_head"),
        ("layers/0/attention/wo/kernel", "attention_out"),
        ("layers/0/feed_forward/w2/kernel", "mlp_out"),
        ("decoder/block/0/layer/2/DenseReluDense/wo/kernel", "mlp_out"),
        ("bert/encoder/layer/0/attention/output/dense/kernel", "attention_out"),
        ("bert/encoder/layer/0/output/dense/kernel", "mlp_out"),
        ("bert/encoder/layer/0/intermediate/dense/kernel", "mlp_in"),
        ("bert/pooler/dense/kernel", "kernel"),
        ("params/Block_0/MlpBlock_0/Dense_1/kernel", "mlp_out"),
    ],
)
def test_default_patterns(path, role):
    matched = [r for r in js.ROLES if re.fullmatch(js.PATTERNS[r], path)]
    assert matched[0] == role, matched


def test_patterns_override_and_drop():
    rules = js.llama(patterns={"mlp_out": r".*/proj_down/kernel", "lm_head": None})
    tree = {
        "blocks/0/proj_down/kernel": jax.ShapeDtypeStruct((4, 4), np.float32),
        "lm_head/kernel": jax.ShapeDtypeStruct((4, 4), np.float32),
    }
    rows = {r["path"]: r["rule"] for r in jf.table(tree, rules)}
    assert rows["blocks/0/proj_down/kernel"] == r"(?#mlp_out)(?:.*/proj_down/kernel)"
    assert _role(rows["lm_head/kernel"]) == "kernel"


def test_bad_arguments():
    with pytest.raises(ValueError, match="`patterns` must be one of"):
        js.gpt2(patterns={"mlp_output": ".*"})
    with pytest.raises(TypeError, match=r"`patterns\['q'\]` must be a regex"):
        js.gpt2(patterns={"q": 3})
    with pytest.raises(ValueError, match="`variant` must be one of"):
        js.gpt2(variant="nanogpt")
    with pytest.raises(ValueError, match="`n_layer` must be"):
        js.gpt2(0)
    with pytest.raises(ValueError, match="`architecture` must be one of"):
        js.deepnet("decoder_only", n_decoder=4)
    with pytest.raises(ValueError, match="`init_fn` must be one of"):
        js.olmo("mitchel")
    with pytest.raises(ValueError, match="`n_layers` must be"):
        js.torchtitan_llama3(depth_init=False)


def test_depth_scaled_checks_its_arguments():
    with pytest.raises(ValueError, match="`std` must be"):
        js.DepthScaled(0.0)
    with pytest.raises(ValueError, match="`bounds` must be a pair"):
        js.DepthScaled(0.02, bounds=(2.0, -2.0))
    with pytest.raises(ValueError, match="`bounds` must be None when `cutoff`"):
        js.DepthScaled(0.02, cutoff=3.0, bounds=(-2.0, 2.0))
    rule = js.DepthScaled(0.02)  # a Rule: picks per leaf, is no initializer
    assert isinstance(rule, jinit.Rule) and not callable(rule)


def test_depth_law_needs_a_layer_index():
    rules = js.torchtitan_llama3(dim=64)
    tree = {"attention/wo/kernel": jax.ShapeDtypeStruct((4, 4), np.float32)}
    with pytest.raises(ValueError, match="`layer of 'attention/wo/kernel'` must be"):
        jinit.materialize(tree, KEY, rules)
    custom = js.torchtitan_llama3(dim=64, layer=r"^(\d+)/")
    tree = {"7/attention/wo/kernel": jax.ShapeDtypeStruct((4, 4), np.float32)}
    (row,) = jf.table(tree, custom)
    assert row["init"].stddev == pytest.approx(0.02 / 4)


# ----------------------------------------------------------------------------
# Real Flax transformers: unrolled and nn.scan-stacked layers.

nn = pytest.importorskip("flax.linen")
optax = pytest.importorskip("optax")

D, HEADS, VOCAB, SEQ, LAYERS = 128, 4, 64, 8, 3


class Block(nn.Module):
    d: int

    @nn.compact
    def __call__(self, x, _=None):
        h = nn.RMSNorm(name="attention_norm")(x)
        x = x + nn.MultiHeadDotProductAttention(HEADS, name="attention")(h, h)
        h = nn.RMSNorm(name="ffn_norm")(x)
        gate = nn.Dense(2 * self.d, use_bias=False, name="gate_proj")(h)
        up = nn.Dense(2 * self.d, use_bias=False, name="up_proj")(h)
        x = x + nn.Dense(self.d, use_bias=False, name="down_proj")(nn.silu(gate) * up)
        return x, None


class LM(nn.Module):
    """A tiny Llama-style language model; ``scan`` stacks its blocks."""

    d: int = D
    scan: bool = False
    layers: int = LAYERS

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(VOCAB, self.d, name="embed_tokens")(tokens)
        if self.scan:
            stack = nn.scan(
                Block,
                variable_axes={"params": 0},
                split_rngs={"params": True},
                length=self.layers,
            )
            x, _ = stack(self.d, name="layers")(x, None)
        else:
            for i in range(self.layers):
                x, _ = Block(self.d, name=f"layers_{i}")(x)
        x = nn.RMSNorm(name="norm")(x)
        return nn.Dense(VOCAB, use_bias=False, name="lm_head")(x)


TOKENS = jax.random.randint(jax.random.key(1), (16, SEQ), 0, VOCAB)


@pytest.mark.standard_promotion  # Flax layers' internals
@pytest.mark.parametrize("scan", [False, True], ids=["unrolled", "scanned"])
def test_depth_indexed_law_per_layer(scan):
    abstract = jf.abstract(LM(scan=scan), TOKENS)
    rules = js.torchtitan_llama3(dim=D)
    params = jinit.materialize(abstract, KEY, rules)["params"]
    for i in range(LAYERS):
        if scan:
            block = jax.tree.map(lambda x, i=i: x[i], params["layers"])
        else:
            block = params[f"layers_{i}"]
        std = 0.02 / math.sqrt(2 * (i + 1))
        for w in (block["attention"]["out"]["kernel"], block["down_proj"]["kernel"]):
            w = np.asarray(w, np.float64).ravel()
            assert abs(w.std() / std - 1) <= _six_sigma(w.size), (i, w.std(), std)
        q = np.asarray(block["attention"]["query"]["kernel"]).ravel()
        assert abs(q.std() / 0.02 - 1) <= _six_sigma(q.size)
    if scan:  # slice l is layer l's law drawn with the l-th split of the leaf key
        path = "params/layers/attention/out/kernel"
        leaf = np.asarray(params["layers"]["attention"]["out"]["kernel"])
        keys = jax.random.split(_tree.leaf_key(KEY, path), LAYERS)
        for i in range(LAYERS):
            law = jinit.torch.trunc_normal(std=0.02 / math.sqrt(2 * (i + 1)))
            expected = law(keys[i], leaf.shape[1:], np.float32)
            np.testing.assert_array_equal(leaf[i], np.asarray(expected))


TX = optax.adam(3e-3)


def _loss(model, params):
    inputs, labels = TOKENS[:, :-1], TOKENS[:, 1:] % 7  # a learnable rule
    logits = model.apply({"params": params}, inputs)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@functools.partial(jax.jit, static_argnums=0)
def _step(model, params, state):
    loss, grads = jax.value_and_grad(lambda p: _loss(model, p))(params)
    updates, state = TX.update(grads, state, params)
    return optax.apply_updates(params, updates), state, loss


def _train(model, params, steps=25):
    """Adam steps (one compiled step per model, shared by the schemes)."""
    state = TX.init(params)
    first = None
    for _ in range(steps):
        params, state, loss = _step(model, params, state)
        first = loss if first is None else first
    return float(first), float(_loss(model, params))


# One scheme per law family: llama, megatron and olmo_core draw the laws of gpt2
# (plain normals) and of torchtitan/olmo mitchell (depth-indexed, truncated).
_READOUT = {
    r".*/embed_tokens/embedding": jinit.normal(32**-0.5),
    r".*/lm_head/kernel": jinit.normal(32**-0.5),
}
SCHEMES = {
    "gpt2": lambda: js.gpt2(2),
    "torchtitan": lambda: js.torchtitan_llama3(dim=32),
    "olmo_mitchell": lambda: js.olmo("mitchell", d_model=32, n_layers=2),
    # DeepNet and ZerO leave embeddings and the readout to the model's own rules.
    "deepnet": lambda: {**_READOUT, **js.deepnet("decoder", n_decoder=2)},
    "tfixup": lambda: {**js.tfixup(32, n_decoder=2), r".*/scale": jinit.ones},
    "zero": lambda: {**_READOUT, **js.zero()},
    "t5": lambda: js.t5(32, 32 // HEADS, HEADS, 64),
}


@pytest.mark.standard_promotion  # Flax layers' internals
@pytest.mark.parametrize(
    "name, scan",
    [(name, False) for name in SCHEMES] + [("torchtitan", True)],
)
def test_scheme_trains_a_flax_transformer(name, scan):
    model = LM(d=32, scan=scan, layers=2)
    abstract = jf.abstract(model, TOKENS[:, :-1])
    params = jinit.materialize(abstract, KEY, SCHEMES[name]())["params"]
    params = jax.tree.map(jnp.asarray, nn.unbox(params))
    first, last = _train(model, params)
    assert np.isfinite(first) and np.isfinite(last)
    assert last < 0.7 * first, (first, last)


@pytest.mark.parametrize("dtype", [np.float32, jnp.bfloat16])
def test_layer_stack_draws_each_slice_from_its_layer_law(dtype):
    laws = tuple(js.DepthScaled(0.02, cutoff=3.0).at(i) for i in range(3))
    stack = js.LayerStack(laws, axis=1)
    out = stack(KEY, (16, 3, 8), dtype)
    assert out.dtype == dtype and out.shape == (16, 3, 8)
    keys = jax.random.split(KEY, 3)
    for i, law in enumerate(laws):
        np.testing.assert_array_equal(
            np.asarray(out[:, i], np.float32),
            np.asarray(law(keys[i], (16, 8), dtype), np.float32),
        )
        eps = float(jnp.finfo(dtype).eps)  # one rounding into dtype
        assert np.abs(np.asarray(out[:, i], np.float32)).max() <= (
            3 * law.stddev * (1 + eps)
        )
    with pytest.raises(ValueError, match="`shape` must be a shape with 3 layers"):
        stack(KEY, (16, 4, 8))


@pytest.mark.standard_promotion  # Flax layers' internals
def test_depth_indexed_law_on_an_nnx_vmap_stack():
    nnx = pytest.importorskip("flax.nnx")

    class Layer(nnx.Module):
        def __init__(self, rngs):
            self.attention = nnx.MultiHeadAttention(4, 64, decode=False, rngs=rngs)
            self.down_proj = nnx.Linear(128, 64, rngs=rngs)

    class Model(nnx.Module):
        def __init__(self, rngs):
            @nnx.split_rngs(splits=3)
            @nnx.vmap(in_axes=(0,), out_axes=0)
            def make(rngs):
                return Layer(rngs)

            self.layers = make(rngs)

    _, state = nnx.split(jf.abstract(lambda: Model(nnx.Rngs(0))))
    params = jinit.materialize(state, KEY, js.torchtitan_llama3(dim=64))
    for name in ("attention/out", "down_proj"):
        node = params["layers"]
        for part in name.split("/"):
            node = node[part]
        w = np.asarray(node["kernel"][...], np.float64)
        assert w.shape[0] == 3
        for i in range(3):
            std = 0.02 / math.sqrt(2 * (i + 1))
            assert abs(w[i].std() / std - 1) <= _six_sigma(w[i].size), (name, i)


class FixupBlock(nn.Module):
    """Fixup's BasicBlock (``fixup_resnet_cifar.py``), Flax names."""

    @nn.compact
    def __call__(self, x):
        bias = {n: self.param(n, nn.initializers.zeros, ()) for n in _FIXUP_BIASES}
        scale = self.param("scale", nn.initializers.ones, ())
        c = x.shape[-1]
        out = nn.Conv(c, (3, 3), use_bias=False, name="conv1")(x + bias["bias1a"])
        out = nn.relu(out + bias["bias1b"])
        out = nn.Conv(c, (3, 3), use_bias=False, name="conv2")(out + bias["bias2a"])
        return nn.relu(out * scale + bias["bias2b"] + x)


_FIXUP_BIASES = ("bias1a", "bias1b", "bias2a", "bias2b")


class FixupNet(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(8, (3, 3), use_bias=False, name="conv1")(x))
        for i in range(3):
            x = FixupBlock(name=f"layer1_{i}")(x)
        return nn.Dense(2, name="fc")(x.mean((1, 2)))


@pytest.mark.standard_promotion  # Flax layers' internals
def test_fixup_trains_a_flax_resnet():
    images = jax.random.normal(jax.random.key(2), (32, 8, 8, 1))
    labels = (images[:, :4].mean((1, 2, 3)) > images[:, 4:].mean((1, 2, 3))).astype(
        jnp.int32
    )
    model = FixupNet()
    abstract = jf.abstract(model, images)
    rules = js.fixup(n_branches=3, m=2)
    params = jinit.materialize(abstract, KEY, rules)["params"]
    assert not np.any(np.asarray(params["layer1_0"]["conv2"]["kernel"]))
    assert not np.any(np.asarray(params["fc"]["kernel"]))
    row = {r["path"]: r for r in jf.table(abstract, rules)}
    conv1 = row["params/layer1_0/conv1/kernel"]["std"]
    assert conv1 == pytest.approx(math.sqrt(2 / (9 * 8)) / math.sqrt(3))
    assert row["params/conv1/kernel"]["init"] == jinit.torch.conv_default()
    params = jax.tree.map(jnp.asarray, nn.unbox(params))
    tx = optax.adam(1e-2)

    def loss_fn(p):
        logits = model.apply({"params": p}, images)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    @jax.jit
    def step(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    state = tx.init(params)
    first = None
    for _ in range(80):
        params, state, loss = step(params, state)
        first = loss if first is None else first
    last = float(loss_fn(params))
    assert np.isfinite(last) and last < 0.7 * float(first), (first, last)
