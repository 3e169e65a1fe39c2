"""The per-parameter table: what ``materialize`` draws for each leaf, from its plan."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .. import _errors, _signature
from . import _paths
from ._plan import Planned, plan_leaves, planned_leaf


def law_std(init: Any, shape: tuple[int, ...]) -> float | None:
    """The std of the values ``init`` draws for ``shape`` (None if not one law)."""
    law = getattr(init, "law", None)
    if not callable(law):
        return None  # a foreign callable: its law is not known
    try:
        found = law(shape)
    except (ValueError, TypeError):
        return None
    std = getattr(found, "std", None)
    return None if std is None else float(std)


def _layer_stds(init: Any, shape: tuple[int, ...]) -> tuple[float, ...] | None:
    """The std of each layer of a depth-indexed stack (a law with ``layers``)."""
    law = getattr(init, "law", None)
    if not getattr(init, "draws_stack", False) or not callable(law):
        return None
    layers = getattr(law(shape), "layers", None)
    return None if not layers else tuple(float(x.std) for x in layers)


def row_law(p: Planned) -> tuple[tuple[int, ...], float, float, Any, Any]:
    """``(call shape, fan_in, fan_out, std, layer_stds)`` of a planned leaf."""
    if p.signature is None or p.draw is None:
        fan_in, fan_out = _signature.fans(p.init, None, p.shape)
        return p.shape, fan_in, fan_out, law_std(p.init, p.shape), None
    init, draw_shape, per_layer = p.draw
    fan_in, fan_out = _signature.fans(p.init, p.signature, p.shape)
    call = p.signature.shape
    std = law_std(p.init, call) if per_layer else law_std(init, draw_shape)
    return call, fan_in, fan_out, std, _layer_stds(init, draw_shape)


def leaf_std(path: str, init: Any, spec: Any) -> float | None:
    """The std of the law ``init`` draws the leaf ``spec`` from (None: unknown)."""
    return row_law(planned_leaf(path, init, spec))[3]


def table(
    tree: Any,
    rules: Any,
    *,
    default: Any = None,
    stacked: Mapping[str, Any] | None = None,
    like: Any = None,
) -> list[dict[str, Any]]:
    """One row per parameter: what ``jinit.materialize(tree, key, rules)`` draws.

    Each row is a dict with ``path``, ``shape`` (stored), ``call`` (the shape the
    initializer is called with, per layer: a ``DenseGeneral`` kernel's 2-D
    shape), ``stacked`` (the stacked axes of ``nn.scan``/``vmap`` layers),
    ``dtype``, ``rule`` (the regex that matched, or ``"default"``), ``init`` (the
    initializer, after ``for_leaf``), ``fan_in`` and ``fan_out`` (the fans it
    uses, per layer) and ``std``, the std of the law the leaf is drawn from (None
    where it is not a simple number: identity, dirac, a foreign callable), and
    ``layer_stds``: each layer's std for a depth-indexed stack
    (:class:`jinit.schemes.LayerStack`, whose ``std`` is then the whole leaf's),
    else None. :func:`format_table` shows such a std as ``layer 0..last layer``.

    The rows come from ``materialize``'s own plan, so the table raises exactly
    where ``materialize`` would (unmatched leaves, an initializer that cannot
    fill a leaf).

    Args:
      tree: an abstract or concrete tree (an adapter's ``abstract``, linen
        variables, nnx state, a dict of ``jax.ShapeDtypeStruct``).
      rules: rules as for ``materialize`` (e.g. ``jinit.flax.defaults("torch")``).
      default: the initializer of unmatched leaves.
      stacked: stacked axes by path regex, as for ``materialize``.
      like: an abstract tree whose signatures the leaves take, as for ``reinit``.

    Returns:
      A list of dicts, in the tree's leaf order.
    """
    leaves, _ = _paths.nonempty(tree)
    planned = plan_leaves(leaves, rules, default=default, stacked=stacked, like=like)
    rows = []
    for p in planned:
        call, fan_in, fan_out, std, layer_stds = row_law(p)
        rows.append(
            {
                "path": p.path,
                "shape": p.shape,
                "call": call,
                "stacked": () if p.signature is None else p.signature.stacked,
                "dtype": p.dtype.name,
                "rule": p.rule,
                "init": p.init,
                "fan_in": fan_in,
                "fan_out": fan_out,
                "std": std,
                "layer_stds": layer_stds,
            }
        )
    return rows


COLUMNS = (
    "path",
    "shape",
    "call",
    "stacked",
    "dtype",
    "rule",
    "init",
    "fan_in",
    "fan_out",
    "std",
)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("shape", "call", "stacked"):
        if key == "stacked" and not value:
            return "-"
        return "(" + ", ".join(map(str, value)) + ("," if len(value) == 1 else "") + ")"
    if key in ("fan_in", "fan_out"):
        return f"{value:g}"
    if key == "std":
        return f"{value:.4g}"
    if key == "init":
        return short(value)
    return str(value)


def _row_cell(key: str, row: Mapping[str, Any]) -> str:
    layers = row.get("layer_stds")
    if key == "std" and layers:  # a depth-indexed stack: layer 0 .. layer L-1
        return f"{layers[0]:.4g}..{layers[-1]:.4g}"
    return _cell(key, row.get(key))


def short(init: Any) -> str:
    """``Name(field=value, ...)`` with only the fields that differ from the default."""
    if not dataclasses.is_dataclass(init) or isinstance(init, type):
        return getattr(init, "__name__", None) or repr(init)
    args = []
    for f in dataclasses.fields(init):
        value = getattr(init, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        args.append(
            f"{f.name}={value:.4g}"
            if isinstance(value, float)
            else f"{f.name}={value!r}"
        )
    return f"{type(init).__name__}({', '.join(args)})"


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table of text cells (``|`` escaped)."""
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(esc, header)) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return "\n".join(lines)


def aligned(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain text columns, left-aligned, with a rule under the header."""
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(header)]

    def fmt(r: Sequence[str]) -> str:
        return "  ".join(s.ljust(w) for s, w in zip(r, widths, strict=True)).rstrip()

    return "\n".join(
        [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]
    )


def format_table(
    rows: Sequence[Mapping[str, Any]],
    *,
    style: Literal["markdown", "text"] = "markdown",
) -> str:
    """Formats :func:`table` rows as a Markdown table or aligned plain text.

    Raises:
      ValueError: an unknown ``style``.
    """
    if style not in ("markdown", "text"):
        raise _errors.bad_choice("style", style, ("markdown", "text"))
    cells = [[_row_cell(c, row) for c in COLUMNS] for row in rows]
    return (markdown if style == "markdown" else aligned)(COLUMNS, cells)
