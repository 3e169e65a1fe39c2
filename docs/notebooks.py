"""The notebooks, executed: one home for how they run and where their outputs are kept.

``notebooks/*.ipynb`` are committed without outputs. :func:`execute` runs one in a
fresh ``python3`` kernel (``MPLBACKEND=Agg``, ``KERAS_BACKEND=jax``, no
``XLA_FLAGS``, this checkout's jinit first on ``PYTHONPATH``): the environment a
new CPU runtime gives. ``tests/test_notebooks.py`` runs every notebook this way and
:func:`save` keeps the result in ``build/notebooks/`` (gitignored); the site
(``docs/hooks.py``) renders :func:`executed`: the kept notebook where it was run
from the same source (its sha256 is stored in the notebook's metadata), else a
fresh execution, kept for the next build. The test always runs the notebook (its
check is the run); the site runs one only when no kept run of its source exists.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import tempfile

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
#: Where executed notebooks are kept (gitignored, like every build output).
CACHE_DIR = ROOT / "build" / "notebooks"
#: A hang guard, not a budget: seconds one cell may run (each whole notebook takes
#: 5-30 s on a 2-core CPU; a loaded machine may take many times that).
HANG_GUARD_S = 900
#: Seconds a fresh kernel may take to start on a loaded machine.
STARTUP_S = 600
#: The notebook metadata key holding the sha256 of the source it was run from.
SOURCE_KEY = "jinit_source_sha256"


def source_hash(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def kernel_env() -> dict[str, str]:
    """The variables the kernel gets on top of this process's environment."""
    root = str(ROOT)
    pythonpath = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return {"MPLBACKEND": "Agg", "KERAS_BACKEND": "jax", "PYTHONPATH": pythonpath}


def execute(path: pathlib.Path):
    """``path`` run top to bottom in a fresh kernel; raises on the first failing cell.

    The kernel gets this process's environment without ``XLA_FLAGS`` (notebooks
    that need several devices set them up themselves), and :func:`kernel_env`.
    """
    base = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=HANG_GUARD_S,
        startup_timeout=STARTUP_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute(env={**base, **kernel_env()})
    nb.metadata[SOURCE_KEY] = source_hash(path)
    return nb


def cache_path(path: pathlib.Path) -> pathlib.Path:
    return CACHE_DIR / path.name


def save(nb, path: pathlib.Path) -> pathlib.Path:
    """Keeps the executed ``nb`` of source ``path`` (written whole, then renamed)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    out = cache_path(path)
    with tempfile.NamedTemporaryFile(
        "w", dir=CACHE_DIR, suffix=".tmp", delete=False, encoding="utf-8"
    ) as f:
        nbformat.write(nb, f)
    os.chmod(f.name, 0o644)
    os.replace(f.name, out)
    return out


def cached(path: pathlib.Path):
    """The kept execution of ``path``'s current source, or None."""
    out = cache_path(path)
    if not out.exists():
        return None
    try:
        nb = nbformat.read(out, as_version=4)
    except Exception:  # a torn or foreign file: execute again
        return None
    return nb if nb.metadata.get(SOURCE_KEY) == source_hash(path) else None


def executed(path: pathlib.Path):
    """``path`` with its outputs: kept from a run of the same source, else run now."""
    nb = cached(path)
    if nb is None:
        nb = execute(path)
        save(nb, path)
    return nb
