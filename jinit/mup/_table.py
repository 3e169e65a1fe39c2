"""The μP plan as rows (one per parameter) and as a Markdown table."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import _errors, _tree
from ._init import for_leaf, std

#: Row key -> column name, in column order.
COLUMNS = {
    "path": "path",
    "role": "role",
    "kind": "kind",
    "infinite": "width axes",
    "width_mult": "m",
    "init_mult": "init ×",
    "init": "init",
    "std": "std",
    "sp_std": "SP std",
    "adam_lr": "Adam LR ×",
    "adam_eps": "Adam eps ×",
    "adam_wd": "Adam WD ×",
    "sgd_lr": "SGD LR ×",
    "sgd_wd": "SGD WD ×",
    "depth": "depth",
    "forward": "forward ×",
}


def _leaves(mp: Any, target: Any) -> Mapping[str, Any]:
    """``{path: spec}`` of the target (the plan's own when ``target`` is None)."""
    if target is None:
        return mp.target
    leaves = {}
    for leaf in _tree.flatten(target)[0]:
        path, spec = leaf.path, leaf.spec
        if spec is None:
            raise _errors.bad_type(
                f"target leaf {path!r}", "a jax.ShapeDtypeStruct or an array", leaf.leaf
            )
        if path not in mp.target:
            raise _errors.bad_value(
                "target", "the parametrized target model's tree", f"leaf {path!r}"
            )
        mp.check_shape(path, spec.shape, "target")
        leaves[path] = spec
    return leaves


def _stds(rules: Any, default: Any, leaves: Mapping[str, Any]) -> dict[str, Any]:
    compiled = _tree.compile_rules(rules)
    return {
        p: std(p, for_leaf(compiled, default, p, leaves), spec)
        for p, spec in leaves.items()
    }


def table(
    mp: Any,
    base_rules: Any = None,
    target: Any = None,
    default: Callable[..., Any] | None = None,
) -> list[dict[str, Any]]:
    """The rows of :meth:`Parametrization.table`."""
    leaves = _leaves(mp, target)
    stds: dict[str, Any] = {}
    sp: dict[str, Any] = {}
    unit = mp.variant.init == "unit"
    if base_rules is not None or unit:
        stds = _stds(mp.rules(base_rules, default=default), None, leaves)
    if base_rules is not None:
        sp = _stds(base_rules, default, leaves)
    rows = []
    for p in mp.params:
        row = dataclasses.asdict(p)
        if unit:
            row["init"] = mp.variant.own_init(p)[1]
        if p.path in stds:
            row["std"], row["sp_std"] = stds[p.path], sp.get(p.path)
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(str, value)) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """:meth:`Parametrization.table` rows as a Markdown table (plain column names)."""
    keys = [c for c in COLUMNS if any(c in r for r in rows)]
    lines = [
        "| " + " | ".join(COLUMNS[c] for c in keys) + " |",
        "|" + "---|" * len(keys),
    ]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(c)) for c in keys) + " |")
    return "\n".join(lines)
