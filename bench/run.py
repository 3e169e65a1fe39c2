"""jinit's benchmark suite: one command, every comparison, ratios in the same run.

    python bench/run.py            # full run
    python bench/run.py --quick    # under a minute on a 2-core CPU (CI smoke test)
    python bench/run.py --only eager,large --out /tmp/bench

Writes ``<out>/results.md`` (tables with date, machine, backend, versions) and
``<out>/results.json`` (the raw records). bench/RESULTS.md keeps the tables that
were recorded, with the machine they came from.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import core  # noqa: E402


def keras_section(quick: bool):
    """The Keras shim vs Keras' own classes (bench/keras_eager.py's cases)."""
    try:
        import keras_eager
    except ImportError as e:  # keras is a test/bench dependency, not a core one
        return f"keras is not installed: skipped ({e}).", []
    repeats = 21 if quick else 101
    cases = keras_eager.CASES[:1] if quick else keras_eager.CASES
    rows, records = [], []
    for case in cases:
        r = keras_eager.bench(*case, repeats)
        ratio = r["theirs"] / r["ours"]
        records.append({"section": "keras", **r, "keras_over_jinit": ratio})
        rows.append(
            [
                r["name"],
                "×".join(map(str, r["shape"])),
                _common.fmt_time(r["ours"]),
                _common.fmt_time(r["theirs"]),
                f"**{ratio:.2f}×**",
            ]
        )
    md = _common.table(
        ["initializer", "shape", "jinit.keras", "keras.initializers", "Keras / jinit"],
        rows,
    )
    return md + "\n\nValues are bit-identical (checked before timing).", records


def materialize_section(quick: bool):
    """bench/materialize.py: each method in a fresh process (compile, run, RSS)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "materialize.py")
    cmd = [sys.executable, script, "--repeats", "1" if quick else "3"]
    if quick:
        cmd += ["--small", "--layers", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip(), [{"section": "materialize", "markdown": done.stdout}]


SECTIONS = {
    "eager": ("1. Eager call latency: jinit vs jax.nn.initializers", core.eager),
    "keras": ("1b. Eager call latency: jinit.keras vs Keras", keras_section),
    "large": ("2. Large draws vs the PRNG floor", core.large),
    "orthogonal": ("3. orthogonal", core.orthogonal),
    "materialize": ("4. Whole-model init: materialize vs Flax", materialize_section),
    "torch": ("5. torch.nn.init on the CPU", core.torch_reference),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument(
        "--only", default="", help="comma-separated: " + ",".join(SECTIONS)
    )
    parser.add_argument("--out", default="bench/out", help="output folder")
    args = parser.parse_args(argv)
    chosen = _common.chosen_sections(parser, SECTIONS, args.only)
    _common.run_sections(
        SECTIONS,
        chosen,
        ("quick", args.quick),
        "jinit benchmarks",
        _common.environment(),
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
