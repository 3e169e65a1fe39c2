"""Mean-field theory of a deep MLP at initialization (Poole et al. 2016;
Schoenholz et al. 2017): second moments by layer, fixed points, depth scale."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _caches, _checks, _errors
from ._names import get_activation

_Z_STEP = 1e-3
# Midpoint rule in z ~ N(0, 1) on [-10, 10], 0 on a cell boundary (the kink of
# ReLU-like activations): error O(1e-6) for a smooth integrand.
_Z = (np.arange(20_000) - 10_000 + 0.5) * _Z_STEP
_W = np.exp(-0.5 * _Z**2) / math.sqrt(2 * math.pi) * _Z_STEP


@_caches.registered
@functools.lru_cache(maxsize=32)
def _moments_fn(activation: Any):
    f = get_activation(activation)
    df = jax.vmap(jax.grad(lambda h: f(h)))
    z = jnp.asarray(_Z, jnp.float32)
    w = jnp.asarray(_W, jnp.float32)

    @jax.jit
    def moments(q):
        h = jnp.sqrt(q)[:, None] * z
        fh = f(h)
        dh = df(h.ravel()).reshape(h.shape)
        return fh**2 @ w, dh**2 @ w

    return moments


def _moments(activation: Any, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(E[f(sqrt(q) z)^2], E[f'(sqrt(q) z)^2])`` for each ``q``, z ~ N(0, 1)."""
    m, d = _moments_fn(activation)(jnp.asarray(np.atleast_1d(q), jnp.float32))
    return np.asarray(m, np.float64), np.asarray(d, np.float64)


@dataclasses.dataclass(frozen=True)
class MeanField:
    """The mean-field prediction for a deep MLP, per layer.

    Attributes:
      q: the pre-activations' second moment ``q_l``.
      rms: the activations' root mean square ``sqrt(E[f(h_l)^2])``.
      chi: the backward factor ``sigma_w^2(l+1) E[f'(h_l)^2]`` by which the
        gradients' mean square grows from layer ``l + 1`` to ``l`` (the last
        layer's is its own ``E[f'^2]``).
      grad_rms: each kernel's per-parameter gradient root mean square, relative
        (the last kernel's is ``sqrt(E[a_{L-2}^2] E[f'(h_{L-1})^2])``).
    """

    q: np.ndarray
    rms: np.ndarray
    chi: np.ndarray
    grad_rms: np.ndarray


def mean_field(
    activation: Any,
    weight_var: float | Sequence[float] | np.ndarray,
    depth: int,
    *,
    input_var: float = 1.0,
    bias_var: float = 0.0,
) -> MeanField:
    r"""The mean-field recursion of an MLP ``h_l = W_l f(h_{l-1}) + b_l``.

    With ``Var(W_l) = sigma_w^2 / fan_in`` (``weight_var = sigma_w^2``, one per
    layer or one for all), ``Var(b_l) = bias_var`` and an input of second moment
    ``input_var``, at infinite width (Poole et al. 2016; Schoenholz et al.
    2017)::

        q_0     = sigma_w^2 input_var + bias_var
        q_l     = sigma_w^2 E[f(sqrt(q_{l-1}) z)^2] + bias_var,   z ~ N(0, 1)
        delta_l = sigma_w^2(l+1) E[f'(sqrt(q_l) z)^2] delta_{l+1}  (backward)

    and a kernel's gradient has mean square ``E[a_{l-1}^2] delta_l`` (the
    gradient-independence assumption; square layers). Expectations by the
    midpoint rule in float32 (about 6 digits).

    Args:
      activation: a name in :data:`ACTIVATIONS` or a function.
      weight_var: ``sigma_w^2`` = the variance-scaling ``scale`` for fan-in
        initializers on square layers.
      depth: number of layers, >= 1.
      input_var: the input's second moment.
      bias_var: the biases' variance.

    Returns:
      A :class:`MeanField` with ``depth`` entries in each field.

    Example:
      >>> from jinit import diagnostics
      >>> mf = diagnostics.mean_field("relu", 2.0, 50)  # He: q stays 2
      >>> round(float(mf.q[-1]), 4)
      2.0
    """
    depth = _checks.integer("depth", depth, minimum=1)
    w = np.broadcast_to(np.asarray(weight_var, np.float64), (depth,))
    m = float(input_var)
    q, ms, ds = [], [m], []
    for layer in range(depth):
        q.append(w[layer] * m + bias_var)
        if not 0 < q[-1] < 1e30:  # beyond float32: it has vanished or exploded
            m, d = (math.inf, math.nan) if q[-1] >= 1e30 else (0.0, math.nan)
        else:
            m_l, d_l = _moments(activation, np.array([q[-1]]))
            m, d = float(m_l[0]), float(d_l[0])
        ms.append(m)
        ds.append(d)
    delta = np.empty(depth)
    chi = np.empty(depth)
    delta[-1] = chi[-1] = ds[-1]
    for layer in range(depth - 2, -1, -1):
        chi[layer] = w[layer + 1] * ds[layer]
        delta[layer] = chi[layer] * delta[layer + 1]
    grad = np.sqrt(np.asarray(ms[:-1]) * delta)
    return MeanField(np.asarray(q), np.sqrt(ms[1:]), chi, grad)


@dataclasses.dataclass(frozen=True)
class FixedPoint:
    """A fixed point ``q* = V(q*)`` of the forward map ``V(q) = s E[f(sqrt(q) z)^2] + b``.

    Attributes:
      q: the second moment ``q*``.
      slope: ``V'(q*)``; the fixed point attracts nearby ``q`` when ``|slope| < 1``.
      stable: ``|slope| < 1``.
      chi: ``s E[f'(sqrt(q*) z)^2]``, the gradients' growth per layer there
        (< 1 ordered: they vanish; > 1 chaotic: they explode).
    """

    q: float
    slope: float
    stable: bool
    chi: float


def fixed_points(
    activation: Any,
    scale: float,
    *,
    bias_var: float = 0.0,
    q_max: float = 1e4,
) -> tuple[FixedPoint, ...]:
    r"""The fixed points of the mean-field forward map in ``[0, q_max]``.

    ``V(q) = scale E[f(sqrt(q) z)^2] + bias_var``: found by sign changes of
    ``V(q) - q`` on a log grid from 1e-6 to ``q_max``, refined by bisection
    on ``log(q)`` (:func:`log_bisect`, to a relative 1e-12),
    plus ``q = 0`` when ``V(0) = 0``. ``slope`` is ``V'(q*)`` by a central
    difference. For ``"gelu"`` at the forward scale ``1 / E[gelu(z)^2]`` (2.35),
    ``q = 1`` is a fixed point by construction, but unstable (slope > 1): a
    50-layer network moves away from it (see :func:`depth_scale`). An
    activation that is positively homogeneous at its critical scale (ReLU at 2,
    linear at 1) has every ``q`` as a (marginal) fixed point: the result is
    empty.

    Returns:
      The fixed points, by increasing ``q``.
    """
    scale = _checks.real_number("scale", scale, positive=True)

    def v(q):
        return scale * _moments(activation, q)[0] + bias_var

    grid = np.geomspace(1e-6, q_max, 400)
    g = v(grid) - grid
    if np.all(np.abs(g) <= 1e-4 * grid):
        return ()
    roots = []
    if bias_var == 0 and abs(float(v(np.array([0.0]))[0])) < 1e-12:
        roots.append(0.0)
    for i in np.nonzero(np.sign(g[:-1]) * np.sign(g[1:]) < 0)[0]:
        side = -np.sign(g[i])  # V(q) - q times this rises through the root

        def rises(log_q, side=side):
            q = math.exp(log_q)
            return float(side * (v(np.array([q]))[0] - q))

        roots.append(log_bisect(rises, math.log(grid[i]), math.log(grid[i + 1]), 1e-12))
    out = []
    for q in roots:
        eps = 1e-4 * max(q, 1e-6)
        lo, hi = max(q - eps, 0.0), q + eps
        slope = float((v(np.array([hi])) - v(np.array([lo])))[0] / (hi - lo))
        chi = scale * float(_moments(activation, np.array([q]))[1][0])
        out.append(FixedPoint(float(q), slope, abs(slope) < 1, chi))
    return tuple(out)


def log_bisect(f: Callable[[float], float], a: float, b: float, rtol: float) -> float:
    """``exp`` of the root of increasing ``f`` in the log bracket ``a < b``, to ``rtol``."""
    while b - a > math.log1p(rtol):
        m = 0.5 * (a + b)
        if f(m) < 0:
            a = m
        else:
            b = m
    return math.exp(0.5 * (a + b))


def depth_scale(
    activation: Any,
    depth: int = 50,
    *,
    input_var: float = 1.0,
    lo: float = 0.5,
    hi: float = 8.0,
    rtol: float = 1e-6,
) -> float:
    r"""The ``scale`` at which a ``depth``-layer MLP keeps its activations' size.

    The scale ``s`` (``Var(W) = s / fan_in``) for which the mean field
    (:func:`mean_field`) gives the last layer's activations the root mean square
    of the first layer's, by bisection on ``log(s)``. It differs from the forward
    scale ``1 / E[f(z)^2]`` where that fixed point is unstable: for ``"gelu"``
    the network at 2.35 drifts away from unit variance and grows, at He's 2 it
    shrinks; this is the scale in between that keeps it for ``depth`` layers.
    ReLU gives 2 and linear 1 at every depth.

    Raises:
      ValueError: the ratio does not cross 1 in ``[lo, hi]`` (tanh: its
        activations shrink at every scale, towards the stable fixed point).
    """
    depth = _checks.integer("depth", depth, minimum=2)

    def log_ratio(log_s):
        rms = mean_field(activation, math.exp(log_s), depth, input_var=input_var).rms
        with np.errstate(divide="ignore", over="ignore"):
            return float(np.log(rms[-1] / rms[0]))  # -inf where it underflows

    a, b = math.log(lo), math.log(hi)
    fa, fb = log_ratio(a), log_ratio(b)
    if not (fa < 0 < fb):
        raise _errors.bad_value(
            "lo/hi",
            "a bracket where the last layer's activations go from smaller to "
            f"larger than the first's (ratio {math.exp(fa):.3g} at lo, "
            f"{math.exp(fb):.3g} at hi)",
            (lo, hi),
        )
    return log_bisect(log_ratio, a, b, rtol)
