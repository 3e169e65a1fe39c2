"""Muon routed by roles: ``optax.contrib.muon`` with each leaf's matrix view.

optax's ``contrib.muon`` sends every 2-D leaf to Muon (embeddings and the
readout included) and needs hand-written ``MuonDimensionNumbers`` for any
other rank. Each leaf's :class:`jinit.roles` entry says both: its role routes
it, its stored fan axes are the reduction and output axes, everything else
(stacked layers, experts, a convolution's taps under ``conv="per_tap"``) a
batch axis of independent matrices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from .. import _checks, _errors, _roles, _tree

#: The update scales (Emerging-Optimizers' ``get_muon_scale_factor`` modes).
SCALES: tuple[str, ...] = ("unit_rms_norm", "shape_scaling", "spectral")
#: How a convolution kernel is a matrix: its taps folded into the fan-in
#: (Keller Jordan's Muon), or one matrix per tap (Scion's ``SpectralConv``).
CONVS: tuple[str, ...] = ("flatten", "per_tap")
#: The roles Muon updates; those of :data:`ADAM_ROLES` go to Adam.
MUON_ROLES: tuple[str, ...] = ("hidden", "input")
ADAM_ROLES: tuple[str, ...] = (
    "embedding",
    "readout",
    "router",
    "norm",
    "bias",
    "vector",
)
_PRECONDITIONINGS = ("frobenius", "spectral", "aol", "schatten")
_SPECTRAL_RMS = 0.2  # Moonlight's AdamW-matching RMS (arXiv 2502.16982)


def _optax() -> Any:
    try:
        import optax
        import optax.contrib
    except ImportError:
        raise ImportError(
            "jinit.optim needs optax (an optional dependency): pip install "
            "'jinit[optim]' (or 'optax>=0.2.8')"
        ) from None
    return optax


def _model_roles(model: Any, readout: Any, base: Any, stacked: Any):
    """``(Roles, Parametrization or None)`` of ``muon``'s first argument."""
    from ..mup import Parametrization

    if isinstance(model, Parametrization | _roles.Roles):
        given = {"readout": readout is not _roles.BY_SHAPE, "base": base is not None}
        given["stacked"] = stacked is not None
        for arg, value in given.items():
            if value:
                raise _errors.bad_value(
                    arg,
                    "left out when `model` is a Parametrization or Roles (they hold "
                    "the roles already)",
                    type(model).__name__,
                )
    if isinstance(model, Parametrization):
        if model.roles is None:
            raise _errors.bad_value(
                "model",
                "a Parametrization from jinit.mup.parametrize (it holds the roles)",
                "jinit.mup.identity()",
            )
        return model.roles, model
    if isinstance(model, _roles.Roles):
        return model, None
    return _roles.roles(model, base=base, readout=readout, stacked=stacked), None


def _patterns(arg: str, value: Any, paths: Sequence[str]) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _errors.bad_type(arg, "a sequence of path regexes", value)
    out = []
    for p in value:
        regex = _tree.compile_regex(arg, p)
        if not any(regex.fullmatch(path) for path in paths):
            raise _errors.bad_value(arg, "regexes that each match a leaf path", p)
        out.append(regex)
    return out


def _given_numbers(value: Any, roles: _roles.Roles) -> list[tuple[Any, Any]]:
    optax = _optax()
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise _errors.bad_type(
            "dimension_numbers",
            "a mapping from path regex to MuonDimensionNumbers",
            value,
        )
    out = []
    for p, dims in value.items():
        if not isinstance(dims, optax.contrib.MuonDimensionNumbers):
            raise _errors.bad_type(
                f"dimension_numbers[{p!r}]", "optax.contrib.MuonDimensionNumbers", dims
            )
        regex = _tree.compile_regex("dimension_numbers key", p)
        hits = [leaf for leaf in roles.leaves if regex.fullmatch(leaf.path)]
        if not hits:
            raise _errors.bad_value(
                "dimension_numbers", "keys that each match a leaf path", p
            )
        for leaf in hits:
            _check_numbers(leaf, dims)
        out.append((regex, dims))
    return out


def _check_numbers(leaf: _roles.LeafRole, dims: Any) -> None:
    nd = len(leaf.shape)
    arg = f"dimension_numbers of leaf {leaf.path!r}"
    red = _checks.check_axes(arg, dims.reduction_axis, nd) if nd else ()
    out = _checks.check_axes(arg, dims.output_axis, nd) if nd else ()
    if nd < 2 or not red or not out or set(red) & set(out):
        raise _errors.bad_value(
            arg,
            f"disjoint, non-empty reduction and output axes of its shape {leaf.shape}",
            dims,
        )


def _numbers(leaf: _roles.LeafRole, conv: str) -> Any:
    """The leaf's ``MuonDimensionNumbers``: its fans, the rest batch axes."""
    optax = _optax()
    red = leaf.fan_in_axes
    if leaf.conv and conv == "flatten":
        red = tuple(sorted(red + leaf.receptive_axes))
    return optax.contrib.MuonDimensionNumbers(red, leaf.fan_out_axes)


def dimension_numbers(
    model: Any,
    *,
    conv: str = "flatten",
    adam_for: Sequence[str] = (),
    dimension_numbers: Mapping[str, Any] | None = None,
    readout: Any = _roles.BY_SHAPE,
    base: Any = None,
    stacked: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``{path: MuonDimensionNumbers or None}``: the routing of :func:`muon`.

    None routes a leaf to Adam. A leaf named by ``adam_for`` goes to Adam, one
    named by ``dimension_numbers`` to Muon with those numbers; otherwise its
    role decides (:data:`MUON_ROLES`, :data:`ADAM_ROLES`), and an ``"other"``
    leaf is an error that names it. The arguments are :func:`muon`'s.
    """
    roles, _ = _model_roles(model, readout, base, stacked)
    return _route(roles, conv, adam_for, dimension_numbers)


def _route(
    roles: _roles.Roles, conv: str, adam_for: Sequence[str], given: Any
) -> dict[str, Any]:
    """:func:`dimension_numbers` of the roles."""
    if conv not in CONVS:
        raise _errors.bad_choice("conv", conv, CONVS)
    if not roles.readout_known:
        raise _errors.bad_value(
            "readout",
            "given when one model's shapes are all there is: name the readout "
            "(readout=r'.*head/kernel'), say there is none or it is the tied "
            "embedding (readout=None), or give base=, the model at a narrower "
            "width, to find it by shape",
            "jinit.mup.BY_SHAPE",
        )
    adam = _patterns("adam_for", adam_for, list(roles))
    given = _given_numbers(given, roles)
    out = {}
    for leaf in roles.leaves:
        named = [dims for regex, dims in given if regex.fullmatch(leaf.path)]
        if any(regex.fullmatch(leaf.path) for regex in adam):
            out[leaf.path] = None
        elif named:
            out[leaf.path] = named[0]
        elif leaf.role in MUON_ROLES:
            out[leaf.path] = _numbers(leaf, conv)
        elif leaf.role in ADAM_ROLES:
            out[leaf.path] = None
        else:
            raise _errors.bad_value(
                f"leaf {leaf.path!r}",
                "a parameter whose role routes it (a module's weight, embedding, "
                "norm, bias or vector); its role is "
                f"{leaf.role!r} (shape {leaf.shape}, module "
                f"{leaf.module or 'unknown'}): name it in adam_for=, or give its "
                "matrix view in dimension_numbers={regex: MuonDimensionNumbers}",
                leaf.path,
            )
    return out


def _scale(update: Any, dims: Any, scale: str) -> Any:
    """``update`` times the Muon scale of its matrix view (optax's expressions)."""
    fan_in = math.prod(update.shape[a] for a in _axes(dims.reduction_axis))
    fan_out = math.prod(update.shape[a] for a in _axes(dims.output_axis))
    if scale == "shape_scaling":
        factor = jnp.sqrt(jnp.maximum(1, fan_out / fan_in))
    elif scale == "spectral":
        factor = jnp.sqrt(jnp.maximum(fan_in, fan_out)) * _SPECTRAL_RMS
    else:
        factor = jnp.sqrt(fan_out / fan_in)
    return factor * update


def _axes(axis: Any) -> tuple[int, ...]:
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _scale_by_shape(dims_fn: Any, scale: str) -> Any:
    optax = _optax()
    is_dims = lambda x: isinstance(x, optax.contrib.MuonDimensionNumbers)  # noqa: E731

    def scaled(updates, params):
        del params
        return jax.tree.map(
            lambda u, d: _scale(u, d, scale), updates, dims_fn(updates), is_leaf=is_dims
        )

    return optax.stateless(scaled)


def _adam(mp: Any, adam_paths: list[str], lr: Any, wd: float, adam: dict) -> Any:
    """optax.contrib.muon's Adam, with the parametrization's multipliers if any.

    ``adam``: ``optax.scale_by_adam``'s b1, b2, eps, eps_root, mu_dtype, nesterov.
    """
    optax = _optax()
    if mp is None:
        return optax.adamw(learning_rate=lr, weight_decay=wd, **adam)
    groups = sorted({mp[p].adam_eps for p in adam_paths}) or [1.0]

    def adam_eps(e: float) -> Any:
        return optax.scale_by_adam(**{**adam, "eps": adam["eps"] * e})

    if len(groups) == 1:
        chain = [adam_eps(groups[0])]
    else:
        labels = lambda params: jax.tree.map(  # noqa: E731
            groups.index, mp.multipliers(params, "adam_eps")
        )
        chain = [
            optax.partition({i: adam_eps(e) for i, e in enumerate(groups)}, labels)
        ]
    wd = mp.variant.decay_coefficient(wd, lr, None) if wd else 0.0
    if wd:
        decays = {mp[p].adam_wd for p in adam_paths}
        if decays == {1.0}:
            chain.append(optax.add_decayed_weights(wd))
        else:
            chain.append(_decay(mp, wd))
    chain += [mp.scale_by_lr("adam"), optax.scale_by_learning_rate(lr)]
    return optax.chain(*chain)


def _decay(mp: Any, wd: float) -> Any:
    def decayed(updates, params):
        if params is None:
            raise _errors.bad_value(
                "params", "passed to update() (weight decay needs them)", None
            )
        mults = mp.multipliers(updates, "adam_wd")
        return jax.tree.map(lambda u, p, c: u + (wd * c) * p, updates, params, mults)

    return _optax().stateless(decayed)


def muon(
    model: Any,
    learning_rate: Any,
    *,
    scale: str = "unit_rms_norm",
    conv: str = "flatten",
    adam_for: Sequence[str] = (),
    dimension_numbers: Mapping[str, Any] | None = None,
    readout: Any = _roles.BY_SHAPE,
    base: Any = None,
    stacked: Mapping[str, Any] | None = None,
    ns_coeffs: tuple[float, float, float] = (3.4445, -4.7750, 2.0315),
    ns_steps: int = 5,
    beta: float = 0.95,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    mu_dtype: Any = None,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: str = "frobenius",
    adam_b1: float = 0.9,
    adam_b2: float = 0.999,
    adam_eps_root: float = 0.0,
    adam_weight_decay: float = 0.0,
    adam_learning_rate: Any = None,
) -> Any:
    r"""``optax.contrib.muon`` routed and shaped by the model's roles.

    Hidden and input weights go to Muon, each viewed as a matrix by its stored
    fan axes (``MuonDimensionNumbers(fan-in axes, fan-out axes)``: a
    ``DenseGeneral`` query ``(d, heads, head_dim)`` is ``((0,), (1, 2))``, its
    output projection ``((0, 1), (2,))``); stacked layers (``nn.scan``,
    ``nn.vmap``, ``hk.layer_stack``) and experts declared in one call
    ``(E, d, f)`` are batch axes: each layer, each expert its own matrix. A
    convolution's taps are folded into its fan-in (``conv="flatten"``, Keller
    Jordan's Muon, as the init's fans) or each tap is its own matrix
    (``conv="per_tap"``). Embeddings, readouts, MoE routers (role
    ``"router"``: found with or without ``base``), norms, biases and vectors go
    to Adam (optax's ``adamw`` with ``adam_*``), as every Muon recipe does
    (modded-nanogpt, DeepSeek-V4, MaxText). Leaves whose role says nothing
    (``"other"``: an SSM's 2-D ``A_log``, an ``Einsum`` kernel, whose
    contraction is in its equation) must be named: ``adam_for`` or
    ``dimension_numbers``.

    The Muon update (orthogonalized momentum, spectral norm ~1) is scaled by
    its matrix's ``d_in`` = product of the reduction axes and ``d_out``:

    * ``"unit_rms_norm"`` (default): ``sqrt(d_out / d_in)``, the spectral
      condition of μP (Yang, Simon and Bernstein; Megatron's recommendation for
      μP with Muon): the LR transfers across width.
    * ``"shape_scaling"``: ``sqrt(max(1, d_out / d_in))`` (Keller Jordan;
      optax's default, ``consistent_rms=None``).
    * ``"spectral"``: ``0.2 * sqrt(max(d_out, d_in))`` (Moonlight: AdamW's
      update RMS; optax's ``consistent_rms=0.2``). Not width-invariant: the
      update grows as sqrt(width).

    With ``"shape_scaling"`` or ``"spectral"`` and no parametrization the
    updates equal ``optax.contrib.muon(..., muon_weight_dimension_numbers=
    jinit.optim.dimension_numbers(...), consistent_rms=None or 0.2)`` bit for
    bit.

    Args:
      model: the abstract model (``jinit.flax.abstract``, ...; its ``params``
        or all its variables), its :func:`jinit.roles`, or a
        ``jinit.mup.Parametrization`` (its roles; the Adam leaves then also get
        its per-parameter Adam LR, eps and weight-decay multipliers, as
        :meth:`~jinit.mup.Parametrization.adam`).
      learning_rate: Muon's learning rate, a number or an optax schedule.
      scale: one of :data:`SCALES`.
      conv: one of :data:`CONVS`.
      adam_for: path regexes (``re.fullmatch``) of leaves to send to Adam
        whatever their role (a MoE router, mHC gates).
      dimension_numbers: ``{path regex: MuonDimensionNumbers}`` for leaves to
        send to Muon with a matrix view of your own.
      readout, base, stacked: as :func:`jinit.roles` (with a tree only). One
        model's shapes cannot tell the readout: name it or give ``base``.
      ns_coeffs, ns_steps, beta, eps, weight_decay, mu_dtype, nesterov: as
        ``optax.contrib.muon`` (``ns_coeffs`` a tuple of three; ``eps`` is also
        Adam's), as are adaptive, preconditioning, adam_b1, adam_b2,
        adam_eps_root, adam_weight_decay, adam_learning_rate.

    Returns:
      An optax ``GradientTransformation``: ``optax.partition`` of a Muon chain
      and an Adam chain. Its trees are matched by path, as
      :class:`jinit.roles`' (``variables["params"]``, ``nnx.Optimizer`` state).

    Raises:
      ValueError: a bad choice or number, an unknown readout, a leaf of role
        ``"other"`` not named, a regex that matches no leaf.
      ImportError: optax is not installed.

    Example:
      >>> class LM(nn.Module):
      ...     @nn.compact
      ...     def __call__(self, x):
      ...         return nn.Dense(10, name="lm_head")(nn.Dense(32)(x))
      >>> model, tokens = LM(), jnp.ones((2, 8))
      >>> abstract = jinit.flax.abstract(model, tokens)
      >>> tx = jinit.optim.muon(abstract["params"], 0.02,
      ...                       readout=r".*lm_head/kernel", adam_learning_rate=3e-4)
    """
    optax = _optax()
    if scale not in SCALES:
        raise _errors.bad_choice("scale", scale, SCALES)
    if preconditioning not in _PRECONDITIONINGS:
        raise _errors.bad_choice("preconditioning", preconditioning, _PRECONDITIONINGS)
    for arg, lr in (
        ("learning_rate", learning_rate),
        ("adam_learning_rate", adam_learning_rate),
    ):
        if lr is not None and not callable(lr):
            _checks.real_number(arg, lr, positive=True)
    for arg, value in (
        ("beta", beta),
        ("eps", eps),
        ("weight_decay", weight_decay),
        ("adam_b1", adam_b1),
        ("adam_b2", adam_b2),
        ("adam_eps_root", adam_eps_root),
        ("adam_weight_decay", adam_weight_decay),
    ):
        _checks.real_number(arg, value, nonnegative=True)
    if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 1:
        raise _errors.bad_value("ns_steps", "a positive int", ns_steps)
    if isinstance(ns_coeffs, str) or len(ns_coeffs) != 3:
        raise _errors.bad_value("ns_coeffs", "a tuple of three numbers", ns_coeffs)
    roles, mp = _model_roles(model, readout, base, stacked)
    dims = _route(roles, conv, adam_for, dimension_numbers)
    masked = optax.MaskedNode

    def labels(params):
        return roles.tree(
            params, lambda leaf: "adam" if dims[leaf.path] is None else "muon"
        )

    def dims_fn(updates):
        return roles.tree(
            updates,
            lambda leaf: masked() if dims[leaf.path] is None else dims[leaf.path],
        )

    adam_lr = learning_rate if adam_learning_rate is None else adam_learning_rate
    adam_paths = [p for p, d in dims.items() if d is None]
    adam = {"b1": adam_b1, "b2": adam_b2, "eps": eps, "eps_root": adam_eps_root}
    adam.update(mu_dtype=mu_dtype, nesterov=nesterov)
    return optax.partition(
        {
            "muon": optax.chain(
                optax.contrib.scale_by_muon(
                    ns_coeffs=ns_coeffs,
                    ns_steps=ns_steps,
                    beta=beta,
                    eps=eps,
                    mu_dtype=mu_dtype,
                    nesterov=nesterov,
                    adaptive=adaptive,
                    preconditioning=preconditioning,
                    weight_dimension_numbers=dims_fn,
                ),
                _scale_by_shape(dims_fn, scale),
                optax.add_decayed_weights(weight_decay),
                optax.scale_by_learning_rate(learning_rate),
            ),
            "adam": _adam(mp, adam_paths, adam_lr, adam_weight_decay, adam),
        },
        labels,
    )
