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
