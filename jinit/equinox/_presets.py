"""``defaults``: rules that start an Equinox model as Equinox or PyTorch would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from .. import _errors, _signature, _tree
from .. import torch as _torch
from .._signature import Signature
from .._tree import sibling
from ._layout import _rule_hint

Framework = Literal["equinox", "torch"]
FRAMEWORKS: tuple[str, ...] = get_args(Framework)


# ----------------------------------------------------------------------------
# Presets.


def _sig(path: str, leaves: Mapping[str, Any], preset: str) -> Signature:
    sig = _signature.signature_of(leaves.get(path))
    if sig is None:
        hint = _rule_hint(path, f"jinit.equinox.defaults({preset!r})")
        raise _errors.bad_value(
            f"leaf {path!r}",
            f"a parameter of an equinox.nn layer for defaults({preset!r}) (a "
            "leaf of jinit.equinox.abstract, or a model given to "
            "jinit.equinox.init/reinit); for a field of your own module, put a "
            f"rule for it first: {hint}",
            leaves.get(path),
        )
    return sig


def _equinox(path: str, leaves: Mapping[str, Any]) -> Any:
    return _sig(path, leaves, "equinox").init


_PROJECTIONS = ("query_proj", "key_proj", "value_proj")


def _projection(path: str, sig: Signature, leaves: Mapping[str, Any]) -> Any:
    """Which ``nn.MultiheadAttention`` projection a leaf is in, else None."""
    parts = path.split("/")
    if not sig.parents or sig.parents[-1].rsplit(".", 1)[-1] != "MultiheadAttention":
        return None
    if len(parts) < 2 or parts[-2] not in _PROJECTIONS:
        return "out"
    prefix = parts[:-2]
    projections = [
        _signature.signature_of(leaves.get("/".join([*prefix, p, "weight"])))
        for p in _PROJECTIONS
    ]
    square = sig.shape[0] == sig.shape[1] if len(sig.shape) == 2 else False
    if square and all(s is not None and s.shape == sig.shape for s in projections):
        return "packed"  # PyTorch's one in_proj_weight (3d, d)
    return "separate"  # kdim/vdim != embed_dim: q/k/v_proj_weight


def _torch_law(path: str, leaves: Mapping[str, Any]) -> Any:
    sig = _sig(path, leaves, "torch")
    hidden = None
    if sig.cell:
        hh = _signature.signature_of(leaves.get(sibling(path, "weight_hh")))
        hidden = sig.shape[-1] if hh is None else hh.shape[-1]
    attention = None if sig.cell else _projection(path, sig, leaves)
    return _torch.module_law(sig, hidden=hidden, attention=attention)


def defaults(framework: Framework) -> dict[str, Any]:
    r"""Rules that initialize an Equinox model as Equinox or PyTorch would.

    For :func:`init`, :func:`reinit` and :func:`table` (and ``jinit.materialize``
    on :func:`abstract` trees): each parameter's law is read from its layer's
    signature.

    ===================== ============================ ===========================
    parameter             ``"equinox"``                ``"torch"``
    ===================== ============================ ===========================
    Linear, Conv w and b  U(+-1/sqrt(fan_in))          the same (kaiming_uniform_
                                                       a=sqrt(5); bias_default)
    ConvTranspose w and b U(+-1/sqrt(in/groups * k))   U(+-1/sqrt(out/groups * k))
    Embedding             N(0, 1)                      N(0, 1)
    GRUCell, LSTMCell     U(+-1/sqrt(hidden))          U(+-1/sqrt(hidden))
    MultiheadAttention    Linear's law (no biases by   q/k/v: xavier_uniform_ of
                          default)                     the packed (3d, d); out:
                                                       Linear; biases 0
    norm weight / bias    ones / zeros                 ones / zeros
    PReLU                 0.25                         0.25
    ===================== ============================ ===========================

    Args:
      framework: ``"equinox"`` or ``"torch"``.

    The ``"torch"`` laws are :func:`jinit.torch.module_law`'s. A float array
    field of your own module has no layer to read a law from: put a rule for
    its path before the preset's (``{r"gain": jinit.ones, **defaults(...)}``).

    Returns:
      A new ``dict`` of rules (one rule, ``".*"``, that reads each signature).

    Raises:
      ValueError: an unknown framework.

    Example:
      >>> model = eqx.filter_eval_shape(eqx.nn.MLP, 2, 1, 64, 2, key=key)
      >>> model = jinit.equinox.init(model, key, jinit.equinox.defaults("torch"))
    """
    if framework not in FRAMEWORKS:
        raise _errors.bad_choice("framework", framework, FRAMEWORKS)
    if framework == "equinox":
        return {r".*": _tree.PerLeaf("equinox", _equinox)}
    return {r".*": _tree.PerLeaf("torch", _torch_law)}
