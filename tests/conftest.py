"""Test setup: 8 simulated CPU devices, strict dtype promotion, an x64 fixture."""

import os

# Must be set before JAX initializes its backends: every test process sees 8 CPU
# devices, so sharding tests need no subprocess. Unsharded arrays live on device 0.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import pytest  # noqa: E402


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
