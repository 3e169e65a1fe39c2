"""Test setup: 8 simulated CPU devices, cheaper compiles, strict promotion, an x64 fixture."""

import os

#: XLA flags that make the suite's compiles cheaper without changing a value (the
#: suite is XLA-compile bound): LLVM at -O1 rather than XLA's default -O3, and
#: XLA:CPU's elemental IR emitter for fusions rather than its MLIR fusion
#: emitters. No draw changes its bits: tests/test_compile_flags.py draws every
#: initializer (jinit's and JAX's own, eager and jitted) with these flags and, in
#: a fresh process, without them, and compares the bits. LLVM at -O0 would not
#: do: it fuses fewer multiply-adds, and the last bits of the normal laws move.
#: XLA stops at start-up on a flag it does not know ("Unknown flag in XLA_FLAGS"):
#: if a jaxlib release drops one of these, drop it here (jax is pinned in `dev`).
FAST_COMPILE_FLAGS = (
    "--xla_backend_optimization_level=1",
    "--xla_cpu_use_fusion_emitters=false",
)

# Must be set before JAX initializes its backends: every test process sees 8 CPU
# devices, so sharding tests need no subprocess. Unsharded arrays live on device 0.
os.environ["XLA_FLAGS"] = " ".join(
    [
        os.environ.get("XLA_FLAGS", ""),
        "--xla_force_host_platform_device_count=8",
        *FAST_COMPILE_FLAGS,
    ]
).strip()
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

# The suite is XLA-compile bound, and many tests compile the very same program
# (the same initializer, shape and dtype, built afresh in another test). JAX's
# compilation cache, keyed by the program's HLO, compiles each one once per
# process: a hit runs the executable XLA built for the identical program, so no
# value changes. The folder is this process's own and is removed at exit: no
# state is shared between the xdist workers or kept from one run to the next.
_XLA_CACHE = tempfile.mkdtemp(prefix="jinit-tests-xla-")
atexit.register(shutil.rmtree, _XLA_CACHE, ignore_errors=True)
jax.config.update("jax_compilation_cache_dir", _XLA_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "standard_promotion: run with JAX's standard (not strict) dtype promotion, "
        "for third-party code (Keras, Flax internals) that relies on it",
    )


@pytest.fixture(autouse=True)
def _strict_promotion(request):
    """jinit must never rely on implicit dtype promotion."""
    if request.node.get_closest_marker("standard_promotion"):
        yield
        return
    with jax.numpy_dtype_promotion("strict"):
        yield


@pytest.fixture
def x64():
    """Enables float64 for one test, restoring the previous setting after it."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)
