"""orthogonal, delta_orthogonal, identity and dirac: structured weights."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _checks, _errors, _laws
from ._base import Init
from ._distributions import Normal
from ._types import ORTHOGONAL_METHODS, DTypeLike, OrthogonalMethod


def _column_axis(column_axis: int, ndim: int) -> int:
    return _checks.check_axes("column_axis", column_axis, ndim)[0]


_HIGHEST = lax.Precision.HIGHEST


def _mat(a, b):
    # Full float32 products: the default TF32/bf16 passes of GPUs and TPUs would
    # leave ||Q^T Q - I|| near 1e-3.
    return jnp.matmul(a, b, precision=_HIGHEST)


def _sum_rows(x):
    """The sum over axis 0 by pairwise halving, in elementwise additions.

    XLA orders a reduction by the layout, so ``jnp.sum`` can round differently
    under ``vmap``; these additions give the same bits alone and batched.
    """
    while x.shape[0] > 1:
        half = x.shape[0] // 2
        x = jnp.concatenate([x[:half] + x[half : 2 * half], x[2 * half :]])
    return x[0]


def _haar_wy(key, n, m, dtype):
    """The first ``m`` columns of a Haar matrix of size ``n >= m``, by products.

    Column ``k`` of the Gaussian ``n x m`` matrix on and below the diagonal,
    ``x_k = G[k:, k]``, defines the reflection ``H_k`` that maps ``x_k`` onto
    ``-phase_k ||x_k|| e_k`` (``phase_k = x_kk / |x_kk|``, a sign for real dtypes).
    ``H_1 ... H_m = I - V S^-1 V^H`` (compact WY; Joffrain et al. 2006) with
    ``S = striu(V^H V) + diag(V^H V) / 2``, and the column phases
    ``D = diag(-phase_k)`` make the result Haar (Stewart 1980). One Newton-Schulz
    step then removes most of the rounding error of the solve. No reduction but
    in matrix products (see :func:`_sum_rows`): the same bits under ``vmap``.
    """
    g = jax.random.normal(key, (n, m), dtype)  # the Gaussian of the "qr" method
    rows = lax.broadcasted_iota(np.int32, (n, m), 0)
    cols = lax.broadcasted_iota(np.int32, (n, m), 1)
    x = jnp.where(rows >= cols, g, jnp.zeros((), dtype))
    alpha = jnp.diagonal(x)
    norm = jnp.sqrt(_sum_rows(jnp.real(x * jnp.conj(x)))).astype(dtype)
    magnitude = jnp.abs(alpha).astype(dtype)
    one = jnp.ones((), dtype)
    phase = jnp.where(
        magnitude == 0, one, alpha / jnp.where(magnitude == 0, one, magnitude)
    )
    # v_kk = x_kk + phase ||x_k||: |v_kk| = |x_kk| + ||x_k||, no cancellation. V is
    # scaled to a unit diagonal; an all-zero x_k (never, in practice) gives e_k.
    lead = alpha + phase * norm
    lead = jnp.where(lead == 0, one, lead)
    v = jnp.where(rows == cols, one, x / lead)
    gram = _mat(jnp.conj(v.T), v)
    half = np.asarray(0.5, dtype)
    s = jnp.triu(gram, 1) + jnp.diag(jnp.diagonal(gram) * half)
    y = lax.linalg.triangular_solve(s, jnp.conj(v[:m].T), left_side=True, lower=False)
    q = (jnp.eye(n, m, dtype=dtype) - _mat(v, y)) * -phase
    # Newton-Schulz, Q (3I - Q^H Q) / 2: the identity for an orthonormal Q, it
    # removes the first-order error (||Q^H Q - I||_2 ~5e-6 -> ~7e-7 in float32).
    error = _mat(jnp.conj(q.T), q) - jnp.eye(m, dtype=dtype)
    return q - _mat(q, error) * half


def _orthogonal(key, shape, cdt, column_axis, method):
    """Haar-distributed (semi-)orthogonal columns along ``column_axis``."""
    n_cols = shape[column_axis]
    n_rows = math.prod(shape) // n_cols
    if method == "qr":  # JAX's recipe, same values
        q = jax.random.orthogonal(key, n_rows, (), cdt, n_cols)
    else:
        q = _haar_wy(key, max(n_rows, n_cols), min(n_rows, n_cols), cdt)
        q = q.T if n_rows < n_cols else q
    q = jnp.reshape(q, tuple(np.delete(shape, column_axis)) + (n_cols,))
    return jnp.moveaxis(q, -1, column_axis)


def _orthogonal_config(scale, column_axis, dtype, method) -> tuple:
    if method not in ORTHOGONAL_METHODS:
        raise _errors.bad_choice("method", method, ORTHOGONAL_METHODS)
    return (
        _checks.real_number("scale", scale),
        _checks.integer("column_axis", column_axis),
        _checks.check_builder_dtype(dtype),
        method,
    )


@dataclasses.dataclass(frozen=True)
class Orthogonal(Init):
    """Scaled (semi-)orthogonal matrices. See :func:`orthogonal`."""

    scale: float = 1.0
    column_axis: int = -1
    dtype: DTypeLike | None = None
    method: OrthogonalMethod = "qr"

    def _check(self, shape, dtype):
        if len(shape) < 2:
            raise _errors.bad_value("shape", "at least 2-D for orthogonal", shape)
        _column_axis(self.column_axis, len(shape))

    def scaled(self, factor: float) -> Orthogonal:
        """Values ``factor`` times as large: ``scale`` times ``factor``."""
        return dataclasses.replace(self, scale=self.scale * factor)

    def _law(self, shape, dtype) -> _laws.Law | None:
        n_cols = shape[_column_axis(self.column_axis, len(shape))]
        n = max(n_cols, math.prod(shape) // max(n_cols, 1))
        if _laws.is_complex(dtype):
            return _laws.complex_law(abs(self.scale) / math.sqrt(max(n, 1)))
        return _laws.haar_entry_law(self.scale, n)

    def _generate(self, key, shape, dtype):
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        cdt = _laws.compute_dtype(dtype)
        axis = _column_axis(self.column_axis, len(shape))
        q = _orthogonal(key, shape, cdt, axis, self.method)
        return _laws.scale_and_round(q, dtype, scale=self.scale)


def orthogonal(
    scale: float = 1.0,
    column_axis: int = -1,
    dtype: DTypeLike | None = None,
    method: OrthogonalMethod = "qr",
) -> Orthogonal:
    r"""Builds an initializer of uniformly (Haar) distributed orthogonal matrices.

    The shape is read as a matrix of ``prod(other axes)`` rows and
    ``shape[column_axis]`` columns; for a non-square shape the smaller side is
    orthonormal. Times ``scale``. Complex dtypes give unitary matrices (below,
    read ``^T`` as the conjugate transpose and ``sign`` as the phase ``z/|z|``).
    bfloat16/float16 are the float32 matrix rounded once, and ``out_sharding``
    works (JAX raises NotImplementedError). Both methods start from the same
    ``n x m`` Gaussian matrix ``G`` (``n >= m``, the larger side) and draw the
    same law, with other values:

    * ``"qr"`` (the default, because it is ``jax.nn.initializers.orthogonal`` bit
      for bit in float32/float64): ``G = QR`` by Householder QR, and ``Q`` times
      the signs of ``R``'s diagonal. The QR factor with a positive diagonal of a
      Gaussian matrix is Haar (Mezzadri 2007).
    * ``"wy"``: no factorization, matrix products. The part of column ``k`` of
      ``G`` on and below the diagonal, ``x_k = G[k:, k]``, gives the reflection
      ``H_k = I - 2 v_k v_k^T / (v_k^T v_k)``, ``v_k = x_k + sign(x_kk) ||x_k|| e_k``,
      and, in compact WY form (Joffrain et al. 2006),

      .. math::

         Q = H_1 \cdots H_m \begin{bmatrix} I_m \\ 0 \end{bmatrix} D
           = \Bigl(\begin{bmatrix} I_m \\ 0 \end{bmatrix}
             - V S^{-1} V_{1:m}^T\Bigr) D,\quad
         S = \operatorname{striu}(V^T V) + \tfrac12 \operatorname{diag}(V^T V),\quad
         D = \operatorname{diag}(-\operatorname{sign} x_{kk}):

      one ``m x m`` Gram matrix, one triangular solve, one product, and one
      Newton-Schulz step ``Q - Q (Q^T Q - I) / 2`` (the identity in exact
      arithmetic) that takes ``||Q^T Q - I||_2`` from about 5e-6 to 7e-7 in
      float32 (QR: 2e-6). *Haar because* it is the QR factor with a positive
      diagonal of a Gaussian matrix: Householder QR of ``G'``, with
      ``G'[:, k] = H_1 ... H_{k-1} G[:, k]``, makes exactly the reflections
      ``H_k``, with ``R[k, k] = ||x_k||`` and ``R[j, k] = -sign(x_jj) G[j, k]``
      above the diagonal; and ``G'`` is Gaussian, since its column ``k`` is an
      orthogonal map, fixed by the columns before it, of an independent
      Gaussian column (Stewart 1980). It costs ``8 n m^2 + m^3`` flops
      (``9 n^3`` square) in four matrix products and a triangular solve,
      against QR's ``4 n m^2 - 4 m^3 / 3`` (``2.7 n^3``) in a sequence of
      panel factorizations: it is for where QR is slow, GPUs and TPUs, and
      batches under ``vmap`` (batched QR is not parallelised on GPUs). On a
      CPU both take about as long.

    Law:
      scale · Haar orthogonal

      The shape read as a matrix of ``prod(other axes)`` rows and
      ``shape[column_axis]`` columns; the QR factor of a Gaussian matrix with
      the signs of R's diagonal folded in (Haar on O(n), Mezzadri 2007), times
      ``scale``; the smaller side orthonormal. Complex: unitary.
      ``method="qr"`` (default) runs QR; ``method="wy"`` forms the same law's
      matrix as a product of Householder reflections of Gaussian vectors
      (Stewart 1980) with matrix products and one triangular solve: no QR, for
      GPUs, TPUs and batches under ``vmap``.

    Args:
      scale: the gain the matrix is multiplied by.
      column_axis: the axis holding the orthonormal columns.
      dtype: the default dtype of the weights.
      method: ``"qr"`` or ``"wy"``, as above.

    Returns:
      An initializer ``init(key, shape, dtype=None, out_sharding=None)``.

    Raises:
      ValueError: an unknown ``method``; at call time, a shape of rank < 2 or
        ``column_axis`` out of range.

    Example:
      >>> import jax, jinit
      >>> q = jinit.orthogonal(method="wy")(jax.random.key(0), (512, 256))
      >>> q.shape
      (512, 256)

    References:
      Saxe, McClelland & Ganguli (2014), Exact solutions to the nonlinear dynamics
      of learning in deep linear neural networks. Mezzadri (2007), How to generate
      random matrices from the classical compact groups. Stewart (1980), The
      efficient generation of random orthogonal matrices with an application to
      condition estimators. Joffrain, Low, Quintana-Ortí, van de Geijn & Van Zee
      (2006), Accumulating Householder transformations, revisited.
    """
    return Orthogonal(*_orthogonal_config(scale, column_axis, dtype, method))


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

    def _law(self, shape, dtype) -> _laws.Law | None:
        return None  # zeros but at the centre tap: no one law

    def _generate(self, key, shape, dtype):
        matrix = super()._generate(key, shape[-2:], dtype)
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        return jnp.zeros(shape, dtype).at[centre].set(matrix)


def delta_orthogonal(
    scale: float = 1.0,
    column_axis: int = -1,
    dtype: DTypeLike | None = None,
    method: OrthogonalMethod = "qr",
) -> DeltaOrthogonal:
    """Builds a delta-orthogonal initializer for conv kernels (Xiao et al. 2018).

    The kernel ``(*spatial, in, out)`` is zero except at the centre tap
    ``(k - 1) // 2`` of each spatial axis, which holds an orthogonal ``(in, out)``
    matrix times ``scale``, drawn by :func:`orthogonal` with ``method``: the
    convolution starts as an orthogonal map of the channels. With ``"qr"`` (the
    default), the same values as ``jax.nn.initializers.delta_orthogonal``.

    Law:
      orthogonal at the centre tap

      A conv kernel ``(*k, in, out)`` (1-3 spatial axes, ``in ≤ out``), zero
      except at the centre tap ``(k - 1) // 2`` of each spatial axis, which
      holds ``orthogonal(scale, method=method)`` of shape ``(in, out)``.

    Args:
      scale: the gain the matrix is multiplied by.
      column_axis: the axis of the ``(in, out)`` matrix holding the orthonormal
        columns.
      dtype: the default dtype of the weights.
      method: ``"qr"`` or ``"wy"`` (see :func:`orthogonal`).

    Raises:
      ValueError: an unknown ``method``; at call time, a shape not 3-5-D, or
        ``in > out``.

    References:
      Xiao et al. (2018), Dynamical Isometry and a Mean Field Theory of CNNs.
    """
    return DeltaOrthogonal(*_orthogonal_config(scale, column_axis, dtype, method))


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
        return _laws.round_into(
            eye.astype(_laws.real_dtype(dtype))
            * np.asarray(self.gain, _laws.real_dtype(dtype)),
            dtype,
        )


def identity(gain: float = 1.0, dtype: DTypeLike | None = None) -> Identity:
    """Builds an initializer of ``gain`` times the identity matrix.

    For a shape ``(..., n, m)`` every trailing ``n x m`` matrix is ``gain * eye(n, m)``
    (ones on the main diagonal, zeros elsewhere; rectangular shapes as
    ``jnp.eye(n, m)``). Keras' ``Identity`` and PyTorch's ``eye_`` for 2-D shapes.
    The key is ignored.

    Law:
      gain · I

      Every trailing ``n × m`` matrix of ``(..., n, m)`` is
      ``gain · eye(n, m)``. The key is ignored.

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
        return _laws.round_into(
            hit.astype(_laws.real_dtype(dtype))
            * np.asarray(self.scale, _laws.real_dtype(dtype)),
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

    Law:
      identity convolution

      A conv kernel ``(*k, in_per_group, out)`` (1-3 spatial axes), ``out`` in
      ``groups`` groups: output channel ``o`` gets ``scale`` at input channel
      ``o % (out // groups)`` at the centre tap, zeros elsewhere. For an even
      size ``k`` the tap is ``(k - 1) // 2`` (``even_tap="low"``, exact
      identity under ``padding="SAME"``) or ``k // 2`` (``"high"``,
      PyTorch's).

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


# ----------------------------------------------------------------------------
# The windowed-DFT kernel of Keras' STFT.


def stft_window(name: str, length: int, periodic: bool) -> np.ndarray:
    """``scipy.signal.get_window(name, length, periodic)`` (SciPy is optional)."""
    import scipy.signal  # only named windows need SciPy

    try:
        return np.asarray(scipy.signal.get_window(name, length, periodic))
    except ValueError:
        raise _errors.bad_value(
            "window", "a window name of scipy.signal.windows", name
        ) from None


@dataclasses.dataclass(frozen=True)
class STFTKernel(Init):
    """One side of a windowed DFT as a conv kernel ``(T, C, F)``: Keras' ``STFT``.

    ``kernel[t, :, f] = cos(-2 t f / (2 (F - 1)) pi) w[t] / s`` (``"real"``;
    ``sin`` for ``"imag"``), ``w`` the window (a ``scipy.signal.windows`` name,
    ``T`` values, or None for 1) and ``s`` its L2 norm (``"density"``), L1 norm
    (``"spectrum"``) or 1 (None), in Keras' operations and order. See
    :class:`jinit.keras.STFT` for the arguments. The key is ignored.
    """

    side: str = "real"
    window: str | tuple[float, ...] | None = "hann"
    scaling: str | None = "density"
    periodic: bool = False
    dtype: DTypeLike | None = None

    random = False

    def _check(self, shape, dtype):
        if len(shape) != 3:
            raise _errors.bad_value(
                "shape", "3-D (frame_length, channels, fft_bins) for STFT", shape
            )
        if isinstance(self.window, tuple) and len(self.window) != shape[0]:
            raise _errors.bad_value(
                "window", f"{shape[0]} values (the frame length)", list(self.window)
            )

    def _generate(self, key, shape, dtype):
        frame_length, _, fft_length = shape
        win, scaling = None, None
        if self.window is not None:
            win = self.window
            if isinstance(win, str):
                win = stft_window(win, frame_length, self.periodic)
            win = jnp.reshape(jnp.asarray(win, dtype), (frame_length, 1, 1))
            if self.scaling == "density":
                scaling = jnp.sqrt(jnp.sum(jnp.square(win)))
            elif self.scaling == "spectrum":
                scaling = jnp.sum(jnp.abs(win))
        # Keras' operations, one by one: ints enter as exact floats of the dtype.
        freq = jnp.reshape(jnp.arange(fft_length, dtype=dtype), (1, 1, fft_length))
        freq = freq / np.asarray((fft_length - 1) * 2, dtype)
        time = jnp.reshape(jnp.arange(frame_length, dtype=dtype), (frame_length, 1, 1))
        args = (np.asarray(-2, dtype) * time) * freq
        args = args * jnp.arccos(np.asarray(-1, dtype))
        kernel = jnp.cos(args) if self.side == "real" else jnp.sin(args)
        if win is not None:
            kernel = kernel * win
            if scaling is not None:
                kernel = kernel / scaling
        return jnp.broadcast_to(kernel, shape)


# ----------------------------------------------------------------------------
# Sparse: the core's normal law and a random zero mask (PyTorch's sparse_).


@dataclasses.dataclass(frozen=True)
class Sparse(Init):
    """N(0, std^2) with ``ceil(sparsity * out)`` zeros per input row. See :func:`jinit.torch.sparse`."""

    sparsity: float = 0.1
    std: float = 0.01
    dtype: DTypeLike | None = None

    def _check(self, shape, dtype):
        if len(shape) != 2:
            raise _errors.bad_value("shape", "2-D (in, out) for sparse", shape)

    def scaled(self, factor: float) -> Sparse:
        """Values ``factor`` times as large: ``std`` times ``factor``."""
        return dataclasses.replace(self, std=self.std * factor)

    def _law(self, shape, dtype):
        # A zero with probability k / out, else N(0, std^2): an atom, no density.
        k = math.ceil(self.sparsity * shape[1])
        std = self.std * math.sqrt(1 - k / shape[1]) if shape[1] else 0.0
        return _laws.Law(0.0, std, (-math.inf, math.inf), None)

    def _generate(self, key, shape, dtype):
        key_values, key_mask = jax.random.split(key)
        values = Normal(self.std)._generate(key_values, shape, dtype)
        num_zeros = math.ceil(self.sparsity * shape[1])
        # A uniformly random subset of exactly num_zeros outputs per input row:
        # the ranks of i.i.d. uniforms are a uniformly random permutation.
        u = jax.random.uniform(key_mask, shape, np.float32)
        ranks = jnp.argsort(jnp.argsort(u, axis=1), axis=1)
        return jnp.where(ranks < num_zeros, jnp.zeros((), dtype), values)
