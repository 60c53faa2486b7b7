"""The tuner when little or nothing new is left: it reaches every setting that is left, and when
none is, its lane ends saying so, instead of spending step after step finding nothing (a run
once took 1,391 such steps, each "every knob setting the tuner can reach from v0 was already
evaluated", while settings were left)."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import (
    KERNEL,
    SHORT_GATE_CAP_S,
    TARGET,
    new_session,
    repeated,
    start,
)

from avo_tui.engine import Engine, seed_files
from avo_tui.evaluation import Worker
from avo_tui.evaluation.declarations import contract
from avo_tui.evaluation.declarations.candidate import apply_knobs
from avo_tui.store import Score, Session

NOTHING_NEW = "already evaluated"


def knob_seed(lines: str) -> dict[str, str]:
    """The target's seed doing its work REPEAT times, with ``lines`` (its knobs and
    requirements) before MAX_HEAD_DIM, and its own knobs made plain #defines."""
    text = repeated(seed_files(TARGET), "REPEAT")[KERNEL]
    text = "\n".join(line.split("// avo:knob")[0].rstrip() for line in text.splitlines())
    return {KERNEL: text.replace("#define MAX_HEAD_DIM", lines + "\n#define MAX_HEAD_DIM")}


def knobs_of(session: Session, attempt_id: str) -> dict[str, str]:
    source = session.blobs.get_text(session.attempt(attempt_id).files[KERNEL])
    return {k.name: k.value for k in contract.parse(source).knobs}


def steps_done(live_engine: Engine) -> int:
    return live_engine.books.usage.steps


def test_the_run_ends_once_every_setting_the_requirements_allow_is_spent(
    tmp_path: Path, worker: Worker
) -> None:
    """Of REPEAT's three values the kernel's avo:require rules out one, so the tuner has one
    candidate (REPEAT 3). Once it is evaluated the lane ends, finished, with a line that says
    why; it does not spend the rest of the step budget finding nothing."""
    seed = knob_seed("#define REPEAT 4   // avo:knob 2 3 4\n// avo:require REPEAT > 2")
    session = new_session(tmp_path / "run", worker, seed, gate_cap_s=SHORT_GATE_CAP_S)
    live = start(session, worker, max_steps=12)
    reason = live.finish()
    assert [knobs_of(session, f"a{n}")["REPEAT"] for n in range(1, session.attempt_count + 1)
            if session.attempt(f"a{n}").base == "v0"][:1] == ["3"]
    assert "nothing new to try" in reason and "avo:require" in reason, reason
    assert steps_done(live.engine) <= 2, reason  # the candidate's step, and the one that said so
    status = session.state["status"]
    assert status == "finished", status
    session.close()


# REPEAT 8 is the seed (v0), SPARE is used nowhere. Already evaluated: the best two settings
# have REPEAT 4 (SPARE 0 and 1), the seed's REPEAT 8 with every SPARE. Left: REPEAT 4 with SPARE
# 2 or 3. A redirect's wide mutation changes both knobs of whatever parent it starts from, and
# from the REPEAT 4 parents that gives only REPEAT 8: settings already evaluated.
WIDE_SEED = knob_seed("#define REPEAT 8   // avo:knob 4 8\n#define SPARE 0   // avo:knob 0 1 2 3")
TRIED = [({"REPEAT": "4", "SPARE": "0"}, 1e9), ({"REPEAT": "4", "SPARE": "1"}, 1e8)] + [
    ({"REPEAT": "8", "SPARE": spare}, 0.0) for spare in ("1", "2", "3")]
LEFT = [{"REPEAT": "4", "SPARE": "2"}, {"REPEAT": "4", "SPARE": "3"}]
# The tuner's seed whose redirect starts from REPEAT=4 SPARE=1 (not from the seed, whence a
# wide mutation could reach REPEAT 4 by chance); the test checks it does.
TUNER_SEED = 2


def test_after_a_redirect_the_tuner_still_reaches_the_settings_left(
    tmp_path: Path, worker: Worker
) -> None:
    session = new_session(tmp_path / "run", worker, WIDE_SEED, gate_cap_s=SHORT_GATE_CAP_S)
    for values, gmean in TRIED:
        session.record_attempt(apply_knobs(WIDE_SEED, values), base="v0", author="tuner",
                               outcome="not_confirmed" if gmean else "failed",
                               score=Score(gmean, unit="GFLOP/s") if gmean else None)
    before = session.attempt_count

    def redirect_first(engine: Engine) -> None:
        engine.lanes[0].redirect = "a test's redirect"

    live = start(session, worker, max_steps=1, seed=TUNER_SEED, before=redirect_first)
    reason = live.finish()
    plans = [e.data.get("text", "") for e in live.kinds("plan")]
    assert any("starting from REPEAT=4 SPARE=1" in plan for plan in plans), plans
    steps = [e.data.get("summary", "") for e in live.kinds("step")]
    assert session.attempt_count > before, (reason, steps)
    assert knobs_of(session, f"a{before + 1}") in LEFT
    assert not any(NOTHING_NEW in s for s in steps), steps
    session.close()
