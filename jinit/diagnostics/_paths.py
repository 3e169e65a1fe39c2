"""Trees walked in insertion (call or creation) order, paths joined by ``/``.

``jax.tree`` sorts dict keys (``layer_10`` before ``layer_2``); these walkers
keep the order in which Flax recorded activations and created parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def join(prefix: str, key: Any) -> str:
    """``prefix/key``, or ``key`` at the root."""
    return f"{prefix}/{key}" if prefix else str(key)


def named_leaves(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(path, leaf)`` pairs in insertion order; None leaves are dropped.

    A tuple is a ``sow`` container: its last value is taken, and a module
    output that is a tuple or list is walked with indices (``(h, None)``, what
    an ``nn.scan`` body returns, gives ``h`` under the module's own name).
    Flax's ``__call__`` key is dropped, so a captured submodule output is named
    after the submodule.
    """
    return _walk(tree, prefix, sown=True)


def _walk(tree: Any, prefix: str, sown: bool) -> list[tuple[str, Any]]:
    if isinstance(tree, Mapping):
        out = []
        for k, v in tree.items():
            out += _walk(v, prefix if k == "__call__" else join(prefix, k), sown)
        return out
    if sown and isinstance(tree, tuple) and tree and not hasattr(tree, "_fields"):
        out = _walk(tree[-1], prefix, sown=False)
        return [(prefix, out[0][1])] if len(out) == 1 else out
    if isinstance(tree, list | tuple):
        out = []
        for i, v in enumerate(tree):
            out += _walk(v, join(prefix, i), sown)
        return out
    return [] if tree is None else [(prefix, tree)]


def map_named(fn: Callable[[str, Any], Any], tree: Any, prefix: str = "") -> Any:
    """``tree`` with each leaf replaced by ``fn(path, leaf)`` (dicts and lists)."""
    if isinstance(tree, Mapping):
        return {k: map_named(fn, v, join(prefix, k)) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(map_named(fn, v, join(prefix, i)) for i, v in enumerate(tree))
    return fn(prefix, tree)


def get(tree: Any, path: tuple[str, ...]) -> Any:
    """The subtree at ``path``."""
    for k in path:
        tree = tree[k]
    return tree


def replace(tree: Any, path: tuple[str, ...], value: Any) -> Any:
    """A copy of the nested dict ``tree`` with ``value`` at ``path``."""
    if not path:
        return value
    new = dict(tree)
    new[path[0]] = replace(tree[path[0]], path[1:], value)
    return new
