"""materialize under jax.distributed: 2 CPU processes on loopback, one 8-device mesh.

Each process generates only its addressable shards; both check them against the
values one process computes with no sharding at all (docs/notes.md: gloo collectives,
a 127.0.0.1 coordinator, 4 host devices per process). Hard timeouts: the workers
are killed if either fails or the pair runs past the limit.
"""

import os
import socket
import subprocess
import sys

import multihost_worker as worker
import numpy as np

TIMEOUT_S = 900  # a hang guard, not a budget (a loaded machine is slow)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_hold_exactly_the_single_process_values(tmp_path):
    reference = worker.reference()
    path = tmp_path / "reference.npz"
    np.savez(path, **reference)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    port = str(free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, worker.__file__, str(i), port, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    outputs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=TIMEOUT_S)
            outputs.append(out)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out[-3000:]
    # 8 leaves, 8 shards each over the global mesh: each process checks its 4.
    shards = [int(out.strip().splitlines()[-1].split()[1]) for out in outputs]
    assert shards == [32, 32], outputs
