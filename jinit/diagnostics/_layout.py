"""Stacked layers (``nn.scan``) as rows, and caches that keep nothing alive."""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import _caches


class WeakCache:
    """Values by the identity of an owner held weakly, and a hashable key.

    ``make(owner_ref)`` builds a value from a weak reference to the owner, so
    a value never keeps its owner (an ``apply`` closure, a module) alive: the
    entry goes with the owner. An owner that takes no weak reference is not
    cached.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Any, dict[Any, Any]]] = {}
        _caches.cache_clears.append(self._entries.clear)

    def get(self, owner: Any, key: Any, make: Callable[[Callable[[], Any]], Any]):
        i = id(owner)
        entry = self._entries.get(i)
        if entry is None or entry[0]() is not owner:
            try:
                ref = weakref.ref(owner, self._dropper(i))
            except TypeError:
                return make(lambda: owner)
            entry = self._entries[i] = (ref, {})
        values = entry[1]
        if key not in values:
            values[key] = make(entry[0])
        return values[key]

    def _dropper(self, i: int) -> Callable[[Any], Any]:
        return lambda _: self._entries.pop(i, None)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a model stacks layers (``nn.scan``) and what it cannot record.

    Attributes:
      stacks: ``(path, root, axis, size)`` per stacked parameter: its layers
        lie along ``axis``, and layer ``i`` is named with ``/i`` after
        ``root`` (``blocks/dense/kernel`` -> ``blocks/0/dense/kernel``).
      unmeasured: modules that hold parameters but record no activation.
    """

    stacks: tuple[tuple[str, str, int, int], ...] = ()
    unmeasured: tuple[str, ...] = ()

    def roots(self) -> dict[str, int]:
        """``{root: number of layers}``."""
        return {root: size for _, root, _, size in self.stacks}


#: A model without stacks, every module recorded.
FLAT = Layout()


def at_layer(path: str, root: str, i: int) -> str:
    """``path`` with the layer index ``i`` after ``root``."""
    return f"{root}/{i}{path[len(root) :]}"


def _root_of(name: str, roots: Mapping[str, int]) -> str | None:
    for root in roots:
        if name == root or name.startswith(root + "/"):
            return root
    return None


def layer_rows(named: list[tuple[str, Any]], roots: Mapping[str, int]):
    """Activations with each stacked one split into its layers, layer-major.

    An activation under a stack's root whose leading axis is the number of
    layers (an ``nn.scan`` lifting ``"intermediates"``) gives one row per layer.
    """
    out, i = [], 0
    while i < len(named):
        root = _root_of(named[i][0], roots)
        run = []
        while i < len(named) and root is not None:
            n, a = named[i]
            stacked = np.ndim(a) >= 1 and np.shape(a)[0] == roots[root]
            if _root_of(n, roots) != root or not stacked:
                break
            run.append((n, a))
            i += 1
        if root is None or not run:
            out.append(named[i])
            i += 1
            continue
        for layer in range(roots[root]):
            out += [(at_layer(n, root, layer), a[layer]) for n, a in run]
    return out
