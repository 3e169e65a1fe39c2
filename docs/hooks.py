"""mkdocs hooks: pages the site takes from outside ``docs/``.

- ``notebooks/*.ipynb`` (committed without outputs) become pages with the outputs
  of an execution (text, tables, PNG figures): ``docs/notebooks.py`` keeps each
  execution in ``build/notebooks/`` and runs a notebook only when no execution of
  its current source is kept. A notebook that fails fails the build. With
  ``JINIT_DOCS_NOTEBOOKS=kept`` nothing is executed: a notebook without a kept
  execution renders without outputs, except under ``CI=true``, where that fails
  the build (the site never shows a notebook silently empty there).
- ``bench/RESULTS.md``, ``bench/README.md`` and the bench figures are served as is.
"""

from __future__ import annotations

import html
import importlib.util
import logging
import os
import pathlib
import re
import sys

import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files


def _load_runner():
    """docs/notebooks.py, by path (the repository's notebooks/ folder shadows the name)."""
    name = "jinit_docs_notebooks"
    if name not in sys.modules:
        path = pathlib.Path(__file__).resolve().parent / "notebooks.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


runner = _load_runner()
ROOT = runner.ROOT
log = logging.getLogger(f"mkdocs.hooks.{__name__}")


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _output(output: dict) -> str:
    """One output as HTML/Markdown; figures and text carry the class ``nb-output``."""
    data = output.get("data", {})
    if "image/png" in data:
        png = _text(data["image/png"]).strip()
        return f'\n<img class="nb-output" alt="figure" src="data:image/png;base64,{png}">\n'
    if "text/markdown" in data:
        return "\n" + _text(data["text/markdown"]) + "\n"
    text = _text(output.get("text", data.get("text/plain", ""))).rstrip()
    if not text.strip():
        return ""
    return f'\n<pre class="nb-output"><code>{html.escape(text)}</code></pre>\n'


def _with_outputs(path: pathlib.Path):
    if os.environ.get("JINIT_DOCS_NOTEBOOKS", "execute") != "kept":
        try:
            return runner.executed(path)
        except Exception as error:  # a failing cell, a kernel that died
            raise PluginError(f"{path.name} failed to run: {error}") from error
    nb = runner.cached(path)
    if nb is not None:
        return nb
    if os.environ.get("CI") == "true":
        raise PluginError(
            f"{path.name}: no kept execution of its source (CI=true); build "
            "without JINIT_DOCS_NOTEBOOKS=kept to execute it"
        )
    log.info("%s: no kept execution, rendered without outputs", path.name)
    return nbformat.read(path, as_version=4)


def notebook_markdown(path: pathlib.Path) -> str:
    """A notebook as markdown: its markdown cells, code cells and outputs."""
    cells = _with_outputs(path)["cells"]
    parts = []
    for cell in cells:
        source = _text(cell["source"])
        if cell["cell_type"] == "markdown":
            parts.append(source)
        elif cell["cell_type"] == "code":
            parts.append(f"```python\n{source}\n```")
            parts.extend(_output(o) for o in cell.get("outputs", []))
    text = "\n\n".join(parts) + "\n"
    # links between notebooks and to docs/ point at the site's pages instead
    text = re.sub(r"\]\((\w+)\.ipynb", r"](\1.md", text)
    return text.replace("](../docs/", "](../")


def on_files(files: Files, config) -> Files:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        files.append(
            File.generated(
                config, f"notebooks/{path.stem}.md", content=notebook_markdown(path)
            )
        )
    for path in sorted((ROOT / "bench").glob("*.png")):
        files.append(
            File.generated(config, f"bench/{path.name}", abs_src_path=str(path))
        )
    for name in ("RESULTS.md", "README.md"):
        files.append(
            File.generated(
                config, f"bench/{name}", abs_src_path=str(ROOT / "bench" / name)
            )
        )
    return files
