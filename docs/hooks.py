"""mkdocs hooks: pages the site takes from outside ``docs/``, built from stored files.

- ``notebooks/*.ipynb`` become pages with their stored outputs (text, tables, PNG
  figures); nothing is executed at build time.
- ``bench/RESULTS.md``, ``bench/README.md`` and the bench figures are served as is.
"""

from __future__ import annotations

import json
import pathlib
import re

from mkdocs.structure.files import File, Files

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _output(output: dict) -> str:
    data = output.get("data", {})
    if "image/png" in data:
        return f'\n<img alt="figure" src="data:image/png;base64,{_text(data["image/png"]).strip()}">\n'
    if "text/markdown" in data:
        return "\n" + _text(data["text/markdown"]) + "\n"
    text = _text(output.get("text", data.get("text/plain", "")))
    return f"\n```text\n{text.rstrip()}\n```\n" if text.strip() else ""


def notebook_markdown(path: pathlib.Path) -> str:
    """A notebook as markdown: its markdown cells, code cells and stored outputs."""
    cells = json.loads(path.read_text())["cells"]
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
