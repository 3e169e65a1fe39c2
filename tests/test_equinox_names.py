"""``jinit.equinox.defaults`` reads each layer's law from its type, not its name."""

from __future__ import annotations

import jax
import pytest

eqx = pytest.importorskip("equinox")

import jinit.equinox as je  # noqa: E402


class Named(eqx.Module):
    h: eqx.nn.Linear
    weight_hh: eqx.nn.Linear
    query_proj: eqx.nn.Linear
    reference: eqx.nn.Linear

    def __init__(self, key):
        keys = jax.random.split(key, 4)
        self.h, self.weight_hh, self.query_proj, self.reference = (
            eqx.nn.Linear(12, 12, key=k) for k in keys
        )


@pytest.mark.parametrize("preset", je.FRAMEWORKS)
def test_a_linear_gets_its_law_whatever_its_name(preset):
    rows = {
        r["path"]: r for r in je.table(Named(jax.random.key(0)), je.defaults(preset))
    }
    for name in ("h", "weight_hh", "query_proj"):
        for p in ("weight", "bias"):
            assert rows[f"{name}/{p}"]["init"] == rows[f"reference/{p}"]["init"]
