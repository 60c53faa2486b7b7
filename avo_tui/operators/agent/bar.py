"""The agent's bar: the strongest baseline measured in the run, per configuration.

The evaluator times every baseline it can (cuDNN and FA2 through torch SDPA; FA3 and FA4 where
installed), and a score's stored ``ratio`` is against the target's first (cuDNN). That is the
weakest serious one on Hopper: the seed is 1.13x cuDNN but only 1.00-1.03x FA4. So what the
agent reads (the brief's best so far, evaluate's table, profile's default configuration) is
measured against the fastest baseline of each configuration, and names it. The app's lineage
and status bar show the same ratio (views/ratios.py).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from ...store import Score


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
    """{configuration: (the score over its bar, the bar's name)} where both are known."""
    return {config: (value / bars[config].value, bars[config].name)
            for config, value in score.per_config.items() if config in bars and value > 0}


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
