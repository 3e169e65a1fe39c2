"""Keras' names and aliases, get / serialize / deserialize, and keras.saving registration."""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any

import jax
import numpy as np

from .. import _errors
from ._base import Initializer
from ._laws import RandomNormal, RandomUniform, TruncatedNormal
from ._presets import (
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    VarianceScaling,
)
from ._structured import STFT, Constant, Identity, Ones, Orthogonal, Tensor, Zeros

# ----------------------------------------------------------------------------
# Keras' names and aliases, get / serialize / deserialize.

_CLASSES: tuple[type[Initializer], ...] = (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Identity,
    LecunNormal,
    LecunUniform,
    Ones,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    STFT,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
)


def _snake(name: str) -> str:
    out = "".join(
        "_" + c.lower() if c.isupper() and i and not name[i - 1].isupper() else c
        for i, c in enumerate(name)
    )
    return out.lower()


#: Every name Keras' ``get``/``deserialize`` knows, mapped to the class.
NAMES: dict[str, type[Initializer]] = {
    **{cls.__name__: cls for cls in _CLASSES},
    **{_snake(cls.__name__): cls for cls in _CLASSES},
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "STFTInitializer": STFT,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "zero": Zeros,
    "one": Ones,
}


def _lookup(name: str) -> type[Initializer]:
    if name not in NAMES:
        raise _errors.bad_choice("identifier", name, NAMES)
    return NAMES[name]


def serialize(initializer: Initializer) -> dict[str, Any]:
    """The config dict Keras writes (``keras.initializers.serialize``'s format).

    ``{"module": "keras.initializers", "class_name": ..., "config": ...,
    "registered_name": None}``: JSON-serializable, and readable by both
    :func:`deserialize` and Keras (which rebuilds its own class).
    """
    if not isinstance(initializer, Initializer):
        raise _errors.bad_type("initializer", "a jinit.keras initializer", initializer)
    return {
        "module": "keras.initializers",
        "class_name": type(initializer).__name__,
        "config": initializer.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict[str, Any] | str) -> Initializer:
    """Rebuilds an initializer from a config dict written by Keras or :func:`serialize`.

    Accepts ``{"class_name": ..., "config": ...}`` (with or without ``module``),
    as ``keras.initializers.serialize`` writes it and as a saved model's
    ``kernel_initializer`` holds it, or a bare name.

    Raises:
      ValueError: an unknown class name or config key; TypeError: not a dict/str.
    """
    if isinstance(config, str):
        return _lookup(config)()
    if not isinstance(config, dict) or "class_name" not in config:
        raise _errors.bad_type(
            "config", "a dict with 'class_name' and 'config', or a name", config
        )
    return _lookup(config["class_name"]).from_config(config.get("config") or {})


def _from_keras(obj: Any) -> Initializer:
    """A jinit.keras initializer that draws what the Keras object ``obj`` draws."""
    config = dict(obj.get_config())
    if type(obj).__name__ == "Identity":
        config["gain"] = obj.gain  # Keras' config drops it
    if "seed" in config:
        config["seed"] = obj.seed  # the drawn seed, or the same generator object
    return _lookup(type(obj).__name__).from_config(config)


def get(identifier: Any) -> Any:
    """Keras' ``initializers.get``: a name, config, class, instance or callable.

    * a name (``"glorot_uniform"``, ``"GlorotUniform"``, ``"zero"``, ...) or a
      class: a new instance with the defaults;
    * a config dict: :func:`deserialize`;
    * a Keras initializer object: the jinit.keras one drawing the same values
      (same seed, or the same seed generator);
    * a jinit.keras initializer or any other callable: returned as is;
    * an array (NumPy or JAX): an initializer returning it, cast to the dtype,
      for its own shape (:class:`Tensor`);
    * None: None.

    Raises:
      ValueError: an unknown name (with the closest one); anything else.
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str | dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if type(identifier).__module__.startswith("keras") and (
        type(identifier).__name__ in NAMES
    ):
        return _from_keras(identifier)
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    if isinstance(identifier, np.ndarray | np.generic | jax.Array):
        return Tensor(identifier)
    raise _errors.bad_value(
        "identifier",
        "an initializer name, a config dict, an initializer or a callable",
        identifier,
    )


# ----------------------------------------------------------------------------
# Keras' own serialization (keras.saving), registered lazily: Keras is never
# imported here. With Keras loaded, ``keras.saving.serialize_keras_object``
# writes ``registered_name="jinit>Orthogonal"`` and
# ``deserialize_keras_object`` rebuilds the jinit class from it.

#: The package of the names registered with Keras (``"jinit>Orthogonal"``).
KERAS_PACKAGE = "jinit"
_registered = False


def register_with_keras() -> bool:
    """Registers every class with Keras' serialization, if Keras is imported.

    Called when this module is imported after Keras, and when Keras is
    imported after it (by an import hook that then removes itself). Never
    imports Keras.

    Returns:
      Whether the classes are registered.
    """
    global _registered
    if _registered:
        return True
    saving = sys.modules.get("keras.saving")
    register = getattr(saving, "register_keras_serializable", None)
    if register is None:
        return False
    for cls in _CLASSES:
        register(package=KERAS_PACKAGE, name=cls.__name__)(cls)
    _registered = True
    return True


class _KerasImportHook(importlib.abc.MetaPathFinder):
    """Registers the classes as soon as ``import keras`` has run (then leaves)."""

    def find_spec(self, name, path, target=None):
        if name != "keras":
            return None
        others = [f for f in sys.meta_path if f is not self]
        spec = None
        for finder in others:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_register(module):
            try:
                exec_module(module)
            finally:
                _remove_hook()
            register_with_keras()

        loader.exec_module = exec_and_register  # type: ignore[method-assign]
        return spec


_HOOK = _KerasImportHook()


def _remove_hook() -> None:
    if _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)


if not register_with_keras() and "keras" not in sys.modules:
    sys.meta_path.insert(0, _HOOK)
