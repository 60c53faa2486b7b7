"""The anchor: a kernel no agent wrote, timed beside the candidate (and beside the best, where
the best is timed too) in every evaluation, in the same sweeps (docs/engine.md, "The anchor").

Walls close the channels between two kernels alive at once one at a time; the anchor closes
the rest. Two versions of one lineage can still agree on a signal the walls miss: the older,
timed beside its successor, then computes its answer twice, and every later version reads
twice as fast beside it. Against the anchor the older version reads slower than it was
recorded, and it is the suspect (engine/anchor_check.py); and a score measured against the
anchor carries no other version's gain, so no inflation is passed down a lineage.

The anchor is the target's primary baseline (its first) where this worker can time it, else
the seed as the user supplied it (EvalRequest.anchor), built here like any kernel; else there
is none, and no score is anchored.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from ..devices.device import Kernel

SEED = "seed"  # the anchor's name where it is the seed as supplied


@dataclass(frozen=True)
class Anchor:
    name: str  # the baseline's, or SEED
    kernel: Kernel | None = None  # the seed's, built here; None: the anchor is a baseline


def versus_anchor(logs: dict[str, list[float]], anchor: str) -> float | None:
    """One block's log of a kernel's rate over the anchor's, from ``logs``: timing.beside_logs
    of the block with that kernel as the reference, each of the anchor's launches as the log
    of its time over the kernel's launches next to it (a rate is work over time, and the work
    is the same). The median over the anchor's launches: a launch slowed by something else
    moves one of them, not the block. None where the anchor did not launch."""
    mine = logs.get(anchor)
    return statistics.median(mine) if mine else None


def anchor_alone(sequence: list[tuple[str, float]], anchor: str) -> float | None:
    """One block's log of the anchor's own time, the median over its launches in
    ``sequence`` (name, seconds): how steadily the machine runs a kernel no agent wrote, to
    tell its roughness from a kernel's (engine/anchor_check.rough_record). None where the
    anchor did not launch."""
    mine = [math.log(seconds) for name, seconds in sequence if name == anchor and seconds > 0]
    return statistics.median(mine) if mine else None
