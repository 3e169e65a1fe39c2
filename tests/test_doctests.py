"""Every ``>>>`` example in jinit's docstrings and every python block in the README runs.

Examples share the globals a reader assumes (JAX's own doctests do the same): ``jax``,
``jnp``, ``np``, ``jinit``, ``jf`` (``jinit.flax``), ``nn`` (``flax.linen``), ``nnx``,
``eqx``, ``hk``, ``optax`` and a fixed ``key``. Random values are not printed; examples
that show them check shapes or carry ``+SKIP``.
"""

import doctest
import importlib
import os
import pathlib
import pkgutil
import re

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import jinit  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _globals() -> dict:
    import equinox as eqx
    import flax.linen as nn
    import haiku as hk
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from flax import nnx

    import jinit.flax as jf

    return dict(
        jax=jax, jnp=jnp, np=np, jinit=jinit, jf=jf, nn=nn, nnx=nnx, eqx=eqx, hk=hk,
        optax=optax, key=jax.random.key(0),
    )  # fmt: skip


def _docstring_tests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests, seen = [], set()
    for info in pkgutil.walk_packages(jinit.__path__, "jinit."):
        module = importlib.import_module(info.name)
        for test in finder.find(module):
            where = (test.filename, test.lineno)
            if test.examples and where not in seen:
                seen.add(where)
                tests.append(test)
    return sorted(tests, key=lambda t: t.name)


def _run(test: doctest.DocTest) -> None:
    test.globs.update(_globals())
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)


DOCSTRING_TESTS = _docstring_tests()

# README blocks that are sketches using names the reader supplies (``model``, ``x``,
# ``forward``, ...): the README must make them runnable (issue #28 item 2); strict, so
# one that starts to pass fails here until it is taken off the list.
README_SKETCHES = {1, 2, 4, 6, 7, 8, 9, 10, 11, 12, 13}


def test_docstring_examples_exist():
    assert len(DOCSTRING_TESTS) >= 30


@pytest.mark.parametrize("test", DOCSTRING_TESTS, ids=[t.name for t in DOCSTRING_TESTS])
def test_docstring_example(test):
    _run(test)


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


README_BLOCKS = _readme_blocks()


def _readme_case(i: int):
    if i in README_SKETCHES:
        reason = "README sketch: uses names the reader supplies; to be made runnable"
        return pytest.param(i, marks=pytest.mark.xfail(strict=True, reason=reason))
    return i


@pytest.fixture(scope="module")
def readme_errors() -> dict[int, BaseException]:
    """Run the README's blocks once, in order, in one namespace, as a reader would."""
    namespace, errors = _globals(), {}
    for i, block in enumerate(README_BLOCKS):
        try:
            exec(compile(block, f"README.md python block {i}", "exec"), namespace)
        except Exception as error:
            errors[i] = error
    return errors


@pytest.mark.parametrize("i", [_readme_case(i) for i in range(len(README_BLOCKS))])
def test_readme_python_block(i, readme_errors):
    assert i not in readme_errors, f"{readme_errors[i]!r}\n{README_BLOCKS[i]}"
