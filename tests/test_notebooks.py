"""Every notebook runs headless in a fresh kernel, and is committed without outputs.

Each notebook is executed by ``docs/notebooks.py`` (the one home of how notebooks
run, shared with the docs site) in a new ``python3`` kernel: a separate process,
so this conftest's 8 simulated devices and strict promotion do not apply there.
The kernel gets ``MPLBACKEND=Agg`` and no ``XLA_FLAGS``, as a fresh CPU runtime
would: notebooks that need several devices set them up themselves. A notebook
fails on the first cell that raises and on any warning it prints; it never fails
for being slow (speed is measured in bench/, not asserted here). Only a cell that
runs for ``HANG_GUARD_S`` is stopped, as hung. Each executed notebook is kept in
``build/notebooks/`` for the site, which renders its outputs without running it
again.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _load_runner():
    """docs/notebooks.py (a documentation tool, not in jinit)."""
    spec = importlib.util.spec_from_file_location(
        "jinit_docs_notebooks", ROOT / "docs" / "notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


runner = _load_runner()
NOTEBOOKS = sorted(runner.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
EXPECTED = [
    "01_quickstart",
    "02_coming_from_keras",
    "03_coming_from_pytorch",
    "04_large_models",
    "05_signal_propagation",
    "06_mup",
]


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
def test_notebook_runs(path):
    nb = runner.execute(path)
    assert not _printed_warnings(nb), _printed_warnings(nb)
    runner.save(nb, path)  # the site renders these outputs


def test_kept_notebook_is_used_only_for_its_source(tmp_path, monkeypatch):
    # The site renders a kept execution only if it ran from the same source.
    monkeypatch.setattr(runner, "CACHE_DIR", tmp_path / "kept")
    source = tmp_path / "nb.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(nb, source)
    nb.metadata[runner.SOURCE_KEY] = runner.source_hash(source)
    runner.save(nb, source)
    assert runner.cached(source) is not None
    nb.cells.append(nbformat.v4.new_code_cell("2 + 2"))
    nbformat.write(nb, source)  # the source changed: the kept run is stale
    assert runner.cached(source) is None
