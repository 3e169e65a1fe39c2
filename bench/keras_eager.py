"""Eager call of jinit.keras initializers vs Keras 3's own classes (JAX backend).

    KERAS_BACKEND=jax python bench/keras_eager.py [--repeats 101]

Both sides run in one process with the same seed, shape and dtype (float32) and
return the same bits (checked before timing). Each row: the first call (compile
included), then the median of ``--repeats`` steady-state calls after a warm-up,
each followed by ``block_until_ready``; the two sides alternate call by call so
that load on the machine hits both alike. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import jinit  # noqa: E402
import jinit.keras as jk  # noqa: E402

CASES = [
    ("GlorotUniform", {}, (256, 256)),
    ("Orthogonal", {}, (256, 256)),
    ("HeNormal", {}, (256, 256)),
    ("RandomNormal", {"mean": 0.1, "stddev": 0.02}, (256, 256)),
    ("TruncatedNormal", {}, (256, 256)),
    ("GlorotUniform", {}, (3, 3, 64, 128)),
    ("Zeros", {}, (256, 256)),
]


def _once(fn, shape) -> float:
    start = time.perf_counter()
    fn(shape).block_until_ready()
    return time.perf_counter() - start


def bench(name: str, kwargs: dict, shape: tuple, repeats: int) -> dict:
    seed = {} if name == "Zeros" else {"seed": 1}
    ours = getattr(jk, name)(**kwargs, **seed)
    theirs = getattr(keras.initializers, name)(**kwargs, **seed)
    first_ours = _once(ours, shape)
    first_theirs = _once(theirs, shape)
    a, b = np.asarray(ours(shape)), np.asarray(theirs(shape))
    assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), name
    for _ in range(5):
        _once(ours, shape), _once(theirs, shape)
    times_ours, times_theirs = [], []
    for _ in range(repeats):
        times_ours.append(_once(ours, shape))
        times_theirs.append(_once(theirs, shape))
    return {
        "name": name + (f"({', '.join(f'{k}={v}' for k, v in kwargs.items())})"),
        "shape": shape,
        "first_ours": first_ours,
        "first_theirs": first_theirs,
        "ours": statistics.median(times_ours),
        "theirs": statistics.median(times_theirs),
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=101)
    args = parser.parse_args()
    rows = [bench(*case, args.repeats) for case in CASES]
    device = jax.devices()[0]
    print(
        f"# jinit.keras vs Keras' own initializers, eager, float32 ({args.repeats} calls)"
    )
    print()
    print(
        f"{datetime.date.today().isoformat()} · {platform.platform()} · "
        f"{platform.processor() or platform.machine()} · {os.cpu_count()} CPUs · "
        f"device {device.device_kind} · python {platform.python_version()} · "
        f"jax {jax.__version__} · keras {keras.__version__} · jinit {jinit.__version__}"
    )
    print()
    print(
        "| initializer | shape | jinit.keras ms | Keras ms | Keras / jinit "
        "| first call jinit ms | first call Keras ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['name']} | {r['shape']} | {_ms(r['ours'])} | {_ms(r['theirs'])} "
            f"| {r['theirs'] / r['ours']:.2f}x | {_ms(r['first_ours'])} "
            f"| {_ms(r['first_theirs'])} |"
        )
    print()
    print(
        "Values are bit-identical (checked). First calls include compilation; the "
        "side called first also compiles the eager multiply/add both share."
    )


if __name__ == "__main__":
    main()
