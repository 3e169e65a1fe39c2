"""The benchmark suite runs end to end in --quick mode (a smoke test: no timings asserted)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_quick_runs_every_section(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # one device
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "bench", "run.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    md = (tmp_path / "results.md").read_text()
    for title in [
        "1. Eager",
        "1b. Eager",
        "2. Large draws",
        "3. orthogonal",
        "4. Whole-model",
        "5. torch.nn.init",
    ]:
        assert f"## {title}" in md
    data = json.loads((tmp_path / "results.json").read_text())
    sections = {r["section"] for r in data["records"]}
    assert sections == {"eager", "keras", "large", "orthogonal", "materialize", "torch"}
    assert data["environment"]["versions"].startswith("jinit ")


def test_gpu_script_smoke_runs(tmp_path):
    """bench/gpu.py (issue #29's table) at tiny sizes on the CPU: its code paths run.

    Its materialize section runs bench/materialize.py --small, as the test above does.
    """
    sections = ["draws", "orthogonal", "memory", "report"]
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "bench", "gpu.py"),
            "--smoke",
            "--only",
            ",".join(sections),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "XLA_FLAGS"},  # one device
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert {r["section"] for r in data["records"]} == set(sections)
    draws = [r for r in data["records"] if r["section"] == "draws"]
    # every law, dtype and key implementation of the smoke run, each with its floors
    assert len(draws) == 3 * 2 * 2
    assert all(r["copy_s"] > 0 and r["bits_s"] > 0 for r in draws)
    md = (tmp_path / "results.md").read_text()
    assert "## 5. jinit report" in md and "driver:" in md
