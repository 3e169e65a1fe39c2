"""The accelerator table: jinit on one GPU, every figure a ratio against its floor.

One command, meant to fit in under 8 minutes of an H100/H200 (issue #29):

    python bench/gpu.py --out bench/out-gpu      # on the GPU machine
    python bench/gpu.py --smoke --out /tmp/g     # tiny sizes: the code paths, on any CPU

Sections (each timed in alternation with its floor, after warm-up):

1. ``draws``: normal, truncated normal and uniform in float32 and bfloat16 at
   4096² and 16384², for every key implementation jinit supports, against a
   device copy of the same bytes (``jnp.copy``: the bandwidth floor) and
   ``jax.random.bits`` of the same key and word count (the PRNG floor). Goal: a
   draw at least 60% as fast as the copy.
2. ``materialize``: ``bench/materialize.py`` (a fresh process per method) for the
   48-layer d=1024 ``nn.scan`` model and the 24-layer unrolled one, against
   Flax's ``jax.jit(model.init)``; on a GPU it adds the device's peak memory.
   Goal: ``materialize`` at most 0.5× Flax.
3. ``orthogonal``: ``method="qr"`` vs ``"wy"`` at 1024² and 4096², and vmapped
   over 48 stacked 1024² layers. Goal: WY at least 3× QR for the stack.
4. ``memory``: a draw with ``out_sharding`` on a 1-device mesh, in a fresh
   process: the device's peak bytes during the draw over the output's bytes (1.0:
   no full-size intermediate; a u32 buffer beside a bfloat16 output is 3.0).
5. ``report``: ``jinit report`` at its defaults, and with ``--coord-check``, wall
   time of a fresh process.

Writes ``<out>/results.md`` and ``<out>/results.json`` with the device, driver,
versions and date.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _common  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import jinit  # noqa: E402

LAWS = {
    "normal": jinit.normal(1.0),
    "truncated_normal": jinit.truncated_normal(1.0),
    "uniform": jinit.uniform(1.0),
}
IMPLS = ["threefry2x32", "rbg", "unsafe_rbg", "fast"]


def _key(impl: str, seed: int = 0):
    return jax.random.key(seed, impl=jinit.FAST_PRNG if impl == "fast" else impl)


def draws(smoke: bool):
    sizes = [64] if smoke else [4096, 16384]
    impls = IMPLS[:1] + IMPLS[-1:] if smoke else IMPLS
    repeats = 3 if smoke else 20
    copy = jax.jit(jnp.copy)
    rows, records = [], []
    for n in sizes:
        for dtype in (jnp.float32, jnp.bfloat16):
            shape, name = (n, n), jnp.dtype(dtype).name
            source = jnp.zeros(shape, dtype)
            bits = jax.jit(lambda k, s=shape: jax.random.bits(k, s, jnp.uint32))
            for impl in impls:
                key = _key(impl)
                fns = {
                    "copy": lambda x=source: copy(x),
                    "bits": lambda b=bits, k=key: b(k),
                }
                for law, init in LAWS.items():
                    fns[law] = lambda i=init, k=key, s=shape, d=dtype: i(k, s, d)
                t = _common.paired_medians(fns, repeats, warmup=2)
                nbytes = n * n * jnp.dtype(dtype).itemsize
                for law in LAWS:
                    rec = {
                        "section": "draws",
                        "n": n,
                        "dtype": name,
                        "impl": impl,
                        "law": law,
                        **{f"{k}_s": v for k, v in t.items()},
                        "copy_over_draw": t["copy"] / t[law],
                        "draw_over_bits": t[law] / t["bits"],
                        "draw_gb_per_s": nbytes / t[law] / 1e9,
                    }
                    records.append(rec)
                    rows.append(
                        [
                            f"{n}²",
                            name,
                            impl,
                            law,
                            _common.fmt_time(t[law]),
                            f"{rec['draw_gb_per_s']:.0f}",
                            f"**{rec['copy_over_draw']:.2f}**",
                            f"{rec['draw_over_bits']:.2f}",
                        ]
                    )
    md = _common.table(
        [
            "shape",
            "dtype",
            "key",
            "law",
            "draw",
            "GB/s written",
            "copy / draw (goal ≥ 0.6)",
            "draw / bits",
        ],
        rows,
    )
    return md, records


def materialize(smoke: bool):
    runs = (
        [["--small", "--layers", "1", "--repeats", "1"]]
        if smoke
        else [["--scan", "--layers", "48"], ["--layers", "24"]]
    )
    parts, records = [], []
    for extra in runs:
        cmd = [sys.executable, os.path.join(HERE, "materialize.py"), *extra]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
        parts.append(done.stdout.strip())
        records.append({"section": "materialize", "args": extra, "markdown": parts[-1]})
    return "\n\n".join(parts), records


def orthogonal(smoke: bool):
    cases = (
        [("32²", (32, 32), None), ("4 × 16²", (16, 16), 4)]
        if smoke
        else [
            ("1024²", (1024, 1024), None),
            ("4096²", (4096, 4096), None),
            ("48 × 1024²", (1024, 1024), 48),
        ]
    )
    repeats = 3 if smoke else 10
    rows, records = [], []
    for label, shape, stack in cases:
        fns = {}
        for method in ("qr", "wy"):
            init = jinit.orthogonal(method=method)
            if stack is None:
                fns[method] = lambda i=init, s=shape: i(jax.random.key(0), s)
            else:
                keys = jax.random.split(jax.random.key(0), stack)
                batched = jax.jit(jax.vmap(lambda k, i=init, s=shape: i(k, s)))
                fns[method] = lambda b=batched, k=keys: b(k)
        t = _common.paired_medians(fns, repeats, warmup=2)
        rec = {
            "section": "orthogonal",
            "case": label,
            **t,
            "qr_over_wy": t["qr"] / t["wy"],
        }
        records.append(rec)
        rows.append(
            [
                label,
                _common.fmt_time(t["qr"]),
                _common.fmt_time(t["wy"]),
                f"**{rec['qr_over_wy']:.2f}**",
            ]
        )
    md = _common.table(["shape", "qr", "wy", "qr / wy (goal ≥ 3 stacked)"], rows)
    return md, records


def peak_ratio(n: int, dtype: str) -> dict:
    """In a fresh process: the device's peak bytes during one sharded draw / output bytes."""
    device = jax.devices()[0]
    mesh = jax.make_mesh((1,), ("x",), devices=[device])
    sharding = NamedSharding(mesh, P("x", None))
    init = jinit.normal(1.0)
    shape = (n, n)
    jax.jit(lambda: None)()  # the runtime's own buffers, before the baseline
    stats = device.memory_stats()
    out = jax.block_until_ready(
        init(jax.random.key(0), shape, dtype, out_sharding=sharding)
    )
    nbytes = out.size * out.dtype.itemsize
    if stats is None:  # the CPU client keeps no allocator statistics
        return {"n": n, "dtype": dtype, "out_bytes": nbytes, "peak_over_out": None}
    peak = device.memory_stats()["peak_bytes_in_use"] - stats["bytes_in_use"]
    return {"n": n, "dtype": dtype, "out_bytes": nbytes, "peak_over_out": peak / nbytes}


def memory(smoke: bool):
    rows, records = [], []
    for n in [64] if smoke else [16384]:
        for dtype in ("float32", "bfloat16"):
            cmd = [sys.executable, __file__, "--peak", f"{n},{dtype}"]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
            rec = {
                "section": "memory",
                **json.loads(done.stdout.strip().splitlines()[-1]),
            }
            records.append(rec)
            ratio = rec["peak_over_out"]
            rows.append(
                [
                    f"{n}²",
                    dtype,
                    f"{rec['out_bytes'] / 2**20:.0f} MiB",
                    "n/a (no allocator statistics)"
                    if ratio is None
                    else f"**{ratio:.2f}**",
                ]
            )
    md = _common.table(
        ["shape", "dtype", "output", "peak / output (1.0: no copy)"], rows
    )
    return md, records


def report(smoke: bool):
    small = ["--model", "mlp", "--depth", "2", "--seeds", "1", "--no-plots"]
    variants = {
        "default": [*small, "--width", "8", "--init", "he_normal"] if smoke else [],
        "--coord-check": [*small, "--coord-check", "--widths", "8,16", "--steps", "1"]
        if smoke
        else ["--coord-check"],
    }
    rows, records = [], []
    for label, extra in variants.items():
        with tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, "-m", "jinit", "report", *extra, "--out", out]
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
        records.append({"section": "report", "variant": label, "wall_s": wall})
        rows.append([f"`{' '.join(['jinit', 'report', *extra])}`", f"{wall:.1f} s"])
    return _common.table(["command", "wall (fresh process)"], rows), records


SECTIONS = {
    "draws": ("1. Draws vs copy bandwidth and the PRNG floor", draws),
    "materialize": ("2. materialize vs Flax jax.jit(model.init)", materialize),
    "orthogonal": ("3. orthogonal: QR vs WY", orthogonal),
    "memory": ("4. A sharded draw's peak device memory", memory),
    "report": ("5. jinit report", report),
}


def _driver() -> str:
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        return "-"
    return done.stdout.strip() or "-"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (any CPU)")
    parser.add_argument(
        "--only", default="", help="comma-separated: " + ",".join(SECTIONS)
    )
    parser.add_argument("--out", default="bench/out-gpu", help="output folder")
    parser.add_argument("--peak", help=argparse.SUPPRESS)  # child: "n,dtype"
    args = parser.parse_args(argv)
    if args.peak:
        n, dtype = args.peak.split(",")
        print(json.dumps(peak_ratio(int(n), dtype)))
        return 0
    chosen = _common.chosen_sections(parser, SECTIONS, args.only)
    _common.run_sections(
        SECTIONS,
        chosen,
        ("smoke", args.smoke),
        "jinit on an accelerator",
        {**_common.environment(), "driver": _driver()},
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
