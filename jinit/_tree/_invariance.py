"""``check_mesh_invariance``: a model drawn under several meshes, leaf by leaf.

jinit promises that a leaf's value does not depend on how it is sharded (for
counter-based PRNG implementations). This check draws the tree once unsharded
and once per mesh (or per given shardings), and reports every leaf whose bits
differ: the check users want after a framework silently switched their PRNG
implementation (jax #40232).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .. import _checks, _errors, _prng
from . import _paths
from ._api import materialize
from ._rules import Rules, RuleValue


@dataclasses.dataclass(frozen=True)
class Difference:
    """One leaf that differs from its unsharded draw under one layout."""

    path: str
    layout: str  # the mesh (or shardings) it was drawn under
    count: int  # values whose bits differ
    size: int
    max_abs: float  # the largest absolute difference (nan if any value is nan)

    def __str__(self) -> str:
        return (
            f"{self.path}: {self.count}/{self.size} values differ under "
            f"{self.layout} (max |diff| {self.max_abs:.3g})"
        )


@dataclasses.dataclass(frozen=True)
class MeshInvariance:
    """What :func:`check_mesh_invariance` found; ``ok`` when no leaf differs."""

    impl: str  # the key's PRNG implementation
    layouts: tuple[str, ...]  # the meshes and shardings compared with unsharded
    leaves: int
    differences: tuple[Difference, ...]

    @property
    def ok(self) -> bool:
        """Whether every leaf has the same bits under every layout."""
        return not self.differences

    def __repr__(self) -> str:
        head = (
            f"MeshInvariance(ok={self.ok}, impl={self.impl!r}, leaves={self.leaves}, "
            f"layouts={len(self.layouts)}"
        )
        if self.ok:
            return head + ": every leaf equal to its unsharded draw, bit for bit)"
        lines = [f"{head}: {len(self.differences)} differences"]
        lines += [f"  {d}" for d in self.differences[:20]]
        if len(self.differences) > 20:
            lines.append(f"  ... and {len(self.differences) - 20} more")
        return "\n".join(lines) + "\n)"


def auto_spec(shape: tuple[int, ...], mesh: Mesh) -> PartitionSpec:
    """Each mesh axis on the leaf axis it divides with the most values left per shard.

    A mesh axis that divides no axis (after the ones placed before it) is left
    out: the leaf is replicated along it.
    """
    parts = [1] * len(shape)
    names: list[list[str]] = [[] for _ in shape]
    for name, size in mesh.shape.items():
        fits = [a for a, d in enumerate(shape) if d % (parts[a] * size) == 0]
        if size == 1 or not fits:
            continue
        axis = max(fits, key=lambda a: shape[a] // parts[a])
        parts[axis] *= size
        names[axis].append(name)
    entries = [None if not n else n[0] if len(n) == 1 else tuple(n) for n in names]
    return PartitionSpec(*entries)


def _describe(mesh: Mesh) -> str:
    return "Mesh(" + ", ".join(f"{k}={v}" for k, v in mesh.shape.items()) + ")"


def _compare(path: str, layout: str, a: Any, b: Any) -> Difference | None:
    a, b = np.asarray(a), np.asarray(b)
    bits_a = a.reshape(-1).view(np.uint8).reshape(a.size, -1)
    bits_b = b.reshape(-1).view(np.uint8).reshape(b.size, -1)
    count = int((bits_a != bits_b).any(axis=1).sum())
    if not count:
        return None
    kind = np.complex128 if np.iscomplexobj(a) else np.float64
    diff = np.abs(a.astype(kind) - b.astype(kind))
    return Difference(path, layout, count, a.size, float(diff.max()))


def check_mesh_invariance(
    tree: Any,
    rules: Rules,
    *,
    meshes: Sequence[Mesh] = (),
    shardings: Sequence[Any] = (),
    key: jax.Array | None = None,
    default: RuleValue | None = None,
    stacked: Mapping[str, Any] | None = None,
) -> MeshInvariance:
    """Draws ``tree`` unsharded and under each mesh; reports leaves that differ.

    Each leaf is drawn by :func:`jinit.materialize` (same ``rules``,
    ``default``, ``stacked`` and ``key``) with no sharding, then once per
    mesh in ``meshes`` (every leaf sharded over the mesh by
    :func:`auto_spec`: each mesh axis on the leaf axis it divides with the
    most values left per shard) and once per entry of ``shardings`` (a
    ``shardings`` argument of ``materialize``: a tree of shardings or a
    function of the path). A leaf whose bits differ from its unsharded draw is
    a :class:`Difference`. With a counter-based key (threefry, Philox) every
    jinit initializer is invariant; an rbg key under XLA's
    ``--xla_tpu_spmd_rng_bit_generator_unsafe=1`` (jax #40232) or an
    initializer that ignores its key may not be.

    Args:
      tree: an abstract tree, as for :func:`jinit.materialize`.
      rules: path rules, as for :func:`jinit.materialize`.
      meshes: meshes to shard every leaf over.
      shardings: ``materialize`` ``shardings`` arguments to compare too.
      key: the root key (default ``jax.random.key(0)``, JAX's default
        implementation).
      default: as for :func:`jinit.materialize`.
      stacked: as for :func:`jinit.materialize`.

    Returns:
      A :class:`MeshInvariance`: ``ok``, and each difference (path, layout,
      number of values, largest absolute difference).

    Raises:
      ValueError, TypeError: no mesh and no shardings, a mesh that is not a
        ``jax.sharding.Mesh``, and whatever ``materialize`` refuses.

    Example:
      >>> import jax, jinit
      >>> tree = {"w": jax.ShapeDtypeStruct((8, 4), "float32")}
      >>> mesh = jax.make_mesh((1,), ("x",))
      >>> jinit.check_mesh_invariance(tree, {"w": jinit.he_normal()},
      ...                             meshes=[mesh]).ok
      True
    """
    meshes, shardings = tuple(meshes), tuple(shardings)
    for i, mesh in enumerate(meshes):
        if not isinstance(mesh, Mesh):
            raise _errors.bad_type(f"meshes[{i}]", "a jax.sharding.Mesh", mesh)
    if not meshes and not shardings:
        raise _errors.bad_value(
            "meshes", "at least one mesh (or one entry of `shardings`)", meshes
        )
    key = jax.random.key(0) if key is None else key
    _checks.check_key(key)
    leaves, _ = _paths.nonempty(tree)
    shapes = {leaf.path: leaf.spec.shape for leaf in leaves if leaf.spec is not None}

    def draw(layout: Any) -> dict[str, Any]:
        out = materialize(
            tree, key, rules, default=default, shardings=layout, stacked=stacked
        )
        drawn, _ = _paths.flatten(out)
        return {leaf.path: _paths.unbox(leaf.leaf) for leaf in drawn}

    def over(mesh: Mesh) -> Any:
        def sharding(path: str) -> NamedSharding | None:
            shape = shapes.get(path)
            return (
                None if shape is None else NamedSharding(mesh, auto_spec(shape, mesh))
            )

        return sharding

    reference = draw(lambda path: None)
    layouts = [(_describe(m), over(m)) for m in meshes]
    layouts += [(f"shardings[{i}]", s) for i, s in enumerate(shardings)]
    differences = []
    for name, layout in layouts:
        drawn = draw(layout)
        for path, value in reference.items():
            found = _compare(path, name, value, drawn[path])
            if found is not None:
                differences.append(found)
    return MeshInvariance(
        _prng.impl_name(key),
        tuple(name for name, _ in layouts),
        len(reference),
        tuple(differences),
    )
