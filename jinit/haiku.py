"""Haiku adapter: jinit initializers in Haiku modules, signed params, Haiku's law.

* :func:`wrap` turns any jinit (or ``jinit.keras``) initializer into a Haiku
  one: Haiku calls ``w_init(shape, dtype)`` and the key comes from
  ``hk.next_rng_key()``.
* :func:`abstract` runs a Haiku function's init abstractly
  (``jax.eval_shape``) under an ``hk.custom_creator`` that records, for every
  parameter, the shape its initializer is called with, the initializer the
  module declared, its module and role; a parameter stored with more leading
  axes than its call (``hk.layer_stack``, ``hk.vmap``) gets them as stacked
  axes. The result is the params dict (``{"linear": {"w": ..., "b": ...}}``)
  with :class:`jinit.Abstract` leaves, for ``jinit.materialize`` and
  :func:`table`.
* :func:`reinit` redraws some leaves of concrete params, with the signatures
  of an :func:`abstract` tree if given.
* :func:`defaults` gives rules that start the params as Haiku does: each
  module's declared initializer translated into jinit's core (Haiku's
  ``TruncatedNormal``, ``VarianceScaling``, ``RandomNormal``, ...), else by the
  names Haiku uses (``w``, ``b``, ``embeddings``, ``scale``, ``offset``).

Nothing here samples: Haiku's laws are named as core initializers, and a
declared initializer with no core equivalent is called by Haiku itself under
``hk.transform``. Haiku is imported lazily.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast, get_args

import jax
import numpy as np

from . import _checks, _errors, _signature, _tree
from ._constant import constant, ones, zeros
from ._distributions import Normal, TruncatedNormal, Uniform
from ._fans import compute_fans
from ._laws import TRUNC_STD
from ._signature import Abstract, Signature, role_of_name
from ._structured import orthogonal
from ._tree import ANY, qualname
from ._variance import variance_scaling

__all__ = ["FRAMEWORKS", "Wrapped", "abstract", "defaults", "reinit", "table", "wrap"]

Framework = Literal["haiku"]
FRAMEWORKS: tuple[str, ...] = get_args(Framework)

# ----------------------------------------------------------------------------
# jinit initializers as Haiku initializers.


@dataclasses.dataclass(frozen=True)
class Wrapped:
    """A Haiku initializer ``(shape, dtype) -> Array`` drawing ``init`` with
    ``hk.next_rng_key()``; ``init`` is the jinit initializer it wraps."""

    init: Any

    def __call__(self, shape: Any, dtype: Any = None) -> jax.Array:
        import haiku as hk

        return self.init(hk.next_rng_key(), tuple(int(d) for d in shape), dtype)


def wrap(init: Callable[..., jax.Array]) -> Wrapped:
    """A jinit initializer as a Haiku initializer.

    Haiku calls ``w_init(shape, dtype)``; the wrapper calls ``init(key, shape,
    dtype)`` with ``key = hk.next_rng_key()``. Any jinit initializer (and any
    ``jinit.keras`` one, or a ``(key, shape, dtype)`` callable) works. Inside
    ``hk.layer_stack`` Haiku calls it once per layer with the layer's shape,
    so its fans are the layer's.

    Args:
      init: an initializer ``(key, shape, dtype) -> Array``.

    Returns:
      A Haiku initializer (the frozen :class:`Wrapped`; ``.init`` is ``init``).

    Raises:
      TypeError: ``init`` is not an initializer (or a rule that needs the tree,
        like ``jinit.torch.bias_default()``).

    Example:
      >>> def forward(x):
      ...     return hk.Linear(64, w_init=jinit.haiku.wrap(jinit.he_normal()))(x)
      >>> params = hk.transform(forward).init(jax.random.key(0), jnp.ones((2, 8)))
      >>> params["linear"]["w"].shape
      (8, 64)
    """
    _tree.check_rule("init", init)
    if _tree.is_rule(init):
        raise _errors.bad_type(
            "init",
            "an initializer (key, shape, dtype) -> Array, not a rule that picks "
            "one from the whole tree (use it with jinit.materialize)",
            init,
        )
    return Wrapped(init)


# ----------------------------------------------------------------------------
# Haiku's declared initializers in jinit's core.


@dataclasses.dataclass(frozen=True)
class _HaikuCall:
    """A Haiku initializer called as ``(key, shape, dtype)``, by Haiku itself."""

    init: Any = dataclasses.field(compare=False)
    ident: int = 0

    def __call__(self, key, shape, dtype=None, out_sharding=None):
        import haiku as hk

        dtype = _checks.resolve_dtype(dtype)
        fn = hk.transform(lambda: self.init(tuple(shape), dtype))
        return fn.apply({}, key)

    def __repr__(self) -> str:
        return f"haiku({self.init!r})"


def _number(x: Any) -> float | None:
    if isinstance(x, int | float | np.number) or (
        isinstance(x, np.ndarray | jax.Array) and np.ndim(x) == 0
    ):
        try:
            return float(x)
        except (TypeError, jax.errors.ConcretizationTypeError):
            return None
    return None


def _translate(init: Any) -> Any:
    """jinit's equivalent of a Haiku initializer, else a :class:`_HaikuCall`."""
    import haiku as hk
    import jax.numpy as jnp

    hi = hk.initializers
    if isinstance(init, Wrapped):
        return init.init
    if init is jnp.zeros:
        return zeros
    if init is jnp.ones:
        return ones
    if type(init) is hi.TruncatedNormal:
        s, m = _number(init.stddev), _number(init.mean)
        lo, up = _number(init.lower), _number(init.upper)
        if s is not None and m is not None and lo is not None and up is not None:
            return TruncatedNormal(stddev=s, lower=lo, upper=up, mean=m)
    if type(init) is hi.RandomNormal:
        s, m = _number(init.stddev), _number(init.mean)
        if s is not None and m is not None:
            return Normal(stddev=s, mean=m)
    if type(init) is hi.RandomUniform:
        lo, up = _number(init.minval), _number(init.maxval)
        if lo is not None and up is not None:
            return Uniform(lo, up)
    if type(init) is hi.Constant and _number(init.constant) is not None:
        return constant(_number(init.constant))
    if type(init) is hi.VarianceScaling and init.fan_in_axes is None:
        # Haiku reads fans off the stored shape's last two axes (shape[-2] is
        # fan_in): explicit axes, so a transposed conv keeps Haiku's fans.
        return variance_scaling(
            init.scale,
            cast(Any, init.mode),
            cast(Any, init.distribution),
            in_axis=(-2,),
            out_axis=(-1,),
        )
    scale = _number(getattr(init, "scale", None))
    if type(init) is hi.Orthogonal and scale is not None:
        return orthogonal(scale, column_axis=init.axis)
    return _HaikuCall(init, id(init))


# ----------------------------------------------------------------------------
# Signatures from Haiku's parameter creation.


def _qualname(cls: type) -> str:
    return qualname(cls, (("haiku._src.nets.", "haiku.nets"), ("haiku._src.", "haiku")))


_CELLS = ("RNNCore",)


def _is_cell(cls: type) -> bool:
    return any(c.__name__ in _CELLS for c in cls.__mro__) and cls.__name__ not in (
        "DeepRNN",
        "ResetCore",
        "IdentityCore",
    )


@dataclasses.dataclass
class _Record:
    shape: tuple[int, ...]
    init: Any
    module: str
    parents: tuple[str, ...]
    name: str
    cell: str
    transposed: bool


def _module_stack() -> list[Any]:
    """The Haiku modules whose methods are running, outermost first."""
    try:
        from haiku._src import base

        return [state.module for state in base.current_frame().module_stack]
    except Exception:  # Haiku's internals moved: the parents are then unknown
        return []


def _record(context: Any, shape: Any, init: Any) -> _Record:
    owner = context.module
    stack = [m for m in _module_stack() if m is not owner]
    classes = [type(m) for m in stack]
    cls = type(owner) if owner is not None else None
    cells = [c for c in classes + ([cls] if cls else []) if _is_cell(c)]
    return _Record(
        shape=tuple(int(d) for d in shape),
        init=init,
        module=_qualname(cls) if cls else "",
        parents=tuple(_qualname(c) for c in classes),
        name=context.full_name.rsplit("/", 1)[-1],
        cell=_qualname(cells[-1]) if cells else "",
        transposed=cls is not None and "Transpose" in cls.__name__,
    )


def _signature_of(r: _Record, stored: tuple[int, ...], path: str) -> Signature:
    k = len(stored) - len(r.shape)
    if k < 0 or stored[k:] != r.shape:
        raise _errors.bad_value(
            f"leaf {path!r}",
            f"an array of its call shape {r.shape} with leading stacked axes",
            stored,
        )
    role = role_of_name(r.name)
    # Haiku's kernels are (in, out) and HWIO; a transposed conv's is
    # (*k, out, in), embeddings (vocab, dim): fan-in on the last axis.
    last = r.transposed or role == "embedding"
    in_axis, out_axis = (-1, -2) if last else (-2, -1)
    fan_in = fan_out = None
    if role in ("kernel", "recurrent_kernel", "embedding") and len(r.shape) >= 2:
        fan_in, fan_out = compute_fans(r.shape, in_axis, out_axis)
    return Signature(
        shape=r.shape,
        stacked=tuple(range(k)),
        in_axis=in_axis,
        out_axis=out_axis,
        init=_translate(r.init) if r.init is not None else None,
        module=r.module,
        parents=r.parents,
        role=role,
        cell=r.cell,
        fan_in=fan_in,
        fan_out=fan_out,
    )


def abstract(
    fn: Callable[..., Any], *args: Any, rng: Any = None, **kwargs: Any
) -> dict[str, Any]:
    """The params of a Haiku function, abstract, each carrying its init signature.

    ``fn`` is the function you give ``hk.transform`` (or
    ``hk.transform_with_state``); it is transformed and its ``init`` run by
    ``jax.eval_shape`` (nothing is allocated) under an ``hk.custom_creator``
    that sees each parameter's call shape, declared initializer and module.
    The params keep Haiku's names (``"mlp/~/linear_0"/"w"``); their leaves are
    :class:`jinit.Abstract`: ``jinit.materialize(tree, key,
    jinit.haiku.defaults("haiku"))`` then draws every parameter as its module
    would, and any other rule with the module's fans. Parameters of
    ``hk.layer_stack`` (Haiku calls their initializer per layer) get the
    stacked axis 0. State (``hk.get_state``) is not returned.

    Args:
      fn: the function to transform.
      *args, **kwargs: its arguments (arrays or ``jax.ShapeDtypeStruct``).
      rng: the key ``init`` gets (default ``jax.random.key(0)``: only shapes
        are computed).

    Returns:
      The params dict, with :class:`jinit.Abstract` leaves.

    Raises:
      TypeError: ``fn`` is not callable.

    Example:
      >>> def forward(x):
      ...     return hk.Linear(10, name="head")(jax.nn.relu(hk.Linear(64)(x)))
      >>> x = jnp.ones((2, 8))
      >>> tree = jinit.haiku.abstract(forward, x)
      >>> params = jinit.materialize(tree, key, jinit.haiku.defaults("haiku"))
    """
    import haiku as hk

    if not callable(fn) or isinstance(fn, hk.Transformed | hk.TransformedWithState):
        raise _errors.bad_type(
            "fn", "the function given to hk.transform (not its result)", fn
        )
    records: dict[str, _Record] = {}

    def creator(next_creator, shape, dtype, init, context):
        name = (context.lifted_prefix_name or "") + context.full_name
        records.setdefault(name, _record(context, shape, init))
        return next_creator(shape, dtype, init)

    def recorded(*a, **k):
        with hk.custom_creator(creator):
            return fn(*a, **k)

    rng = jax.random.key(0) if rng is None else rng
    init = hk.transform_with_state(recorded).init
    params, _ = jax.eval_shape(init, rng, *args, **kwargs)
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    paths = [_tree.path_string(p) for p, _ in flat]
    signatures = {}
    for path, (_, x) in zip(paths, flat, strict=True):
        r = records.get(path)
        if r is not None:
            signatures[path] = _signature_of(r, tuple(x.shape), path)
    signatures = _signature.with_layer_fans(signatures, "w")
    leaves = [
        Abstract(x.shape, x.dtype, sharding=x.sharding, signature=signatures[path])
        if path in signatures
        else x
        for path, (_, x) in zip(paths, flat, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def reinit(
    params: Any,
    key: jax.Array,
    rules: Any,
    *,
    like: Any = None,
    stacked: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> Any:
    """Redraws the params a rule matches; every other leaf is kept as it is.

    ``jinit.reinit`` on Haiku params, with the signatures of ``like`` (the
    :func:`abstract` tree of the same function): a redrawn leaf is then drawn
    as ``jinit.materialize(like, key, rules)`` draws it (the module's fans,
    ``hk.layer_stack`` layers drawn per layer). Without ``like`` it is
    ``jinit.reinit(params, key, rules, stacked=stacked)``.

    Raises:
      ValueError: ``like`` has other paths or shapes than ``params``.

    Example:
      >>> def forward(x):
      ...     return hk.Linear(10, name="head")(jax.nn.relu(hk.Linear(64)(x)))
      >>> x = jnp.ones((2, 8))
      >>> params = jinit.materialize(jinit.haiku.abstract(forward, x), key,
      ...                            jinit.haiku.defaults("haiku"))
      >>> params = jinit.haiku.reinit(params, key, {r"head/.*": jinit.zeros},
      ...                             like=jinit.haiku.abstract(forward, x))
    """
    if like is None:
        return _tree.reinit(params, key, rules, stacked=stacked, progress=progress)
    _checks.check_key(key)
    leaves, treedef = _tree.flatten(params)
    signed = {leaf.path: leaf.spec for leaf in _tree.flatten(like)[0]}
    given = {leaf.path: leaf.spec for leaf in leaves}
    if set(signed) != set(given) or any(
        getattr(signed[p], "shape", None) != getattr(given[p], "shape", ())
        for p in given
    ):
        raise _errors.bad_value(
            "like",
            "the jinit.haiku.abstract tree of the function that made `params` "
            "(the same paths and shapes)",
            sorted(set(signed) ^ set(given))[:10] or "other shapes",
        )
    for leaf in leaves:
        sig = _signature.signature_of(signed[leaf.path])
        if sig is not None and leaf.spec is not None:
            spec = leaf.spec
            leaf.spec = Abstract(
                spec.shape, spec.dtype, sharding=spec.sharding, signature=sig
            )
    planned = _tree.plan_leaves(
        leaves, rules, stacked=stacked, keep_unmatched=True, key=key
    )
    arrays = _tree.draw_plan(planned, key, progress)
    return jax.tree_util.tree_unflatten(
        treedef,
        [
            leaf.rebuild(arrays[i]) if i in arrays else leaf.leaf
            for i, leaf in enumerate(leaves)
        ],
    )


def table(
    tree: Any,
    rules: Any,
    *,
    default: Callable[..., Any] | None = None,
    stacked: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One row per parameter of Haiku params (``jinit.flax.table``'s rows).

    Example:
      >>> def forward(x):
      ...     return hk.Linear(10, name="head")(jax.nn.relu(hk.Linear(64)(x)))
      >>> x = jnp.ones((2, 8))
      >>> rows = jinit.haiku.table(jinit.haiku.abstract(forward, x),
      ...                          jinit.haiku.defaults("haiku"))
    """
    return _tree.table(tree, rules, default=default, stacked=stacked)


# ----------------------------------------------------------------------------
# Presets.


def _haiku_w(path: str, leaves: Mapping[str, Any]) -> Any:
    sig = _signature.signature_of(leaves.get(path))
    if sig is not None and sig.init is not None:
        return sig.init
    # hk.Linear/ConvND/DepthwiseConv: TruncatedNormal(1 / sqrt(fan_in)), fan_in
    # from (in, out) or HWIO as stored.
    # Haiku's TruncatedNormal(stddev=s) draws s * N(0, 1) truncated to +-2: the
    # variance scaling whose truncated normal has the untruncated std
    # 1 / sqrt(fan_in), i.e. scale = TRUNC_STD^2.
    return variance_scaling(TRUNC_STD**2, "fan_in", "truncated_normal")


def _declared_or(fallback: Any) -> Callable[[str, Mapping[str, Any]], Any]:
    def choose(path, leaves):
        sig = _signature.signature_of(leaves.get(path))
        return sig.init if sig is not None and sig.init is not None else fallback

    return choose


def defaults(framework: Framework = "haiku") -> dict[str, Any]:
    r"""Rules that initialize Haiku params as Haiku does.

    On :func:`abstract` trees every parameter gets the initializer its module
    declared (Haiku's defaults and any ``w_init=`` given), translated into
    jinit's core. On plain params the names decide:

    =============================== =========================================
    leaf                            law
    =============================== =========================================
    ``w`` (Linear, Conv, Depthwise)  TruncatedNormal(1/sqrt(fan_in)), +-2 std
    ``w_i``, ``w_h`` (GRU)           VarianceScaling(1, fan_in, truncated)
    ``b``, ``offset``               zeros
    ``embeddings`` (Embed)          TruncatedNormal(1), +-2
    ``scale``                       ones
    =============================== =========================================

    Args:
      framework: ``"haiku"``.

    Returns:
      A new ``dict`` of rules.

    Raises:
      ValueError: an unknown framework.

    Example:
      >>> def forward(x):
      ...     return hk.Linear(10, name="head")(jax.nn.relu(hk.Linear(64)(x)))
      >>> x = jnp.ones((2, 8))
      >>> params = jinit.materialize(jinit.haiku.abstract(forward, x), key,
      ...                            jinit.haiku.defaults("haiku"))
    """
    if framework not in FRAMEWORKS:
        raise _errors.bad_choice("framework", framework, FRAMEWORKS)
    gru = variance_scaling(1.0, "fan_in", "truncated_normal")
    pl = _tree.PerLeaf
    return {
        ANY + "w": pl("haiku_w", _haiku_w),
        ANY + "w_[ih]": pl("haiku_gru", _declared_or(gru)),
        ANY + "(?:b|offset)": pl("haiku_bias", _declared_or(zeros)),
        ANY + "embeddings": pl("haiku_embed", _declared_or(TruncatedNormal(1.0))),
        ANY + "scale": pl("haiku_scale", _declared_or(ones)),
        r".*": pl("haiku_declared", _declared),
    }


def _declared(path: str, leaves: Mapping[str, Any]) -> Any:
    return _signature.declared(path, leaves, "jinit.haiku.abstract(...)")
