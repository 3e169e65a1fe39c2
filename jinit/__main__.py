"""``python -m jinit report``: the same as the ``jinit`` console script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
