r"""Norm-controlled laws: spectral, row/column-normalized, sign, and exact norms.

The laws of the norm-based parametrizations (Modula, Scion, the hyperball
optimizers AdamH/MuonH), where the init's *norm* is the hyperparameter:

* :func:`spectral`: semi-orthogonal times ``sqrt(fan_out / fan_in)`` (every
  singular value equal), per conv tap ``/ taps`` (Scion's ``SpectralConv``);
* :func:`row_normalized` / :func:`col_normalized`: Gaussian with each fan-in
  (row) or fan-out (column) vector scaled to an exact norm (Scion's ``RowNorm``
  and ``ColNorm``; Modula's embedding);
* :func:`sign`: Rademacher ``±value`` (Scion's ``Sign`` head);
* :func:`with_norm`: any law rescaled to an exact Frobenius or row norm (a
  radius, as AdamH/MuonH keep ``||W_0||_F`` for the whole run).

A weight is read as matrices as :func:`jinit.compute_fans` reads it: the
``in_axis`` and ``out_axis`` channels, the other axes (a conv's taps) the
receptive field, ``batch_axis`` independent matrices (stacked layers). Rows are
fan-in vectors (``in`` axes and taps, one per output unit and batch index),
columns fan-out vectors (``out`` axes and taps, one per input unit). Norms are
taken in the compute dtype by pairwise elementwise additions, so a sharded draw
has the bits of the unsharded one.

References:
  Bernstein et al., modula-systems/modula (``Linear``, ``Embed``); Pethick et
  al. 2025, arXiv 2502.07529, LIONS-EPFL/scion ``scion.py``; Wen et al. 2025,
  "Fantastic Pretraining Optimizers 2.1" (AdamH/MuonH).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks, _dispatch, _errors, _laws
from ._base import Init
from ._constant import Constant
from ._distributions import Normal
from ._fans import compute_fans
from ._structured import _orthogonal, _sum_rows
from ._types import ORTHOGONAL_METHODS, Axis, DTypeLike, OrthogonalMethod
from ._variance import VarianceScaling

# ----------------------------------------------------------------------------
# Shapes as stacks of matrices.


def _layout(shape, in_axis, out_axis, batch_axis, taps_first: bool):
    """``(perm, (B, T, I, O))``: ``shape`` permuted into batch, taps, in, out.

    ``taps_first``: taps before the in axes (one matrix per tap); else after
    them (a row is the in axes and the taps together).
    """
    ndim = len(shape)
    compute_fans(shape, in_axis, out_axis, batch_axis)  # checks the axes
    ins = _checks.check_axes("in_axis", in_axis, ndim)
    outs = _checks.check_axes("out_axis", out_axis, ndim)
    batch = _checks.check_axes("batch_axis", batch_axis, ndim)
    taps = tuple(a for a in range(ndim) if a not in ins + outs + batch)
    perm = batch + (taps + ins if taps_first else ins + taps) + outs
    size = lambda axes: math.prod(shape[a] for a in axes)  # noqa: E731
    return perm, (size(batch), size(taps), size(ins), size(outs))


def _arrange(x, shape, perm):
    """The ``(B, ...)`` array ``x`` laid out as ``shape`` (undoes :func:`_layout`)."""
    x = jnp.reshape(x, tuple(shape[a] for a in perm))
    return jnp.transpose(x, tuple(int(i) for i in np.argsort(perm)))


def _norms(x, axis: int):
    """The Euclidean norms along ``axis``, the same bits sharded or not."""
    return jnp.sqrt(_sum_rows(jnp.moveaxis(x * x, axis, 0)))


def _check_matrix(name: str, shape, dtype) -> None:
    if len(shape) < 2:
        raise _errors.bad_value("shape", f"at least 2-D for {name}", shape)
    _checks.check_real_dtype("dtype", dtype)


def _axes(in_axis, out_axis, batch_axis) -> tuple[Any, Any, Any]:
    return (
        _checks.check_axis_spec("in_axis", in_axis),
        _checks.check_axis_spec("out_axis", out_axis),
        _checks.check_axis_spec("batch_axis", batch_axis),
    )


@dataclasses.dataclass(frozen=True)
class _Matrices(Init):
    """Base of the laws that read a shape as matrices (fan axes, batch axes)."""

    scale: float = 1.0
    in_axis: Axis = -2
    out_axis: Axis = -1
    batch_axis: Axis = ()
    dtype: DTypeLike | None = None

    def _sizes(self, shape, taps_first=False):
        return _layout(shape, self.in_axis, self.out_axis, self.batch_axis, taps_first)

    def _check(self, shape, dtype):
        _check_matrix(type(self).__name__, shape, dtype)
        self._sizes(shape)

    def scaled(self, factor: float):
        """Values ``factor`` times as large: ``scale`` times ``factor``."""
        return dataclasses.replace(self, scale=self.scale * factor)


# ----------------------------------------------------------------------------
# spectral


@dataclasses.dataclass(frozen=True)
class Spectral(_Matrices):
    """Semi-orthogonal matrices of spectral norm ``sqrt(fan_out/fan_in)``. See :func:`spectral`."""

    normalized: bool = True
    method: OrthogonalMethod = "qr"

    def factor(self, shape: tuple[int, ...]) -> float:
        """Every singular value of one matrix (one tap of one batch index)."""
        _, (_, taps, i, o) = self._sizes(shape, taps_first=True)
        ratio = math.sqrt(o / i) if self.normalized else math.sqrt(o)
        return self.scale * ratio / taps

    def _law(self, shape, dtype):
        _, (_, _, i, o) = self._sizes(shape, taps_first=True)
        return _laws.haar_entry_law(self.factor(shape), max(i, o))

    def _generate(self, key, shape, dtype):
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        perm, (b, taps, i, o) = self._sizes(shape, taps_first=True)
        cdt = _laws.compute_dtype(dtype)
        one = lambda k: _orthogonal(k, (i, o), cdt, 1, self.method)  # noqa: E731
        n = b * taps
        q = one(key) if n == 1 else jax.vmap(one)(jax.random.split(key, n))
        factor = np.asarray(self.factor(shape), _laws.real_dtype(cdt))
        return _laws.scale_and_round(_arrange(q, shape, perm), dtype, scale=factor)


def spectral(
    scale: float = 1.0,
    *,
    normalized: bool = True,
    in_axis: Axis = -2,
    out_axis: Axis = -1,
    batch_axis: Axis = (),
    method: OrthogonalMethod = "qr",
    dtype: DTypeLike | None = None,
) -> Spectral:
    r"""Builds a semi-orthogonal initializer of spectral norm ``scale·sqrt(fan_out/fan_in)``.

    Each ``(in, out)`` matrix (one per conv tap and batch index) is a
    Haar-random semi-orthogonal matrix (:func:`jinit.orthogonal`, ``method``)
    times

    .. math:: \text{scale} \cdot \sqrt{c_{out} / c_{in}} \,/\, \text{taps}

    (``normalized=False``: ``sqrt(c_out)``), ``c`` the channels of the in and
    out axes, ``taps`` the size of the other axes: every singular value of a
    dense kernel equals ``scale·sqrt(fan_out/fan_in)``, the spectral condition
    of Yang, Simon & Bernstein (2023) as Modula's ``Linear`` and Scion's
    ``Spectral`` initialize; a conv kernel is Scion's ``SpectralConv`` (per tap
    ``sqrt(c_out/c_in)/k`` in 1-D, ``/k²`` in 2-D). A 2-D shape gives
    ``jinit.orthogonal(scale·sqrt(fan_out/fan_in))`` bit for bit. Matrices of
    ``batch_axis`` (stacked layers) and taps are independent.

    Law:
      scale · √(fan_out/fan_in) · semi-orthogonal

      Each ``(in, out)`` matrix (per conv tap and batch index) a Haar
      semi-orthogonal matrix (``orthogonal``) times
      ``scale · √(c_out/c_in) / taps`` (``normalized=False``:
      ``scale · √c_out``): every singular value of a dense kernel is
      ``scale · √(fan_out/fan_in)``, the spectral condition (Yang, Simon &
      Bernstein 2023).

    Args:
      scale: the radius the matrices are multiplied by.
      normalized: ``sqrt(fan_out/fan_in)`` (True) or ``sqrt(fan_out)``.
      in_axis, out_axis, batch_axis: the axes, as :func:`jinit.variance_scaling`
        (Flax's ``(in, out)`` by default; PyTorch's ``(out, in)``: ``in_axis=-1,
        out_axis=-2``).
      method: ``"qr"`` or ``"wy"`` (see :func:`jinit.orthogonal`).
      dtype: the default dtype.

    Raises:
      ValueError: an unknown ``method``; at call time a shape below 2-D, bad
        axes, a complex dtype.

    Example:
      >>> import jax, jinit
      >>> w = jinit.spectral()(jax.random.key(0), (64, 256))
      >>> round(float(jax.numpy.linalg.norm(w, 2)), 4)
      2.0

    References:
      Yang, Simon & Bernstein (2023), arXiv 2310.17813; modula ``Linear``;
      LIONS-EPFL/scion ``Spectral``, ``SpectralConv``.
    """
    if method not in ORTHOGONAL_METHODS:
        raise _errors.bad_choice("method", method, ORTHOGONAL_METHODS)
    scale = _checks.real_number("scale", scale)
    return Spectral(
        scale,
        *_axes(in_axis, out_axis, batch_axis),
        _checks.check_builder_dtype(dtype),
        bool(normalized),
        method,
    )


# ----------------------------------------------------------------------------
# row_normalized, col_normalized


@dataclasses.dataclass(frozen=True)
class RowNormalized(_Matrices):
    """Gaussian rows (fan-in vectors) of one exact norm. See :func:`row_normalized`."""

    normalized: bool = True

    def norm(self, shape: tuple[int, ...]) -> float:
        """The Euclidean norm of every row."""
        fan_in = compute_fans(shape, self.in_axis, self.out_axis, self.batch_axis)[0]
        return self.scale / math.sqrt(fan_in) if self.normalized else self.scale

    def _law(self, shape, dtype):
        _, (_, taps, i, _) = self._sizes(shape)
        return _laws.haar_entry_law(self.norm(shape), taps * i)

    def _generate(self, key, shape, dtype):
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        perm, (b, taps, i, o) = self._sizes(shape)
        cdt = _laws.compute_dtype(dtype)
        g = _laws.normal(key, (b, taps * i, o), cdt)
        r = np.asarray(self.norm(shape), cdt)
        x = g * (r / _norms(g, 1))[:, None, :]
        return _laws.round_into(_arrange(x, shape, perm), dtype)


@dataclasses.dataclass(frozen=True)
class ColNormalized(_Matrices):
    """Gaussian columns (fan-out vectors) of one exact norm. See :func:`col_normalized`."""

    normalized: bool = False

    def norm(self, shape: tuple[int, ...]) -> float:
        """The Euclidean norm of every column."""
        fan_in, fan_out = compute_fans(
            shape, self.in_axis, self.out_axis, self.batch_axis
        )
        r = self.scale * math.sqrt(fan_out)
        return r / fan_in if self.normalized else r

    def _law(self, shape, dtype):
        _, (_, taps, _, o) = self._sizes(shape)
        return _laws.haar_entry_law(self.norm(shape), taps * o)

    def _generate(self, key, shape, dtype):
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        perm, (b, taps, i, o) = self._sizes(shape)
        cdt = _laws.compute_dtype(dtype)
        g = _laws.normal(key, (b, i, taps * o), cdt)
        r = np.asarray(self.norm(shape), cdt)
        x = g * (r / _norms(g, 2))[:, :, None]
        return _laws.round_into(_arrange(x, shape, perm), dtype)


def row_normalized(
    scale: float = 1.0,
    *,
    normalized: bool = True,
    in_axis: Axis = -2,
    out_axis: Axis = -1,
    batch_axis: Axis = (),
    dtype: DTypeLike | None = None,
) -> RowNormalized:
    """Builds a Gaussian initializer whose rows have the exact norm ``scale/sqrt(fan_in)``.

    A row is the fan-in vector of one output unit (the ``in`` axes and the
    taps, per batch index): a N(0, 1) draw, each row divided by its norm and
    times ``scale / sqrt(fan_in)`` (``normalized=False``: ``scale``), Scion's
    ``RowNorm.init`` (``w /= ||row||``, ``/ sqrt(d_in)`` if normalized, its
    default) times the group's ``scale``. Each row is uniform on its sphere.

    Law:
      N(0, 1) rows at norm scale/√fan_in

      A N(0, 1) draw, each row (the fan-in vector of one output unit, per
      batch index) divided by its norm, times ``scale / √fan_in``
      (``normalized=False``: ``scale``): each row uniform on its sphere.

    Args:
      scale: the radius.
      normalized: divide by ``sqrt(fan_in)`` (rows of RMS ``scale / fan_in``).
      in_axis, out_axis, batch_axis, dtype: as :func:`spectral`.

    References:
      LIONS-EPFL/scion ``RowNorm``.
    """
    scale = _checks.real_number("scale", scale)
    return RowNormalized(
        scale,
        *_axes(in_axis, out_axis, batch_axis),
        _checks.check_builder_dtype(dtype),
        bool(normalized),
    )


def col_normalized(
    scale: float = 1.0,
    *,
    normalized: bool = False,
    in_axis: Axis = -2,
    out_axis: Axis = -1,
    batch_axis: Axis = (),
    dtype: DTypeLike | None = None,
) -> ColNormalized:
    """Builds a Gaussian initializer whose columns have the exact norm ``scale·sqrt(fan_out)``.

    A column is the fan-out vector of one input unit (the ``out`` axes and
    the taps, per batch index): N(0, 1), each column to norm ``scale ·
    sqrt(fan_out)`` (RMS ``scale``), ``/ fan_in`` if ``normalized``: Scion's
    ``ColNorm.init`` (default ``normalized=False``). On an embedding ``(vocab,
    d)`` (in ``vocab``, out ``d``) every token vector has RMS ``scale``:
    Modula's ``Embed`` and Scion's ``ColNorm(transpose=True)``.

    Law:
      N(0, 1) columns at norm scale·√fan_out

      A N(0, 1) draw, each column (the fan-out vector of one input unit, per
      batch index) at norm ``scale · √fan_out`` (RMS ``scale``), ``/ fan_in``
      with ``normalized=True``.

    Args:
      scale: the radius.
      normalized: divide by ``fan_in``.
      in_axis, out_axis, batch_axis, dtype: as :func:`spectral`.

    References:
      LIONS-EPFL/scion ``ColNorm``; modula ``Embed``.
    """
    scale = _checks.real_number("scale", scale)
    return ColNormalized(
        scale,
        *_axes(in_axis, out_axis, batch_axis),
        _checks.check_builder_dtype(dtype),
        bool(normalized),
    )


# ----------------------------------------------------------------------------
# sign


@dataclasses.dataclass(frozen=True)
class Sign(_Matrices):
    """Rademacher ``±value``. See :func:`sign`."""

    normalized: bool = False

    def value(self, shape: tuple[int, ...]) -> float:
        """The magnitude of every entry."""
        if not self.normalized:
            return self.scale
        fan_in = compute_fans(shape, self.in_axis, self.out_axis, self.batch_axis)[0]
        return self.scale / fan_in

    def _check(self, shape, dtype):
        _checks.check_real_dtype("dtype", dtype)
        if self.normalized:
            super()._check(shape, dtype)

    def _law(self, shape, dtype):
        c = abs(self.value(shape))
        return _laws.Law(0.0, c, (-c, c), None)

    def _generate(self, key, shape, dtype):
        bits = jax.random.bernoulli(key, 0.5, shape)
        c = np.asarray(self.value(shape), _laws.compute_dtype(dtype))
        return _laws.round_into(jnp.where(bits, c, -c), dtype)


def sign(
    value: float = 1.0,
    *,
    normalized: bool = False,
    in_axis: Axis = -2,
    out_axis: Axis = -1,
    batch_axis: Axis = (),
    dtype: DTypeLike | None = None,
) -> Sign:
    """Builds a Rademacher initializer: each entry ``+value`` or ``-value``, each with probability ½.

    ``normalized=True`` gives ``±value / fan_in``, Scion's ``Sign`` head
    (``(randint(0, 2) * 2 - 1) / d_in``, its default) times the group's scale.

    Law:
      ±value (Rademacher)

      Each entry ``+value`` or ``-value`` with probability ½;
      ``normalized=True``: ``±value / fan_in``.

    Args:
      value: the magnitude.
      normalized: divide by the fan-in (then the shape must be 2-D or more).
      in_axis, out_axis, batch_axis, dtype: as :func:`spectral`.

    References:
      LIONS-EPFL/scion ``Sign``.
    """
    value = _checks.real_number("value", value)
    return Sign(
        value,
        *_axes(in_axis, out_axis, batch_axis),
        _checks.check_builder_dtype(dtype),
        bool(normalized),
    )


# ----------------------------------------------------------------------------
# with_norm


def _is_zero(init: Any) -> bool:
    return isinstance(init, Constant) and not np.any(init._array())


def _normal_inner(init: Any) -> bool:
    """Whether ``init`` draws i.i.d. centred Gaussians (rotation invariant)."""
    if isinstance(init, Normal):
        return init.mean == 0
    return isinstance(init, VarianceScaling) and init.distribution == "normal"


@dataclasses.dataclass(frozen=True)
class WithNorm(Init):
    """A law rescaled to an exact Frobenius or row norm. See :func:`with_norm`."""

    init: Any = None
    frobenius_norm: float | None = None
    row_norm: float | None = None
    in_axis: Axis = -2
    out_axis: Axis = -1
    batch_axis: Axis = ()

    def _default_dtype(self):
        return getattr(self.init, "dtype", None)

    def _check(self, shape, dtype):
        _checks.check_real_dtype("dtype", dtype)
        if self.row_norm is not None and len(shape) < 2:
            raise _errors.bad_value("shape", "at least 2-D for row_norm", shape)
        perm, (b, taps, i, o) = _layout(
            shape, self.in_axis, self.out_axis, self.batch_axis, False
        )
        if isinstance(self.init, Init):
            _dispatch.check_init(self.init, shape, dtype)
        if not getattr(self.init, "random", True) and 0 not in shape:
            # A fixed draw (identity, dirac): a zero matrix or row has no norm.
            x = np.asarray(self.init(jax.random.key(0), shape, dtype), np.float64)
            x = np.transpose(x, perm).reshape(b, taps * i, o)
            rows = self.row_norm is not None
            norms = np.abs(x).sum(axis=1) if rows else np.abs(x).sum(axis=(1, 2))
            if not norms.all():
                what = "row" if rows else "matrix"
                raise _errors.bad_value(
                    "init",
                    f"a law with no all-zero {what} for shape {shape} (its norm "
                    "cannot be set)",
                    self.init,
                )

    def scaled(self, factor: float) -> WithNorm:
        """Values ``factor`` times as large: the radius times ``factor``."""
        if self.frobenius_norm is not None:
            return dataclasses.replace(
                self, frobenius_norm=self.frobenius_norm * factor
            )
        return dataclasses.replace(self, row_norm=self.row_norm * factor)  # type: ignore[operator]

    def _law(self, shape, dtype):
        if not _normal_inner(self.init):
            return None
        perm, (b, taps, i, o) = _layout(
            shape, self.in_axis, self.out_axis, self.batch_axis, False
        )
        if self.frobenius_norm is not None:
            return _laws.haar_entry_law(self.frobenius_norm, taps * i * o)
        return _laws.haar_entry_law(self.row_norm, taps * i)  # type: ignore[arg-type]

    def _generate(self, key, shape, dtype):
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        cdt = _laws.compute_dtype(dtype)
        inner = self.init
        x = (
            inner._generate(key, shape, cdt)
            if isinstance(inner, Init)
            else jnp.asarray(inner(key, shape, cdt), cdt)
        )
        perm, (b, taps, i, o) = _layout(
            shape, self.in_axis, self.out_axis, self.batch_axis, False
        )
        x = jnp.reshape(jnp.transpose(x, perm), (b, taps * i, o))
        if self.frobenius_norm is not None:
            r = np.asarray(self.frobenius_norm, cdt)
            flat = jnp.reshape(x, (b, taps * i * o))
            x = x * (r / _norms(flat, 1))[:, None, None]
        else:
            r = np.asarray(self.row_norm, cdt)
            x = x * (r / _norms(x, 1))[:, None, :]
        return _laws.round_into(_arrange(x, shape, perm), dtype)


def with_norm(
    init: Any,
    *,
    frobenius_norm: float | None = None,
    row_norm: float | None = None,
    in_axis: Axis = -2,
    out_axis: Axis = -1,
    batch_axis: Axis = (),
) -> WithNorm:
    """Builds ``init`` rescaled to an exact norm: a radius (hyperball, AdamH/MuonH).

    Draws ``init`` (in the compute dtype), then multiplies each matrix (each
    ``batch_axis`` index: a stacked layer) by ``frobenius_norm / ||W||_F``, or
    each row (fan-in vector, per output unit) by ``row_norm / ||row||``, and
    rounds once. The norm is then exact up to rounding, not only in
    expectation: the radius the hyperball optimizers keep for the whole run
    (``W ← Norm(W − η·Norm(u)·||W₀||_F)·||W₀||_F``). On a centred Gaussian law
    the result is uniform on the sphere (and each row on its own). A fixed law
    (identity, dirac) with an all-zero row or matrix is refused; a random law
    gives one with probability 0 (else its values come out NaN).

    Law:
      any law at an exact Frobenius or row norm

      Draws ``init``, then multiplies each matrix (per batch index) by
      ``frobenius_norm / ‖W‖_F``, or each row by ``row_norm / ‖row‖``, and
      rounds once: the norm exact up to rounding. On a centred Gaussian,
      uniform on the sphere.

    Args:
      init: any jinit initializer (or a JAX one ``(key, shape, dtype)``),
        except a zero constant.
      frobenius_norm, row_norm: the radius; exactly one, positive.
      in_axis, out_axis, batch_axis: the axes (as :func:`spectral`).

    Raises:
      ValueError: neither or both norms, a norm not positive, a zero constant.
      TypeError: ``init`` not callable.

    Example:
      >>> import jax, jinit
      >>> w = jinit.with_norm(jinit.normal(0.02), frobenius_norm=3.0)
      >>> round(float(jax.numpy.linalg.norm(w(jax.random.key(0), (64, 32)))), 5)
      3.0
    """
    if not callable(init):
        raise _errors.bad_type("init", "an initializer", init)
    if _is_zero(init):
        raise _errors.bad_value("init", "a law that is not all zeros", init)
    if (frobenius_norm is None) == (row_norm is None):
        raise _errors.bad_value(
            "frobenius_norm, row_norm",
            "exactly one of them",
            (frobenius_norm, row_norm),
        )
    if frobenius_norm is not None:
        frobenius_norm = _checks.real_number(
            "frobenius_norm", frobenius_norm, positive=True
        )
    if row_norm is not None:
        row_norm = _checks.real_number("row_norm", row_norm, positive=True)
    return WithNorm(
        init, frobenius_norm, row_norm, *_axes(in_axis, out_axis, batch_axis)
    )
