"""Baselines stronger than any this run measured: known from the project's own measurements.

The bar (bar.py) is the strongest baseline measured in the run. A run without FA3 or FA4
installed measures only torch's cuDNN and FA2 on the attention targets, and the seed reads
well ahead of them while FA3 and FA4 are within a few percent of it on the same GPU, ahead on
some configurations and, back to back at the power limit, FA3 ahead at head dim 128. So where
such a baseline is not installed on a GPU that could run it, the brief says so, with both
readings last measured and where (standing.toml, the one source of those figures;
tests/unit/test_standing.py checks each against benchmarks/RESULTS.md, so none goes stale silently).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...evaluation.problems.attention import FA_MAJORS
from .standing import BACK_TO_BACK, INTERLEAVED, RESULTS, Reading, reading

__all__ = ["KNOWN", "RESULTS", "Known", "back_to_back", "missing"]


@dataclass(frozen=True)
class Known:
    """The seed's geomean ratio to ``baseline`` on ``target`` in the evaluator's interleaved
    timing, as RESULTS.md records it in ``section`` (column ``column``), measured on
    ``machine``; and back to back at the power limit where that was measured (standing.py)."""

    target: str
    baseline: str
    ratio: float
    column: str
    section: str
    machine: str
    back_to_back: float | None = None
    back_to_back_source: str = ""

    def sentence(self) -> str:
        said = (f"{self.baseline}: the seed measured {self.ratio:.3f}x it on {self.target} "
                f"in the evaluator's interleaved timing ({self.machine}; {RESULTS}, "
                f"{self.section})")
        if self.back_to_back is not None:
            said += (f", and {self.back_to_back:.3f}x back to back at the power limit, as "
                     f"users run it ({self.back_to_back_source})")
        return said


def _known(interleaved: Reading, back_to_back: Reading) -> tuple[Known, ...]:
    machine = f"{interleaved.date}, an {interleaved.machine}, the seed at {interleaved.kernel}"
    alike = (back_to_back.date, back_to_back.machine, back_to_back.kernel) == (
        interleaved.date, interleaved.machine, interleaved.kernel)
    source = f"{RESULTS}, {back_to_back.section}" if alike else back_to_back.source()
    return tuple(
        Known(target, baseline, ratio, f"x {baseline.upper()}", interleaved.section, machine,
              b2b.ratio(baseline) if (b2b := back_to_back.targets.get(target)) else None,
              source)
        for target, standing in interleaved.targets.items()
        for baseline in ("fa3", "fa4")
        if (ratio := standing.ratio(baseline)) is not None
    )


# FA3 and FA4 beside the seed on an H200: the evaluator's bar and the back-to-back reading.
KNOWN = _known(reading(INTERLEAVED), reading(BACK_TO_BACK))


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


def back_to_back(target: str, listed: tuple[str, ...], measured: set[str],
                 hardware: dict[str, object]) -> str:
    """The back-to-back reading of the baselines of ``target`` that this run measured (those it
    did not are in ``missing``'s sentences), on a GPU that could run them; "" if none."""
    major = _major(hardware.get("compute_capability"))
    known = [k for k in KNOWN if k.target == target and k.baseline in listed
             and k.baseline in measured and k.back_to_back is not None
             and major in FA_MAJORS.get(k.baseline, ())]
    if not known:
        return ""
    figures = ", ".join(f"{k.baseline} {k.back_to_back:.3f}x ({k.ratio:.3f}x interleaved)"
                        for k in known)
    return (f"Back to back at the power limit, as users run attention, the project measured "
            f"the seed on {target} at {figures} ({known[0].machine}; "
            f"{known[0].back_to_back_source}): this run's bar is the interleaved reading, and "
            "a change that wins only interleaved is no gain.")


def _major(capability: object) -> int | None:
    try:
        return int(str(capability).split(".")[0])
    except ValueError:
        return None
