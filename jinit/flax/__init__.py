"""Flax adapters: framework presets, partitioned initializers, a per-parameter table.

* :func:`defaults` gives ``jinit.materialize``/``jinit.reinit`` rules that make a
  whole Flax model (linen variables or nnx state) start as PyTorch, Keras or
  Flax would start it: kernels, biases, embeddings, norms, recurrent kernels.
* :func:`linen_partitioning` and :func:`nnx_partitioning` wrap an initializer so
  that it receives ``out_sharding`` and draws directly into its shards, where
  ``nn.with_partitioning``/``nnx.with_partitioning`` draw the full array first.
* ``table``, ``format_table``, ``declared`` and ``PerLeaf`` are the engine's
  (:func:`jinit.table`, ...), re-exported here where they were first documented.

Nothing here samples: the presets name core initializers (and :mod:`jinit.torch`
translations of PyTorch's), and the wrappers only pass arguments on. Flax is
imported lazily, by the partitioning wrappers only.
"""

from .._tree import PerLeaf as PerLeaf
from .._tree import declared as declared
from .._tree import format_table as format_table
from .._tree import table as table
from ._abstract import abstract as abstract
from ._partitioning import linen_logical_partitioning as linen_logical_partitioning
from ._partitioning import linen_partitioning as linen_partitioning
from ._partitioning import nnx_partitioning as nnx_partitioning
from ._presets import FRAMEWORKS as FRAMEWORKS
from ._presets import Framework as Framework
from ._presets import defaults as defaults

__all__ = [
    "FRAMEWORKS",
    "PerLeaf",
    "abstract",
    "declared",
    "defaults",
    "format_table",
    "linen_logical_partitioning",
    "linen_partitioning",
    "nnx_partitioning",
    "table",
]
