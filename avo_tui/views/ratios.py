"""The ratio shown beside each version's score: to the strongest baseline measured in the run.

The agent's bar (operators/agent/bar.py) is, per configuration, the fastest baseline the
session has timed on its host, and a score's ratio to it is the geometric mean of the
per-configuration ratios. A version's stored ``ratio`` is to the target's first baseline
(cuDNN on the GPU targets), the weakest serious one on Hopper: the seed reads 1.13x cuDNN but
1.01x FA4. So the lineage shows the bar's ratio, named after the baseline when one is the
strongest on every configuration (``x fa4``), else ``x best``. Where only one baseline was
measured (the CPU target, a GPU without FA3 or FA4) each score keeps its own ratio, to that
baseline as timed in the same evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engine.evaluator import stored_throughputs
from ..evaluation import UnknownTarget, get_target
from ..operators.agent.bar import Bar, geomean_ratio, ratios, strongest
from ..store import Score

STRONGEST_BY_CONFIG = "best"  # the label when the strongest baseline differs by configuration


@dataclass(frozen=True)
class RatioColumn:
    """What the ratios are against: ``label`` names it (a baseline, or ``best``); with no
    ``bars``, each score's own ratio (to its first baseline) is shown."""

    label: str = ""
    bars: Mapping[str, Bar] = field(default_factory=dict)

    def ratio(self, score: Score) -> float | None:
        if not self.bars:
            return score.ratio
        return geomean_ratio(ratios(score, dict(self.bars)))


def ratio_column(baselines: dict[str, dict[str, float]], primary: str | None) -> RatioColumn:
    """The column for a session whose stored baselines are ``baselines`` ({configuration:
    {baseline: throughput}}) and whose scores' own ratios are to ``primary``."""
    bars = strongest(baselines)
    measured = {name for timings in baselines.values() for name, value in timings.items()
                if value > 0}
    if len(measured) < 2 or not bars:
        return RatioColumn(primary or next(iter(measured), ""))
    names = {b.name for b in bars.values()}
    return RatioColumn(names.pop() if len(names) == 1 else STRONGEST_BY_CONFIG, bars)


def session_ratio_column(target: str, host: Mapping[str, Any], stored: Mapping[str, Any],
                         primary: str | None) -> RatioColumn:
    """The column for a session on ``target`` created on ``host``, whose run state keeps the
    baseline timings ``stored`` ({host key: {configuration: {baseline: timing}}})."""
    try:
        spec = get_target(target)
    except UnknownTarget:
        return RatioColumn(primary or "")
    return ratio_column(stored_throughputs(spec, stored, host), primary)
