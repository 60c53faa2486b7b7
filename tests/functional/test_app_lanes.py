"""The app on a run of several lanes (docs/app.md, Lanes), driven by Pilot: a real two-lane
engine of tuners in the app's process on the cpu-attention quick grid, or sessions built on
disk with lanes in their records. What is checked is what the engine did (its run state and
events) and what the screen shows; nothing waits on the clock."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from engine_helpers import TARGET
from test_app import engine_alive, notified, output_text, status_text, text_of
from test_app_layout import content, screen_lines, shown_in
from test_lanes import Scripted
from textual.pilot import Pilot
from tui_helpers import kernel, opened, settled, stop_and_leave, until

from avo_tui.engine import Budgets, Engine, Evaluator
from avo_tui.engine.client import RunClient
from avo_tui.evaluation import Worker
from avo_tui.operators import Operator, StepContext, StepResult, Tuner
from avo_tui.store import InFlight, Score, Session, ToolCallPayload
from avo_tui.store.run_state import LaneState
from avo_tui.tui import AvoApp, make_app
from avo_tui.tui.lane_facts import LaneFacts
from avo_tui.tui.screens.detail import VersionDetail
from avo_tui.tui.screens.dialogs import ChoiceDialog, TextDialog
from avo_tui.tui.widgets.lanes import LanesStrip, shown_lanes
from avo_tui.tui.widgets.lineage import LineageTree
from avo_tui.tui.widgets.plan import PlanPane

pytestmark = pytest.mark.anyio
WIDE, SMALL = (120, 36), (80, 24)
UUID = "GPU-8e5c1a2b-0000-4000-8000-000000000003"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def two_lanes(session: Session, worker: Worker, size: tuple[int, int] = WIDE,
                    operators: Sequence[Operator] | None = None,
                    ) -> AsyncIterator[tuple[AvoApp, Pilot[None], Engine]]:
    """The app with a two-lane engine in its process (tuners unless ``operators`` are given),
    as ``avo run --lanes 2``."""
    evaluator = Evaluator(TARGET, worker, quick=True)
    engine = Engine(session, list(operators or [Tuner(1), Tuner(2)]), evaluator,
                    budgets=Budgets(max_steps=500))
    app = make_app(RunClient(session.directory, engine))
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.opened)
        yield app, pilot, engine
        while len(app.screen_stack) > 1:
            app.pop_screen()
        if engine.stop_reason is None and app.is_running and engine_alive(app):
            await stop_and_leave(pilot, app)
            await until(pilot, lambda: not engine_alive(app), timeout=120)


def strip_lines(app: AvoApp) -> list[str]:
    return app.query_one(LanesStrip).render().plain.splitlines()


def lane_line(app: AvoApp, number: int) -> str:
    return next((line for line in strip_lines(app) if f"L{number} " in line), "")


def lane(session: Session, number: int) -> LaneState:
    return session.run_state.lanes.get(str(number)) or LaneState()


def shows_lane(app: AvoApp, session: Session, number: int) -> bool:
    """The lane's line says what the run state says of it: its status, its base, its steps."""
    state = lane(session, number)
    line = lane_line(app, number)
    steps = f"{state.steps} step{'s' if state.steps != 1 else ''} {state.commits} ver"
    return (bool(state.status) and state.base is not None and f" {state.status} " in line
            and f" on {state.base}" in line and steps in line)


async def select(pilot: Pilot[None], app: AvoApp, number: int | None) -> None:
    """Press l until the controls act on lane ``number`` (None: every lane)."""
    for _ in range(len(app.lanes) + 1):
        if app.lane == number:
            return
        await pilot.press("l")
    raise AssertionError(f"l never selected lane {number}")


def lane_session(session: Session) -> str:
    """A version proposed by lane 2 on top of the seed (as the engine commits one), v1, both
    the head and the best; scored far above anything a tuner finds, so it stays both."""
    files = session.read_files("v0")
    name = next(iter(files))
    score = session.version("head").score
    assert score is not None
    version = session.commit({name: files[name] + "// lane 2's idea\n"}, author="tuner",
                             message="lane 2: a comment", lane=2,
                             score=dataclasses.replace(score, gmean=score.gmean * 100,
                                                       ratio=1.5))
    session.set_state(lane_count=2, announce=False)  # as avo run --lanes 2 keeps it
    return version.id


# -- a live run of two lanes ------------------------------------------------------------------


async def test_the_lanes_strip_shows_each_lane_with_its_state(
    session: Session, worker: Worker
) -> None:
    async with two_lanes(session, worker) as (app, pilot, _):
        await until(pilot, lambda: lane(session, 1).steps >= 1 and lane(session, 2).steps >= 1,
                    timeout=180)
        await until(pilot, lambda: shows_lane(app, session, 1) and shows_lane(app, session, 2))
        for number in (1, 2):
            # all controlled (▸); the operator's name is the first fact a long line drops
            assert lane_line(app, number).startswith(f"▸ L{number} ")
        assert "keys→all" in status_text(app)
        assert app.query_one("#plan").border_title.startswith("plan · L")  # type: ignore[union-attr]


async def test_selecting_lane_2_and_pausing_pauses_only_lane_2(
    session: Session, worker: Worker
) -> None:
    async with two_lanes(session, worker) as (app, pilot, engine):
        await until(pilot, lambda: len(app.lanes) == 2)
        await select(pilot, app, 2)
        await until(pilot, lambda: "keys→L2" in status_text(app))
        assert lane_line(app, 2).startswith("▸ L2") and lane_line(app, 1).startswith("  L1")
        await pilot.press("p")
        # said at once: the notification goes after seconds, maybe before the engine's safe point
        await until(pilot, lambda: notified(app, "pause for lane 2 sent"))
        # the lane's state is written before the event announcing it: wait for both
        await until(pilot, lambda: lane(session, 2).status == "paused"
                    and any(e.kind == "pause" for e in session.events()), timeout=120)
        assert engine.lanes[1].paused and not engine.lanes[0].paused
        assert lane(session, 1).status == "running" and session.state["status"] == "running"
        pauses = [e for e in session.events() if e.kind == "pause"]
        assert [e.data.get("lane") for e in pauses] == [2]
        await until(pilot, lambda: " paused " in lane_line(app, 2))
        assert " running " in lane_line(app, 1)
        await pilot.press("p")  # lane 2 is paused: p resumes it
        await until(pilot, lambda: lane(session, 2).status == "running", timeout=120)
        assert not engine.lanes[1].paused


async def test_hint_guidance_and_stop_for_one_lane_reach_that_lane_alone(
    session: Session, worker: Worker
) -> None:
    async with two_lanes(session, worker) as (app, pilot, _):
        await until(pilot, lambda: len(app.lanes) == 2)
        assert app.lane is None
        await pilot.press("p")  # every lane: hints wait in the lanes' state, untaken
        await until(pilot, lambda: session.state.get("status") == "paused", timeout=120)
        await until(pilot, lambda: all(" paused " in lane_line(app, n) for n in (1, 2)))
        await select(pilot, app, 2)
        await pilot.press("h")
        assert isinstance(app.screen, TextDialog)
        await pilot.press(*"BLOCK_Q=16", "ctrl+s")
        await until(pilot, lambda: lane(session, 2).pending_hints == ("BLOCK_Q=16",))
        assert session.run_state.lane(1).pending_hints == ()
        [hint] = [e for e in session.events() if e.kind == "hint"]
        assert hint.data["lane"] == 2
        await until(pilot, lambda: " 1 hint" in lane_line(app, 2))
        assert "hint" not in lane_line(app, 1)

        await pilot.press("g", *"vary UNROLL", "ctrl+s")
        await until(pilot, lambda: lane(session, 2).guidance == "vary UNROLL")
        assert lane(session, 1).guidance is None and session.state.get("guidance") is None

        await pilot.press("x")
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("enter")
        await until(pilot, lambda: lane(session, 2).status == "stopped", timeout=120)
        assert lane(session, 1).status == "paused" and engine_alive(app)  # the run goes on
        await until(pilot, lambda: " stopped " in lane_line(app, 2))
        await until(pilot, lambda: "L2 lane     stopped: stopped from the app" in output_text(app))


async def test_at_80x24_the_lanes_view_fits(session: Session, worker: Worker) -> None:
    head = lane_session(session)
    async with two_lanes(session, worker, SMALL) as (app, pilot, _):
        # running, and on its base: a lane runs a moment before its first step takes one
        await until(pilot, lambda: all(" running " in lane_line(app, n) and " on v" in
                                       lane_line(app, n) for n in (1, 2)))
        await select(pilot, app, 2)
        await settled(pilot, app)
        strip = app.query_one(LanesStrip)
        assert strip.region.height == 2 and strip.region.width == 80
        rows = screen_lines(app)[strip.region.y:strip.region.bottom]
        for number, row in zip((1, 2), rows, strict=True):
            # the lane, its state and its base whole; the rest dropped rather than cut
            assert f"L{number} tuner running  on v" in row or f"L{number} running" in row, row
            assert "…" not in row and len(row.rstrip()) <= 80
        bar = shown_in(app, app.query_one("#status").region)
        assert "running" in bar and "keys→L2" in bar and "best v" in bar
        tree = app.query_one(LineageTree)
        labels = shown_in(app, content(tree))
        assert f"{head} ◀★" in labels and "x L2" in labels  # the marks first, whole; the lane
        for pane in ("#diff", "#output"):
            assert app.query_one(pane).content_region.height >= 3, pane
        footer = screen_lines(app)[-1]
        assert "q quit" in footer  # the footer still fits


def saying(text: str, done: threading.Event) -> Scripted:
    """An operator whose one step reports ``text`` as its progress, then waits for ``done``."""

    def step(ctx: StepContext) -> StepResult:
        ctx.progress(text)
        assert done.wait(120)
        return StepResult("said", exhausted=True)

    return Scripted(step)


def plan_pane(app: AvoApp) -> PlanPane:
    return app.query_one(PlanPane)


async def test_each_lane_shows_its_own_progress_and_the_plan_the_selected_lane_s(
    session: Session, worker: Worker
) -> None:
    done = threading.Event()
    operators = [saying("reading the lineage", done), saying("time b2-h4 round 2/3", done)]
    async with two_lanes(session, worker, operators=operators) as (app, pilot, _):
        await until(pilot, lambda: "· reading the lineage" in lane_line(app, 1)
                    and "· time b2-h4 round 2/3" in lane_line(app, 2))
        assert "time" not in lane_line(app, 1) and "reading" not in lane_line(app, 2)
        plan = plan_pane(app)  # every lane selected, and no plan yet: lane 1's
        assert plan.border_title == "plan · L1" and plan.progress.endswith("· reading the lineage")
        await select(pilot, app, 2)
        assert plan.border_title == "plan · L2" and plan.progress.endswith("· time b2-h4 round 2/3")
        await select(pilot, app, 1)
        assert plan.border_title == "plan · L1" and plan.progress.endswith("· reading the lineage")
        done.set()
        await until(pilot, lambda: not engine_alive(app), timeout=120)
        await until(pilot, lambda: "reading" not in lane_line(app, 1))  # it has finished


async def test_with_one_lane_the_plan_shows_the_run_s_progress_as_before(
    session: Session, worker: Worker
) -> None:
    done = threading.Event()
    evaluator = Evaluator(TARGET, worker, quick=True)
    engine = Engine(session, saying("reading the lineage", done), evaluator)
    app = make_app(RunClient(session.directory, engine))
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: plan_pane(app).progress == "step 1 · reading the lineage")
        assert plan_pane(app).border_title == "plan" and not app.query_one(LanesStrip).display
        done.set()
        await until(pilot, lambda: not engine_alive(app), timeout=120)


# -- sessions on disk ---------------------------------------------------------------------------


async def test_versions_show_their_lane(session: Session) -> None:
    vid = lane_session(session)
    app = make_app(RunClient(session.directory))
    async with app.run_test(size=WIDE) as pilot:
        await opened(pilot, app)
        tree = app.query_one(LineageTree)
        labels = {str(n.label).split()[0]: str(n.label) for n in tree.root.children}
        assert " L2" in labels[vid] and " L" not in labels["v0"]
        assert tree.selected_version == vid
        await pilot.press("enter")
        assert isinstance(app.screen, VersionDetail)
        await until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        assert f"{vid} from v0 by tuner in lane 2" in text_of(app, "#tab-summary Static")


def gpu_log(index: int) -> str:
    """An evaluation log as the engine keeps it: the result, with its worker's host facts."""
    return json.dumps({"unit": "GFLOP/s", "configs": [], "host": {
        "device": "cuda", "gpu": "NVIDIA H200", "gpu_index": index,
        "uuid": UUID.replace("0003", f"000{index}")}})


@pytest.fixture
def on_gpus(tmp_path: Path) -> Path:
    """A session two lanes ran on GPUs 0 and 3, stopped: each lane's state, its attempts."""
    seed = {"kernel.c": kernel(16, 1)}
    with Session.create(tmp_path / "gpus", target="cpu-attention", operator="tuner",
                        seed_files=seed, score=Score(30.0, unit="GFLOP/s")) as session:
        for number, gpu, outcome in ((1, 0, "slower"), (2, 3, "incorrect"), (2, 3, "slower")):
            session.record_attempt({"kernel.c": kernel(32, number)}, base="v0", author="tuner",
                                   outcome=outcome, detail=f"on GPU {gpu}", log=gpu_log(gpu),
                                   lane=number)
        lanes = {str(n): LaneState(operator="tuner", status="finished", base="v0", steps=n,
                                   plan=f"lane {n}'s plan").to_doc() for n in (1, 2)}
        session.set_state(announce=False, status="finished", lane_count=2, lanes=lanes)
    return tmp_path / "gpus"


async def test_each_lane_shows_its_latest_attempt_and_the_gpu_it_ran_on(on_gpus: Path) -> None:
    app = make_app(RunClient(on_gpus))
    async with app.run_test(size=WIDE) as pilot:
        await opened(pilot, app)
        one, two = lane_line(app, 1), lane_line(app, 2)
        assert "L1 tuner finished on v0 · 1 step 0 ver · a1 slower on GPU 0 (NVIDIA H200" in one
        assert "a3 slower on GPU 3 (NVIDIA H200, GPU-8e5c1a2" in two
        await select(pilot, app, 2)
        assert "lane 2's plan" in text_of(app, "PlanPane")
        await pilot.resize_terminal(*SMALL)
        await until(pilot, lambda: app.size.width == 80)
        await pilot.pause()
        assert lane_line(app, 2).endswith("a3 slower on GPU 3")  # the short label when narrow


async def test_with_one_lane_the_app_says_nothing_of_lanes(
    session: Session, worker: Worker
) -> None:
    evaluator = Evaluator(TARGET, worker, quick=True)
    engine = Engine(session, Tuner(1), evaluator, budgets=Budgets(max_steps=1))
    app = make_app(RunClient(session.directory, engine))
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        assert not app.query_one(LanesStrip).display and app.lanes == ()
        assert "keys→" not in status_text(app)
        await pilot.press("l")
        assert app.lane is None and notified(app, "this run has one lane")
        await until(pilot, lambda: not engine_alive(app), timeout=120)


def evaluating_on(line: str, gpu: int) -> bool:
    return re.search(rf" · evaluating \dm\d\ds on GPU {gpu}( |$)", line) is not None


def evaluating(session: Session, first: str | None, second: str | None) -> None:
    """Lanes 1 and 2 running, each with a candidate in flight on the GPU named (None: not yet
    on a worker), as the run state of a run of two lanes says it."""

    def flight(gpu: str | None) -> InFlight:
        return InFlight("v0", "tuner", session.version("head").files, time.time(), gpu)

    lanes = {str(n): LaneState(operator="tuner", status="running", base="v0",
                               in_flight=flight(second if n == 2 else first)).to_doc()
             for n in (1, 2)}
    session.set_state(announce=False, status="running", lane_count=2, lanes=lanes)


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Session]:
    """A session of two lanes that this test holds open for writing, as a run's process holds
    it: the views see the run live."""
    with Session.create(tmp_path / "held", target="cpu-attention", operator="tuner",
                        seed_files={"kernel.c": kernel(16, 1)},
                        score=Score(30.0, unit="GFLOP/s")) as session:
        evaluating(session, None, None)
        yield session


async def test_a_lane_evaluating_shows_the_gpu_its_evaluation_holds(held: Session) -> None:
    """Lane 1 evaluates on GPU 0 and lane 2 on GPU 3: each line says so, at 80x24 too. A
    candidate still waiting for a worker is only evaluating."""
    evaluating(held, "0", "3")
    app = make_app(RunClient(held.directory))
    async with app.run_test(size=WIDE) as pilot:
        await opened(pilot, app)
        assert evaluating_on(lane_line(app, 1), 0) and evaluating_on(lane_line(app, 2), 3)
        await pilot.resize_terminal(*SMALL)
        await until(pilot, lambda: app.size.width == 80)
        await pilot.pause()
        rows = screen_lines(app)[app.query_one(LanesStrip).region.y:][:2]
        for gpu, row in zip((0, 3), rows, strict=True):
            assert evaluating_on(row.rstrip(), gpu) and len(row.rstrip()) <= 80, row
        evaluating(held, "0", None)
        await until(pilot, lambda: " · evaluating " in lane_line(app, 2)
                    and "GPU" not in lane_line(app, 2))
        assert evaluating_on(lane_line(app, 1), 0)


async def test_an_attached_view_shows_each_lane_s_latest_tool_call(held: Session) -> None:
    """The agent's tool calls are progress too: each lane's latest shows in its line, and the
    selected lane's under the plan."""
    app = make_app(RunClient(held.directory))
    async with app.run_test(size=WIDE) as pilot:
        await opened(pilot, app)
        for tool, lane in (("view_kernel", 1), ("read_lineage", 2), ("evaluate", 1)):
            held.append(ToolCallPayload(tool, lane=lane))
        await until(pilot, lambda: lane_line(app, 1).endswith("· evaluate")
                    and lane_line(app, 2).endswith("· read_lineage"))
        await select(pilot, app, 2)
        assert plan_pane(app).progress.endswith("· read_lineage")
        await select(pilot, app, 1)
        assert plan_pane(app).progress.endswith("· evaluate")


def test_a_short_strip_of_many_lanes_keeps_the_selected_one_in_view() -> None:
    lanes = tuple(LaneFacts(number=n, operator="tuner", status="running", reason="", base="v0",
                            steps=0, commits=0, cost_usd=0.0, tokens=0, plan="", hints=0,
                            guidance=None, evaluating=None, evaluating_on=None, last=None,
                            gpu=None)
                  for n in range(1, 9))
    assert [f.number for f in shown_lanes(lanes, None, 8)[0]] == list(range(1, 9))
    for selected, numbers in ((None, [1, 2, 3]), (1, [1, 2, 3]), (5, [3, 4, 5]), (8, [6, 7, 8])):
        shown, more = shown_lanes(lanes, selected, 4)
        assert ([f.number for f in shown], more) == (numbers, 5)
