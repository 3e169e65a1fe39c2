"""Real Flax models (linen and nnx) initialized with jinit train: the loss falls.

Tiny sizes, synthetic data with a learnable rule, 40 Adam steps in one jitted
step function. The bar is a clear margin: the final loss is below half of the
initial one (a broken initializer, e.g. zeros everywhere or exploding weights,
stalls or diverges). Flax's own layers rely on JAX's standard dtype promotion,
hence the marker.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")
optax = pytest.importorskip("optax")

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402
import jinit.torch as jt  # noqa: E402

pytestmark = pytest.mark.standard_promotion  # Flax layers' internals
STEPS = 40


def _train(loss_fn, params, lr=1e-2):
    """Adam on ``loss_fn(params)``; returns (initial loss, final loss)."""
    tx = optax.adam(lr)

    @jax.jit
    def step(params, opt_state):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    opt_state = tx.init(params)
    first = None
    for _ in range(STEPS):
        params, opt_state, loss = step(params, opt_state)
        first = loss if first is None else first
    return float(first), float(loss_fn(params))


def _assert_learns(first, last):
    assert jnp.isfinite(first) and jnp.isfinite(last)
    assert last < 0.5 * first, (first, last)


def _mse(pred, y):
    return jnp.mean((pred - y) ** 2)


def _xent(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


# ----------------------------------------------------------------------------
# Synthetic data.

KEY = jax.random.key(0)
k1, k2, k3, k4 = jax.random.split(KEY, 4)
X = jax.random.normal(k1, (128, 8))
Y = jnp.sin(X @ jax.random.normal(k2, (8, 1)))
IMAGES = jax.random.normal(k3, (64, 8, 8, 1))
IMAGE_LABELS = (IMAGES[:, :4].mean((1, 2, 3)) > IMAGES[:, 4:].mean((1, 2, 3))).astype(
    jnp.int32
)
TOKENS = jax.random.randint(k4, (64, 6), 0, 8)
FIRST = TOKENS[:, 0]  # the label: the first token, which attention must find
SEQ = jax.random.normal(k1, (64, 10, 1))
SEQ_SUM = SEQ.sum((1, 2))[:, None] / 3


# ----------------------------------------------------------------------------
# linen.


class LinenMLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(32, kernel_init=jt.linear_default())(x))
        return nn.Dense(1, kernel_init=jt.linear_default())(x)


class LinenCNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(8, (3, 3), kernel_init=jinit.he_normal())(x))
        x = nn.relu(nn.Conv(8, (3, 3), kernel_init=jinit.he_normal())(x))
        return nn.Dense(2)(x.reshape(x.shape[0], -1))


class LinenBlock(nn.Module):
    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(8, 16)(tokens)
        x = x + nn.MultiHeadDotProductAttention(num_heads=2)(x)
        x = nn.LayerNorm()(x)
        x = x + nn.Dense(16)(nn.gelu(nn.Dense(32)(x)))
        return nn.DenseGeneral(8, axis=(-2, -1))(x)  # (b, t, d) -> (b, 8)


class LinenLSTM(nn.Module):
    @nn.compact
    def __call__(self, x):
        cell = nn.LSTMCell(16, recurrent_kernel_init=jinit.orthogonal())
        h = nn.RNN(cell)(x)
        return nn.Dense(1)(h[:, -1])


def _linen(model, x, y, loss, rules=None):
    if rules is None:
        variables = model.init(jax.random.key(1), x)
    else:  # every parameter drawn by a framework preset
        abstract = jf.abstract(model, x, rngs=jax.random.key(1))
        variables = jinit.materialize(abstract, jax.random.key(2), rules)
    return _train(lambda p: loss(model.apply(p, x), y), variables)


def test_linen_mlp():
    _assert_learns(*_linen(LinenMLP(), X, Y, _mse))


def test_linen_cnn_torch_preset():
    _assert_learns(
        *_linen(LinenCNN(), IMAGES, IMAGE_LABELS, _xent, jf.defaults("torch"))
    )


def test_linen_transformer_block_flax_preset():
    _assert_learns(*_linen(LinenBlock(), TOKENS, FIRST, _xent, jf.defaults("flax")))


def test_linen_lstm_orthogonal_recurrent_kernel():
    model = LinenLSTM()
    variables = model.init(jax.random.key(1), SEQ)
    w = variables["params"]["LSTMCell_0"]["hf"]["kernel"]
    assert jnp.allclose(w.T @ w, jnp.eye(16), atol=1e-5)
    _assert_learns(*_train(lambda p: _mse(model.apply(p, SEQ), SEQ_SUM), variables))


# ----------------------------------------------------------------------------
# nnx.


class NnxMLP(nnx.Module):
    def __init__(self, rngs):
        init = {"kernel_init": jt.linear_default()}
        self.l1 = nnx.Linear(
            8, 32, bias_init=jt.bias_default(fan_in=8), rngs=rngs, **init
        )
        self.l2 = nnx.Linear(32, 1, rngs=rngs, **init)

    def __call__(self, x):
        return self.l2(nnx.relu(self.l1(x)))


class NnxCNN(nnx.Module):
    def __init__(self, rngs):
        self.c1 = nnx.Conv(1, 8, (3, 3), kernel_init=jt.conv_default(), rngs=rngs)
        self.c2 = nnx.Conv(8, 8, (3, 3), kernel_init=jt.kaiming_normal(), rngs=rngs)
        self.head = nnx.Linear(8 * 8 * 8, 2, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.c2(nnx.relu(self.c1(x))))
        return self.head(x.reshape(x.shape[0], -1))


class NnxBlock(nnx.Module):
    def __init__(self, rngs):
        self.embed = nnx.Embed(8, 16, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(
            2, 16, kernel_init=jinit.xavier_uniform(), decode=False, rngs=rngs
        )
        self.norm = nnx.LayerNorm(16, rngs=rngs)
        self.up = nnx.Linear(16, 32, rngs=rngs)
        self.down = nnx.Linear(32, 16, rngs=rngs)
        self.head = nnx.LinearGeneral((6, 16), 8, axis=(-2, -1), rngs=rngs)

    def __call__(self, tokens):
        x = self.embed(tokens)
        x = self.norm(x + self.attn(x))
        x = x + self.down(nnx.gelu(self.up(x)))
        return self.head(x)


class NnxLSTM(nnx.Module):
    def __init__(self, rngs):
        cell = nnx.LSTMCell(1, 16, recurrent_kernel_init=jinit.orthogonal(), rngs=rngs)
        self.rnn = nnx.RNN(cell, rngs=False)  # zero carry: no RNG state to mutate
        self.head = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        zeros = jnp.zeros((x.shape[0], 16))
        return self.head(self.rnn(x, initial_carry=(zeros, zeros))[:, -1])


def _nnx(make, x, y, loss, rules=None):
    graph, params, rest = nnx.split(make(), nnx.Param, ...)
    if rules is not None:  # every parameter drawn by a preset, per its signature
        _, abstract, _ = nnx.split(jf.abstract(make), nnx.Param, ...)
        params = jinit.materialize(abstract, jax.random.key(2), rules)

    def loss_fn(p):
        return loss(nnx.merge(graph, p, rest)(x), y)

    return _train(loss_fn, params)


def test_nnx_mlp():
    _assert_learns(*_nnx(lambda: NnxMLP(nnx.Rngs(1)), X, Y, _mse))


def test_nnx_cnn():
    _assert_learns(*_nnx(lambda: NnxCNN(nnx.Rngs(1)), IMAGES, IMAGE_LABELS, _xent))


def test_nnx_transformer_block_keras_preset():
    model = NnxBlock(nnx.Rngs(1))
    assert model.attn.query.kernel.shape == (16, 2, 8)  # a LinearGeneral kernel
    make = lambda: NnxBlock(nnx.Rngs(1))  # noqa: E731
    _assert_learns(*_nnx(make, TOKENS, FIRST, _xent, jf.defaults("keras")))


def test_nnx_lstm_orthogonal_recurrent_kernel():
    model = NnxLSTM(nnx.Rngs(1))
    w = model.rnn.cell.hf.kernel[...]
    assert jnp.allclose(w.T @ w, jnp.eye(16), atol=1e-5)
    _assert_learns(*_nnx(lambda: NnxLSTM(nnx.Rngs(1)), SEQ, SEQ_SUM, _mse))
