"""``python -m avo_tui``: the ``avo`` command."""

import sys

from .cli import main

# The guard matters: a spawned worker process re-imports the parent's main module.
if __name__ == "__main__":
    sys.exit(main())
