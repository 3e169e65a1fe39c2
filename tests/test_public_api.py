"""The public surface: every namespace's ``__all__``, pinned, importable, documented.

A name added to or removed from a namespace fails here until this list says so
(as jaxtyping's and optax's public-API tests do); every public function and
class has a docstring, and nothing public is left out of ``__all__``.
"""

import importlib
import inspect
import types

import pytest

SURFACE = {
    "jinit": (
        "Abstract",
        "ColNormalized",
        "Constant",
        "DeltaOrthogonal",
        "Dirac",
        "FAST_PRNG",
        "Identity",
        "Init",
        "Initializer",
        "InverseSoftplusLogUniform",
        "LogOfUniform",
        "LogUniform",
        "LayoutWarning",
        "MeshInvariance",
        "Normal",
        "Orthogonal",
        "PRNGWarning",
        "PerLeaf",
        "RowNormalized",
        "Rule",
        "Sign",
        "Signature",
        "Spectral",
        "TruncatedNormal",
        "Uniform",
        "VarianceScaling",
        "check_mesh_invariance",
        "WithNorm",
        "clear_caches",
        "col_normalized",
        "compute_fans",
        "constant",
        "declared",
        "delta_orthogonal",
        "dirac",
        "format_table",
        "glorot_normal",
        "glorot_uniform",
        "he_normal",
        "he_uniform",
        "identity",
        "inverse_softplus_log_uniform",
        "kaiming_normal",
        "kaiming_uniform",
        "lecun_normal",
        "lecun_uniform",
        "log_of_uniform",
        "log_uniform",
        "materialize",
        "normal",
        "ones",
        "orthogonal",
        "reinit",
        "row_normalized",
        "sign",
        "spectral",
        "roles",
        "table",
        "truncated_normal",
        "uniform",
        "variance_scaling",
        "with_norm",
        "xavier_normal",
        "xavier_uniform",
        "zeros",
    ),
    "jinit.cli": (
        "ACTIVATIONS",
        "AS_IS",
        "COORD_FLAT",
        "COORD_WIDTHS",
        "DEFAULT_BATCH",
        "DEFAULT_INITS",
        "DEFAULT_SIZE",
        "INPUT_DTYPES",
        "MODELS",
        "Model",
        "UsageError",
        "build",
        "coord_check_rows",
        "coord_ratios",
        "draw_params",
        "is_initializer",
        "main",
        "parser",
        "report",
        "resolve_init",
    ),
    "jinit.diagnostics": (
        "ACTIVATIONS",
        "Apply",
        "FixedPoint",
        "InitFn",
        "MeanField",
        "Propagation",
        "SATURATION_BOUNDS",
        "Thresholds",
        "Verdict",
        "compile_measure",
        "depth_scale",
        "diagnose",
        "fixed_points",
        "flax_fns",
        "format_norms",
        "gain_search",
        "geomean",
        "get_activation",
        "kind",
        "lsuv",
        "mean_field",
        "measure",
        "named_leaves",
        "norm_table",
        "param_roles",
        "propagation",
        "seed_keys",
        "spectral_condition",
        "verdict",
    ),
    "jinit.equinox": (
        "FRAMEWORKS",
        "abstract",
        "defaults",
        "init",
        "reinit",
        "table",
    ),
    "jinit.flax": (
        "FRAMEWORKS",
        "PerLeaf",
        "abstract",
        "declared",
        "defaults",
        "format_table",
        "linen_logical_partitioning",
        "linen_partitioning",
        "nnx_partitioning",
        "table",
    ),
    "jinit.haiku": (
        "FRAMEWORKS",
        "Wrapped",
        "abstract",
        "defaults",
        "reinit",
        "table",
        "wrap",
    ),
    "jinit.keras": (
        "Constant",
        "GlorotNormal",
        "GlorotUniform",
        "HeNormal",
        "HeUniform",
        "Identity",
        "Initializer",
        "LecunNormal",
        "LecunUniform",
        "Ones",
        "Orthogonal",
        "RandomInitializer",
        "RandomNormal",
        "RandomUniform",
        "ReusedSeedWarning",
        "STFT",
        "SeedGenerator",
        "Tensor",
        "TruncatedNormal",
        "VarianceScaling",
        "Zeros",
        "deserialize",
        "get",
        "register_with_keras",
        "serialize",
    ),
    "jinit.models": (
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
    ),
    "jinit.mup": (
        "ABC_FORMS",
        "BY_SHAPE",
        "CompleteP",
        "KINDS",
        "MuP",
        "MuPABC",
        "MuPTable3",
        "Param",
        "Parametrization",
        "ROLES",
        "SP",
        "SPEmbeddingLR",
        "SpectralMuP",
        "UMuP",
        "VARIANTS",
        "Variant",
        "attention_fn",
        "coord_check",
        "format_table",
        "identity",
        "modula",
        "parametrize",
        "plot_coord_check",
        "scion",
        "unit_attention_output_scale",
        "unit_gelu_scale",
        "unit_linear_scale",
        "unit_residual_tau",
        "unit_residual_weights",
        "unit_silu_glu_scale",
        "unit_silu_scale",
    ),
    "jinit.optim": (
        "ADAM_ROLES",
        "CONVS",
        "MUON_ROLES",
        "SCALES",
        "dimension_numbers",
        "muon",
    ),
    "jinit.plot": (
        "coord_check",
        "density",
        "depth_profiles",
        "weight_histograms",
    ),
    "jinit.schemes": (
        "DeepNetCoefficients",
        "DepthScaled",
        "GENERIC",
        "LAYER",
        "LayerStack",
        "PATTERNS",
        "ROLES",
        "StackLaw",
        "ZerO",
        "bert",
        "deepnet",
        "deepnet_coefficients",
        "deepseek_v3",
        "fixup",
        "from_hf_config",
        "gemma3",
        "gpt2",
        "gpt_oss",
        "layer_index",
        "llama",
        "mamba2",
        "megatron",
        "mixtral",
        "olmo",
        "olmo2",
        "olmo_core",
        "olmoe",
        "qwen3",
        "qwen3_moe",
        "qwen3_next",
        "rezero",
        "roberta",
        "rules",
        "skipinit",
        "stack_law",
        "t5",
        "tfixup",
        "torchtitan_llama3",
        "vit",
        "zero",
        "zero_matrix",
    ),
    "jinit.torch": (
        "BiasDefault",
        "NONLINEARITIES",
        "Sparse",
        "bias_default",
        "calculate_gain",
        "constant",
        "conv_default",
        "dirac",
        "embedding_default",
        "eye",
        "kaiming_normal",
        "kaiming_uniform",
        "linear_default",
        "module_law",
        "normal",
        "ones",
        "orthogonal",
        "sparse",
        "trunc_normal",
        "uniform",
        "xavier_normal",
        "xavier_uniform",
        "zeros",
    ),
}

NAMESPACES = sorted(SURFACE)


def _module(name):
    return importlib.import_module(name)


def test_every_public_module_is_listed():
    import pkgutil

    import jinit

    public = {"jinit"} | {
        m.name
        for m in pkgutil.iter_modules(jinit.__path__, "jinit.")
        if not m.name.rsplit(".", 1)[-1].startswith("_")
    }
    assert public == set(SURFACE)


@pytest.mark.parametrize("name", NAMESPACES)
def test_all_is_pinned(name):
    module = _module(name)
    assert sorted(module.__all__) == sorted(SURFACE[name])
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("name", NAMESPACES)
def test_every_name_is_importable_and_documented(name):
    module = _module(name)
    for attr in module.__all__:
        value = getattr(module, attr)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"{name}.{attr} has no docstring"


@pytest.mark.parametrize("name", NAMESPACES)
def test_nothing_public_is_left_out(name):
    module = _module(name)
    listed = set(module.__all__)
    for attr, value in vars(module).items():
        if attr.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if getattr(value, "__name__", attr) != attr:
            continue  # an alias by assignment (keras' zeros = Zeros): listed by name
        home = getattr(value, "__module__", None) or ""
        defined_here = home == name or home.startswith(name + "._")
        if defined_here and (inspect.isfunction(value) or inspect.isclass(value)):
            assert attr in listed, f"{name}.{attr} is public but not in __all__"
