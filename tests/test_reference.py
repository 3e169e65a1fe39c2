"""docs/reference.md is what the registry generates, and the registry is true.

Every public initializer has a row; every JAX, Keras and PyTorch name in it exists
in the installed package, with the defaults the reference states and arguments it
accepts; the activation moments agree with scipy's adaptive quadrature.
"""

from __future__ import annotations

import ast
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
REFERENCE = ROOT / "docs" / "reference.md"


def _names(framework):
    return [
        pytest.param(e, n, id=f"{e.name}-{n.name}")
        for e in _reference.REGISTRY
        for n in e.framework_names(framework)
    ]


def _check_name(namespace, entry, name):
    assert hasattr(namespace, name.name), (entry.name, name.name)
    fn = getattr(namespace, name.name)
    params = inspect.signature(fn).parameters
    for arg, value in name.defaults.items():
        assert arg in params, (name.name, arg)
        assert params[arg].default == value, (name.name, arg, params[arg].default)
        assert type(params[arg].default) is type(value), (name.name, arg)
    if name.args:
        call = ast.parse(f"f({name.args})", mode="eval").body
        assert not call.args, name.args
        for keyword in call.keywords:
            assert keyword.arg in params, (name.name, keyword.arg)


def test_committed_reference_is_generated():
    assert REFERENCE.read_text(encoding="utf-8") == _reference.render(), (
        "docs/reference.md is stale: run `python docs/gen_reference.py docs/reference.md`"
    )


def test_main_writes_the_reference(tmp_path):
    out = tmp_path / "reference.md"
    _reference.main([str(out)])
    assert out.read_text(encoding="utf-8") == _reference.render()


def test_every_public_initializer_has_a_row():
    public = set(_reference.public_initializers())
    # The detection itself: builders and initializers, nothing else.
    assert {"variance_scaling", "he_normal", "xavier_uniform", "zeros", "dirac"} <= (
        public
    )
    assert not {"materialize", "reinit", "compute_fans", "Initializer"} & public
    rows = [e.name for e in _reference.REGISTRY]
    assert len(rows) == len(set(rows))
    covered = set(rows) | {a for e in _reference.REGISTRY for a in e.aliases()}
    assert covered == public
    for e in _reference.REGISTRY:
        assert e.differences and e.suits and e.formula and e.law, e.name
        assert f"## {e.name}\n" in _reference.render()


def test_signatures_come_from_the_builders():
    entry = next(e for e in _reference.REGISTRY if e.name == "truncated_normal")
    sig = entry.signature()
    for p in inspect.signature(jinit.truncated_normal).parameters.values():
        assert f"{p.name}=" in sig or p.default is inspect.Parameter.empty
    assert 'bounds="relative"' in sig and "*, mean=0.0" in sig


@pytest.mark.parametrize("entry, name", _names("jax"))
def test_jax_names_exist(entry, name):
    _check_name(jax.nn.initializers, entry, name)
    # jinit's builder keeps JAX's defaults wherever both have the argument.
    ours = inspect.signature(entry.builder).parameters
    theirs = inspect.signature(getattr(jax.nn.initializers, name.name)).parameters
    for arg in ours.keys() & theirs.keys():
        assert ours[arg].default == theirs[arg].default, (entry.name, arg)


@pytest.mark.parametrize("entry, name", _names("keras"))
def test_keras_names_exist(entry, name):
    keras = pytest.importorskip("keras")
    _check_name(keras.initializers, entry, name)
    assert name.shim == f"jinit.keras.{name.name}"
    assert hasattr(jinit.keras, name.name)


@pytest.mark.parametrize("entry, name", _names("torch"))
def test_torch_names_exist(entry, name):
    torch = pytest.importorskip("torch")
    _check_name(torch.nn.init, entry, name)
    assert name.shim == f"jinit.torch.{name.name.rstrip('_')}"
    assert hasattr(jinit.torch, name.name.rstrip("_"))


def test_torch_gains_are_torchs():
    torch = pytest.importorskip("torch")
    for act in _reference.ACTIVATIONS:
        if act.torch is not None:
            assert jinit.torch.calculate_gain(act.torch) == pytest.approx(
                torch.nn.init.calculate_gain(act.torch), rel=1e-15
            )


@pytest.mark.parametrize("act", _reference.ACTIVATIONS, ids=lambda a: a.name)
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

    forward, backward = _reference.moments(act)
    assert forward == pytest.approx(expectation(False), rel=1e-6)
    assert backward == pytest.approx(expectation(True), rel=1e-6)


def test_activation_moments_known_values():
    by_name = {a.name: _reference.moments(a) for a in _reference.ACTIVATIONS}
    assert by_name["linear"] == pytest.approx((1.0, 1.0), rel=1e-9)
    assert by_name["relu"] == pytest.approx((0.5, 0.5), rel=1e-9)
    # SELU's constants make E[selu(z)^2] = 1 for z ~ N(0, 1) (Klambauer et al.).
    assert by_name["selu"][0] == pytest.approx(1.0, rel=1e-6)
    slope = 0.01
    assert by_name["leaky_relu"][0] == pytest.approx((1 + slope**2) / 2, rel=1e-9)


@pytest.mark.parametrize("act", _reference.ACTIVATIONS, ids=lambda a: a.name)
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
    rows = {a.name: a for a in _reference.ACTIVATIONS}
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
        for line in _reference._activation_table()
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
    act = {a.name: a for a in _reference.ACTIVATIONS}[name]
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
