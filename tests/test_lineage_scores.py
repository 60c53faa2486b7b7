"""Scores on the lineage's scale (engine/scores.py): a result timed beside a scored version
stores that version's score times the gain measured beside it, so a version the gate commits
scores above the best it beat, whatever rate the clock let it read, and the best moves.

The pure rules and the engine's records take given results (no test here depends on which of
two kernels this machine runs faster); one test takes a first reading on the real CPU worker."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import TARGET

from avo_tui.engine import Engine, Evaluator, RunSettings, create_session, seed_files
from avo_tui.engine.gate import NoiseEstimate, Paired, judge_beside
from avo_tui.engine.launch import anchor_reading
from avo_tui.engine.scores import lineage_score, score_of, score_words
from avo_tui.engine.trials import CommitRequest
from avo_tui.evaluation import ConfigResult, EvalResult, Worker
from avo_tui.evaluation.devices.timing import summarize
from avo_tui.evaluation.results import Failure
from avo_tui.operators import Trial, Tuner
from avo_tui.store import Score, Session
from avo_tui.views.scores import score_sheet

CONFIGS = list(TARGET.grid(True))
NAMES = [c.name for c in CONFIGS]
FILES = {"attention.c": "// a kernel\n"}
STORED = 10.0  # v0's score on every configuration, GFLOP/s
GAIN = 1.003  # what the gate measured beside v0, on every configuration


def reference_score() -> Score:
    return Score(STORED, per_config={name: STORED for name in NAMES}, unit=TARGET.unit)


def measured(rate: float, gains: list[float] | None = None) -> EvalResult:
    """A correct result that read ``rate`` on every configuration, timed beside the best with
    these block values (log-gains) on each, or not beside anything without them."""
    result = EvalResult(TARGET.name, TARGET.toolchain, "cpu", TARGET.unit, seed=1, quick=True)
    result.configs = [ConfigResult(c, throughput=rate, block_gains=list(gains or []),
                                   timing=summarize([1e-3] * 4), primary_baseline="numpy")
                      for c in CONFIGS]
    for entry in result.configs:
        entry.add_baseline("numpy", summarize([2e-3] * 4), rate / 2)
    return result


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with Session.create(tmp_path / "lineage", target=TARGET.name, operator="tuner",
                        seed_files=FILES, score=reference_score()) as s:
        yield s


# -- the rule -----------------------------------------------------------------------------------


def test_a_result_timed_beside_a_version_stores_its_score_times_the_gain(
        session: Session) -> None:
    blocks = [math.log(1.002), math.log(1.004)]  # mean log-gain: log(1.003) within 1e-6
    result = measured(5.0, blocks)
    score = lineage_score(result, session.version("v0"))
    assert score is not None
    expected = STORED * math.exp(sum(blocks) / 2)
    assert score.per_config == pytest.approx({name: expected for name in NAMES})
    assert score.gmean == pytest.approx(expected)
    assert score.chained_from == "v0" and score.measured == pytest.approx(5.0)
    # the ratios are the evaluation's own, timed in the same blocks as the kernel
    own = score_of(result)
    assert own is not None and own.ratios == {name: {"numpy": 2.0} for name in NAMES}
    assert score.ratio == pytest.approx(2.0) and score.ratios == own.ratios
    assert score_words(score) == (f"{expected:.4g} GFLOP/s (v0's score times the gain beside "
                                  "it; 5 as timed)")


def test_a_gain_per_configuration_moves_that_configuration_alone(session: Session) -> None:
    result = measured(5.0, [0.0])
    result.configs[0].block_gains = [math.log(1.10)]
    score = lineage_score(result, session.version("v0"))
    assert score is not None
    assert score.per_config[NAMES[0]] == pytest.approx(11.0)
    assert all(score.per_config[n] == pytest.approx(STORED) for n in NAMES[1:])
    assert score.gmean == pytest.approx(STORED * 1.1 ** (1 / len(NAMES)))


def test_what_cannot_be_chained_keeps_its_own_score(session: Session, tmp_path: Path) -> None:
    v0 = session.version("v0")
    alone = measured(5.0)  # not timed beside anything
    assert lineage_score(alone, v0) == score_of(alone)
    assert lineage_score(measured(5.0, [0.01]), None) == score_of(measured(5.0, [0.01]))
    # a best scored on other configurations, or in another unit, is no scale to chain from
    with Session.create(tmp_path / "other", target=TARGET.name, operator="tuner",
                        seed_files=FILES,
                        score=Score(STORED, per_config={NAMES[0]: STORED}, unit=TARGET.unit)
                        ) as other:
        beside = measured(5.0, [0.01])
        assert lineage_score(beside, other.version("v0")) == score_of(beside)
    with Session.create(tmp_path / "unit", target=TARGET.name, operator="tuner",
                        seed_files=FILES,
                        score=Score(STORED, per_config={n: STORED for n in NAMES}, unit="GB/s")
                        ) as other:
        assert lineage_score(beside, other.version("v0")) == score_of(beside)
    failed = measured(5.0, [0.01])
    failed.failure = Failure("incorrect", "b1: wrong rows")
    assert lineage_score(failed, v0) is None


# -- the engine's records -----------------------------------------------------------------------


@pytest.fixture
def engine(session: Session) -> Engine:
    return Engine(session, Tuner(1), Evaluator(TARGET, Worker("cpu"), quick=True))


def test_a_version_the_gate_commits_scores_above_the_best_it_beat_and_becomes_the_best(
        engine: Engine) -> None:
    """Re-evaluated beside v0 at half v0's stored rate (a GPU running two kernels of ours
    back to back is hotter than one beside cuDNN), but +0.3% faster timed beside it."""
    session = engine.session
    first = session.record_attempt(FILES | {"x.h": "1"}, base="v0", author="tuner",
                                   outcome="promising")
    trial = Trial(first, measured(5.0, [math.log(GAIN)]), FILES | {"x.h": "1"}, "key")
    confirm = measured(5.0, [math.log(GAIN)] * 6)
    verdict = judge_beside(Paired(math.log(GAIN), 0.0001, 40), "v0", confirm.geomean,
                           TARGET.unit)
    assert verdict.accepted
    request = CommitRequest("tuner: a change", "tuner", None, engine.lanes[0])
    attempt = engine.trials.record_decision(trial, confirm, verdict, request,
                                            beside=session.version("v0"))
    version = session.version(attempt.version or "")
    assert version.score is not None and version.score == attempt.score
    assert version.score.gmean == pytest.approx(STORED * GAIN)
    assert version.score.measured == pytest.approx(5.0)
    best = session.best()
    assert best is not None and best.id == version.id
    # the app's figures for it are on the same scale, the ratios to the baselines as measured
    sheet = score_sheet(session, version)
    assert sheet is not None and [c.name for c in sheet.configs] == NAMES
    for figures in sheet.configs:
        assert figures.throughput == pytest.approx(STORED * GAIN)
        assert figures.throughput / figures.baselines["numpy"] == pytest.approx(2.0)


def test_a_lane_whose_best_moved_reads_its_first_score_on_the_lineages_scale(
        engine: Engine) -> None:
    """A first reading timed beside v0 measured half v0's rate but +2% beside it; v1 (+1%) came
    in meanwhile. On the lineage's scale the reading is above v1: it goes to the gate."""
    session = engine.session
    session.commit(FILES | {"v1.h": "1"}, author="tuner", message="v1",
                   score=Score(STORED * 1.01, per_config={n: STORED * 1.01 for n in NAMES},
                               unit=TARGET.unit))
    result = measured(5.0, [math.log(1.02)] * 3)
    score = lineage_score(result, session.version("v0"))
    attempt = session.record_attempt(FILES | {"c.h": "1"}, base="v0", author="tuner",
                                     outcome="promising", score=score)
    trial = Trial(attempt, result, FILES | {"c.h": "1"}, "key")
    engine.gate.noise = NoiseEstimate(pairs_pct=[0.5])
    assert engine.gate.refusal(trial, session.best(), "v0", []) is None
    # the same reading's own rate, half the stored scale, would have been refused as slower
    own = session.record_attempt(FILES | {"d.h": "1"}, base="v0", author="tuner",
                                 outcome="promising", score=score_of(result))
    refused = engine.gate.refusal(Trial(own, result, FILES | {"d.h": "1"}, "key2"),
                                  session.best(), "v0", [])
    assert refused is not None and refused[0] == "slower"


def test_a_first_reading_beside_the_best_is_stored_on_the_lineages_scale(
        template: Path, tmp_path: Path, worker: Worker) -> None:
    """The real worker times v0 beside a candidate: whatever either measured, the attempt
    stores v0's score times the gain, and keeps the rate it read."""
    path = tmp_path / "run"
    shutil.copytree(template, path)
    with Session.open(path) as session:
        engine = Engine(session, Tuner(1), Evaluator(TARGET, worker, quick=True))
        files = session.read_files("v0")
        files["attention.c"] += "\nint avo_lineage_marker = 1;\n"  # another kernel identity
        trial = engine.evaluate(files, base="v0", author="tuner")
        v0 = session.version("v0")
        assert trial.result.correct and trial.result.incumbent_gain is not None
        score = trial.attempt.score
        assert score is not None and v0.score is not None
        assert score.chained_from == "v0"
        assert score.measured == pytest.approx(trial.result.geomean)
        for entry in trial.result.timed:
            gain = math.exp(sum(entry.block_gains) / len(entry.block_gains))
            assert score.per_config[entry.name] == pytest.approx(
                v0.score.per_config[entry.name] * gain)
        assert "v0's score times the gain beside it" in (trial.attempt.detail or "")


def test_the_seed_is_scored_by_the_faster_of_its_two_readings(tmp_path: Path) -> None:
    """v0's score sets the lineage's scale, and a load that comes and goes only slows a
    reading: the slower of the two never anchors it (issue 56: one slow first reading halved
    every score of a LayerNorm lineage)."""
    assert anchor_reading([measured(7.4), measured(15.0)]).geomean == 15.0
    assert anchor_reading([measured(15.0), measured(7.4)]).geomean == 15.0
    readings: list[EvalResult] = []
    with Worker("cpu") as worker:
        session = create_session(tmp_path / "s", TARGET, RunSettings(quick=True),
                                 seed_files(TARGET), Evaluator(TARGET, worker, quick=True),
                                 on_seed_result=readings.append)
    with session:
        seed = session.version("v0")
    assert len(readings) == 2 and seed.score is not None
    assert seed.score.gmean == max(r.geomean for r in readings)
