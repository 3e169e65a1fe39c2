"""docs/reference.md is what the initializers generate, and what it says is true.

The generator (docs/gen_reference.py) derives the laws from the builders'
docstrings, the names from drawing and from the jinit.keras / jinit.torch shims;
the hand-written prose (docs/reference_notes.py) covers exactly the public
initializers. Every JAX, Keras and PyTorch name in it exists in the installed
package, with the defaults the reference states and arguments it accepts; the
activation moments agree with scipy's adaptive quadrature.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import math
import pathlib
import sys

import jax
import numpy as np
import pytest
import scipy.integrate

import jinit
import jinit.diagnostics
import jinit.keras
import jinit.torch

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _load_generator():
    """docs/gen_reference.py, the generator (a documentation tool, not in jinit)."""
    path = ROOT / "docs" / "gen_reference.py"
    spec = importlib.util.spec_from_file_location("gen_reference", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_reference"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_reference = _load_generator()
_activations = _reference.gen_activations
_notes = _reference.reference_notes
REFERENCE = ROOT / "docs" / "reference.md"


@functools.cache
def _rendered() -> str:
    return _reference.render()


def _all_names(framework):
    return [
        (e, n) for e in _reference.entries() for n in _reference.names(e, framework)
    ]


def _check_name(namespace, name):
    assert hasattr(namespace, name.name), name.name
    fn = getattr(namespace, name.name)
    params = inspect.signature(fn).parameters
    for arg, value in name.defaults.items():
        assert arg in params, (name.name, arg)
        theirs = params[arg].default
        assert theirs == value, (name.name, arg, theirs)
        # 0 and 0.0 are one default; a bool or a string is not a number.
        assert isinstance(theirs, bool | str) == isinstance(value, bool | str)
    if name.args:
        call = ast.parse(f"f({name.args})", mode="eval").body
        assert not call.args, name.args
        for keyword in call.keywords:
            assert keyword.arg in params, (name.name, keyword.arg)


def test_committed_reference_is_generated():
    assert REFERENCE.read_text(encoding="utf-8") == _rendered(), (
        "docs/reference.md is stale: run `python docs/gen_reference.py docs/reference.md`"
    )


def test_main_writes_the_reference(tmp_path, monkeypatch):
    monkeypatch.setattr(_reference, "render", _rendered)
    out = tmp_path / "reference.md"
    _reference.main([str(out)])
    assert out.read_text(encoding="utf-8") == _rendered()


def test_notes_cover_exactly_the_public_initializers():
    public = set(_reference.public_initializers())
    # The detection itself: builders and initializers, nothing else.
    assert {"variance_scaling", "he_normal", "xavier_uniform", "zeros", "dirac"} <= (
        public
    )
    assert not {"materialize", "reinit", "compute_fans", "Initializer"} & public
    keys = list(_notes.NOTES)
    assert set(keys) <= public, set(keys) - public
    objects = [getattr(jinit, k) for k in keys]
    assert len({id(o) for o in objects}) == len(keys), "two notes for one initializer"
    covered = {n for e in _reference.entries() for n in (e.name, *e.aliases())}
    assert covered == public, public - covered
    for e in _reference.entries():
        assert e.note.suits, e.name
        assert f"## {e.name}\n" in _rendered()


def test_a_new_initializer_fails_until_it_has_a_note(monkeypatch):
    monkeypatch.setattr(jinit, "fresh_law", jinit.zeros.__class__(2.0), raising=False)
    public = set(_reference.public_initializers())
    covered = {n for e in _reference.entries() for n in (e.name, *e.aliases())}
    assert "fresh_law" in public - covered


def test_every_builder_has_a_law_section():
    for e in _reference.entries():
        summary, formula = e.law()
        assert summary and "\n" not in summary and formula, e.name
        assert "``" not in formula and ":func:" not in formula, e.name


def test_law_section_parser(monkeypatch):
    doc = "Builds x.\n\nLaw:\n  U(a, b)\n\n  exact\n  law.\n\nArgs:\n  a: one."
    assert _reference.doc_section(doc, "Law") == "U(a, b)\n\nexact\nlaw."
    assert _reference.doc_section(doc, "Returns") is None
    assert _reference.Entry("glorot_uniform").law()[0] == (
        "U(±√(6 / (fan_in + fan_out)))"
    )

    def undocumented(value: float = 1.0) -> jinit.Sign:
        """Builds a law without a `Law:` section."""
        return jinit.sign(value)

    monkeypatch.setattr(jinit, "sign", undocumented)
    with pytest.raises(ValueError, match="no `Law:` section"):
        _reference.Entry("sign").law()


def test_signatures_come_from_the_builders():
    sig = _reference.Entry("truncated_normal").signature()
    for p in inspect.signature(jinit.truncated_normal).parameters.values():
        assert f"{p.name}=" in sig or p.default is inspect.Parameter.empty
    assert 'bounds="relative"' in sig and "*, mean=0.0" in sig


def test_relations_tell_laws_apart():
    rel = _reference.relation
    assert rel(jinit.he_normal(), jinit.torch.kaiming_normal())[0] == "untruncated"
    assert rel(jinit.he_uniform(), jinit.torch.kaiming_uniform())[0] == "same law"
    # A uniform and a normal of the same std: neither the same nor untruncated.
    assert rel(jinit.glorot_uniform(), jinit.torch.xavier_normal())[0] == "other"
    assert rel(jinit.normal(), jinit.normal(0.02)) == (
        "other",
        "mean 0, std 0.02; jinit's: mean 0, std 0.01",
    )
    # Structured laws by their values: dirac's even taps differ from PyTorch's.
    assert rel(jinit.identity(), jinit.torch.eye())[0] == "same law"
    assert rel(jinit.dirac(), jinit.torch.dirac()) == ("other", "other values")


def test_derived_names():
    def calls(name, framework):
        entry = _reference.Entry(name)
        return {
            (n.name, n.args, n.relation) for n in _reference.names(entry, framework)
        }

    assert calls("he_normal", "jax") == {
        ("he_normal", "", "same values"),
        ("kaiming_normal", "", "same values"),
    }
    assert calls("identity", "jax") == set()
    assert calls("lecun_normal", "torch") == {
        ("kaiming_normal_", 'nonlinearity="linear"', "untruncated")
    }
    assert calls("he_uniform", "torch") == {("kaiming_uniform_", "", "same law")}
    assert calls("constant", "torch") == {("constant_", "", None)}
    assert calls("variance_scaling", "torch") == set()
    assert calls("normal", "keras") == {("RandomNormal", "", "other")}


def test_jax_names_draw_jinits_values():
    found = _all_names("jax")
    assert len(found) >= 15
    for entry, name in found:
        _check_name(jax.nn.initializers, name)
        # jinit claims JAX's values for every name the two share.
        assert name.relation == "same values", (entry.name, name.name)
        # jinit's builder keeps JAX's defaults wherever both have the argument.
        if entry.is_builder:
            ours = inspect.signature(entry.builder).parameters
            theirs = inspect.signature(getattr(jax.nn.initializers, name.name))
            for arg in ours.keys() & theirs.parameters.keys():
                default = theirs.parameters[arg].default
                assert ours[arg].default == default, (entry.name, arg)


def test_keras_names_exist():
    keras = pytest.importorskip("keras")
    found = _all_names("keras")
    assert len(found) >= 15
    for _, name in found:
        _check_name(keras.initializers, name)
        assert name.shim == f"jinit.keras.{name.name}"


def test_torch_names_exist():
    torch = pytest.importorskip("torch")
    found = _all_names("torch")
    assert len(found) >= 14
    for _, name in found:
        _check_name(torch.nn.init, name)
        assert name.shim == f"jinit.torch.{name.name.rstrip('_')}"


def test_torch_gains_are_torchs():
    torch = pytest.importorskip("torch")
    for act in _activations.ACTIVATIONS:
        if act.torch is not None:
            assert jinit.torch.calculate_gain(act.torch) == pytest.approx(
                torch.nn.init.calculate_gain(act.torch), rel=1e-15
            )


@pytest.mark.parametrize("act", _activations.ACTIVATIONS, ids=lambda a: a.name)
def test_activation_moments(act):
    def expectation(derivative):
        def f(z):
            x = np.asarray([z], dtype=np.float64)
            value = float(act.fn(x, derivative)[0])
            return value * value * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

        # Split at 0, where ReLU-like activations have their kink.
        return sum(
            scipy.integrate.quad(f, a, b, epsabs=1e-12)[0]
            for a, b in ((-math.inf, 0.0), (0.0, math.inf))
        )

    forward, backward = _activations.moments(act)
    assert forward == pytest.approx(expectation(False), rel=1e-6)
    assert backward == pytest.approx(expectation(True), rel=1e-6)


def test_activation_moments_known_values():
    by_name = {a.name: _activations.moments(a) for a in _activations.ACTIVATIONS}
    assert by_name["linear"] == pytest.approx((1.0, 1.0), rel=1e-9)
    assert by_name["relu"] == pytest.approx((0.5, 0.5), rel=1e-9)
    # SELU's constants make E[selu(z)^2] = 1 for z ~ N(0, 1) (Klambauer et al.).
    assert by_name["selu"][0] == pytest.approx(1.0, rel=1e-6)
    slope = 0.01
    assert by_name["leaky_relu"][0] == pytest.approx((1 + slope**2) / 2, rel=1e-9)


@pytest.mark.parametrize("act", _activations.ACTIVATIONS, ids=lambda a: a.name)
def test_activation_rows_are_what_report_runs(act):
    # Each row is the function `jinit report --activation <name>` runs (JAX's,
    # in float32 here): values and derivatives on a grid through both tails.
    from jinit import diagnostics

    f = diagnostics.ACTIVATIONS[act.name]
    x = np.linspace(-8, 8, 3201, dtype=np.float32)
    ours = act.fn(x.astype(np.float64), False)
    theirs = np.asarray(f(jax.numpy.asarray(x)), np.float64)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    dx = x[x != 0]  # relu-like kinks: JAX's derivative at 0 is a convention
    d_ours = act.fn(dx.astype(np.float64), True)
    d_theirs = np.asarray(jax.vmap(jax.grad(f))(jax.numpy.asarray(dx)), np.float64)
    # float32: 1 - tanh(u)^2 rounds to 0 in the tails (about 4e-6 here).
    np.testing.assert_allclose(d_ours, d_theirs, rtol=1e-5, atol=1e-5)


def test_gelu_rows_differ_by_more_than_the_tolerance():
    # The row check above tells the tanh approximation from the exact gelu:
    # each row fails against the other's JAX function.
    rows = {a.name: a for a in _activations.ACTIVATIONS}
    x = np.linspace(-8, 8, 3201, dtype=np.float32)
    for ours, theirs in (("gelu", "gelu_erf"), ("gelu_erf", "gelu")):
        f = jax.numpy.asarray
        other = np.asarray(jinit.diagnostics.ACTIVATIONS[theirs](f(x)), np.float64)
        values = rows[ours].fn(x.astype(np.float64), False)
        assert not np.allclose(values, other, rtol=1e-5, atol=1e-6)


def _quad(fn, q):
    """E[fn(sqrt(q) z)^2], z ~ N(0, 1), by scipy's adaptive quadrature."""

    def f(z):
        value = float(fn(np.asarray([math.sqrt(q) * z]), False)[0])
        return value * value * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    return sum(
        scipy.integrate.quad(f, a, b, epsabs=1e-12)[0]
        for a, b in ((-math.inf, 0.0), (0.0, math.inf))
    )


def _row(name):
    [line] = [
        line
        for line in _activations._activation_table()
        if line.startswith(f"| `{name}`")
    ]
    return [c.strip() for c in line.strip("|").split("|")]


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_deep_cells_against_an_independent_recursion(name):
    # At the forward scale s = 1 / E[f(z)^2], q = 1 is a fixed point of
    # V(q) = s E[f(sqrt(q) z)^2]; its slope V'(1) > 1 makes it unstable. The
    # printed depth scale s keeps a 50-layer mean-field MLP at its first
    # layer's size by making the first pre-activation's q = s (unit-variance
    # input) a fixed point: E[f(sqrt(s) z)^2] = 1 (to the 3 printed decimals:
    # the derivative in s is below 1 here), unstable too (V'(s) > 1).
    act = {a.name: a for a in _activations.ACTIVATIONS}[name]
    forward = 1 / _quad(act.fn, 1.0)
    eps = 1e-3

    def slope(scale, q):
        return scale * (_quad(act.fn, q + eps) - _quad(act.fn, q - eps)) / (2 * eps)

    cells = _row(name)
    assert slope(forward, 1.0) > 1 and "q=1 (unstable)" in cells[3]
    s = float(cells[4].split()[0])
    assert abs(_quad(act.fn, s) - 1) <= 1e-3
    assert slope(s, s) > 1 and cells[4].endswith("(unstable)")
    assert f"variance_scaling({s:.3f}," in cells[-1]
