"""The core's benchmarks: eager latency, large draws vs the PRNG floor, orthogonal.

Each function returns ``(markdown, records)``. Ratios are the figures: both sides
are timed in the same process, in alternation, after warm-up.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from _common import fmt_time, paired_medians, table

import jinit

J = jax.nn.initializers


def eager(quick: bool):
    """An eager call: jinit vs jax.nn.initializers, and vs the same draw in a jit."""
    shapes = [(64, 64)] if quick else [(64, 64), (256, 256), (1024, 1024)]
    names = ["he_normal", "glorot_uniform", "lecun_normal"]
    repeats = 50 if quick else 300
    key = jax.random.key(0)
    rows, records = [], []
    for name in names:
        for shape in shapes:
            ours = getattr(jinit, name)()
            theirs = getattr(J, name)()
            ours_jit = jax.jit(lambda k, s=shape, f=ours: f(k, s))
            t = paired_medians(
                {
                    "jinit": functools.partial(ours, key, shape),
                    "jinit_jit": functools.partial(ours_jit, key),
                    "jax": functools.partial(theirs, key, shape),
                },
                repeats,
                warmup=20,
            )
            rec = {
                "section": "eager",
                "init": name,
                "shape": shape,
                **{k + "_s": v for k, v in t.items()},
                "eager_over_jit": t["jinit"] / t["jinit_jit"],
                "jax_over_jinit": t["jax"] / t["jinit"],
            }
            records.append(rec)
            rows.append(
                [
                    name,
                    "×".join(map(str, shape)),
                    fmt_time(t["jinit"]),
                    fmt_time(t["jinit_jit"]),
                    fmt_time(t["jax"]),
                    f"{rec['eager_over_jit']:.2f}",
                    f"**{rec['jax_over_jinit']:.2f}×**",
                ]
            )
    md = table(
        [
            "initializer",
            "shape",
            "jinit eager",
            "jinit in jit",
            "jax eager",
            "jinit eager / jit (target ≤ 1.2)",
            "jax / jinit (target ≥ 2.5 at 64×64)",
        ],
        rows,
    )
    return md, records


def large(quick: bool):
    """Large draws vs the PRNG floor: jax.random.bits for the same key and word count."""
    n = 256 if quick else 4096
    shape = (n, n)
    repeats = 3 if quick else 15
    key = jax.random.key(0)
    laws = {
        "uniform": jinit.uniform(1.0),
        "normal": jinit.normal(1.0),
        "truncated_normal": jinit.truncated_normal(1.0),
        "he_normal": jinit.he_normal(),
    }
    theirs = {
        "uniform": J.uniform(1.0),
        "normal": J.normal(1.0),
        "truncated_normal": J.truncated_normal(1.0),
        "he_normal": J.he_normal(),
    }
    dtypes = [jnp.float32, jnp.bfloat16, jnp.float16, jnp.complex64]
    if quick:  # a smoke run: one real and the complex (two-word floor) path
        laws = {k: laws[k] for k in ("normal", "he_normal")}
        dtypes = [jnp.float32, jnp.complex64]
    floor_1 = jax.jit(lambda k: jax.random.bits(k, shape, jnp.uint32))
    floor_2 = jax.jit(lambda k: jax.random.bits(k, (2, *shape), jnp.uint32))
    rows, records = [], []
    for law, init in laws.items():
        for dtype in dtypes:
            if jnp.issubdtype(dtype, jnp.complexfloating) and law in (
                "uniform",
                "truncated_normal",
            ):
                continue  # real-only laws
            floor = floor_2 if dtype == jnp.complex64 else floor_1
            fns = {
                "jinit": lambda i=init, d=dtype: i(key, shape, d),
                "floor": lambda f=floor: f(key),
                "jax": lambda i=theirs[law], d=dtype: i(key, shape, d),
            }
            t = paired_medians(fns, repeats, warmup=2)
            elems = n * n
            rec = {
                "section": "large",
                "law": law,
                "dtype": jnp.dtype(dtype).name,
                "shape": shape,
                **{k + "_s": v for k, v in t.items()},
                "over_floor": t["jinit"] / t["floor"],
                "jax_over_floor": t["jax"] / t["floor"],
                "jinit_melem_per_s": elems / t["jinit"] / 1e6,
            }
            records.append(rec)
            rows.append(
                [
                    law,
                    rec["dtype"],
                    fmt_time(t["jinit"]),
                    fmt_time(t["floor"]),
                    f"**{rec['over_floor']:.2f}**",
                    f"{rec['jax_over_floor']:.2f}",
                    f"{rec['jinit_melem_per_s']:.0f}",
                ]
            )
    md = table(
        [
            "law",
            "dtype",
            "jinit",
            "PRNG floor",
            "jinit / floor (target ≤ 1.15)",
            "jax / floor",
            "jinit M elem/s",
        ],
        rows,
    )
    return f"Shape {n}×{n}.\n\n" + md, records


def _orthogonality_error(q) -> float:
    """||Q^T Q - I||_2 in float64 (Q's smaller side orthonormal), for each of a batch."""
    from scipy.sparse.linalg import eigsh  # the largest |eigenvalue|, by Lanczos

    q = np.asarray(q, np.float64)
    q = q.reshape((-1, *q.shape[-2:]))
    errors = []
    for m in q:
        m = m if m.shape[0] >= m.shape[1] else m.T
        e = m.T @ m - np.eye(m.shape[1])
        errors.append(float(abs(eigsh(e, k=1, which="LM")[0][0])))
    return max(errors)


def orthogonal(quick: bool):
    """orthogonal: jinit's "qr" and "wy" vs jax.nn.initializers.orthogonal.

    Each size is one square matrix; the last row draws a batch under ``vmap`` over
    keys. ``‖QᵀQ − I‖₂`` (float64, the worst of a batch) of each jinit method.
    """
    sizes = [128] if quick else [1024, 2048, 4096, 8192]
    batch, batch_n = (2, 64) if quick else (16, 512)
    key = jax.random.key(0)
    ours = {"qr": jinit.orthogonal(), "wy": jinit.orthogonal(method="wy")}
    theirs = J.orthogonal()
    cases = []  # (label, record fields, {name: fn}, {method: fn for the error})
    for n in sizes:
        fns = {m: functools.partial(i, key, (n, n)) for m, i in ours.items()}
        cases.append(
            (
                f"{n}×{n}",
                {"n": n},
                {**fns, "jax": functools.partial(theirs, key, (n, n))},
                fns,
            )
        )
    keys = jax.random.split(key, batch)
    batched = {
        name: functools.partial(
            jax.jit(jax.vmap(lambda k, i=init: i(k, (batch_n, batch_n)))), keys
        )
        for name, init in {**ours, "jax": theirs}.items()
    }
    cases.append(
        (
            f"vmap {batch} × {batch_n}×{batch_n}",
            {"n": batch_n, "batch": batch},
            batched,
            {m: batched[m] for m in ours},
        )
    )
    rows, records = [], []
    for label, fields, fns, checked in cases:
        big = fields["n"] >= 4096 and "batch" not in fields
        repeats = 3 if quick else (1 if fields["n"] >= 8192 else 3 if big else 5)
        t = paired_medians(fns, repeats, warmup=1)
        errors = {m: _orthogonality_error(fn()) for m, fn in checked.items()}
        rec = {
            "section": "orthogonal",
            **fields,
            **{k + "_s": v for k, v in t.items()},
            "jax_over_qr": t["jax"] / t["qr"],
            "jax_over_wy": t["jax"] / t["wy"],
            **{f"orth_error_{m}": e for m, e in errors.items()},
        }
        records.append(rec)
        rows.append(
            [
                label,
                fmt_time(t["qr"]),
                fmt_time(t["wy"]),
                fmt_time(t["jax"]),
                f"{rec['jax_over_qr']:.2f}",
                f"**{rec['jax_over_wy']:.2f}×**",
                f"{errors['qr']:.1e}",
                f"{errors['wy']:.1e}",
            ]
        )
    md = table(
        [
            "shape",
            'jinit "qr"',
            'jinit "wy"',
            "jax",
            'jax / "qr"',
            'jax / "wy" (target ≥ 3 on GPU)',
            '‖QᵀQ − I‖₂ "qr"',
            '‖QᵀQ − I‖₂ "wy"',
        ],
        rows,
    )
    md += (
        '\n\n"wy" (matrix products and one triangular solve, no QR) is for GPUs and '
        "TPUs; on a CPU, LAPACK's QR is about as fast."
    )
    return md, records


def torch_reference(quick: bool):
    """torch.nn.init on the same shapes on the CPU, as the reference users come from."""
    try:
        import torch
    except ImportError:
        return "torch is not installed: skipped.", []
    n = 256 if quick else 4096
    repeats = 3 if quick else 10
    torch.manual_seed(0)
    key = jax.random.key(0)
    w = torch.empty(n, n)
    cases = {
        "kaiming_normal_ / he-normal (untruncated)": (
            lambda: torch.nn.init.kaiming_normal_(w),
            lambda: jinit.variance_scaling(2.0, "fan_in", "normal")(key, (n, n)),
        ),
        "xavier_uniform_ / glorot_uniform": (
            lambda: torch.nn.init.xavier_uniform_(w),
            lambda: jinit.glorot_uniform()(key, (n, n)),
        ),
        "trunc_normal_ / truncated_normal absolute": (
            lambda: torch.nn.init.trunc_normal_(w, std=0.02),
            lambda: jinit.truncated_normal(
                0.02, lower=-2.0, upper=2.0, bounds="absolute"
            )(key, (n, n)),
        ),
    }
    rows, records = [], []
    for name, (t_fn, j_fn) in cases.items():
        t = paired_medians({"torch": t_fn, "jinit": j_fn}, repeats, warmup=2)
        rec = {
            "section": "torch",
            "case": name,
            "n": n,
            **{k + "_s": v for k, v in t.items()},
            "torch_over_jinit": t["torch"] / t["jinit"],
        }
        records.append(rec)
        rows.append(
            [
                name,
                f"{n}×{n}",
                fmt_time(t["torch"]),
                fmt_time(t["jinit"]),
                f"{rec['torch_over_jinit']:.2f}",
            ]
        )
    md = table(
        ["torch.nn.init / jinit", "shape", "torch", "jinit", "torch / jinit"], rows
    )
    md += (
        f"\n\ntorch threads: {torch.get_num_threads()}; torch's CPU generator is "
        "Philox/MT-based, not counter-based like threefry: different work per value."
    )
    return md, records
