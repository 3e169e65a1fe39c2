"""Small path and name helpers the adapters share.

* :data:`ANY`: a regex for any prefix of a leaf path (``"params/Block_0/"``,
  ``"layers/0/"`` or nothing), to put before a parameter's name in a rule.
* :func:`sibling`: the path of another leaf of the same module.
* :func:`qualname`: a module class's name under its library's public module.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Any prefix of a path ("params/Block_0/", "layers/0/", or nothing).
ANY = r"(?:.*/)?"


def sibling(path: str, name: str) -> str:
    """The path of leaf ``name`` beside ``path`` (``"a/b/bias"`` -> ``"a/b/kernel"``)."""
    head, sep, _ = path.rpartition("/")
    return head + sep + name


def qualname(cls: type, public: Sequence[tuple[str, str]] = ()) -> str:
    """``"<module>.<class qualname>"``, the module shortened to its public face.

    ``public`` pairs a module prefix with the public module it is shown as
    (``("haiku._src.", "haiku")``); the first prefix that matches wins.
    """
    module = cls.__module__
    for prefix, face in public:
        if module.startswith(prefix):
            module = face
            break
    return f"{module}.{cls.__qualname__}"
