"""Keras' seeds: int seeds as raw keys, SeedGenerator, the default seed, floatx."""

from __future__ import annotations

import random
import sys
from typing import Any

import numpy as np

from .. import _errors

_SEED_KINDS = "None, an int in [0, 2**32) or a seed generator (SeedGenerator)"


class ReusedSeedWarning(UserWarning):
    """An unseeded initializer was called again and repeats its first values."""


def _floatx() -> str:
    """Keras' default float dtype if Keras is loaded, else float32 (its default)."""
    keras = sys.modules.get("keras")
    config = getattr(keras, "config", None)
    floatx = getattr(config, "floatx", None)
    return str(floatx()) if callable(floatx) else "float32"


def _default_seed() -> int:
    # Keras' make_default_seed: the same draw from Python's global `random`, so
    # keras.utils.set_random_seed / random.seed make both reproducible alike.
    return random.randint(1, int(1e9))


def _int_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise _errors.bad_type("seed", _SEED_KINDS, seed)
    if not 0 <= seed < 2**32:
        raise _errors.bad_value(
            "seed", "an int in [0, 2**32) (Keras' key is uint32[seed, 0])", seed
        )
    return int(seed)


def _is_generator(seed: Any) -> bool:
    return callable(getattr(seed, "next", None)) and callable(
        getattr(seed, "get_config", None)
    )


class SeedGenerator:
    """Keras' ``SeedGenerator`` without Keras: the k-th draw uses ``uint32[seed, k]``.

    Pass one as ``seed=`` to give an initializer a fresh draw on every call, as
    ``keras.random.SeedGenerator`` does (which is accepted too).

    Args:
      seed: an int in ``[0, 2**32)``; None draws one (as Keras does).
      name: the name kept in the config (Keras' default is ``"seed_generator"``).

    Raises:
      TypeError, ValueError: a seed that is not an int in ``[0, 2**32)``.
    """

    def __init__(self, seed: int | None = None, name: str | None = None):
        self._initial_seed = None if seed is None else _int_seed(seed)
        self.seed = _default_seed() if seed is None else self._initial_seed
        self.name = "seed_generator" if name is None else str(name)
        self._count = 0

    def next(self) -> np.ndarray:
        """Returns the next raw key ``uint32[seed, k]`` and advances ``k``."""
        key = np.array([self.seed, self._count % 2**32], np.uint32)
        self._count += 1
        return key

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeedGenerator:
        return cls(**config)

    def __repr__(self) -> str:
        return f"SeedGenerator(seed={self.seed}, name={self.name!r})"


def _check_seed(seed: Any) -> Any:
    """None, an int in [0, 2**32), a seed generator, or a serialized generator."""
    if seed is None or _is_generator(seed):
        return seed
    if isinstance(seed, dict):
        if seed.get("class_name") != "SeedGenerator":
            raise _errors.bad_value(
                "seed", "a SeedGenerator config when it is a dict", seed
            )
        return SeedGenerator.from_config(seed.get("config", {}))
    return _int_seed(seed)


def _seed_config(seed: Any) -> Any:
    if seed is None or isinstance(seed, int):
        return seed
    return {
        "module": "keras.random",
        "class_name": "SeedGenerator",
        "config": seed.get_config(),
        "registered_name": None,
    }
