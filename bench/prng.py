"""Every PRNG implementation: draw time against the PRNG floor and torch.nn.init.

Two tables (markdown, on stdout):

1. **One large draw** (``--shape``, default 4096 x 4096 float32) per JAX
   implementation (threefry2x32, threefry4x32, philox2x32, philox4x32, rbg,
   unsafe_rbg) and jinit's opt-in ``jinit.FAST_PRNG`` (Threefry-2x32-13): the one-pass floor ``jax.jit(lambda k: jax.random.bits(k, (n,)))``,
   ``jax.jit(jax.random.normal)``, and jinit's eager ``he_normal`` and ``normal``
   (drawn in blocks on the CPU for the counter-based implementations), each
   against the floor and against ``torch.nn.init.kaiming_normal_`` /
   ``normal_`` of the same shape (the CPU anchor).
2. **Whole-model** ``jinit.materialize`` of bench/materialize.py's
   ``nn.scan``-stacked transformer (``--layers``, default 48) with a key of each
   implementation, against Flax's scanned ``jax.jit(model.init)`` (threefry,
   Flax's default); each method in a fresh process (no shared compile cache).

Medians of ``--repeats`` runs after warm-up, timed in alternation. ``--quick``:
a 64 x 64 draw, no warm-up, and a 1-layer d=32 model with a jinit.FAST_PRNG
key, in this process (a smoke test; its numbers mean nothing).

    python bench/prng.py            # the full measurement (a quiet machine)
    python bench/prng.py --quick --impls threefry2x32,jinit.FAST_PRNG
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

IMPLS = (
    "threefry2x32",
    "threefry4x32",
    "philox2x32",
    "philox4x32",
    "rbg",
    "unsafe_rbg",
    "jinit.FAST_PRNG",
)
MODEL_IMPLS = (
    "threefry2x32",
    "threefry4x32",
    "philox2x32",
    "philox4x32",
    "jinit.FAST_PRNG",
)


def impl_spec(name: str):
    """``jax.random.key``'s ``impl=`` for a row's name (jinit's fast PRNG by its
    public name)."""
    if name == "jinit.FAST_PRNG":
        import jinit

        return jinit.FAST_PRNG
    return name


def draws(
    shape: tuple[int, ...], repeats: int, warmup: int = 3, impls: tuple = IMPLS
) -> str:
    """Table 1: one draw per implementation."""
    import math

    import jax
    import torch
    from _common import fmt_time, paired_medians, table

    import jinit

    n = math.prod(shape)
    he, normal = jinit.he_normal(), jinit.normal(1.0)
    bits = jax.jit(lambda k: jax.random.bits(k, (n,)))
    jax_normal = jax.jit(lambda k: jax.random.normal(k, shape))
    t = torch.empty(shape)
    torch_times = paired_medians(
        {
            "he": lambda: torch.nn.init.kaiming_normal_(t, nonlinearity="relu"),
            "normal": lambda: torch.nn.init.normal_(t),
        },
        repeats,
        warmup,
    )
    rows = []
    for impl in impls:
        key = jax.random.key(0, impl=impl_spec(impl))
        times = paired_medians(
            {
                "floor": lambda key=key: bits(key),
                "jax": lambda key=key: jax_normal(key),
                "he": lambda key=key: he(key, shape),
                "normal": lambda key=key: normal(key, shape),
            },
            repeats,
            warmup,
        )
        floor = times["floor"]
        rows.append(
            [
                impl,
                fmt_time(floor),
                fmt_time(times["jax"]),
                f"{fmt_time(times['he'])} ({times['he'] / floor:.2f}x)",
                f"{times['he'] / torch_times['he']:.2f}x",
                f"{fmt_time(times['normal'])} ({times['normal'] / floor:.2f}x)",
                f"{times['normal'] / torch_times['normal']:.2f}x",
            ]
        )
    title = (
        f"### One draw of {shape} float32 per PRNG implementation "
        f"(torch.nn.init: kaiming_normal_ {fmt_time(torch_times['he'])}, "
        f"normal_ {fmt_time(torch_times['normal'])})\n"
    )
    headers = [
        "impl",
        "floor `jax.random.bits`",
        "`jax.random.normal` (jit)",
        "jinit `he_normal` (/ floor)",
        "/ torch `kaiming_normal_`",
        "jinit `normal` (/ floor)",
        "/ torch `normal_`",
    ]
    return title + "\n" + table(headers, rows)


def model_time(method: str, impl: str, cfg: dict, repeats: int) -> dict:
    """Whole-model init of bench/materialize.py's model: first call, then the median."""
    import statistics
    import time

    import jax
    import jax.numpy as jnp
    from materialize import build, rules

    import jinit
    import jinit.flax

    model = build(cfg)
    tokens = jnp.zeros((1, 16), jnp.int32)
    if method == "flax":
        init = jax.jit(model.init)

        def call(key):
            return init(key, tokens)

    else:
        abstract, the_rules = jinit.flax.abstract(model, tokens), rules()

        def call(key):
            return jinit.materialize(abstract, key, the_rules)

    t0 = time.perf_counter()
    spec = impl_spec(impl)
    jax.block_until_ready(call(jax.random.key(1, impl=spec)))
    first = time.perf_counter() - t0
    runs = []
    for i in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(call(jax.random.key(2 + i, impl=spec)))
        runs.append(time.perf_counter() - t0)
    return {"first": first, "run": statistics.median(runs)}


def models(cfg: dict, repeats: int, fresh: bool) -> str:
    """Table 2: materialize per implementation against Flax's scanned init."""
    from _common import table

    def measure(method: str, impl: str) -> dict:
        if not fresh:
            return model_time(method, impl, cfg, repeats)
        child = json.dumps({"method": method, "impl": impl, "cfg": cfg, "r": repeats})
        out = subprocess.run(
            [sys.executable, __file__, "--child", child],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    flax = measure("flax", "threefry2x32")
    rows = [
        ["Flax `jax.jit(model.init)`", "threefry2x32", f"{flax['run']:.2f} s", "1.00x"]
    ]
    for impl in MODEL_IMPLS if fresh else MODEL_IMPLS[-1:]:
        m = measure("jinit", impl)
        rows.append(
            [
                "`jinit.materialize`",
                impl,
                f"{m['run']:.2f} s (first {m['first']:.2f} s)",
                f"{m['run'] / flax['run']:.2f}x",
            ]
        )
    title = (
        f"### Whole model: {cfg['layers']}-layer d={cfg['d']} transformer, "
        "nn.scan-stacked blocks\n"
    )
    return title + "\n" + table(["method", "key", "run", "/ Flax"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    parser.add_argument("--shape", default="4096,4096")
    parser.add_argument("--layers", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--impls", default=",".join(IMPLS), help="table 1's rows (comma-separated)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        c = json.loads(args.child)
        print(json.dumps(model_time(c["method"], c["impl"], c["cfg"], c["r"])))
        return
    from _common import environment
    from materialize import config

    shape = (64, 64) if args.quick else tuple(int(d) for d in args.shape.split(","))
    repeats = 1 if args.quick else args.repeats
    cfg = config(False, args.layers, scan=True)
    if args.quick:
        cfg = dict(layers=1, d=32, heads=2, mlp=64, vocab=128, scan=True)
    env = environment()
    print(f"{env['date']}; {env['machine']}; {env['backend']}; {env['versions']}\n")
    impls = tuple(args.impls.split(","))
    unknown = set(impls) - set(IMPLS)
    if unknown:
        parser.error(f"--impls must name rows of {IMPLS}; got {sorted(unknown)}")
    print(draws(shape, repeats, 0 if args.quick else 3, impls) + "\n")
    print(models(cfg, repeats, fresh=not args.quick))


if __name__ == "__main__":
    main()
