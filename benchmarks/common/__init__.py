"""What the scripts of benchmarks/ share, and where they find the code they run.

Each script runs as ``python3 benchmarks/NAME.py`` from the repository root, so that Python puts
benchmarks/ first on sys.path and ``import common`` finds this package. Importing it puts two
more folders on sys.path, once and here only: the repository root (avo_tui, for a checkout that
is not installed), appended after PYTHONPATH so that another checkout given there comes first
(benchmarks/gpu_evaluator.sh times a BEFORE tree that way); and tests/, whose fake Messages API
and session helpers the scripts drive. pyproject.toml sorts ``common`` before every other
import that is not the standard library's, so that it has run by the time those load.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"

for folder in (ROOT, TESTS):
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
