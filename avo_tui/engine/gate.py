"""The commit gate: which evaluated candidates may become versions.

The rule (docs/engine.md): a candidate is re-evaluated independently, with fresh inputs, and
becomes a version only if the re-evaluation is correct and its geometric-mean throughput beats
the best committed score by more than the measured noise:

    confirm.gmean > best.gmean * (1 + noise)

The re-evaluation's score is the one committed. The first measurement is biased upward (a
candidate is submitted because it measured well), the second is not. The noise is the median
relative difference between repeated evaluations of one source in this session, measured on
the seed at the start and on every re-evaluation since, and never below a floor.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

NOISE_WINDOW = 20  # recent pairs; the machine's noise drifts over a multi-day run
DEFAULT_NOISE_FLOOR_PCT = 0.5


@dataclass
class NoiseEstimate:
    floor_pct: float = DEFAULT_NOISE_FLOOR_PCT
    pairs_pct: list[float] = field(default_factory=list)

    def add(self, first: float, second: float) -> None:
        if first > 0 and second > 0:
            self.pairs_pct.append(100 * abs(first - second) / ((first + second) / 2))
            del self.pairs_pct[:-NOISE_WINDOW]

    @property
    def pct(self) -> float:
        measured = statistics.median(self.pairs_pct) if self.pairs_pct else 0.0
        return max(self.floor_pct, measured)

    def to_doc(self) -> dict[str, Any]:
        return {"floor_pct": self.floor_pct, "pairs_pct": list(self.pairs_pct)}

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> NoiseEstimate:
        return cls(**(doc or {}))


def threshold(best_gmean: float | None, noise: NoiseEstimate) -> float:
    """The geometric mean a candidate must exceed to be committed."""
    return (best_gmean or 0.0) * (1 + noise.pct / 100)


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str


def judge(confirm_gmean: float, correct: bool, best_gmean: float | None, noise: NoiseEstimate,
          unit: str) -> Verdict:
    if not correct:
        return Verdict(False, "the re-evaluation failed")
    bar = threshold(best_gmean, noise)
    if best_gmean and confirm_gmean <= bar:
        gain = 100 * (confirm_gmean / best_gmean - 1)
        return Verdict(
            False,
            f"re-evaluated at {confirm_gmean:.4g} {unit} ({gain:+.2f}% on the best), not above "
            f"the noise of {noise.pct:.2f}%",
        )
    gain = f" ({100 * (confirm_gmean / best_gmean - 1):+.2f}%)" if best_gmean else ""
    return Verdict(True, f"re-evaluated at {confirm_gmean:.4g} {unit}{gain}")
