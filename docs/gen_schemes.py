"""The "Named schemes" section of ``docs/reference.md`` (a documentation tool).

Each table is ``jinit.flax.table`` of a scheme's own rules on a tree of its
reference model's parameters (``docs/scheme_models.py``, the data code cannot
know: paths, shapes, sizes, sources), so every law and std in it is the scheme
objects' own.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from scheme_models import Scheme, _schemes

__all__ = ["Scheme", "_schemes", "describe", "scheme_rows", "section_lines"]


def _num(x: float) -> str:
    return f"{x:.5g}"


def describe(init: Any, shape: tuple[int, ...]) -> tuple[str, float | None]:
    """``(law in words, sigma)`` of a scheme's initializer on ``shape``.

    ``sigma`` is the std parameter the source passes (before truncation), None
    for constants and deterministic laws.
    """
    import jinit.schemes as js
    from jinit._constant import Constant
    from jinit._distributions import Normal, TruncatedNormal, Uniform
    from jinit._variance import VarianceScaling
    from jinit.schemes._depth import _ZeroRow

    if isinstance(init, _ZeroRow):
        text, sigma = describe(init.base, shape)
        return f"{text}; row {init.index} = 0", sigma
    if isinstance(init, Normal):
        return f"normal σ {_num(init.stddev)}", init.stddev
    if isinstance(init, TruncatedNormal):
        s = init.stddev
        if init.bounds == "absolute":
            cut = f"cut at [{_num(init.lower)}, {_num(init.upper)}] (absolute)"
        else:
            cut = f"cut at ±{_num(init.upper)}σ"
        return f"normal σ {_num(s)}, {cut}", s
    if isinstance(init, VarianceScaling):
        sigma = init.sigma(shape)
        return (
            f"{init.distribution}, std {_num(sigma)} (variance_scaling"
            f"({_num(init.scale)}, {init.mode!r}))".replace("'", '"'),
            sigma,
        )
    if isinstance(init, Uniform):
        return f"uniform [{_num(init.minval)}, {_num(init.maxval)}]", None
    if isinstance(init, Constant):
        return _num(float(np.asarray(init.value))), None
    if isinstance(init, js.ZerO):
        return "ZerO: identity (out ≤ in) or Hadamard/2^(c/2) (out > in)", None
    return repr(init), None


def _rule_role(rule: str) -> str:

    match = re.match(r"\(\?#(\w+)\)", rule)
    return match.group(1) if match else rule


def scheme_rows(scheme: Scheme) -> list[dict[str, Any]]:
    """One row per reference leaf: role, path, shape, law, sigma and std.

    From ``jinit.flax.table`` of the scheme's rules on the reference leaves
    (``std`` is the values' std, after any truncation; ``sigma`` the law's std
    parameter, see :func:`describe`).
    """
    import jax

    import jinit.flax as jf

    tree = {p: jax.ShapeDtypeStruct(s, np.float32) for p, s in scheme.leaves}
    order = {p: i for i, (p, _) in enumerate(scheme.leaves)}
    table = jf.table(tree, scheme.rules(), stacked={})  # the layouts are right
    rows = []
    for row in sorted(table, key=lambda r: order[r["path"]]):
        law, sigma = describe(row["init"], row["call"])
        rows.append(
            {
                "role": _rule_role(row["rule"]),
                "path": row["path"],
                "shape": row["shape"],
                "law": law,
                "sigma": sigma,
                "std": row["std"],
            }
        )
    return rows


def _scheme_section(scheme: Scheme) -> list[str]:
    lines = [
        f"### {scheme.title}",
        "",
        f"`{scheme.call()}` — at {scheme.size}. Reproduces: {scheme.source}.",
        "",
        "| role | path (example) | shape | law | std |",
        "|---|---|---|---|---|",
    ]
    for r in scheme_rows(scheme):
        shape = (
            "("
            + ", ".join(map(str, r["shape"]))
            + ("," if len(r["shape"]) == 1 else "")
            + ")"
        )
        std = "—" if r["std"] is None else _num(r["std"])
        lines.append(f"| {r['role']} | `{r['path']}` | {shape} | {r['law']} | {std} |")
    lines.append("")
    if scheme.notes:
        lines += [*scheme.notes, ""]
    return lines


def section_lines() -> list[str]:
    """The "Named schemes" section of the reference."""
    lines = [
        "## Named schemes (`jinit.schemes`)",
        "",
        "Each table is `jinit.flax.table` of the scheme's rules on a tree of its"
        " reference model's parameters (Flax layout, one layer per role, two where"
        " the law depends on the layer), so the numbers are the scheme objects'"
        " own. `law` gives σ, the std the source passes (before truncation);"
        " `std` is the std of the values (after truncation). Roles are matched by"
        " path (`jinit.schemes.PATTERNS`, overridable per role with `patterns=`).",
        "",
    ]
    for scheme in _schemes():
        lines += _scheme_section(scheme)
    return lines
