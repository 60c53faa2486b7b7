"""A script of benchmarks/ loaded as a module, for the tests of its plumbing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_benchmark(script: Path, name: str) -> ModuleType:
    """``script`` loaded as the module ``name``, registered in sys.modules first: its
    dataclasses look their module up there while it loads."""
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
