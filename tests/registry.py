"""One table of initializers under test: adding an initializer is adding a row.

Each row: a name, a jinit builder call, the same call on ``jax.nn.initializers``
(None when JAX has no such initializer), the shapes it accepts, whether it is
random, whether it takes complex dtypes, and the exact law of its values for a
shape (a scipy frozen distribution), when the values are i.i.d.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import scipy.stats

import jinit

TRUNC = 0.87962566103423978


def _vs_law(scale, mode, distribution):
    def law(shape):
        fan_in, fan_out = jinit.compute_fans(shape)
        n = {
            "fan_in": fan_in,
            "fan_out": fan_out,
            "fan_avg": (fan_in + fan_out) / 2,
            "fan_geo_avg": math.sqrt(fan_in * fan_out),
        }[mode]
        sigma = math.sqrt(scale / n)
        if distribution == "uniform":
            return scipy.stats.uniform(-math.sqrt(3) * sigma, 2 * math.sqrt(3) * sigma)
        if distribution == "normal":
            return scipy.stats.norm(0, sigma)
        return scipy.stats.truncnorm(-2, 2, scale=sigma / TRUNC)

    return law


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    ours: Callable[[], Any]
    theirs: Callable[[], Any] | None
    shapes: tuple[tuple[int, ...], ...] = ((64, 32), (3, 3, 16, 32), (5, 7))
    random: bool = True
    complex_ok: bool = True
    law: Callable[[tuple[int, ...]], Any] | None = None

    def __repr__(self):
        return self.name


J = jax.nn.initializers

ROWS = [
    Row(
        "uniform",
        lambda: jinit.uniform(0.3),
        lambda: J.uniform(0.3),
        shapes=((64, 32), (7,), (2, 3, 4)),
        complex_ok=False,
        law=lambda s: scipy.stats.uniform(0, 0.3),
    ),
    Row(
        "normal",
        lambda: jinit.normal(0.3),
        lambda: J.normal(0.3),
        shapes=((64, 32), (7,), (2, 3, 4)),
        law=lambda s: scipy.stats.norm(0, 0.3),
    ),
    Row(
        "truncated_normal",
        lambda: jinit.truncated_normal(0.3),
        lambda: J.truncated_normal(0.3),
        shapes=((64, 32), (7,), (2, 3, 4)),
        complex_ok=False,
        law=lambda s: scipy.stats.truncnorm(-2, 2, scale=0.3),
    ),
    Row(
        "truncated_normal_asym",
        lambda: jinit.truncated_normal(1.5, None, -1.0, 3.0),
        lambda: J.truncated_normal(1.5, None, -1.0, 3.0),
        shapes=((64, 32),),
        complex_ok=False,
        law=lambda s: scipy.stats.truncnorm(-1, 3, scale=1.5),
    ),
]
for _scale, _mode, _dist in [
    (1.0, "fan_in", "truncated_normal"),
    (2.0, "fan_out", "normal"),
    (0.5, "fan_avg", "uniform"),
    (3.0, "fan_geo_avg", "truncated_normal"),
    (1.0, "fan_geo_avg", "normal"),
    (1.0, "fan_in", "uniform"),
]:
    ROWS.append(
        Row(
            f"variance_scaling_{_scale}_{_mode}_{_dist}",
            lambda a=(_scale, _mode, _dist): jinit.variance_scaling(*a),
            lambda a=(_scale, _mode, _dist): J.variance_scaling(*a),
            law=_vs_law(_scale, _mode, _dist),
        )
    )
for _name, _args in [
    ("glorot_uniform", (1.0, "fan_avg", "uniform")),
    ("glorot_normal", (1.0, "fan_avg", "truncated_normal")),
    ("xavier_uniform", (1.0, "fan_avg", "uniform")),
    ("xavier_normal", (1.0, "fan_avg", "truncated_normal")),
    ("he_uniform", (2.0, "fan_in", "uniform")),
    ("he_normal", (2.0, "fan_in", "truncated_normal")),
    ("kaiming_uniform", (2.0, "fan_in", "uniform")),
    ("kaiming_normal", (2.0, "fan_in", "truncated_normal")),
    ("lecun_uniform", (1.0, "fan_in", "uniform")),
    ("lecun_normal", (1.0, "fan_in", "truncated_normal")),
]:
    ROWS.append(
        Row(
            _name,
            lambda n=_name: getattr(jinit, n)(),
            lambda n=_name: getattr(J, n)(),
            law=_vs_law(*_args),
        )
    )
ROWS += [
    Row(
        "variance_scaling_axes",
        lambda: jinit.variance_scaling(1.0, "fan_avg", "normal", 0, (1, 2)),
        lambda: J.variance_scaling(1.0, "fan_avg", "normal", 0, (1, 2)),
        shapes=((8, 4, 6), (16, 3, 5)),
    ),
    Row(
        "variance_scaling_batch",
        lambda: jinit.variance_scaling(1.0, "fan_in", "truncated_normal", batch_axis=0),
        lambda: J.variance_scaling(1.0, "fan_in", "truncated_normal", batch_axis=0),
        shapes=((4, 8, 16), (2, 3, 3, 8, 16)),
    ),
    Row("orthogonal", lambda: jinit.orthogonal(), lambda: J.orthogonal()),
    Row(
        "orthogonal_scaled_axis0",
        lambda: jinit.orthogonal(1.7, column_axis=0),
        lambda: J.orthogonal(1.7, column_axis=0),
        shapes=((64, 32), (32, 64), (4, 5, 6)),
    ),
    Row(
        "delta_orthogonal",
        lambda: jinit.delta_orthogonal(),
        lambda: J.delta_orthogonal(),
        shapes=((3, 16, 32), (3, 3, 16, 32), (3, 3, 3, 8, 8)),
    ),
    Row(
        "zeros",
        lambda: jinit.zeros,
        lambda: J.zeros,
        shapes=((64, 32), (7,), ()),
        random=False,
    ),
    Row("ones", lambda: jinit.ones, lambda: J.ones, random=False),
    Row(
        "constant",
        lambda: jinit.constant(-0.25),
        lambda: J.constant(-0.25),
        random=False,
    ),
    Row(
        "identity",
        lambda: jinit.identity(0.5),
        None,
        shapes=((5, 5), (4, 6), (2, 3, 3)),
        random=False,
    ),
    Row(
        "dirac",
        lambda: jinit.dirac(),
        None,
        shapes=((3, 4, 4), (3, 3, 4, 8), (3, 3, 3, 2, 2)),
        random=False,
        complex_ok=True,
    ),
]

BY_NAME = {row.name: row for row in ROWS}
WITH_JAX = [row for row in ROWS if row.theirs is not None]
RANDOM = [row for row in ROWS if row.random]
WITH_LAW = [row for row in ROWS if row.law is not None]
