"""The one fan rule: how many inputs and outputs a weight tensor connects."""

from __future__ import annotations

import math

from . import _checks, _errors
from ._types import Axis, Shape


def compute_fans(
    shape: Shape,
    in_axis: Axis = -2,
    out_axis: Axis = -1,
    batch_axis: Axis = (),
) -> tuple[float, float]:
    """Computes ``(fan_in, fan_out)`` of a weight tensor.

    For a shape of rank >= 2, the axes in none of ``in_axis``, ``out_axis`` and
    ``batch_axis`` form the receptive field (a convolution's spatial axes), and::

        receptive = prod(shape[a] for a not in in_axis + out_axis + batch_axis)
        fan_in    = prod(shape[in_axis])  * receptive
        fan_out   = prod(shape[out_axis]) * receptive

    so a Flax/JAX conv kernel HWIO ``(3, 3, 16, 32)`` has fan_in 3*3*16 = 144 and
    fan_out 3*3*32 = 288. These are the values of ``jax.nn.initializers`` (same
    floats), computed by products rather than divisions so that no shape divides
    by zero.

    Shapes JAX rejects get the answer Keras and Haiku give: a 0-D shape has fans
    (1, 1); a 1-D shape ``(n,)`` (a bias or a scale) has fans (n, n); the axis
    arguments are ignored for both. A fan of 0 (a zero-size dimension, hence an
    empty array whose values do not matter) is clamped to 1, as Keras and Haiku
    clamp it.

    Args:
      shape: the weight's shape.
      in_axis: axis or axes of the input dimension.
      out_axis: axis or axes of the output dimension.
      batch_axis: axis or axes that are neither fan (e.g. stacked layers).

    Returns:
      ``(fan_in, fan_out)`` as Python floats.

    Raises:
      ValueError: an axis out of range, or an axis named twice.
    """
    shape = _checks.check_shape(shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        fan = float(max(1, shape[0]))
        return fan, fan
    ndim = len(shape)
    ins = _checks.check_axes("in_axis", in_axis, ndim)
    outs = _checks.check_axes("out_axis", out_axis, ndim)
    batch = _checks.check_axes("batch_axis", batch_axis, ndim)
    named = ins + outs + batch
    if len(set(named)) != len(named):
        raise _errors.bad_value(
            "in_axis/out_axis/batch_axis",
            "disjoint sets of axes",
            {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis},
        )
    receptive = math.prod(d for i, d in enumerate(shape) if i not in named)
    fan_in = math.prod(shape[i] for i in ins) * receptive
    fan_out = math.prod(shape[i] for i in outs) * receptive
    return float(max(1, fan_in)), float(max(1, fan_out))
