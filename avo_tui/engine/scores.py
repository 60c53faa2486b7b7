"""The scores the store keeps: an evaluation's own, or chained from the version it was timed
beside.

On a GPU under sustained load a kernel's absolute rate follows the clock, and the clock
follows what ran beside the kernel. On an H200 the same candidate read 664 to 687 TFLOP/s in
nine gate re-evaluations beside a near twin, against about 700 alone, while the gain the gate
measured beside the twin spread by under 0.1% (benchmarks/RESULTS.md). Stored as measured, a
version committed for a +0.3% gain scored below the best it beat, and the best, the highest
score, stayed where it was.

So a correct result timed beside a scored version stores that version's score, configuration
by configuration, times the gain measured there: :func:`lineage_score`. The lineage's scores
are then as steady as the gate, a version scores above the one it beat by the gain it was
committed for, and the scale stays the seed's (v0 is scored on its own). The rate this
evaluation measured is kept beside it (``Score.measured``); the ratios to the baselines stay
the evaluation's own, timed in the same blocks as the kernel and steady already.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

from ..evaluation import EvalResult
from ..evaluation.results import geometric_mean
from ..store import Score, Version


def score_of(result: EvalResult) -> Score | None:
    """The result's score as it measured it; None for a result that is not correct, or one
    that timed nothing (the best's kernel, or a twin: EvalResult.untimed)."""
    if not result.correct or result.untimed:
        return None
    return Score(
        gmean=result.geomean,
        per_config={c.name: c.throughput for c in result.timed},
        ratio=result.ratio,
        baseline=result.timed[0].primary_baseline if result.timed else None,
        unit=result.unit,
        ratios={c.name: c.ratios for c in result.timed if c.ratios},
    )


def lineage_score(result: EvalResult, beside: Version | None) -> Score | None:
    """The score to store for ``result``: chained from ``beside`` (the version timed beside
    it) where the result carries a paired gain on every configuration ``beside`` is scored on,
    in the same unit; otherwise the result's own (score_of)."""
    score = score_of(result)
    paired = result.paired
    if score is None or paired is None or beside is None or beside.score is None:
        return score
    reference = beside.score
    if reference.unit != score.unit or set(paired.blocks) != set(reference.per_config):
        return score
    per_config = {name: reference.per_config[name] * math.exp(statistics.fmean(values))
                  for name, values in paired.blocks.items()}
    return replace(score, gmean=geometric_mean(list(per_config.values())),
                   per_config=per_config, measured=score.gmean, chained_from=beside.id)


def score_words(score: Score) -> str:
    """'701.3 TFLOP/s', and for a chained score what was measured: '701.3 TFLOP/s (v0's score
    times the gain beside it; 667.3 as timed)'."""
    words = f"{score.gmean:.4g} {score.unit}"
    if score.chained_from is None or score.measured is None:
        return words
    return (f"{words} ({score.chained_from}'s score times the gain beside it; "
            f"{score.measured:.4g} as timed)")


def followed_score(score: Score, was: Score, now: Score) -> Score:
    """``score``, chained from a version whose score went from ``was`` to ``now`` (``avo
    rescore``), re-derived on the new scale: each configuration keeps its gain over that
    version (``score / was``) and takes ``now`` as its base, so
    ``score[config] * now[config] / was[config]`` (the geometric means' factor where a
    configuration is missing on either side). The rate it measured, its ratios to the
    baselines and what it is chained from stay as they were."""
    if not was.gmean or not now.gmean:
        return score
    overall = now.gmean / was.gmean

    def factor(name: str) -> float:
        before, after = was.per_config.get(name), now.per_config.get(name)
        return after / before if before and after else overall

    per_config = {name: value * factor(name) for name, value in score.per_config.items()}
    gmean = geometric_mean(list(per_config.values())) if per_config else score.gmean * overall
    return replace(score, gmean=gmean, per_config=per_config)
