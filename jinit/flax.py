"""Flax adapters: framework presets, partitioned initializers, a per-parameter table.

* :func:`defaults` gives ``jinit.materialize``/``jinit.reinit`` rules that make a
  whole Flax model (linen variables or nnx state) start as PyTorch, Keras or
  Flax would start it: kernels, biases, embeddings, norms, recurrent kernels.
* :func:`linen_partitioning` and :func:`nnx_partitioning` wrap an initializer so
  that it receives ``out_sharding`` and draws directly into its shards, where
  ``nn.with_partitioning``/``nnx.with_partitioning`` draw the full array first.
* :func:`table` and :func:`format_table` list, for every parameter, the rule and
  initializer it gets, its fans and the std of its law: check a port side by side.

Nothing here samples: the presets name core initializers (and :mod:`jinit.torch`
translations of PyTorch's), and the wrappers only pass arguments on. Flax is
imported lazily, by the partitioning wrappers only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, get_args

import jax

from . import _checks, _errors, _signature, _tree
from . import torch as _torch
from ._constant import constant, ones, zeros
from ._distributions import Normal, Uniform
from ._paths import ANY, sibling
from ._signature import role_of_name
from ._structured import orthogonal
from ._variance import VarianceScaling, he_uniform, variance_scaling

__all__ = [
    "FRAMEWORKS",
    "PerLeaf",
    "abstract",
    "declared",
    "defaults",
    "format_table",
    "linen_partitioning",
    "nnx_partitioning",
    "table",
]

P = jax.sharding.PartitionSpec
Framework = Literal["torch", "keras", "flax"]
FRAMEWORKS: tuple[str, ...] = get_args(Framework)

# ----------------------------------------------------------------------------
# Abstract models whose leaves know how their module initializes them.


def abstract(model: Any, *args: Any, rngs: Any = None, **kwargs: Any) -> Any:
    """The model's abstract variables, each parameter carrying its init signature.

    For a linen module, the tree of ``jax.eval_shape(model.init, rngs, *args,
    **kwargs)``; for nnx, ``abstract(make_model)`` with a function that builds the
    module is ``nnx.eval_shape(make_model)``. Nothing is allocated. Every
    parameter's ``jax.ShapeDtypeStruct`` becomes a :class:`jinit.Abstract`
    (still a ``ShapeDtypeStruct``) whose ``signature``
    (:class:`jinit.Signature`) records what the module does: the shape its
    initializer is called with (``DenseGeneral``'s flattened kernel), the axes
    ``nn.scan``/``nn.vmap``/``nnx.vmap``/``nnx.scan`` stacked, the initializer it
    declared, its module and role. :func:`jinit.materialize` and
    :func:`jinit.reinit` then draw every rule's initializer per layer with the
    module's call shape and fans, and :func:`table` shows them.

    Args:
      model: a ``flax.linen.Module``, or a function of no arguments returning a
        ``flax.nnx.Module``.
      *args, **kwargs: the arguments of ``model.init`` after the key (linen).
      rngs: the key, or dict of keys, ``model.init`` gets (linen; default
        ``jax.random.key(0)``: only shapes are computed).

    Returns:
      linen: the variables dict ``model.init`` would return, abstract. nnx: the
      abstract module (``nnx.split`` it for its state).

    Raises:
      TypeError: ``model`` is neither (a built nnx module: pass the function
        that builds it, ``lambda: Model(..., rngs=nnx.Rngs(0))``); ``rngs``
        that linen's ``init`` does not take (an int seed, a string).
      ValueError: ``rngs`` given for an nnx model.

    Example:
      >>> abstract = jinit.flax.abstract(model, tokens)   # nn.scan-stacked blocks too
      >>> params = jinit.materialize(abstract, key, jinit.flax.defaults("flax"))
    """
    from flax import linen as nn
    from flax import nnx

    from . import _flax_abstract

    if isinstance(model, nn.Module):
        rngs = jax.random.key(0) if rngs is None else rngs
        _check_rngs(rngs)
        return _flax_abstract.linen(model, args, kwargs, rngs)
    if isinstance(model, nnx.Module):
        raise _errors.bad_type(
            "model",
            "for nnx, a function that builds the module (`lambda: "
            f"{type(model).__name__}(..., rngs=nnx.Rngs(0))`), not a built module: "
            "jinit builds it abstractly, under nnx.eval_shape",
            model,
        )
    if callable(model) and rngs is not None:
        raise _errors.bad_value(
            "rngs",
            "None for an nnx model (the function that builds it passes its own "
            "nnx.Rngs; `rngs` is the key of a linen module's init)",
            rngs,
        )
    if callable(model) and not args and not kwargs:
        return _flax_abstract.nnx(model)
    raise _errors.bad_type(
        "model",
        "a flax.linen.Module (with its init arguments), or a function of no "
        "arguments that builds a flax.nnx.Module",
        model,
    )


_RNGS = (
    "a PRNG key (jax.random.key(0)) or a dict of them by rng collection name "
    "({'params': key, 'dropout': key}), as flax.linen.Module.init takes (not an "
    "int seed)"
)


def _check_rngs(rngs: Any) -> None:
    """Checks ``rngs`` as linen's ``init`` would (it rejects int seeds too)."""
    keys = rngs.values() if isinstance(rngs, Mapping) else [rngs]
    if isinstance(rngs, Mapping) and not all(isinstance(k, str) for k in rngs):
        raise _errors.bad_type("rngs", _RNGS, rngs)
    for key in keys:
        try:
            _checks.check_key(key)
        except (TypeError, ValueError):
            raise _errors.bad_type("rngs", _RNGS, rngs) from None


def _declared(path: str, leaves: Mapping[str, Any]) -> Any:
    return _signature.declared(path, leaves, "jinit.flax.abstract(...)")


def declared() -> PerLeaf:
    """A rule that draws each parameter with the initializer its module declared.

    ``{r".*": jinit.flax.declared()}`` on :func:`abstract` leaves gives the
    model's own laws (drawn by jinit's path keys, per layer with the module's
    call shape), and lets other rules override some of them.
    """
    return PerLeaf("declared", _declared)


# ----------------------------------------------------------------------------
# Presets.

_ANY = ANY
#: Flax's recurrent cells: linen LSTMCell/GRUCell ("hi", "hf", ..., "hn"), linen
#: OptimizedLSTMCell ("h"), nnx LSTMCell ("hi", ...), nnx OptimizedLSTMCell,
#: SimpleCell and GRUCell ("dense_h"), linen ConvLSTM ("hh").
_RECURRENT = _ANY + r"(?:h[ifgorzn]|h|hh|dense_h)/kernel"
_INPUT = _ANY + r"(?:i[ifgorzn]_?|i|ih|dense_i)/kernel"
_ATTENTION = ("query", "key", "value", "out")
#: Flax's SpectralNorm state, the same in every preset: the power iteration's
#: vector u ~ N(0, 1) and the estimate sigma = 1.
_SHARED = {
    _ANY + "u": Normal(1.0),
    _ANY + "sigma": ones,
}


@dataclasses.dataclass(frozen=True)
class PerLeaf:
    """A rule that picks an initializer per leaf from its path and the tree's shapes.

    ``choose(path, leaves) -> initializer`` is called by ``jinit.materialize`` and
    ``jinit.reinit`` through :meth:`for_leaf` (``leaves`` maps every path to its
    ``jax.ShapeDtypeStruct``). Calling it directly is an error: it cannot know the
    leaf's neighbours.
    """

    name: str
    choose: Callable[[str, Mapping[str, jax.ShapeDtypeStruct]], Any]

    def for_leaf(self, path: str, leaves: Mapping[str, jax.ShapeDtypeStruct]) -> Any:
        return self.choose(path, leaves)

    def __call__(self, key, shape, dtype=None, out_sharding=None):
        raise _errors.bad_value(
            "rule",
            f"used through jinit.materialize/reinit ({self.name} picks its "
            "initializer from the leaf's path and its sibling leaves)",
            self.name,
        )

    def __repr__(self) -> str:
        return self.name


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
            _ANY + "kernel": kernel,
            # MGUCell(forget_bias_init=ones)
            _ANY + "if/bias": _in_cell("flax_forget_bias", ones, zeros),
            _ANY + "bias": zeros,
            # nn.Embed: variance_scaling(1, "fan_in", "normal", out_axis=0), whose
            # fan_in on (num_embeddings, features) is features.
            _ANY + "embedding": variance_scaling(
                1.0, "fan_in", "normal", in_axis=-1, out_axis=0
            ),
            _ANY + "scale": ones,
            _ANY + "mean": zeros,
            _ANY + "var": ones,
            **_SHARED,
            _ANY + "negative_slope": constant(0.01),  # PReLU(negative_slope_init)
            _ANY + "lora_a": he_uniform(),  # nnx.LoRA(a_initializer)
            _ANY + "lora_b": zeros,
        }
    if framework == "keras":
        glorot = variance_scaling(1.0, "fan_avg", "uniform")
        keras_kernel = PerLeaf(
            "keras_kernel", lambda path, leaves: _stored_axes(glorot, path, leaves)
        )
        return {
            _RECURRENT: _in_cell("keras_recurrent", orthogonal(), keras_kernel),
            _ANY + "kernel": keras_kernel,
            # LSTM(unit_forget_bias=True)
            _ANY + "hf/bias": _in_cell("keras_forget_bias", ones, zeros),
            _ANY + "bias": zeros,
            _ANY + "embedding": Uniform(-0.05, 0.05),  # Embedding("uniform")
            _ANY + "scale": ones,
            _ANY + "mean": zeros,
            _ANY + "var": ones,
            **_SHARED,
            _ANY + "negative_slope": zeros,  # PReLU(alpha_initializer="zeros")
            _ANY + "lora_a": he_uniform(),  # Dense.enable_lora: lora_kernel_a
            _ANY + "lora_b": zeros,
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
        _ANY + "kernel": PerLeaf("torch_kernel", torch_kernel),
        _ANY + "bias": PerLeaf("torch_bias", _torch_bias),
        _ANY + "embedding": _torch.embedding_default(),
        _ANY + "scale": ones,
        _ANY + "mean": zeros,
        _ANY + "var": ones,
        **_SHARED,
        _ANY + "negative_slope": _torch.module_law(
            _signature.Signature((), role="negative_slope")
        ),  # nn.PReLU(init=0.25)
        # peft's LoRA: A by nn.Linear's kaiming_uniform_(a=sqrt(5)), B zeros.
        _ANY + "lora_a": linear,
        _ANY + "lora_b": zeros,
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


# ----------------------------------------------------------------------------
# Partitioning: the initializer draws into its shards.


def _spec(names: Any) -> jax.sharding.PartitionSpec:
    if isinstance(names, jax.sharding.PartitionSpec):
        return names
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise _errors.bad_type(
            "names", "a tuple of mesh axis names (or None) per dimension", names
        )
    return jax.sharding.PartitionSpec(*names)


def _sharding(spec, mesh) -> Any:
    """The ``out_sharding`` to draw with: on ``mesh``, else the context mesh."""
    if mesh is None:
        context = jax.sharding.get_abstract_mesh()
        if context.empty:
            return None  # no mesh anywhere: draw unsharded, as Flax does
        return spec
    return _tree.auto_axes(jax.sharding.NamedSharding(mesh, spec))


def _linen_mesh(mesh: Any) -> Any:
    """The mesh a linen box is given: ``mesh`` with Auto axes (same devices).

    linen's boxes constrain their value with ``with_sharding_constraint``, which
    only takes Auto axes; ``jax.make_mesh``'s default axes are Explicit. Without
    ``mesh``, a context mesh with Explicit axes cannot be converted (linen has
    no concrete mesh to box), and is an error that says what to pass.
    """
    if mesh is not None:
        if isinstance(mesh, jax.sharding.Mesh):
            auto = _tree.auto_axes(jax.sharding.NamedSharding(mesh, P()))
            assert isinstance(auto, jax.sharding.NamedSharding)  # for pyright
            return auto.mesh
        return mesh
    context = jax.sharding.get_abstract_mesh()
    if not context.empty and context.explicit_axes:
        raise _errors.bad_value(
            "mesh",
            "given explicitly when the context mesh has Explicit axes (linen "
            "boxes constrain with Auto axes; pass mesh=your_mesh, which is used "
            "with Auto axes, or make the mesh with axis_types=Auto)",
            context,
        )
    return None


def _check_mesh(mesh: Any) -> None:
    if mesh is not None and not isinstance(
        mesh, jax.sharding.Mesh | jax.sharding.AbstractMesh
    ):
        raise _errors.bad_type("mesh", "a jax.sharding.Mesh or None", mesh)


def linen_partitioning(
    init: Callable[..., jax.Array], names: Any, mesh: jax.sharding.Mesh | None = None
) -> Callable[..., Any]:
    """``nn.with_partitioning`` that draws each shard in place.

    Returns an initializer for ``flax.linen`` params that calls ``init(key, shape,
    dtype, out_sharding=NamedSharding(mesh, PartitionSpec(*names)))`` and boxes the
    result in ``nn.Partitioned(value, names, mesh)``, so the array never exists
    unsharded (``nn.with_partitioning`` draws it whole, then Flax reshards it).
    Without ``mesh``, the mesh of ``jax.set_mesh``/``jax.sharding.use_mesh`` is
    used; with no mesh at all the draw is unsharded, as in Flax. Values equal the
    unsharded draw (``jax_threefry_partitionable``, JAX's default).

    ``names`` are mesh axis names (``None`` for a replicated dimension); for
    logical names use :func:`linen_logical_partitioning`. ``init`` must accept ``out_sharding`` (every jinit initializer
    and ``jax.nn.initializers`` do). Not for ``nn.DenseGeneral`` kernels, which
    Flax draws in a flattened 2-D shape.

    Example:
      >>> dense = nn.Dense(1024, kernel_init=jinit.flax.linen_partitioning(
      ...     jinit.he_normal(), (None, "model"), mesh))
    """
    from flax import linen as nn

    spec = _spec(names)
    _check_mesh(mesh)

    def wrapper(key, shape, dtype=None):
        value = init(key, shape, dtype, out_sharding=_sharding(spec, mesh))
        return nn.Partitioned(value, tuple(spec), mesh=_linen_mesh(mesh))

    return wrapper


def linen_logical_partitioning(
    init: Callable[..., jax.Array],
    names: Any,
    mesh: jax.sharding.Mesh | None = None,
    rules: Any = None,
) -> Callable[..., Any]:
    """``nn.with_logical_partitioning`` that draws each shard in place.

    ``names`` are logical axis names (``"embed"``, ``"mlp"``, None), mapped onto
    mesh axes at call time by ``rules`` (pairs ``(logical, mesh axes)``), else by
    the rules of the enclosing ``nn.logical_axis_rules(...)``, exactly as
    ``nn.logical_to_mesh_axes`` maps them. ``init`` draws with that sharding
    (on ``mesh``, else the context mesh) and the value is boxed in
    ``nn.LogicallyPartitioned(value, names, mesh, rules)``. A name no rule
    maps is a replicated dimension, as in Flax. Values equal the unsharded draw.

    Example:
      >>> rules = [("embed", None), ("mlp", "model")]
      >>> dense = nn.Dense(4096, kernel_init=jinit.flax.linen_logical_partitioning(
      ...     jinit.he_normal(), ("embed", "mlp"), mesh, rules))
    """
    from flax import linen as nn
    from flax.linen import spmd

    logical = tuple(_spec(names))
    _check_mesh(mesh)

    def wrapper(key, shape, dtype=None):
        spec = spmd.logical_to_mesh_axes(logical, rules)
        value = init(key, shape, dtype, out_sharding=_sharding(spec, mesh))
        return nn.LogicallyPartitioned(
            value, logical, mesh=_linen_mesh(mesh), rules=rules
        )

    return wrapper


def nnx_partitioning(
    init: Callable[..., jax.Array],
    names: Any,
    mesh: jax.sharding.Mesh | None = None,
    **metadata: Any,
) -> Callable[..., Any]:
    """``nnx.with_partitioning`` that draws each shard in place.

    Returns an initializer for ``flax.nnx`` layers (``kernel_init=``) that calls
    ``init(key, shape, dtype, out_sharding=...)`` with the sharding of ``names``
    on ``mesh`` (else the context mesh) and attaches ``out_sharding=names``,
    ``mesh`` and ``metadata`` to the Variable, as ``nnx.with_partitioning`` does;
    Flax's eager sharding then finds the array already in place.

    Example:
      >>> linear = nnx.Linear(64, 256, rngs=rngs, kernel_init=jinit.flax.nnx_partitioning(
      ...     jinit.he_normal(), (None, "model"), mesh))
    """
    from flax import nnx

    spec = _spec(names)
    _check_mesh(mesh)

    def draw(key, shape, dtype=None):
        return init(key, shape, dtype, out_sharding=_sharding(spec, mesh))

    return nnx.with_metadata(draw, out_sharding=tuple(spec), mesh=mesh, **metadata)


# ----------------------------------------------------------------------------
# The per-parameter table.


def _law_std(init: Any, shape: tuple[int, ...]) -> float | None:
    """The std of the values ``init`` draws for ``shape`` (None if not one law)."""
    law = getattr(init, "law", None)
    if not callable(law):
        return None  # a foreign callable: its law is not known
    try:
        found = law(shape)
    except (ValueError, TypeError):
        return None
    std = getattr(found, "std", None)
    return None if std is None else float(std)


def _layer_stds(init: Any, shape: tuple[int, ...]) -> tuple[float, ...] | None:
    """The std of each layer of a depth-indexed stack (a law with ``layers``)."""
    law = getattr(init, "law", None)
    if not getattr(init, "draws_stack", False) or not callable(law):
        return None
    layers = getattr(law(shape), "layers", None)
    return None if not layers else tuple(float(x.std) for x in layers)


def _row_law(p: _tree.Planned) -> tuple[tuple[int, ...], float, float, Any, Any]:
    """``(call shape, fan_in, fan_out, std, layer_stds)`` of a planned leaf."""
    if p.signature is None:
        fan_in, fan_out = _signature.fans(p.init, None, p.shape)
        return p.shape, fan_in, fan_out, _law_std(p.init, p.shape), None
    init, draw_shape, per_layer = _signature.plan(p.init, p.signature, p.shape)
    fan_in, fan_out = _signature.fans(p.init, p.signature, p.shape)
    call = p.signature.shape
    std = _law_std(p.init, call) if per_layer else _law_std(init, draw_shape)
    return call, fan_in, fan_out, std, _layer_stds(init, draw_shape)


def table(
    tree: Any,
    rules: Any,
    *,
    default: Callable[..., Any] | None = None,
    stacked: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One row per parameter: what ``jinit.materialize(tree, key, rules)`` draws.

    Each row is a dict with ``path``, ``shape`` (stored), ``call`` (the shape the
    initializer is called with, per layer: a ``DenseGeneral`` kernel's 2-D
    shape), ``stacked`` (the stacked axes of ``nn.scan``/``vmap`` layers),
    ``dtype``, ``rule`` (the regex that matched, or ``"default"``), ``init`` (the
    initializer, after ``for_leaf``), ``fan_in`` and ``fan_out`` (the fans it
    uses, per layer) and ``std``, the std of the law the leaf is drawn from (None
    where it is not a simple number: identity, dirac, a foreign callable), and
    ``layer_stds``: each layer's std for a depth-indexed stack
    (:class:`jinit.schemes.LayerStack`, whose ``std`` is then the whole leaf's),
    else None. The text of :func:`format_table` shows such a std as
    ``layer 0..last layer``.

    The rows come from ``materialize``'s own plan, so the table raises exactly
    where ``materialize`` would (unmatched leaves, an initializer that cannot
    fill a leaf). Leaves of :func:`abstract` trees carry their signatures.

    Args:
      tree: an abstract or concrete tree (:func:`abstract`, linen variables,
        nnx state, a dict of ``jax.ShapeDtypeStruct``).
      rules: rules as for ``materialize`` (e.g. :func:`defaults`).
      default: the initializer of unmatched leaves.
      stacked: stacked axes by path regex, as for ``materialize``.

    Returns:
      A list of dicts, in the tree's leaf order.
    """
    leaves, _ = _tree.flatten(tree)
    planned = _tree.plan_leaves(leaves, rules, default=default, stacked=stacked)
    rows = []
    for p in planned:
        call, fan_in, fan_out, std, layer_stds = _row_law(p)
        rows.append(
            {
                "path": p.path,
                "shape": p.shape,
                "call": call,
                "stacked": () if p.signature is None else p.signature.stacked,
                "dtype": p.dtype.name,
                "rule": p.rule,
                "init": p.init,
                "fan_in": fan_in,
                "fan_out": fan_out,
                "std": std,
                "layer_stds": layer_stds,
            }
        )
    return rows


_COLUMNS = (
    "path",
    "shape",
    "call",
    "stacked",
    "dtype",
    "rule",
    "init",
    "fan_in",
    "fan_out",
    "std",
)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("shape", "call", "stacked"):
        if key == "stacked" and not value:
            return "-"
        return "(" + ", ".join(map(str, value)) + ("," if len(value) == 1 else "") + ")"
    if key in ("fan_in", "fan_out"):
        return f"{value:g}"
    if key == "std":
        return f"{value:.4g}"
    if key == "init":
        return _short(value)
    return str(value)


def _row_cell(key: str, row: Mapping[str, Any]) -> str:
    layers = row.get("layer_stds")
    if key == "std" and layers:  # a depth-indexed stack: layer 0 .. layer L-1
        return f"{layers[0]:.4g}..{layers[-1]:.4g}"
    return _cell(key, row.get(key))


def _short(init: Any) -> str:
    """``Name(field=value, ...)`` with only the fields that differ from the default."""
    if not dataclasses.is_dataclass(init) or isinstance(init, type):
        return getattr(init, "__name__", None) or repr(init)
    args = []
    for f in dataclasses.fields(init):
        value = getattr(init, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        args.append(
            f"{f.name}={value:.4g}"
            if isinstance(value, float)
            else f"{f.name}={value!r}"
        )
    return f"{type(init).__name__}({', '.join(args)})"


def format_table(
    rows: Sequence[Mapping[str, Any]],
    *,
    style: Literal["markdown", "text"] = "markdown",
) -> str:
    """Formats :func:`table` rows as a Markdown table or aligned plain text.

    Raises:
      ValueError: an unknown ``style``.
    """
    if style not in ("markdown", "text"):
        raise _errors.bad_choice("style", style, ("markdown", "text"))
    cells = [[_row_cell(c, row) for c in _COLUMNS] for row in rows]
    if style == "markdown":
        esc = lambda s: s.replace("|", "\\|")  # noqa: E731
        lines = ["| " + " | ".join(_COLUMNS) + " |"]
        lines.append("|" + "|".join("---" for _ in _COLUMNS) + "|")
        lines += ["| " + " | ".join(map(esc, r)) + " |" for r in cells]
        return "\n".join(lines)
    widths = [
        max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(_COLUMNS)
    ]

    def fmt(r):
        return "  ".join(s.ljust(w) for s, w in zip(r, widths, strict=True)).rstrip()

    return "\n".join(
        [fmt(_COLUMNS), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells]
    )
