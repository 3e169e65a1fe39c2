"""Routing and matrix views on every module of the Flax, Equinox and Haiku registries.

The registries are those the adapters' tests enumerate against the modules each
library exports (``tests/test_flax_signatures.py``, ``test_equinox.py``,
``test_haiku.py``): a new module fails there until it has a row, and here until
its routing is written below by hand. ``A``: Adam; ``M(reduction, output)``:
Muon with those ``MuonDimensionNumbers`` (Flax and Haiku store ``(in, out)``,
Equinox ``(out, in)``; a convolution's taps fold into its fan-in; a
``DenseGeneral`` query keeps its heads on the output side, its output
projection on the reduction side). ``OTHER``: a leaf whose role routes nothing
(an ``Einsum`` kernel's contraction is in its equation, LoRA factors, nnx's
spectral-norm state), a named error until given (:data:`NAMED`).
"""

from __future__ import annotations

import jax
import pytest

nn = pytest.importorskip("flax.linen")
optax = pytest.importorskip("optax")
eqx = pytest.importorskip("equinox")
pytest.importorskip("haiku")

import test_equinox as E  # noqa: E402
import test_flax_signatures as T  # noqa: E402
import test_haiku as Hk  # noqa: E402

import jinit.equinox as je  # noqa: E402
import jinit.flax as jf  # noqa: E402
from jinit import optim  # noqa: E402

pytestmark = [
    pytest.mark.standard_promotion,
    pytest.mark.filterwarnings("ignore:SelfAttention will be deprecated"),
]

A = None
M = optax.contrib.MuonDimensionNumbers
OTHER = "other"

LINEN_DIMS = {
    "Dense": {"Dense_0/bias": A, "Dense_0/kernel": M((0,), (1,))},
    "DenseGeneral": {
        "DenseGeneral_0/bias": A,
        "DenseGeneral_0/kernel": M((0,), (1, 2)),
    },
    "Einsum": OTHER,
    "Conv": {"Conv_0/bias": A, "Conv_0/kernel": M((0, 1, 2), (3,))},
    "ConvTranspose": {
        "ConvTranspose_0/bias": A,
        "ConvTranspose_0/kernel": M((0, 1, 2), (3,)),
    },
    "ConvLocal": {"ConvLocal_0/bias": A, "ConvLocal_0/kernel": M((2,), (3,))},
    "Embed": {"Embed_0/embedding": A},
    "MultiHeadDotProductAttention": {
        "MultiHeadDotProductAttention_0/key/bias": A,
        "MultiHeadDotProductAttention_0/key/kernel": M((0,), (1, 2)),
        "MultiHeadDotProductAttention_0/out/bias": A,
        "MultiHeadDotProductAttention_0/out/kernel": M((0, 1), (2,)),
        "MultiHeadDotProductAttention_0/query/bias": A,
        "MultiHeadDotProductAttention_0/query/kernel": M((0,), (1, 2)),
        "MultiHeadDotProductAttention_0/value/bias": A,
        "MultiHeadDotProductAttention_0/value/kernel": M((0,), (1, 2)),
    },
    "MultiHeadAttention": {
        "MultiHeadAttention_0/key/bias": A,
        "MultiHeadAttention_0/key/kernel": M((0,), (1, 2)),
        "MultiHeadAttention_0/out/bias": A,
        "MultiHeadAttention_0/out/kernel": M((0, 1), (2,)),
        "MultiHeadAttention_0/query/bias": A,
        "MultiHeadAttention_0/query/kernel": M((0,), (1, 2)),
        "MultiHeadAttention_0/value/bias": A,
        "MultiHeadAttention_0/value/kernel": M((0,), (1, 2)),
    },
    "SelfAttention": {
        "SelfAttention_0/key/bias": A,
        "SelfAttention_0/key/kernel": M((0,), (1, 2)),
        "SelfAttention_0/out/bias": A,
        "SelfAttention_0/out/kernel": M((0, 1), (2,)),
        "SelfAttention_0/query/bias": A,
        "SelfAttention_0/query/kernel": M((0,), (1, 2)),
        "SelfAttention_0/value/bias": A,
        "SelfAttention_0/value/kernel": M((0,), (1, 2)),
    },
    "LayerNorm": {"LayerNorm_0/bias": A, "LayerNorm_0/scale": A},
    "RMSNorm": {"RMSNorm_0/scale": A},
    "GroupNorm": {"GroupNorm_0/bias": A, "GroupNorm_0/scale": A},
    "InstanceNorm": {"InstanceNorm_0/bias": A, "InstanceNorm_0/scale": A},
    "BatchNorm": {"BatchNorm_0/bias": A, "BatchNorm_0/scale": A},
    "PReLU": {"PReLU_0/negative_slope": A},
    "LSTMCell": {
        "LSTMCell_0/hf/bias": A,
        "LSTMCell_0/hf/kernel": M((0,), (1,)),
        "LSTMCell_0/hg/bias": A,
        "LSTMCell_0/hg/kernel": M((0,), (1,)),
        "LSTMCell_0/hi/bias": A,
        "LSTMCell_0/hi/kernel": M((0,), (1,)),
        "LSTMCell_0/ho/bias": A,
        "LSTMCell_0/ho/kernel": M((0,), (1,)),
        "LSTMCell_0/if/kernel": M((0,), (1,)),
        "LSTMCell_0/ig/kernel": M((0,), (1,)),
        "LSTMCell_0/ii/kernel": M((0,), (1,)),
        "LSTMCell_0/io/kernel": M((0,), (1,)),
    },
    "OptimizedLSTMCell": {
        "OptimizedLSTMCell_0/hf/bias": A,
        "OptimizedLSTMCell_0/hf/kernel": M((0,), (1,)),
        "OptimizedLSTMCell_0/hg/bias": A,
        "OptimizedLSTMCell_0/hg/kernel": M((0,), (1,)),
        "OptimizedLSTMCell_0/hi/bias": A,
        "OptimizedLSTMCell_0/hi/kernel": M((0,), (1,)),
        "OptimizedLSTMCell_0/ho/bias": A,
        "OptimizedLSTMCell_0/ho/kernel": M((0,), (1,)),
        "OptimizedLSTMCell_0/if/kernel": M((0,), (1,)),
        "OptimizedLSTMCell_0/ig/kernel": M((0,), (1,)),
        "OptimizedLSTMCell_0/ii/kernel": M((0,), (1,)),
        "OptimizedLSTMCell_0/io/kernel": M((0,), (1,)),
    },
    "GRUCell": {
        "GRUCell_0/hn/bias": A,
        "GRUCell_0/hn/kernel": M((0,), (1,)),
        "GRUCell_0/hr/kernel": M((0,), (1,)),
        "GRUCell_0/hz/kernel": M((0,), (1,)),
        "GRUCell_0/in/bias": A,
        "GRUCell_0/in/kernel": M((0,), (1,)),
        "GRUCell_0/ir/bias": A,
        "GRUCell_0/ir/kernel": M((0,), (1,)),
        "GRUCell_0/iz/bias": A,
        "GRUCell_0/iz/kernel": M((0,), (1,)),
    },
    "MGUCell": {
        "MGUCell_0/hf/kernel": M((0,), (1,)),
        "MGUCell_0/hn/bias": A,
        "MGUCell_0/hn/kernel": M((0,), (1,)),
        "MGUCell_0/if/bias": A,
        "MGUCell_0/if/kernel": M((0,), (1,)),
        "MGUCell_0/in/bias": A,
        "MGUCell_0/in/kernel": M((0,), (1,)),
    },
    "SimpleCell": {
        "SimpleCell_0/h/kernel": M((0,), (1,)),
        "SimpleCell_0/i/bias": A,
        "SimpleCell_0/i/kernel": M((0,), (1,)),
    },
    "ConvLSTMCell": {
        "ConvLSTMCell_0/hh/bias": A,
        "ConvLSTMCell_0/hh/kernel": M((0, 1, 2), (3,)),
        "ConvLSTMCell_0/ih/bias": A,
        "ConvLSTMCell_0/ih/kernel": M((0, 1, 2), (3,)),
    },
    "RNN": {
        "GRUCell_0/hn/bias": A,
        "GRUCell_0/hn/kernel": M((0,), (1,)),
        "GRUCell_0/hr/kernel": M((0,), (1,)),
        "GRUCell_0/hz/kernel": M((0,), (1,)),
        "GRUCell_0/in/bias": A,
        "GRUCell_0/in/kernel": M((0,), (1,)),
        "GRUCell_0/ir/bias": A,
        "GRUCell_0/ir/kernel": M((0,), (1,)),
        "GRUCell_0/iz/bias": A,
        "GRUCell_0/iz/kernel": M((0,), (1,)),
    },
    "Bidirectional": {
        "SimpleCell_0/h/kernel": M((0,), (1,)),
        "SimpleCell_0/i/bias": A,
        "SimpleCell_0/i/kernel": M((0,), (1,)),
        "SimpleCell_1/h/kernel": M((0,), (1,)),
        "SimpleCell_1/i/bias": A,
        "SimpleCell_1/i/kernel": M((0,), (1,)),
    },
    "WeightNorm": {
        "Dense_0/bias": A,
        "Dense_0/kernel": M((0,), (1,)),
        "WeightNorm_0/Dense_0/kernel/scale": A,
    },
    "SpectralNorm": {"Dense_0/bias": A, "Dense_0/kernel": M((0,), (1,))},
}
NNX_DIMS = {
    "Linear": {"bias": A, "kernel": M((0,), (1,))},
    "LinearGeneral": {"bias": A, "kernel": M((0,), (1, 2))},
    "Einsum": OTHER,
    "Conv": {"bias": A, "kernel": M((0, 1, 2), (3,))},
    "ConvTranspose": {"bias": A, "kernel": M((0, 1, 2), (3,))},
    "Embed": {"embedding": A},
    "MultiHeadAttention": {
        "key/bias": A,
        "key/kernel": M((0,), (1, 2)),
        "out/bias": A,
        "out/kernel": M((0, 1), (2,)),
        "query/bias": A,
        "query/kernel": M((0,), (1, 2)),
        "value/bias": A,
        "value/kernel": M((0,), (1, 2)),
    },
    "LayerNorm": {"bias": A, "scale": A},
    "RMSNorm": {"scale": A},
    "GroupNorm": {"bias": A, "scale": A},
    "InstanceNorm": {"bias": A, "scale": A},
    "BatchNorm": {"bias": A, "mean": A, "scale": A, "var": A},
    "PReLU": {"negative_slope": A},
    "LSTMCell": {
        "hf/bias": A,
        "hf/kernel": M((0,), (1,)),
        "hg/bias": A,
        "hg/kernel": M((0,), (1,)),
        "hi/bias": A,
        "hi/kernel": M((0,), (1,)),
        "ho/bias": A,
        "ho/kernel": M((0,), (1,)),
        "if_/kernel": M((0,), (1,)),
        "ig/kernel": M((0,), (1,)),
        "ii/kernel": M((0,), (1,)),
        "io/kernel": M((0,), (1,)),
    },
    "OptimizedLSTMCell": {
        "dense_h/bias": A,
        "dense_h/kernel": M((0,), (1,)),
        "dense_i/kernel": M((0,), (1,)),
    },
    "GRUCell": {
        "dense_h/kernel": M((0,), (1,)),
        "dense_i/bias": A,
        "dense_i/kernel": M((0,), (1,)),
    },
    "SimpleCell": {
        "dense_h/kernel": M((0,), (1,)),
        "dense_i/bias": A,
        "dense_i/kernel": M((0,), (1,)),
    },
    "LoRA": OTHER,
    "LoRALinear": OTHER,
    "WeightNorm": {
        "layer_instance/bias": A,
        "layer_instance/kernel": M((0,), (1,)),
        "scales/('kernel',)": A,
    },
    "SpectralNorm": OTHER,
}
EQUINOX_DIMS = {
    "Linear": {"bias": A, "weight": M((1,), (0,))},
    "Conv": {"bias": A, "weight": M((1, 2), (0,))},
    "Conv1d": {"bias": A, "weight": M((1, 2), (0,))},
    "Conv2d": {"bias": A, "weight": M((1, 2, 3), (0,))},
    "Conv3d": {"bias": A, "weight": M((1, 2, 3, 4), (0,))},
    "ConvTranspose": {"bias": A, "weight": M((1, 2), (0,))},
    "ConvTranspose1d": {"bias": A, "weight": M((1, 2), (0,))},
    "ConvTranspose2d": {"bias": A, "weight": M((1, 2, 3), (0,))},
    "ConvTranspose3d": {"bias": A, "weight": M((1, 2, 3, 4), (0,))},
    "Embedding": {"weight": A},
    "GRUCell": {
        "bias": A,
        "bias_n": A,
        "weight_hh": M((1,), (0,)),
        "weight_ih": M((1,), (0,)),
    },
    "LSTMCell": {"bias": A, "weight_hh": M((1,), (0,)), "weight_ih": M((1,), (0,))},
    "MultiheadAttention": {
        "key_proj/bias": A,
        "key_proj/weight": M((1,), (0,)),
        "output_proj/bias": A,
        "output_proj/weight": M((1,), (0,)),
        "query_proj/bias": A,
        "query_proj/weight": M((1,), (0,)),
        "value_proj/bias": A,
        "value_proj/weight": M((1,), (0,)),
    },
    "LayerNorm": {"bias": A, "weight": A},
    "RMSNorm": {"weight": A},
    "GroupNorm": {"bias": A, "weight": A},
    "BatchNorm": {"bias": A, "weight": A},
    "PReLU": {"negative_slope": A},
    "MLP": {
        "layers/0/bias": A,
        "layers/0/weight": M((1,), (0,)),
        "layers/1/bias": A,
        "layers/1/weight": M((1,), (0,)),
    },
    "WeightNorm": {"layer/bias": A, "layer/weight": M((1,), (0,))},
    "SpectralNorm": {"layer/bias": A, "layer/weight": M((1,), (0,))},
}
HAIKU_DIMS = {
    "Linear": {"linear/b": A, "linear/w": M((0,), (1,))},
    "Bias": {"bias/b": A},
    "ConvND": {"conv_nd/b": A, "conv_nd/w": M((0, 1, 2), (3,))},
    "Conv1D": {"conv1_d/b": A, "conv1_d/w": M((0, 1), (2,))},
    "Conv2D": {"conv2_d/b": A, "conv2_d/w": M((0, 1, 2), (3,))},
    "Conv3D": {"conv3_d/b": A, "conv3_d/w": M((0, 1, 2, 3), (4,))},
    "ConvNDTranspose": {
        "conv_nd_transpose/b": A,
        "conv_nd_transpose/w": M((0, 1, 3), (2,)),
    },
    "Conv1DTranspose": {
        "conv1_d_transpose/b": A,
        "conv1_d_transpose/w": M((0, 2), (1,)),
    },
    "Conv2DTranspose": {
        "conv2_d_transpose/b": A,
        "conv2_d_transpose/w": M((0, 1, 3), (2,)),
    },
    "Conv3DTranspose": {
        "conv3_d_transpose/b": A,
        "conv3_d_transpose/w": M((0, 1, 2, 4), (3,)),
    },
    "DepthwiseConv1D": {
        "depthwise_conv1_d/b": A,
        "depthwise_conv1_d/w": M((0, 1), (2,)),
    },
    "DepthwiseConv2D": {
        "depthwise_conv2_d/b": A,
        "depthwise_conv2_d/w": M((0, 1, 2), (3,)),
    },
    "DepthwiseConv3D": {
        "depthwise_conv3_d/b": A,
        "depthwise_conv3_d/w": M((0, 1, 2, 3), (4,)),
    },
    "SeparableDepthwiseConv2D": {
        "separable_depthwise_conv2_d/~/depthwise_conv2_d/w": M((0, 1, 2), (3,)),
        "separable_depthwise_conv2_d/~/depthwise_conv2_d_1/b": A,
        "separable_depthwise_conv2_d/~/depthwise_conv2_d_1/w": M((0, 1, 2), (3,)),
    },
    "Conv1DLSTM": {
        "conv1_dlstm/hidden_to_hidden/b": A,
        "conv1_dlstm/hidden_to_hidden/w": M((0, 1), (2,)),
        "conv1_dlstm/input_to_hidden/b": A,
        "conv1_dlstm/input_to_hidden/w": M((0, 1), (2,)),
    },
    "Conv2DLSTM": {
        "conv2_dlstm/hidden_to_hidden/b": A,
        "conv2_dlstm/hidden_to_hidden/w": M((0, 1, 2), (3,)),
        "conv2_dlstm/input_to_hidden/b": A,
        "conv2_dlstm/input_to_hidden/w": M((0, 1, 2), (3,)),
    },
    "Conv3DLSTM": {
        "conv3_dlstm/hidden_to_hidden/b": A,
        "conv3_dlstm/hidden_to_hidden/w": M((0, 1, 2, 3), (4,)),
        "conv3_dlstm/input_to_hidden/b": A,
        "conv3_dlstm/input_to_hidden/w": M((0, 1, 2, 3), (4,)),
    },
    "GRU": {"gru/b": A, "gru/w_h": M((0,), (1,)), "gru/w_i": M((0,), (1,))},
    "LSTM": {"lstm/linear/b": A, "lstm/linear/w": M((0,), (1,))},
    "VanillaRNN": {
        "vanilla_rnn/linear/b": A,
        "vanilla_rnn/linear/w": M((0,), (1,)),
        "vanilla_rnn/linear_1/b": A,
        "vanilla_rnn/linear_1/w": M((0,), (1,)),
    },
    "Embed": {"embed/embeddings": A},
    "LayerNorm": {"layer_norm/offset": A, "layer_norm/scale": A},
    "RMSNorm": {"rms_norm/scale": A},
    "GroupNorm": {"group_norm/offset": A, "group_norm/scale": A},
    "InstanceNorm": {"instance_norm/offset": A, "instance_norm/scale": A},
    "BatchNorm": {"batch_norm/offset": A, "batch_norm/scale": A},
    "MultiHeadAttention": {
        "multi_head_attention/key/b": A,
        "multi_head_attention/key/w": M((0,), (1,)),
        "multi_head_attention/linear/b": A,
        "multi_head_attention/linear/w": M((0,), (1,)),
        "multi_head_attention/query/b": A,
        "multi_head_attention/query/w": M((0,), (1,)),
        "multi_head_attention/value/b": A,
        "multi_head_attention/value/w": M((0,), (1,)),
    },
    "VectorQuantizer": {"vector_quantizer/embeddings": A},
}

#: The leaves of the OTHER rows, named: (adam_for, dimension_numbers, routing).
NAMED = {
    ("linen", "Einsum"): (
        [],
        {r".*kernel": M((0,), (1, 2))},  # "bi,ihd->bhd"
        {"Einsum_0/bias": A, "Einsum_0/kernel": M((0,), (1, 2))},
    ),
    ("nnx", "Einsum"): (
        [],
        {"kernel": M((0,), (1, 2))},
        {"kernel": M((0,), (1, 2))},
    ),
    ("nnx", "LoRA"): (
        [],
        {"lora_a": M((0,), (1,)), "lora_b": M((0,), (1,))},
        {"lora_a": M((0,), (1,)), "lora_b": M((0,), (1,))},
    ),
    ("nnx", "LoRALinear"): (
        [r"lora/.*"],
        {},
        {"bias": A, "kernel": M((0,), (1,)), "lora/lora_a": A, "lora/lora_b": A},
    ),
    ("nnx", "SpectralNorm"): (
        [r"batch_stats/.*"],
        {},
        {
            "batch_stats/('kernel', 'sigma')": A,
            "batch_stats/('kernel', 'u')": A,
            "layer_instance/bias": A,
            "layer_instance/kernel": M((0,), (1,)),
        },
    ),
}


def _abstract(framework, name):
    if framework == "linen":
        return jf.abstract(T._Row(name))["params"]
    if framework == "nnx":
        return jf.abstract(lambda: T.NNX[name](T.nnx.Rngs(0)))
    if framework == "equinox":
        make = E.LAYERS[name][0]
        return je.abstract(eqx.filter_eval_shape(make, jax.random.key(0)))
    return Hk._abstract(name)


TABLES = {
    "linen": (LINEN_DIMS, list(T.LINEN)),
    "nnx": (NNX_DIMS, list(T.NNX)),
    "equinox": (EQUINOX_DIMS, E.PARAM_LAYERS),
    "haiku": (HAIKU_DIMS, Hk.PARAM_MODULES),
}
CASES = [(f, n) for f, (_, rows) in TABLES.items() for n in rows]


@pytest.mark.parametrize("framework", list(TABLES))
def test_every_registry_module_has_a_written_routing(framework):
    table, rows = TABLES[framework]
    assert set(table) == set(rows), f"write the routing of {set(rows) ^ set(table)}"


@pytest.mark.parametrize(
    ("framework", "name"), CASES, ids=[f"{f}-{n}" for f, n in CASES]
)
def test_routing_is_the_hand_written_one(framework, name):
    table, _ = TABLES[framework]
    tree = _abstract(framework, name)
    if table.get(name) == OTHER:
        with pytest.raises(ValueError, match=r"role is 'other'.*adam_for="):
            optim.dimension_numbers(tree, readout=None)
        adam_for, given, expected = NAMED[(framework, name)]
        got = optim.dimension_numbers(
            tree, readout=None, adam_for=adam_for, dimension_numbers=given
        )
    else:
        expected = table.get(name)
        got = optim.dimension_numbers(tree, readout=None)
    assert got == expected


def test_stacked_zoo_has_the_stack_as_a_batch_axis():
    """``nn.scan``: every Muon leaf's numbers shift by the leading layer axis."""

    def numbers(variant):
        tree = jf.abstract(T._linen_variant(variant), None, None)["params"]
        return optim.dimension_numbers(
            tree,
            readout=None,
            dimension_numbers={r".*Einsum_0/kernel": M((0,), (1, 2))},
        )

    plain, scanned = numbers("plain"), numbers("scan")
    assert set(plain) == set(scanned)
    for path, dims in plain.items():
        if "Einsum" in path:
            continue
        if dims is None:
            assert scanned[path] is None, path
        else:
            shift = lambda axes: tuple(a + 1 for a in axes)  # noqa: E731
            assert scanned[path] == M(
                shift(dims.reduction_axis), shift(dims.output_axis)
            ), path
