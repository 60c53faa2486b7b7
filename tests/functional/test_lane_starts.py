"""Where a lane starts its step (engine/lanes.py, Diversity): the first lane still running from
the head, the K-th from the K-th best version near the frontier. On four H200s a tuner lane
started every step from the seed, the fourth best at 0.86x the best, and took 637 steps with no
commit: from there every candidate was refused beside the best (issue 73). In the next run, once
the three agent lanes had stopped, it took the fourth best (0.92x) for 355 steps alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_helpers import TARGET, head_of

from avo_tui.engine import Budgets, Engine, Evaluator
from avo_tui.engine.lanes import FRONTIER, Lane, place_among_running, starting_version
from avo_tui.evaluation import Worker
from avo_tui.operators import StepContext, StepResult
from avo_tui.store import Score, Session


def lineage(directory: Path, gmeans: list[float]) -> Session:
    """A session on disk whose versions v0, v1, ... score ``gmeans``, each the head's child."""
    session = Session.create(directory / "lanes", target="cpu-attention", operator="tuner",
                             seed_files={"k.c": "// v0\n"}, score=Score(gmeans[0]))
    for number, gmean in enumerate(gmeans[1:], 1):
        session.commit({"k.c": f"// v{number}\n"}, author="tuner", message=f"v{number}",
                       score=Score(gmean))
    return session


def starts(session: Session, lanes: int = 4) -> list[str | None]:
    return [version.id if (version := starting_version(session, k)) else None
            for k in range(1, lanes + 1)]


def test_no_lane_starts_from_a_version_far_behind_the_best(tmp_path: Path) -> None:
    """A chain of 1.25x gains: the runners-up are 0.8x the best and less, so every lane starts
    from the best, the head."""
    session = lineage(tmp_path, [100.0, 125.0, 156.25, 195.3])
    assert starts(session) == ["v3", "v3", "v3", "v3"]


def test_the_fourth_lane_of_the_run_on_four_gpus_starts_from_the_best(tmp_path: Path) -> None:
    """The lineage of that run: v1 +13.35% on the seed, v2 +1.22% on v1, v3 +1.06% on v2. The
    seed is 0.86x the best: lane 4 counts round to the best instead."""
    session = lineage(tmp_path, [100.0, 113.35, 113.35 * 1.0122, 113.35 * 1.0122 * 1.0106])
    assert starts(session) == ["v3", "v2", "v1", "v3"]


def test_lanes_start_from_the_runners_up_near_the_frontier_in_turn(tmp_path: Path) -> None:
    """v1 is 0.95x the best and v2 just inside the frontier: lanes 2 and 3 take the second and
    third best, lanes 4 and 5 count round to the best and v1. v0, half the best, is never a
    start."""
    session = lineage(tmp_path, [50.0, 95.0, FRONTIER * 100.0, 100.0])
    assert starts(session, lanes=5) == ["v3", "v1", "v2", "v3", "v1"]


def test_lane_one_keeps_the_head_where_a_rollback_put_it(tmp_path: Path) -> None:
    """The head is the operator's choice (a rollback): lane 1 starts there even far behind."""
    session = lineage(tmp_path, [100.0, 200.0])
    session.rollback("v0")
    assert starts(session, lanes=2) == ["v0", "v1"]


@pytest.mark.parametrize("lanes", [1, 3])
def test_a_session_with_no_scored_version_starts_from_its_head(tmp_path: Path,
                                                               lanes: int) -> None:
    session = Session.create(tmp_path / "unscored", target="cpu-attention", operator="tuner",
                             seed_files={"k.c": "// v0\n"})
    assert starts(session, lanes) == ["v0"] * lanes


class Looks:
    """An operator that notes the version its step starts from, and has nothing more to try
    (its lane ends): every lane takes one step, however the lanes race."""

    name = "tuner"

    def __init__(self, starts: list[tuple[int, str]], lane: int) -> None:
        self.starts, self.lane = starts, lane

    def step(self, ctx: StepContext) -> StepResult:
        self.starts.append((self.lane, head_of(ctx).id))
        return StepResult("looked", exhausted=True)

    def redirect(self, ctx: StepContext, reason: str) -> None:
        pass


def test_a_run_s_second_lane_starts_from_the_best_not_a_seed_twice_as_slow(
        session: Session, worker: Worker) -> None:
    """The engine's own step start (trials.begin_step), on a scored cpu-attention session: a
    version twice the seed's score is committed, and the second lane of a run, whose second
    best is the seed, starts from that version."""
    seed = session.version("v0")
    assert seed.score is not None
    session.commit(session.read_files("v0"), author="tuner", message="twice as fast",
                   score=Score(2 * seed.score.gmean))
    starts: list[tuple[int, str]] = []
    engine = Engine(session, [Looks(starts, 1), Looks(starts, 2)],
                    Evaluator(TARGET, worker, quick=True), budgets=Budgets(max_steps=10))
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    thread.join(300)
    assert not thread.is_alive()
    assert sorted(starts) == [(1, "v1"), (2, "v1")]


def test_a_lane_counts_its_place_among_the_lanes_still_running() -> None:
    lanes = [Lane(number, operator=Looks([], number), label=number) for number in range(1, 5)]
    assert [place_among_running(lanes, lane) for lane in lanes] == [1, 2, 3, 4]
    lanes[0].ended = ("stopped", "its share is out")
    lanes[2].ended = ("finished", "nothing left")
    assert [place_among_running(lanes, lanes[k]) for k in (1, 3)] == [1, 2]
    for lane in lanes[:3]:
        lane.ended = ("stopped", "")
    assert place_among_running(lanes, lanes[3]) == 1


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 240  # a bound on a hang, not a timing
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


class Waits(Looks):
    """Lanes 1-3: they end only once all four lanes have begun their first step, so that each
    begins it while four lanes run. (Waiting for lane 4 alone let a lane whose thread came late
    begin after lane 1 had ended, and count itself first.)"""

    def step(self, ctx: StepContext) -> StepResult:
        result = super().step(ctx)
        wait_for(lambda: {lane for lane, _ in self.starts} == {1, 2, 3, 4},
                 "not every lane began")
        return result


class Outlives(Looks):
    """Lane 4's operator: its first step waits until the other lanes' loops are over, its
    second has nothing more to try."""

    def __init__(self, starts: list[tuple[int, str]], engine: list[Engine]) -> None:
        super().__init__(starts, 4)
        self.engine = engine

    def step(self, ctx: StepContext) -> StepResult:
        self.starts.append((self.lane, head_of(ctx).id))
        if len(self.starts) > 4:
            return StepResult("looked again", exhausted=True)
        wait_for(lambda: all(lane.ended for lane in self.engine[0].lanes[:3]),
                 "the other lanes never ended")
        return StepResult("looked")


def test_the_last_lane_running_starts_from_the_head_not_its_number_s_runner_up(
        session: Session, worker: Worker) -> None:
    """v1 1.05x the seed: both near the frontier. While four lanes run, lane 4 counts round to
    the second best, the seed; once lanes 1-3 have ended, it is the first lane still running
    and starts from the head."""
    seed = session.version("v0")
    assert seed.score is not None
    session.commit(session.read_files("v0"), author="tuner", message="a little faster",
                   score=Score(1.05 * seed.score.gmean))
    starts: list[tuple[int, str]] = []
    engine: list[Engine] = []
    operators = [Waits(starts, 1), Waits(starts, 2), Waits(starts, 3), Outlives(starts, engine)]
    engine.append(Engine(session, operators, Evaluator(TARGET, worker, quick=True),
                         budgets=Budgets(max_steps=10)))
    thread = threading.Thread(target=engine[0].run, daemon=True)
    thread.start()
    thread.join(300)
    assert not thread.is_alive()
    assert sorted(starts[:4]) == [(1, "v1"), (2, "v0"), (3, "v1"), (4, "v0")]
    assert starts[4:] == [(4, "v1")]
