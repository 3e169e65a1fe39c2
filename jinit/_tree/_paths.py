"""Leaf paths and path keys: how the engine names a leaf and derives its key.

A leaf is named by its JAX key path joined with "/" (dict keys and attribute
names as is, sequence indices as numbers); a Flax box (``nnx.Variable``, linen
``AxisMetadata``) counts as the leaf. Its key is the root key folded with the
two words of the path's 8-byte BLAKE2b digest, so a leaf's value depends only on
(root key, path, shape, dtype, initializer).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import jax
import numpy as np

from .. import _errors

#: A regex for any prefix of a path ("params/Block_0/", "layers/0/", or nothing).
ANY = r"(?:.*/)?"


def is_box(x: Any) -> bool:
    """A Flax box around one leaf: ``nnx.Variable`` or a linen ``AxisMetadata``."""
    nnx = sys.modules.get("flax.nnx")
    if nnx is not None and isinstance(x, nnx.Variable):
        return True
    meta = sys.modules.get("flax.core.meta")
    return meta is not None and isinstance(x, meta.AxisMetadata)


def _entry(k: Any) -> str:
    if isinstance(k, jax.tree_util.DictKey):
        return str(k.key)
    if isinstance(k, jax.tree_util.GetAttrKey):
        return k.name
    if isinstance(k, jax.tree_util.SequenceKey):
        return str(k.idx)
    if isinstance(k, jax.tree_util.FlattenedIndexKey):
        return str(k.key)
    return str(k)


def path_string(key_path: Iterable[Any]) -> str:
    """Joins a JAX key path with "/": dict keys and attributes as is, indices as numbers.

    ``{"params": {"Dense_0": {"kernel": ...}}}`` gives ``"params/Dense_0/kernel"``;
    ``{"layers": [w0, w1]}`` gives ``"layers/0"`` and ``"layers/1"``.
    """
    return "/".join(_entry(k) for k in key_path)


def sibling(path: str, name: str) -> str:
    """The path of the leaf ``name`` beside ``path`` (``a/b/bias`` -> ``a/b/kernel``)."""
    return re.sub(r"[^/]+$", name, path)


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


def _is_leaf(x: Any) -> bool:
    return is_box(x) or isinstance(x, jax.ShapeDtypeStruct)


def unbox(x: Any) -> Any:
    """The value in a Flax box (None if it holds several), else ``x``."""
    if is_box(x):
        inner = jax.tree_util.tree_leaves(x)
        return inner[0] if len(inner) == 1 else None
    return x


@dataclasses.dataclass
class Leaf:
    """One leaf of a tree as the engine sees it."""

    path: str
    leaf: Any  # as found in the tree (maybe boxed)
    spec: jax.ShapeDtypeStruct | None  # shape and dtype; None if the leaf has none

    def rebuild(self, value: Any) -> Any:
        if is_box(self.leaf):
            _, treedef = jax.tree_util.tree_flatten(self.leaf)
            return jax.tree_util.tree_unflatten(treedef, [value])
        return value


def _spec(x: Any) -> jax.ShapeDtypeStruct | None:
    x = unbox(x)
    if isinstance(x, jax.ShapeDtypeStruct):
        return x
    if isinstance(x, jax.Array | np.ndarray | np.generic):
        sharding = getattr(x, "sharding", None)
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)
    return None


def flatten(tree: Any) -> tuple[list[Leaf], Any]:
    """Every leaf with its path and spec, and the treedef; paths must be distinct."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_leaf)
    leaves = [Leaf(path_string(p), x, _spec(x)) for p, x in flat]
    seen: dict[str, int] = {}
    for leaf in leaves:
        seen[leaf.path] = seen.get(leaf.path, 0) + 1
    dupes = sorted(p for p, n in seen.items() if n > 1)
    if dupes:
        raise _errors.bad_value("tree", "a tree whose leaf paths are distinct", dupes)
    return leaves, treedef


def nonempty(tree: Any, arg: str = "tree") -> tuple[list[Leaf], Any]:
    """:func:`flatten` of a tree the caller needs leaves of: none is an error."""
    leaves, treedef = flatten(tree)
    if not leaves:
        raise _errors.bad_value(
            arg,
            "a pytree with at least one leaf (jinit.flax.abstract(model, x), "
            "jax.eval_shape(model.init, ...), a dict of jax.ShapeDtypeStruct or "
            "arrays)",
            tree,
        )
    return leaves, treedef


def path_hash(path: str) -> tuple[int, int]:
    """The two uint32 words a leaf's key is folded with: blake2b-64 of its path."""
    digest = hashlib.blake2b(path.encode("utf-8"), digest_size=8).digest()
    return (
        int.from_bytes(digest[:4], "little"),
        int.from_bytes(digest[4:], "little"),
    )


def leaf_key(key: jax.Array, path: str) -> jax.Array:
    """The key of the leaf at ``path``: ``fold_in(fold_in(key, h0), h1)``.

    ``(h0, h1)`` are the two little-endian uint32 words of the 8-byte BLAKE2b
    digest of the UTF-8 path (:func:`path_hash`): stable across processes and
    Python versions (unlike ``hash()``), and 64 bits, so that distinct paths of
    one model do not share a key.
    """
    return fold(key, np.array(path_hash(path), np.uint32))


def fold(key: Any, words: Any) -> Any:
    """``fold_in(fold_in(key, words[0]), words[1])``: the one path-key rule."""
    return jax.random.fold_in(jax.random.fold_in(key, words[0]), words[1])
