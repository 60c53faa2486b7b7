"""Baselines stronger than any this run measured: known from the project's own measurements.

The bar (bar.py) is the strongest baseline measured in the run. A run without FA3 or FA4
installed measures only torch's cuDNN and FA2 on the attention targets, and the seed reads
1.1x ahead of them while it trails FA3 by several percent on the same GPU. So where such a
baseline is not installed on a GPU that could run it, the brief says so, with the figure last
measured and where it was measured (tests/test_agent_bar_words.py checks each figure against
benchmarks/RESULTS.md, so it cannot go stale silently).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...evaluation.problems.attention import FA_MAJORS

RESULTS = "benchmarks/RESULTS.md"
# The section of RESULTS.md the figures are read from, and where it ran.
FA_SECTION = "2026-11-24, third session (issue 42)"
FA_MACHINE = "an H100, the seed of 2026-11-24"


@dataclass(frozen=True)
class Known:
    """The seed's geomean ratio to ``baseline`` on ``target``, as RESULTS.md records it in
    ``section``'s table (column ``column``)."""

    target: str
    baseline: str
    ratio: float
    column: str
    section: str = FA_SECTION
    machine: str = FA_MACHINE

    def sentence(self) -> str:
        return (f"{self.baseline}: the seed measured {self.ratio:.3f}x it on {self.target} "
                f"({self.machine}; {RESULTS}, {self.section})")


# FA3 at head dim 128, measured on an H200 since the seed overtook its old figures.
H200_SECTION = "2026-11-26, sixth session (issue 57)"
KNOWN = (
    Known("mha", "fa3", 0.998, "x FA3", H200_SECTION, "an H200, the seed at be1092b"),
    Known("gqa", "fa3", 0.990, "x FA3", H200_SECTION, "an H200, the seed at 6cd541d"),
    Known("gqa-4", "fa3", 0.988, "x FA3", H200_SECTION, "an H200, the seed at be1092b"),
    Known("mha-d64", "fa3", 1.002, "x FA3"),
    Known("mha", "fa4", 0.990, "x FA4"), Known("gqa", "fa4", 1.011, "x FA4"),
    Known("gqa-4", "fa4", 1.007, "x FA4"), Known("mha-d64", "fa4", 0.999, "x FA4"),
)


def missing(target: str, listed: tuple[str, ...], measured: set[str],
            hardware: dict[str, object]) -> list[Known]:
    """The known baselines of ``target`` that it lists but this run did not measure, on a GPU
    that could run them (its compute capability, from ``hardware``); none before a baseline
    was measured (nothing is known of what is installed until then)."""
    if not measured:
        return []
    major = _major(hardware.get("compute_capability"))
    return [k for k in KNOWN if k.target == target and k.baseline in listed
            and k.baseline not in measured and major in FA_MAJORS.get(k.baseline, ())]


def _major(capability: object) -> int | None:
    try:
        return int(str(capability).split(".")[0])
    except ValueError:
        return None
