"""From a Hugging Face ``config.json`` to the scheme transformers initializes
that model with: :func:`from_hf_config` and its dispatch table :data:`BUILDERS`.

No import of transformers and no download: the config is a plain dict (or the
path of its JSON file). A key the file leaves out takes the default of that
model's transformers 5.24 config class (older files omit defaults).
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

from .. import _checks, _errors
from ._gemma3 import gemma3
from ._olmo import olmo2
from ._qwen3 import qwen3
from ._transformers import bert, gpt2, llama, roberta, t5, vit


def _get(config: Mapping[str, Any], key: str, default: Any) -> Any:
    """``config[key]``, or ``default`` where the file omits it (or writes null)."""
    value = config.get(key)
    return default if value is None else value


def _std(config: Mapping[str, Any], key: str = "initializer_range") -> float:
    # PreTrainedModel._init_weights: ``std = config.initializer_range or 0.02``.
    value = config.get(key) or 0.02
    return _checks.real_number(f"config[{key!r}]", value, positive=True)


def _size(config: Mapping[str, Any], key: str, default: int) -> int:
    return _checks.integer(f"config[{key!r}]", _get(config, key, default), minimum=1)


def _pad(config: Mapping[str, Any], default: int | None) -> int | None:
    value = config.get("pad_token_id", default)
    if value is None:
        return None
    return _checks.integer("config['pad_token_id']", value, minimum=0)


def _gemma3_multimodal(config: Mapping[str, Any]) -> dict[str, Any]:
    raise _errors.bad_value(
        "config['model_type']",
        "a text model: only Gemma 3's text model is covered (the vision tower's "
        "LayerNorms start at 1 and the projector at 0); pass "
        "config['text_config'] (model_type 'gemma3_text') for the language model",
        config.get("model_type"),
    )


#: ``model_type`` -> the builder of its scheme from the config dict, each
#: reproducing transformers 5.24's ``_init_weights`` for that model (the
#: defaults are those of its config class).
BUILDERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "gpt2": lambda c: gpt2(_size(c, "n_layer", 12), std=_std(c)),
    "bert": lambda c: bert(_std(c), pad_token_id=_pad(c, 0)),
    "roberta": lambda c: roberta(_std(c), pad_token_id=_pad(c, 1)),
    "vit": lambda c: vit(_std(c)),
    "llama": lambda c: llama(_std(c), pad_token_id=_pad(c, None)),
    "mistral": lambda c: llama(_std(c), pad_token_id=_pad(c, None)),
    "qwen2": lambda c: llama(_std(c), pad_token_id=_pad(c, None)),
    "t5": lambda c: t5(
        _size(c, "d_model", 512),
        _size(c, "d_kv", 64),
        _size(c, "num_heads", 8),
        _size(c, "d_ff", 2048),
        factor=_checks.real_number(
            "config['initializer_factor']",
            _get(c, "initializer_factor", 1.0),
            positive=True,
        ),
    ),
    "qwen3": lambda c: qwen3(_std(c), pad_token_id=_pad(c, None)),
    "gemma3_text": lambda c: gemma3(_std(c), pad_token_id=_pad(c, 0)),
    "gemma3": _gemma3_multimodal,
    "olmo2": lambda c: olmo2(_std(c), source="transformers", pad_token_id=_pad(c, 1)),
    # hf-b (issue 27): the MoE/SSM model types go here at merge (deepseek_v3,
    # qwen3_moe, qwen3_next, mixtral, olmoe, gpt_oss, mamba2), each with
    # source="transformers".
}


def _read(config: Any) -> Mapping[str, Any]:
    if isinstance(config, str | os.PathLike):
        path = pathlib.Path(config)
        if path.is_dir():
            path = path / "config.json"
        try:
            text = path.read_text()
        except OSError as e:
            raise _errors.bad_value(
                "config", f"a readable config.json ({e.strerror})", str(path)
            ) from None
        try:
            config = json.loads(text)
        except json.JSONDecodeError as e:
            raise _errors.bad_value(
                "config", f"a JSON file ({e.msg} at line {e.lineno})", str(path)
            ) from None
    if not isinstance(config, Mapping):
        raise _errors.bad_type(
            "config", "a config dict or the path of a config.json", config
        )
    return config


def from_hf_config(
    config: Mapping[str, Any] | str | os.PathLike[str],
) -> dict[str, Any]:
    """The scheme transformers initializes a model with, from its ``config.json``.

    Reads ``model_type`` and the sizes the init depends on
    (``initializer_range``, the pad row, GPT-2's ``n_layer``, T5's widths and
    ``initializer_factor``) and returns that model's scheme as
    transformers 5.24's ``_init_weights`` draws it: where the model's own recipe
    differs (OLMo 2's truncated normals), the scheme called directly defaults
    to the recipe, and this function asks for ``source="transformers"``.
    The default role patterns match the parameter names of a port written in
    the usual Flax style (``embed_tokens/embedding``, ``q_proj/kernel``,
    ``input_layernorm/scale``, ...); pass the scheme's own ``patterns=`` by
    calling it directly for other names.

    ================= ==================================================
    ``model_type``    scheme
    ================= ==================================================
    gpt2              :func:`gpt2` ``(n_layer, std=initializer_range)``
    bert, roberta     :func:`bert`, :func:`roberta` (``pad_token_id``)
    vit               :func:`vit`
    llama, mistral,   :func:`llama` (``pad_token_id``)
    qwen2
    t5                :func:`t5` (``d_model, d_kv, num_heads, d_ff``,
                      ``factor=initializer_factor``)
    qwen3             :func:`qwen3` (``pad_token_id``)
    gemma3_text       :func:`gemma3` (``pad_token_id``)
    olmo2             :func:`olmo2` ``(source="transformers")``
    ================= ==================================================

    (:data:`BUILDERS` is the table; ``"gemma3"``, the multimodal config, is an
    error pointing to its ``text_config``.)

    Args:
      config: the config as a dict (``json.load`` of ``config.json``, or
        ``PretrainedConfig.to_dict()``), or the path of a ``config.json`` or of
        the directory holding it. Keys it omits take their config class's
        defaults.

    Returns:
      The scheme's rules, for :func:`jinit.materialize`.

    Raises:
      ValueError: an unknown or missing ``model_type`` (listing the supported
        ones), an unreadable file, a bad size in the config.
      TypeError: ``config`` is neither a mapping nor a path.

    Example:
      >>> rules = jinit.schemes.from_hf_config("Qwen3-0.6B/config.json")  # doctest: +SKIP
      >>> params = jinit.materialize(jinit.flax.abstract(model, tokens), key, rules)  # doctest: +SKIP
    """
    config = _read(config)
    model_type = config.get("model_type")
    if model_type not in BUILDERS:
        raise _errors.bad_choice("config['model_type']", model_type, tuple(BUILDERS))
    return BUILDERS[model_type](config)
