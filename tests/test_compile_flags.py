"""The suite's compile flags (conftest.FAST_COMPILE_FLAGS) leave every draw's bits alone.

The suite compiles with flags that make XLA compile faster (LLVM at -O1, the
elemental IR emitter); its bit-for-bit checks (jinit against JAX, Keras, Flax;
eager against jit, vmap and sharded) are only worth what users see if no draw
changes with those flags. Here every initializer of the registry, jinit's and
JAX's own (eager and jitted), is drawn in this process and in a fresh one with
XLA's defaults, in float32, complex64 and float64, and the bits are compared (a
narrow float is the float32 draw rounded once: tests/test_sampling.py). With
LLVM at -O0 this check fails (XLA's CPU backend then fuses fewer multiply-adds,
and the last bits of the normal laws move).

Run as a script, this file writes the draws under the flags its environment sets.
"""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from registry import ROWS


def _bits(x) -> np.ndarray:
    return np.asarray(x).reshape(-1).view(np.uint8)


def draws() -> dict[str, np.ndarray]:
    """Every row at its first shape: jinit in each dtype, JAX eager and jitted."""
    out = {}
    key = jax.random.key(42)
    for row in ROWS:
        shape = row.shapes[0]
        init = row.ours()
        for dtype in [jnp.float32] + ([jnp.complex64] if row.complex_ok else []):
            out[f"{row!r} {jnp.dtype(dtype).name}"] = _bits(init(key, shape, dtype))
        if row.theirs is not None:
            theirs = row.theirs()
            out[f"{row!r} jax eager"] = _bits(theirs(key, shape))
            out[f"{row!r} jax jit"] = _bits(
                jax.jit(lambda k, t=theirs, s=shape: t(k, s))(key)
            )
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        for row in ROWS:
            out[f"{row!r} float64"] = _bits(row.ours()(key, row.shapes[0], jnp.float64))
    finally:
        jax.config.update("jax_enable_x64", previous)
    return out


@pytest.mark.standard_promotion  # JAX's own initializers mix weak types
def test_the_suites_compile_flags_change_no_draw(tmp_path):
    import conftest

    flags = os.environ["XLA_FLAGS"].split()
    assert set(conftest.FAST_COMPILE_FLAGS) <= set(flags)  # this process has them
    default = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = tmp_path / "default.npz"
    done = subprocess.run(
        [sys.executable, __file__, str(out)],
        env=default,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = dict(np.load(out))
    ours = draws()
    assert set(ours) == set(theirs)
    differ = [k for k in ours if not np.array_equal(ours[k], theirs[k])]
    assert not differ, differ


if __name__ == "__main__":
    np.savez(sys.argv[1], **draws())
