"""What the reference says that code cannot derive: one note per public initializer.

``docs/gen_reference.py`` derives everything else from the initializers: the law
(the ``Law:`` section of each builder's docstring), the signature, the names in
JAX (same name, same values for the same key), Keras (``jinit.keras``'s class of
the same name) and PyTorch (``jinit.torch``'s functions, matched by the law they
build), their defaults, and how each relates to jinit's law. A note holds the
prose left: where the frameworks' semantics differ beyond that, and what the
initializer suits. ``tests/test_reference.py`` checks that :data:`NOTES` names
exactly the public initializers (one key per initializer, aliases found by
identity), so a new initializer fails the tests until it has a note. The order
of :data:`NOTES` is the reference's order.
"""

from __future__ import annotations

from typing import NamedTuple


class Note(NamedTuple):
    """Prose about one initializer.

    Attributes:
      suits: the activations and layers it suits (Markdown).
      differences: where other frameworks' semantics differ, beyond the
        relation the generator derives (one Markdown bullet each; may be empty).
    """

    suits: str
    differences: tuple[str, ...] = ()


_NO_NAME = "No JAX, Keras or PyTorch initializer: "

NOTES: dict[str, Note] = {
    "variance_scaling": Note(
        "Any activation: pick `scale` from the activation table above.",
        (
            "Complex truncated normal: JAX's variance is 1.86% too large.",
            'Keras: `distribution="normal"` means the *truncated* normal; the '
            'plain normal is `"untruncated_normal"`. No `"fan_geo_avg"`. Fans '
            "come from `input_axes`/`output_axes` (both or neither); otherwise "
            "the same fan rule as jinit. JAX and jinit require `scale`, `mode` "
            "and `distribution`.",
            "PyTorch has no general form: `kaiming_*_` (fan_in or fan_out) and "
            "`xavier_*_` (fan_avg) with `gain² = scale`, never truncated.",
        ),
    ),
    "glorot_uniform": Note(
        "tanh, sigmoid, linear layers, attention projections (Glorot & Bengio "
        "2010; the Keras guides' choice for sigmoid and tanh). Keras' default "
        "kernel initializer."
    ),
    "glorot_normal": Note(
        "tanh, sigmoid, linear layers (as `glorot_uniform`).",
        (
            "PyTorch's law is `jinit.torch.xavier_normal()` or "
            '`variance_scaling(1.0, "fan_avg", "normal")`.',
        ),
    ),
    "he_uniform": Note(
        "ReLU and its variants (He et al. 2015; the Keras guides' choice).",
        (
            "PyTorch's `nn.Linear`/`nn.Conv*d` use `a=√5`, i.e. `U(±1/√fan_in)` "
            "(`jinit.torch.linear_default()`), not this law.",
        ),
    ),
    "he_normal": Note(
        "ReLU and its variants (He et al. 2015; the Keras guides' choice).",
        (
            "`jinit.torch.kaiming_normal()` and `variance_scaling(2.0, "
            '"fan_in", "normal")` are PyTorch\'s untruncated law, while '
            "`jinit.kaiming_normal` (JAX's name) is this truncated law.",
        ),
    ),
    "lecun_uniform": Note(
        "linear layers, SELU (as `lecun_normal`), tanh (LeCun et al. 1998).",
        ("PyTorch has no LeCun name.",),
    ),
    "lecun_normal": Note(
        "SELU (self-normalizing networks, Klambauer et al. 2017), linear layers. "
        "Flax's default kernel initializer.",
        ("PyTorch has no LeCun name.",),
    ),
    "normal": Note(
        "embeddings (`normal(0.02)` in GPT-2/BERT; PyTorch's `nn.Embedding` "
        "uses `N(0, 1)`), small networks.",
        ("JAX has no `mean`.",),
    ),
    "truncated_normal": Note(
        "transformer weights and embeddings (`truncated_normal(0.02)`).",
        (
            "JAX: relative bounds, no `mean`.",
            "Keras: bounds fixed at ±2 stddev around the mean.",
            "PyTorch: bounds `a`, `b` are *absolute* values: `trunc_normal_(w, "
            "mean, std, a, b)` is `truncated_normal(std, lower=a, upper=b, "
            'mean=mean, bounds="absolute")`. For tiny stds its sampler puts '
            "values on the bounds; jinit's does not.",
        ),
    ),
    "uniform": Note(
        "small networks, biases; not deep networks (the scale ignores fans).",
        (
            "Keras draws `U[minval, maxval)` and PyTorch `U[a, b)`: use the shims "
            "for ranges that do not start at 0.",
        ),
    ),
    "log_uniform": Note(
        "time steps of state-space layers (S4, Mamba), before the inverse "
        "softplus of `inverse_softplus_log_uniform`.",
        (
            _NO_NAME + "Mamba and S4 draw `dt` this way inline (`torch.exp("
            "torch.rand(n) * (log(dt_max) - log(dt_min)) + log(dt_min))`).",
        ),
    ),
    "inverse_softplus_log_uniform": Note(
        "`dt_bias` of Mamba-1/-2 and GatedDeltaNet layers.",
        (
            _NO_NAME + "`state-spaces/mamba`'s `Mamba2` (`dt_min=0.001, "
            "dt_max=0.1, dt_init_floor=1e-4`, the defaults), "
            "flash-linear-attention's GatedDeltaNet and transformers' "
            "`Mamba2Mixer` write it inline.",
        ),
    ),
    "log_of_uniform": Note(
        "`A_log` of Mamba-2 and GatedDeltaNet layers (`A = -exp(A_log)`).",
        (
            _NO_NAME + "Mamba-2 draws `A_log = log(uniform_(1, 16))` inline "
            "(flash-linear-attention's GatedDeltaNet `uniform_(0, 16)`, "
            "transformers' Qwen3-Next `uniform_(0.01, 16)`).",
        ),
    ),
    "constant": Note(
        "biases, norm scales, gates (an LSTM's forget-gate bias of 1).",
        (
            "jinit refuses (before tracing) an array that does not broadcast to "
            "the shape, or a value not exact in an integer dtype.",
        ),
    ),
    "zeros": Note("biases, residual branches' last layer (zero-init), norm shifts."),
    "ones": Note("norm scales (LayerNorm, BatchNorm, RMSNorm)."),
    "orthogonal": Note(
        "deep linear and tanh networks (Saxe et al. 2014), recurrent kernels "
        "(Keras' and Flax's LSTM default), `lsuv`'s starting point.",
        (
            "JAX raises for `out_sharding`.",
            "Keras: `gain` for `scale`; the same matrix layout and law, other "
            "values (it draws the Gaussian matrix in another shape).",
            "PyTorch: `gain` for `scale`; rows are `size(0)` of `(out, in, *k)`, "
            "i.e. the same law on the transposed kernel.",
        ),
    ),
    "spectral": Note(
        "hidden matrices under spectral μP, Muon, Scion and Modula.",
        (
            _NO_NAME + "Modula's `Linear` and Scion's `Spectral` (a conv kernel: "
            "Scion's `SpectralConv`, per tap).",
        ),
    ),
    "row_normalized": Note(
        "Scion's row-normed layers (its default for the readout of some models).",
        (_NO_NAME + "Scion's `RowNorm`.",),
    ),
    "col_normalized": Note(
        "embeddings under Modula/Scion (token vectors of RMS 1).",
        (
            _NO_NAME + "Scion's `ColNorm`, Modula's `Embed` (every token vector of "
            "RMS `scale`).",
        ),
    ),
    "sign": Note(
        "Scion's readout (`normalized=True`).", (_NO_NAME + "Scion's `Sign`.",)
    ),
    "with_norm": Note(
        "hypersphere parametrizations (nGPT, hyperball).",
        (
            _NO_NAME + "the radius hyperball optimizers (AdamH, MuonH) keep for "
            "the whole run.",
        ),
    ),
    "delta_orthogonal": Note(
        "very deep tanh (and ReLU) CNNs without normalization (Xiao et al. 2018, "
        "dynamical isometry)."
    ),
    "identity": Note(
        "recurrent kernels of ReLU RNNs (IRNN, Le et al. 2015), residual layers "
        "starting as the identity.",
        (
            "Keras: 2-D only, and `get_config()` drops `gain`.",
            "PyTorch: 2-D only, no gain.",
        ),
    ),
    "dirac": Note(
        "conv layers that start as the identity: residual and very deep CNNs, "
        "ConvLSTM recurrent kernels.",
        (
            "PyTorch: no `scale`; even sizes take the tap `k // 2`: "
            '`dirac_(w, groups)` is `dirac(groups, even_tap="high")`.',
        ),
    ),
}

#: Arguments for the builders with required arguments that JAX also has: the
#: generator builds both with them and compares their draws (any valid values).
PROBES: dict[str, tuple] = {
    "variance_scaling": (2.0, "fan_in", "truncated_normal"),
    "constant": (0.5,),
}
