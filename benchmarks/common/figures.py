"""How the benchmark scripts print their figures: one aligned line per figure, or JSON."""

from __future__ import annotations

import json
from typing import Any


def print_figures(figures: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(figures, indent=2))
        return
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
