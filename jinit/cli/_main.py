"""The ``jinit`` console script."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from ._coord_check import coord_check
from ._options import UsageError, parser, resolve_batch
from ._report import report


def main(argv: Sequence[str] | None = None) -> int:
    """The ``jinit`` console script. Returns the exit code (2 for bad options)."""
    start = time.perf_counter()
    top = parser()
    try:
        opts = top.parse_args(argv)
        if opts.command is None:
            top.print_help()
            return 2
        # LAPACK (orthogonal's QR) in one thread unless the user says otherwise:
        # XLA already runs on every core, and OpenBLAS's own threads then spin
        # against it (200 QRs of 256 x 256: 24.8 s of CPU against 1.2 s, on
        # the 2-core machine under load). Read when LAPACK is first loaded.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        resolve_batch(opts)
        return coord_check(opts, start) if opts.coord_check else report(opts)
    except UsageError as e:
        print(f"jinit: error: {e}", file=sys.stderr)
        return 2
