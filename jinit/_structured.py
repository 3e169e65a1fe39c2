"""orthogonal, delta_orthogonal, identity and dirac: structured weights."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _checks, _errors, _sampling
from ._base import Init
from ._types import DTypeLike


def _column_axis(column_axis: int, ndim: int) -> int:
    return _checks.check_axes("column_axis", column_axis, ndim)[0]


def _orthogonal(key, shape, cdt, column_axis):
    """Haar-distributed (semi-)orthogonal columns along ``column_axis`` (JAX's recipe)."""
    n_cols = shape[column_axis]
    n_rows = math.prod(shape) // n_cols
    q = jax.random.orthogonal(key, n_rows, (), cdt, n_cols)
    q = jnp.reshape(q, tuple(np.delete(shape, column_axis)) + (n_cols,))
    return jnp.moveaxis(q, -1, column_axis)


@dataclasses.dataclass(frozen=True)
class Orthogonal(Init):
    """Scaled (semi-)orthogonal matrices. See :func:`orthogonal`."""

    scale: float = 1.0
    column_axis: int = -1
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        if len(shape) < 2:
            raise _errors.bad_value("shape", "at least 2-D for orthogonal", shape)
        _column_axis(self.column_axis, len(shape))

    def _generate(self, key, shape, dtype):
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        cdt = _sampling.compute_dtype(dtype)
        q = _orthogonal(key, shape, cdt, _column_axis(self.column_axis, len(shape)))
        return _sampling.scale_and_round(q, dtype, scale=self.scale)


def orthogonal(
    scale: float = 1.0, column_axis: int = -1, dtype: DTypeLike | None = None
) -> Orthogonal:
    """Builds an initializer of uniformly (Haar) distributed orthogonal matrices.

    The shape is read as a matrix of ``prod(other axes)`` rows and
    ``shape[column_axis]`` columns: a Gaussian matrix's QR factor with the signs of
    R's diagonal folded in (Mezzadri 2007) is Haar on O(n); for a non-square
    shape the smaller side is orthonormal. Times ``scale``. Complex dtypes give
    unitary matrices. Same values as ``jax.nn.initializers.orthogonal`` in
    float32/float64; bfloat16/float16 are the float32 matrix rounded once; and
    ``out_sharding`` works (JAX raises NotImplementedError).

    Args:
      scale: the gain the matrix is multiplied by.
      column_axis: the axis holding the orthonormal columns.
      dtype: the default dtype of the weights.

    Raises:
      ValueError (at call time): a shape of rank < 2, ``column_axis`` out of range.

    References:
      Saxe, McClelland & Ganguli (2014), Exact solutions to the nonlinear dynamics
      of learning in deep linear neural networks.
    """
    return Orthogonal(
        _checks.real_number("scale", scale),
        _checks.integer("column_axis", column_axis),
        _checks.check_builder_dtype(dtype),
    )


@dataclasses.dataclass(frozen=True)
class DeltaOrthogonal(Orthogonal):
    """An orthogonal matrix at the centre tap of a conv kernel. See :func:`delta_orthogonal`."""

    def _check(self, shape, dtype):
        if len(shape) not in (3, 4, 5):
            raise _errors.bad_value(
                "shape",
                "3-D, 4-D or 5-D (a 1-3-D conv kernel) for delta_orthogonal",
                shape,
            )
        if shape[-1] < shape[-2]:
            raise _errors.bad_value(
                "shape",
                "a kernel with in_features <= out_features (shape[-2] <= shape[-1])",
                shape,
            )
        _column_axis(self.column_axis, 2)

    def _generate(self, key, shape, dtype):
        matrix = super()._generate(key, shape[-2:], dtype)
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        return jnp.zeros(shape, dtype).at[centre].set(matrix)


def delta_orthogonal(
    scale: float = 1.0, column_axis: int = -1, dtype: DTypeLike | None = None
) -> DeltaOrthogonal:
    """Builds a delta-orthogonal initializer for conv kernels (Xiao et al. 2018).

    The kernel ``(*spatial, in, out)`` is zero except at the centre tap
    ``(k - 1) // 2`` of each spatial axis, which holds an orthogonal ``(in, out)``
    matrix times ``scale``: the convolution starts as an orthogonal map of the
    channels. Same values as ``jax.nn.initializers.delta_orthogonal``.

    Raises:
      ValueError (at call time): a shape not 3-5-D, or ``in > out``.

    References:
      Xiao et al. (2018), Dynamical Isometry and a Mean Field Theory of CNNs.
    """
    return DeltaOrthogonal(
        _checks.real_number("scale", scale),
        _checks.integer("column_axis", column_axis),
        _checks.check_builder_dtype(dtype),
    )


@dataclasses.dataclass(frozen=True)
class Identity(Init):
    """``gain`` times the identity matrix. See :func:`identity`."""

    gain: float = 1.0
    dtype: DTypeLike | None = None

    random = False

    def _check(self, shape, dtype):
        if len(shape) < 2:
            raise _errors.bad_value("shape", "at least 2-D for identity", shape)

    def _generate(self, key, shape, dtype):
        eye = lax.broadcasted_iota(
            np.int32, shape, len(shape) - 2
        ) == lax.broadcasted_iota(np.int32, shape, len(shape) - 1)
        return _sampling.round_into(
            eye.astype(_sampling.real_dtype(dtype))
            * np.asarray(self.gain, _sampling.real_dtype(dtype)),
            dtype,
        )


def identity(gain: float = 1.0, dtype: DTypeLike | None = None) -> Identity:
    """Builds an initializer of ``gain`` times the identity matrix.

    For a shape ``(..., n, m)`` every trailing ``n x m`` matrix is ``gain * eye(n, m)``
    (ones on the main diagonal, zeros elsewhere; rectangular shapes as
    ``jnp.eye(n, m)``). Keras' ``Identity`` and PyTorch's ``eye_`` for 2-D shapes.
    The key is ignored.

    Raises:
      ValueError (at call time): a shape of rank < 2.
    """
    gain = _checks.real_number("gain", gain)
    return Identity(gain, _checks.check_builder_dtype(dtype))


@dataclasses.dataclass(frozen=True)
class Dirac(Init):
    """An identity convolution kernel. See :func:`dirac`."""

    groups: int = 1
    scale: float = 1.0
    even_tap: Literal["low", "high"] = "low"
    dtype: DTypeLike | None = None

    random = False

    def _check(self, shape, dtype):
        if len(shape) not in (3, 4, 5):
            raise _errors.bad_value(
                "shape", "3-D, 4-D or 5-D (a 1-3-D conv kernel) for dirac", shape
            )
        if shape[-1] % self.groups:
            raise _errors.bad_value(
                "groups", f"a divisor of out_features ({shape[-1]})", self.groups
            )

    def _generate(self, key, shape, dtype):
        ndim = len(shape)
        per_group = shape[-1] // self.groups
        iota = lambda axis: lax.broadcasted_iota(np.int32, shape, axis)  # noqa: E731
        hit = iota(ndim - 2) == iota(ndim - 1) % per_group
        for axis, k in enumerate(shape[:-2]):
            tap = (k - 1) // 2 if self.even_tap == "low" else k // 2
            hit = hit & (iota(axis) == tap)
        return _sampling.round_into(
            hit.astype(_sampling.real_dtype(dtype))
            * np.asarray(self.scale, _sampling.real_dtype(dtype)),
            dtype,
        )


def dirac(
    groups: int = 1,
    scale: float = 1.0,
    dtype: DTypeLike | None = None,
    *,
    even_tap: Literal["low", "high"] = "low",
) -> Dirac:
    """Builds an identity (Dirac delta) conv kernel, preserving the channels.

    For a kernel ``(*spatial, in_per_group, out)`` (Flax/JAX HWIO layout, 1-3
    spatial axes) with ``out`` split into ``groups`` groups of ``out // groups``
    channels, output channel ``o`` gets ``scale`` at input channel
    ``o % (out // groups)`` (if it exists) at the centre tap, zeros elsewhere: the
    convolution copies its input channels, as PyTorch's ``dirac_`` does.

    The centre of an odd size ``k`` is ``k // 2``. For an even ``k`` there are two
    candidates. ``even_tap="low"`` (default) takes ``(k - 1) // 2``: with XLA's and
    Flax's ``padding="SAME"`` (which pads ``(k - 1) // 2`` before) the convolution is
    then exactly the identity, and it is the tap ``delta_orthogonal`` uses.
    ``even_tap="high"`` takes ``k // 2``, PyTorch's ``dirac_`` choice.

    Args:
      groups: the number of groups (``feature_group_count``); divides ``out``.
      scale: the value at the tap.
      dtype: the default dtype of the weights.
      even_tap: ``"low"`` or ``"high"``, for even spatial sizes.

    Raises:
      ValueError: ``groups < 1``, an unknown ``even_tap``; at call time a shape that
        is not 3-5-D or ``out`` not divisible by ``groups``.
    """
    groups = _checks.integer("groups", groups, minimum=1)
    if even_tap not in ("low", "high"):
        raise _errors.bad_choice("even_tap", even_tap, ("low", "high"))
    scale = _checks.real_number("scale", scale)
    return Dirac(groups, scale, even_tap, _checks.check_builder_dtype(dtype))
