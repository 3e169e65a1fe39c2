"""Every notebook runs headless in a fresh kernel, and is committed without outputs.

Each notebook is executed by nbclient in a new ``python3`` kernel (a separate
process: this conftest's 8 simulated devices and strict promotion do not apply
there). The kernel gets ``MPLBACKEND=Agg`` and no ``XLA_FLAGS``, as a fresh CPU
runtime would: notebooks that need several devices set them up themselves. A
notebook fails on the first cell that raises and on any warning it prints; it
never fails for being slow (speed is measured in bench/, not asserted here).
Only a cell that runs for :data:`HANG_GUARD_S` is stopped, as hung.
"""

from __future__ import annotations

import os
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS_DIR = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
EXPECTED = [
    "01_quickstart",
    "02_coming_from_keras",
    "03_coming_from_pytorch",
    "04_large_models",
    "05_signal_propagation",
    "06_mup",
]
#: A hang guard, not a budget: seconds one cell may run (each whole notebook takes
#: 5-25 s on a 2-core CPU; a loaded machine may take many times that).
HANG_GUARD_S = 900
#: Seconds a fresh kernel may take to start on a loaded machine.
STARTUP_S = 600


def _ids(path: pathlib.Path) -> str:
    return path.stem


def test_every_notebook_is_here():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_is_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, path.name
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, (
            f"{path.name}: commit notebooks with outputs stripped"
        )
    # The first code cell installs jinit on Colab and reports the backend.
    first = code[0].source
    assert '"google.colab" in sys.modules' in first and "JINIT_REPO" in first
    assert "jax.default_backend()" in first and "jax.device_count()" in first


def _printed_warnings(nb) -> list[str]:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            if out.get("name") == "stderr" and "Warning" in text:
                found.append(text)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    # The kernel imports the jinit of this checkout, not whichever is installed.
    root = str(NOTEBOOKS_DIR.parent)
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    )
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=HANG_GUARD_S,
        startup_timeout=STARTUP_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()
    assert not _printed_warnings(nb), _printed_warnings(nb)
