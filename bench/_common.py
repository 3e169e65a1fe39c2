"""Timing and environment helpers shared by the benchmark scripts."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import jax


def block(x):
    return jax.block_until_ready(x)


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` (blocked until ready), after ``warmup`` calls."""
    for _ in range(warmup):
        block(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        block(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_medians(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 3):
    """Medians of several functions timed in alternation, so load hits all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            block(fn())
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            block(fn())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def first_call(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    block(fn())
    return time.perf_counter() - start


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def environment() -> dict[str, str]:
    device = jax.devices()[0]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.processor() or platform.platform()}",
        "backend": jax.default_backend(),
        "device": f"{device.device_kind} x{jax.device_count()}",
        "versions": ", ".join(
            f"{n} {_version(n)}"
            for n in ["jinit", "jax", "jaxlib", "numpy", "flax", "keras", "torch"]
        ),
    }


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def run_sections(
    sections: dict,
    chosen: list[str],
    small: tuple[str, bool],
    title: str,
    env: dict[str, str],
    out: str,
) -> None:
    """Runs each chosen section ``(title, fn(small))``, printing its table as it goes,
    and writes ``<out>/results.md`` and ``<out>/results.json``.

    ``small`` is the run's size flag, by name (``("quick", True)``): it is passed
    to every section, named in the title and kept in the JSON.
    """
    flag, on = small
    header = [f"# {title}{f' (--{flag})' if on else ''}", ""]
    header += [f"- {k}: {v}" for k, v in env.items()]
    parts, records = ["\n".join(header)], []
    for name in chosen:
        section_title, fn = sections[name]
        start = time.perf_counter()
        md, recs = fn(on)
        took = time.perf_counter() - start
        parts.append(f"## {section_title}\n\n{md}\n\n_{took:.1f} s_")
        records += recs
        print(parts[-1], "\n", flush=True)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n\n".join(parts) + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(
            {"environment": env, flag: on, "records": records}, f, indent=1, default=str
        )
    print(f"wrote {out}/results.md and results.json")


def chosen_sections(parser, sections: dict, only: str) -> list[str]:
    """The sections ``--only`` names (all by default); a parser error for unknown ones."""
    chosen = [s for s in only.split(",") if s] or list(sections)
    unknown = [s for s in chosen if s not in sections]
    if unknown:
        parser.error(
            f"--only must name sections among {', '.join(sections)}; got {unknown}"
        )
    return chosen
