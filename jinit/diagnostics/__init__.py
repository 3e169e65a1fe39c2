r"""Signal propagation at initialization: statistics, verdicts, mean field, LSUV.

A good initializer keeps the scale of the activations and of the gradients
through depth; a bad one makes them vanish or explode. This package measures it
on a real network, before any training:

* :func:`propagation` (and :func:`diagnose` for a Flax module, :func:`measure`
  for parameters already drawn): per layer, the activation mean, std and root
  mean square, the fraction of dead units (<= 0 on the whole batch: dead ReLUs)
  and of saturated ones (within 1% of a bounded activation's range: tanh,
  sigmoid), the *gain* of a small input perturbation (the root mean square of
  ``J v`` for ``v ~ N(0, I)``, ``J`` the Jacobian from the input to the layer),
  and per parameter the norm of the gradient of ``<g, f(x)>`` for a random
  cotangent ``g ~ N(0, I)``. One ``jax.jit`` per model (the parameters are its
  arguments, so every initializer and seed reuses it), ``seeds`` draws. Layers
  stacked by ``nn.scan`` give one row per layer (``blocks/0/...``).
* :func:`verdict`: healthy, caution or unhealthy, each by a documented threshold
  (:class:`Thresholds`), comparing like with like (layers of one kind, per-unit
  and per-parameter root mean squares) and, for a plain MLP, with the
  mean-field expectation (:func:`mean_field`). Layers it could not measure are
  listed, never called healthy.
* :func:`mean_field`, :func:`fixed_points`, :func:`depth_scale`: the mean-field
  recursion of a deep MLP at initialization (Poole et al. 2016; Schoenholz et
  al. 2017): the activations' second moment layer by layer, its fixed points and
  their stability, and the scale a network of a given depth actually keeps.
* :func:`gain_search`: the variance-scaling ``scale`` at which the perturbation
  gain from the input to the last layer is 1, by bisection on ``log(scale)``.
* :func:`lsuv`: layer-sequential unit-variance initialization (Mishkin & Matas
  2016).
* :func:`spectral_condition`: each weight's ``||W||_2`` (and its updates')
  against ``sqrt(fan_out / fan_in)`` (Yang, Simon & Bernstein 2023);
  :func:`norm_table`/:func:`format_norms`: every parameter's norms (its radius).

Activations are what the model records: for a Flax module, what it ``sow``\ s
into ``"intermediates"`` (the built-in :mod:`jinit.models` sow each layer's
output), else every submodule's output by ``capture_intermediates``. For a plain
function, ``apply(params, x)`` returns ``(output, activations)``, the activations
a (nested) dict or list of arrays whose last axis is the units.

Parameter roles (kernel, bias, embedding, scale, ...) come from the model:
:func:`param_roles` reads a leaf's ``signature.role`` where the leaf carries one
(``jinit.flax`` abstract trees), else the leaf's name (``kernel``, ``bias``,
``embedding``, ``scale``, ...), never its number of dimensions.
"""

from ._flax import diagnose, flax_fns
from ._mean_field import (
    FixedPoint,
    MeanField,
    depth_scale,
    fixed_points,
    mean_field,
)
from ._names import (
    ACTIVATIONS,
    SATURATION_BOUNDS,
    Apply,
    InitFn,
    get_activation,
    param_roles,
)
from ._paths import named_leaves
from ._propagation import compile_measure, measure, propagation, seed_keys
from ._search import gain_search, lsuv
from ._spectral import format_norms, norm_table, spectral_condition
from ._stats import Propagation
from ._verdict import Thresholds, Verdict, geomean, kind, verdict

__all__ = [
    "ACTIVATIONS",
    "SATURATION_BOUNDS",
    "Apply",
    "FixedPoint",
    "InitFn",
    "MeanField",
    "Propagation",
    "Thresholds",
    "Verdict",
    "compile_measure",
    "depth_scale",
    "diagnose",
    "fixed_points",
    "flax_fns",
    "format_norms",
    "gain_search",
    "geomean",
    "get_activation",
    "kind",
    "lsuv",
    "mean_field",
    "measure",
    "named_leaves",
    "norm_table",
    "param_roles",
    "propagation",
    "seed_keys",
    "spectral_condition",
    "verdict",
]
