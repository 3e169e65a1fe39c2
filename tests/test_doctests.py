"""Every ``>>>`` example of jinit's docstrings runs, as written.

The examples assume ``jax``, ``jnp``, ``np``, ``jinit`` and ``key = jax.random.key(0)``
(JAX's docs do the same); random values are ``# doctest: +SKIP`` or checked by shape.
Examples that start from the reader's own model (``model``, ``x``, ``tokens``,
``forward``, ``LM``, a ``mesh``) get small ones of that name from :data:`SETUP`, by
the framework of the module they document. They run under JAX's standard dtype
promotion, as a user's code does.
"""

import doctest
import importlib
import io
import pathlib
import pkgutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _docstring_tests():
    names = ["jinit"] + [
        m.name for m in pkgutil.walk_packages(jinit.__path__, "jinit.")
    ]
    finder = doctest.DocTestFinder()
    found = []
    for name in names:
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            if test.examples:
                found.append(test)
    return sorted(found, key=lambda t: t.name)


DOCTESTS = _docstring_tests()

FLAX = """
import flax.linen as nn
import optax
from flax import nnx


class LM(nn.Module):
    width: int = 16

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(4, name="lm_head")(x)


model, x = LM(), jnp.ones((2, 8))
tokens = x
mesh = jax.make_mesh((2, 4), ("data", "model"))
rngs = nnx.Rngs(0)
"""

EQUINOX = """
import equinox as eqx

model = eqx.nn.MLP(2, 1, 8, 2, key=jax.random.key(1))
rules = {r".*weight": jinit.he_normal(), r".*": jinit.zeros}
"""

HAIKU = """
import haiku as hk


def forward(x):
    return hk.Linear(4, name="head")(jax.nn.relu(hk.Linear(16)(x)))


x = tokens = jnp.ones((2, 8))
params = jinit.materialize(
    jinit.haiku.abstract(forward, x), jax.random.key(1), jinit.haiku.defaults("haiku")
)
"""

#: The reader's model each docstring's example starts from, by module prefix.
SETUP = {"jinit.equinox": EQUINOX, "jinit.haiku": HAIKU, "jinit": FLAX}


def _setup(name):
    prefix = next(p for p in SETUP if name == p or name.startswith(p + "."))
    globs = {"jax": jax, "jnp": jnp, "np": np, "jinit": jinit}
    exec(SETUP[prefix], globs)
    return {**globs, "key": jax.random.key(0)}


def test_there_are_docstring_examples():
    assert sum(len(t.examples) for t in DOCTESTS) >= 60


@pytest.mark.standard_promotion
@pytest.mark.parametrize("test", DOCTESTS, ids=lambda t: t.name)
def test_docstring_examples(test):
    test.globs = {**_setup(test.name), **test.globs}
    report = io.StringIO()
    result = doctest.DocTestRunner(optionflags=FLAGS).run(test, out=report.write)
    assert result.failed == 0, report.getvalue()


# --- README.md: every ```python block runs, in order, one namespace per section ---

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"

#: A block whose first line is this comment is shown, not run (the reason follows
#: it); so is a one-line statement that ends with it (doctest's directive).
SKIP = "# doctest: +SKIP"

#: The reader's own model and inputs each README section starts from, by heading.
README_SETUP = {
    "See what an initializer does before training: `jinit report`": """
model, shape = jinit.models.build("mlp", depth=2, width=16, activation="relu")
x = jax.random.normal(jax.random.key(1), (16, *shape))
init, apply = diagnostics.flax_fns(model, x)
""",
    "Coming from Keras": """
import flax
import flax.linen
import keras
layer_config = {"kernel_initializer": keras.initializers.serialize(
    keras.initializers.GlorotUniform(seed=3))}
""",
    "Coming from PyTorch": FLAX,
    "Equinox and Haiku": HAIKU,
    "Whole-model initialization (sharded, path-keyed)": """
import flax.linen as nn


class Tiny(nn.Module):
    @nn.compact
    def __call__(self, t):
        h = nn.LayerNorm()(nn.Dense(16)(nn.Embed(64, 16)(t)))
        return nn.Dense(64, name="head")(h)


model, tokens = Tiny(), jnp.zeros((2, 8), jnp.int32)
""",
}

README_SETUP["Named schemes"] = """
import flax.linen as nn


class Attn(nn.Module):
    @nn.compact
    def __call__(self, h):
        return nn.Dense(16, name="c_proj")(nn.Dense(48, name="c_attn")(h)[..., :16])


class MLP(nn.Module):
    @nn.compact
    def __call__(self, h):
        return nn.Dense(16, name="c_proj")(nn.gelu(nn.Dense(64, name="c_fc")(h)))


class Block(nn.Module):
    @nn.compact
    def __call__(self, h):
        h = h + Attn(name="attn")(nn.LayerNorm(name="ln_1")(h))
        return h + MLP(name="mlp")(nn.LayerNorm(name="ln_2")(h))


class GPT2(nn.Module):  # a GPT-2 port with Hugging Face's names, 2 layers
    @nn.compact
    def __call__(self, t):
        h = nn.Embed(64, 16, name="wte")(t) + nn.Embed(8, 16, name="wpe")(jnp.arange(8))
        for i in range(2):
            h = Block(name=f"h_{i}")(h)
        return nn.LayerNorm(name="ln_f")(h)


abstract = jinit.flax.abstract(GPT2(), jnp.zeros((2, 8), jnp.int32))
"""

LM = """
import flax.linen as nn
import optax


class LM(nn.Module):
    width: int
    logit_mult: float = 1.0
    attn_scale: float | None = None

    @nn.compact
    def __call__(self, t):
        h = nn.Embed(64, self.width)(t)
        h = nn.relu(nn.Dense(self.width)(nn.LayerNorm()(h)))
        return nn.Dense(64, name=HEAD)(h * self.logit_mult)


tokens = jnp.zeros((2, 8), jnp.int32)
"""
MUP = "μP: tune a narrow model, train the wide one with the same hyperparameters"
README_SETUP[MUP] = 'HEAD = "lm_head"' + LM
README_SETUP["Spectral μP and norm-controlled laws"] = (
    'HEAD = "head"'
    + LM
    + """
base = jinit.flax.abstract(LM(width=16), tokens)
target = jinit.flax.abstract(LM(width=64), tokens)
"""
)
README_SETUP["Muon"] = (
    'HEAD = "lm_head"'
    + LM
    + """
target = jinit.flax.abstract(LM(width=64), tokens)
mp = jinit.mup.parametrize(jinit.flax.abstract(LM(width=16), tokens), target)
"""
)


def _readme_sections():
    sections, title, block = {}, "", None
    for line in README.read_text().splitlines():
        if block is not None:
            if line.startswith("```"):
                sections.setdefault(title, []).append("\n".join(block))
                block = None
            else:
                block.append(line)
        elif line.startswith("```python"):
            block = []
        elif line.startswith("#"):
            title = line.lstrip("#").strip()
    return sections


SECTIONS = _readme_sections()


def test_readme_setups_name_sections():
    assert set(README_SETUP) <= set(SECTIONS)


@pytest.mark.standard_promotion
@pytest.mark.parametrize("title", list(SECTIONS))
def test_readme_blocks(title):
    namespace = {"__name__": "readme"}
    exec(
        "import jax, jax.numpy as jnp, jinit\nfrom jinit import diagnostics", namespace
    )
    exec(README_SETUP.get(title, ""), namespace)
    namespace.setdefault("key", jax.random.key(0))
    ran = 0
    for block in SECTIONS[title]:
        if block.lstrip().startswith(SKIP):
            continue
        lines = [line for line in block.splitlines() if SKIP not in line]
        exec(compile("\n".join(lines), f"README.md ({title})", "exec"), namespace)
        ran += 1
    if not ran:
        pytest.skip(f"README section {title!r}: every block is marked {SKIP}")
