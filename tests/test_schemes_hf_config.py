"""jinit.schemes.from_hf_config: a transformers config (dict or config.json) ->
the scheme transformers 5.24 initializes that model with.

Each supported ``model_type`` is read from a non-default config built by
transformers' own config class (its ``to_dict()``, and the ``config.json``
``save_pretrained`` writes), and from a minimal dict whose omitted keys take
the class's defaults; the result must equal the scheme built by hand with the
config's sizes. The parity of those schemes with the transformers models is in
tests/test_schemes.py and tests/test_schemes_hf.py.
"""

from __future__ import annotations

import json

import pytest

import jinit.schemes as js

tr = pytest.importorskip("transformers")

# model_type -> (config class, non-default fields, the scheme expected).
CASES = {
    "gpt2": (
        tr.GPT2Config,
        dict(n_layer=3, initializer_range=0.03),
        js.gpt2(3, std=0.03),
    ),
    "bert": (
        tr.BertConfig,
        dict(initializer_range=0.04, pad_token_id=3),
        js.bert(0.04, pad_token_id=3),
    ),
    "roberta": (
        tr.RobertaConfig,
        dict(initializer_range=0.05, pad_token_id=2),
        js.roberta(0.05, pad_token_id=2),
    ),
    "vit": (tr.ViTConfig, dict(initializer_range=0.01), js.vit(0.01)),
    "llama": (
        tr.LlamaConfig,
        dict(initializer_range=0.03, pad_token_id=7),
        js.llama(0.03, pad_token_id=7),
    ),
    "mistral": (tr.MistralConfig, dict(initializer_range=0.04), js.llama(0.04)),
    "qwen2": (
        tr.Qwen2Config,
        dict(initializer_range=0.05, pad_token_id=0),
        js.llama(0.05, pad_token_id=0),
    ),
    "t5": (
        tr.T5Config,
        dict(d_model=64, d_kv=16, num_heads=4, d_ff=128, initializer_factor=0.5),
        js.t5(64, 16, 4, 128, factor=0.5),
    ),
    "qwen3": (
        tr.Qwen3Config,
        dict(initializer_range=0.03, pad_token_id=4),
        js.qwen3(0.03, pad_token_id=4),
    ),
    "gemma3_text": (
        tr.Gemma3TextConfig,
        dict(initializer_range=0.04, pad_token_id=3),
        js.gemma3(0.04, pad_token_id=3),
    ),
    "olmo2": (
        tr.Olmo2Config,
        dict(initializer_range=0.05, pad_token_id=6),
        js.olmo2(0.05, source="transformers", pad_token_id=6),
    ),
}
# A config.json that writes only model_type: the config class's defaults.
DEFAULTS = {
    "gpt2": js.gpt2(12),
    "bert": js.bert(0.02, pad_token_id=0),
    "roberta": js.roberta(0.02, pad_token_id=1),
    "vit": js.vit(0.02),
    "llama": js.llama(0.02),
    "mistral": js.llama(0.02),
    "qwen2": js.llama(0.02),
    "t5": js.t5(512, 64, 8, 2048),
    "qwen3": js.qwen3(0.02),
    "gemma3_text": js.gemma3(0.02, pad_token_id=0),
    "olmo2": js.olmo2(0.02, source="transformers", pad_token_id=1),
}


def test_every_model_type_is_tested():
    assert set(CASES) == set(DEFAULTS) == set(js._hf_config.BUILDERS) - {"gemma3"}


@pytest.mark.parametrize("model_type", list(CASES))
def test_from_hf_config_picks_the_scheme_with_its_sizes(model_type, tmp_path):
    cls, fields, expected = CASES[model_type]
    config = cls(**fields)
    assert config.model_type == model_type
    assert js.from_hf_config(config.to_dict()) == expected
    config.save_pretrained(tmp_path)  # the config.json a checkpoint ships
    assert js.from_hf_config(tmp_path / "config.json") == expected
    assert js.from_hf_config(str(tmp_path)) == expected  # the directory
    assert js.from_hf_config({"model_type": model_type}) == DEFAULTS[model_type]


def test_defaults_are_the_config_classes():
    """The defaults from_hf_config assumes for omitted keys are transformers'."""
    for model_type, (cls, _, _) in CASES.items():
        assert js.from_hf_config(cls().to_dict()) == DEFAULTS[model_type], model_type


def test_initializer_range_zero_or_null_is_transformers_fallback():
    # PreTrainedModel._init_weights: std = config.initializer_range or 0.02
    for value in (None, 0.0):
        got = js.from_hf_config({"model_type": "qwen3", "initializer_range": value})
        assert got == js.qwen3(0.02)


def test_errors(tmp_path):
    with pytest.raises(
        ValueError, match=r"`config\['model_type'\]` must be one of"
    ) as e:
        js.from_hf_config({"model_type": "qwen9"})
    for name in ("'qwen3'", "'gemma3_text'", "'olmo2'", "'llama'", "'t5'"):
        assert name in str(e.value)
    assert "Did you mean 'qwen3'?" in str(e.value)
    with pytest.raises(ValueError, match=r"`config\['model_type'\]` must be one of"):
        js.from_hf_config({"hidden_size": 8})
    with pytest.raises(ValueError, match=r"config\['text_config'\]"):
        js.from_hf_config(tr.Gemma3Config().to_dict())
    with pytest.raises(ValueError, match=r"`config\['initializer_range'\]` must be"):
        js.from_hf_config({"model_type": "llama", "initializer_range": -0.02})
    with pytest.raises(TypeError, match=r"`config\['pad_token_id'\]` must be an int"):
        js.from_hf_config({"model_type": "qwen3", "pad_token_id": "0"})
    with pytest.raises(ValueError, match=r"`config\['n_layer'\]` must be a positive"):
        js.from_hf_config({"model_type": "gpt2", "n_layer": 0})
    with pytest.raises(TypeError, match="`config` must be a config dict or the path"):
        js.from_hf_config(["qwen3"])  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="`config` must be a readable config.json"):
        js.from_hf_config(tmp_path / "missing.json")
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="`config` must be a JSON file"):
        js.from_hf_config(bad)
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(TypeError, match="`config` must be a config dict"):
        js.from_hf_config(bad)
