"""The statistics of one network at initialization: :class:`Propagation`."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from .._fans import compute_fans
from ._verdict import Thresholds, Verdict, verdict

if TYPE_CHECKING:
    from ._mean_field import MeanField


@dataclasses.dataclass(frozen=True)
class Propagation:
    """Per-layer and per-parameter statistics, one row per seed.

    Attributes:
      layers: the recorded activations' names, in call order.
      mean, std: activation mean and std over batch and units, ``(seeds, layers)``.
      dead: fraction of units that are <= 0 for every example of the batch;
        NaN for layers that are not activation outputs (see ``units`` in
        :func:`measure`).
      saturated: fraction of values within 1% of the activation's range of its
        bounds; NaN where not measured (no bounds, or not activation outputs).
      gain: root mean square of the layer's response ``J v`` to an input
        perturbation ``v ~ N(0, I)`` (1: a perturbation keeps its size); NaN for
        an integer input (tokens).
      params: the parameters' names, in creation order.
      roles: each parameter's role (:func:`param_roles`).
      shapes: each parameter's shape (without the seed axis).
      grad_norm: the gradient's L2 norm per parameter, ``(seeds, params)``.
      param_rms: the root mean square of each parameter's values.
      unmeasured: modules that hold parameters but recorded no activation
        (inside an ``nn.scan`` that does not lift ``"intermediates"``), one
        per layer of a stack; :func:`verdict` lists them.
    """

    layers: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    dead: np.ndarray
    saturated: np.ndarray
    gain: np.ndarray
    params: tuple[str, ...]
    roles: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    grad_norm: np.ndarray
    param_rms: np.ndarray
    unmeasured: tuple[str, ...] = ()

    @property
    def rms(self) -> np.ndarray:
        """Activation root mean square ``sqrt(mean^2 + std^2)``, ``(seeds, layers)``."""
        return np.sqrt(self.mean.astype(np.float64) ** 2 + self.std**2)

    @property
    def kernels(self) -> tuple[bool, ...]:
        """Whether each parameter is a kernel (role ``"kernel"``)."""
        return tuple(r == "kernel" for r in self.roles)

    @property
    def grad_rms(self) -> np.ndarray:
        """Per-parameter gradient root mean square: the norm over ``sqrt(size)``."""
        sizes = np.array([max(1, math.prod(s)) for s in self.shapes], np.float64)
        return self.grad_norm / np.sqrt(sizes)

    def kernel_grad_norm(self) -> np.ndarray:
        """Gradient norms of the kernels only, ``(seeds, kernels)``, in order."""
        return self.grad_norm[:, np.asarray(self.kernels, bool)]

    def kernel_grad_rms(self) -> np.ndarray:
        """Per-parameter gradient RMS of the kernels only, ``(seeds, kernels)``."""
        return self.grad_rms[:, np.asarray(self.kernels, bool)]

    def weight_var(self) -> np.ndarray:
        """``fan_in * E[W^2]`` of each kernel (the mean-field ``sigma_w^2``).

        Averaged over the seeds, kernels in order; the fan is jinit's fan rule
        (:func:`jinit.compute_fans`) on the kernel's shape.
        """
        idx = [i for i, k in enumerate(self.kernels) if k]
        fans = np.array([compute_fans(self.shapes[i])[0] for i in idx])
        ms = np.mean(self.param_rms[:, idx].astype(np.float64) ** 2, axis=0)
        return fans * ms

    def verdict(
        self, thresholds: Thresholds | None = None, expected: MeanField | None = None
    ) -> Verdict:
        """:func:`verdict` of these statistics."""
        return verdict(self, thresholds, expected)

    def problems(self, thresholds: Thresholds | None = None) -> list[str]:
        """The reasons the verdict is unhealthy, in words (empty: not unhealthy)."""
        v = self.verdict(thresholds)
        return list(v.reasons) if v.status == "unhealthy" else []
