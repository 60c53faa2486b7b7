"""Baselines stronger than any this run measured: known from the project's own measurements.

The bar (bar.py) is the strongest baseline measured in the run. A run without FA3 or FA4
installed measures only torch's cuDNN and FA2 on the attention targets, and the seed reads
1.2x ahead of them while FA3 and FA4 are within a few percent of it on the same GPU, ahead on
some configurations. So where such a
baseline is not installed on a GPU that could run it, the brief says so, with the figure last
measured and where it was measured (tests/test_agent_bar_words.py checks each figure against
benchmarks/RESULTS.md, so it cannot go stale silently).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...evaluation.problems.attention import FA_MAJORS

RESULTS = "benchmarks/RESULTS.md"


@dataclass(frozen=True)
class Known:
    """The seed's geomean ratio to ``baseline`` on ``target``, as RESULTS.md records it in
    ``section``'s first table (column ``column``), measured on ``machine``."""

    target: str
    baseline: str
    ratio: float
    column: str
    section: str
    machine: str

    def sentence(self) -> str:
        return (f"{self.baseline}: the seed measured {self.ratio:.3f}x it on {self.target} "
                f"({self.machine}; {RESULTS}, {self.section})")


# FA3 and FA4 beside the seed on an H200, each the first run of issue 57's bar.
SECTION = "2026-11-26, ninth session (issue 57)"
MACHINE = "an H200, the seed at 59067c6"
KNOWN = tuple(
    Known(target, baseline, ratio, f"x {baseline.upper()}", SECTION, MACHINE)
    for target, fa3, fa4 in (("mha", 1.015, 1.057), ("gqa", 1.017, 1.058),
                             ("gqa-4", 1.014, 1.056), ("mha-d64", 1.053, 1.049))
    for baseline, ratio in (("fa3", fa3), ("fa4", fa4))
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
