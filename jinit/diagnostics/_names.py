"""Names the diagnostics read: activations by name, parameter roles by name."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .. import _errors
from .._signature import ROLES, role_of_name
from ._paths import named_leaves


def _identity(x):
    return x


#: Activations by name, as ``jinit.models`` and ``jinit report`` spell them.
#: ``"gelu"`` is ``jax.nn.gelu``, whose default is the tanh approximation;
#: ``"gelu_erf"`` is the exact (erf) GELU.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "leaky_relu": jax.nn.leaky_relu,
    "gelu": jax.nn.gelu,
    "gelu_erf": functools.partial(jax.nn.gelu, approximate=False),
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "selu": jax.nn.selu,
    "silu": jax.nn.silu,
    "linear": _identity,
}

#: Output ranges of the bounded activations, for the saturated fraction.
SATURATION_BOUNDS: dict[str, tuple[float, float]] = {
    "tanh": (-1.0, 1.0),
    "sigmoid": (0.0, 1.0),
}

Apply = Callable[[Any, jax.Array], tuple[jax.Array, Any]]
InitFn = Callable[[jax.Array], Any]


def get_activation(name: Any) -> Callable[..., Any]:
    """The activation called ``name`` (one of :data:`ACTIVATIONS`), or a callable."""
    if callable(name):
        return name
    if name not in ACTIVATIONS:
        raise _errors.bad_choice("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]


#: Roles by parameter name (Flax, Haiku, Equinox spellings), for leaves that
#: carry no ``signature``. Any other name has the role ``"other"``.
def param_roles(tree: Any) -> dict[str, str]:
    """The role of every parameter: ``{path: role}``, in the tree's order.

    A leaf's role is ``leaf.signature.role`` where the leaf has a ``signature``
    (the abstract leaves of ``jinit.flax``); otherwise it comes from the leaf's
    name, the last part of its path, by :func:`jinit._signature.role_of_name`
    (``kernel``/``w``, ``bias``/``b``, ``embedding``, ``scale``, recurrent
    kernels; ``"other"`` for any other name). It never comes from the number of dimensions: a 2-D bias
    of an attention head is a bias, a 1-D kernel a kernel.

    Args:
      tree: a (nested) dict or list of arrays, ``ShapeDtypeStruct``\\ s or
        abstract leaves; paths joined by ``/`` as in :class:`Propagation`.

    Returns:
      A dict from path to role.

    Example:
      >>> from jinit import diagnostics
      >>> diagnostics.param_roles({"dense": {"kernel": 0, "bias": 0}})
      {'dense/kernel': 'kernel', 'dense/bias': 'bias'}
    """
    roles = {}
    for path, leaf in named_leaves(tree):
        role = getattr(getattr(leaf, "signature", None), "role", None)
        if role is None:
            role = role_of_name(path.rsplit("/", 1)[-1])
            role = role if role in ROLES else "other"
        roles[path] = str(role)
    return roles
