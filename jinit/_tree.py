"""Whole-model initialization: path rules, path-derived keys, grouped sharded draws.

``materialize`` turns an abstract tree (``jax.eval_shape(model.init, ...)``,
``nnx.split(nnx.eval_shape(...))``, a dict of ``jax.ShapeDtypeStruct``) into
arrays; ``reinit`` redraws some leaves of a concrete tree. Both name each leaf by
its path, pick its initializer with the first rule whose regex fully matches the
path, and derive its key from the path alone, so a leaf's value depends only on
(root key, path, shape, dtype, initializer).

Leaves that share (initializer, shape, dtype, sharding) form a group with one
compiled function, called once per leaf: compilation scales with the number of
groups (a dozen for a transformer of any depth), not with the number of leaves,
and each leaf is its own buffer from the start (nothing is stacked and split).
On the CPU, a large leaf of an elementwise law is drawn in blocks with the same bits
(``_blocks.draw_in_blocks``), so the scratch memory of a draw is that of one
block, not about three times the largest leaf.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import math
import re
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import numpy as np
from jax import lax
from jax.sharding import NamedSharding, Sharding

from . import _blocks, _checks, _dispatch, _errors, _signature
from ._base import Init
from ._constant import Constant
from ._signature import Signature
from ._variance import VarianceScaling

Rules = Mapping[str, Callable[..., Any]] | Iterable[tuple[str, Callable[..., Any]]]
ShardingsLike = Any  # a pytree of Sharding/None matching the tree, or path -> Sharding

# ----------------------------------------------------------------------------
# Paths.


def _is_box(x: Any) -> bool:
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


def _is_leaf(x: Any) -> bool:
    return _is_box(x) or isinstance(x, jax.ShapeDtypeStruct)


@dataclasses.dataclass
class Leaf:
    path: str
    leaf: Any  # as found in the tree (maybe boxed)
    spec: jax.ShapeDtypeStruct | None  # shape and dtype; None if the leaf has none

    def rebuild(self, value: Any) -> Any:
        if _is_box(self.leaf):
            _, treedef = jax.tree_util.tree_flatten(self.leaf)
            return jax.tree_util.tree_unflatten(treedef, [value])
        return value


def _spec(x: Any) -> jax.ShapeDtypeStruct | None:
    if _is_box(x):
        inner = jax.tree_util.tree_leaves(x)
        x = inner[0] if len(inner) == 1 else None
    if isinstance(x, jax.ShapeDtypeStruct):
        return x
    if isinstance(x, jax.Array | np.ndarray | np.generic):
        sharding = getattr(x, "sharding", None)
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)
    return None


def flatten(tree: Any) -> tuple[list[Leaf], Any]:
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_leaf)
    leaves = [Leaf(path_string(p), x, _spec(x)) for p, x in flat]
    seen: dict[str, int] = {}
    for leaf in leaves:
        seen[leaf.path] = seen.get(leaf.path, 0) + 1
    dupes = sorted(p for p, n in seen.items() if n > 1)
    if dupes:
        raise _errors.bad_value("tree", "a tree whose leaf paths are distinct", dupes)
    return leaves, treedef


# ----------------------------------------------------------------------------
# Rules.


def _check_init(arg: str, init: Any) -> None:
    if not callable(init):
        raise _errors.bad_type(
            arg, "an initializer: a callable (key, shape, dtype) -> Array", init
        )


def compile_rules(rules: Any) -> list[tuple[re.Pattern[str], Any]]:
    if isinstance(rules, Mapping):
        items = list(rules.items())
    elif isinstance(rules, str) or not isinstance(rules, Iterable):
        raise _errors.bad_type(
            "rules", "a mapping from path regex to initializer", rules
        )
    else:
        items = list(rules)
        if not all(isinstance(i, tuple) and len(i) == 2 for i in items):
            raise _errors.bad_type(
                "rules",
                "a mapping (or a sequence of pairs) from path regex to initializer",
                rules,
            )
    compiled = []
    for pattern, init in items:
        if isinstance(pattern, re.Pattern):
            regex = pattern
        elif isinstance(pattern, str):
            try:
                regex = re.compile(pattern)
            except re.error as e:
                raise _errors.bad_value(
                    "rules", f"keyed by valid regular expressions ({e})", pattern
                ) from None
        else:
            raise _errors.bad_type("rules", "keyed by regex strings", pattern)
        check_rule(f"rules[{pattern!r}]", init)
        compiled.append((regex, init))
    return compiled


def _match(rules: list[tuple[re.Pattern[str], Any]], path: str) -> Any:
    for regex, init in rules:
        if regex.fullmatch(path):
            return init
    return None


def unmatched_error(paths: list[str]) -> ValueError:
    shown = ", ".join(repr(p) for p in paths[:50])
    if len(paths) > 50:
        shown += f", ... ({len(paths) - 50} more)"
    return ValueError(
        "`rules` must match every leaf's path with a full regex match (or pass "
        f"`default=`); got no rule for {len(paths)} leaves: {shown}."
    )


# ----------------------------------------------------------------------------
# Keys.


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
    return _fold(key, np.array(path_hash(path), np.uint32))


def _fold(key: Any, words: Any) -> Any:
    """``fold_in(fold_in(key, words[0]), words[1])``: the one path-key rule."""
    return jax.random.fold_in(jax.random.fold_in(key, words[0]), words[1])


# ----------------------------------------------------------------------------
# Shardings.


def _shardings_by_path(shardings: Any, leaves: list[Leaf]) -> list[Any]:
    """One Sharding (or None) per leaf, from a matching tree or a path function."""
    if shardings is None:
        return [_own_sharding(leaf) for leaf in leaves]
    if callable(shardings) and not isinstance(shardings, Sharding):
        out = [shardings(leaf.path) for leaf in leaves]
        for leaf, s in zip(leaves, out, strict=True):
            if s is not None and not isinstance(s, Sharding):
                raise _errors.bad_type(
                    f"shardings({leaf.path!r})", "a jax.sharding.Sharding or None", s
                )
        return out
    flat, _ = jax.tree_util.tree_flatten_with_path(
        shardings,
        is_leaf=lambda x: x is None or isinstance(x, Sharding) or _is_box(x),
    )
    given = {}
    for p, s in flat:
        if _is_box(s):
            inner = jax.tree_util.tree_leaves(s, is_leaf=lambda x: x is None)
            s = inner[0] if inner else None
        if s is not None and not isinstance(s, Sharding):
            raise _errors.bad_type(
                "shardings",
                "a tree of jax.sharding.Sharding (or None) matching `tree`, or a "
                "function of the path",
                s,
            )
        given[path_string(p)] = s
    paths = [leaf.path for leaf in leaves]
    missing = [p for p in paths if p not in given]
    extra = sorted(set(given) - set(paths))
    if missing or extra:
        raise _errors.bad_value(
            "shardings",
            "a tree with exactly the leaf paths of `tree`",
            f"missing {missing[:10]}, unknown {extra[:10]}",
        )
    return [given[p] for p in paths]


def _own_sharding(leaf: Leaf) -> Sharding | None:
    sharding = getattr(leaf.spec, "sharding", None)
    return sharding if isinstance(sharding, Sharding) else None


def auto_axes(sharding: Sharding | None) -> Sharding | None:
    """The sharding to draw under: a NamedSharding's mesh with Auto axes.

    On a mesh with Explicit axes (``jax.make_mesh``'s default) a draw cannot be
    constrained; the same devices with Auto axes give the same layout, and the
    arrays are put back onto the given sharding (same shards) after the draw.
    """
    if not isinstance(sharding, NamedSharding) or not isinstance(
        sharding.mesh, jax.sharding.Mesh
    ):
        return sharding
    mesh = sharding.mesh
    auto = (jax.sharding.AxisType.Auto,) * len(mesh.axis_names)
    if tuple(mesh.axis_types) == auto:
        return sharding
    mesh = jax.sharding.Mesh(mesh.devices, mesh.axis_names, axis_types=auto)
    return NamedSharding(mesh, sharding.spec, memory_kind=sharding.memory_kind)


# ----------------------------------------------------------------------------
# The plan: groups of leaves drawn together.


class _ById:
    """A callable compared by identity (for initializers that are not hashable)."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ById) and other.fn is self.fn

    def __hash__(self) -> int:
        return id(self.fn)

    def __repr__(self) -> str:
        return repr(self.fn)


def _hashable(init: Any) -> Any:
    try:
        hash(init)
    except TypeError:
        return _ById(init)
    return init


@dataclasses.dataclass(frozen=True)
class _Group:
    init: Any
    shape: tuple[int, ...]
    dtype: np.dtype
    sharding: Sharding | None
    # The exact (bitwise) configuration: -0.0 and 0.0 configurations never merge.
    exact: Any = None
    # Drawn in blocks of the flattened leaf (_blocks.draw_in_blocks).
    blocks: bool = False
    # How the module calls this leaf's initializer (None: as stored).
    signature: Signature | None = None
    # Made from Python, without a compiled draw of its own (_python_leaf).
    python: bool = False

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def draw(self, key: Any) -> jax.Array:
        if self.signature is not None:
            out = _signature.draw(
                self.init, key, self.shape, self.dtype, self.signature, self.blocks
            )
        elif self.blocks:
            out = _blocks.draw_in_blocks(self.init, key, self.shape, self.dtype)
        elif isinstance(self.init, Init):
            out = self.init._generate(key, self.shape, self.dtype)
        else:
            out = self.init(key, self.shape, self.dtype)
        if isinstance(self.sharding, NamedSharding):
            out = lax.with_sharding_constraint(out, auto_axes(self.sharding))
        return out


def _python_leaf(group: _Group, key_words: Any) -> jax.Array:
    """A leaf made eagerly on the CPU without compiling a program of its shape.

    A constant is filled by NumPy; a law drawn in blocks is made by one
    compiled block per law (:func:`jinit._blocks.draw_from_python`), so the
    leaves of a model share a few compilations. The same values as
    ``group.draw``.
    """
    init, shape = group.init, group.shape
    if group.signature is not None:
        init, shape, _ = _signature.plan(init, group.signature, group.shape)
    if group.blocks:
        values = _blocks.draw_from_python(init, key_words, shape, group.dtype)
    else:
        assert isinstance(init, Constant)
        values = np.broadcast_to(np.asarray(init.value_in(group.dtype)), shape)
    if group.signature is not None:
        values = _signature.arrange(values, group.signature, group.shape)
    return jax.device_put(values, group.sharding)


def _with_path(e: Exception, path: str, init: Any) -> Exception:
    return type(e)(f"{e} (leaf {path!r}, initializer {init!r})")


def _check_leaf(
    init: Any, leaf: Leaf, key: Any, signature: Signature | None
) -> tuple[tuple[int, ...], np.dtype]:
    """Checks one (initializer, leaf) pair in Python, before anything is traced."""
    if leaf.spec is None:
        raise _errors.bad_type(
            f"tree leaf {leaf.path!r}",
            "a jax.ShapeDtypeStruct, an array or a Flax Variable holding one",
            leaf.leaf,
        )
    shape = tuple(leaf.spec.shape)
    call_shape = shape
    try:
        if signature is not None:
            _signature.check(signature, shape, leaf.path)
            init, call_shape, per_layer = _signature.plan(init, signature, shape)
            if per_layer:
                call_shape = signature.shape
        if isinstance(init, Init):
            dtype = _checks.resolve_dtype(
                leaf.spec.dtype, init._default_dtype(), init.dtype_kind
            )
            init._check(call_shape, dtype)
        else:
            dtype = np.dtype(leaf.spec.dtype)
            out = jax.eval_shape(lambda k: init(k, call_shape, dtype), key)
            if not (
                isinstance(out, jax.ShapeDtypeStruct)
                and out.shape == call_shape
                and out.dtype == dtype
            ):
                raise _errors.bad_value(
                    "initializer",
                    f"a callable returning an array of shape {call_shape} and dtype "
                    f"{dtype} for this leaf",
                    out,
                )
    except (ValueError, TypeError) as e:
        raise _with_path(e, leaf.path, init) from None
    return shape, dtype


def _is_threefry(impl: Any) -> bool:
    """Whether keys of ``impl`` (None: raw keys of the default) are threefry2x32."""
    name = _checks.config("jax_default_prng_impl") if impl is None else str(impl)
    return name == "threefry2x32"


def _fold_paths(impl: Any, key_data: Any, hashes: Any) -> Any:
    """Every leaf's key data: the root key folded with its path's two words."""
    key = key_data if impl is None else jax.random.wrap_key_data(key_data, impl=impl)
    keys = jax.vmap(lambda words: _fold(key, words))(hashes)
    return keys if impl is None else jax.random.key_data(keys)


_fold_paths_jit = jax.jit(_fold_paths, static_argnums=0)


def _draw_leaf(group: _Group, impl: Any, key_data: Any) -> jax.Array:
    """One leaf (traced), from its key's data."""
    key = key_data if impl is None else jax.random.wrap_key_data(key_data, impl=impl)
    return group.draw(key)


_LEAF_CACHE: dict[Any, Callable[..., Any]] = {}


def _compiled_leaf(group: _Group, impl: Any) -> Callable[..., Any]:
    """One cached ``jax.jit`` per group: every leaf of the group is one call of it."""
    cache_key = (group, impl)
    fn = _LEAF_CACHE.get(cache_key)
    if fn is None:
        fn = jax.jit(
            functools.partial(_draw_leaf, group, impl),
            out_shardings=auto_axes(group.sharding),
        )
        if len(_LEAF_CACHE) > 1024:
            _LEAF_CACHE.clear()
        _LEAF_CACHE[cache_key] = fn
    return fn


def _progress_bar(progress: bool | None, total: int) -> Any:
    """A tqdm bar over the bytes drawn, or None when none is to be shown.

    ``None`` shows one on a terminal once a call has taken 3 seconds, if tqdm is
    installed; ``True`` always (tqdm must be installed); ``False`` never.
    """
    if progress is False:
        return None
    try:
        import tqdm
    except ImportError:
        if progress:
            raise ImportError(
                "`progress=True` needs tqdm (pip install tqdm, or jinit[report])."
            ) from None
        return None
    bar = tqdm.tqdm(
        total=total,
        desc="materialize",
        unit="B",
        unit_scale=True,
        delay=0 if progress else 3,
        disable=False if progress else None,  # None: not on a non-terminal
    )
    return None if bar.disable else bar


@dataclasses.dataclass(frozen=True)
class Planned:
    """What one leaf gets: the one leaf plan ``materialize``, ``reinit`` and
    ``jinit.flax.table`` share.

    ``rule`` is the regex that matched (``"default"`` for ``default=``), or None
    for a leaf that is kept as it is (``reinit``'s unmatched leaves); ``init`` is
    the initializer after ``for_leaf``; ``signature`` how the module calls it.
    """

    index: int
    path: str
    rule: str | None
    init: Any
    shape: tuple[int, ...]
    dtype: np.dtype
    signature: Signature | None
    sharding: Sharding | None


def _is_builder(init: Any) -> bool:
    """A jinit builder function (``jinit.he_normal``) passed without calling it."""
    if not isinstance(init, types.FunctionType):
        return False
    if not getattr(init, "__module__", "").startswith("jinit"):
        return False
    params = list(inspect.signature(init).parameters)
    return not params or params[0] != "key"


def check_rule(arg: str, init: Any) -> None:
    """Checks that a rule's value is an initializer (not a builder left uncalled)."""
    if _is_builder(init):
        raise TypeError(
            f"`{arg}` must be an initializer; got the builder "
            f"{init.__name__}, which makes one: call it, e.g. {init.__name__}()."
        )
    _check_init(arg, init)


def signatures(
    leaves: list[Leaf], stacked: Mapping[str, Any] | None
) -> list[Signature | None]:
    """Each leaf's signature: its own, else one from ``stacked`` (regex -> axes)."""
    if stacked is None:
        return [_signature.signature_of(leaf.spec) for leaf in leaves]
    if not isinstance(stacked, Mapping):
        raise _errors.bad_type(
            "stacked", "a mapping from path regex to stacked axes", stacked
        )
    compiled = [(re.compile(p), axes) for p, axes in stacked.items()]
    out = []
    for leaf in leaves:
        sig = _signature.signature_of(leaf.spec)
        if sig is None and leaf.spec is not None:
            axes = _match(compiled, leaf.path)
            if axes is not None:
                try:
                    sig = _signature.stacked_signature(tuple(leaf.spec.shape), axes)
                except ValueError as e:
                    raise _with_path(e, leaf.path, axes) from None
        out.append(sig)
    return out


def _check_sharding(sharding: Any, shape: tuple[int, ...], path: str) -> None:
    """A sharding that can hold a leaf of ``shape`` (rank and divisibility)."""
    if sharding is None:
        return
    spec = getattr(sharding, "spec", None)
    if spec is not None and len(spec) > len(shape):
        raise _errors.bad_value(
            f"shardings[{path!r}]",
            f"a sharding whose PartitionSpec has at most {len(shape)} entries "
            f"(the leaf's shape is {shape})",
            spec,
        )
    try:
        sharding.shard_shape(shape)
    except Exception as e:  # JAX's own wording of what does not divide
        raise _errors.bad_value(
            f"shardings[{path!r}]",
            f"a sharding that divides the leaf's shape {shape}",
            f"{sharding} ({e})",
        ) from None


def _warn_guessed_layouts(planned: list[Planned]) -> None:
    guessed = [
        p.path
        for p in planned
        if p.signature is None
        and len(p.shape) >= 3
        and isinstance(p.init, VarianceScaling)
        and (p.init.in_axis, p.init.out_axis, p.init.batch_axis) == (-2, -1, ())
    ]
    if guessed:
        shown = ", ".join(repr(p) for p in guessed[:3])
        more = f" and {len(guessed) - 3} more" if len(guessed) > 3 else ""
        warnings.warn(
            f"{len(guessed)} leaves of 3+ dimensions ({shown}{more}) take their "
            "fans from the stored shape's last two axes; if any is stacked "
            "(nn.scan, vmap) or reshaped (DenseGeneral), pass "
            "jinit.flax.abstract(...) or stacked={regex: axes}; stacked={} "
            "says the stored layouts are right.",
            LayoutWarning,
            stacklevel=3,
        )


class LayoutWarning(UserWarning):
    """Fans read off stored shapes where the model's layout was not given."""


@functools.cache
def _abstract_key() -> jax.ShapeDtypeStruct:
    """A key to check initializers with (made on first use: importing jinit must
    not start JAX's backends, so ``jax.distributed.initialize`` can still run)."""
    return jax.eval_shape(lambda: jax.random.key(0))


def plan_leaves(
    leaves: list[Leaf],
    rules: Rules,
    *,
    default: Callable[..., Any] | None = None,
    shardings: ShardingsLike = None,
    stacked: Mapping[str, Any] | None = None,
    keep_unmatched: bool = False,
    key: Any = None,
) -> list[Planned]:
    """The plan of every leaf, checked in Python; raises where a draw would fail.

    Unmatched leaves are an error (listing them all), or, with
    ``keep_unmatched``, planned with ``rule=None`` and ``init=None``.
    """
    compiled = compile_rules(rules)
    if default is not None:
        check_rule("default", default)
    matched = [match_rule(compiled, leaf.path) for leaf in leaves]
    if default is not None:
        matched = [
            (r, i) if i is not None else ("default", default) for r, i in matched
        ]
    unmatched = [
        leaf.path for leaf, (_, i) in zip(leaves, matched, strict=True) if i is None
    ]
    if unmatched and not keep_unmatched:
        raise unmatched_error(unmatched)
    if unmatched and len(unmatched) == len(leaves):
        raise _errors.bad_value(
            "rules",
            "a mapping whose regexes match at least one leaf path",
            [leaf.path for leaf in leaves][:50],
        )
    signed = signatures(leaves, stacked)
    if shardings is None:
        per_leaf = [_own_sharding(leaf) for leaf in leaves]
    else:
        per_leaf = _shardings_by_path(shardings, leaves)
    # Every leaf as for_leaf rules see it: signed when it has a signature.
    specs = {
        leaf.path: _signed_spec(leaf.spec, sig)
        for leaf, sig in zip(leaves, signed, strict=True)
        if leaf.spec is not None
    }
    check_key = _abstract_key() if key is None else key
    planned = []
    for i, (leaf, (rule, init), sig, sharding) in enumerate(
        zip(leaves, matched, signed, per_leaf, strict=True)
    ):
        if init is None:
            kept = Planned(i, leaf.path, None, None, (), np.dtype("V"), sig, None)
            planned.append(kept)
            continue
        for_leaf = getattr(init, "for_leaf", None)
        if callable(for_leaf):
            init = for_leaf(leaf.path, specs)
            check_rule(f"for_leaf({leaf.path!r})", init)
        shape, dtype = _check_leaf(init, leaf, check_key, sig)
        _check_sharding(sharding, shape, leaf.path)
        planned.append(Planned(i, leaf.path, rule, init, shape, dtype, sig, sharding))
    if stacked is None:
        _warn_guessed_layouts([p for p in planned if p.rule is not None])
    return planned


def _signed_spec(spec: Any, sig: Signature | None) -> Any:
    if sig is None or _signature.signature_of(spec) is sig:
        return spec
    return _signature.Abstract(
        spec.shape, spec.dtype, sharding=getattr(spec, "sharding", None), signature=sig
    )


def match_rule(
    rules: list[tuple[re.Pattern[str], Any]], path: str
) -> tuple[str | None, Any]:
    for regex, init in rules:
        if regex.fullmatch(path):
            return regex.pattern, init
    return None, None


def _group(p: Planned, key: Any, traced: bool) -> _Group:
    """The compiled-function group of a planned leaf (and whether it uses blocks)."""
    init, draw_shape, per_layer = p.init, p.shape, False
    if p.signature is not None:
        init, draw_shape, per_layer = _signature.plan(p.init, p.signature, p.shape)
    # The one blocks policy of direct calls (jinit._dispatch.use_blocks).
    blocks = (
        isinstance(init, Init)
        and not per_layer
        and not traced
        and _dispatch.use_blocks(init, draw_shape, p.dtype, key, p.sharding)
    )
    # Eagerly on the CPU, constants and laws in blocks need no program of
    # their own shape (_python_leaf).
    python = not traced and (
        blocks
        or (
            isinstance(init, Constant)
            and not per_layer
            and jax.default_backend() == "cpu"
        )
    )
    exact = _dispatch.config_key(p.init) if isinstance(p.init, Init) else None
    # Only the layout decides a draw: leaves of different modules share groups.
    layout = None
    if p.signature is not None:
        s = p.signature
        layout = Signature(s.shape, s.stacked, s.in_axis, s.out_axis)
    return _Group(
        _hashable(p.init), p.shape, p.dtype, p.sharding, exact, blocks, layout, python
    )


def _check_progress(progress: Any) -> None:
    if progress is not None and not isinstance(progress, bool):
        raise _errors.bad_type("progress", "True, False or None", progress)


def draw_plan(
    planned: list[Planned], key: Any, progress: bool | None
) -> dict[int, Any]:
    """Draws every planned leaf that has an initializer; returns index -> array."""
    if _checks.is_typed_key(key):
        impl, key_data = jax.random.key_impl(key), jax.random.key_data(key)
    else:
        impl, key_data = None, key
    # Under a trace, the caller's program may shard a leaf: no blocks there.
    traced = _checks.is_tracer(key_data)
    drawn = [p for p in planned if p.init is not None]
    todo = [(p.index, _group(p, key, traced)) for p in drawn]
    hashes = np.array([path_hash(p.path) for p in drawn], np.uint32).reshape(-1, 2)
    if traced:
        keys = _fold_paths(impl, key_data, hashes)
    elif _is_threefry(impl):  # the same words, computed without a compile
        words = _blocks.fold_in(np.asarray(key_data), hashes[:, 0])
        keys = _blocks.fold_in(words, hashes[:, 1])
    else:
        keys = np.asarray(_fold_paths_jit(impl, np.asarray(key_data), hashes))
    total = sum(group.nbytes for _, group in todo)
    bar = None if traced else _progress_bar(progress, total)
    out: dict[int, jax.Array] = {}
    for (i, group), leaf_key in zip(todo, keys, strict=True):
        if traced:
            array = _draw_leaf(group, impl, leaf_key)
            if group.sharding is not None:
                array = lax.with_sharding_constraint(array, auto_axes(group.sharding))
        elif group.python:
            array = _python_leaf(group, leaf_key)
        else:
            array = _compiled_leaf(group, impl)(leaf_key)
            if group.sharding is not None and array.sharding != group.sharding:
                array = jax.device_put(array, group.sharding)
        if bar is not None:
            array.block_until_ready()
            bar.update(group.nbytes)
        out[i] = array
    if bar is not None:
        bar.close()
    return out


# ----------------------------------------------------------------------------
# The public functions.


def materialize(
    tree: Any,
    key: jax.Array,
    rules: Rules,
    *,
    default: Callable[..., Any] | None = None,
    shardings: ShardingsLike = None,
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
    This holds for threefry keys (JAX's default) and ``rbg``; ``unsafe_rbg``
    draws differently under ``vmap``/loops and is not supported for this promise.

    **for_leaf.** An initializer that defines ``for_leaf(path, leaves) ->
    initializer`` is asked, for each leaf it matches, which initializer to use
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
    threefry keys and ``jax_threefry_partitionable`` (JAX's default) values do
    not depend on the mesh.

    Args:
      tree: a pytree of ``jax.ShapeDtypeStruct``, arrays (used for their shape,
        dtype and sharding), or Flax ``nnx.Variable``/linen ``AxisMetadata``
        boxes of those.
      key: the root PRNG key (typed or raw).
      rules: an ordered mapping (or sequence of pairs) from path regex to
        initializer ``(key, shape, dtype) -> Array``.
      default: the initializer of leaves no rule matches; None makes an
        unmatched leaf an error.
      shardings: see above.
      progress: a tqdm progress bar over the bytes drawn: None shows one on a
        terminal when the call takes more than 3 seconds and tqdm is installed,
        True always, False never.

    Returns:
      A tree of the structure of ``tree`` with arrays (boxes keep their box).

    Raises:
      ValueError: leaves no rule matches (all of them are listed), a bad regex,
        duplicate paths, shardings whose paths differ from the tree's, or an
        initializer that cannot fill a leaf (the path is named).
      TypeError: a rule that is not callable, a leaf without shape and dtype.

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
    leaves, treedef = flatten(tree)
    planned = plan_leaves(
        leaves, rules, default=default, shardings=shardings, stacked=stacked, key=key
    )
    arrays = draw_plan(planned, key, progress)
    return jax.tree_util.tree_unflatten(
        treedef, [leaf.rebuild(arrays[i]) for i, leaf in enumerate(leaves)]
    )


def reinit(
    tree: Any,
    key: jax.Array,
    rules: Rules,
    *,
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

    Args:
      tree: a pytree of arrays (or Flax boxes of arrays).
      key: the root PRNG key.
      rules: an ordered mapping from path regex to initializer.
      progress: a progress bar, as for :func:`materialize`.

    Returns:
      A tree of the structure of ``tree``.

    Raises:
      ValueError: no rule matches any leaf (the paths are listed), a bad regex.
      TypeError: a rule that is not callable.
    """
    _checks.check_key(key)
    _check_progress(progress)
    leaves, treedef = flatten(tree)
    planned = plan_leaves(leaves, rules, stacked=stacked, keep_unmatched=True, key=key)
    abstract = [
        p.path
        for p, leaf in zip(planned, leaves, strict=True)
        if p.init is None and not isinstance(_value(leaf.leaf), jax.Array | np.ndarray)
    ]
    if abstract:
        raise _errors.bad_value(
            "tree",
            "a tree of arrays (reinit returns unmatched leaves as they are; to "
            "fill an abstract tree use jinit.materialize)",
            f"abstract or non-array leaves no rule matches: {abstract[:10]}",
        )
    arrays = draw_plan(planned, key, progress)
    return jax.tree_util.tree_unflatten(
        treedef,
        [
            leaf.rebuild(arrays[i]) if i in arrays else leaf.leaf
            for i, leaf in enumerate(leaves)
        ],
    )


def _value(x: Any) -> Any:
    if _is_box(x):
        inner = jax.tree_util.tree_leaves(x)
        return inner[0] if len(inner) == 1 else None
    return x
