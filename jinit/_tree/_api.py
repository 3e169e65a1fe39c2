"""``materialize`` and ``reinit``: the whole-model entry points of the engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from .. import _checks, _errors
from . import _paths
from ._draw import draw_plan
from ._plan import plan_leaves
from ._rules import Rules, RuleValue


def _check_progress(progress: Any) -> None:
    if progress is not None and not isinstance(progress, bool):
        raise _errors.bad_type("progress", "True, False or None", progress)


def materialize(
    tree: Any,
    key: jax.Array,
    rules: Rules,
    *,
    default: RuleValue | None = None,
    shardings: Any = None,
    stacked: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> Any:
    r"""Initializes every leaf of an abstract tree by path rules, sharded, in place.

    Each leaf is named by its path, the key path joined with "/" (dict keys and
    attribute names as is, sequence indices as numbers; a Flax ``nnx.Variable`` or
    linen ``Partitioned`` box counts as the leaf): Flax linen params give
    ``"params/Dense_0/kernel"``, an ``nnx.State`` gives ``"Dense_0/kernel"``.
    The initializer of a leaf is that of the first rule whose regex *fully*
    matches its path (``re.fullmatch``), else ``default``.

    **Keys.** The leaf at ``path`` is drawn with the key

    .. math:: k_{path} = \mathrm{fold\_in}(\mathrm{fold\_in}(key, h_0), h_1),
       \quad (h_0, h_1) = \mathrm{blake2b}_{64}(\mathrm{utf8}(path))

    (the two little-endian uint32 words of the 8-byte BLAKE2b digest of the
    path). So a leaf's value depends only on (``key``, its path, shape, dtype,
    initializer): adding, removing or reordering other leaves changes nothing
    else. For a jinit initializer the value is bit for bit
    ``init(k_path, shape, dtype)``; for another callable ``fn``, it is
    ``jax.jit(fn, static_argnums=(1, 2))(k_path, shape, dtype)`` (an eager call
    of a JAX initializer may differ from its jitted self by an ulp).
    This holds for every counter-based key (threefry2x32, JAX's default,
    threefry4x32, philox2x32, philox4x32) and ``rbg``; ``unsafe_rbg`` draws
    differently under ``vmap``/loops and is not supported for this promise.

    **Rules.** A :class:`jinit.Rule` (``for_leaf(path, leaves) ->
    initializer``) is asked, for each leaf it matches, which initializer to use
    there; ``leaves`` maps every path of the tree to its ``jax.ShapeDtypeStruct``
    (PyTorch's default bias uses it to find its sibling kernel's fan-in).

    **Speed and memory.** Leaves sharing (initializer, shape, dtype, sharding)
    share one compiled function, called once per leaf: compile time grows with
    the number of such groups, not of leaves. On the CPU, a large, unsharded
    leaf of an elementwise law (uniform, normal, truncated normal, variance
    scaling) is drawn in blocks of 2**20 values with the same bits, so peak
    memory is the parameters plus a few blocks (``jinit._dispatch.use_blocks``,
    the policy of direct calls too). Called inside ``jax.jit``, every leaf is
    traced into the caller's program instead (XLA then compiles each one).

    **Sharding.** ``shardings`` is a tree of ``jax.sharding.Sharding`` (or None)
    with the leaf paths of ``tree``, or a function ``path -> Sharding | None``;
    without it, a leaf's own ``.sharding`` (a ``ShapeDtypeStruct`` or array
    template's) is used if it has one. Each leaf is generated in its shards
    (with a ``NamedSharding``, every device draws only its part), and under
    ``jax.distributed`` each process holds only its addressable shards. With
    counter-based keys (threefry with ``jax_threefry_partitionable``, JAX's
    default; threefry4x32; philox2x32/4x32) values do not depend on the mesh.

    Args:
      tree: a pytree of ``jax.ShapeDtypeStruct``, arrays (used for their shape,
        dtype and sharding), or Flax ``nnx.Variable``/linen ``AxisMetadata``
        boxes of those.
      key: the root PRNG key (typed or raw).
      rules: an ordered mapping (or sequence of pairs) from path regex to
        initializer ``(key, shape, dtype) -> Array`` or :class:`jinit.Rule`.
      default: the initializer of leaves no rule matches; None makes an
        unmatched leaf an error.
      shardings: see above.
      stacked: stacked axes by path regex (``{r".*blocks/.*": 0}``, any axes:
        MaxText stacks on axis 1) for a plain tree whose leaves don't carry
        their module's layout; a stacked layer of 3+ axes under a variance
        scaling with default axes is refused (its fan axes are unknown): pass
        an adapter's ``abstract`` tree instead. On a leaf that carries its
        layout, more batch axes of its call (the experts of a MoE kernel
        ``(E, in, out)`` made by one call): each index gets the law of one
        layer, with that layer's fans.
      progress: a tqdm progress bar over the bytes drawn: None shows one on a
        terminal when the call takes more than 3 seconds and tqdm is installed,
        True always, False never.

    Returns:
      A tree of the structure of ``tree`` with arrays (boxes keep their box).

    Raises:
      ValueError: an empty tree, leaves no rule matches (all of them are
        listed), a bad regex,
        duplicate paths, shardings whose paths differ from the tree's, or an
        initializer that cannot fill a leaf (the path is named).
      TypeError: a rule that is neither an initializer nor a :class:`jinit.Rule`,
        a leaf without shape and dtype.

    Example:
      >>> import jax, jinit
      >>> tree = {"dense": {"kernel": jax.ShapeDtypeStruct((4, 3), "float32"),
      ...                   "bias": jax.ShapeDtypeStruct((3,), "float32")}}
      >>> params = jinit.materialize(
      ...     tree, jax.random.key(0),
      ...     {r".*/kernel": jinit.he_normal(), r".*/bias": jinit.zeros})
      >>> params["dense"]["kernel"].shape
      (4, 3)
    """
    _checks.check_key(key)
    _check_progress(progress)
    leaves, treedef = _paths.nonempty(tree)
    planned = plan_leaves(
        leaves, rules, default=default, shardings=shardings, stacked=stacked, key=key
    )
    arrays = _draw_eagerly(planned, key, progress)
    return jax.tree_util.tree_unflatten(
        treedef, [leaf.rebuild(arrays[i]) for i, leaf in enumerate(leaves)]
    )


def reinit(
    tree: Any,
    key: jax.Array,
    rules: Rules,
    *,
    like: Any = None,
    stacked: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> Any:
    """Redraws the leaves whose path a rule matches; every other leaf is kept as is.

    The ``reset_parameters`` of JAX: a fresh classifier head for fine-tuning, or
    GPT-2's ``c_proj`` scaling, ``{r".*c_proj/kernel": jinit.normal(0.02 /
    math.sqrt(2 * n_layer))}``. Rules, path keys and ``for_leaf`` are those of
    :func:`materialize` (a redrawn leaf equals what ``materialize`` gives it for
    the same key), and a redrawn leaf keeps the sharding of the array it replaces.
    Unmatched leaves are returned untouched (the same objects).

    Trained parameters don't say how their module calls each initializer (an
    ``nn.scan`` stack, a ``DenseGeneral`` kernel): pass ``like=``, the model's
    abstract tree (``jinit.flax.abstract(model, x)``, or the Equinox/Haiku
    adapter's), and each redrawn leaf gets the module's fans, as
    ``materialize`` gives it on that tree.

    Args:
      tree: a pytree of arrays (or Flax boxes of arrays).
      key: the root PRNG key.
      rules: an ordered mapping from path regex to initializer.
      like: an abstract tree with the leaf paths and shapes of ``tree`` whose
        signatures give each leaf's layout (None: read from ``tree``'s leaves).
      stacked: stacked axes by path regex, as for :func:`materialize` (not with
        ``like``).
      progress: a progress bar, as for :func:`materialize`.

    Returns:
      A tree of the structure of ``tree``.

    Raises:
      ValueError: no rule matches any leaf (the paths are listed), a bad regex,
        a ``like`` tree of other paths or shapes.
      TypeError: a rule that is neither an initializer nor a rule.
    """
    _checks.check_key(key)
    _check_progress(progress)
    leaves, treedef = _paths.nonempty(tree)
    planned = plan_leaves(
        leaves, rules, like=like, stacked=stacked, keep_unmatched=True, key=key
    )
    abstract = [
        p.path
        for p, leaf in zip(planned, leaves, strict=True)
        if p.init is None
        and not isinstance(_paths.unbox(leaf.leaf), jax.Array | np.ndarray)
    ]
    if abstract:
        raise _errors.bad_value(
            "tree",
            "a tree of arrays (reinit returns unmatched leaves as they are; to "
            "fill an abstract tree use jinit.materialize)",
            f"abstract or non-array leaves no rule matches: {abstract[:10]}",
        )
    arrays = _draw_eagerly(planned, key, progress)
    return jax.tree_util.tree_unflatten(
        treedef,
        [
            leaf.rebuild(arrays[i]) if i in arrays else leaf.leaf
            for i, leaf in enumerate(leaves)
        ],
    )


def _draw_eagerly(planned: list, key: Any, progress: bool | None) -> dict[int, Any]:
    """:func:`draw_plan`; under ``jax.set_mesh`` of Explicit axes, with them Auto.

    The draws are constrained to their shardings with Auto axes (as on a mesh
    of Explicit axes with no mesh set); the arrays come back on the shardings
    asked for. Under a trace the caller's mesh stays as it is.
    """
    context = jax.sharding.get_abstract_mesh()
    if context.empty or not context.explicit_axes or _checks.is_tracer(key):
        return draw_plan(planned, key, progress)
    auto = context.update_axis_types(
        {axis: jax.sharding.AxisType.Auto for axis in context.explicit_axes}
    )
    with jax.sharding.use_abstract_mesh(auto):
        return draw_plan(planned, key, progress)
