"""Keras' structured and constant initializers: Orthogonal, Zeros, Ones, Constant, Identity, STFT."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks, _dispatch, _errors
from .. import _constant as _core_constant
from .. import _laws as _core_laws
from .. import _structured as _core_structured
from ._base import Initializer, RandomInitializer

_IDENTITY = _core_structured.Identity(1.0)


class Orthogonal(RandomInitializer):
    """Keras' ``Orthogonal``: ``gain`` times a Haar-random (semi-)orthogonal matrix.

    The shape is read as a ``(prod(shape[:-1]), shape[-1])`` matrix: the QR factor
    of a Gaussian matrix with the signs of R's diagonal folded in (orthonormal
    columns, or rows if there are fewer rows), reshaped (:func:`jinit.orthogonal`
    with ``column_axis=-1``, the same draws and operations as Keras).

    Args:
      gain: the factor the matrix is multiplied by.
      seed: see :class:`RandomInitializer`.

    Raises:
      ValueError (at call time): a shape of rank < 2.

    References:
      Saxe, McClelland & Ganguli (2014).
    """

    def __init__(self, gain: float = 1.0, seed: Any = None):
        self.gain = _checks.real_number("gain", gain)
        super().__init__(seed)

    def _check(self, shape, dtype):
        self._core()._check(shape, dtype)

    def _core(self) -> _core_structured.Orthogonal:
        return _core_structured.Orthogonal(self.gain, -1)

    def _law(self, shape, dtype):
        return self._core()._law(shape, dtype)

    def _generate(self, key, shape, dtype, out_sharding):
        return _dispatch.run(self._core(), key, shape, dtype, out_sharding)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


class Zeros(Initializer):
    """Keras' ``Zeros``: fills with 0 (any numeric or bool dtype)."""

    dtype_kind = "any"

    def _law(self, shape, dtype):
        return _core_laws.point_law(0.0)

    def _generate(self, key, shape, dtype, out_sharding):
        return _dispatch.run(_core_constant.zeros, None, shape, dtype, out_sharding)


class Ones(Initializer):
    """Keras' ``Ones``: fills with 1 (any numeric or bool dtype)."""

    dtype_kind = "any"

    def _law(self, shape, dtype):
        return _core_laws.point_law(1.0)

    def _generate(self, key, shape, dtype, out_sharding):
        return _dispatch.run(_core_constant.ones, None, shape, dtype, out_sharding)


class Constant(Initializer):
    """Keras' ``Constant``: fills with ``value`` cast to the dtype.

    Args:
      value: a number (or an array broadcastable to the shape).
    """

    dtype_kind = "any"

    def __init__(self, value: Any = 0.0):
        self._core = _core_constant.constant(value)
        self.value = value

    def _check(self, shape, dtype):
        self._core._check(shape, dtype)

    def _law(self, shape, dtype):
        return self._core._law(shape, dtype)

    def _generate(self, key, shape, dtype, out_sharding):
        # Keras' ``cast(value) * ones``: keeps -0.0 (and NaN payloads) as Keras does.
        ones = _dispatch.run(_core_constant.ones, None, shape, dtype, out_sharding)
        return jnp.asarray(self._core._array(), dtype) * ones

    def get_config(self):
        value = self.value
        if isinstance(value, np.ndarray | np.generic | jax.Array):
            value = np.asarray(value).tolist()
        return {"value": value}

    @classmethod
    def from_config(cls, config):
        value = config.get("value", 0.0) if isinstance(config, dict) else None
        if isinstance(value, dict) and value.get("class_name") == "__numpy__":
            inner = value["config"]  # Keras' serialized NumPy value
            config = {**config, "value": np.asarray(inner["value"], inner["dtype"])}
        return super().from_config(config)


class Tensor(Constant):
    """Keras' ``initializers.get(array)``: the array itself, for its shape only.

    Values are the array cast to the dtype (a Keras-style call, ``init(shape,
    dtype)``, like any other); a shape other than the array's is refused.
    """

    def _check(self, shape, dtype):
        if shape != np.shape(self.value):
            raise _errors.bad_value(
                "shape", f"the array's shape {np.shape(self.value)}", shape
            )
        super()._check(shape, dtype)


class Identity(Initializer):
    """Keras' ``Identity``: ``gain * eye(n, m)`` for a 2-D shape ``(n, m)``.

    Unlike Keras, ``get_config`` keeps ``gain``.

    Args:
      gain: the value on the diagonal.

    Raises:
      ValueError (at call time): a shape that is not 2-D.
    """

    def __init__(self, gain: float = 1.0):
        self.gain = _checks.real_number("gain", gain)

    def _check(self, shape, dtype):
        if len(shape) != 2:
            raise _errors.bad_value("shape", "2-D for Identity", shape)

    def _generate(self, key, shape, dtype, out_sharding):
        # Keras' ``gain * eye``: a separate multiply, so a negative gain gives -0.0
        # off the diagonal, as in Keras.
        eye = _dispatch.run(_IDENTITY, None, shape, dtype, out_sharding)
        return eye * np.asarray(self.gain, dtype)

    def get_config(self):
        return {"gain": self.gain}


_SIDES = ("real", "imag")
_SCALINGS = ("density", "spectrum")


class STFT(Initializer):
    """Keras' ``STFT``: a conv kernel computing one side of a windowed DFT.

    For a shape ``(T, C, F)`` (``F = fft_length // 2 + 1`` bins of a window of
    ``T`` samples) the kernel is, broadcast over the ``C`` input channels::

        kernel[t, :, f] = cos(-2 * t * f / (2 * (F - 1)) * pi) * w[t] / s   (real)
                          sin(...)                                          (imag)

    with ``w`` the window (``scipy.signal.get_window(window, T, periodic)``, an
    array of T values, or 1 for None) and ``s`` its L2 norm (``"density"``), L1
    norm (``"spectrum"``) or 1 (None). The same operations as Keras, in its order.
    A string ``window`` needs SciPy. The key, if given, is ignored.

    Args:
      side: ``"real"`` or ``"imag"``.
      window: a ``scipy.signal.windows`` name, an array of T values, or None.
      scaling: ``"density"``, ``"spectrum"`` or None.
      periodic: whether a named window is periodic (Keras passes it as SciPy's
        ``fftbins``).

    Raises:
      ValueError: an unknown ``side``, ``scaling`` or window name; at call time a
        shape that is not 3-D, or a window whose length is not T.
    """

    def __init__(
        self,
        side: str = "real",
        window: Any = "hann",
        scaling: str | None = "density",
        periodic: bool = False,
    ):
        if side not in _SIDES:
            raise _errors.bad_choice("side", side, _SIDES)
        if scaling is not None and scaling not in _SCALINGS:
            raise _errors.bad_choice("scaling", scaling, _SCALINGS)
        if isinstance(window, str):
            _core_structured.stft_window(window, 1, periodic)  # checks the name
        elif window is not None:
            window = np.asarray(window).tolist()
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = bool(periodic)

    def _core(self) -> _core_structured.STFTKernel:
        window = self.window
        if isinstance(window, list):
            window = tuple(window)
        return _core_structured.STFTKernel(
            self.side, window, self.scaling, self.periodic
        )

    def _check(self, shape, dtype):
        _dispatch.check_init(self._core(), shape, dtype)

    def _generate(self, key, shape, dtype, out_sharding):
        return _dispatch.run(self._core(), None, shape, dtype, out_sharding)

    def get_config(self):
        return {
            "side": self.side,
            "window": self.window,
            "periodic": self.periodic,
            "scaling": self.scaling,
        }
