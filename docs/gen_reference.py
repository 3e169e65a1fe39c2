"""The generator of ``docs/reference.md``: a documentation tool, not part of jinit.

One tuple, :data:`REGISTRY`, holds for every public initializer its law, its names
in JAX, Keras and PyTorch (with the defaults they use there and where their
semantics differ) and the activations it suits. Parameters and defaults are read
from the builder's own signature, and the activation table is computed from the
activations themselves, so the reference cannot drift from the code;
``tests/test_reference.py`` regenerates the file, checks every name against the
installed JAX, Keras and PyTorch, and every default against their signatures.

Regenerate with::

    python docs/gen_reference.py docs/reference.md
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import pathlib
import sys
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np

if __name__ == "__main__":  # run as a script: the jinit of this checkout
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import jinit  # noqa: E402
import jinit.torch as _torch  # noqa: E402
from jinit._tree import is_initializer  # noqa: E402
from jinit._variance import PRESETS  # noqa: E402

Framework = Literal["jax", "keras", "torch"]

#: Where each framework keeps its initializers (for the reference's wording).
NAMESPACES: dict[str, str] = {
    "jax": "jax.nn.initializers",
    "keras": "keras.initializers",
    "torch": "torch.nn.init",
}


@dataclasses.dataclass(frozen=True)
class Name:
    """An initializer's name in another framework.

    Attributes:
      framework: ``"jax"``, ``"keras"`` or ``"torch"``.
      name: the attribute of the framework's namespace (:data:`NAMESPACES`).
      args: that framework's arguments that give jinit's law (``""``: its
        defaults do).
      defaults: that framework's defaults, as its signature has them (checked
        against the installed package by the tests).
      shim: the jinit translation of this name (``jinit.keras.HeNormal``), if any.
    """

    framework: Framework
    name: str
    args: str = ""
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    shim: str | None = None

    def call(self) -> str:
        return f"`{self.name}({self.args})`" if self.args else f"`{self.name}`"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One initializer of jinit: what it draws, and its names elsewhere.

    Attributes:
      name: the public name in ``jinit`` (aliases are found by identity).
      law: a one-line summary of the law, for the overview table.
      formula: the exact law, in Markdown.
      names: its names in JAX, Keras and PyTorch.
      differences: where those frameworks' semantics differ (truncation, fan
        rules, defaults), one Markdown bullet each.
      suits: the activations and layers it suits.
    """

    name: str
    law: str
    formula: str
    names: tuple[Name, ...]
    differences: tuple[str, ...]
    suits: str

    @property
    def builder(self) -> Any:
        return getattr(jinit, self.name)

    def aliases(self) -> tuple[str, ...]:
        return tuple(
            n
            for n in public_initializers()
            if n != self.name and getattr(jinit, n) is self.builder
        )

    def signature(self) -> str:
        """The builder's call with its defaults, read with :mod:`inspect`."""
        builder = self.builder
        if not inspect.isfunction(builder):
            return f"jinit.{self.name}(key, shape, dtype=None, out_sharding=None)"
        sig = inspect.signature(builder)
        empty = inspect.Parameter.empty
        sig = sig.replace(
            parameters=[p.replace(annotation=empty) for p in sig.parameters.values()],
            return_annotation=empty,
        )
        return f"jinit.{self.name}{sig}".replace("'", '"')

    def framework_names(self, framework: str) -> tuple[Name, ...]:
        return tuple(n for n in self.names if n.framework == framework)


def public_initializers() -> tuple[str, ...]:
    """Every name ``jinit`` exports that builds (or is) an initializer."""
    return tuple(
        n
        for n in sorted(vars(jinit))
        if not n.startswith("_") and is_initializer(getattr(jinit, n))
    )


_TN = "0.87962566103423978"
_VS_DIFF_KERAS = (
    'Keras: `distribution="normal"` means the *truncated* normal; the plain normal '
    'is `"untruncated_normal"`. No `"fan_geo_avg"`. Fans come from '
    "`input_axes`/`output_axes` (both or neither); otherwise the same fan rule as "
    "jinit."
)
_TORCH_FANS = (
    "PyTorch's fans on its layout `(out, in, *k)` are jinit's on Flax's "
    "`(*k, in, out)`: the same numbers, on the transposed kernel."
)


def _preset(name: str) -> str:
    """The formula of a preset, read from the one table (``jinit._variance.PRESETS``)."""
    scale, mode, dist, _ = PRESETS[name]
    return _vs(str(scale), mode, dist)


def _vs(scale: str, mode: str, dist: str) -> str:
    n = {
        "fan_in": "fan_in",
        "fan_avg": "(fan_in + fan_out) / 2",
    }[mode]
    if dist == "uniform":
        return (
            f"`U(-L, L)`, `L = √(3 · {scale} / n)`, `n = {n}` "
            f'(`variance_scaling({scale}, "{mode}", "uniform")`)'
        )
    return (
        f"`N(0, 1)` truncated to `(-2, 2)`, times `σ / {_TN}`, `σ = √({scale} / n)`, "
        f"`n = {n}`: std exactly σ, values within ±2.27σ "
        f'(`variance_scaling({scale}, "{mode}", "truncated_normal")`)'
    )


REGISTRY: tuple[Entry, ...] = (
    Entry(
        name="variance_scaling",
        law="σ² = scale / n, n a fan",
        formula=(
            "Mean 0, variance `σ² = scale / n` with `n` = `fan_in`, `fan_out`, "
            "`(fan_in + fan_out) / 2` (`fan_avg`) or `√(fan_in · fan_out)` "
            "(`fan_geo_avg`), fans from `jinit.compute_fans(shape, in_axis, "
            "out_axis, batch_axis)`.\n"
            f'- `"truncated_normal"`: `N(0, 1)` truncated to `(-2, 2)`, times '
            f"`σ / {_TN}` (the std of the truncated standard normal), so the std "
            "is exactly σ.\n"
            '- `"normal"`: `σ · N(0, 1)`.\n'
            '- `"uniform"`: `√3 σ · U[-1, 1)`.\n'
            "- complex dtypes: `E|z|²= σ²` (complex normal, uniform disk, complex "
            "normal with modulus truncated at 2 divided by 0.96196)."
        ),
        names=(
            Name("jax", "variance_scaling"),
            Name(
                "keras",
                "VarianceScaling",
                defaults={
                    "scale": 1.0,
                    "mode": "fan_in",
                    "distribution": "truncated_normal",
                },
                shim="jinit.keras.VarianceScaling",
            ),
        ),
        differences=(
            "JAX: the same law and values (float32/float64). Complex truncated "
            "normal: JAX's variance is 1.86% too large.",
            _VS_DIFF_KERAS,
            'Keras has defaults (`scale=1.0, mode="fan_in", '
            'distribution="truncated_normal"`); JAX and jinit require all three.',
            "PyTorch has no general form: `kaiming_*_` (fan_in or fan_out) and "
            "`xavier_*_` (fan_avg) with `gain² = scale`, never truncated.",
        ),
        suits="Any activation: pick `scale` from the activation table below.",
    ),
    Entry(
        name="glorot_uniform",
        law="U(±√(6 / (fan_in + fan_out)))",
        formula=_preset("glorot_uniform") + "; i.e. `L = √(6 / (fan_in + fan_out))`.",
        names=(
            Name("jax", "glorot_uniform"),
            Name("keras", "GlorotUniform", shim="jinit.keras.GlorotUniform"),
            Name(
                "torch",
                "xavier_uniform_",
                defaults={"gain": 1.0},
                shim="jinit.torch.xavier_uniform",
            ),
        ),
        differences=("The same law in all three; " + _TORCH_FANS,),
        suits=(
            "tanh, sigmoid, linear layers, attention projections (Glorot & Bengio "
            "2010; the Keras guides' choice for sigmoid and tanh). Keras' default "
            "kernel initializer."
        ),
    ),
    Entry(
        name="glorot_normal",
        law="truncated N, σ = √(2 / (fan_in + fan_out))",
        formula=_preset("glorot_normal"),
        names=(
            Name("jax", "glorot_normal"),
            Name("keras", "GlorotNormal", shim="jinit.keras.GlorotNormal"),
            Name(
                "torch",
                "xavier_normal_",
                defaults={"gain": 1.0},
                shim="jinit.torch.xavier_normal",
            ),
        ),
        differences=(
            "Keras: the same truncated law.",
            "PyTorch's `xavier_normal_` is *untruncated* `N(0, σ²)`: use "
            '`jinit.torch.xavier_normal()` or `variance_scaling(1.0, "fan_avg", '
            '"normal")`. ' + _TORCH_FANS,
        ),
        suits="tanh, sigmoid, linear layers (as `glorot_uniform`).",
    ),
    Entry(
        name="he_uniform",
        law="U(±√(6 / fan_in))",
        formula=_preset("he_uniform") + "; i.e. `L = √(6 / fan_in)`.",
        names=(
            Name("jax", "he_uniform"),
            Name("keras", "HeUniform", shim="jinit.keras.HeUniform"),
            Name(
                "torch",
                "kaiming_uniform_",
                args='nonlinearity="relu"',
                defaults={"a": 0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
                shim="jinit.torch.kaiming_uniform",
            ),
        ),
        differences=(
            'PyTorch\'s defaults (`a=0, nonlinearity="leaky_relu"`) give gain √2, '
            "the same law. But `nn.Linear`/`nn.Conv*d` use `a=√5`, i.e. "
            "`U(±1/√fan_in)` (`jinit.torch.linear_default()`). " + _TORCH_FANS,
        ),
        suits="ReLU and its variants (He et al. 2015; the Keras guides' choice).",
    ),
    Entry(
        name="he_normal",
        law="truncated N, σ = √(2 / fan_in)",
        formula=_preset("he_normal"),
        names=(
            Name("jax", "he_normal"),
            Name("keras", "HeNormal", shim="jinit.keras.HeNormal"),
            Name(
                "torch",
                "kaiming_normal_",
                args='nonlinearity="relu"',
                defaults={"a": 0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
                shim="jinit.torch.kaiming_normal",
            ),
        ),
        differences=(
            "Keras: the same truncated law.",
            "PyTorch's `kaiming_normal_` is *untruncated* `N(0, 2 / fan_in)`. So are "
            '`jinit.torch.kaiming_normal()` and `variance_scaling(2.0, "fan_in", '
            '"normal")`, while `jinit.kaiming_normal` (JAX\'s name) is this '
            "truncated law. " + _TORCH_FANS,
        ),
        suits="ReLU and its variants (He et al. 2015; the Keras guides' choice).",
    ),
    Entry(
        name="lecun_uniform",
        law="U(±√(3 / fan_in))",
        formula=_preset("lecun_uniform") + "; i.e. `L = √(3 / fan_in)`.",
        names=(
            Name("jax", "lecun_uniform"),
            Name("keras", "LecunUniform", shim="jinit.keras.LecunUniform"),
            Name(
                "torch",
                "kaiming_uniform_",
                args='nonlinearity="linear"',
                shim="jinit.torch.kaiming_uniform",
            ),
        ),
        differences=("PyTorch has no LeCun name; " + _TORCH_FANS,),
        suits="linear layers, SELU (as `lecun_normal`), tanh (LeCun et al. 1998).",
    ),
    Entry(
        name="lecun_normal",
        law="truncated N, σ = √(1 / fan_in)",
        formula=_preset("lecun_normal"),
        names=(
            Name("jax", "lecun_normal"),
            Name("keras", "LecunNormal", shim="jinit.keras.LecunNormal"),
            Name(
                "torch",
                "kaiming_normal_",
                args='nonlinearity="linear"',
                shim="jinit.torch.kaiming_normal",
            ),
        ),
        differences=(
            'PyTorch has no LeCun name; `kaiming_normal_(nonlinearity="linear")` '
            "is the *untruncated* `N(0, 1 / fan_in)`. " + _TORCH_FANS,
        ),
        suits=(
            "SELU (self-normalizing networks, Klambauer et al. 2017), linear layers. "
            "Flax's default kernel initializer."
        ),
    ),
    Entry(
        name="normal",
        law="N(mean, stddev²)",
        formula=(
            "`mean + stddev · N(0, 1)`. Complex dtypes: the complex normal with "
            "`E|z - mean|² = stddev²`."
        ),
        names=(
            Name("jax", "normal", defaults={"stddev": 0.01}),
            Name(
                "keras",
                "RandomNormal",
                defaults={"mean": 0.0, "stddev": 0.05},
                shim="jinit.keras.RandomNormal",
            ),
            Name(
                "torch",
                "normal_",
                defaults={"mean": 0.0, "std": 1.0},
                shim="jinit.torch.normal",
            ),
        ),
        differences=(
            "Defaults differ: stddev 0.01 (JAX, jinit), 0.05 (Keras), 1.0 (PyTorch).",
            "JAX has no `mean`.",
        ),
        suits=(
            "embeddings (`normal(0.02)` in GPT-2/BERT; PyTorch's `nn.Embedding` "
            "uses `N(0, 1)`), small networks."
        ),
    ),
    Entry(
        name="truncated_normal",
        law="N(mean, stddev²) truncated",
        formula=(
            '`bounds="relative"` (default, JAX\'s meaning): `mean + stddev · z`, '
            "`z ~ N(0, 1)` truncated to `(lower, upper)`. "
            '`bounds="absolute"` (PyTorch\'s): `N(mean, stddev²)` conditioned on '
            "`lower ≤ x ≤ upper`. `stddev` is the std *before* truncation: after "
            "truncation to `(-2, 2)` the std is `0.8796 · stddev`."
        ),
        names=(
            Name(
                "jax",
                "truncated_normal",
                defaults={"stddev": 0.01, "lower": -2.0, "upper": 2.0},
            ),
            Name(
                "keras",
                "TruncatedNormal",
                defaults={"mean": 0.0, "stddev": 0.05},
                shim="jinit.keras.TruncatedNormal",
            ),
            Name(
                "torch",
                "trunc_normal_",
                defaults={"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
                shim="jinit.torch.trunc_normal",
            ),
        ),
        differences=(
            "JAX: relative bounds, no `mean`.",
            "Keras: bounds fixed at ±2 stddev around the mean; stddev 0.05.",
            "PyTorch: bounds `a`, `b` are *absolute* values: `trunc_normal_(w, "
            "mean, std, a, b)` is `truncated_normal(std, lower=a, upper=b, "
            'mean=mean, bounds="absolute")`; std 1.0 by default. For tiny stds '
            "its sampler puts values on the bounds; jinit's does not.",
        ),
        suits="transformer weights and embeddings (`truncated_normal(0.02)`).",
    ),
    Entry(
        name="uniform",
        law="U[0, scale)",
        formula="`scale · U[0, 1)`: mean `scale / 2`, std `scale / √12`.",
        names=(
            Name("jax", "uniform", defaults={"scale": 0.01}),
            Name(
                "keras",
                "RandomUniform",
                defaults={"minval": -0.05, "maxval": 0.05},
                shim="jinit.keras.RandomUniform",
            ),
            Name(
                "torch",
                "uniform_",
                defaults={"a": 0.0, "b": 1.0},
                shim="jinit.torch.uniform",
            ),
        ),
        differences=(
            "JAX: the same law, `U[0, 0.01)` by default.",
            "Keras draws `U[minval, maxval)`, symmetric `U[-0.05, 0.05)` by default;"
            " PyTorch `U[a, b)`, `U[0, 1)` by default. Use the shims for other "
            "ranges.",
        ),
        suits="small networks, biases; not deep networks (the scale ignores fans).",
    ),
    Entry(
        name="log_uniform",
        law="exp(U[log low, log high))",
        formula=(
            "`exp(U[log low, log high))`: the log-uniform (reciprocal) law on "
            "`[low, high]`, density `1 / (x log(high / low))`, mean "
            "`(high - low) / log(high / low)` (`scipy.stats.loguniform`)."
        ),
        names=(),
        differences=(
            "No JAX, Keras or PyTorch initializer: Mamba and S4 draw `dt` this "
            "way inline (`torch.exp(torch.rand(n) * (log(dt_max) - log(dt_min)) "
            "+ log(dt_min))`).",
        ),
        suits="time steps of state-space layers (S4, Mamba), before the inverse "
        "softplus of `inverse_softplus_log_uniform`.",
    ),
    Entry(
        name="inverse_softplus_log_uniform",
        law="softplus⁻¹(max(exp(U[log dt_min, log dt_max)), floor))",
        formula=(
            "`dt = max(exp(U[log dt_min, log dt_max)), floor)`, then "
            "`dt + log(-expm1(-dt))` (softplus⁻¹). With `floor > dt_min` an atom "
            "at `softplus⁻¹(floor)` of mass `log(floor / dt_min) / log(dt_max / "
            "dt_min)`. Mean and std by quadrature."
        ),
        names=(),
        differences=(
            "No JAX, Keras or PyTorch initializer: `state-spaces/mamba`'s "
            "`Mamba2` (`dt_min=0.001, dt_max=0.1, dt_init_floor=1e-4`, the "
            "defaults), flash-linear-attention's GatedDeltaNet and transformers' "
            "`Mamba2Mixer` write it inline.",
        ),
        suits="`dt_bias` of Mamba-1/-2 and GatedDeltaNet layers.",
    ),
    Entry(
        name="log_of_uniform",
        law="log U(low, high]",
        formula=(
            "`log(high - (high - low) · U[0, 1))`: density `eˣ / (high - low)` on "
            "`[log low, log high]`; never `log 0`, so `low = 0` is finite."
        ),
        names=(),
        differences=(
            "No JAX, Keras or PyTorch initializer: Mamba-2 draws "
            "`A_log = log(uniform_(1, 16))` inline (flash-linear-attention's "
            "GatedDeltaNet `uniform_(0, 16)`, transformers' Qwen3-Next "
            "`uniform_(0.01, 16)`).",
        ),
        suits="`A_log` of Mamba-2 and GatedDeltaNet layers (`A = -exp(A_log)`).",
    ),
    Entry(
        name="constant",
        law="value",
        formula=(
            "Every element is `value` (a scalar, or an array broadcast to the "
            "shape). The key is ignored."
        ),
        names=(
            Name("jax", "constant"),
            Name(
                "keras",
                "Constant",
                defaults={"value": 0.0},
                shim="jinit.keras.Constant",
            ),
            Name("torch", "constant_", shim="jinit.torch.constant"),
        ),
        differences=(
            "Keras has a default `value=0.0`; JAX, PyTorch and jinit require it.",
            "jinit refuses (before tracing) an array that does not broadcast to the "
            "shape, or a value not exact in an integer dtype.",
        ),
        suits="biases, norm scales, gates (an LSTM's forget-gate bias of 1).",
    ),
    Entry(
        name="zeros",
        law="0",
        formula="Every element is 0. `jinit.zeros` is itself the initializer.",
        names=(
            Name("jax", "zeros"),
            Name("keras", "Zeros", shim="jinit.keras.Zeros"),
            Name("torch", "zeros_", shim="jinit.torch.zeros"),
        ),
        differences=("None.",),
        suits="biases, residual branches' last layer (zero-init), norm shifts.",
    ),
    Entry(
        name="ones",
        law="1",
        formula="Every element is 1. `jinit.ones` is itself the initializer.",
        names=(
            Name("jax", "ones"),
            Name("keras", "Ones", shim="jinit.keras.Ones"),
            Name("torch", "ones_", shim="jinit.torch.ones"),
        ),
        differences=("None.",),
        suits="norm scales (LayerNorm, BatchNorm, RMSNorm).",
    ),
    Entry(
        name="orthogonal",
        law="scale · Haar orthogonal",
        formula=(
            "The shape read as a matrix of `prod(other axes)` rows and "
            "`shape[column_axis]` columns; the QR factor of a Gaussian matrix with "
            "the signs of R's diagonal folded in (Haar on O(n), Mezzadri 2007), "
            "times `scale`; the smaller side orthonormal. Complex: unitary. "
            '`method="qr"` (default) runs QR; `method="wy"` forms the same '
            "law's matrix as a product of Householder reflections of Gaussian "
            "vectors (Stewart 1980) with matrix products and one triangular "
            "solve: no QR, for GPUs, TPUs and batches under `vmap`."
        ),
        names=(
            Name("jax", "orthogonal", defaults={"scale": 1.0, "column_axis": -1}),
            Name(
                "keras",
                "Orthogonal",
                args="gain=scale",
                defaults={"gain": 1.0},
                shim="jinit.keras.Orthogonal",
            ),
            Name(
                "torch",
                "orthogonal_",
                args="gain=scale",
                defaults={"gain": 1},
                shim="jinit.torch.orthogonal",
            ),
        ),
        differences=(
            'JAX: the same values (`method="qr"`); JAX raises for `out_sharding`.',
            "Keras: `gain`; the same matrix layout and law, other values (it draws "
            "the Gaussian matrix in another shape).",
            "PyTorch: `gain`; rows are `size(0)` of `(out, in, *k)`, i.e. the same "
            "law on the transposed kernel.",
        ),
        suits=(
            "deep linear and tanh networks (Saxe et al. 2014), recurrent kernels "
            "(Keras' and Flax's LSTM default), `lsuv`'s starting point."
        ),
    ),
    Entry(
        name="spectral",
        law="scale · √(fan_out/fan_in) · semi-orthogonal",
        formula=(
            "Each `(in, out)` matrix (per conv tap and batch index) a Haar "
            "semi-orthogonal matrix (`orthogonal`) times "
            "`scale · √(c_out/c_in) / taps` (`normalized=False`: `scale · √c_out`): "
            "every singular value of a dense kernel is `scale · √(fan_out/fan_in)`, "
            "the spectral condition (Yang, Simon & Bernstein 2023)."
        ),
        names=(),
        differences=(
            "No JAX, Keras or PyTorch initializer: Modula's `Linear` and Scion's "
            "`Spectral` (a conv kernel: Scion's `SpectralConv`, per tap).",
        ),
        suits="hidden matrices under spectral μP, Muon, Scion and Modula.",
    ),
    Entry(
        name="row_normalized",
        law="N(0, 1) rows at norm scale/√fan_in",
        formula=(
            "A N(0, 1) draw, each row (the fan-in vector of one output unit, per "
            "batch index) divided by its norm, times `scale / √fan_in` "
            "(`normalized=False`: `scale`): each row uniform on its sphere."
        ),
        names=(),
        differences=("No JAX, Keras or PyTorch initializer: Scion's `RowNorm`.",),
        suits="Scion's row-normed layers (its default for the readout of some models).",
    ),
    Entry(
        name="col_normalized",
        law="N(0, 1) columns at norm scale·√fan_out",
        formula=(
            "A N(0, 1) draw, each column (the fan-out vector of one input unit, "
            "per batch index) at norm `scale · √fan_out` (RMS `scale`), "
            "`/ fan_in` with `normalized=True`."
        ),
        names=(),
        differences=(
            "No JAX, Keras or PyTorch initializer: Scion's `ColNorm`, Modula's "
            "`Embed` (every token vector of RMS `scale`).",
        ),
        suits="embeddings under Modula/Scion (token vectors of RMS 1).",
    ),
    Entry(
        name="sign",
        law="±value (Rademacher)",
        formula=(
            "Each entry `+value` or `-value` with probability ½; "
            "`normalized=True`: `±value / fan_in`."
        ),
        names=(),
        differences=("No JAX, Keras or PyTorch initializer: Scion's `Sign`.",),
        suits="Scion's readout (`normalized=True`).",
    ),
    Entry(
        name="with_norm",
        law="any law at an exact Frobenius or row norm",
        formula=(
            "Draws `init`, then multiplies each matrix (per batch index) by "
            "`frobenius_norm / ‖W‖_F`, or each row by `row_norm / ‖row‖`, and "
            "rounds once: the norm exact up to rounding. On a centred Gaussian, "
            "uniform on the sphere."
        ),
        names=(),
        differences=(
            "No JAX, Keras or PyTorch initializer: the radius hyperball "
            "optimizers (AdamH, MuonH) keep for the whole run.",
        ),
        suits="hypersphere parametrizations (nGPT, hyperball).",
    ),
    Entry(
        name="delta_orthogonal",
        law="orthogonal at the centre tap",
        formula=(
            "A conv kernel `(*k, in, out)` (1-3 spatial axes, `in ≤ out`), zero "
            "except at the centre tap `(k - 1) // 2` of each spatial axis, which "
            "holds `orthogonal(scale, method=method)` of shape `(in, out)`."
        ),
        names=(
            Name(
                "jax",
                "delta_orthogonal",
                defaults={"scale": 1.0, "column_axis": -1},
            ),
        ),
        differences=("Neither Keras nor PyTorch has it.",),
        suits=(
            "very deep tanh (and ReLU) CNNs without normalization (Xiao et al. "
            "2018, dynamical isometry)."
        ),
    ),
    Entry(
        name="identity",
        law="gain · I",
        formula=(
            "Every trailing `n × m` matrix of `(..., n, m)` is `gain · eye(n, m)`. "
            "The key is ignored."
        ),
        names=(
            Name(
                "keras",
                "Identity",
                defaults={"gain": 1.0},
                shim="jinit.keras.Identity",
            ),
            Name("torch", "eye_", shim="jinit.torch.eye"),
        ),
        differences=(
            "JAX has none.",
            "Keras: 2-D only, and `get_config()` drops `gain`.",
            "PyTorch: 2-D only, no gain.",
        ),
        suits=(
            "recurrent kernels of ReLU RNNs (IRNN, Le et al. 2015), residual "
            "layers starting as the identity."
        ),
    ),
    Entry(
        name="dirac",
        law="identity convolution",
        formula=(
            "A conv kernel `(*k, in_per_group, out)` (1-3 spatial axes), `out` in "
            "`groups` groups: output channel `o` gets `scale` at input channel "
            "`o % (out // groups)` at the centre tap, zeros elsewhere. For an even "
            'size `k` the tap is `(k - 1) // 2` (`even_tap="low"`, exact identity '
            'under `padding="SAME"`) or `k // 2` (`"high"`, PyTorch\'s).'
        ),
        names=(
            Name(
                "torch",
                "dirac_",
                defaults={"groups": 1},
                shim="jinit.torch.dirac",
            ),
        ),
        differences=(
            "JAX and Keras have none.",
            "PyTorch: no `scale`; even sizes take the tap `k // 2`: "
            '`dirac_(w, groups)` is `dirac(groups, even_tap="high")`.',
        ),
        suits=(
            "conv layers that start as the identity: residual and very deep CNNs, "
            "ConvLSTM recurrent kernels."
        ),
    ),
)


# ----------------------------------------------------------------------------
# The activation table: scales computed from the activations themselves.


def _phi(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF, in float64."""
    return 0.5 * (1.0 + np.vectorize(math.erf, otypes=[float])(x / math.sqrt(2)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(x / 2))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_LAMBDA = 1.0507009873554804934193349852946
_SLOPE = 0.01


def _selu(x, d):
    neg = np.exp(np.minimum(x, 0.0))
    if d:
        return _SELU_LAMBDA * np.where(x > 0, 1.0, _SELU_ALPHA * neg)
    return _SELU_LAMBDA * np.where(x > 0, x, _SELU_ALPHA * (neg - 1))


@dataclasses.dataclass(frozen=True)
class Activation:
    """An activation with its derivative, for the scale that preserves variance.

    Attributes:
      name: the name, as ``jinit.diagnostics.ACTIVATIONS``, ``jinit.models`` and
        ``jinit report --activation`` spell it: the row is that function.
      fn: ``fn(x, derivative) -> array`` in float64.
      torch: its name for ``torch.nn.init.calculate_gain``, if PyTorch has one.
      guide: what the Keras guides (keras.io developer guides) recommend for it.
      use: jinit's recommendation, a format string of :func:`deep`'s cells
        (``{scale}``: the scale a ``DEPTH``-layer network keeps).
      note: what the name means, where it is not obvious.
    """

    name: str
    fn: Callable[[np.ndarray, bool], np.ndarray]
    torch: str | None
    guide: str
    use: str
    note: str = ""


_GELU_C = math.sqrt(2 / math.pi)


def _gelu_tanh(x, d):
    """``jax.nn.gelu``'s default: ``x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    t = np.tanh(_GELU_C * (x + 0.044715 * x**3))
    if d:
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (
            1 + 3 * 0.044715 * x * x
        )
    return 0.5 * x * (1 + t)


def _gelu_erf(x, d):
    if d:
        return _phi(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return x * _phi(x)


_DEEP = (
    '`variance_scaling({scale}, "fan_in", ...)` keeps a {n}-layer MLP\'s size, '
    "but on an unstable fixed point: He's 2.0 shrinks it {he}, the forward "
    "scale grows it {forward}; measure the real model (`jinit report`, "
    "`jinit.diagnostics.gain_search`)"
)


ACTIVATIONS: tuple[Activation, ...] = (
    Activation(
        "linear",
        lambda x, d: np.ones_like(x) if d else x,
        "linear",
        "—",
        "`lecun_normal()`, `lecun_uniform()`",
    ),
    Activation(
        "relu",
        lambda x, d: (x > 0).astype(float) if d else np.maximum(x, 0.0),
        "relu",
        "HeNormal, HeUniform",
        "`he_normal()`, `he_uniform()`",
    ),
    Activation(
        "leaky_relu",
        lambda x, d: (
            np.where(x > 0, 1.0, _SLOPE) if d else np.where(x > 0, x, _SLOPE * x)
        ),
        "leaky_relu",
        "HeNormal, HeUniform",
        "`he_normal()` (exactly: `variance_scaling(2 / (1 + 0.01²), ...)`)",
    ),
    Activation(
        "gelu",
        _gelu_tanh,
        None,
        "—",
        _DEEP,
        note="tanh approximation: `jax.nn.gelu`'s default",
    ),
    Activation(
        "gelu_erf",
        _gelu_erf,
        None,
        "—",
        _DEEP,
        note="exact: `jax.nn.gelu(x, approximate=False)`, PyTorch's default",
    ),
    Activation(
        "silu",
        lambda x, d: (
            _sigmoid(x) * (1 + x * (1 - _sigmoid(x))) if d else x * _sigmoid(x)
        ),
        None,
        "—",
        _DEEP,
    ),
    Activation(
        "tanh",
        lambda x, d: 1 - np.tanh(x) ** 2 if d else np.tanh(x),
        "tanh",
        "GlorotUniform",
        "`glorot_*()`, `lecun_*()`, `orthogonal()`; deep: the table's scale",
    ),
    Activation(
        "sigmoid",
        lambda x, d: _sigmoid(x) * (1 - _sigmoid(x)) if d else _sigmoid(x),
        "sigmoid",
        "GlorotUniform",
        "`glorot_*()` for gates and outputs; avoid as a deep hidden activation",
    ),
    Activation(
        "selu",
        _selu,
        "selu",
        "—",
        "`lecun_normal()` (Klambauer et al. 2017)",
    ),
)


def moments(act: Activation) -> tuple[float, float]:
    """``(E[f(z)^2], E[f'(z)^2])`` for ``z ~ N(0, 1)``, by the midpoint rule.

    On [-12, 12] in cells of 1e-4, with 0 (where ReLU-like activations have their
    kink, and their derivatives a jump) on a cell boundary: the error is O(1e-9),
    far below the 3 digits printed.
    """
    h = 1e-4
    x = (np.arange(240_000) - 120_000 + 0.5) * h
    w = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) * h
    forward = float(np.sum(act.fn(x, False) ** 2 * w))
    backward = float(np.sum(act.fn(x, True) ** 2 * w))
    return forward, backward


def _g(x: float) -> str:
    return f"{x:.3g}"


#: The depth of the network whose kept scale the table gives.
DEPTH = 50


@functools.cache
def deep(name: str, forward: float) -> dict[str, str]:
    """The mean-field cells of ``name``'s row, from :mod:`jinit.diagnostics`.

    ``fixed``: the fixed points of the map ``q -> forward E[f(sqrt(q) z)^2]``
    at the forward scale (``q = 1`` is one by construction) with their
    stability (:func:`jinit.diagnostics.fixed_points`); ``depth``: the scale at
    which a ``DEPTH``-layer MLP ends with its first layer's activation size
    (:func:`jinit.diagnostics.depth_scale`), or why there is none; ``he`` and
    ``forward``: how much the activations' root mean square changes through
    ``DEPTH`` layers at He's scale 2 and at the forward scale
    (:func:`jinit.diagnostics.mean_field`).
    """
    from jinit import diagnostics

    points = diagnostics.fixed_points(name, forward)
    fixed = (
        ", ".join(
            f"q={p.q:.3g} ({'stable' if p.stable else 'unstable'})" for p in points
        )
        if points
        else "every q (marginal)"
    )
    try:
        scale = diagnostics.depth_scale(name, DEPTH)
    except ValueError:
        scale, keeps = math.nan, "none: shrinks at every scale"
    else:
        # With a unit-variance input the first pre-activations have q = scale:
        # a network keeps its size by starting on a fixed point, stable or not.
        on = [
            p for p in diagnostics.fixed_points(name, scale) if abs(p.q - scale) < 1e-3
        ]
        how = ("stable" if on[0].stable else "unstable") if on else "marginal"
        keeps = f"{scale:.3f} ({how})"

    def change(scale: float) -> str:
        rms = diagnostics.mean_field(name, scale, DEPTH).rms
        return f"×{rms[-1] / rms[0]:.2g}"

    return {
        "fixed": fixed,
        "depth": keeps,
        "scale": f"{scale:.3f}",
        "he": change(2.0),
        "forward": change(forward),
        "n": str(DEPTH),
    }


def _activation_table() -> list[str]:
    lines = [
        "| activation | E[f(z)²] | forward scale 1/E[f(z)²] | fixed points there "
        f"| scale {DEPTH} layers keep | backward scale 1/E[f′(z)²] | PyTorch gain² "
        "| Keras guides | jinit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for act in ACTIVATIONS:
        forward, backward = moments(act)
        gain2 = (
            _g(_torch.calculate_gain(act.torch) ** 2) if act.torch is not None else "—"
        )
        cells = deep(act.name, 1 / forward)
        name = f"`{act.name}`" + (f" ({act.note})" if act.note else "")
        use = act.use.format(**cells)
        lines.append(
            f"| {name} | {_g(forward)} | {_g(1 / forward)} | {cells['fixed']} "
            f"| {cells['depth']} "
            f"| {_g(1 / backward)} | {gain2} | {act.guide} | {use} |"
        )
    return lines


# ----------------------------------------------------------------------------
# Rendering.

_INTRO = """\
# jinit reference

Generated by `python docs/gen_reference.py docs/reference.md` from the registry in
`docs/gen_reference.py` (parameters and defaults from the builders' signatures; the
activation table computed from the activations); `tests/test_reference.py` fails
if this file differs from what the code generates, and checks every name and
default below against the installed JAX, Keras and PyTorch.

Every initializer is called as `init(key, shape, dtype=None, out_sharding=None)`.
Fans (`jinit.compute_fans`): for a shape `(*k, in, out)`, `fan_in = in · prod(k)`,
`fan_out = out · prod(k)`; `(n,)` has fans `(n, n)` and `()` has `(1, 1)` (Keras'
rule; JAX raises for both); a fan of 0 is clamped to 1; `batch_axis` axes count in
neither fan. PyTorch's rule on
its layout `(out, in, *k)` gives the same numbers. float32/float64 values equal
`jax.nn.initializers`' for the same key; bfloat16, float16 and float8 are drawn in
float32 and rounded once.
"""


def _names_cell(entry: Entry, framework: str) -> str:
    names = entry.framework_names(framework)
    return ", ".join(n.call() for n in names) if names else "—"


def _overview() -> list[str]:
    lines = [
        "| jinit | law | JAX | Keras | PyTorch |",
        "|---|---|---|---|---|",
    ]
    for e in REGISTRY:
        name = " / ".join(f"`{n}`" for n in (e.name, *e.aliases()))
        cells = [_names_cell(e, f) for f in ("jax", "keras", "torch")]
        lines.append(f"| [{name}](#{e.name}) | {e.law} | " + " | ".join(cells) + " |")
    return lines


def _name_line(n: Name) -> str:
    where = f"`{NAMESPACES[n.framework]}.{n.name}`"
    parts = [where]
    if n.args:
        parts.append(f"with `{n.args}`")
    if n.defaults:
        shown = ", ".join(f"{k}={v!r}" for k, v in n.defaults.items())
        parts.append(f"(defaults `{shown}`)".replace("'", '"'))
    if n.shim:
        parts.append(f"— in jinit: `{n.shim}`")
    return " ".join(parts)


def _section(e: Entry) -> list[str]:
    lines = [f"## {e.name}", ""]
    aliases = e.aliases()
    if aliases:
        lines += ["Also: " + ", ".join(f"`jinit.{a}`" for a in aliases) + ".", ""]
    lines += [f"`{e.signature()}`", "", e.formula, ""]
    labels = {"jax": "JAX", "keras": "Keras", "torch": "PyTorch"}
    for framework, label in labels.items():
        names = e.framework_names(framework)
        text = "; ".join(_name_line(n) for n in names) if names else "none"
        lines.append(f"- **{label}**: {text}")
    lines += ["", "Differences:", ""]
    lines += [f"- {d}" for d in e.differences]
    lines += ["", f"Suits: {e.suits}", ""]
    return lines


# ----------------------------------------------------------------------------
# Named schemes (jinit.schemes): each table is computed from the scheme's own
# rules, by jinit.flax.table on a tree of the reference model's paths and shapes.


@dataclasses.dataclass(frozen=True)
class Scheme:
    """A named scheme at its reference model size, for the reference's table.

    Attributes:
      title: the section's title.
      builder: the ``jinit.schemes`` builder.
      kwargs: its arguments (the reference model's sizes).
      size: the reference model, in words.
      source: the code it reproduces.
      leaves: ``(path, shape)`` of the reference model's parameters, one per
        role (two layers where the law depends on the layer); Flax layout.
      notes: extra lines under the table.
      name: the builder's public name, where it is an alias (``skipinit``).
    """

    title: str
    builder: Callable[..., Any]
    kwargs: Mapping[str, Any]
    size: str
    source: str
    leaves: tuple[tuple[str, tuple[int, ...]], ...]
    notes: tuple[str, ...] = ()
    name: str = ""

    def call(self) -> str:
        args = ", ".join(
            repr(v) if k.startswith("_") else f"{k}={v!r}"
            for k, v in self.kwargs.items()
        )
        name = self.name or self.builder.__name__
        return f"jinit.schemes.{name}({args})".replace("'", '"')

    def rules(self) -> dict[str, Any]:
        args = [v for k, v in self.kwargs.items() if k.startswith("_")]
        kwargs = {k: v for k, v in self.kwargs.items() if not k.startswith("_")}
        return self.builder(*args, **kwargs)


def _gpt2_leaves(d: int = 768, vocab: int = 50257, ctx: int = 1024):
    h = "transformer/h/0/"
    return (
        ("transformer/wte/embedding", (vocab, d)),
        ("transformer/wpe/embedding", (ctx, d)),
        (h + "attn/c_attn/kernel", (d, 3 * d)),
        (h + "attn/c_attn/bias", (3 * d,)),
        (h + "attn/c_proj/kernel", (d, d)),
        (h + "mlp/c_fc/kernel", (d, 4 * d)),
        (h + "mlp/c_proj/kernel", (4 * d, d)),
        (h + "ln_1/scale", (d,)),
        (h + "ln_1/bias", (d,)),
    )


def _llama_leaves(prefix, attn, mlp, names, layers, d, kv, ff, vocab, extra=()):
    """A Llama-style model's leaves: ``names`` maps each role to its module name."""
    out = [(prefix + names["embedding"], (vocab, d))]
    for i in layers:
        block = f"{prefix}{names['layers']}/{i}/"
        out += [
            (f"{block}{attn}/{names['q']}/kernel", (d, d)),
            (f"{block}{attn}/{names['k']}/kernel", (d, kv)),
            (f"{block}{attn}/{names['v']}/kernel", (d, kv)),
            (f"{block}{attn}/{names['o']}/kernel", (d, d)),
            (f"{block}{mlp}/{names['gate']}/kernel", (d, ff)),
            (f"{block}{mlp}/{names['up']}/kernel", (d, ff)),
            (f"{block}{mlp}/{names['down']}/kernel", (ff, d)),
        ]
    out += [(f"{prefix}{names['layers']}/0/{names['norm']}/scale", (d,))]
    return tuple(out) + tuple(extra)


_HF_LLAMA = dict(
    embedding="embed_tokens/embedding",
    layers="layers",
    q="q_proj",
    k="k_proj",
    v="v_proj",
    o="o_proj",
    gate="gate_proj",
    up="up_proj",
    down="down_proj",
    norm="input_layernorm",
)
_TITAN = dict(
    embedding="tok_embeddings/embedding",
    layers="layers",
    q="wq",
    k="wk",
    v="wv",
    o="wo",
    gate="w1",
    up="w3",
    down="w2",
    norm="attention_norm",
)
_OLMO_CORE = dict(
    embedding="embeddings/embedding",
    layers="blocks",
    q="w_q",
    k="w_k",
    v="w_v",
    o="w_out",
    gate="w1",
    up="w3",
    down="w2",
    norm="attention_norm",
)


def _olmo_leaves(layers=(0,), d=2048, ff=8192, vocab=50304, ctx=2048):
    t = "transformer/"
    out = [(t + "wte/embedding", (vocab, d)), (t + "wpe/embedding", (ctx, d))]
    for i in layers:
        b = f"{t}blocks/{i}/"
        out += [
            (b + "att_proj/kernel", (d, 3 * d)),
            (b + "attn_out/kernel", (d, d)),
            (b + "ff_proj/kernel", (d, 2 * ff)),
            (b + "ff_out/kernel", (ff, d)),
        ]
    return tuple(out) + ((t + "ff_out/kernel", (d, vocab)),)


def _olmo_core_leaves(layers=(0,)):
    return _llama_leaves(
        "",
        "attention",
        "feed_forward",
        _OLMO_CORE,
        layers,
        2048,
        2048,
        8192,
        100352,
        extra=(("lm_head/w_out/kernel", (2048, 100352)),),
    )


def _seq2seq_leaves(
    d=512, ff=2048, vocab=32000, cross=False, sides=("decoder",), biases=False
):
    out = []
    for side in sides:
        b = f"{side}/layers/0/"
        attns = ("self_attn", "encoder_attn") if cross and side == "decoder" else ()
        out += [(f"{side}/embed_tokens/embedding", (vocab, d))] if cross else []
        for attn in attns or ("self_attn",):
            out += [
                (f"{b}{attn}/{p}/kernel", (d, d))
                for p in ("q_proj", "k_proj", "v_proj", "out_proj")
            ]
            if biases:
                out += [
                    (f"{b}{attn}/{p}/bias", (d,))
                    for p in ("q_proj", "v_proj", "out_proj")
                ]
        out += [(b + "fc1/kernel", (d, ff)), (b + "fc2/kernel", (ff, d))]
        out += [(b + "fc1/bias", (ff,))] if biases else []
    if cross:
        out += [("decoder/lm_head/kernel", (d, vocab))]
    return tuple(out)


_DEEPNET_WHY = (
    "Where the sources disagree: the encoder-decoder encoder's β is "
    "0.87·(N⁴M)^(−1/16) in the paper (Wang et al. 2022, Fig. 2) and in xformers' "
    "`get_deepnorm_coefficients`, but 1.15·(N⁴M)^(−1/16) in torchscale's code "
    "(`init_scale = (N⁴M)^(1/16) / 1.15`, `torchscale/architecture/encoder.py`). "
    "jinit follows the paper by default (two independent sources agree on it, and "
    "torchscale's constant is close to the reciprocal of 0.87); "
    '`source="torchscale"` gives torchscale\'s coefficient and its base laws '
    "(xavier_uniform with gain 1/√2 for q, k, v; PyTorch's Linear default for "
    "fc1, fc2; the gains divided by the init scale)."
)


def _deepnet_coefficients_lines() -> list[str]:
    """The DeepNorm coefficients table, from ``jinit.schemes.deepnet_coefficients``."""
    import jinit.schemes as js

    cases = (
        ("encoder-only, N = 24", "encoder", 24, None, "encoder"),
        ("decoder-only, M = 24", "decoder", None, 24, "decoder"),
        ("encoder-decoder N = M = 6, encoder", "encoder_decoder", 6, 6, "encoder"),
        ("encoder-decoder N = M = 6, decoder", "encoder_decoder", 6, 6, "decoder"),
    )
    lines = [
        "| architecture | α | β (paper, jinit's default) | β (torchscale) |",
        "|---|---|---|---|",
    ]
    for label, arch, n, m, side in cases:
        paper = js.deepnet_coefficients(arch, n, m)
        code = js.deepnet_coefficients(arch, n, m, source="torchscale")
        alpha = getattr(paper, f"{side}_alpha")
        b1, b2 = getattr(paper, f"{side}_beta"), getattr(code, f"{side}_beta")
        lines.append(f"| {label} | {alpha:.4g} | {b1:.4g} | {b2:.4g} |")
    return lines


def _schemes() -> tuple[Scheme, ...]:
    import jinit.schemes as js

    hf = "transformers 5.x"
    titan = _llama_leaves(
        "",
        "attention",
        "feed_forward",
        _TITAN,
        (0, 31),
        4096,
        1024,
        14336,
        128256,
        extra=(("norm/scale", (4096,)), ("output/kernel", (4096, 128256))),
    )
    hf_llama = _llama_leaves(
        "model/",
        "self_attn",
        "mlp",
        _HF_LLAMA,
        (0,),
        4096,
        4096,
        11008,
        32000,
        extra=(("lm_head/kernel", (4096, 32000)),),
    )
    bert = "bert/encoder/layer/0/"
    vit = "vit/layers/0/"
    t5 = "encoder/block/0/layer/"
    mega = "decoder/layers/0/"
    olmo_core_source = (
        "`allenai/OLMo-core` at `fa6c5014` (2026-06-22): "
        "`src/olmo_core/nn/transformer/init.py` (`InitMethod`), "
        "`src/olmo_core/nn/attention/__init__.py` (`Attention.init_weights`)"
    )
    olmo_core_size = "OLMo-2 1B: 16 blocks, d_model 2048, hidden 8192, vocab 100352"
    return (
        Scheme(
            "GPT-2 (Hugging Face / nanoGPT)",
            js.gpt2,
            {"n_layer": 12},
            "GPT-2 small: 12 layers, d 768, vocab 50257, context 1024",
            f"{hf} `GPT2PreTrainedModel._init_weights` "
            "(`models/gpt2/modeling_gpt2.py`); nanoGPT's `c_proj` rule is the same",
            _gpt2_leaves(),
        ),
        Scheme(
            "GPT-2 (as OpenAI released it)",
            js.gpt2,
            {"n_layer": 12, "variant": "openai"},
            "GPT-2 small",
            "`openai/gpt-2` `src/model.py` (`w_init_stdev=0.02`, `wpe` at 0.01; "
            "no depth scaling in the released code)",
            _gpt2_leaves(),
        ),
        Scheme(
            "BERT (Hugging Face)",
            js.bert,
            {},
            "BERT-base: 12 layers, d 768, vocab 30522, pad token 0",
            f"{hf} `BertPreTrainedModel._init_weights` (`models/bert/modeling_bert.py`)",
            (
                ("bert/embeddings/word_embeddings/embedding", (30522, 768)),
                ("bert/embeddings/position_embeddings/embedding", (512, 768)),
                ("bert/embeddings/token_type_embeddings/embedding", (2, 768)),
                ("bert/embeddings/LayerNorm/scale", (768,)),
                (bert + "attention/self/query/kernel", (768, 768)),
                (bert + "attention/output/dense/kernel", (768, 768)),
                (bert + "intermediate/dense/kernel", (768, 3072)),
                (bert + "output/dense/kernel", (3072, 768)),
                (bert + "output/dense/bias", (768,)),
            ),
        ),
        Scheme(
            "ViT (Hugging Face)",
            js.vit,
            {},
            "ViT-B/16 at 224: 12 layers, d 768, 196 patches + 1",
            f"{hf} `ViTPreTrainedModel._init_weights` (`models/vit/modeling_vit.py`)",
            (
                ("vit/embeddings/cls_token", (1, 1, 768)),
                ("vit/embeddings/position_embeddings", (1, 197, 768)),
                ("vit/embeddings/patch_embeddings/projection/kernel", (16, 16, 3, 768)),
                (vit + "attention/q_proj/kernel", (768, 768)),
                (vit + "attention/o_proj/kernel", (768, 768)),
                (vit + "mlp/fc1/kernel", (768, 3072)),
                (vit + "mlp/fc2/kernel", (3072, 768)),
                (vit + "layernorm_before/scale", (768,)),
                ("classifier/kernel", (768, 1000)),
            ),
        ),
        Scheme(
            "Llama (Hugging Face)",
            js.llama,
            {},
            "Llama-2 7B: 32 layers, d 4096, MLP 11008, vocab 32000",
            f"{hf} `LlamaPreTrainedModel` (the base `_init_weights` rule)",
            hf_llama,
        ),
        Scheme(
            "T5 (Mesh TensorFlow, as Hugging Face)",
            js.t5,
            {},
            "T5-small: d_model 512, d_kv 64, 8 heads, d_ff 2048, vocab 32128",
            f"{hf} `T5PreTrainedModel._init_weights` (`models/t5/modeling_t5.py`)",
            (
                ("shared/embedding", (32128, 512)),
                (t5 + "0/SelfAttention/q/kernel", (512, 512)),
                (t5 + "0/SelfAttention/k/kernel", (512, 512)),
                (t5 + "0/SelfAttention/v/kernel", (512, 512)),
                (t5 + "0/SelfAttention/o/kernel", (512, 512)),
                (t5 + "0/SelfAttention/relative_attention_bias/embedding", (32, 8)),
                (t5 + "1/DenseReluDense/wi/kernel", (512, 2048)),
                (t5 + "1/DenseReluDense/wo/kernel", (2048, 512)),
                (t5 + "0/layer_norm/scale", (512,)),
            ),
        ),
        Scheme(
            "Megatron-LM",
            js.megatron,
            {"n_layer": 24},
            "24 layers, hidden 1024, vocab 50304",
            "megatron-core 0.19 `megatron/core/utils.py` (`init_method_normal`, "
            "`scaled_init_method_normal`), `transformer_config.py`",
            (
                ("embedding/word_embeddings/embedding", (50304, 1024)),
                (mega + "self_attention/linear_qkv/kernel", (1024, 3072)),
                (mega + "self_attention/linear_proj/kernel", (1024, 1024)),
                (mega + "mlp/linear_fc1/kernel", (1024, 4096)),
                (mega + "mlp/linear_fc2/kernel", (4096, 1024)),
            ),
        ),
        Scheme(
            "OLMo `normal` (OLMo-2's configs)",
            js.olmo,
            {"init_fn": "normal", "init_cutoff_factor": 3.0},
            "OLMo-1B: 16 blocks, d_model 2048, MLP 8192, vocab 50304",
            "`allenai/OLMo` (ai2-olmo 0.6.0) `olmo/model.py`, `olmo/config.py` "
            "(`InitFnType`)",
            _olmo_leaves(),
        ),
        Scheme(
            "OLMo `mitchell` (OLMo-1's configs)",
            js.olmo,
            {"init_fn": "mitchell", "d_model": 2048, "n_layers": 16},
            "OLMo-1B: 16 blocks, d_model 2048, MLP 8192",
            "`allenai/OLMo` (ai2-olmo 0.6.0) `olmo/model.py`; "
            "`configs/official-0724/OLMo-1B.yaml`",
            _olmo_leaves((0, 15)),
        ),
        Scheme(
            "OLMo `full_megatron`",
            js.olmo,
            {
                "init_fn": "full_megatron",
                "d_model": 2048,
                "n_layers": 16,
                "init_cutoff_factor": 3.0,
            },
            "OLMo-1B: 16 blocks, d_model 2048",
            "`allenai/OLMo` (ai2-olmo 0.6.0) `olmo/model.py`",
            _olmo_leaves(),
        ),
        *(
            Scheme(
                f"OLMo-core `{method}`",
                js.olmo_core,
                {"method": method, "d_model": 2048, "n_layers": 16},
                olmo_core_size,
                olmo_core_source,
                _olmo_core_leaves((0, 15) if method == "llama_depth" else (0,)),
            )
            for method in ("normal", "llama", "llama_depth", "normalized", "fan_in")
        ),
        Scheme(
            "Llama 3 (torchtitan)",
            js.torchtitan_llama3,
            {"dim": 4096},
            "Llama 3 8B: 32 layers, dim 4096, 8 kv heads, FFN 14336, vocab 128256",
            "`pytorch/torchtitan` at `b5bcd76c` (2026-08-21): "
            "`torchtitan/models/llama3/__init__.py`, "
            "`torchtitan/models/common/param_init.py` (`depth_scaled_std`)",
            titan,
            (
                "`trunc_normal_(std=0.02)` keeps PyTorch's absolute bounds ±2, i.e. "
                "±100σ: practically untruncated; only `output` is cut at 3σ.",
            ),
        ),
        Scheme(
            "DeepNet (decoder-only)",
            js.deepnet,
            {"_architecture": "decoder", "n_decoder": 24},
            "M = 24 decoder layers, d 512, FFN 2048",
            "Wang et al. 2022 (DeepNet), Fig. 2 and its Algorithm; the model applies "
            "α to the residual (`LN(α·x + f(x))`)",
            _seq2seq_leaves(),
        ),
        Scheme(
            "DeepNet (encoder-decoder, paper)",
            js.deepnet,
            {"_architecture": "encoder_decoder", "n_encoder": 6, "n_decoder": 6},
            "N = M = 6 layers, d 512, FFN 2048",
            "Wang et al. 2022, Fig. 2; xformers `get_deepnorm_coefficients`",
            _seq2seq_leaves(sides=("encoder", "decoder")),
        ),
        Scheme(
            "DeepNet (encoder-decoder, torchscale)",
            js.deepnet,
            {
                "_architecture": "encoder_decoder",
                "n_encoder": 6,
                "n_decoder": 6,
                "source": "torchscale",
            },
            "N = M = 6 layers, d 512, FFN 2048",
            "`microsoft/torchscale` at `4d1e0e82` (2024-04-11): "
            "`torchscale/architecture/encoder.py`, `decoder.py` (`init_scale`), "
            "`torchscale/component/multihead_attention.py` (`reset_parameters`)",
            _seq2seq_leaves(sides=("encoder", "decoder"), biases=True),
            (
                "DeepNorm's coefficients (α, β) by source:",
                "",
                *_deepnet_coefficients_lines(),
                "",
                _DEEPNET_WHY,
            ),
        ),
        Scheme(
            "T-Fixup",
            js.tfixup,
            {"d_model": 512, "n_encoder": 6, "n_decoder": 6, "pad_token_id": 1},
            "N = M = 6 layers, d 512, FFN 2048, vocab 32000, fairseq's pad index 1",
            "`layer6ai-labs/T-Fixup` at `b17e166d` (2021-02-01): "
            "`fairseq/modules/transformer_layer.py` (`fixup_initialization`), "
            "`fairseq/modules/multihead_attention.py`, `fairseq/models/transformer.py`",
            _seq2seq_leaves(cross=True, sides=("encoder", "decoder"), biases=True),
        ),
        Scheme(
            "Fixup (ResNet-110, CIFAR)",
            js.fixup,
            {"n_branches": 54},
            "ResNet-110: 54 BasicBlocks (m = 2), widths 16/32/64, 10 classes",
            "`hongyi-zhang/Fixup` at `f3fa449f` (2019-05-05): "
            "`cifar/models/fixup_resnet_cifar.py`",
            (
                ("conv1/kernel", (3, 3, 3, 16)),
                ("layer1/0/conv1/kernel", (3, 3, 16, 16)),
                ("layer1/0/conv2/kernel", (3, 3, 16, 16)),
                ("layer1/0/bias1a", (1,)),
                ("layer1/0/scale", (1,)),
                ("fc/kernel", (64, 10)),
                ("fc/bias", (10,)),
            ),
        ),
        Scheme(
            "ReZero",
            js.rezero,
            {},
            "any depth",
            "`majumderb/rezero` `rezero/transformer/rztx.py` (`resweight = 0`)",
            (("layers/0/resweight", ()),),
        ),
        Scheme(
            "SkipInit",
            js.skipinit,
            {},
            "any depth",
            "timm 1.0 `timm/models/nfnet.py` (`skipinit_gain = 0`)",
            (("stages/0/blocks/0/skipinit_gain", ()),),
            name="skipinit",
        ),
        Scheme(
            "ZerO",
            js.zero,
            {},
            "d 512, MLP 2048",
            "`jiaweizzhao/ZerO-initialization` `example_mnist.ipynb` "
            "(`ZerO_Init_on_matrix`)",
            (
                ("layers/0/mlp/fc1/kernel", (512, 2048)),
                ("layers/0/mlp/fc2/kernel", (2048, 512)),
                ("layers/0/mlp/fc1/bias", (2048,)),
            ),
        ),
    )


def _num(x: float) -> str:
    return f"{x:.5g}"


def describe(init: Any, shape: tuple[int, ...]) -> tuple[str, float | None]:
    """``(law in words, sigma)`` of a scheme's initializer on ``shape``.

    ``sigma`` is the std parameter the source passes (before truncation), None
    for constants and deterministic laws.
    """
    import jinit.schemes as js
    from jinit._constant import Constant
    from jinit._distributions import Normal, TruncatedNormal, Uniform
    from jinit._variance import VarianceScaling
    from jinit.schemes._depth import _ZeroRow

    if isinstance(init, _ZeroRow):
        text, sigma = describe(init.base, shape)
        return f"{text}; row {init.index} = 0", sigma
    if isinstance(init, Normal):
        return f"normal σ {_num(init.stddev)}", init.stddev
    if isinstance(init, TruncatedNormal):
        s = init.stddev
        if init.bounds == "absolute":
            cut = f"cut at [{_num(init.lower)}, {_num(init.upper)}] (absolute)"
        else:
            cut = f"cut at ±{_num(init.upper)}σ"
        return f"normal σ {_num(s)}, {cut}", s
    if isinstance(init, VarianceScaling):
        sigma = init.sigma(shape)
        return (
            f"{init.distribution}, std {_num(sigma)} (variance_scaling"
            f"({_num(init.scale)}, {init.mode!r}))".replace("'", '"'),
            sigma,
        )
    if isinstance(init, Uniform):
        return f"uniform [{_num(init.minval)}, {_num(init.maxval)}]", None
    if isinstance(init, Constant):
        return _num(float(np.asarray(init.value))), None
    if isinstance(init, js.ZerO):
        return "ZerO: identity (out ≤ in) or Hadamard/2^(c/2) (out > in)", None
    return repr(init), None


def _rule_role(rule: str) -> str:
    import re

    match = re.match(r"\(\?#(\w+)\)", rule)
    return match.group(1) if match else rule


def scheme_rows(scheme: Scheme) -> list[dict[str, Any]]:
    """One row per reference leaf: role, path, shape, law, sigma and std.

    From ``jinit.flax.table`` of the scheme's rules on the reference leaves
    (``std`` is the values' std, after any truncation; ``sigma`` the law's std
    parameter, see :func:`describe`).
    """
    import jax

    import jinit.flax as jf

    tree = {p: jax.ShapeDtypeStruct(s, np.float32) for p, s in scheme.leaves}
    order = {p: i for i, (p, _) in enumerate(scheme.leaves)}
    table = jf.table(tree, scheme.rules(), stacked={})  # the layouts are right
    rows = []
    for row in sorted(table, key=lambda r: order[r["path"]]):
        law, sigma = describe(row["init"], row["call"])
        rows.append(
            {
                "role": _rule_role(row["rule"]),
                "path": row["path"],
                "shape": row["shape"],
                "law": law,
                "sigma": sigma,
                "std": row["std"],
            }
        )
    return rows


def _scheme_section(scheme: Scheme) -> list[str]:
    lines = [
        f"### {scheme.title}",
        "",
        f"`{scheme.call()}` — at {scheme.size}. Reproduces: {scheme.source}.",
        "",
        "| role | path (example) | shape | law | std |",
        "|---|---|---|---|---|",
    ]
    for r in scheme_rows(scheme):
        shape = (
            "("
            + ", ".join(map(str, r["shape"]))
            + ("," if len(r["shape"]) == 1 else "")
            + ")"
        )
        std = "—" if r["std"] is None else _num(r["std"])
        lines.append(f"| {r['role']} | `{r['path']}` | {shape} | {r['law']} | {std} |")
    lines.append("")
    if scheme.notes:
        lines += [*scheme.notes, ""]
    return lines


def _schemes_lines() -> list[str]:
    """The "Named schemes" section of the reference."""
    lines = [
        "## Named schemes (`jinit.schemes`)",
        "",
        "Each table is `jinit.flax.table` of the scheme's rules on a tree of its"
        " reference model's parameters (Flax layout, one layer per role, two where"
        " the law depends on the layer), so the numbers are the scheme objects'"
        " own. `law` gives σ, the std the source passes (before truncation);"
        " `std` is the std of the values (after truncation). Roles are matched by"
        " path (`jinit.schemes.PATTERNS`, overridable per role with `patterns=`).",
        "",
    ]
    for scheme in _schemes():
        lines += _scheme_section(scheme)
    return lines


def render() -> str:
    """The Markdown of ``docs/reference.md``."""
    lines = [_INTRO, "## Overview", "", *_overview(), ""]
    lines += [
        "## Which scale for which activation",
        "",
        "For a layer `h′ = W f(h)` with `Var(W) = scale / fan_in` and `h ~ N(0, 1)`,"
        " the next pre-activation has variance `scale · E[f(z)²]` and the gradient"
        " is multiplied (in mean square) by `scale · E[f′(z)²]`: the forward scale"
        " keeps activations, the backward scale keeps gradients, at unit variance."
        " A fixed point `q` of the map `q -> scale · E[f(√q z)²]` is stable when the"
        " map's slope there is below 1: at an unstable one (gelu, silu at their"
        " forward scale) a deep network drifts away from unit variance, so the"
        f" table also gives the scale at which a {DEPTH}-layer MLP ends with its"
        " first layer's activation size (`jinit.diagnostics.fixed_points`,"
        " `depth_scale`; mean field at infinite width, unit-variance input): the"
        " scale that makes the first layer's `q = scale` a fixed point. Where that"
        " point is unstable the balance is fragile: a different input variance, or"
        " a finite width's fluctuations, grow by the slope per layer."
        " Rows are named as `jinit report --activation` and `jinit.models` spell"
        " them. Computed here by quadrature (`docs/gen_reference.py: moments`); PyTorch's"
        " `calculate_gain(name)²` and the Keras guides' recommendations are shown"
        " for comparison (PyTorch's tanh gain 5/3 and SELU gain 3/4 are deliberate"
        " choices, not these moments). For a measured answer on a real model, use"
        " `jinit.diagnostics.gain_search` or `jinit report`.",
        "",
        *_activation_table(),
        "",
    ]
    for e in REGISTRY:
        lines += _section(e)
    lines += _schemes_lines()
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    """``python docs/gen_reference.py [PATH]``: write the reference (stdout if none)."""
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if argv:
        with open(argv[0], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
