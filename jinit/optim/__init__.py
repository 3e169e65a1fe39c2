"""Optimizers routed by each parameter's role (:func:`jinit.roles`).

:func:`muon` is ``optax.contrib.muon`` with the routing and the
``MuonDimensionNumbers`` read off the model's init signatures: hidden matrices
(Dense, ``DenseGeneral`` q/k/v/o with their head axes, convolutions, stacked
layers and experts as batch axes) to Muon; embeddings, readouts, MoE routers,
norms, biases and vectors to Adam. optax is an optional dependency (``pip install
jinit[optim]``).
"""

from ._muon import ADAM_ROLES, CONVS, MUON_ROLES, SCALES, dimension_numbers, muon

__all__ = [
    "ADAM_ROLES",
    "CONVS",
    "MUON_ROLES",
    "SCALES",
    "dimension_numbers",
    "muon",
]
