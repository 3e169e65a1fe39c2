"""Built-in model families for ``jinit report``: Flax linen modules to compare on.

Every model takes ``depth`` and ``width`` (no defaults; ``jinit report``'s are
``jinit.cli.DEFAULT_SIZE``) and an input batch whose last axis is ``width`` (the
input layer is a model layer like the others), applies ``depth`` layers or
blocks whose kernels come from ``kernel_init`` (biases from ``bias_init``, zeros
by default), and sows the signal after every layer into the ``"intermediates"`` collection as
``layer_<i>``, in call order, for :mod:`jinit.diagnostics` to read. There is no
normalization anywhere but in the Transformer (pre-LayerNorm), so what the
signal does through depth is what the initializer makes it do.

Requires flax (``pip install "jinit[report]"``); imported lazily by the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax

from . import _checks, _errors, diagnostics
from ._constant import zeros
from ._variance import lecun_normal

#: Activations by name, as the CLI and the models spell them (the table lives
#: in :mod:`jinit.diagnostics`, which needs no Flax).
__all__ = [
    "ACTIVATIONS",
    "CNN",
    "MLP",
    "MODELS",
    "ReadoutMLP",
    "ResCNN",
    "ResMLP",
    "SelfAttention",
    "Transformer",
    "build",
    "get_activation",
]

ACTIVATIONS = diagnostics.ACTIVATIONS


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation function called ``name`` (one of :data:`ACTIVATIONS`)."""
    if not isinstance(name, str):
        raise _errors.bad_type("activation", "a name (str)", name)
    return diagnostics.get_activation(name)


class MLP(nn.Module):
    """``depth`` times ``Dense(width) -> activation``; sows each layer's output."""

    depth: int
    width: int
    activation: str = "relu"
    kernel_init: Any = lecun_normal()
    bias_init: Any = zeros

    prefix = "dense"
    #: The sown activations that are activation-function outputs (for dead and
    #: saturated units): every layer's output here.
    units = r"layer_\d+"

    def layer(self, name: str) -> nn.Module:
        """One layer of the family: a Dense here, a 3x3 SAME Conv in the CNNs."""
        return nn.Dense(
            self.width,
            kernel_init=self.kernel_init,
            bias_init=self.bias_init,
            name=name,
        )

    @nn.compact
    def __call__(self, x):
        act = get_activation(self.activation)
        for i in range(self.depth):
            x = act(self.layer(f"{self.prefix}_{i}")(x))
            self.sow("intermediates", f"layer_{i}", x)
        return x


class CNN(MLP):
    """``depth`` times ``Conv(width, 3x3, SAME) -> activation`` on NHWC images."""

    prefix = "conv"

    def layer(self, name: str) -> nn.Module:
        return nn.Conv(
            self.width,
            (3, 3),
            kernel_init=self.kernel_init,
            bias_init=self.bias_init,
            name=name,
        )


class ResMLP(MLP):
    """``depth`` residual blocks ``x + Dense(activation(Dense(x)))`` (no norm).

    Sows the residual stream after each block as ``layer_<i>`` and the
    activation's output inside it as ``act_<i>``.
    """

    units = r"act_\d+"

    @nn.compact
    def __call__(self, x):
        act = get_activation(self.activation)
        for i in range(self.depth):
            inner = act(self.layer(f"block_{i}_a")(x))
            self.sow("intermediates", f"act_{i}", inner)
            x = x + self.layer(f"block_{i}_b")(inner)
            self.sow("intermediates", f"layer_{i}", x)
        return x


class ResCNN(ResMLP):
    """``depth`` residual blocks ``x + Conv(activation(Conv(x)))``, 3x3, no norm."""

    layer = CNN.layer


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``(width, width)`` Dense projections.

    The same computation and parameter names (``query``, ``key``, ``value``,
    ``out``) as ``flax.linen.MultiHeadDotProductAttention``, with 2-D kernels:
    each has fan_in = fan_out = ``width`` by the one fan rule, as Flax's 3-D
    kernels have by their flattening.
    """

    heads: int
    kernel_init: Any = lecun_normal()
    bias_init: Any = zeros

    @nn.compact
    def __call__(self, x):
        width = x.shape[-1]

        def dense(name):
            return nn.Dense(
                width,
                kernel_init=self.kernel_init,
                bias_init=self.bias_init,
                name=name,
            )

        split = (*x.shape[:-1], self.heads, width // self.heads)
        q, k, v = (dense(n)(x).reshape(split) for n in ("query", "key", "value"))
        y = nn.dot_product_attention(q, k, v)
        return dense("out")(y.reshape(x.shape))


class Transformer(nn.Module):
    """``depth`` pre-LayerNorm blocks: self-attention, then a 4x MLP, residual.

    Input: ``(batch, sequence, width)`` embeddings; ``width // 32`` heads (at
    least one). Attention and MLP kernels come from ``kernel_init``. Sows the
    residual stream after each block as ``layer_<i>`` and the MLP's activation
    output as ``act_<i>``.
    """

    units = r"act_\d+"

    depth: int
    width: int
    activation: str = "gelu"
    kernel_init: Any = lecun_normal()
    bias_init: Any = zeros

    @nn.compact
    def __call__(self, x):
        act = get_activation(self.activation)
        heads = max(1, self.width // 32)
        while self.width % heads:
            heads -= 1
        for i in range(self.depth):
            h = nn.LayerNorm(name=f"block_{i}_ln1")(x)
            x = x + SelfAttention(
                heads,
                kernel_init=self.kernel_init,
                bias_init=self.bias_init,
                name=f"block_{i}_attn",
            )(h)
            h = nn.LayerNorm(name=f"block_{i}_ln2")(x)
            h = nn.Dense(
                4 * self.width,
                kernel_init=self.kernel_init,
                bias_init=self.bias_init,
                name=f"block_{i}_mlp_in",
            )(h)
            h = act(h)
            self.sow("intermediates", f"act_{i}", h)
            h = nn.Dense(
                self.width,
                kernel_init=self.kernel_init,
                bias_init=self.bias_init,
                name=f"block_{i}_mlp_out",
            )(h)
            x = x + h
            self.sow("intermediates", f"layer_{i}", x)
        return x


class ReadoutMLP(nn.Module):
    """``depth`` hidden ``Dense(width) -> relu`` layers and a ``Dense(outputs)``
    readout, whose input is multiplied by ``logit_mult``: the model of
    ``jinit report --coord-check`` (``logit_mult`` is
    :attr:`jinit.mup.Parametrization.output_multiplier`, 1 under SP).

    The first hidden layer is the input layer (fan-in ``inputs``, fixed), the
    others hidden (both fans ``width``), the readout fan-in ``width``, fan-out
    ``outputs``: microsoft/mup's MLP of its coord-check tests.
    """

    width: int
    depth: int = 2
    outputs: int = 10
    logit_mult: float = 1.0

    @nn.compact
    def __call__(self, x):
        for i in range(self.depth):
            x = jax.nn.relu(nn.Dense(self.width, name=f"dense_{i}")(x))
        return nn.Dense(self.outputs, name="readout")(x * self.logit_mult)


#: The model families by name, with the input shape (without the batch axis) of
#: a model of width ``w``.
MODELS: dict[str, tuple[type[nn.Module], Callable[[int], tuple[int, ...]]]] = {
    "mlp": (MLP, lambda w: (w,)),
    "cnn": (CNN, lambda w: (8, 8, w)),
    "resmlp": (ResMLP, lambda w: (w,)),
    "rescnn": (ResCNN, lambda w: (8, 8, w)),
    "transformer": (Transformer, lambda w: (16, w)),
}


def build(
    name: str,
    *,
    depth: int,
    width: int,
    activation: str = "relu",
    kernel_init: Any = None,
) -> tuple[nn.Module, tuple[int, ...]]:
    """Builds the model family ``name`` and returns it with its input shape.

    Args:
      name: one of ``"mlp"``, ``"cnn"``, ``"resmlp"``, ``"rescnn"``,
        ``"transformer"``.
      depth: number of layers (blocks), >= 1.
      width: features (channels, model dimension), >= 1.
      activation: one of :data:`ACTIVATIONS`.
      kernel_init: the kernels' initializer (default ``lecun_normal()``).

    Returns:
      ``(module, input_shape)``, the input shape without the batch axis.
    """
    if name not in MODELS:
        raise _errors.bad_choice("model", name, MODELS)
    for arg, value in (("depth", depth), ("width", width)):
        _checks.integer(arg, value, minimum=1)
    get_activation(activation)  # checked here, before anything is traced
    cls, input_shape = MODELS[name]
    kwargs = {} if kernel_init is None else {"kernel_init": kernel_init}
    module = cls(depth=depth, width=width, activation=activation, **kwargs)
    return module, input_shape(width)
