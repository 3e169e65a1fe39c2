"""Many kernels of several initializers, drawn as stacks (``jinit report``).

The kernels of one ``(shape, dtype, signature)`` are, for each initializer, one
stored stack of ``seeds x kernels`` independent layers, drawn by
:func:`jinit._signature.draw` as :func:`jinit.materialize` draws a stacked
leaf: an elementwise law in one draw with its fans per layer, anything else
(orthogonal: a batched QR) per layer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import jax
import numpy as np

from .. import _signature
from .._signature import Signature


@dataclasses.dataclass(frozen=True)
class Stack:
    """The kernels ``paths`` of one shape, dtype and signature, drawn by ``init``."""

    spec: str  # the initializer's name
    init: Any
    paths: tuple[str, ...]
    dtype: Any
    signature: Signature  # of the stored stack: seed and kernel axes first
    shape: tuple[int, ...]  # the stored stack: (seeds, len(paths), *kernel)

    @property
    def per_layer(self) -> bool:
        """Whether the stack is drawn layer by layer (not in one draw)."""
        return _signature.plan(self.init, self.signature, self.shape)[2]

    def draw(self, key: Any) -> jax.Array:
        return _signature.draw(self.init, key, self.shape, self.dtype, self.signature)


def kernel_groups(kernels: Sequence[tuple[str, Any]]) -> dict[Any, list[str]]:
    """Kernel paths by ``(shape, dtype, signature)``, in first-seen order."""
    groups: dict[Any, list[str]] = {}
    for path, leaf in kernels:
        key = (tuple(leaf.shape), np.dtype(leaf.dtype), _signature.signature_of(leaf))
        groups.setdefault(key, []).append(path)
    return groups


def _stack_signature(shape, signature: Signature | None, seeds: int, n: int):
    """The signature of ``(seeds, n, *shape)``: ``seeds x n`` independent layers,
    each called as the module calls it (or as stored, without a signature)."""
    if signature is None:
        return _signature.stacked_signature((seeds, n, *shape), (0, 1))
    stacked = (0, 1, *(a + 2 for a in signature.stacked))
    return dataclasses.replace(signature, stacked=stacked)


def stacks(
    inits: Mapping[str, Any], kernels: Sequence[tuple[str, Any]], seeds: int
) -> list[Stack]:
    """One :class:`Stack` per initializer and kernel group, initializer-major."""
    return [
        Stack(
            spec,
            init,
            tuple(paths),
            dtype,
            _stack_signature(shape, sig, seeds, len(paths)),
            (seeds, len(paths), *shape),
        )
        for spec, init in inits.items()
        for (shape, dtype, sig), paths in kernel_groups(kernels).items()
    ]


def _now(fn: Callable[[], Any]) -> Future:
    future: Future = Future()
    future.set_result(fn())
    return future


def draw_stacks(
    inits: Mapping[str, Any],
    kernels: Sequence[tuple[str, Any]],
    seeds: int,
    key: Any,
    submit: Callable[[Callable[[], Any]], Future] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """``{spec: {path: (seeds, *shape)}}``: every kernel of every initializer.

    Stack ``i`` of :func:`stacks` draws from ``fold_in(key, i)``. The one-draw
    stacks are one compiled function (a compilation costs far more than a
    draw); each per-layer stack has its own, run one after the other (two
    batched LAPACK QRs run concurrently by XLA deadlock jaxlib's CPU thread
    pool on a 2-core machine). Sliced in NumPy (a slice in the compiled draw
    is a kernel to compile).

    Args:
      inits: initializers by name.
      kernels: ``(path, abstract leaf)`` of every kernel, in creation order.
      seeds: independent draws of each kernel.
      key: the key.
      submit: ``submit(fn) -> future`` to compile concurrently (a thread
        pool's); default: compile here.
    """
    plan = list(enumerate(stacks(inits, kernels, seeds)))
    whole = [(i, s) for i, s in plan if not s.per_layer]
    parts = ([whole] if whole else []) + [[(i, s)] for i, s in plan if s.per_layer]

    def lower(items):
        def fn(key):
            return [s.draw(jax.random.fold_in(key, i)) for i, s in items]

        return jax.jit(fn).lower(key)

    futures = [((submit or _now)(lower(items).compile), items) for items in parts]
    out: dict[str, dict[str, np.ndarray]] = {spec: {} for spec in inits}
    for future, items in futures:
        for (_, s), value in zip(items, future.result()(key), strict=True):
            value = np.asarray(value)
            out[s.spec].update({p: value[:, k] for k, p in enumerate(s.paths)})
    return out
