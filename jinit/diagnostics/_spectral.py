r"""The spectral condition, and each weight's norms (its radius).

Yang, Simon & Bernstein (2023): feature learning at every width needs each
hidden matrix, and each of its updates, to have the spectral norm
``||W||_2 = Θ(sqrt(fan_out / fan_in))``. :func:`spectral_condition` measures it
per weight (per layer of a stacked leaf), before and after some steps;
:func:`norm_table` lists every parameter's norms (Frobenius, spectral, largest
row norm: the radius a norm-controlled init sets, :func:`jinit.with_norm`).

A weight is read as a matrix by its call shape (the signature of
``jinit.flax.abstract`` leaves, given as ``like``; else its stored shape in
Flax's ``(in, out)`` layout): fan-in axes and taps as rows, fan-out axes as
columns; a stacked leaf gives one matrix per layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _checks, _errors, _tree
from .._fans import compute_fans
from .._signature import Signature


def _matrices(x: np.ndarray, sig: Signature) -> np.ndarray:
    """``(layers, rows, cols)``: each layer's call-shape value as a matrix."""
    layers = sig.layers(x.shape)
    x = np.moveaxis(x, sig.stacked, tuple(range(len(layers))))
    x = x.reshape((math.prod(layers), *sig.shape))
    ndim = len(sig.shape)
    ins = _checks.check_axes("in_axis", sig.in_axis, ndim)
    outs = _checks.check_axes("out_axis", sig.out_axis, ndim)
    taps = tuple(a for a in range(ndim) if a not in ins + outs)
    perm = (0, *(1 + a for a in ins + taps + outs))
    n_out = math.prod(sig.shape[a] for a in outs)
    return x.transpose(perm).reshape(x.shape[0], -1, n_out)


def _leaves(params: Any, like: Any) -> list[tuple[str, np.ndarray, Signature]]:
    leaves, _ = _tree.flatten(params)
    sigs = _tree.signatures(leaves, None, like)
    out = []
    for leaf, sig in zip(leaves, sigs, strict=True):
        if leaf.spec is None:
            raise _errors.bad_type(f"params leaf {leaf.path!r}", "an array", leaf.leaf)
        x = np.asarray(leaf.leaf, np.float64)
        out.append((leaf.path, x, sig if sig is not None else Signature(x.shape)))
    return out


def _spectral_norms(m: np.ndarray) -> np.ndarray:
    return np.linalg.norm(m, 2, axis=(1, 2))


def spectral_condition(
    params: Any,
    like: Any = None,
    *,
    before: Any = None,
    tolerance: float = 2.0,
) -> list[dict[str, Any]]:
    """Each weight's spectral norm against ``sqrt(fan_out / fan_in)``.

    One row per weight of 2 or more dimensions (call shape), embeddings aside
    (their input is one-hot: no fan-in to speak of): ``path``, ``fan_in``,
    ``fan_out``, ``target = sqrt(fan_out / fan_in)``, ``norm`` (the largest
    ``||W||_2`` over the layers of a stacked leaf), ``ratio = norm / target``
    and ``ok`` (``1/tolerance <= ratio <= tolerance``). With ``before`` (the
    same tree earlier, e.g. at init), also ``update_norm = ||W - W_before||_2``
    and ``update_ratio``: the condition on the updates.

    Args:
      params: the parameters (any pytree of arrays).
      like: an abstract tree of the same paths (``jinit.flax.abstract``): the
        call shapes, fan axes and stacked axes. None: the stored shapes.
      before: the parameters some steps earlier, or None.
      tolerance: the factor ``ratio`` may be off by (> 1).

    Raises:
      ValueError: ``tolerance <= 1``, ``before``/``like`` of other paths or shapes.

    Example:
      >>> w = {"w": jinit.spectral()(jax.random.key(0), (64, 256))}
      >>> spectral_condition(w)[0]["ratio"]  # doctest: +SKIP
      1.0
    """
    tolerance = _checks.real_number("tolerance", tolerance, positive=True)
    if tolerance <= 1:
        raise _errors.bad_value("tolerance", "a number > 1", tolerance)
    now = _leaves(params, like)
    old: Mapping[str, np.ndarray] = {}
    if before is not None:
        old = {
            leaf.path: np.asarray(leaf.leaf, np.float64)
            for leaf in _tree.flatten(before)[0]
        }
        if set(old) != {p for p, _, _ in now}:
            raise _errors.bad_value(
                "before", "a tree with the leaf paths of `params`", sorted(old)[:10]
            )
    rows = []
    for path, x, sig in now:
        if len(sig.shape) < 2 or sig.role == "embedding":
            continue
        fan_in, fan_out = compute_fans(sig.shape, sig.in_axis, sig.out_axis)
        target = math.sqrt(fan_out / fan_in)
        norm = float(_spectral_norms(_matrices(x, sig)).max())
        row = {
            "path": path,
            "fan_in": fan_in,
            "fan_out": fan_out,
            "target": target,
            "norm": norm,
            "ratio": norm / target,
        }
        if before is not None:
            if old[path].shape != x.shape:
                raise _errors.bad_value(
                    f"before leaf {path!r}", f"of shape {x.shape}", old[path].shape
                )
            delta = float(_spectral_norms(_matrices(x - old[path], sig)).max())
            row.update(update_norm=delta, update_ratio=delta / target)
        row["ok"] = 1 / tolerance <= row["ratio"] <= tolerance
        rows.append(row)
    return rows


def norm_table(params: Any, like: Any = None) -> list[dict[str, Any]]:
    """Every parameter's norms: its radius, and its spectral condition.

    One row per leaf: ``path``, ``shape``, ``frobenius`` (``||W||_F`` of the
    whole leaf), ``rms``; for a weight (2 or more dimensions, call shape),
    also ``spectral`` (the largest ``||W||_2`` over its layers),
    ``max_row`` (the largest fan-in row norm) and ``target``
    (``sqrt(fan_out / fan_in)``, None for an embedding).
    """
    rows = []
    for path, x, sig in _leaves(params, like):
        row: dict[str, Any] = {
            "path": path,
            "shape": tuple(x.shape),
            "frobenius": float(np.linalg.norm(x.ravel())),
            "rms": float(np.sqrt(np.mean(x**2))) if x.size else 0.0,
        }
        if len(sig.shape) >= 2 and x.size:
            m = _matrices(x, sig)
            fan_in, fan_out = compute_fans(sig.shape, sig.in_axis, sig.out_axis)
            row.update(
                spectral=float(_spectral_norms(m).max()),
                max_row=float(np.linalg.norm(m, axis=1).max()),
                target=None if sig.role == "embedding" else math.sqrt(fan_out / fan_in),
            )
        rows.append(row)
    return rows


_COLUMNS = {
    "path": "path",
    "shape": "shape",
    "frobenius": "‖W‖_F",
    "rms": "RMS",
    "spectral": "‖W‖_2",
    "max_row": "max ‖row‖",
    "target": "√(fan_out/fan_in)",
}


def format_norms(rows: Sequence[Mapping[str, Any]]) -> str:
    """:func:`norm_table` rows as a Markdown table."""

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    keys = [k for k in _COLUMNS if any(k in r for r in rows)]
    lines = [
        "| " + " | ".join(_COLUMNS[k] for k in keys) + " |",
        "|" + "---|" * len(keys),
    ]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
