"""The spectral-condition check and the per-leaf norm table (issue 25, item 6)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit import diagnostics

KEY = jax.random.key(5)


def _like():
    """Torch-layout (out, in) layers stacked on axis 0, and a DenseGeneral-like kernel."""
    return {
        "stack": jinit.Abstract(
            (3, 16, 40),
            jnp.float32,
            signature=jinit.Signature((16, 40), stacked=(0,), in_axis=-1, out_axis=-2),
        ),
        "general": jinit.Abstract(
            (8, 2, 6), jnp.float32, signature=jinit.Signature((8, 12))
        ),
        "embed": jinit.Abstract(
            (30, 8), jnp.float32, signature=jinit.Signature((30, 8), role="embedding")
        ),
        "bias": jax.ShapeDtypeStruct((8,), jnp.float32),
    }


def _params():
    torch_layout = jinit.spectral(in_axis=-1, out_axis=-2, batch_axis=0)
    return {
        "stack": torch_layout(KEY, (3, 16, 40)),
        "general": jinit.spectral(3.0)(KEY, (8, 12)).reshape(8, 2, 6),
        "embed": jinit.normal(1.0)(KEY, (30, 8)),
        "bias": jnp.zeros(8),
    }


def test_spectral_condition_reads_call_shapes_and_layers():
    rows = {r["path"]: r for r in diagnostics.spectral_condition(_params(), _like())}
    assert set(rows) == {"stack", "general"}  # embeddings and vectors aside
    stack, general = rows["stack"], rows["general"]
    assert (stack["fan_in"], stack["fan_out"]) == (40, 16)
    assert stack["ratio"] == pytest.approx(1.0, rel=1e-5) and stack["ok"]
    assert general["target"] == pytest.approx(math.sqrt(12 / 8))
    assert general["ratio"] == pytest.approx(3.0, rel=1e-5) and not general["ok"]
    # Stored shapes (no `like`): the last two axes, one matrix.
    (row,) = diagnostics.spectral_condition({"w": jinit.he_normal()(KEY, (64, 32))})
    w = np.asarray(jinit.he_normal()(KEY, (64, 32)), np.float64)
    assert row["norm"] == pytest.approx(np.linalg.norm(w, 2), rel=1e-12)


def test_spectral_condition_of_the_updates():
    params = _params()
    before = jax.tree.map(lambda x: x, params)
    u = np.zeros((3, 16, 40), np.float32)
    u[1] = 0.5 * np.outer(np.eye(16)[0], np.eye(40)[3])  # rank one, ||.||_2 = 0.5
    after = {**params, "stack": params["stack"] + u}
    rows = {
        r["path"]: r
        for r in diagnostics.spectral_condition(after, _like(), before=before)
    }
    assert rows["stack"]["update_norm"] == pytest.approx(0.5, rel=1e-6)
    assert rows["stack"]["update_ratio"] == pytest.approx(0.5 / math.sqrt(16 / 40))
    assert rows["general"]["update_norm"] == 0.0
    with pytest.raises(ValueError, match="`tolerance` must be a number > 1"):
        diagnostics.spectral_condition(params, _like(), tolerance=1.0)
    with pytest.raises(ValueError, match="`before` must be a tree"):
        diagnostics.spectral_condition(params, _like(), before={"x": params["bias"]})


def test_norm_table_shows_the_radius_a_law_sets():
    w = jinit.with_norm(jinit.normal(), row_norm=0.75)(KEY, (24, 10))
    f = jinit.with_norm(jinit.normal(), frobenius_norm=2.5)(KEY, (6, 5))
    rows = {
        r["path"]: r for r in diagnostics.norm_table({"w": w, "f": f, "b": jnp.ones(4)})
    }
    assert rows["w"]["max_row"] == pytest.approx(0.75, rel=1e-6)
    assert rows["f"]["frobenius"] == pytest.approx(2.5, rel=1e-6)
    assert rows["b"] == {"path": "b", "shape": (4,), "frobenius": 2.0, "rms": 1.0}
    text = diagnostics.format_norms(list(rows.values()))
    assert text.splitlines()[0].startswith("| path | shape | ‖W‖_F | RMS | ‖W‖_2")


def test_cli_report_norms_table(tmp_path, capsys):
    pytest.importorskip("flax")
    from jinit import cli

    argv = ["report", "--depth", "2", "--width", "16", "--seeds", "1"]
    argv += ["--batch", "8", "--activation", "relu", "--no-plots"]
    argv += ["--init", "spectral", "--norms", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    text = (tmp_path / "norms.md").read_text()
    assert "### spectral" in text and "‖W‖_2" in text
    # A hidden 16 x 16 kernel drawn by spectral(): ||W||_2 = 1 = target.
    hidden = [line for line in text.splitlines() if "| (16, 16) |" in line]
    assert hidden and all("| 1 | 1 | 1 |" in line for line in hidden), hidden
    assert "norms.md" in capsys.readouterr().out
