"""transformers' parameters in the Flax layout, each with its role, and the
parity check of a scheme against them (tests/test_schemes_moe.py, _ssm.py).

Every parameter (and the ``e_score_correction_bias`` buffer) of a transformers
model is moved into the Flax layout under its path: ``Linear`` (out, in) ->
``kernel`` (in, out), ``Conv1d`` (C, 1, k) -> ``kernel`` (k, 1, C),
``Embedding`` -> ``embedding``, norm ``weight`` -> ``scale``, a router's
``weight`` -> ``kernel`` (in, out), 3-D experts (E, out, in) -> (E, in, out)
(gpt-oss' are stored (E, in, out) already), bare parameters (``dt_bias``,
``A_log``, ``D``, ``sinks``) as they are. Each gets its role from its
transformers module's class and attribute name alone (not from jinit's
patterns); an unknown module kind fails. Per parameter, for n values:

- the role jinit's rule names is the transformers module's;
- zeros at the same places (padding rows), constants equal, a deterministic
  law (``A_log = log(1..heads)``) equal to float32 rounding;
- random laws: transformers' sample std within 5 standard errors of the std of
  jinit's law, jinit's sample too (the sample std's standard error
  ``sigma sqrt((kappa - 1) / (4 n))``, kappa the kurtosis of the pooled
  values), the means within 5 standard errors of each other, and a two-sample
  KS test between them with p > 1e-6.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import scipy.stats

import jinit
import jinit.flax as jf

torch = pytest.importorskip("torch")

_LINEAR_ROLES = {
    "q_proj": "q",
    "k_proj": "k",
    "v_proj": "v",
    "o_proj": "attention_out",
    "gate_proj": "mlp_gate",
    "up_proj": "mlp_in",
    "down_proj": "mlp_out",
    "lm_head": "lm_head",
    "q_a_proj": "mla_down",
    "kv_a_proj_with_mqa": "mla_down",
    "q_b_proj": "mla_up",
    "kv_b_proj": "mla_up",
    "eh_proj": "kernel",  # DeepSeek's MTP projection: a plain Linear
    "shared_expert_gate": "kernel",  # Qwen3-Next: a plain Linear
}
_MIXER = ("Mixer", "GatedDeltaNet")
_BARE = {
    "dt_bias": "ssm_dt_bias",
    "A_log": "ssm_a_log",
    "D": "ssm_d",
    "sinks": "attention_sink",
    "e_score_correction_bias": "score_correction_bias",
}


def _entry(owner: str, module, leaf: str, w: np.ndarray) -> tuple[str, np.ndarray, str]:
    """(Flax leaf name, value in the Flax layout, role) of one parameter."""
    kind = type(module).__name__
    attr = owner.rpartition(".")[2]
    if leaf in _BARE:
        return leaf, w, _BARE[leaf]
    if isinstance(module, torch.nn.Embedding):
        return "embedding", w, "embedding"
    if isinstance(module, torch.nn.Conv1d):
        if leaf == "bias":
            return "bias", w, "ssm_conv_bias"
        return "kernel", w.transpose(2, 1, 0), "ssm_conv"
    if isinstance(module, torch.nn.Linear):
        if leaf == "bias":
            return "bias", w, "bias"
        if kind.endswith("TopKRouter") or attr == "gate" and kind == "Linear":
            return "kernel", w.T, "router"
        if attr.startswith("in_proj") or attr == "out_proj":
            assert any(m in owner for m in ("mixer", "linear_attn")), owner
            return "kernel", w.T, "ssm_in" if attr.startswith("in_") else "ssm_out"
        return "kernel", w.T, _LINEAR_ROLES[attr]
    if "Router" in kind:
        if leaf == "bias":
            return "bias", w, "router_bias"
        return "kernel", w.T, "router"
    if kind.endswith("Experts"):
        if leaf.endswith("_bias"):
            return leaf, w, "expert_bias"
        if not kind.startswith("GptOss"):  # (E, out, in) -> (E, in, out)
            w = w.transpose(0, 2, 1)
        return leaf, w, "expert_in" if leaf == "gate_up_proj" else "expert_out"
    if "RMSNorm" in kind:
        if "Gated" in kind:
            return "scale", w, "ssm_norm"
        zero_centred = kind == "Qwen3NextRMSNorm"
        return "scale", w, "zero_centred_norm" if zero_centred else "norm_scale"
    raise AssertionError(f"no role for {owner}.{leaf} ({kind})")


def flax_layout(model, skip: tuple[str, ...] = ()) -> dict[str, tuple[np.ndarray, str]]:
    """path -> (value in the Flax layout, role) for every parameter of ``model``
    and its ``e_score_correction_bias`` buffers, except names matching ``skip``."""
    modules = dict(model.named_modules())
    tensors = list(model.named_parameters())
    tensors += [
        (n, b)
        for n, b in model.named_buffers()
        if n.endswith("e_score_correction_bias")
    ]
    out = {}
    for name, p in tensors:
        if any(re.fullmatch(s, name) for s in skip):
            continue
        owner, _, leaf = name.rpartition(".")
        w = p.detach().float().numpy()
        leaf, w, role = _entry(owner, modules[owner], leaf, w)
        out["/".join([*owner.split("."), leaf])] = (np.ascontiguousarray(w), role)
    return out


def _role(rule: str) -> str:
    match = re.match(r"\(\?#(\w+)\)", rule)
    assert match is not None, rule
    return match.group(1)


def _se(values: np.ndarray, n: int) -> float:
    """The relative standard error of a sample std of ``n`` values of this law."""
    z = values - values.mean()
    kurtosis = float(np.mean(z**4) / np.mean(z**2) ** 2)
    return math.sqrt(max(kurtosis - 1, 0.0) / (4 * n))


def assert_parity(reference: dict[str, tuple[np.ndarray, str]], rules, key) -> None:
    import jax

    tree = {
        p: jax.ShapeDtypeStruct(w.shape, np.float32) for p, (w, _) in reference.items()
    }
    # The stored layouts are the real ones (a conv kernel (k, 1, C), experts 3-D).
    rows = {row["path"]: row for row in jf.table(tree, rules, stacked={})}
    assert set(rows) == set(reference)  # every leaf paired, none left over
    drawn = jinit.materialize(tree, key, rules, stacked={})
    for path, (ref, role) in reference.items():
        row = rows[path]
        assert _role(row["rule"]) == role, (path, row["rule"], role)
        ours = np.asarray(drawn[path])
        assert ours.shape == ref.shape, path
        np.testing.assert_array_equal(ours == 0, ref == 0, err_msg=path)
        if np.all(ref == ref.flat[0]):
            np.testing.assert_array_equal(ours, ref, err_msg=path)
            continue
        if not getattr(row["init"], "random", True):
            np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7, err_msg=path)
            continue
        ref, ours = ref[ref != 0], ours[ours != 0]  # padding rows compared above
        std = row["std"]
        if std is None:  # a padded embedding: compare the two samples
            std = ours.std()
        se = _se(np.concatenate([ref, ours]), min(ref.size, ours.size))
        for sample in (ref, ours):
            assert abs(sample.std() / std - 1) <= 5 * se, (path, sample.std(), std, se)
        gap = 5 * std * math.sqrt(1 / ref.size + 1 / ours.size)
        assert abs(ref.mean() - ours.mean()) <= gap, (path, ref.mean(), ours.mean())
        p = scipy.stats.ks_2samp(ref.ravel(), ours.ravel()).pvalue
        assert p > 1e-6, (path, p)
