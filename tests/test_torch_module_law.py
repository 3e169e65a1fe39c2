"""``jinit.torch.module_law``: the one home of ``torch.nn``'s module defaults.

Each law's support is checked against the module PyTorch builds: a uniform
weight of n values fills its support up to a gap of order 1/n, so the largest
|value| of a few thousand values is within 1% of the bound.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import jinit  # noqa: E402
import jinit.torch as jt  # noqa: E402
from jinit._signature import Signature  # noqa: E402


def _bound(law) -> float:
    low, high = law.law((4, 4)).support
    assert low == -high
    return high


def _torch_bound(t) -> float:
    return float(t.detach().abs().max())


def test_linear_and_conv_weights_and_biases():
    torch.manual_seed(0)
    m = torch.nn.Conv2d(12, 96, 3, groups=3)
    fan_in = 12 // 3 * 9
    w = Signature((96, 4, 3, 3), in_axis=1, out_axis=0, role="kernel", fan_in=fan_in)
    b = Signature((96,), role="bias", fan_in=fan_in, fan_out=96 * 9)
    assert jt.module_law(w) == jt.linear_default()
    assert jt.module_law(b) == jt.bias_default(fan_in=fan_in)
    assert _torch_bound(m.bias) <= _bound(jt.module_law(b)) < 1.2 * _torch_bound(m.bias)
    assert _torch_bound(m.weight) == pytest.approx(1 / math.sqrt(fan_in), rel=0.01)


def test_transposed_conv_reads_pytorch_s_fan_in():
    torch.manual_seed(0)
    m = torch.nn.ConvTranspose2d(8, 64, 3, groups=4)  # weight (8, 16, 3, 3)
    fan_out = 64 // 4 * 9  # PyTorch's fan_in of its (in, out/groups, *k) weight
    sig = Signature(
        (64, 2, 3, 3),
        module="equinox.nn.ConvTranspose2d",
        role="kernel",
        fan_in=2 * 9,
        fan_out=fan_out,
    )
    law = jt.module_law(sig)
    assert law == jinit.Uniform(-1 / math.sqrt(fan_out), 1 / math.sqrt(fan_out))
    assert _torch_bound(m.weight) == pytest.approx(_bound(law), rel=0.01)
    bias = jt.module_law(
        Signature((64,), module=sig.module, role="bias", fan_in=18, fan_out=fan_out)
    )
    assert bias == law


def test_recurrent_attention_embedding_and_norms():
    torch.manual_seed(0)
    gru = torch.nn.GRU(10, 32)
    law = jt.module_law(Signature((96, 10), role="kernel"), hidden=32)
    for p in gru.parameters():  # >= 96 values: max |x| < 0.85 b has chance 1e-7
        assert 0.85 * _bound(law) < _torch_bound(p) <= _bound(law)
    mha = torch.nn.MultiheadAttention(48, 4)
    packed = jt.module_law(Signature((48, 48), role="kernel"), attention="packed")
    assert _torch_bound(mha.in_proj_weight) == pytest.approx(
        math.sqrt(3 * packed.scale / 48), rel=0.01
    )
    assert not mha.in_proj_bias.any()
    assert (
        jt.module_law(Signature((48,), role="bias", fan_in=48), attention="out")
        == jinit.zeros
    )
    assert (
        jt.module_law(Signature((48, 48), role="kernel"), attention="out")
        == jt.linear_default()
    )
    assert jt.module_law(Signature((5, 7), role="embedding")) == jt.embedding_default()
    assert jt.module_law(Signature((7,), role="scale")) == jinit.ones
    assert jt.module_law(Signature((7,), role="bias")) == jinit.zeros  # a norm's
    assert jt.module_law(Signature((1,), role="negative_slope")) == jinit.constant(0.25)


def test_errors():
    with pytest.raises(ValueError, match="`signature.role` must be a role torch.nn"):
        jt.module_law(Signature((3,), role="pos_embedding"))
    with pytest.raises(ValueError, match="`attention` must be one of"):
        jt.module_law(Signature((3, 3), role="kernel"), attention="qkv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`hidden` must be"):
        jt.module_law(Signature((3, 3), role="kernel"), hidden=0)
