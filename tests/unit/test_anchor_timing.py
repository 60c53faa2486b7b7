"""The anchor (evaluation/measurement/anchor.py): a kernel no agent wrote, timed beside the
candidate in every evaluation and beside the best in every block of the gate's sweeps, never
taken from an earlier evaluation. The real evaluator throughout: modelled kernels where the
figures are asserted (modelled_lineage.py), real C kernels and the real torch baseline where
only what is timed is."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest
from attack_verdicts import registered, skip_without_c_compiler
from modelled_lineage import SPEC, ModelWorker, modelled
from test_targets_problem import HONEST, TILED
from test_targets_problem import SPEC as VECTOR_ADD

from avo_tui.evaluation import EvalRequest, EvalResult
from avo_tui.evaluation.measurement.measure import TIMING_ROUNDS
from avo_tui.evaluation.paired import GatePlan, PairedGain, jitter_se
from avo_tui.evaluation.pipeline import Evaluation
from avo_tui.evaluation.results import Timing

SEED = modelled("honest", 1e-3, 0)


@pytest.fixture(scope="module")
def models() -> Iterator[ModelWorker]:
    skip_without_c_compiler()
    with registered(SPEC), registered(VECTOR_ADD):
        yield ModelWorker()


def evaluate(worker: ModelWorker, sources: dict[str, str], **options: object) -> EvalResult:
    request = EvalRequest(SPEC.name, sources, quick=True, seed=5, anchor=SEED)
    for key, value in options.items():
        setattr(request, key, value)
    return worker.evaluate(request)


def ratio(blocks: list[float]) -> float:
    return math.exp(sum(blocks) / len(blocks))


def test_the_seed_is_the_anchor_beside_the_best_in_every_block(models: ModelWorker) -> None:
    result = evaluate(models, modelled("honest", 0.25e-3, 2),
                      incumbent=modelled("honest", 0.5e-3, 1), gate=GatePlan(cap_s=20.0))
    assert result.correct, result.failure
    assert result.anchor == "seed"
    for entry in result.timed:
        sweeps = len(entry.block_gains)
        assert sweeps >= 3
        assert len(entry.anchor_blocks) == len(entry.incumbent_anchor_blocks) == sweeps
        assert ratio(entry.anchor_blocks) == pytest.approx(4.0, rel=0.05)
        assert ratio(entry.incumbent_anchor_blocks) == pytest.approx(2.0, rel=0.05)
        assert len(entry.anchor_alone_blocks) == sweeps  # the anchor's own time: the seed's
        assert ratio(entry.anchor_alone_blocks) == pytest.approx(1e-3, rel=0.05)
    anchored = result.versus_anchor
    assert anchored is not None and anchored.se is not None
    assert math.exp(anchored.log_gain) == pytest.approx(4.0, rel=0.05)
    # the modelled launches spread by NOISE (0.02) each; the seed's own jitter, a block's median
    # over its launches, leaves a rate over it known about as well as the rate itself is
    jitter = result.anchor_jitter_se
    assert jitter is not None and 0.3 * anchored.se < jitter < 3 * anchored.se


def test_the_anchor_s_jitter_counts_a_drift_for_nothing() -> None:
    """The machine's part of a rate's error (paired.jitter_se): blocks that jitter by s read
    about as PairedGain.se says; a steady drift, as of a clock that slowly falls, reads as
    next to none, as a rate over the anchor divides it out."""
    draws = random.Random(1)
    jitter = [draws.gauss(0.0, 0.01) for _ in range(400)]
    jittered = jitter_se({"c": jitter})
    assert jittered is not None and jittered == pytest.approx(0.01 / 20, rel=0.15)
    drift = [0.001 * i for i in range(400)]
    drifted, spread = jitter_se({"c": drift}), PairedGain({"c": drift}).se
    assert drifted is not None and spread is not None and drifted < 0.1 * spread
    assert jitter_se({"c": [0.0], "d": [1.0, 2.0]}) is None  # one block says nothing


def test_a_candidate_timed_alone_is_timed_beside_the_anchor_in_each_round(
    models: ModelWorker,
) -> None:
    result = evaluate(models, modelled("honest", 0.5e-3, 3))
    assert result.correct, result.failure
    assert result.anchor == "seed" and result.incumbent_versus_anchor is None
    for entry in result.timed:
        assert len(entry.anchor_blocks) == TIMING_ROUNDS
        assert ratio(entry.anchor_blocks) == pytest.approx(2.0, rel=0.05)
    assert "seed" not in result.timed[0].baselines  # an anchor, not a baseline to beat


def test_without_a_baseline_or_a_seed_there_is_no_anchor(models: ModelWorker) -> None:
    result = evaluate(models, modelled("honest", 0.5e-3, 4), anchor=None)
    assert result.correct, result.failure
    assert result.anchor is None and result.versus_anchor is None
    assert not result.timed[0].anchor_blocks


def real(models: ModelWorker, **options: object) -> EvalResult:
    """HONEST on the vector add's quick grid, on the real evaluator (no model)."""
    request = EvalRequest(VECTOR_ADD.name, {"add.c": HONEST}, quick=True, seed=7)
    for key, value in options.items():
        setattr(request, key, value)
    return Evaluation(models.pipeline, request, lambda phase, detail: None).run()


def test_the_primary_baseline_is_the_anchor_and_is_timed_afresh_every_time(
    models: ModelWorker,
) -> None:
    """A first reading reuses the baselines' timings where it may (the ratios shown to them),
    but the anchor is timed beside the candidate all the same."""
    config = VECTOR_ADD.quick_configs[0]
    stale = Timing(median_s=1.0, spread_pct=0.0, reps=3, min_s=1.0)
    known = {config.name: {"torch-add": stale}}
    for incumbent in (None, {"add.c": TILED}):
        result = real(models, known_baselines=known, incumbent=incumbent,
                      anchor={"add.c": HONEST})
        assert result.correct, result.failure
        assert result.anchor == "torch-add"
        entry = result.timed[0]
        assert entry.anchor_blocks and entry.baseline_timings["torch-add"] == stale
        assert bool(entry.incumbent_anchor_blocks) == (incumbent is not None)
