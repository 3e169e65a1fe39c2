"""Norm-based presets: Scion's per-norm init with radii, and Modula's.

Rules for :func:`jinit.materialize` that pick each parameter's norm-controlled
law (:mod:`jinit._normed`) from its call shape and role (the signature the
adapters' ``abstract`` records; a plain tree is read in Flax's ``(in, out)``
layout).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import _checks
from .._constant import ones, zeros
from .._normed import col_normalized, sign, spectral
from .._signature import Signature
from .._tree import PerLeaf
from .._widths import path_regex


def _signature(leaf: Any) -> Signature:
    sig = getattr(leaf, "signature", None)
    return sig if sig is not None else Signature(tuple(int(d) for d in leaf.shape))


def _rules(
    name: str,
    readout: re.Pattern[str] | None,
    embedding: re.Pattern[str] | None,
    matrix: Any,
    head: Any,
    embed: Any,
) -> dict[str, Any]:
    def choose(path: str, leaves: Mapping[str, Any]) -> Any:
        sig = _signature(leaves[path])
        if len(sig.shape) < 2:
            return ones if sig.role == "scale" else zeros
        axes = {"in_axis": sig.in_axis, "out_axis": sig.out_axis}
        if readout is not None and readout.fullmatch(path):
            return head(axes)
        if sig.role == "embedding" or (embedding and embedding.fullmatch(path)):
            return embed(axes)
        return matrix(axes)

    return {".*": PerLeaf(name, choose)}


def scion(
    readout: str | None,
    *,
    radius: float = 50.0,
    readout_radius: float = 3000.0,
    embedding_radius: float = 1.0,
    embedding: str | None = None,
) -> dict[str, Any]:
    """Scion's init (Pethick et al. 2025): each norm's ``init`` times its group's radius.

    As ``Scion.init()`` of LIONS-EPFL/scion ``scion.py`` multiplies each norm's
    init by the group's ``scale``:

    * hidden matrices: ``Spectral`` (orthogonal × ``sqrt(fan_out/fan_in)``),
      conv kernels ``SpectralConv`` (per tap ``/ taps``), × ``radius``:
      :func:`jinit.spectral`;
    * the readout (``readout``, a path regex): ``Sign`` (``±1/fan_in``) ×
      ``readout_radius``: :func:`jinit.sign` with ``normalized=True``;
    * embeddings (by their signature, or ``embedding``, a path regex):
      ``ColNorm(transpose=True)`` (each token vector RMS 1) ×
      ``embedding_radius``: :func:`jinit.col_normalized`;
    * biases 0 (``BiasRMS``), norm scales 1.

    Defaults are the README's nanoGPT radii (hidden 50, head ``50·60``) and the
    shallow-nanoGPT embedding group's 1.0.

    Returns:
      ``{".*": PerLeaf}`` rules for :func:`jinit.materialize`.

    Raises:
      ValueError, TypeError: a bad regex, a radius that is not a positive number.
    """
    readout_re = path_regex("readout", readout)
    embedding_re = path_regex("embedding", embedding)
    r = _checks.real_number("radius", radius, positive=True)
    rr = _checks.real_number("readout_radius", readout_radius, positive=True)
    er = _checks.real_number("embedding_radius", embedding_radius, positive=True)
    return _rules(
        "scion",
        readout_re,
        embedding_re,
        lambda axes: spectral(r, **axes),
        lambda axes: sign(rr, normalized=True, **axes),
        lambda axes: col_normalized(er, **axes),
    )


def modula(*, scale: float = 1.0, embedding: str | None = None) -> dict[str, Any]:
    """Modula's init (modula-systems/modula ``atom.py``), times ``scale``.

    ``Linear.initialize``: orthogonal × ``sqrt(fan_out/fan_in)`` for every
    matrix, the readout included (:func:`jinit.spectral`; conv kernels per
    tap); ``Embed.initialize``: Gaussian with each token vector of norm
    ``sqrt(d)`` (RMS 1; :func:`jinit.col_normalized`), for embeddings by their
    signature or ``embedding`` (a path regex); biases 0, norm scales 1.

    Returns:
      ``{".*": PerLeaf}`` rules for :func:`jinit.materialize`.
    """
    embedding_re = path_regex("embedding", embedding)
    s = _checks.real_number("scale", scale, positive=True)
    return _rules(
        "modula",
        None,
        embedding_re,
        lambda axes: spectral(s, **axes),
        lambda axes: spectral(s, **axes),
        lambda axes: col_normalized(s, **axes),
    )
