"""Reading a Hugging Face ``config.json`` dict: the one place for the fields
every :func:`from_hf_config` builder reads (missing keys take the config
class's defaults; a bad value is a named error)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _checks


def value(config: Mapping[str, Any], key: str, default: Any) -> Any:
    """``config[key]``, or the config class's ``default`` where it is missing or null."""
    got = config.get(key)
    return default if got is None else got


def std(
    config: Mapping[str, Any], default: float = 0.02, key: str = "initializer_range"
) -> float:
    """The config's ``initializer_range``: ``default`` where it is missing, null
    or 0, as ``PreTrainedModel._init_weights`` reads it
    (``std = config.initializer_range or 0.02``)."""
    got = config.get(key) or default
    return _checks.real_number(f"config[{key!r}]", got, positive=True)


def size(config: Mapping[str, Any], key: str, default: int) -> int:
    """A positive integer size of the config (its class's ``default`` if missing)."""
    return _checks.integer(f"config[{key!r}]", value(config, key, default), minimum=1)


def number(config: Mapping[str, Any], key: str, default: float) -> float:
    """A positive real of the config (its class's ``default`` if missing)."""
    return _checks.real_number(
        f"config[{key!r}]", value(config, key, default), positive=True
    )


def pad(config: Mapping[str, Any], default: int | None = None) -> int | None:
    """The config's ``pad_token_id`` (its class's ``default`` if missing)."""
    got = config.get("pad_token_id", default)
    if got is None:
        return None
    return _checks.integer("config['pad_token_id']", got, minimum=0)
