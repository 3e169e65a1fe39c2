"""The generator of ``docs/reference.md``: a documentation tool, not part of jinit.

Every fact is read from the initializers themselves:

- the law: the ``Law:`` section of each builder's docstring (its first line for
  the overview, the rest for the section); the value of a constant initializer;
- the signature and defaults: :mod:`inspect` on the builder;
- the JAX names: ``jax.nn.initializers`` has the name and draws the same values
  for the same key (drawn here, at generation time);
- the Keras names: ``jinit.keras``'s class of the same name (Keras' module-level
  aliases, ``keras.initializers.he_normal is HeNormal``), with its defaults and
  the law it draws at them, compared with jinit's;
- the PyTorch names: the functions of ``jinit.torch`` that are a
  ``torch.nn.init`` function (their docstrings say which), matched to jinit's
  initializers by the law they build (at their defaults, or with one of
  ``jinit.torch.NONLINEARITIES``), else by the class they build;
- the activation table (``docs/gen_activations.py``) and the named schemes'
  tables (``docs/gen_schemes.py``): computed.

The prose code cannot derive (where semantics differ, what each suits) is in
``docs/reference_notes.py``. ``tests/test_reference.py`` regenerates the file,
checks every name and default against the installed JAX, Keras and PyTorch, and
that the notes cover exactly the public initializers.

Regenerate with::

    python docs/gen_reference.py docs/reference.md
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import pathlib
import sys
import textwrap
import typing
from typing import Any, Literal

import numpy as np

_HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))  # the sibling generators and the notes
if __name__ == "__main__":  # run as a script: the jinit of this checkout
    sys.path.insert(0, str(_HERE.parent))

import gen_activations  # noqa: E402
import gen_schemes  # noqa: E402
import jax  # noqa: E402
import reference_notes  # noqa: E402

import jinit  # noqa: E402
import jinit.keras  # noqa: E402
import jinit.torch  # noqa: E402
from jinit._tree import is_initializer  # noqa: E402

Framework = Literal["jax", "keras", "torch"]
Relation = Literal["same values", "same law", "untruncated", "other"]
#: "same values": JAX's function draws jinit's values for the same key; "same
#: law", "untruncated" (PyTorch's normal where jinit's is truncated) and "other"
#: compare the laws of the shims' draws at their defaults with jinit's.

#: Where each framework keeps its initializers (for the reference's wording).
NAMESPACES: dict[str, str] = {
    "jax": "jax.nn.initializers",
    "keras": "keras.initializers",
    "torch": "torch.nn.init",
}
#: The shapes and key the comparisons draw with: the first shape both sides
#: accept; a 1-D conv kernel (k, in, out) with an even k (where dirac's taps
#: differ), else a matrix (Keras' Identity takes only those).
PROBE_SHAPES = ((4, 4, 6), (4, 6))
PROBE_KEY = 0


@dataclasses.dataclass(frozen=True)
class Name:
    """An initializer's name in another framework.

    Attributes:
      framework: ``"jax"``, ``"keras"`` or ``"torch"``.
      name: the attribute of the framework's namespace (:data:`NAMESPACES`).
      args: the arguments that give the law related below (``""``: defaults).
      defaults: that framework's defaults, from the signature of JAX's function
        or of the jinit shim (checked against the installed package).
      shim: the jinit translation of this name (``jinit.keras.HeNormal``), if any.
      relation: how its draw at ``args`` relates to jinit's at jinit's defaults.
      detail: the two laws, where the relation is ``"other"``.
    """

    framework: Framework
    name: str
    args: str = ""
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
    shim: str | None = None
    relation: Relation | None = None
    detail: str = ""

    def call(self) -> str:
        return f"`{self.name}({self.args})`" if self.args else f"`{self.name}`"


def public_initializers() -> tuple[str, ...]:
    """Every name ``jinit`` exports that builds (or is) an initializer."""
    return tuple(
        n
        for n in sorted(vars(jinit))
        if not n.startswith("_") and is_initializer(getattr(jinit, n))
    )


def doc_section(doc: str, title: str) -> str | None:
    """The dedented body of a Google-style ``title:`` section of ``doc``, or None."""
    lines = doc.splitlines()
    if f"{title}:" not in lines:
        return None
    body = []
    for line in lines[lines.index(f"{title}:") + 1 :]:
        if line.strip() and not line.startswith(" "):
            break
        body.append(line)
    return textwrap.dedent("\n".join(body)).strip()


def _unwrap(text: str) -> str:
    """Markdown paragraphs on one line each (bullets kept)."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if out and line and out[-1] and not line.startswith("- "):
            out[-1] += " " + line
        else:
            out.append(line)
    return "\n".join(out)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One public initializer: its name in ``jinit`` and what is derived from it."""

    name: str

    @property
    def builder(self) -> Any:
        return getattr(jinit, self.name)

    @property
    def is_builder(self) -> bool:
        return inspect.isfunction(self.builder)

    @property
    def note(self) -> reference_notes.Note:
        return reference_notes.NOTES[self.name]

    def aliases(self) -> tuple[str, ...]:
        return tuple(
            n
            for n in public_initializers()
            if n != self.name and getattr(jinit, n) is self.builder
        )

    def signature(self) -> str:
        """The builder's call with its defaults, read with :mod:`inspect`."""
        if not self.is_builder:
            return f"jinit.{self.name}(key, shape, dtype=None, out_sharding=None)"
        sig = inspect.signature(self.builder)
        empty = inspect.Parameter.empty
        sig = sig.replace(
            parameters=[p.replace(annotation=empty) for p in sig.parameters.values()],
            return_annotation=empty,
        )
        return f"jinit.{self.name}{sig}".replace("'", '"')

    def law(self) -> tuple[str, str]:
        """``(summary, formula)``: the builder's ``Law:`` section, or the constant."""
        if not self.is_builder:
            value = float(np.asarray(self.builder.value))
            return f"{value:g}", (
                f"Every element is {value:g}. `jinit.{self.name}` is itself the "
                "initializer (the key is ignored)."
            )
        section = doc_section(inspect.getdoc(self.builder) or "", "Law")
        if section is None:
            raise ValueError(f"jinit.{self.name}'s docstring has no `Law:` section")
        summary, _, formula = _unwrap(section).partition("\n\n")
        return summary, formula.replace("``", "`")

    def default(self) -> Any:
        """The initializer at the builder's defaults, or None where it has none."""
        if not self.is_builder:
            return self.builder
        params = inspect.signature(self.builder).parameters.values()
        if any(p.default is p.empty for p in params):
            return None
        return self.builder()

    def return_class(self) -> type:
        if not self.is_builder:
            return type(self.builder)
        return typing.get_type_hints(self.builder)["return"]


@functools.cache
def entries() -> tuple[Entry, ...]:
    """One entry per initializer, in the notes' order."""
    return tuple(Entry(n) for n in reference_notes.NOTES)


# ----------------------------------------------------------------------------
# Comparisons, by drawing.


def _draw(init: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(init(jax.random.key(PROBE_KEY), shape, np.float32))


def _probe_shape(*inits: Any) -> tuple[int, ...]:
    """The first of :data:`PROBE_SHAPES` every one of ``inits`` accepts."""
    for shape in PROBE_SHAPES:
        try:
            for init in inits:
                init.law(shape)
        except ValueError:
            continue
        return shape
    raise ValueError(f"no shape of {PROBE_SHAPES} suits {inits}")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _same_density(a: Any, b: Any) -> bool:
    """Both without a density, or equal densities at a few points."""
    if a.density is None or b.density is None:
        return a.density is b.density
    x = a.mean + a.std * np.array([0.0, 0.5, 1.0, 1.5])
    return bool(np.allclose(a.density(x), b.density(x), rtol=1e-9))


def _truncated_normal(law: Any) -> bool:
    """A bounded law with a Gaussian density: d(m + 2h) / d(m) = (d(m + h) / d(m))⁴."""
    if law.density is None or not all(map(math.isfinite, law.support)):
        return False
    h = law.std / 2
    d0, d1, d2 = law.density(np.array([0.0, h, 2 * h]) + law.mean)
    return bool(d1 < d0 and math.isclose(d2 / d0, (d1 / d0) ** 4, rel_tol=1e-6))


def _law_text(law: Any) -> str:
    text = f"mean {law.mean:.4g}, std {law.std:.4g}"
    lo, hi = law.support
    return text + (f", on [{lo:.4g}, {hi:.4g}]" if math.isfinite(lo + hi) else "")


def relation(ours: Any, theirs: Any) -> tuple[Relation, str]:
    """How ``theirs`` draws compared with ``ours`` (on :func:`_probe_shape`).

    By their laws (mean, std, support) where both have one, else by drawing.
    """
    shape = _probe_shape(ours, theirs)
    a, b = ours.law(shape), theirs.law(shape)
    if a is None and b is None:  # structured (identity, dirac): the values
        same = np.array_equal(_draw(ours, shape), _draw(theirs, shape))
        return ("same law", "") if same else ("other", "other values")
    if a is None or b is None:
        return "other", "other values"
    if _close(a.mean, b.mean) and _close(a.std, b.std):
        if all(map(_close, a.support, b.support)) and _same_density(a, b):
            return "same law", ""
        if _truncated_normal(a) and b.support == (-math.inf, math.inf):
            return "untruncated", ""
    return "other", f"{_law_text(b)}; jinit's: {_law_text(a)}"


def _defaults(fn: Any, skip: tuple[str, ...]) -> dict[str, Any]:
    return {
        p.name: p.default
        for p in inspect.signature(fn).parameters.values()
        if p.default is not p.empty and p.default is not None and p.name not in skip
    }


def _jax_pairs(entry: Entry) -> list[tuple[str, Any, Any]]:
    """``(name, jinit's, JAX's)`` initializers for each JAX name of ``entry``."""
    out = []
    for name in (entry.name, *entry.aliases()):
        theirs = getattr(jax.nn.initializers, name, None)
        if theirs is None:
            continue
        if entry.is_builder:
            args = reference_notes.PROBES.get(entry.name, ())
            out.append((name, entry.builder(*args), theirs(*args)))
        else:
            out.append((name, entry.builder, theirs))
    return out


@functools.cache
def _jax_same() -> dict[tuple[str, str], bool]:
    """(entry, JAX name) -> whether both draw the same values for the same key.

    All pairs drawn in one jitted function (one compilation), in float32.
    """
    pairs = [(e.name, *p) for e in entries() for p in _jax_pairs(e)]
    shape = PROBE_SHAPES[0]

    @jax.jit
    def draw(key):
        return [
            (a(key, shape, np.float32), b(key, shape, np.float32)) for *_, a, b in pairs
        ]

    drawn = draw(jax.random.key(PROBE_KEY))
    return {
        (entry, name): bool(np.array_equal(a, b))
        for (entry, name, *_), (a, b) in zip(pairs, drawn, strict=True)
    }


def jax_names(entry: Entry) -> tuple[Name, ...]:
    """``jax.nn.initializers``' names of ``entry``'s object, and if they draw its values."""
    out = []
    for name, _, _ in _jax_pairs(entry):
        theirs = getattr(jax.nn.initializers, name)
        defaults = _defaults(theirs, ("dtype",)) if entry.is_builder else {}
        same = _jax_same()[entry.name, name]
        rel: Relation = "same values" if same else "other"
        out.append(
            Name(
                "jax",
                name,
                defaults=defaults,
                relation=rel,
                detail="draws other values for the same key",
            )
        )
    return tuple(out)


def keras_names(entry: Entry) -> tuple[Name, ...]:
    """The ``jinit.keras`` class Keras names like ``entry`` (its aliases too)."""
    for name in (entry.name, *entry.aliases()):
        cls = getattr(jinit.keras, name, None)
        if isinstance(cls, type):
            ours = entry.default()
            rel, detail = (None, "") if ours is None else relation(ours, cls())
            return (
                Name(
                    "keras",
                    cls.__name__,
                    defaults=_defaults(cls, ("seed",)),
                    shim=f"jinit.keras.{cls.__name__}",
                    relation=rel,
                    detail=detail,
                ),
            )
    return ()


def _torch_functions() -> dict[str, Any]:
    """``jinit.torch``'s functions that are a ``torch.nn.init`` function."""
    return {
        n: f
        for n in jinit.torch.__all__
        if inspect.isfunction(f := getattr(jinit.torch, n))
        and (inspect.getdoc(f) or "").startswith(f"``torch.nn.init.{n}_")
    }


def _variants(fn: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(args, kwargs)`` to try: the defaults, then each other nonlinearity."""
    params = inspect.signature(fn).parameters
    if any(p.default is p.empty for p in params.values()):
        return []
    out: list[tuple[str, dict[str, Any]]] = [("", {})]
    if "nonlinearity" in params:
        out += [
            (f'nonlinearity="{v}"', {"nonlinearity": v})
            for v in jinit.torch.NONLINEARITIES
            if v != params["nonlinearity"].default
        ]
    return out


def _best_variant(ours: Any, fn: Any) -> tuple[Relation, str] | None:
    """The first variant of ``fn`` that draws ``ours``' law, else its untruncated."""
    found = [(relation(ours, fn(**kwargs))[0], args) for args, kwargs in _variants(fn)]
    for wanted in ("same law", "untruncated"):
        for rel, args in found:
            if rel == wanted:
                return rel, args
    return None


@functools.cache
def _torch_matches() -> dict[str, tuple[Name, ...]]:
    """entry name -> its PyTorch names: by the law drawn, else by the class built."""
    found: dict[str, list[Name]] = {e.name: [] for e in entries()}
    builders = [e for e in entries() if e.is_builder]
    for name, fn in _torch_functions().items():
        shim, defaults = f"jinit.torch.{name}", _defaults(fn, ("dtype",))
        hits = []
        for e in entries():
            ours = e.default()
            if ours is not None and (best := _best_variant(ours, fn)) is not None:
                hits.append(e.name)
                rel, args = best
                found[e.name].append(
                    Name("torch", name + "_", args, defaults, shim, rel)
                )
        if hits:
            continue
        cls = typing.get_type_hints(fn)["return"]
        same_class = [e for e in builders if e.return_class() is cls]
        if len(same_class) == 1:
            [e] = same_class
            ours = e.default()
            rel, detail = (None, "") if ours is None else relation(ours, fn())
            found[e.name].append(
                Name("torch", name + "_", "", defaults, shim, rel, detail)
            )
    return {k: tuple(v) for k, v in found.items()}


@functools.cache
def names(entry: Entry, framework: Framework) -> tuple[Name, ...]:
    if framework == "jax":
        return jax_names(entry)
    if framework == "keras":
        return keras_names(entry)
    return _torch_matches()[entry.name]


# ----------------------------------------------------------------------------
# Rendering.

_INTRO = """\
# jinit reference

Generated by `python docs/gen_reference.py docs/reference.md` from the
initializers themselves: each law from the `Law:` section of the builder's
docstring, parameters and defaults from its signature, the JAX names by drawing
(`jax.nn.initializers` has the name and gives the same values for the same key),
the Keras names from `jinit.keras`' classes and the PyTorch names from
`jinit.torch`'s functions, each compared with jinit's law by drawing at their
defaults; the activation table and the schemes' tables computed. Only the prose
(where semantics differ, what each suits) is written by hand, in
`docs/reference_notes.py`. `tests/test_reference.py` fails if this file differs
from what the code generates, and checks every name and default below against
the installed JAX, Keras and PyTorch.

Every initializer is called as `init(key, shape, dtype=None, out_sharding=None)`.
Fans (`jinit.compute_fans`): for a shape `(*k, in, out)`, `fan_in = in · prod(k)`,
`fan_out = out · prod(k)`; `(n,)` has fans `(n, n)` and `()` has `(1, 1)` (Keras'
rule; JAX raises for both); a fan of 0 is clamped to 1; `batch_axis` axes count in
neither fan. PyTorch's rule on its layout `(out, in, *k)` gives the same numbers,
on the transposed kernel. float32/float64 values equal `jax.nn.initializers'` for
the same key; bfloat16, float16 and float8 are drawn in float32 and rounded once.
"""

_FRAMEWORKS: tuple[Framework, ...] = ("jax", "keras", "torch")
_LABELS = {"jax": "JAX", "keras": "Keras", "torch": "PyTorch"}
_RELATIONS = {
    "same values": "the same values for the same key",
    "same law": "the same law",
    "untruncated": "the *untruncated* normal of the same std (jinit's is truncated)",
}


def _name_line(n: Name) -> str:
    parts = [f"`{NAMESPACES[n.framework]}.{n.name}`"]
    if n.args:
        parts.append(f"with `{n.args}`")
    if n.defaults:
        shown = ", ".join(f"{k}={v!r}" for k, v in n.defaults.items())
        parts.append(f"(defaults `{shown}`)".replace("'", '"'))
    if n.shim:
        parts.append(f"— in jinit: `{n.shim}`")
    line = " ".join(parts)
    if n.relation == "other":
        at = "; " if n.framework == "jax" else "; at its defaults: "
        return line + at + n.detail
    if n.relation is not None:
        return line + ": " + _RELATIONS[n.relation]
    return line


def _overview() -> list[str]:
    lines = [
        "| jinit | law | JAX | Keras | PyTorch |",
        "|---|---|---|---|---|",
    ]
    for e in entries():
        name = " / ".join(f"`{n}`" for n in (e.name, *e.aliases()))
        cells = [", ".join(n.call() for n in names(e, f)) or "—" for f in _FRAMEWORKS]
        summary = e.law()[0]
        lines.append(f"| [{name}](#{e.name}) | {summary} | " + " | ".join(cells) + " |")
    return lines


def _section(e: Entry) -> list[str]:
    lines = [f"## {e.name}", ""]
    aliases = e.aliases()
    if aliases:
        lines += ["Also: " + ", ".join(f"`jinit.{a}`" for a in aliases) + ".", ""]
    lines += [f"`{e.signature()}`", "", e.law()[1], ""]
    for framework in _FRAMEWORKS:
        label = _LABELS[framework]
        found = names(e, framework)
        text = "; ".join(_name_line(n) for n in found) if found else "none"
        lines.append(f"- **{label}**: {text}")
    if e.note.differences:
        lines += ["", "Differences:", ""]
        lines += [f"- {d}" for d in e.note.differences]
    lines += ["", f"Suits: {e.note.suits}", ""]
    return lines


def render() -> str:
    """The Markdown of ``docs/reference.md``."""
    lines = [_INTRO, "## Overview", "", *_overview(), ""]
    lines += gen_activations.section_lines()
    for e in entries():
        lines += _section(e)
    lines += gen_schemes.section_lines()
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    """``python docs/gen_reference.py [PATH]``: write the reference (stdout if none)."""
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if argv:
        with open(argv[0], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
