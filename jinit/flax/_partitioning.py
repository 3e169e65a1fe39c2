"""Partitioned initializers: drawn into their shards, equal to the unsharded draw."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax

from .. import _caches, _errors, _tree

P = jax.sharding.PartitionSpec

# ----------------------------------------------------------------------------
# Partitioning: the initializer draws into its shards.


def _spec(names: Any) -> jax.sharding.PartitionSpec:
    if isinstance(names, jax.sharding.PartitionSpec):
        return names
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise _errors.bad_type(
            "names", "a tuple of mesh axis names (or None) per dimension", names
        )
    return jax.sharding.PartitionSpec(*names)


def _sharding(spec, mesh) -> Any:
    """The ``out_sharding`` to draw with: on ``mesh``, else the context mesh."""
    if mesh is None:
        context = jax.sharding.get_abstract_mesh()
        if context.empty:
            return None  # no mesh anywhere: draw unsharded, as Flax does
        return spec
    return _tree.auto_axes(jax.sharding.NamedSharding(mesh, spec))


def _linen_mesh(mesh: Any) -> Any:
    """The mesh a linen box is given: ``mesh`` with Auto axes (same devices).

    linen's boxes constrain their value with ``with_sharding_constraint``, which
    only takes Auto axes; ``jax.make_mesh``'s default axes are Explicit. Without
    ``mesh``, a context mesh with Explicit axes cannot be converted (linen has
    no concrete mesh to box), and is an error that says what to pass.
    """
    if mesh is not None:
        if isinstance(mesh, jax.sharding.Mesh):
            auto = _tree.auto_axes(jax.sharding.NamedSharding(mesh, P()))
            assert isinstance(auto, jax.sharding.NamedSharding)  # for pyright
            return auto.mesh
        return mesh
    context = jax.sharding.get_abstract_mesh()
    if not context.empty and context.explicit_axes:
        raise _errors.bad_value(
            "mesh",
            "given explicitly when the context mesh has Explicit axes (linen "
            "boxes constrain with Auto axes; pass mesh=your_mesh, which is used "
            "with Auto axes, or make the mesh with axis_types=Auto)",
            context,
        )
    return None


@_caches.registered
@functools.cache
def _flat_box(base: type) -> type:
    """``base`` (a linen box) for a value Flax reshapes before it unboxes it.

    ``nn.DenseGeneral`` calls its ``kernel_init`` with the kernel flattened to
    2-D and reshapes the value to the stored kernel before it unboxes it
    (``replace_boxed(kernel, reshape(kernel.unbox(), shape))``), the names
    being those of the stored axes (flax #3676). This box hands the flat value
    over unconstrained, and is ``base`` again, its names on the stored shape,
    once Flax has reshaped it.
    """

    class Flat(base):
        def unbox(self, apply_constraint=True):
            return self.value

        def replace_boxed(self, val):
            fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
            return base(**{**fields, "value": val})

    Flat.__name__ = Flat.__qualname__ = f"Flat{base.__name__}"
    return Flat


def current_module() -> Any:
    """The linen module whose method runs now (None outside every module).

    jinit's one use of a private Flax name: flax 0.12.8 has no public accessor
    of the module stack, and Flax's own ``linen/partitioning.py`` reads the
    same ``flax.linen.module._context.module_stack``. tests/test_flax_private.py
    fails if Flax changes it; here a Flax without it raises a named error.
    """
    from flax.linen import module

    stack = getattr(getattr(module, "_context", None), "module_stack", None)
    if not isinstance(stack, list):
        raise RuntimeError(
            "jinit.flax needs flax.linen.module._context.module_stack (a list, "
            "flax 0.12.x) to tell an nn.DenseGeneral kernel; this Flax has "
            f"{type(stack).__name__}. Please report it to jinit."
        )
    return stack[-1] if stack else None


def _in_dense_general() -> bool:
    """Whether the module whose parameter is being made is an ``nn.DenseGeneral``."""
    from flax import linen as nn

    return isinstance(current_module(), nn.DenseGeneral)


def _boxed(base: type, init, key, shape, dtype, spec, mesh, names, box: dict):
    """``init``'s draw for ``shape`` in ``base(value, names, ...)``.

    Drawn into the shards of ``spec``, or, where Flax calls the initializer
    with a flattened shape (``nn.DenseGeneral``: fewer axes than ``names``),
    drawn in that shape and sharded by the stored axes once Flax has reshaped
    it (under ``jax.jit`` XLA partitions the draw itself).
    """
    if len(spec) > len(shape):
        if not _in_dense_general():
            raise _errors.bad_value(
                "names",
                f"one entry per axis of the parameter's shape {shape} (more only "
                "for an nn.DenseGeneral kernel, which Flax draws flattened)",
                names,
            )
        value = init(key, shape, dtype)
        return _flat_box(base)(value, names, **box)
    value = init(key, shape, dtype, out_sharding=_sharding(spec, mesh))
    return base(value, names, **box)


def _check_mesh(mesh: Any) -> None:
    if mesh is not None and not isinstance(
        mesh, jax.sharding.Mesh | jax.sharding.AbstractMesh
    ):
        raise _errors.bad_type("mesh", "a jax.sharding.Mesh or None", mesh)


def linen_partitioning(
    init: Callable[..., jax.Array], names: Any, mesh: jax.sharding.Mesh | None = None
) -> Callable[..., Any]:
    """``nn.with_partitioning`` that draws each shard in place.

    Returns an initializer for ``flax.linen`` params that calls ``init(key, shape,
    dtype, out_sharding=NamedSharding(mesh, PartitionSpec(*names)))`` and boxes the
    result in ``nn.Partitioned(value, names, mesh)``, so the array never exists
    unsharded (``nn.with_partitioning`` draws it whole, then Flax reshards it).
    Without ``mesh``, the mesh of ``jax.set_mesh``/``jax.sharding.use_mesh`` is
    used; with no mesh at all the draw is unsharded, as in Flax. Values equal the
    unsharded draw (``jax_threefry_partitionable``, JAX's default).

    ``names`` are mesh axis names (``None`` for a replicated dimension); for
    logical names use :func:`linen_logical_partitioning`. ``init`` must accept
    ``out_sharding`` (every jinit initializer and ``jax.nn.initializers`` do).

    ``nn.DenseGeneral`` kernels of 3+ axes (flax #3676) take ``names`` of the
    stored kernel too: Flax calls the initializer with the kernel flattened to
    2-D, which is drawn in that shape (its values and fans are Flax's) and
    sharded by the stored axes once Flax has reshaped it; under ``jax.jit``
    (``jax.jit(model.init, out_shardings=...)``) XLA partitions the draw.

    Example:
      >>> mesh = jax.sharding.Mesh(jax.devices()[:1], ("model",))
      >>> dense = nn.Dense(1024, kernel_init=jinit.flax.linen_partitioning(
      ...     jinit.he_normal(), (None, "model"), mesh))
    """
    from flax import linen as nn

    spec = _spec(names)
    _check_mesh(mesh)

    def wrapper(key, shape, dtype=None):
        return _boxed(
            nn.Partitioned,
            init,
            key,
            shape,
            dtype,
            spec,
            mesh,
            tuple(spec),
            {"mesh": _linen_mesh(mesh)},
        )

    wrapper.jinit_init = init  # type: ignore[attr-defined]  # what jf.abstract draws
    return wrapper


def linen_logical_partitioning(
    init: Callable[..., jax.Array],
    names: Any,
    mesh: jax.sharding.Mesh | None = None,
    rules: Any = None,
) -> Callable[..., Any]:
    """``nn.with_logical_partitioning`` that draws each shard in place.

    ``names`` are logical axis names (``"embed"``, ``"mlp"``, None), mapped onto
    mesh axes at call time by ``rules`` (pairs ``(logical, mesh axes)``), else by
    the rules of the enclosing ``nn.logical_axis_rules(...)``, exactly as
    ``nn.logical_to_mesh_axes`` maps them. ``init`` draws with that sharding
    (on ``mesh``, else the context mesh) and the value is boxed in
    ``nn.LogicallyPartitioned(value, names, mesh, rules)``. A name no rule
    maps is a replicated dimension, as in Flax. Values equal the unsharded draw.
    ``nn.DenseGeneral`` kernels: as in :func:`linen_partitioning`.

    Example:
      >>> mesh = jax.sharding.Mesh(jax.devices()[:1], ("model",))
      >>> rules = [("embed", None), ("mlp", "model")]
      >>> dense = nn.Dense(4096, kernel_init=jinit.flax.linen_logical_partitioning(
      ...     jinit.he_normal(), ("embed", "mlp"), mesh, rules))
    """
    from flax import linen as nn
    from flax.linen import spmd

    logical = tuple(_spec(names))
    _check_mesh(mesh)

    def wrapper(key, shape, dtype=None):
        spec = spmd.logical_to_mesh_axes(logical, rules)
        return _boxed(
            nn.LogicallyPartitioned,
            init,
            key,
            shape,
            dtype,
            spec,
            mesh,
            logical,
            {"mesh": _linen_mesh(mesh), "rules": rules},
        )

    wrapper.jinit_init = init  # type: ignore[attr-defined]  # what jf.abstract draws
    return wrapper


def nnx_partitioning(
    init: Callable[..., jax.Array],
    names: Any,
    mesh: jax.sharding.Mesh | None = None,
    **metadata: Any,
) -> Callable[..., Any]:
    """``nnx.with_partitioning`` that draws each shard in place.

    Returns an initializer for ``flax.nnx`` layers (``kernel_init=``) that calls
    ``init(key, shape, dtype, out_sharding=...)`` with the sharding of ``names``
    on ``mesh`` (else the context mesh) and attaches ``out_sharding=names``,
    ``mesh`` and ``metadata`` to the Variable, as ``nnx.with_partitioning`` does;
    Flax's eager sharding then finds the array already in place.

    Example:
      >>> mesh = jax.sharding.Mesh(jax.devices()[:1], ("model",))
      >>> linear = nnx.Linear(64, 256, rngs=nnx.Rngs(0), kernel_init=jinit.flax.nnx_partitioning(
      ...     jinit.he_normal(), (None, "model"), mesh))
      >>> linear.kernel.shape
      (64, 256)
    """
    from flax import nnx

    spec = _spec(names)
    _check_mesh(mesh)

    def draw(key, shape, dtype=None):
        return init(key, shape, dtype, out_sharding=_sharding(spec, mesh))

    draw.jinit_init = init  # type: ignore[attr-defined]  # what jf.abstract draws
    return nnx.with_metadata(draw, out_sharding=tuple(spec), mesh=mesh, **metadata)
