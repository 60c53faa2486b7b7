"""The scores the store keeps: a kernel's rate against the anchor, on the lineage's scale.

On a GPU under sustained load a kernel's absolute rate follows the clock, and the clock
follows what ran beside the kernel. On an H200 the same candidate read a few percent less in
gate re-evaluations beside a near twin than alone (benchmarks/RESULTS.md). Stored as measured,
a version committed for a gain smaller than that scored below the best it beat.

Scores were then chained: the score of the version timed beside, times the gain measured
there. That made one version's reading part of every later one's, and two versions of one
lineage could collude: the older, timed beside its successor, computed its answer twice, and
every later version scored twice as high, the inflation compounding down the lineage.

So every evaluation times the anchor beside the kernel, in the same sweeps
(evaluation/measurement/anchor.py: the target's primary baseline, else the seed as the user
supplied it), and a score is the kernel's rate over the anchor's, configuration by
configuration, times the anchor's rate as the lineage's first version was scored beside it
(:func:`anchored_score`). A clock that moves moves both, so the ratio holds; no other
version's reading is in it; and the figures stay in the target's unit, on the seed's scale.
The rate this evaluation measured is kept beside it (``Score.measured``).

A result with no anchor (none could be timed) keeps the rate it measured (:func:`score_of`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

from ..evaluation import EvalResult
from ..evaluation.results import geometric_mean
from ..store import Score, Version

AnchorRatios = tuple[str, dict[str, float]]  # the anchor's name, and {config: ratio}


def score_of(result: EvalResult) -> Score | None:
    """The result's score as it measured it, with its rate over the anchor's where the anchor
    was timed beside it; None for a result that is not correct, or one that timed nothing
    (the best's kernel, or a twin: EvalResult.untimed)."""
    if not result.correct or result.untimed:
        return None
    anchored = result.versus_anchor
    return Score(
        gmean=result.geomean,
        per_config={c.name: c.throughput for c in result.timed},
        ratio=result.ratio,
        baseline=result.timed[0].primary_baseline if result.timed else None,
        unit=result.unit,
        ratios={c.name: c.ratios for c in result.timed if c.ratios},
        anchor=result.anchor if anchored is not None else None,
        anchor_ratios=({name: math.exp(statistics.fmean(blocks))
                        for name, blocks in anchored.blocks.items()} if anchored else {}),
        anchor_se=anchored.se if anchored is not None else None,
        sustained=result.sustained_ratios,
    )


def anchored_score(result: EvalResult, root: Score | None, beside: str | None = None
                   ) -> Score | None:
    """The score to store for ``result``: its rate over the anchor's, on each configuration,
    times the anchor's rate in ``root``'s evaluation (the lineage's first version: its
    scale). Where the result has no anchor ratios, or the root none on the same anchor and
    configurations (the root itself, a quick-grid check), the result's own (score_of).
    ``beside`` names the version timed beside it, if one was (Score.beside)."""
    score = score_of(result)
    if score is not None and beside is not None and result.paired is not None:
        score = replace(score, beside=beside)
    scale = anchor_rates(root) if root is not None else None
    if score is None or score.anchor is None or scale is None:
        return score
    anchor, rates = scale
    if anchor != score.anchor or not set(score.anchor_ratios) <= set(rates):
        return score
    per_config = {name: ratio * rates[name] for name, ratio in score.anchor_ratios.items()}
    return replace(score, gmean=geometric_mean(list(per_config.values())),
                   per_config=per_config, measured=score.gmean)


def anchor_ratios(score: Score) -> AnchorRatios | None:
    """The anchor ``score`` was measured against and its rate over the anchor's, per
    configuration. A score from before anchors has its ratios to its primary baseline, the
    evaluation's own (never chained), which is the anchor now; None where there is neither."""
    if score.anchor and score.anchor_ratios:
        return score.anchor, dict(score.anchor_ratios)
    primary = score.baseline
    if primary and score.ratios and all(primary in r for r in score.ratios.values()):
        return primary, {name: r[primary] for name, r in score.ratios.items()}
    return None


def anchor_rates(score: Score) -> AnchorRatios | None:
    """The anchor's rate on each configuration, as ``score`` implies it: its rate there over
    its ratio to the anchor. On the lineage's first version, the lineage's scale."""
    found = anchor_ratios(score)
    if found is None:
        return None
    anchor, ratios = found
    rates = {name: score.per_config[name] / ratio for name, ratio in ratios.items()
             if ratio > 0 and score.per_config.get(name)}
    return (anchor, rates) if rates else None


def anchor_ratio(score: Score) -> float | None:
    """The geometric mean of ``score``'s ratios to its anchor; None without."""
    found = anchor_ratios(score)
    return geometric_mean(list(found[1].values())) if found else None


def score_words(score: Score) -> str:
    """'701.3 TFLOP/s', and for a score on the lineage's scale what was measured: '701.3
    TFLOP/s (1.072x cudnn, the anchor, timed beside it; 667.3 as timed)'. A score chained
    from another version (before anchors) says so: '(v0's score times the gain beside it;
    ...)'."""
    words = f"{score.gmean:.4g} {score.unit}"
    if score.measured is None:
        return words
    if score.chained_from is not None:
        return (f"{words} ({score.chained_from}'s score times the gain beside it; "
                f"{score.measured:.4g} as timed)")
    ratio = anchor_ratio(score)
    against = f"{ratio:.4g}x {score.anchor}, the anchor, timed beside it; " if ratio else ""
    return f"{words} ({against}{score.measured:.4g} as timed)"


def below_the_best_it_beat(score: Score | None, best: Version | None) -> str:
    """Where a version the gate commits beside ``best`` stores ``score`` below the best's, why
    the best does not move, and what puts it right; '' where it stores at or above it. Two
    evaluations read a rate over the anchor further apart than their errors say (on four
    H200s, a record read higher than four later gates read it, by more than the smallest
    gains they commit: benchmarks/RESULTS.md), so such a gain can store below the best it
    beat."""
    if score is None or best is None or best.score is None or score.gmean >= best.score.gmean:
        return ""
    return (f"; stored at {score.gmean:.4g} {score.unit}, below {best.id}'s "
            f"{best.score.gmean:.4g}: {best.id} stays the best, as records over the anchor "
            f"from two evaluations differ by more than this gain (avo rescore SESSION "
            f"{best.id} reads it again beside the anchor alone)")
