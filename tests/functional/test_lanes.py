"""Lanes: several operators at work on one session at once (docs/engine.md, Lanes), on the real
thing: a session on disk, tuners or scripted operators, and the CPU worker scoring real
kernels on the cpu-attention quick grid. Nothing here waits on the clock or on which thread
is faster: lanes that must meet wait for each other through events."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import (
    KERNEL,
    ONCE,
    TARGET,
    TENFOLD,
    TENFOLD_CPU_ATTENTION,
    TENFOLD_TIMES,
    LiveRun,
    head_of,
    new_session,
    repeat_knob_seed,
    repeat_line,
    repeated,
    start,
    tenfold_session,
)
from test_gpu_pool import GUARD_S, StandIn, h200
from test_run_cli import STOPPING, avo, freeze_while, wait_until

from avo_tui.cli import main
from avo_tui.engine import (
    Budgets,
    Engine,
    Evaluator,
    Guidance,
    Hint,
    Pause,
    Progress,
    Resume,
    Stop,
    SupervisorLimits,
    seed_files,
)
from avo_tui.engine.inbox import queued
from avo_tui.evaluation import EvalResult, Worker, get_target
from avo_tui.evaluation.declarations import contract
from avo_tui.evaluation.results import ConfigResult
from avo_tui.operators import Operator, StepContext, StepResult, Trial, Tuner
from avo_tui.pool import EvalWorker, WorkerPool
from avo_tui.store import Attempt, Event, RunState, Score, Session, payload_of

COMMIT_TRIES = 5  # first readings are compared with a score taken at another moment


def start_lanes(
    session: Session, worker: EvalWorker | WorkerPool, operators: Sequence[Operator], *,
    max_steps: int | None = None, before: Callable[[Engine], None] | None = None,
    limits: SupervisorLimits | None = None,
) -> LiveRun:
    """Run an engine with one lane per operator in a thread, as engine_helpers.start does."""
    target = get_target(session.meta["target"])
    engine = Engine(session, list(operators), Evaluator(target, worker, quick=True),
                    budgets=Budgets(max_steps=max_steps), limits=limits)
    thread = threading.Thread(target=lambda: live.result.append(engine.run()), daemon=True)
    live = LiveRun(engine, thread)
    engine.subscribe(live.events.append)
    if before:
        before(engine)
    thread.start()
    return live


def saves_watched(engine: Engine, unlocked: list[str]) -> None:
    """Each write of ``engine``'s run state (books.save, books.save_lanes) made without the
    books' lock held is named in ``unlocked``, with the thread that made it."""
    books = engine.books
    for name in ("save", "save_lanes"):
        original = getattr(books, name)

        def watched(original: Callable[[], None] = original, name: str = name) -> None:
            if not books._lock._is_owned():  # type: ignore[attr-defined]
                unlocked.append(f"{name} in {threading.current_thread().name}")
            original()

        setattr(books, name, watched)


def lane_events(live: LiveRun, kind: str, lane: int) -> list[Event]:
    return [e for e in live.kinds(kind) if e.data.get("lane") == lane]


def knob(files: dict[str, str], name: str) -> str:
    return next(k.value for k in contract.parse(files[KERNEL]).knobs if k.name == name)


def attempt_files(session: Session, attempt_id: str) -> dict[str, str]:
    return {n: session.blobs.get_text(h) for n, h in session.attempt(attempt_id).files.items()}


class Scripted:
    """An operator that plays ``behaviour`` at every step."""

    name = "tuner"

    def __init__(self, behaviour: Callable[[StepContext], StepResult]) -> None:
        self.behaviour = behaviour
        self.redirects: list[str] = []

    def step(self, ctx: StepContext) -> StepResult:
        return self.behaviour(ctx)

    def redirect(self, ctx: StepContext, reason: str) -> None:
        self.redirects.append(reason)


def check_lineage(session: Session, lanes: set[int]) -> None:
    """No version lost or duplicated: ids consecutive, each committed attempt is exactly one
    version and each version (but the seed) exactly one committed attempt, with its lane."""
    ids = session.lineage.ids
    assert ids == [f"v{n}" for n in range(len(ids))]
    attempts = [session.attempt(f"a{n}") for n in range(1, session.attempt_count + 1)]
    assert all(a.lane in lanes for a in attempts), [(a.id, a.lane) for a in attempts]
    committed = [a for a in attempts if a.outcome == "committed"]
    versions = list(session.lineage)[1:]
    assert sorted(a.version or "" for a in committed) == sorted(v.id for v in versions)
    for version in versions:
        [attempt] = [a for a in committed if a.version == version.id]
        assert f"re-evaluation of {version.attempt}" in attempt.detail
        assert version.lane == attempt.lane in lanes
        assert session.attempt(version.attempt or "").lane == version.lane  # its first reading
        assert version.parent == attempt.base  # the version its lane built on


# -- the one gate ---------------------------------------------------------------------------


def test_lanes_asking_the_gate_for_one_kernel_make_one_version(
    tmp_path: Path, worker: Worker
) -> None:
    """The seed declares one knob whose only other value is 12 times as fast
    (engine_helpers.tenfold_seed): every tuner lane has that one candidate. However the lanes
    interleave, it becomes one version, v1, and any other lane's request for it is answered
    without a second version."""
    with tenfold_session(tmp_path / "tenfold", worker) as session:
        unlocked: list[str] = []
        live = start_lanes(session, worker, [Tuner(1), Tuner(2), Tuner(3)], max_steps=12,
                           before=lambda engine: saves_watched(engine, unlocked))
        reason = live.finish(300)
        assert reason.startswith("every knob setting") or reason.startswith("step budget"), reason
        # a save outside the lock can write a lane's state older than another lane's step
        # saved before it (the sum of the lanes' steps below once read 5 against 6)
        assert unlocked == [], unlocked
        assert session.lineage.ids == ["v0", "v1"], [
            (a.id, a.lane, a.outcome, a.detail) for a in session.recent_attempts(30)]
        check_lineage(session, {1, 2, 3})
        assert ONCE in session.read_files("v1")[KERNEL]
        steps = live.kinds("step")
        assert sorted(e.data["step"] for e in steps) == list(range(1, len(steps) + 1))
        assert {e.data["lane"] for e in steps} <= {1, 2, 3}
        lanes = session.run_state.lanes
        assert sum(lane.steps for lane in lanes.values()) == session.state["step"] == len(steps)
        assert sum(lane.commits for lane in lanes.values()) == 1
        ended = [e for e in live.kinds("status") if e.data.get("lane")]
        assert {e.data["lane"] for e in ended if e.data["status"] == "finished"} == {1, 2, 3}


def test_tuner_lanes_keep_the_lineage_whole(session: Session, worker: Worker) -> None:
    """Three tuners on the target's seed, whatever they find: every record names its lane,
    every committed attempt is one version, step numbers are unique."""
    live = start_lanes(session, worker, [Tuner(1), Tuner(2), Tuner(3)], max_steps=6)
    assert live.finish(300) == "step budget reached (6 of 6)"
    check_lineage(session, {1, 2, 3})
    assert sorted(e.data["step"] for e in live.kinds("step")) == [1, 2, 3, 4, 5, 6]
    assert all(payload_of(e).lane in (1, 2, 3) for e in live.kinds("attempt"))  # type: ignore[union-attr]
    state = session.run_state
    assert state.damaged == () and state.in_flight is None
    assert sum(lane.steps for lane in state.lanes.values()) == 6
    assert all(lane.in_flight is None and lane.operator == "tuner"
               for lane in state.lanes.values())


def promising(ctx: StepContext, files: dict[str, str]) -> Trial:
    """Evaluate ``files`` until a first reading comes out promising (it is compared with a
    score the seed took at another moment)."""
    for _ in range(COMMIT_TRIES):
        trial = ctx.evaluate(files, base=head_of(ctx).id)
        if trial.outcome == "promising":
            return trial
    raise AssertionError(f"never promising: {trial.attempt.detail}")


def test_a_lane_whose_best_moved_is_judged_against_the_new_best_and_told(
    tmp_path: Path, worker: Worker
) -> None:
    """Lane 2 evaluates the faster kernel on v0, then waits while lane 1 commits the same
    kernel as v1; when lane 2 asks the gate, the gate reads the best of now, v1: nothing new
    to commit, and lane 2 is told the best moved under it."""
    committed = threading.Event()
    answers: list[Any] = []

    def first(ctx: StepContext) -> StepResult:
        head = ctx.session.read_files(head_of(ctx))
        files = {n: t.replace(TENFOLD, ONCE) for n, t in head.items()}
        for _ in range(COMMIT_TRIES):
            version = ctx.commit(promising(ctx, files), "lane 1: once")
            if version:
                return StepResult("committed", committed=version, exhausted=True)
        return StepResult("no commit", exhausted=True)

    def second(ctx: StepContext) -> StepResult:
        head = ctx.session.read_files(head_of(ctx))
        files = {n: t.replace(TENFOLD, ONCE) for n, t in head.items()}
        trial = promising(ctx, files)
        assert committed.wait(300)
        version = ctx.commit(trial, "lane 2: once")
        answers.append((version, ctx.gate_answer()))
        return StepResult("asked", exhausted=True)

    with tenfold_session(tmp_path / "tenfold", worker) as session:
        live = start_lanes(session, worker, [Scripted(first), Scripted(second)], before=lambda e:
                           e.subscribe(lambda ev: committed.set() if ev.kind == "commit" else None))
        live.finish(300)
        assert session.lineage.ids == ["v0", "v1"] and session.version("v1").lane == 1
        [(version, answer)] = answers
        assert version is None and answer.attempt.outcome == "unchanged"
        assert (answer.best, answer.moved_from) == ("v1", "v0")
        assert "identical to v1" in answer.attempt.detail
        assert "the best moved from v0 to v1 during this step" in answer.attempt.detail
        assert answer.attempt.lane == 2
        assert "The best moved from v0 to v1" in answer.moved()
        check_lineage(session, {1, 2})


def test_a_lane_overtaken_is_rebased_onto_the_new_best_and_goes_on(
    tmp_path: Path, worker: Worker
) -> None:
    """Lane 2's step begins on v0; lane 1 commits a 12x faster kernel as v1 meanwhile, and
    lane 2's request for that same kernel is refused. Its step is then rebased onto v1: it
    builds on v1 from now on, so its next request in the same step, a kernel 12x as fast
    again, built on v1, is judged as a step begun on v1 (the best did not move under it) and
    commits v2 with v1 for parent. Each gain is one no load can hide (docs/testing.md)."""
    committed = threading.Event()
    seen: list[Any] = []
    times = (TENFOLD_TIMES**2, TENFOLD_TIMES, 1)
    seed, tenfold, once = (repeat_line(n, " ".join(map(str, times))) for n in times)

    def first(ctx: StepContext) -> StepResult:
        head = ctx.session.read_files(head_of(ctx))
        files = {n: t.replace(seed, tenfold) for n, t in head.items()}
        for _ in range(COMMIT_TRIES):
            version = ctx.commit(promising(ctx, files), "lane 1: 12 times")
            if version:
                return StepResult("committed", committed=version, exhausted=True)
        return StepResult("no commit", exhausted=True)

    def second(ctx: StepContext) -> StepResult:
        head = ctx.session.read_files(head_of(ctx))
        files = {n: t.replace(seed, tenfold) for n, t in head.items()}
        trial = promising(ctx, files)
        assert committed.wait(300)
        seen.append((ctx.commit(trial, "lane 2: 12 times"), ctx.gate_answer()))
        base = head_of(ctx)
        seen.append(base.id)
        faster = {n: t.replace(tenfold, once) for n, t in ctx.session.read_files(base).items()}
        for _ in range(COMMIT_TRIES):
            version = ctx.commit(promising(ctx, faster), "lane 2: once, on v1")
            if version:
                seen.append(ctx.gate_answer())
                return StepResult("committed", committed=version, exhausted=True)
        return StepResult("no commit", exhausted=True)

    files = repeat_knob_seed(seed_files(TARGET), seed)
    with new_session(tmp_path / "overtaken", worker, files,
                     target=TENFOLD_CPU_ATTENTION) as session:
        live = start_lanes(session, worker, [Scripted(first), Scripted(second)], before=lambda e:
                           e.subscribe(lambda ev: committed.set() if ev.kind == "commit" else None))
        live.finish(300)
        (refused, answer), rebased_on, last = seen
        assert refused is None and "identical to v1" in answer.attempt.detail
        assert (answer.moved_from, answer.rebased_onto) == ("v0", "v1")
        assert "this step now builds on v1" in answer.moved()
        assert rebased_on == "v1"
        assert session.lineage.ids == ["v0", "v1", "v2"]
        v2 = session.version("v2")
        assert (v2.lane, v2.parent) == (2, "v1") and once in session.read_files(v2)[KERNEL]
        assert last.moved_from is None and "moved" not in last.attempt.detail
        assert len(lane_events(live, "step", 2)) == 1  # all in the step that was overtaken
        check_lineage(session, {1, 2})


def scored(gmean: float) -> EvalResult:
    result = EvalResult(TARGET.name, TARGET.toolchain, "cpu", TARGET.unit, seed=1, quick=True)
    result.configs = [ConfigResult(config, throughput=gmean) for config in TARGET.grid(True)]
    return result


def test_a_candidate_the_new_best_overtook_is_not_measured_again(tmp_path: Path) -> None:
    """A lane's promising first reading against v0 is slower than v1, committed by another
    lane meanwhile: the gate answers without a re-evaluation (the worker never starts)."""
    seed = {KERNEL: "// seed\n"}
    with Session.create(tmp_path / "s", target=TARGET.name, operator="tuner", seed_files=seed,
                        score=Score(10.0, unit=TARGET.unit)) as session:
        evaluator = Evaluator(TARGET, Worker("cpu"), quick=True)
        engine = Engine(session, [Tuner(1), Tuner(2)], evaluator)
        lane = engine.lanes[1]
        lane.best_at_start = "v0"
        first = session.record_attempt({KERNEL: "// faster\n"}, base="v0", author="tuner",
                                       outcome="promising")
        session.commit({KERNEL: "// fastest\n"}, author="tuner", message="v1",
                       score=Score(20.0, unit=TARGET.unit))
        trial = Trial(first, scored(12.0), {KERNEL: "// faster\n"}, "key")
        assert engine.commit(trial, "faster", "tuner", lane=2) is None
        answer = lane.answer
        assert answer is not None and answer.attempt.outcome == "slower"
        assert "not re-evaluated" in answer.attempt.detail and answer.moved_from == "v0"
        assert answer.attempt.lane == 2 and evaluator.count == 0


# -- per-lane controls, spend and the supervisor ----------------------------------------------


def send(root: Path, *words: str) -> None:
    assert main(["--sessions-dir", str(root), "send", *words]) == 0


def test_a_command_for_one_lane_acts_on_that_lane_alone(
    session: Session, worker: Worker, capsys: pytest.CaptureFixture[str]
) -> None:
    """From a shell: lane 2 is paused before the run starts and lane 1 gets a hint; lane 1
    works (with the hint), lane 2 does nothing; then lane 1 is stopped and the run goes on,
    paused, until lane 2 is resumed."""
    session.set_state(lane_count=2, announce=False)  # as avo run --session NAME --lanes 2 does
    root, name = session.directory.parent, session.directory.name
    send(root, name, "--lane", "2", "pause")
    send(root, name, "--lane", "1", "hint", "please try BLOCK_Q = 16")
    assert "(lane 2)" in capsys.readouterr().out
    assert [q.command for q in queued(session.directory)] == [
        Pause(lane=2), Hint("please try BLOCK_Q = 16", lane=1)]
    live = start_lanes(session, worker, [Tuner(1), Tuner(2)])
    live.wait(lambda: len(lane_events(live, "step", 1)) >= 2)
    attempts = [session.attempt(f"a{n}") for n in range(1, session.attempt_count + 1)]
    assert {a.lane for a in attempts} == {1}  # lane 2 has not evaluated anything
    assert knob(attempt_files(session, "a1"), "BLOCK_Q") == "16"
    acks = [e.data for e in live.kinds("hint") if e.data["action"] != "received"]
    assert [(a["action"], a.get("lane")) for a in acks] == [("used", 1)]
    assert lane_events(live, "pause", 2) and not lane_events(live, "pause", 1)
    lanes = session.run_state.lanes
    assert (lanes["1"].status, lanes["2"].status) == ("running", "paused")
    assert session.state["status"] == "running"

    live.engine.submit(Pause(lane=7))  # no such lane: said, and nothing else happens
    live.engine.submit(Stop("lane 1 is done", lane=1))
    live.wait(lambda: any(e.data.get("lane") == 1 for e in live.kinds("status")
                          if e.data["status"] == "stopped"))
    done = session.attempt_count
    live.wait(lambda: session.state["status"] == "paused")  # lane 2, all that runs, is paused
    assert live.thread.is_alive()
    assert any("no lane 7" in e.data["message"] for e in live.kinds("error"))
    live.engine.submit(Resume(lane=2))
    live.wait(lambda: any(session.attempt(f"a{n}").lane == 2
                          for n in range(done + 1, session.attempt_count + 1)))
    live.engine.submit(Stop())
    assert live.finish(120) == "stop requested"
    later = [session.attempt(f"a{n}") for n in range(done + 1, session.attempt_count + 1)]
    assert {a.lane for a in later} == {2}  # lane 1 did nothing after its stop
    assert session.run_state.lanes["1"].reason == "lane 1 is done"


def test_avo_send_names_a_lane_the_session_has(
    session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    root, name = session.directory.parent, session.directory.name
    words = ["--sessions-dir", str(root), "send", name]
    for argv, error in [
        ([*words, "--lane", "2", "hint", "x"], "has no lane 2: it runs 1 lane"),
        ([*words, "--lane", "1", "rollback", "v0"], "--lane applies to pause, resume, stop, "
                                                    "hint and guide; rollback acts on"),
    ]:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("avo: error: ") and error in err and err.count("\n") == 1, err
    session.set_state(lane_count=3, announce=False)
    assert main([*words, "--lane", "3", "guide", "vary", "UNROLL"]) == 0
    assert main([*words, "stop"]) == 0
    assert [q.command for q in queued(session.directory)] == [
        Guidance("vary UNROLL", lane=3), Stop("stopped by avo send")]


def test_each_lane_s_spend_is_its_own_and_adds_up_to_the_session_s(
    session: Session, worker: Worker
) -> None:
    def spends(cost: float, tokens: int) -> Scripted:
        def step(ctx: StepContext) -> StepResult:
            ctx.charge(cost, tokens)
            return StepResult(f"spent ${cost}")

        return Scripted(step)

    live = start_lanes(session, worker, [spends(0.5, 100), spends(0.25, 10)], max_steps=8)
    assert live.finish(60) == "step budget reached (8 of 8)"
    lanes = session.run_state.lanes
    one, two = lanes["1"], lanes["2"]
    assert one.steps + two.steps == 8 == session.state["step"]
    assert one.cost_usd == pytest.approx(0.5 * one.steps) and one.tokens == 100 * one.steps
    assert two.cost_usd == pytest.approx(0.25 * two.steps) and two.tokens == 10 * two.steps
    usage = session.state["usage"]
    assert usage["cost_usd"] == pytest.approx(one.cost_usd + two.cost_usd)
    assert usage["tokens"] == one.tokens + two.tokens
    for event in live.kinds("step"):  # each step's cost is its lane's, not the others'
        cost, tokens = (0.5, 100) if event.data["lane"] == 1 else (0.25, 10)
        assert (event.data["cost_usd"], event.data["tokens"]) == (cost, tokens)


def test_the_supervisor_redirects_the_stalled_lane_and_the_others_go_on(
    session: Session, worker: Worker
) -> None:
    broken = {KERNEL: "void avo_attention_fwd(void) { oops; }\n"}

    def failing(ctx: StepContext) -> StepResult:
        trial = ctx.evaluate(broken, base=head_of(ctx).id)
        return StepResult(trial.outcome)

    attempted, stopping = threading.Event(), threading.Event()

    def thinking(ctx: StepContext) -> StepResult:  # a step for each of lane 2's attempts
        attempted.wait(120)
        if not stopping.is_set():
            attempted.clear()
        return StepResult("thinking")

    calm, stuck = Scripted(thinking), Scripted(failing)
    live = start_lanes(session, worker, [calm, stuck], max_steps=None,
                       limits=SupervisorLimits(consecutive_failures=2), before=lambda e:
                       e.subscribe(lambda ev: attempted.set() if ev.kind == "attempt" else None))
    live.wait(lambda: bool(stuck.redirects))
    live.engine.submit(Stop())
    stopping.set()
    attempted.set()
    live.finish(120)
    [redirect] = live.kinds("supervisor")[:1]
    assert redirect.data["lane"] == 2 and redirect.data["action"] == "redirect"
    assert stuck.redirects and not calm.redirects
    assert lane_events(live, "step", 1)  # lane 1 went on meanwhile


# -- what each lane is doing now: its progress, the GPU its evaluation holds --------------------


def evaluate_once(ctx: StepContext) -> StepResult:
    """A kernel of its lane's own, new to the session: one the session knows is not evaluated
    again (engine/twins.py)."""
    files = repeated(ctx.session.read_files(head_of(ctx)), 2 + (ctx.lane or 0))
    trial = ctx.evaluate(files, base=head_of(ctx).id)
    return StepResult(trial.outcome, exhausted=True)


def test_progress_names_its_lane_as_data(session: Session, worker: Worker) -> None:
    """Each evaluation phase reaches the listeners with its lane as a field, its text free of
    any lane; with one lane the field is None, as the text always was."""
    alone: list[Progress] = []
    start(session, worker, operator=Scripted(evaluate_once),
          before=lambda engine: engine.on_progress(alone.append)).finish(120)
    assert alone and {p.lane for p in alone} == {None}
    assert any(p.text.startswith("check") for p in alone)

    heard: list[Progress] = []
    live = start_lanes(session, worker, [Scripted(evaluate_once), Scripted(evaluate_once)],
                       before=lambda engine: engine.on_progress(heard.append))
    live.finish(120)
    assert {p.lane for p in heard if p.text.startswith("check")} == {1, 2}
    assert not any(p.text.startswith("lane") for p in heard)
    checked = next(p for p in heard if p.lane == 2)
    assert checked.line() == f"L2 {checked.text}"


def test_a_lane_evaluating_says_which_gpu_its_evaluation_holds(session: Session) -> None:
    """Two lanes evaluate at once on a pool of two GPUs: while they do, each lane's candidate
    in flight names the GPU its lease holds, one each; once done, nothing is in flight."""
    arrived, release = threading.Semaphore(0), threading.Event()

    def hold(_: StandIn) -> None:
        arrived.release()
        assert release.wait(GUARD_S)

    pool = WorkerPool([StandIn(h200(0, "aaaa"), gate=hold), StandIn(h200(1, "bbbb"), gate=hold)])
    live = start_lanes(session, pool, [Scripted(evaluate_once), Scripted(evaluate_once)])
    for _ in range(2):
        assert arrived.acquire(timeout=GUARD_S)  # both evaluations hold their GPU now
    state = session.run_state
    flights = [state.lane(1).in_flight, state.lane(2).in_flight]
    assert sorted(f.gpu or "" for f in flights if f is not None) == ["0", "1"]
    release.set()
    live.finish(120)
    state = session.run_state
    assert state.in_flight is None and state.lanes["2"].in_flight is None


# -- kill -9 and Ctrl-C of a run of two lanes, from a shell ------------------------------------


@dataclass(frozen=True)
class Acknowledged:
    """What a run had written when it was cut: versions and attempts (as documents), each
    lane's candidate in flight, each lane's steps."""

    versions: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    flying: dict[int, dict[str, Any]]
    steps: dict[str, int]


def both_in_flight(path: Path) -> Acknowledged | None:
    """What the session holds now, when both its lanes have a candidate in flight (read in one
    go, so the candidates are those of that moment); None otherwise."""
    if not (path / "session.json").exists():
        return None
    with Session.open(path, writable=False) as s:
        state = s.run_state
        flights = {1: state.lane(1).in_flight, 2: state.lane(2).in_flight}
        if not all(flights.values()) or state.step < 1:
            return None
        flying = {n: flight.to_doc() for n, flight in flights.items() if flight}
        return Acknowledged(
            versions=[v.to_doc() for v in s.lineage],
            attempts=[s.attempt(f"a{n}").to_doc() for n in range(1, s.attempt_count + 1)],
            flying=flying,
            steps={k: lane.steps for k, lane in s.run_state.lanes.items()},
        )


def two_lanes_evaluating(
    template: Path, sessions: Path, name: str, *, frozen: bool = False
) -> tuple[subprocess.Popen[str], Acknowledged]:
    """``avo run --lanes 2 --operator tuner`` headless on a copy of ``template``, a seeded
    cpu-attention session (engine_fixtures.capped_template: its seed scored once for the test
    run), caught while both lanes have a candidate in flight: the process, and what it had
    written then. ``frozen`` leaves the process stopped (SIGSTOP) at that moment, so that
    neither evaluation can end before a kill lands."""
    shutil.copytree(template, sessions / name)
    proc = avo(sessions, "run", "--session", name, "--headless", "--lanes", "2",
               "--operator", "tuner", "--max-steps", "40", "--rng-seed", "3")
    caught: list[Acknowledged] = []

    def both_caught() -> bool:
        now = both_in_flight(sessions / name)
        if now is not None:
            caught.append(now)
        return now is not None

    (freeze_while if frozen else wait_until)(both_caught, proc)
    return proc, caught[-1]


def kept(s: Session, before: Acknowledged) -> list[Attempt]:
    """Check that every version and attempt written before the cut is there unchanged, and
    that version ids run on with none lost or repeated; the attempts written since."""
    versions = [v.to_doc() for v in s.lineage]
    assert versions[: len(before.versions)] == before.versions
    assert [v["id"] for v in versions] == [f"v{n}" for n in range(len(versions))]
    attempts = [s.attempt(f"a{n}") for n in range(1, s.attempt_count + 1)]
    assert [a.to_doc() for a in attempts[: len(before.attempts)]] == before.attempts
    return attempts[len(before.attempts):]


def resume_every_lane(sessions: Path, name: str) -> RunState:
    """Resume the session for 2 steps, one for each lane as both begin at once: each lane
    takes up its work again and says where it stands at the end. The run state then."""
    resumed = avo(sessions, "run", "--session", name, "--headless", "--max-steps", "2")
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert "tuner in 2 lanes" in out
    for lane in (1, 2):
        assert f"L{lane} lane     running" in out and f"lane {lane} (tuner, finished" in out
    with Session.open(sessions / name, writable=False) as s:
        state = s.run_state
    assert state.in_flight is None and state.status == "finished"
    assert all(lane.in_flight is None for lane in state.lanes.values())
    assert {k: v.status for k, v in state.lanes.items()} == {"1": "finished", "2": "finished"}
    return state


def test_kill_9_of_a_two_lane_run_then_resume_loses_nothing(
    capped_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = tmp_path / "sessions"
    proc, before = two_lanes_evaluating(capped_template, sessions, "lanes", frozen=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    resume_every_lane(sessions, "lanes")
    with Session.open(sessions / "lanes", writable=False) as s:
        interrupted = [a for a in kept(s, before) if a.outcome == "interrupted"]
    assert sorted(a.lane or 0 for a in interrupted) == [1, 2]
    for attempt in interrupted:
        flight = before.flying[attempt.lane or 0]
        assert attempt.files == flight["files"] and attempt.base == flight["base"]
        assert "crash or kill" in attempt.detail
    capsys.readouterr()
    assert main(["--sessions-dir", str(sessions), "sessions", "show", "lanes"]) == 0
    shown = capsys.readouterr().out
    assert "lane 1 (tuner, finished" in shown and "lane 2 (tuner, finished" in shown


def test_ctrl_c_of_a_two_lane_run_ends_every_lane_cleanly_and_a_resume_continues_them(
    capped_template: Path, tmp_path: Path,
) -> None:
    """Ctrl-C while both lanes have a candidate in flight: each evaluation finishes and is
    recorded in its lane, every lane stops, the run says so without a traceback, and the
    store holds all it held; a resume runs every lane on from its own state."""
    sessions = tmp_path / "sessions"
    proc, before = two_lanes_evaluating(capped_template, sessions, "lanes")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert STOPPING in out and "run ended: Ctrl-C." in out and "Traceback" not in out
    assert "lane 1 (tuner, stopped" in out and "lane 2 (tuner, stopped" in out
    with Session.open(sessions / "lanes", writable=False) as s:
        since = kept(s, before)
        state = s.run_state
    assert state.damaged == () and (state.status, state.reason) == ("stopped", "Ctrl-C")
    assert state.in_flight is None and all(v.in_flight is None for v in state.lanes.values())
    assert {k: v.status for k, v in state.lanes.items()} == {"1": "stopped", "2": "stopped"}
    assert not any(a.outcome == "interrupted" for a in since)  # the evaluations were let finish
    for lane, flight in before.flying.items():
        assert any(a.lane == lane and a.files == flight["files"] for a in since), lane
    stopped = {k: v.steps for k, v in state.lanes.items()}
    assert all(stopped[k] >= before.steps.get(k, 0) for k in stopped)

    lanes = resume_every_lane(sessions, "lanes").lanes
    assert all(lanes[k].steps >= stopped[k] for k in stopped)  # each lane's count goes on
    assert sum(lane.steps for lane in lanes.values()) == sum(stopped.values()) + 2
