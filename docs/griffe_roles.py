"""Griffe extension: render the docstrings' Sphinx roles as mkdocstrings cross-references.

jinit's docstrings use Sphinx roles (``:func:`~jinit.mup.parametrize```, ``:class:`Law```).
mkdocstrings does not resolve roles, so each is rewritten at load time (the sources stay
as they are): a name that is a rendered public object becomes an autorefs link
``[`name`][jinit.pkg.name]`` (resolved as Sphinx would: as written, in the object's
public package, then in ``jinit``); anything else (``jax.*``, private helpers) becomes
inline code. Strict mode then fails on any link that does not resolve.

A module attribute that is a function built at import time (``glorot_uniform =
_preset("glorot_uniform")``) has its docstring only at run time: it is read from
the imported function, so the page shows it (with its ``Law:`` section).
"""

from __future__ import annotations

import importlib
import inspect
import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc):`(~?)([^`]+)`")
NAMESPACES = (
    "jinit", "jinit.cli", "jinit.diagnostics", "jinit.equinox", "jinit.flax",
    "jinit.haiku", "jinit.keras", "jinit.models", "jinit.mup", "jinit.optim",
    "jinit.plot", "jinit.schemes", "jinit.torch",
)  # fmt: skip


def public_ids() -> set[str]:
    """Every identifier the API pages render: namespaces, their names, class members."""
    ids = set(NAMESPACES)
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        for name in module.__all__:
            ids.add(f"{namespace}.{name}")
            value = getattr(module, name)
            if inspect.isclass(value):
                ids.update(
                    f"{namespace}.{name}.{member}"
                    for member in vars(value)
                    if not member.startswith("_")
                )
    return ids


def public_package(path: str) -> str:
    """``jinit.mup._infer.parametrize`` -> ``jinit.mup``: the path up to its first private part."""
    parts = path.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_"):
            return ".".join(parts[:i])
    return ".".join(parts[:-1]) or parts[0]


def fence_doctests(text: str) -> str:
    """Wrap each run of ``>>>`` lines (with its output, up to a blank line) in a pycon fence."""
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


def runtime_docstring(path: str) -> str | None:
    """The docstring of the function ``path`` (``jinit._variance.he_normal``) names
    when it was built by the module it lives in, else None."""
    module_path, _, name = path.rpartition(".")
    try:
        value = getattr(importlib.import_module(module_path), name)
    except (ImportError, AttributeError):
        return None
    if inspect.isfunction(value) and value.__module__ == module_path:
        return inspect.getdoc(value)
    return None


class SphinxRoles(griffe.Extension):
    def __init__(self) -> None:
        self.ids = public_ids()

    def resolve(self, target: str, where: str) -> str | None:
        target = target.strip().removesuffix("()")
        package = public_package(where)
        owner = where.rsplit(".", 1)[0]
        for candidate in (
            target,
            f"{package}.{target}",
            f"{package}.{owner.rsplit('.', 1)[-1]}.{target}",
            f"jinit.{target}",
        ):
            if candidate in self.ids:
                return candidate
        # a re-export's private path: jinit.mup._infer.parametrize -> jinit.mup.parametrize
        if target.startswith("jinit."):
            public = f"{public_package(target)}.{target.rsplit('.', 1)[-1]}"
            if public in self.ids:
                return public
        return None

    def rewrite(self, text: str, where: str) -> str:
        def link(match: re.Match[str]) -> str:
            tilde, target = match.groups()
            shown = target.rsplit(".", 1)[-1] if tilde else target
            resolved = self.resolve(target, where)
            return f"[`{shown}`][{resolved}]" if resolved else f"`{shown}`"

        return ROLE.sub(link, text)

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is None and isinstance(obj, griffe.Attribute):
            doc = runtime_docstring(obj.path)
            like = obj.module.docstring  # parsed as the module's docstrings are
            if doc is not None and like is not None:
                obj.docstring = griffe.Docstring(
                    doc,
                    parent=obj,
                    parser=like.parser,
                    parser_options=like.parser_options,
                )
        if obj.docstring is not None:
            obj.docstring.value = self.rewrite(
                fence_doctests(obj.docstring.value), obj.path
            )
