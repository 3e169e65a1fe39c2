"""μP's init: the base rules rescaled per parameter, or u-μP's unit init."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import _errors, _tree
from ..schemes._depth import depth_scaling


def std(path: str, init: Any, spec: Any) -> float | None:
    """The std of the law ``init`` draws the leaf ``spec`` from (None: unknown)."""
    return _tree.leaf_std(path, init, spec)


def for_leaf(compiled, default, path: str, leaves: Mapping[str, Any]) -> Any:
    """The initializer the compiled rules give the leaf at ``path``."""
    _, init = _tree.match_rule(compiled, path)
    if init is None:
        init = default
    if init is None:
        raise _tree.unmatched_error([path])
    choose = getattr(init, "for_leaf", None)
    return choose(path, leaves) if callable(choose) else init


def _same(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # an initializer whose == is not a bool
        return False


def _check_leaf(mp: Any, path: str, leaves: Mapping[str, Any]) -> None:
    if path not in mp.base:
        raise _errors.bad_value(
            "tree", "the parametrized target model's tree", f"leaf {path!r}"
        )
    mp.check_shape(path, leaves[path].shape)


def rules(
    mp: Any, base_rules: Any, default: Callable[..., Any] | None
) -> dict[str, Any]:
    """The rules of :meth:`Parametrization.rules`."""
    from .._tree import PerLeaf

    name = mp.variant.name
    if mp.variant.init == "unit":
        return _unit_rules(mp, base_rules, default)
    if base_rules is None:
        raise _errors.bad_value(
            "base_rules", f"a rule set under variant {name!r}", None
        )
    compiled = _tree.compile_rules(base_rules)
    if default is not None:
        _tree.check_rule("default", default)
    if mp.variant.init == "base":
        out = {r.pattern: init for r, init in compiled}
        return out if default is None else {**out, ".*": default}

    def choose(path: str, leaves: Mapping[str, Any]) -> Any:
        init = for_leaf(compiled, default, path, leaves)
        _check_leaf(mp, path, leaves)
        param = mp[path]
        _, rule = _tree.match_rule(compiled, path)
        # The rule as written (a per-layer DepthScaled) or as resolved for this
        # leaf (a scheme's role wrapper gives its marked residual law).
        scaling = depth_scaling(default if rule is None else rule) or depth_scaling(
            init
        )
        depth = mp.variant.depth_compensation(scaling, path, mp.depth_mult)
        base_init = for_leaf(compiled, default, path, mp.base)
        if param.init_mult == 1.0 and param.base_shape == param.shape and depth == 1:
            if _same(base_init, init):
                return init  # the same law at the same shape
        base_std = std(path, base_init, mp.base[path])
        target_std = std(path, init, leaves[path])
        if base_std is None or target_std is None:
            raise _errors.bad_value(
                f"base rule of {path!r}",
                "an initializer whose std jinit knows (a jinit law)",
                init,
            )
        if target_std == 0.0:
            if base_std != 0.0:
                raise _errors.bad_value(
                    f"base rule of {path!r}",
                    "a law that is zero at both widths or at neither",
                    init,
                )
            return init
        mult = 1.0 if param.init_mult is None else param.init_mult
        return _rescaled(init, mult * depth * base_std / target_std, path)

    return {".*": PerLeaf(f"{name}_rules", choose)}


def _rescaled(init: Any, factor: float, path: str) -> Any:
    """``init`` whose values are ``factor`` times as large (the same law, scaled)."""
    if factor == 1.0:
        return init
    scaled = getattr(init, "scaled", None)
    out = scaled(factor) if callable(scaled) else None
    if out is None:
        raise _errors.bad_value(
            f"base rule of {path!r}",
            "a jinit initializer whose law jinit can rescale (variance scaling, "
            "normal, uniform, truncated normal, orthogonal, sparse)",
            init,
        )
    return out


def _unit_rules(mp: Any, base_rules: Any, default: Any) -> dict[str, Any]:
    """The variant's own init (u-μP's unit init, spectral μP's stds), per parameter."""
    from .._tree import PerLeaf

    for arg, value in (("base_rules", base_rules), ("default", default)):
        if value is not None:
            raise _errors.bad_value(
                arg,
                f"None under variant {mp.variant.name!r} (it draws every parameter "
                "by its own rule; prepend rules to override some leaves)",
                value,
            )

    def choose(path: str, leaves: Mapping[str, Any]) -> Any:
        _check_leaf(mp, path, leaves)
        return mp.variant.own_init(mp[path])[0]

    return {".*": PerLeaf(f"{mp.variant.name}_rules", choose)}
