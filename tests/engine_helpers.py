"""A live engine on a real session, a real tuner and a real CPU worker, run in a thread."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from avo_tui.engine import (
    Budgets,
    Engine,
    Evaluator,
    RunSettings,
    SupervisorLimits,
    Usage,
    create_session,
    seed_files,
)
from avo_tui.engine.commands import Command
from avo_tui.evaluation import TargetSpec, Worker, get_target
from avo_tui.operators import Operator, Tuner
from avo_tui.operators.protocol import LineageContext
from avo_tui.store import Event, Score, Session, Version

FIXTURE_TARGETS = Path(__file__).parent / "fixtures" / "targets"
# cpu-attention on a small quick grid: the engine's, the gate's and the app's tests evaluate a
# real kernel, thirty times cheaper a launch than on the shipped target's quick grid.
TARGET = get_target(str(FIXTURE_TARGETS / "cpu_attention_small.py"))


# The commit gate measures a close call (a candidate about as fast as the best) until its cap,
# 10 s on cpu-attention, and on the target's seed the tuner's knob settings often are close
# calls: a third of the evaluating time of the engine, lanes and app tests went to them. Tests
# whose steps meet the gate only on the way (lanes, commands, records, the app: none asserts
# what the gate decides of a close call) use sessions capped at this. The gate decides by the
# same rule at its cap; a clear gain (THREADS 1 -> 2 or more) is still accepted, by its last look.
SHORT_GATE_CAP_S = 3.0


def head_of(ctx: LineageContext) -> Version:
    """The version a stand-in operator's step builds on: these sessions have a seed, so a
    step always has one (a target with no seed has none before v0:
    tests/functional/test_seedless_run)."""
    head = ctx.head()
    assert head is not None, "the session has a seed"
    return head


def new_session(directory: Path, worker: Worker, files: dict[str, str] | None = None,
                gate_cap_s: float | None = None, target: TargetSpec = TARGET) -> Session:
    """A session on ``target``'s quick grid (the small cpu-attention's unless given), its seed
    (the target's, unless ``files``) scored twice, as ``avo run`` does; its gate capped at
    ``gate_cap_s`` (None: the target's, as ``avo run`` without --gate-cap)."""
    evaluator = Evaluator(target, worker, quick=True)
    return create_session(directory, target, RunSettings(quick=True, gate_cap_s=gate_cap_s),
                          files or seed_files(target), evaluator)


# cpu-attention whose implausible-jump limit is 1.01x: a candidate more than 1% faster than the
# best, timed beside it, is flagged (flagged_session).
JUMPY_TARGET = FIXTURE_TARGETS / "cpu_attention_jumpy.py"
# A seed score far below anything a correct kernel measures on any machine: a reading not timed
# beside the best, judged against this stored score, is flagged as a jump too.
IMPLAUSIBLY_LOW_SEED = 1e-3
KERNEL = "attention.c"
CALL = "        attend_block(q + qo,"
KNOB_MARK = re.compile(r"[ \t]*// avo:knob[^\n]*")


def repeated(files: dict[str, str], times: int | str) -> dict[str, str]:
    """The seed kernel doing all of its work ``times`` times: structurally slower, on any
    machine and under any load. ``times`` may be a C expression; it may read the task's index,
    ``t`` (benchmarks/lanes_run.py gives each task its own count)."""
    text = files[KERNEL]
    assert CALL in text
    loop = f"        for (int rep = 0; rep < {times}; ++rep) attend_block(q + qo,"
    return {KERNEL: text.replace(CALL, loop)}


def repeat_line(times: int, choices: str = "1 2 8") -> str:
    return f"#define REPEAT {times}   // avo:knob {choices}"


REPEAT_LINE = repeat_line(8)


def repeat_knob_seed(files: dict[str, str], line: str = REPEAT_LINE) -> dict[str, str]:
    """The seed with one knob, REPEAT (as ``line`` sets it; by default 8: eight times the
    work), and its other knobs made plain #defines. With the default, the tuner's only
    candidates, REPEAT 1 and 2, are both faster than the seed by construction, and it runs
    out of candidates after them."""
    text = KNOB_MARK.sub("", repeated(files, 8)[KERNEL]).replace("rep < 8;", "rep < REPEAT;")
    return {KERNEL: text.replace("#define MAX_HEAD_DIM", line + "\n#define MAX_HEAD_DIM")}


# Where a test needs one kernel faster than another: the slow one does all its work seven
# times, the fast one four, a gain of 1.75x by construction. Measured on two cores beside a CPU
# hog and a busy neighbour, the gate's comparison (the best timed beside the candidate) reads
# 1.63-1.86x with a bar of 5-28%, where 3 against 2 and 2 against 1 each cleared it in only
# 12 of 13.
SLOW_TIMES, FAST_TIMES = 7, 4
SLOW = repeat_line(SLOW_TIMES, f"{FAST_TIMES} {SLOW_TIMES}")
FAST = repeat_line(FAST_TIMES, f"{FAST_TIMES} {SLOW_TIMES}")


def slow_seed() -> dict[str, str]:
    """The target's seed doing all its work SLOW_TIMES times, with one knob, REPEAT, whose
    only other choice is FAST_TIMES: the tuner's one candidate is 1.75x faster. A session on
    it is scored in its own test, not copied from one scored earlier: the jump rule holds a
    candidate far above the stored score for review, and a score taken minutes before, under
    another load, let the candidate be held (three tests failed that way on a busy machine)."""
    return repeat_knob_seed(seed_files(TARGET), SLOW)


# Where a test on real CPU timing must see a gain committed: the seed does all its work
# TENFOLD_TIMES times, its one candidate once. Only a gain of 10x or more is one that no load
# can hide (docs/testing.md); smaller ones may end undecided on a loaded CPU, which is safe.
TENFOLD_TIMES = 12
TENFOLD_TARGET = FIXTURE_TARGETS / "cpu_attention_tenfold.py"
TENFOLD_CPU_ATTENTION = get_target(str(TENFOLD_TARGET))
# The tenfold seed's knob line, and its one candidate's (the edit an agent test makes).
TENFOLD = repeat_line(TENFOLD_TIMES, f"1 {TENFOLD_TIMES}")
ONCE = repeat_line(1, f"1 {TENFOLD_TIMES}")


def judged_against(detail: str, best: str = "v0") -> bool:
    """A reading or a gate's decision (an attempt's ``detail``) taken on ``best``: its gain
    timed beside it, or, where the best read slower against the anchor than it was recorded
    (on a loaded CPU an honest best can, its record a reading at another moment:
    engine/anchor_check.py), its gain over the best's recorded rate. Both are the gate's rule;
    which one a real CPU's load picks is not a test's to assert."""
    return any(words in detail for words in (f"on {best} timed beside it",
                                              f"on the best ({best}) timed beside it",
                                              f"over {best}'s recorded rate"))


def tenfold_seed() -> dict[str, str]:
    """The target's seed doing all its work TENFOLD_TIMES times, with one knob, REPEAT, whose
    only other choice is 1: the tuner's one candidate is TENFOLD_TIMES faster. Run it on
    TENFOLD_TARGET, whose jump limit lets such a gain be committed."""
    return repeat_knob_seed(seed_files(TARGET), TENFOLD)


def tenfold_session(directory: Path, worker: Worker) -> Session:
    """A session (as new_session) on TENFOLD_TARGET whose seed is tenfold_seed: its one
    candidate, REPEAT 1, is a gain a test on the real CPU may assert committed."""
    return new_session(directory, worker, tenfold_seed(), target=TENFOLD_CPU_ATTENTION)


def flagged_session(directory: Path, template: Path) -> Session:
    """The seeded ``template`` session again, on JUMPY_TARGET, with the REPEAT seed
    (repeat_knob_seed) as v0 and its score stored as IMPLAUSIBLY_LOW_SEED: the tuner's two
    candidates are 4x and 8x faster than the seed timed beside it, so every correct candidate
    the engine evaluates comes back flagged as a jump, on any machine and under any load. The
    template's noise and baseline timings come along, so nothing is measured twice."""
    with Session.open(template, writable=False) as seeded:
        files, meta, state = seeded.read_files("v0"), seeded.meta, seeded.state
    files = repeat_knob_seed(files)
    session = Session.create(
        directory, target=str(JUMPY_TARGET), operator=meta["operator"], seed_files=files,
        score=Score(IMPLAUSIBLY_LOW_SEED, unit=TARGET.unit), host=meta["host"],
        settings=meta["settings"],
    )
    session.set_state(announce=False, usage=Usage().to_doc(), noise=state["noise"],
                      baselines=state.get("baselines", {}))
    return session


# How long a test waits on a live engine before it calls the run stuck: a backstop against a
# hang, never a measure of speed (three tuner steps took 71 s on a 2-core machine beside four
# other test runs).
STUCK_S = 300.0


@dataclass
class LiveRun:
    engine: Engine
    thread: threading.Thread
    events: list[Event] = field(default_factory=list)
    evaluating: threading.Event = field(default_factory=threading.Event)
    result: list[str] = field(default_factory=list)

    def wait(self, predicate: Callable[[], bool], timeout: float = STUCK_S) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; events: {[e.kind for e in self.events]}")
            if not self.thread.is_alive() and not predicate():
                attempts = [f"{a.id} {a.outcome}: {a.detail[:200]}"
                            for a in self.engine.session.recent_attempts(6)]
                raise AssertionError(f"the run ended early: {self.result}; the last attempts: "
                                     f"{attempts}")
            time.sleep(0.02)

    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def finish(self, timeout: float = STUCK_S) -> str:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the engine did not stop"
        return self.result[0]


def submitting(*commands: Command) -> Callable[[Engine], None]:
    """A ``before`` for :func:`start`: submits ``commands``, in order, before the run begins."""

    def submit(engine: Engine) -> None:
        for command in commands:
            engine.submit(command)

    return submit


def start(
    session: Session, worker: Worker, *, max_steps: int | None = 50, seed: int = 1,
    before: Callable[[Engine], None] | None = None, operator: Operator | None = None,
    budgets: Budgets | None = None, limits: SupervisorLimits | None = None,
) -> LiveRun:
    """Run an engine in a thread, on the session's target's quick grid: the tuner unless
    ``operator`` is given."""
    evaluator = Evaluator(get_target(session.meta["target"]), worker, quick=True)
    engine = Engine(session, operator or Tuner(seed), evaluator,
                    budgets=budgets or Budgets(max_steps=max_steps), limits=limits)
    thread = threading.Thread(target=lambda: live.result.append(engine.run()), daemon=True)
    live = LiveRun(engine, thread)
    engine.subscribe(live.events.append)
    engine.on_progress(lambda progress: live.evaluating.set()
                       if progress.text.startswith("check") else None)
    if before:
        before(engine)
    thread.start()
    return live
