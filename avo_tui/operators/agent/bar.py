"""The agent's bar: the strongest baseline measured in the run, per configuration.

The evaluator times every baseline it can (cuDNN and FA2 through torch SDPA; FA3 and FA4 where
installed), and a score's stored ``ratio`` is against the target's first (cuDNN). That is the
weakest serious one on Hopper (the seed's standing against the others, measured and dated, is
standing.toml's). So what the agent reads (the brief's best so far, evaluate's table,
profile's default configuration) is measured against the fastest baseline of each
configuration, and names it.

Where versions are listed (the agent's lineage table, ``avo sessions show``, the attempts, the
app's lineage and status bar; views/ratios.py reads the run's stored baselines) each score's
ratio to the bar is one column, :class:`RatioColumn`, named after the baseline when one is the
strongest on every configuration (``x fa4``), else ``x best``. Where only one baseline was
measured (the CPU target, a GPU without FA3 or FA4) each score keeps its own stored ratio, to
that baseline as timed in the same evaluation.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from ...store import Score, Version

STRONGEST_BY_CONFIG = "best"  # the column's label when the strongest differs by configuration


@dataclass(frozen=True)
class Bar:
    """The strongest baseline of one configuration: its name and throughput."""

    name: str
    value: float


def strongest(baselines: dict[str, dict[str, float]]) -> dict[str, Bar]:
    """{configuration: its fastest baseline}, from {configuration: {baseline: throughput}};
    a configuration with no positive figure is left out."""
    bars = {}
    for config, timings in baselines.items():
        known = [(value, name) for name, value in timings.items()
                 if isinstance(value, int | float) and math.isfinite(value) and value > 0]
        if known:
            value, name = max(known)
            bars[config] = Bar(name, float(value))
    return bars


def ratios(score: Score, bars: dict[str, Bar]) -> dict[str, tuple[float, str]]:
    """{configuration: (the score over its bar, the bar's name)} where both are known: the
    ratio the score's own evaluation measured to that baseline, side by side, where it holds
    one; else its throughput over the bar's stored one, which was timed in another evaluation
    (on a GPU, a ratio across two evaluations moved by several percent: RESULTS.md)."""
    out = {}
    for config, value in score.per_config.items():
        bar = bars.get(config)
        if bar is None or value <= 0:
            continue
        paired = score.ratios.get(config, {}).get(bar.name)
        out[config] = (paired if paired else value / bar.value, bar.name)
    return out


def geomean_ratio(per_config: dict[str, tuple[float, str]]) -> float | None:
    if not per_config:
        return None
    return math.exp(sum(math.log(r) for r, _ in per_config.values()) / len(per_config))


def describe(score: Score, bars: dict[str, Bar]) -> str:
    """'1.012x the strongest baseline (fa4 on 6 configurations, cudnn on 2)', or '' when no
    baseline was measured for the score's configurations."""
    per_config = ratios(score, bars)
    ratio = geomean_ratio(per_config)
    if ratio is None:
        return ""
    names = Counter(name for _, name in per_config.values())
    which = ", ".join(f"{name} on {count}" for name, count in names.most_common())
    return (f"{ratio:.3f}x the strongest baseline ({which} of {len(per_config)} "
            "configurations)")


@dataclass(frozen=True)
class RatioColumn:
    """What a listing's ratios are against: ``label`` names it (a baseline, or ``best``); with
    no ``bars``, each score's own ratio (to its first baseline) is shown."""

    label: str = ""
    bars: Mapping[str, Bar] = field(default_factory=dict)

    def ratio(self, score: Score) -> float | None:
        if not self.bars:
            return score.ratio
        return geomean_ratio(ratios(score, dict(self.bars)))

    def named(self, score: Score) -> str:
        """The score's ratio and what it is against, ``1.013x fa4``; '' where it has none."""
        value = self.ratio(score)
        return f"{value:.3f}x {self.label}".rstrip() if value else ""

    @property
    def heading(self) -> str:
        """The column's name: ``x fa4``, ``x best``, ``x cudnn``; ``ratio`` when nothing
        names it (a session of no known target and no measured baseline)."""
        return f"x {self.label}" if self.label else "ratio"


def primary(best: Version | None) -> str | None:
    """The baseline the stored ratios are to, as the best's score names it: the column's
    name where only it was measured."""
    return best.score.baseline if best and best.score else None


def ratio_column(baselines: dict[str, dict[str, float]], primary: str | None) -> RatioColumn:
    """The column for a run whose baselines are ``baselines`` ({configuration: {baseline:
    throughput}}) and whose scores' own ratios are to ``primary``."""
    bars = strongest(baselines)
    measured = {name for timings in baselines.values() for name, value in timings.items()
                if value > 0}
    if len(measured) < 2 or not bars:
        return RatioColumn(primary or next(iter(measured), ""))
    names = {b.name for b in bars.values()}
    return RatioColumn(names.pop() if len(names) == 1 else STRONGEST_BY_CONFIG, bars)
