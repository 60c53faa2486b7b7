"""Two versions of one lineage that collude, against the commit gate (issue 69): the older, the
best, timed beside its successor, computes its answer twice, so the successor reads twice as
fast beside it with no work; timed alone it is honest. The anchor (a kernel no agent wrote,
timed beside both in every block) sees the best read half its recorded rate against it: the
best is the suspect, it is flagged, and the decision is taken against its record, where the
successor has gained nothing.

The real engine, gate, session and evaluation pipeline, on modelled kernels whose times are
modelled (modelled_lineage.py): whether a kernel is caught never depends on this machine's
speed or load. The anchor is the seed as supplied, modelled too."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import modelled_lineage
import pytest
from modelled_lineage import SEED_S, SPEC, ModelWorker, modelled, modelled_worker

from avo_tui.cli import main
from avo_tui.engine import Engine, Evaluator, RunSettings, create_session
from avo_tui.engine.anchor_check import ANCHOR_BOUND_LIMIT, IncumbentCheck, anchor_bound
from avo_tui.engine.rescore import Rescorer, flagged_lineage
from avo_tui.engine.scores import anchor_ratio
from avo_tui.evaluation import EvalResult
from avo_tui.evaluation.paired import RECORD_SE
from avo_tui.operators import Trial, Tuner
from avo_tui.store import FlaggedPayload, Outcome, Session, Version, payload_of

SEED = modelled("honest", SEED_S, 0)


@pytest.fixture(scope="module")
def worker() -> Iterator[ModelWorker]:
    yield from modelled_worker()


@pytest.fixture
def engine(tmp_path: Path, worker: ModelWorker) -> Iterator[Engine]:
    evaluator = Evaluator(SPEC, worker, quick=True)
    session = create_session(tmp_path / "lineage", SPEC, RunSettings(quick=True), SEED, evaluator)
    with session:
        yield Engine(session, Tuner(1), evaluator)


def commit(engine: Engine, files: dict[str, str], message: str,
           *, base: str | None = None) -> Version | None:
    """Evaluate ``files`` as a first reading beside the best, then ask the gate to commit
    them, whatever the reading said (as if noise had flattered it: the gate is what must
    decide)."""
    base = base or engine.session.version("head").id
    first = engine.evaluate(files, base=base, author="tuner")
    assert first.result.correct, first.result.failure
    promising = engine.session.record_attempt(files, base=base, author="tuner",
                                              outcome=Outcome.PROMISING, score=first.attempt.score)
    return engine.commit(Trial(promising, first.result, files, first.key), message, "tuner")


def anchor_of(version: Version) -> float:
    assert version.score is not None
    ratio = anchor_ratio(version.score)
    assert ratio is not None
    return ratio


def flags(session: Session) -> list[FlaggedPayload]:
    return [p for e in session.events() if isinstance(p := payload_of(e), FlaggedPayload)]


def test_a_colluding_best_commits_nothing_and_is_flagged_with_both_figures(
        engine: Engine) -> None:
    session = engine.session
    colluder = commit(engine, modelled("colluding", SEED_S / 2, 1), "twice the seed's speed")
    assert colluder is not None, session.recent_attempts(1)[0].detail  # beside an honest best
    assert anchor_of(colluder) == pytest.approx(2.0, rel=0.1)
    assert not flags(session)

    # Its successor does the same work as fast: beside it, it reads twice as fast.
    successor = modelled("honest", SEED_S / 2, 2)
    assert commit(engine, successor, "the same kernel, another name") is None
    decision, _, first = session.recent_attempts(3)  # newest first: the gate's, then the first
    for attempt in (first, decision):  # each judged against the record, not its slowed reading
        assert f"over {colluder.id}'s recorded rate, both against seed" in attempt.detail
        assert f"{colluder.id} is the suspect: {colluder.id} read" in attempt.detail
    assert decision.outcome == Outcome.NOT_CONFIRMED, decision.detail
    assert len(session.lineage) == 2 and session.best() == session.version(colluder.id)

    flagged = session.run_state.flagged
    assert set(flagged) == {colluder.id} and flagged[colluder.id].attempt == first.id
    assert flagged[colluder.id].recorded == pytest.approx(2.0, rel=0.1)
    assert flagged[colluder.id].measured == pytest.approx(1.0, rel=0.1)
    [event] = flags(session)  # flagged once, by the first reading that saw it
    assert (event.version, event.anchor) == (colluder.id, "seed")
    assert event.measured == pytest.approx(flagged[colluder.id].measured)


def test_an_honest_lineage_is_decided_beside_its_best_and_never_flagged(engine: Engine) -> None:
    session = engine.session
    v1 = commit(engine, modelled("honest", SEED_S / 2, 1), "twice the seed's speed")
    assert v1 is not None, session.recent_attempts(1)[0].detail
    assert commit(engine, modelled("honest", SEED_S / 2, 2), "no faster") is None
    assert session.recent_attempts(1)[0].outcome == Outcome.NOT_CONFIRMED
    v2 = commit(engine, modelled("honest", SEED_S / 4, 3), "twice v1's speed")
    assert v2 is not None, session.recent_attempts(1)[0].detail
    decision = session.recent_attempts(1)[0]
    assert f"on {v1.id} timed beside it" in decision.detail and "suspect" not in decision.detail
    assert anchor_of(v2) == pytest.approx(4.0, rel=0.1)
    assert session.run_state.flagged == {} and not flags(session)


def test_a_machine_that_slowed_down_wrongs_no_honest_best(
        engine: Engine, worker: ModelWorker) -> None:
    """Everything runs 1.5x slower after v1 was committed, the anchor too: v1 reads as it was
    recorded against it, and its successor's score is its rate against the anchor on the
    lineage's scale, not the slower rate it read."""
    session = engine.session
    v1 = commit(engine, modelled("honest", SEED_S / 2, 1), "twice the seed's speed")
    assert v1 is not None and v1.score is not None
    worker.slowdown = 1.5
    try:
        v2 = commit(engine, modelled("honest", SEED_S / 4, 2), "twice v1's speed")
    finally:
        worker.slowdown = 1.0
    assert v2 is not None and v2.score is not None, session.recent_attempts(1)[0].detail
    assert session.run_state.flagged == {} and not flags(session)
    assert v2.score.measured is not None
    assert v2.score.gmean / v1.score.gmean == pytest.approx(2.0, rel=0.1)
    assert v2.score.gmean / v2.score.measured == pytest.approx(1.5, rel=0.1)
    assert math.isclose(anchor_of(v2), 4.0, rel_tol=0.1)


def test_the_flag_is_shown_and_a_rescore_measures_the_flagged_lineage_alone(
        engine: Engine, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`avo sessions show` lists the flag with both figures; the rescore's default, the flagged
    version and those built on it, measures each beside the anchor and the seed, by the gate's
    rule, as a record is read (where the colluder, with no successor beside it, is honest),
    and lifts the flag."""
    session = engine.session
    colluder = commit(engine, modelled("colluding", SEED_S / 2, 1), "twice the seed's speed")
    assert colluder is not None
    assert commit(engine, modelled("honest", SEED_S / 2, 2), "no faster") is None
    assert main(["--sessions-dir", str(session.directory.parent), "sessions", "show",
                 session.name]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "⚠ 1 version flagged: slower against the anchor beside a candidate" in shown
    figures = r"read (\S+)x seed beside a\d+'s candidate, recorded at (\S+)x \(-\d+\.\d%"
    found = re.search(rf"⚠ flagged {colluder.id} {figures}, past the -\d+\.\d% allowed\)", shown)
    assert found is not None, shown
    assert float(found[1]) == pytest.approx(1.0, rel=0.1)
    assert float(found[2]) == pytest.approx(2.0, rel=0.1)

    named = flagged_lineage(session)
    assert [v.id for v in named] == [colluder.id]
    evaluator = engine.trials.books.evaluator
    asked: list[dict[str, object]] = []
    evaluate = evaluator.evaluate

    def recorded(files: dict[str, str], **given: Any) -> EvalResult:
        asked.append(given)
        return evaluate(files, **given)

    monkeypatch.setattr(evaluator, "evaluate", recorded)
    report = Rescorer(session, evaluator, say=lambda line: None).run(named)
    [given] = asked
    assert given["incumbent"] == given["anchor"] == session.read_files(session.version("v0"))
    assert given["gate"] is not None
    assert not report.failed and [c.version for c in report.changes] == [colluder.id]
    [change] = report.changes
    assert anchor_ratio(change.now) == pytest.approx(2.0, rel=0.1)  # alone, it is honest
    assert change.payload.gain is not None and "seed" in change.payload.gain
    session.rescore([(c.now, c.payload) for c in report.changes])
    assert session.run_state.flagged == {}


def test_a_best_that_slows_itself_by_5_percent_passes_at_most_one_successor(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A subtler colluder: v1 takes 5% longer beside its successor. Four successors of the
    same speed ask the gate; the decision, judged against v1's record once v1 reads slower
    than it, commits at most one of them (1 of 100 in 25 tries). Two things make it so: the
    readings' errors bounded at t99, not the 0.1% quantile (there all four were committed),
    and v1's record measured to RECORD_SE, though its gain of 2x was decided in three sweeps
    (at 0.6-1.3%, 3 tries in 22 let two or more through)."""
    monkeypatch.setattr(modelled_lineage, "COLLUDING_SLOWDOWN", 1.05)
    colluder = commit(engine, modelled("colluding", SEED_S / 2, 1), "twice the seed's speed")
    assert colluder is not None and colluder.score is not None
    assert colluder.score.anchor_se is not None and colluder.score.anchor_se <= RECORD_SE
    committed = [commit(engine, modelled("honest", SEED_S / 2, 10 + i), "no faster")
                 for i in range(4)]
    assert sum(v is not None for v in committed) <= 1, [v and v.id for v in committed]


def test_the_seed_itself_is_rescored_alone_beside_the_anchor(engine: Engine) -> None:
    """v0 is the seed: beside itself there is nothing to time, so it is measured alone, as
    before (beside the seed it had no score, and its rescore failed)."""
    session = engine.session
    report = Rescorer(session, engine.trials.books.evaluator, say=lambda line: None).run(
        [session.version("v0")])
    assert not report.failed and [c.version for c in report.changes] == ["v0"]
    assert anchor_ratio(report.changes[0].now) == pytest.approx(1.0, rel=0.1)


@pytest.fixture
def short_gate(tmp_path: Path, worker: ModelWorker) -> Iterator[Engine]:
    """A gate capped at 2 s, which a noisy kernel's record cannot reach RECORD_SE in."""
    evaluator = Evaluator(SPEC, worker, quick=True)
    settings = RunSettings(quick=True, gate_cap_s=2.0)
    session = create_session(tmp_path / "short", SPEC, settings, SEED, evaluator)
    with session:
        yield Engine(session, Tuner(1), evaluator)


def test_a_kernel_too_noisy_to_record_is_not_committed_however_fast(short_gate: Engine) -> None:
    """A kernel that spins a random while in each launch reaches the gate's cap with its rate
    over the anchor known to several percent; once the best, it could slow itself beside its
    successors by that much unseen. Where the best was recorded to RECORD_SE, it is refused,
    with why; an honest kernel as fast is committed by the same gate."""
    seed = short_gate.session.version("v0")
    assert seed.score is not None and seed.score.anchor_se is not None
    assert seed.score.anchor_se <= RECORD_SE  # the machine records to it

    assert commit(short_gate, modelled("noisy", SEED_S / 2, 1), "twice as fast, noisy") is None
    refused = short_gate.session.recent_attempts(1)[0]
    assert "cannot be checked later as the best" in refused.detail, refused.detail
    assert re.search(r"stayed known to ±\d+\.\d+%", refused.detail)

    honest = commit(short_gate, modelled("honest", SEED_S / 2, 2), "twice as fast")
    assert honest is not None, short_gate.session.recent_attempts(1)[0].detail
    assert honest.score is not None and honest.score.anchor_se is not None
    assert honest.score.anchor_se <= RECORD_SE


@pytest.mark.parametrize("rougher", [10, 50])
def test_an_honest_kernel_on_a_machine_loaded_since_the_best_s_record_is_committed(
        short_gate: Engine, worker: ModelWorker, rougher: int) -> None:
    """The seed is recorded to RECORD_SE on a quiet machine; then every kernel, the anchor
    and the best too, times ten (or fifty) times less steadily (a loaded CPU). An honest
    kernel four times as fast reaches the cap with a record rougher than RECORD_SE, and the
    anchor alone jitters as much: the machine's noise, not the kernel's, so it is committed (a
    loaded CPU refused an honest 1.7x gain so, at ±3.66%). At fifty times the record is about
    4%, past the 2% that the best's own roughness could once excuse."""
    honest = on_a_loaded_machine(short_gate, worker, rougher * modelled_lineage.NOISE)
    assert honest is not None, short_gate.session.recent_attempts(1)[0].detail
    assert honest.score is not None and honest.score.anchor_se is not None
    assert honest.score.anchor_se > RECORD_SE  # the rule was asked, and let it through


def test_a_best_rough_only_beside_its_successor_excuses_no_rough_record(
        short_gate: Engine) -> None:
    """A colluding pair against the rough-record rule: v1, honest alone, spreads its launches
    beside its successor as much as the successor spreads its own, so that the successor's
    roughness looks like the machine's. The anchor, which no agent wrote, stays steady: the
    successor is refused. (Where the best's reading beside it was the witness, up to 2%, this
    successor was committed with a record of about 1.2%, the best reading as rough beside it,
    at the 400-odd sweeps a 2 s cap takes on a quiet machine.)"""
    masking = commit(short_gate, modelled("masking", SEED_S / 2, 1), "twice the seed's speed")
    assert masking is not None and masking.score is not None
    assert masking.score.anchor_se is not None and masking.score.anchor_se <= RECORD_SE

    assert commit(short_gate, modelled("noisy", SEED_S / 4, 2), "twice again, noisy") is None
    refused = short_gate.session.recent_attempts(1)[0]
    assert "cannot be checked later as the best" in refused.detail, refused.detail
    assert "the anchor alone jittered" in refused.detail, refused.detail


def on_a_loaded_machine(engine: Engine, worker: ModelWorker, spread: float) -> Version | None:
    """The seed recorded to RECORD_SE, then an honest kernel four times as fast asked of the
    gate with every kernel's launches spread by ``spread``."""
    seed = engine.session.version("v0")
    assert seed.score is not None and seed.score.anchor_se is not None
    assert seed.score.anchor_se <= RECORD_SE
    worker.spread = spread
    try:
        return commit(engine, modelled("honest", SEED_S / 4, 1), "four times as fast")
    finally:
        worker.spread = modelled_lineage.NOISE



@pytest.mark.parametrize("noise_pct", [5.0, 20.0])
def test_on_a_machine_too_rough_to_check_the_best_a_zero_gain_successor_is_undecided(
        engine: Engine, monkeypatch: pytest.MonkeyPatch, noise_pct: float) -> None:
    """Safety before liveness (issue 84): v1 takes 15% longer beside its successors, and the
    session's readings disagree by ``noise_pct`` (a loaded CPU's). The anchor check's bound
    would grow with that noise past the 15% unseen, and each zero-gain successor, reading +15%
    beside v1, was committed. The bound stops at its limit: past it, the successor must beat
    v1's record too, and against the record it has no gain to show: undecided, saying how
    rough the machine was and what would settle it. Three successors, none committed."""
    monkeypatch.setattr(modelled_lineage, "COLLUDING_SLOWDOWN", 1.15)
    colluder = commit(engine, modelled("colluding", SEED_S / 2, 1), "twice the seed's speed")
    assert colluder is not None, engine.session.recent_attempts(1)[0].detail
    for tag in range(10, 13):
        engine.gate.noise.pairs_pct[:] = [noise_pct] * 5  # the session as a loaded CPU left it
        assert commit(engine, modelled("honest", SEED_S / 2, tag), "no faster") is None
        decision = engine.session.recent_attempts(1)[0]
        assert decision.outcome == Outcome.UNDECIDED, decision.detail
        assert "too rough to check v1" in decision.detail, decision.detail
        # the noise, not the reading, is most of the bound: more time would not settle it
        assert "most of that is the session's noise" in decision.detail, decision.detail
        assert "--gate-cap" not in decision.detail
        assert re.search(r"read to ±\d+\.\d+%", decision.detail), decision.detail
    assert len(engine.session.lineage) == 2
    # no decision is remembered: on a quieter machine the kernel is measured again
    assert engine.gate.decisions.get(decision.kernel, engine.session.best()) is None


def test_on_a_machine_too_rough_to_check_the_best_an_honest_2x_gain_is_still_committed(
        engine: Engine) -> None:
    """The same rough session: an honest kernel twice v1's speed beats v1's record as well as
    v1 timed beside it, so the limit costs it nothing."""
    v1 = commit(engine, modelled("honest", SEED_S / 2, 1), "twice the seed's speed")
    assert v1 is not None, engine.session.recent_attempts(1)[0].detail
    engine.gate.noise.pairs_pct[:] = [20.0] * 5
    v2 = commit(engine, modelled("honest", SEED_S / 4, 2), "twice v1's speed")
    decision = engine.session.recent_attempts(1)[0]
    assert v2 is not None, decision.detail
    assert f"over {v1.id}'s recorded rate" in decision.detail  # the record was asked too


def test_the_check_s_bound_stays_under_its_limit_on_a_gpu() -> None:
    """GPU records are within ±0.3% at the gate's cap, and its session noise stays near the
    floor: the limit never bites there (it would cost GPU users decisions for nothing)."""
    record_se = reading_se = 0.003
    for noise_pct in (0.5, 1.0):
        for dof in (4, 10, 40):
            bound = anchor_bound(math.hypot(record_se, reading_se), dof, noise_pct)
            assert bound < ANCHOR_BOUND_LIMIT, (noise_pct, dof, bound)


@pytest.mark.parametrize(("reading_se", "record_se", "noise_pct", "settles"), [
    (0.04, 0.005, 0.5, "more time (--gate-cap)"),
    (0.005, 0.04, 0.5, "`avo rescore v1` on a quiet machine"),
    (0.005, 0.005, 12.0, "the session's noise (two readings of one kernel 12.0% apart"),
])
def test_a_check_too_rough_to_decide_names_what_would_settle_it(
        reading_se: float, record_se: float, noise_pct: float, settles: str) -> None:
    """More time shrinks only the best's reading beside the candidate: where its record or
    the session's noise is most of the check's bound, the words say so, and what would
    settle it instead (a loaded CPU's session once stayed undecided for good, advised
    --gate-cap while its seed's record was known to ±48%)."""
    dof = 10
    allowed = anchor_bound(math.hypot(reading_se, record_se), dof, noise_pct)
    check = IncumbentCheck("v1", "seed", 0.0, record_se, 0.0, reading_se, dof, allowed,
                           noise_pct=noise_pct)
    assert check.too_rough
    words = check.roughness_words()
    assert settles in words, words
    assert ("--gate-cap" in words) == (settles.startswith("more time")), words
