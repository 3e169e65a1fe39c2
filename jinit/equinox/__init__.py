"""Equinox adapter: every ``equinox.nn`` layer's layout, ``init``/``reinit``, presets.

Equinox stores weights PyTorch-style: ``Linear.weight`` is ``(out, in)``, a conv
weight ``(out, in / groups, *kernel)``, and ``eqx.filter_vmap(make_layer)(keys)``
adds a leading axis per stacked layer. Fans read off those stored shapes with
Flax's axes are wrong (a ``Conv2d`` 4.6x too small). Here each parameter of an
Equinox module gets a :class:`jinit.Signature` from its layer's fields (the
shape Equinox draws it with, its fan axes, its stacked axes, Equinox's own
law), so that every jinit initializer, and the presets of :func:`defaults`,
draw it in the layer's own layout.

* :func:`abstract` maps each parameter's path (``"layers/0/weight"``) to a
  :class:`jinit.Abstract` carrying its signature: the tree
  ``jinit.materialize`` and ``jinit.flax.table`` take.
* :func:`init` and :func:`reinit` return a module of the same structure with
  the parameters drawn (``init``: all of them; ``reinit``: those a rule
  matches). Everything else (activations, static fields, ``None``, integer
  and bool arrays, which are buffers as in PyTorch, the state of
  ``eqx.nn.StateIndex``) passes through untouched; a ``WeightNorm``'s ``g``
  is recomputed from its redrawn weight, as ``WeightNorm(layer)`` computes it.
* :func:`defaults` gives rules that start a model as Equinox or PyTorch would.

Nothing here samples: the rules name core initializers and the draws are
``jinit.materialize``'s. Equinox is imported lazily.
"""

from ._layout import abstract as abstract
from ._layout import init as init
from ._layout import reinit as reinit
from ._layout import table as table
from ._presets import FRAMEWORKS as FRAMEWORKS
from ._presets import Framework as Framework
from ._presets import defaults as defaults

__all__ = ["FRAMEWORKS", "abstract", "defaults", "init", "reinit", "table"]
