"""JSON as the standard defines it, for every file the store writes: Python's json module
writes NaN and Infinity by default, which strict readers (jq, JavaScript, most languages'
parsers) refuse. A non-finite float is written as null, and one read from a file an older
avo wrote is read as null, so that the file can be written back strict."""

from __future__ import annotations

import json
import math
from typing import Any


def dumps(value: Any, **options: Any) -> str:
    """json.dumps, with every non-finite float written as null."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:  # rare: only then is the value walked
        return json.dumps(finite(value), allow_nan=False, **options)


def finite(value: Any) -> Any:
    """``value`` with every non-finite float in it replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


class Reader:
    """json.loads that reads NaN and Infinity as null, and remembers having met one."""

    def __init__(self) -> None:
        self.repaired = False

    def loads(self, raw: str | bytes) -> Any:
        return json.loads(raw, parse_constant=self._constant)

    def _constant(self, name: str) -> None:
        self.repaired = True
        return None
