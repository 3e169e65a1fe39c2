"""``defaults``: rules that start a Flax model as PyTorch, Keras or Flax would."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal, get_args

from .. import _errors, _signature
from .. import torch as _torch
from .._constant import constant, ones, zeros
from .._distributions import Normal, Uniform
from .._signature import role_of_name
from .._structured import orthogonal
from .._tree import ANY, PerLeaf, sibling
from .._variance import VarianceScaling, he_uniform, variance_scaling

Framework = Literal["torch", "keras", "flax"]
FRAMEWORKS: tuple[str, ...] = get_args(Framework)

# ----------------------------------------------------------------------------
# Presets.

#: Flax's recurrent cells: linen LSTMCell/GRUCell ("hi", "hf", ..., "hn"), linen
#: OptimizedLSTMCell ("h"), nnx LSTMCell ("hi", ...), nnx OptimizedLSTMCell,
#: SimpleCell and GRUCell ("dense_h"), linen ConvLSTM ("hh").
_RECURRENT = ANY + r"(?:h[ifgorzn]|h|hh|dense_h)/kernel"
_INPUT = ANY + r"(?:i[ifgorzn]_?|i|ih|dense_i)/kernel"
_ATTENTION = ("query", "key", "value", "out")
#: Flax's SpectralNorm state, the same in every preset: the power iteration's
#: vector u ~ N(0, 1) and the estimate sigma = 1.
_SHARED = {
    ANY + "u": Normal(1.0),
    ANY + "sigma": ones,
}


def _attention_axes(path: str, leaves: Mapping[str, Any]) -> dict[str, Any] | None:
    """Kernel axes of a Flax attention projection, or None for any other leaf.

    linen ``MultiHeadDotProductAttention`` and nnx ``MultiHeadAttention`` hold
    DenseGeneral/LinearGeneral kernels ``query|key|value: (d, heads, head_dim)``
    and ``out: (heads, head_dim, d)``. Flax initializes them flattened to 2-D, so
    their fans are ``(d, heads * head_dim)``; on the 3-D shape these axes give the
    same fans. (A 1-D conv kernel is 3-D too: it is told apart by the name.)
    """
    parts = path.split("/")
    kernel = leaves.get(sibling(path, "kernel"))
    if len(parts) < 2 or parts[-2] not in _ATTENTION or kernel is None:
        return None
    if len(kernel.shape) != 3:
        return None
    if parts[-2] == "out":
        return {"in_axis": (0, 1), "out_axis": 2}
    return {"in_axis": 0, "out_axis": (1, 2)}


def _sig(path: str, leaves: Mapping[str, Any]) -> _signature.Signature | None:
    return _signature.signature_of(leaves.get(path))


def _short_name(qualified: str) -> str:
    return qualified.rsplit(".", 1)[-1]


_ATTENTION_MODULES = ("MultiHeadDotProductAttention", "MultiHeadAttention")


def _attention_projection(path: str, leaves: Mapping[str, Any]) -> str | None:
    """``"qkv"`` or ``"out"`` for an attention projection's leaf, else None."""
    sig = _sig(path, leaves)
    if sig is None:
        axes = _attention_axes(sibling(path, "kernel"), leaves)
        if axes is None:
            return None
        return "out" if path.split("/")[-2] == "out" else "qkv"
    if not sig.parents or _short_name(sig.parents[-1]) not in _ATTENTION_MODULES:
        return None
    return "out" if path.split("/")[-2] == "out" else "qkv"


def _hidden(path: str, leaves: Mapping[str, Any]) -> int | None:
    """The hidden size of the recurrent cell a leaf is in: its recurrent kernel's input."""
    sig = _sig(path, leaves)
    if sig is None or not sig.cell:
        return None
    parts = path.split("/")[:-2]  # the cell's path: <cell>/<layer>/<param>
    prefix = "/".join(parts) + "/" if parts else ""
    for other, leaf in leaves.items():
        s = _signature.signature_of(leaf)
        if (
            other.startswith(prefix)
            and s is not None
            and s.cell == sig.cell
            and s.role == "recurrent_kernel"
        ):
            return s.shape[-2]
    return None


def _kernel_rule(name: str, dense: Any) -> PerLeaf:
    def choose(path, leaves):
        if _sig(path, leaves) is not None:
            return dense  # drawn with the module's call shape and fans
        axes = _attention_axes(path, leaves)
        return dense if axes is None else dataclasses.replace(dense, **axes)

    return PerLeaf(name, choose)


def _stored_axes(init: VarianceScaling, path: str, leaves: Mapping[str, Any]) -> Any:
    """``init`` with fans from one layer's stored shape (the last two axes).

    Keras computes fans on the layout it stores, by its last two axes (an
    ``EinsumDense`` kernel ``(d, heads, head_dim)`` has fan_in ``d * heads``),
    not on Flax's flattened call; axes named explicitly refer to that layout.
    """
    sig = _sig(path, leaves)
    if sig is None:
        return init
    layer = sig.layer_shape(tuple(leaves[path].shape))
    if len(layer) < 2 or layer == sig.shape:
        return init  # called as stored: the same fans
    n = len(layer)
    return dataclasses.replace(init, in_axis=(n - 2,), out_axis=(n - 1,))


def _outside_cell(sig: _signature.Signature | None) -> bool:
    """A signed leaf of no recurrent cell: its cell-like name (``h``, ``if``)
    is the user's, not a cell's, and says nothing of its law."""
    return sig is not None and not sig.cell


def _in_cell(name: str, cell: Any, other: Any) -> PerLeaf:
    """``cell`` for a leaf of a recurrent cell (or unsigned: by its name), else
    ``other`` (an initializer, or a rule to ask)."""

    def choose(path, leaves):
        if not _outside_cell(_sig(path, leaves)):
            return cell
        return other.for_leaf(path, leaves) if isinstance(other, PerLeaf) else other

    return PerLeaf(name, choose)


#: A kernel of a plain tree (no signature): PyTorch's law by its name only.
_PLAIN_KERNEL = _signature.Signature((), role=role_of_name("kernel"))


def _torch_signed(path: str, leaves: Mapping[str, Any], role: str) -> Any:
    """``jinit.torch.module_law`` of a leaf: its signature, recurrent cell's
    hidden size and attention projection (``role``, that of its rule, where
    the signature has none: a plain tree's ``stacked=`` leaves)."""
    sig = _sig(path, leaves)
    projection = _attention_projection(path, leaves)
    attention = None if projection is None else _PROJECTION[projection]
    if sig is None:
        plain = dataclasses.replace(_PLAIN_KERNEL, role=role)
        law = _torch.module_law(plain, attention=attention)
        axes = _attention_axes(path, leaves) if attention is not None else None
        if axes is None or not isinstance(law, VarianceScaling):
            return law
        return dataclasses.replace(law, **axes)
    sig = sig if sig.role else dataclasses.replace(sig, role=role)
    return _torch.module_law(sig, hidden=_hidden(path, leaves), attention=attention)


#: Flax's attention projections as PyTorch's: q/k/v of the packed in_proj.
_PROJECTION: dict[str, _torch.Projection] = {"qkv": "packed", "out": "out"}


def _torch_bias(path: str, leaves: Mapping[str, Any]) -> Any:
    sig = _sig(path, leaves)
    if sig is not None or _attention_projection(path, leaves) is not None:
        return _torch_signed(path, leaves, role_of_name("bias"))
    if sibling(path, "kernel") in leaves:
        return _torch.bias_default().for_leaf(path, leaves)
    return zeros


def _rules(framework: str) -> dict[str, Any]:
    if framework == "flax":
        lecun = variance_scaling(1.0, "fan_in", "truncated_normal")
        kernel = _kernel_rule("flax_kernel", lecun)

        def flax_recurrent(path, leaves):
            # ConvLSTMCell's hidden-to-hidden Conv keeps Conv's default (lecun).
            sig = _sig(path, leaves)
            if _outside_cell(sig):
                return kernel.for_leaf(path, leaves)
            conv = path.endswith("hh/kernel") if sig is None else "Conv" in sig.module
            return lecun if conv else orthogonal()

        return {
            _RECURRENT: PerLeaf("flax_recurrent", flax_recurrent),
            ANY + "kernel": kernel,
            # MGUCell(forget_bias_init=ones)
            ANY + "if/bias": _in_cell("flax_forget_bias", ones, zeros),
            ANY + "bias": zeros,
            # nn.Embed: variance_scaling(1, "fan_in", "normal", out_axis=0), whose
            # fan_in on (num_embeddings, features) is features.
            ANY + "embedding": variance_scaling(
                1.0, "fan_in", "normal", in_axis=-1, out_axis=0
            ),
            ANY + "scale": ones,
            ANY + "mean": zeros,
            ANY + "var": ones,
            **_SHARED,
            ANY + "negative_slope": constant(0.01),  # PReLU(negative_slope_init)
            ANY + "lora_a": he_uniform(),  # nnx.LoRA(a_initializer)
            ANY + "lora_b": zeros,
        }
    if framework == "keras":
        glorot = variance_scaling(1.0, "fan_avg", "uniform")
        keras_kernel = PerLeaf(
            "keras_kernel", lambda path, leaves: _stored_axes(glorot, path, leaves)
        )
        return {
            _RECURRENT: _in_cell("keras_recurrent", orthogonal(), keras_kernel),
            ANY + "kernel": keras_kernel,
            # LSTM(unit_forget_bias=True)
            ANY + "hf/bias": _in_cell("keras_forget_bias", ones, zeros),
            ANY + "bias": zeros,
            ANY + "embedding": Uniform(-0.05, 0.05),  # Embedding("uniform")
            ANY + "scale": ones,
            ANY + "mean": zeros,
            ANY + "var": ones,
            **_SHARED,
            ANY + "negative_slope": zeros,  # PReLU(alpha_initializer="zeros")
            ANY + "lora_a": he_uniform(),  # Dense.enable_lora: lora_kernel_a
            ANY + "lora_b": zeros,
        }
    kernel_role = role_of_name("kernel")
    linear = _torch.module_law(_PLAIN_KERNEL)

    def torch_kernel(path, leaves):
        return _torch_signed(path, leaves, kernel_role)

    def torch_recurrent(path, leaves):
        return _torch_signed(path, leaves, kernel_role)

    def torch_input(path, leaves):
        # An input kernel (in, hidden) outside a known cell: PyTorch's RNN law
        # with the hidden size read as the kernel's fan_out when drawn.
        sig = _sig(path, leaves)
        if sig is None or (sig.cell and _hidden(path, leaves) is None):
            return _torch.module_law(_PLAIN_KERNEL, hidden="fan_out")
        return _torch_signed(path, leaves, kernel_role)

    return {
        # nn.LSTM/GRU/RNN: every weight U(+-1/sqrt(hidden)): hidden is the fan_in
        # of a recurrent kernel (hidden, hidden) and the fan_out of an input one.
        _RECURRENT: PerLeaf("torch_recurrent", torch_recurrent),
        _INPUT: PerLeaf("torch_input", torch_input),
        ANY + "kernel": PerLeaf("torch_kernel", torch_kernel),
        ANY + "bias": PerLeaf("torch_bias", _torch_bias),
        ANY + "embedding": _torch.embedding_default(),
        ANY + "scale": ones,
        ANY + "mean": zeros,
        ANY + "var": ones,
        **_SHARED,
        ANY + "negative_slope": _torch.module_law(
            _signature.Signature((), role="negative_slope")
        ),  # nn.PReLU(init=0.25)
        # peft's LoRA: A by nn.Linear's kaiming_uniform_(a=sqrt(5)), B zeros.
        ANY + "lora_a": linear,
        ANY + "lora_b": zeros,
    }


def defaults(framework: Framework) -> dict[str, Any]:
    r"""Rules that initialize a Flax model as PyTorch, Keras or Flax would.

    An ordered dict from path regex (``re.fullmatch`` on paths such as
    ``"params/Dense_0/kernel"`` or ``"layers/0/kernel"``) to initializer, for
    :func:`jinit.materialize` and :func:`jinit.reinit`; works on linen variables
    and on ``nnx.state(model)`` (for nnx, pass the ``nnx.Param`` state, or add
    rules for RNG state). Rules may be edited or prepended to like any dict.

    ================== ===================== ================= ====================
    leaf               ``"torch"``           ``"keras"``       ``"flax"``
    ================== ===================== ================= ====================
    Dense/Conv kernel  U(+-1/sqrt(fan_in))   glorot_uniform    lecun_normal
    Dense/Conv bias    U(+-1/sqrt(fan_in))   zeros             zeros
    attention q/k/v    xavier_uniform on the glorot_uniform    lecun_normal (fans
                       packed (3d, d)                          of the 2-D kernel)
    recurrent kernel   U(+-1/sqrt(hidden))   orthogonal        orthogonal
    RNN input kernel   U(+-1/sqrt(hidden))   glorot_uniform    lecun_normal
    LSTM forget bias   U(+-1/sqrt(hidden))   ones              zeros
    embedding          N(0, 1)               U(-0.05, 0.05)    N(0, 1/features)
    norm scale / bias  ones / zeros          ones / zeros      ones / zeros
    BatchNorm stats    mean 0, var 1         mean 0, var 1     mean 0, var 1
    ConvTranspose      U(+-1/sqrt(fan_out))  glorot_uniform    lecun_normal
    PReLU slope        0.25                  0                 0.01
    LoRA A, B          U(+-1/sqrt(in)), 0    he_uniform, 0     he_uniform, 0
    ================== ===================== ================= ====================

    **Use them on** :func:`abstract` **trees.** There every leaf carries its
    init signature, so each law is drawn per layer with the shape and fans the
    module uses: ``nn.scan``/``nn.vmap``/``nnx.vmap``-stacked layers, Flax's
    flattened ``DenseGeneral``/``LinearGeneral`` kernels (attention), the
    recurrent cells (PyTorch's hidden size, also in nnx's packed
    ``OptimizedLSTMCell``/``GRUCell``), ``ConvTranspose`` (PyTorch's fan_in is
    the output channels times the taps). ``"flax"`` then equals Flax's own
    ``init`` for every parameter-owning module of ``flax.linen`` and ``flax.nnx``,
    plain and stacked; ``"torch"`` equals ``torch.nn`` for the modules with a
    PyTorch counterpart (both tested against the libraries themselves). On a
    plain tree (``jax.eval_shape(model.init, ...)``) the fans are read off the
    stored shapes, with the attention kernels recognized by name.

    The cells' layer names (``h``, ``hh``, ``i``, ``hf``, ...) decide the
    recurrent laws only inside a recurrent cell: on :func:`abstract` trees a
    layer of another module with such a name gets its own module's law. The
    PyTorch laws are :func:`jinit.torch.module_law`'s.

    PyTorch's bias reads its layer's fan_in (its kernel's); a bias with no
    kernel (a norm's) is zeros. PyTorch's LSTM has two biases, ``b_ih`` and
    ``b_hh``, each U(+-1/sqrt(hidden)), and uses their sum (variance
    ``2 / (3 hidden)``, a triangular law); Flax's cells have one bias per gate,
    which jinit draws as one of PyTorch's, U(+-1/sqrt(hidden)) (variance
    ``1 / (3 hidden)``). For GRU the same holds for the r and z gates; the n
    gate's two biases stay separate in both (Flax's ``in``/``hn`` biases).
    Keras' LSTM/GRU pack their gates into one kernel and draw glorot/orthogonal
    on the packed shape; ``"keras"`` draws them per gate (not equal for cells).
    Not covered: nnx ``OptimizedLSTMCell``'s packed forget-gate bias for Keras.

    Args:
      framework: ``"torch"``, ``"keras"`` or ``"flax"``.

    Returns:
      A new ``dict`` of rules.

    Raises:
      ValueError: an unknown framework.

    Example:
      >>> import jax, jinit, jinit.flax, flax.linen as nn
      >>> model = nn.Dense(3)
      >>> abstract = jinit.flax.abstract(model, jax.numpy.ones((1, 4)))
      >>> params = jinit.materialize(abstract, jax.random.key(1), jinit.flax.defaults("torch"))
    """
    if framework not in FRAMEWORKS:
        raise _errors.bad_choice("framework", framework, FRAMEWORKS)
    return _rules(framework)
