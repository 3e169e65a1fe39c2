"""Whole-model initialization: Flax ``jax.jit(model.init)`` vs ``jinit.materialize``.

The model is a 24-layer, d=1024 pre-LN transformer in Flax linen (16 heads,
MLP 4096, vocabulary 32000, untied head: 368 M float32 parameters). Each method
runs in a fresh process (no shared compile cache, clean RSS):

- ``flax``: ``jax.jit(model.init)(key, tokens)``;
- ``jinit``: ``jinit.materialize(jax.eval_shape(model.init, ...), key, RULES)``,
  the same initializers as Flax's defaults (LeCun normal kernels, zero biases,
  unit LayerNorm scales), each leaf keyed by its path;
- ``floor``: ``jax.jit(lambda k: jax.random.bits(k, (n,)))`` for the same total
  count n of 32-bit words: the PRNG floor every random initializer is bound by.

For each: the first call (trace + compile + run), the median of the next calls
(run), the XLA compile time JAX reports during the first call (its
``/jax/core/compile/backend_compile_duration`` monitoring events, summed), the
first call's overhead over a run (first - run: tracing, lowering, compiling,
first-touch page faults), and the peak RSS growth during the first call
(``VmHWM`` after, minus ``VmRSS`` before, with the high-water mark reset through
``/proc/self/clear_refs``) divided by the parameters' bytes.

    python bench/materialize.py            # the 368 M model (needs ~8 GB RAM)
    python bench/materialize.py --small    # 4 layers, d=256: a quick run
    python bench/materialize.py --scan --layers 48   # nn.scan-stacked blocks

With ``--scan`` the blocks are one ``nn.scan`` over ``--layers`` layers (MaxText
style: every block's kernel is one stacked leaf); jinit then draws each stacked
leaf in one call, per layer, from ``jinit.flax.abstract``'s signatures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def config(small: bool, layers: int | None = None, scan: bool = False) -> dict:
    if small:
        cfg = dict(layers=4, d=256, heads=4, mlp=1024, vocab=8000)
    else:
        cfg = dict(layers=24, d=1024, heads=16, mlp=4096, vocab=32000)
    if layers is not None:
        cfg["layers"] = layers
    return {**cfg, "scan": scan}


def build(cfg: dict):
    import flax.linen as nn

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, _=None):
            h = nn.LayerNorm()(x)
            x = x + nn.MultiHeadDotProductAttention(cfg["heads"])(h, h)
            h = nn.LayerNorm()(x)
            return x + nn.Dense(cfg["d"])(nn.gelu(nn.Dense(cfg["mlp"])(h))), None

    class Transformer(nn.Module):
        @nn.compact
        def __call__(self, tokens):
            x = nn.Embed(cfg["vocab"], cfg["d"])(tokens)
            if cfg["scan"]:
                blocks = nn.scan(
                    Block,
                    variable_axes={"params": 0},
                    split_rngs={"params": True},
                    length=cfg["layers"],
                )
                x, _ = blocks()(x, None)
            else:
                for _ in range(cfg["layers"]):
                    x, _ = Block()(x)
            return nn.Dense(cfg["vocab"])(nn.LayerNorm()(x))

    return Transformer()


def rules():
    import jinit

    # Flax's own defaults; the fans of stacked and attention kernels come from
    # the signatures of jinit.flax.abstract.
    return {
        r".*/kernel": jinit.lecun_normal(),
        r".*/embedding": jinit.normal(1.0 / 32),
        r".*/bias": jinit.zeros,
        r".*/scale": jinit.ones,
    }


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def measure(method: str, cfg: dict, repeats: int) -> dict:
    """Runs in the child process: one method, cold then warm calls."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import jinit
    import jinit.flax

    model = build(cfg)
    tokens = jnp.zeros((1, 16), jnp.int32)
    abstract = jinit.flax.abstract(model, tokens)
    leaves = jax.tree.leaves(abstract)
    n_params = sum(int(np.prod(x.shape)) for x in leaves)
    n_bytes = sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in leaves)
    if method == "flax":
        init = jax.jit(model.init)

        def call(key):
            return init(key, tokens)

    elif method == "jinit":
        the_rules = rules()

        def call(key):
            return jinit.materialize(abstract, key, the_rules)

    else:
        bits = jax.jit(lambda k: jax.random.bits(k, (n_params,)))

        def call(key):
            return bits(key)

    compile_s = []

    def listener(event: str, duration: float, **_: object) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            compile_s.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = _status("VmRSS:")
    device = jax.devices()[0]
    stats = device.memory_stats()  # None on the CPU: no allocator statistics
    t0, c0 = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(call(jax.random.key(1)))
    cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
    growth = _status("VmHWM:") - before
    device_peak = None
    if stats is not None:
        peak = device.memory_stats()["peak_bytes_in_use"] - stats["bytes_in_use"]
        device_peak = peak / n_bytes
    compile_time = sum(compile_s)
    del out
    warm, warm_cpu = [], []
    for i in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = jax.block_until_ready(call(jax.random.key(2 + i)))
        warm.append(time.perf_counter() - t0)
        warm_cpu.append(time.process_time() - c0)
        del out
    return dict(
        method=method,
        n_params=n_params,
        n_bytes=n_bytes,
        n_leaves=len(leaves),
        cold=cold,
        warm=statistics.median(warm),
        cold_cpu=cold_cpu,
        warm_cpu=statistics.median(warm_cpu),
        growth=growth / n_bytes,
        device_peak=device_peak,
        device=f"{jax.default_backend()} {device.device_kind}",
        compile=compile_time,
    )


def versions() -> str:
    import flax
    import jax
    import jaxlib

    import jinit

    return (
        f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, flax {flax.__version__}, "
        f"jinit {jinit.__version__}, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="4 layers, d=256")
    parser.add_argument("--layers", type=int, help="blocks (default 24, small 4)")
    parser.add_argument("--scan", action="store_true", help="blocks in one nn.scan")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cfg = config(args.small, args.layers, args.scan)
    if args.child:
        print(json.dumps(measure(args.child, cfg, args.repeats)))
        return
    results = {}
    for method in ("floor", "jinit", "flax"):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            method,
            "--repeats",
            str(args.repeats),
        ]
        if args.small:
            cmd.append("--small")
        if args.layers is not None:
            cmd += ["--layers", str(args.layers)]
        if args.scan:
            cmd.append("--scan")
        load = os.getloadavg()[0]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[method] = json.loads(out.strip().splitlines()[-1])
        results[method]["load"] = load
        print(f"{method}: {results[method]}", file=sys.stderr)
    r = results["jinit"]
    floor = results["floor"]["warm"]
    print(
        f"### materialize: {cfg['layers']}-layer d={cfg['d']} transformer"
        f"{' (nn.scan-stacked blocks)' if cfg['scan'] else ''}, "
        f"{r['n_params'] / 1e6:.0f} M params ({r['n_bytes'] / 2**30:.2f} GiB), "
        f"{r['n_leaves']} leaves\n"
    )
    print(
        f"{datetime.date.today()}, {platform.machine()} {os.cpu_count()}-core CPU "
        f"({platform.processor() or platform.platform()}), device {r['device']}, "
        f"{versions()}. "
        "Wall seconds (CPU seconds of the process in parentheses; XLA uses both "
        "cores). XLA compile: from JAX's monitoring events during the first call.\n"
    )
    on_device = results["jinit"]["device_peak"] is not None
    print(
        "| method | first call | run | XLA compile | first - run | run / PRNG floor "
        "| peak RSS growth / param bytes | load avg |"
        + (" peak device memory / param bytes |" if on_device else "")
    )
    print("|---|---|---|---|---|---|---|---|" + ("---|" if on_device else ""))
    names = {
        "flax": "Flax `jax.jit(model.init)`",
        "jinit": "`jinit.materialize`",
        "floor": "PRNG floor `jax.random.bits`",
    }
    for method in ("flax", "jinit", "floor"):
        m = results[method]
        print(
            f"| {names[method]} | {m['cold']:.2f} s ({m['cold_cpu']:.1f}) "
            f"| {m['warm']:.2f} s ({m['warm_cpu']:.1f}) "
            f"| {m['compile']:.2f} s | {m['cold'] - m['warm']:.2f} s "
            f"| {m['warm'] / floor:.2f}x "
            f"| {m['growth']:.2f}x | {m['load']:.1f} |"
            + (f" {m['device_peak']:.2f}x |" if on_device else "")
        )


if __name__ == "__main__":
    main()
