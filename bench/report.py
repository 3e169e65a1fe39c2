"""`jinit report` end to end: this checkout against an earlier commit, same run.

    python bench/report.py                       # default run, vs the base commit
    python bench/report.py --base 6a39d73 --repeats 3 --models mlp,transformer,cnn

Each run is a fresh process (`python -m jinit report --out <tmp>`, start-up
included, as a user runs it). The base commit's `jinit/` is extracted with `git
archive` into a temporary folder and run from there; the two sides alternate so
that the machine's load hits both alike. Reported per side: the median wall
time, the median CPU time (user + system of the process: what a quiet machine
would take at most, on one core each), and the 1-minute load average before
each run (the machine is shared). Writes a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BASE = "6a39d73"  # the commit before issue 16's work


def _extract(commit: str, into: str) -> str:
    archive = subprocess.run(
        ["git", "-C", HERE, "archive", commit, "jinit"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return into


def _run(cwd: str, args: list[str]) -> tuple[float, float, float]:
    """``(wall, cpu, load)`` of one ``python -m jinit report`` in ``cwd``."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "jinit", "report", "--out", out, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": cwd},
        )
        wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(
            f"jinit report {args} in {cwd} failed:\n{done.stderr[-3000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, load


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="commit to compare with")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="mlp,transformer,cnn")
    parser.add_argument("--no-base", action="store_true", help="this checkout only")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.join(HERE, "bench"))
    import _common

    env = _common.environment()
    print("# jinit report: wall and CPU time\n")
    print("\n".join(f"- {k}: {v}" for k, v in env.items()))
    print(f"- base: {args.base}; this checkout: {_git_head()}\n")
    rows = []
    with tempfile.TemporaryDirectory() as base_dir:
        sides = {"this": HERE}
        if not args.no_base:
            sides = {"base": _extract(args.base, base_dir), **sides}
        for model in args.models.split(","):
            extra = [] if model == "mlp" else ["--model", model]
            times: dict[str, list[tuple[float, float, float]]] = {s: [] for s in sides}
            for _ in range(args.repeats):
                for side, cwd in sides.items():
                    times[side].append(_run(cwd, extra))
            cells = {}
            for side, t in times.items():
                wall = statistics.median(w for w, _, _ in t)
                cpu = statistics.median(c for _, c, _ in t)
                loads = ", ".join(f"{ld:.1f}" for _, _, ld in t)
                cells[side] = (wall, cpu, loads)
            row = [model]
            for side in sides:
                wall, cpu, loads = cells[side]
                row += [f"{wall:.1f} s", f"{cpu:.1f} s", loads]
            if "base" in cells:
                row.append(f"**{cells['base'][0] / cells['this'][0]:.2f}×**")
            rows.append(row)
    headers = ["model"]
    for side in sides:
        headers += [f"{side} wall", f"{side} CPU", f"{side} load before each"]
    if not args.no_base:
        headers.append("base / this (wall)")
    print(_common.table(headers, rows))
    print(
        f"\nMedians of {args.repeats} fresh processes per side, alternating; "
        "`jinit report` at its defaults (8 initializers x relu, tanh; 4 seeds)."
    )
    return 0


def _git_head() -> str:
    done = subprocess.run(
        ["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    )
    dirty = subprocess.run(
        ["git", "-C", HERE, "status", "--porcelain", "jinit"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return done.stdout.strip() + (" (+ uncommitted changes)" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
