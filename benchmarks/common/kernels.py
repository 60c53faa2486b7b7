"""A kernel named on a script's command line: FILE, FILE:KNOB=VALUE,..., or each target's seed
(kernel_vs_baselines.py, sustained_clock.py, profile_vs_fa4.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import ROOT

SEED = "seed"  # each target's shipped seed with its own knob values (Seed.knobs)


@dataclass(frozen=True)
class Kernel:
    """A kernel file, and knob values to evaluate it under (FILE or FILE:NAME=VALUE,...);
    ``seed`` is each target's own seed, its knob values included."""

    path: Path
    knobs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Kernel:
        head, sep, tail = text.rpartition(":")
        if not sep or "=" not in tail:
            return cls(Path(text))
        pairs = [item.partition("=") for item in tail.split(",") if item]
        if any(not name or not eq or not value for name, eq, value in pairs):
            raise ValueError(f"{text!r}: knobs are FILE:NAME=VALUE[,NAME=VALUE...]")
        return cls(Path(head), tuple((name, value) for name, _, value in pairs))

    @property
    def is_seed(self) -> bool:
        return str(self.path) == SEED

    def sources(self, target: Any) -> dict[str, str]:
        from avo_tui.evaluation.declarations.candidate import apply_knobs, load_sources

        path = ROOT / "kernels" / target.seed.kernel if self.is_seed else self.path
        sources = load_sources(path, target.toolchain)
        knobs = (target.seed.knobs if self.is_seed else {}) | dict(self.knobs)
        return apply_knobs(sources, knobs) if knobs else sources

    def display(self) -> str:
        path = self.path.resolve()
        name = SEED if self.is_seed else (
            str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path))
        return name + (":" + ",".join(f"{k}={v}" for k, v in self.knobs) if self.knobs else "")
