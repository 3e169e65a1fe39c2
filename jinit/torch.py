"""PyTorch's ``torch.nn.init`` conventions, in Flax's kernel layout, on jinit's core.

Every function here returns a jinit initializer ``init(key, shape, dtype=None,
out_sharding=None)`` for weights in Flax/JAX layout: a dense kernel is ``(in,
out)`` and a conv kernel ``(*spatial, in // groups, out)``, where PyTorch stores
``(out, in)`` and ``(out, in // groups, *spatial)``. PyTorch's fan rule on its
layout (``fan_in = size(1) * receptive``, ``fan_out = size(0) * receptive``) is
:func:`jinit.compute_fans` on the Flax layout, so the laws are PyTorch's::

    torch.nn.init.kaiming_uniform_(w)            # w: (out, in, kh, kw)
    jinit.torch.kaiming_uniform()(key, (kh, kw, in, out))   # same law, transposed

Nothing here samples by itself: each name translates PyTorch's arguments onto a
core initializer (``VarianceScaling``, ``Uniform``, ``Normal``, ``TruncatedNormal``,
``Orthogonal``, ``Identity``, ``Dirac``, ``Constant``); only :func:`sparse` adds a
random zero mask to the core's normal law. Values are not PyTorch's bits (the
generators differ); the distributions are the same.

One deliberate difference: PyTorch refuses fans of a 1-D tensor; here a 1-D
shape ``(n,)`` has fans ``(n, n)``, as everywhere in jinit.

Module defaults: :func:`linear_default` and :func:`conv_default` (weights,
``kaiming_uniform(a=sqrt(5))``, i.e. U(+-1/sqrt(fan_in))), :func:`bias_default`
(U(+-1/sqrt(fan_in)) of the *weight's* fan_in) and :func:`embedding_default`
(N(0, 1)); :func:`module_law` picks among them (and the recurrent, attention,
transposed-conv and norm laws) for a parameter's :class:`jinit.Signature`: the
one home of ``torch.nn``'s module defaults, used by the Flax and Equinox presets.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal, get_args, overload

import jax

from . import _checks, _errors
from ._constant import Constant
from ._constant import constant as _core_constant
from ._constant import ones as _core_ones
from ._constant import zeros as _core_zeros
from ._distributions import Normal, TruncatedNormal, Uniform
from ._distributions import normal as _core_normal
from ._distributions import truncated_normal as _core_truncated_normal
from ._fans import compute_fans
from ._signature import Signature
from ._structured import Dirac, Identity, Orthogonal, Sparse
from ._structured import dirac as _core_dirac
from ._structured import identity as _core_identity
from ._structured import orthogonal as _core_orthogonal
from ._tree import sibling
from ._types import Axis, DTypeLike
from ._variance import VarianceScaling, variance_scaling

__all__ = [
    "BiasDefault",
    "Sparse",
    "NONLINEARITIES",
    "bias_default",
    "calculate_gain",
    "constant",
    "conv_default",
    "dirac",
    "embedding_default",
    "eye",
    "kaiming_normal",
    "kaiming_uniform",
    "linear_default",
    "module_law",
    "normal",
    "ones",
    "orthogonal",
    "sparse",
    "trunc_normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

#: The names ``torch.nn.init.calculate_gain`` accepts.
NONLINEARITIES: tuple[str, ...] = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
)

FanMode = Literal["fan_in", "fan_out"]
FAN_MODES: tuple[str, ...] = get_args(FanMode)

_GAIN_SQUARED = {"tanh": 25.0 / 9, "relu": 2.0, "selu": 9.0 / 16}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The gain PyTorch recommends for a nonlinearity (same numbers as PyTorch).

    ================================== ==========================================
    nonlinearity                       gain
    ================================== ==========================================
    linear, conv*d, conv_transpose*d   1
    sigmoid                            1
    tanh                               5/3
    relu                               sqrt(2)
    leaky_relu                         sqrt(2 / (1 + negative_slope^2)),
                                       ``negative_slope = param`` (default 0.01)
    selu                               3/4
    ================================== ==========================================

    Args:
      nonlinearity: one of :data:`NONLINEARITIES`.
      param: the negative slope of ``leaky_relu`` (ignored otherwise).

    Returns:
      The gain as a Python float.

    Raises:
      ValueError: an unknown nonlinearity. TypeError: a ``param`` that is not a
        real number (for ``leaky_relu``).
    """
    if nonlinearity not in NONLINEARITIES:
        raise _errors.bad_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, int | float):
            # PyTorch accepts Python ints and floats only (not bools).
            raise _errors.bad_type("param", "an int or float negative slope", param)
        else:
            slope = param
        return math.sqrt(2.0 / (1 + slope**2))
    return 1.0


def _gain_squared(gain: Any) -> float:
    gain = _checks.real_number("gain", gain)
    if gain == 0:
        raise _errors.bad_value("gain", "a non-zero number", gain)
    return gain * gain


# ----------------------------------------------------------------------------
# Fixed laws.


def uniform(a: float = 0.0, b: float = 1.0, dtype: DTypeLike | None = None) -> Uniform:
    """``torch.nn.init.uniform_(w, a, b)``: U[a, b).

    Raises:
      ValueError: ``a > b`` (PyTorch raises too).
    """
    a = _checks.real_number("a", a)
    b = _checks.real_number("b", b)
    if a > b:
        raise _errors.bad_value("a", f"at most `b` ({b})", a)
    return Uniform(a, b, _checks.check_builder_dtype(dtype))


def normal(
    mean: float = 0.0, std: float = 1.0, dtype: DTypeLike | None = None
) -> Normal:
    """``torch.nn.init.normal_(w, mean, std)``: N(mean, std^2), untruncated."""
    return _core_normal(std, dtype, mean=mean)


def trunc_normal(
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    dtype: DTypeLike | None = None,
) -> TruncatedNormal:
    r"""``torch.nn.init.trunc_normal_(w, mean, std, a, b)``: absolute bounds.

    N(mean, std^2) conditioned on ``a <= x <= b``, where ``a`` and ``b`` are
    *values* (PyTorch's meaning; JAX's bounds are in stds). PyTorch's defaults
    ``std=1, a=-2, b=2`` therefore truncate at 2 sigma, but ``trunc_normal(std=0.02)``
    keeps bounds at +-2, i.e. +-100 sigma: practically an untruncated normal.
    Unlike PyTorch's sampler, the core's keeps tiny stds with wide bounds exact
    (no values piled on the bounds).

    Raises:
      ValueError: ``std <= 0`` or ``a >= b``.
    """
    std = _checks.real_number("std", std, positive=True)
    a = _checks.real_number("a", a)
    b = _checks.real_number("b", b)
    if a >= b:
        raise _errors.bad_value("a", f"less than `b` ({b})", a)
    return _core_truncated_normal(std, dtype, a, b, mean=mean, bounds="absolute")


def constant(val: Any, dtype: DTypeLike | None = None) -> Constant:
    """``torch.nn.init.constant_(w, val)``: a fill (the key is ignored)."""
    return _core_constant(val, dtype)


def ones() -> Constant:
    """``torch.nn.init.ones_``: the core's ``jinit.ones``."""
    return _core_ones


def zeros() -> Constant:
    """``torch.nn.init.zeros_``: the core's ``jinit.zeros``."""
    return _core_zeros


# ----------------------------------------------------------------------------
# Structured weights.


def eye(dtype: DTypeLike | None = None) -> Identity:
    """``torch.nn.init.eye_``: the identity matrix; ``eye(n, m).T == eye(m, n)``.

    Exactly PyTorch's values after transposing the layout. Shapes of rank > 2
    get an identity in every trailing matrix (PyTorch accepts 2-D only).
    """
    return _core_identity(1.0, dtype)


def dirac(groups: int = 1, dtype: DTypeLike | None = None) -> Dirac:
    """``torch.nn.init.dirac_(w, groups)`` for a kernel ``(*spatial, in, out)``.

    Output channel ``g * (out // groups) + d`` has a 1 at input channel ``d`` (for
    ``d < min(out // groups, in)``) at the centre tap ``k // 2`` of every spatial
    axis (PyTorch's choice for even sizes), zeros elsewhere: exactly PyTorch's
    values after moving ``(out, in, *spatial)`` to ``(*spatial, in, out)``.
    """
    return _core_dirac(groups, 1.0, dtype, even_tap="high")


def orthogonal(gain: float = 1.0, dtype: DTypeLike | None = None) -> Orthogonal:
    """``torch.nn.init.orthogonal_(w, gain)``: Haar (semi-)orthogonal times gain.

    PyTorch flattens its ``(out, in, *k)`` weight to ``out`` rows; in Flax layout
    the ``out`` axis is the last one, so this is the core's orthogonal with
    ``column_axis=-1`` (the same law: a Haar matrix's rows may be permuted).
    """
    return _core_orthogonal(gain, -1, dtype)


# ----------------------------------------------------------------------------
# Variance scaling (Glorot/Xavier and He/Kaiming, PyTorch's untruncated flavours).


def xavier_uniform(
    gain: float = 1.0, dtype: DTypeLike | None = None
) -> VarianceScaling:
    r"""``torch.nn.init.xavier_uniform_(w, gain)``: U(-b, b).

    :math:`b = gain \sqrt{6 / (fan_{in} + fan_{out})}`, i.e.
    ``variance_scaling(gain**2, "fan_avg", "uniform")``.
    """
    return variance_scaling(_gain_squared(gain), "fan_avg", "uniform", dtype=dtype)


def xavier_normal(gain: float = 1.0, dtype: DTypeLike | None = None) -> VarianceScaling:
    r"""``torch.nn.init.xavier_normal_(w, gain)``: N(0, sigma^2), untruncated.

    :math:`\sigma = gain \sqrt{2 / (fan_{in} + fan_{out})}`, i.e.
    ``variance_scaling(gain**2, "fan_avg", "normal")`` (JAX's ``glorot_normal`` is
    truncated).
    """
    return variance_scaling(_gain_squared(gain), "fan_avg", "normal", dtype=dtype)


def _kaiming(a, mode, nonlinearity, distribution, dtype) -> VarianceScaling:
    if mode not in FAN_MODES:
        raise _errors.bad_choice("mode", mode, FAN_MODES)
    if nonlinearity == "leaky_relu":
        a = _checks.real_number("a", a)
        calculate_gain(nonlinearity, a)  # checks a as PyTorch does
        gain_squared = 2.0 / (1 + a**2)
    else:
        # gain**2 without the rounding of sqrt: relu gives 2.0, as he_uniform.
        gain_squared = _GAIN_SQUARED.get(nonlinearity, calculate_gain(nonlinearity))
    return variance_scaling(gain_squared, mode, distribution, dtype=dtype)


def kaiming_uniform(
    a: float = 0.0,
    mode: FanMode = "fan_in",
    nonlinearity: str = "leaky_relu",
    dtype: DTypeLike | None = None,
) -> VarianceScaling:
    r"""``torch.nn.init.kaiming_uniform_(w, a, mode, nonlinearity)``: U(-b, b).

    :math:`b = \sqrt{3}\, gain / \sqrt{fan}` with ``gain = calculate_gain(
    nonlinearity, a)`` and ``fan`` the ``mode`` fan, i.e.
    ``variance_scaling(gain**2, mode, "uniform")``. PyTorch's default
    ``nonlinearity="leaky_relu", a=0`` gives gain sqrt(2), He uniform.

    Raises:
      ValueError: ``mode`` not ``"fan_in"``/``"fan_out"``, an unknown nonlinearity.
    """
    return _kaiming(a, mode, nonlinearity, "uniform", dtype)


def kaiming_normal(
    a: float = 0.0,
    mode: FanMode = "fan_in",
    nonlinearity: str = "leaky_relu",
    dtype: DTypeLike | None = None,
) -> VarianceScaling:
    r"""``torch.nn.init.kaiming_normal_(w, a, mode, nonlinearity)``: untruncated.

    N(0, sigma^2), :math:`\sigma = gain / \sqrt{fan}`, i.e.
    ``variance_scaling(gain**2, mode, "normal")`` (JAX's ``he_normal`` is
    truncated).
    """
    return _kaiming(a, mode, nonlinearity, "normal", dtype)


# ----------------------------------------------------------------------------
# sparse: the core's normal law and a random zero mask.


def sparse(
    sparsity: float, std: float = 0.01, dtype: DTypeLike | None = None
) -> Sparse:
    """``torch.nn.init.sparse_(w, sparsity, std)`` for a 2-D kernel ``(in, out)``.

    Values from N(0, std^2) (the core's normal law), then, for every input
    feature (a column of PyTorch's ``(out, in)`` weight, a row here), exactly
    ``ceil(sparsity * out)`` of its ``out`` weights, chosen uniformly at random,
    are set to zero (Martens 2010).

    Raises:
      ValueError: ``sparsity`` outside [0, 1], ``std < 0``; at call time a shape
        that is not 2-D.
    """
    sparsity = _checks.real_number("sparsity", sparsity, nonnegative=True)
    if sparsity > 1:
        raise _errors.bad_value("sparsity", "a fraction in [0, 1]", sparsity)
    std = _checks.real_number("std", std, nonnegative=True)
    return Sparse(sparsity, std, _checks.check_builder_dtype(dtype))


# ----------------------------------------------------------------------------
# Module defaults.


def linear_default(dtype: DTypeLike | None = None) -> VarianceScaling:
    r"""``nn.Linear``'s weight: ``kaiming_uniform_(w, a=sqrt(5))``.

    gain = sqrt(2 / (1 + 5)) = sqrt(1/3), so the law is U(-1/sqrt(fan_in),
    1/sqrt(fan_in)): ``variance_scaling(1/3, "fan_in", "uniform")``.
    """
    return variance_scaling(1.0 / 3, "fan_in", "uniform", dtype=dtype)


def conv_default(dtype: DTypeLike | None = None) -> VarianceScaling:
    """``nn.Conv{1,2,3}d``'s weight: U(+-1/sqrt(fan_in)), fan_in = in/groups * prod(k).

    The same law as :func:`linear_default`; on a kernel ``(*k, in // groups, out)``
    the fan_in is PyTorch's.
    """
    return linear_default(dtype)


def embedding_default(dtype: DTypeLike | None = None) -> Normal:
    """``nn.Embedding``'s weight: N(0, 1) (Flax's ``Embed`` uses std 1/sqrt(features))."""
    return _core_normal(1.0, dtype)


def _bias_bound(fan_in: float) -> float:
    # PyTorch: bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
    return 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class BiasDefault:
    """A bias rule that reads the fan_in of its sibling weight. See :func:`bias_default`.

    A :class:`jinit.Rule`, not an initializer (pass ``fan_in=`` to
    :func:`bias_default` for one): :meth:`for_leaf` turns it into
    ``Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for one leaf, given the shapes of
    all leaves (the ``materialize``/``reinit`` rule protocol).
    """

    weight: str = "kernel"
    in_axis: Axis = -2
    out_axis: Axis = -1
    batch_axis: Axis = ()

    def for_leaf(
        self, path: str, leaves: Mapping[str, jax.ShapeDtypeStruct]
    ) -> Uniform:
        """The bias initializer for the leaf at ``path`` ("a/b/bias")."""
        weight = sibling(path, self.weight)
        if weight == path or weight not in leaves:
            raise _errors.bad_value(
                "path",
                f"a bias next to a weight leaf named {self.weight!r} for "
                "bias_default() (or pass fan_in= explicitly)",
                path,
            )
        fan_in, _ = compute_fans(
            leaves[weight].shape, self.in_axis, self.out_axis, self.batch_axis
        )
        bound = _bias_bound(fan_in)
        return Uniform(-bound, bound)


@overload
def bias_default(
    fan_in: None = None,
    *,
    weight: str = "kernel",
    in_axis: Axis = -2,
    out_axis: Axis = -1,
    batch_axis: Axis = (),
    dtype: DTypeLike | None = None,
) -> BiasDefault: ...


@overload
def bias_default(
    fan_in: float,
    *,
    weight: str = "kernel",
    in_axis: Axis = -2,
    out_axis: Axis = -1,
    batch_axis: Axis = (),
    dtype: DTypeLike | None = None,
) -> Uniform: ...


def bias_default(
    fan_in: float | None = None,
    *,
    weight: str = "kernel",
    in_axis: Axis = -2,
    out_axis: Axis = -1,
    batch_axis: Axis = (),
    dtype: DTypeLike | None = None,
) -> Uniform | BiasDefault:
    r"""``nn.Linear``/``nn.Conv*d``'s bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    ``fan_in`` is the *weight's* fan_in (``in`` for a Linear, ``in/groups *
    prod(k)`` for a conv), which the ``(key, shape, dtype)`` call of a bias
    cannot see. Two forms:

    * ``bias_default(fan_in=n)``: a plain initializer (``Uniform(-b, b)``), usable
      as a Flax ``bias_init``: ``nn.Dense(64, bias_init=bias_default(fan_in=128))``.
    * ``bias_default()``: a rule for ``jinit.materialize``/``jinit.reinit``. For a
      leaf ``.../bias`` it reads the shape of the sibling ``.../kernel`` leaf and
      takes its fan_in by :func:`jinit.compute_fans` with ``in_axis``,
      ``out_axis`` and ``batch_axis``.

    ``b = 0`` when ``fan_in == 0`` (PyTorch's rule for empty weights).

    Raises:
      ValueError: a negative ``fan_in``.
    """
    if fan_in is None:
        return BiasDefault(
            weight,
            _checks.check_axis_spec("in_axis", in_axis),
            _checks.check_axis_spec("out_axis", out_axis),
            _checks.check_axis_spec("batch_axis", batch_axis),
        )
    bound = _bias_bound(_checks.real_number("fan_in", fan_in, nonnegative=True))
    return Uniform(-bound, bound, _checks.check_builder_dtype(dtype))


#: Which projection of an ``nn.MultiheadAttention`` a parameter is: q/k/v
#: packed in one ``in_proj_weight`` (``kdim == vdim == embed_dim``), q/k/v
#: separate (``q/k/v_proj_weight``), or ``out_proj``.
Projection = Literal["packed", "separate", "out"]
PROJECTIONS: tuple[str, ...] = get_args(Projection)


def _is_transposed(signature: Signature) -> bool:
    return signature.module.rsplit(".", 1)[-1].startswith("ConvTranspose")


def module_law(
    signature: Signature,
    *,
    hidden: int | Literal["fan_out"] | None = None,
    attention: Projection | None = None,
) -> Any:
    r"""The law ``torch.nn`` starts the parameter ``signature`` describes with.

    ========================== ================================================
    parameter                  law
    ========================== ================================================
    Linear/Conv weight         :func:`linear_default`: U(+-1/sqrt(fan_in))
    Linear/Conv bias           U(+-1/sqrt(fan_in)), the weight's fan_in
                               (``signature.fan_in``)
    ConvTranspose weight, bias U(+-1/sqrt(fan_out)): PyTorch's weight is
                               ``(in, out / groups, *k)``, its fan_in is this
                               layer's fan_out
    RNN/LSTM/GRU (``hidden``)  every weight and bias U(+-1/sqrt(hidden))
    MultiheadAttention q/k/v   ``"packed"``: xavier_uniform\_ on the packed
                               ``(3d, d)`` in_proj, variance ``2 / (d + 3d)``;
                               ``"separate"``: xavier_uniform\_ of each
    MultiheadAttention out     ``"out"``: an nn.Linear's weight; every bias 0
    Embedding                  N(0, 1)
    norm weight / bias         ones / zeros (a bias with no layer fans)
    PReLU ``negative_slope``   0.25
    ========================== ================================================

    Args:
      signature: the parameter's signature (its ``role``, ``module`` and layer
        fans are read).
      hidden: the hidden size of the ``nn.RNN``/``LSTM``/``GRU`` it belongs to,
        or ``"fan_out"``: the fan_out of the kernel drawn (an input kernel
        ``(in, hidden)`` whose cell is not known).
      attention: which ``nn.MultiheadAttention`` projection it belongs to.

    Raises:
      ValueError: a role PyTorch has no module default for, an unknown
        ``attention``, a transposed conv without fans.
    """
    role = signature.role
    bias = role in ("bias", "recurrent_bias")
    if hidden == "fan_out":
        return variance_scaling(1.0 / 3, "fan_out", "uniform")
    if hidden is not None:
        bound = 1.0 / math.sqrt(_checks.real_number("hidden", hidden, positive=True))
        return Uniform(-bound, bound)
    if attention is not None:
        if attention not in PROJECTIONS:
            raise _errors.bad_choice("attention", attention, PROJECTIONS)
        if bias:
            return _core_zeros  # in_proj_bias and out_proj.bias start at 0
        if attention == "out":
            return linear_default()
        if attention == "packed":
            return variance_scaling(0.5, "fan_in", "uniform")
        return variance_scaling(1.0, "fan_avg", "uniform")
    if role == "embedding":
        return embedding_default()
    if role == "scale":
        return _core_ones
    if role == "negative_slope":
        return _core_constant(0.25)  # nn.PReLU(init=0.25)
    if role not in ("kernel", "recurrent_kernel") and not bias:
        raise _errors.bad_value(
            "signature.role",
            "a role torch.nn has a module default for (kernel, recurrent_kernel, "
            "bias, recurrent_bias, embedding, scale, negative_slope)",
            role,
        )
    if bias and signature.fan_in is None:
        return _core_zeros  # a norm's bias (LayerNorm, BatchNorm, GroupNorm)
    fan_in = signature.fan_in
    if _is_transposed(signature):
        fan_in = signature.fan_out
        if fan_in is None:
            raise _errors.bad_value(
                "signature", "a transposed conv's signature with fans", signature
            )
        if not bias:
            return _uniform_bound(fan_in)
    if not bias:
        return linear_default()
    return bias_default(fan_in=fan_in)


def _uniform_bound(fan_in: float) -> Uniform:
    bound = 1 / math.sqrt(fan_in)
    return Uniform(-bound, bound)
