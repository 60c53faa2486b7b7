"""What the app says of each command, against what became of it (issue 37): every control that
sends a command, in every state of the run, either delivers it or says what will happen.

One parametrised test over the matrix (control x state), each case the real app driven by
Pilot on a real session: it asserts on the notification and on delivery (the engine took the
command and acted, or the session's inbox holds it, or nothing was sent, as said).

    state      the run                                   a command      x (stop)
    preparing  the session is being made                 nothing sent   nothing sent
    running    this process's engine, taking commands    sent, taken    sent, taken
    paused     the same, paused (p resumes)              sent, taken    sent, taken
    stopping   this process's engine, stopped by x,      queued, inbox  already stopping
               not at a safe point yet
    stopped    this process's engine has ended (x)        queued, inbox  nothing to stop
    finished   this process's engine ended on its own     queued, inbox  nothing to stop
    attached   a headless run in another process          sent, inbox    sent, inbox
    detached   no process runs the session                queued, inbox  nothing to stop

The app has no control for budgets (``avo send NAME budget ...`` sets them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from engine_helpers import TARGET
from rich.console import Console
from textual.pilot import Pilot
from tui_helpers import opened, until

from avo_tui.engine import Budgets, Engine, Evaluator
from avo_tui.engine.client import RunClient
from avo_tui.engine.inbox import queued
from avo_tui.evaluation import Worker
from avo_tui.operators.protocol import StepContext, StepResult
from avo_tui.store import EventKind, Score, Session
from avo_tui.tui import AvoApp, make_app, make_preparing_app
from avo_tui.tui.screens.dialogs import ChoiceDialog, SuspectsDialog
from avo_tui.tui.widgets.lineage import LineageTree

pytestmark = pytest.mark.anyio
SIZE = (120, 36)
STATES = ("preparing", "running", "paused", "stopping", "stopped", "finished", "attached",
          "detached")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Idle:
    """An operator whose step waits at safe points until the engine ends it; while ``held``
    is set it waits without reaching one, so a stop waits for it."""

    name = "tuner"

    def __init__(self, exhausted: bool = False) -> None:
        self.held = threading.Event()
        self.exhausted = exhausted

    def step(self, ctx: StepContext) -> StepResult:
        if self.exhausted:
            return StepResult("nothing left to try", exhausted=True)
        while True:
            if not self.held.is_set():
                ctx.safe_point()  # raises StepInterrupted on a stop or a rollback
            time.sleep(0.02)

    def redirect(self, ctx: StepContext, reason: str) -> None:
        pass


HOLDER = """
import sys, time
from pathlib import Path
from avo_tui.store import Session
session = Session.open(Path(sys.argv[1]))
session.set_state(status="running")
print("holding", flush=True)
time.sleep(300)
"""


def prepared_session(template: Path, directory: Path) -> str:
    """The scored seed v0, v1 (the head) and a suspect held for review; its attempt id."""
    shutil.copytree(template, directory)
    with Session.open(directory) as session:
        files = session.read_files("v0")
        name = next(iter(files))
        session.commit({name: files[name] + "// by hand\n"}, author="operator",
                       message="by hand", score=session.head.score)
        return session.hold_suspect(
            {name: files[name] + "// too fast\n"}, base="v1", author="tuner",
            message="tuner: too fast", flags=["too fast"], score=Score(99.0, ratio=9.0)).attempt


@dataclass
class Case:
    app: AvoApp
    pilot: Pilot[None]
    directory: Path
    session: Session | None  # the engine's, for the in-process states
    operator: Idle | None
    start: int  # the session's last event before the control


@asynccontextmanager
async def in_state(state: str, directory: Path, worker: Worker) -> AsyncIterator[Case]:
    if state == "preparing":
        go_on = threading.Event()

        def prepare(lines: Console) -> RunClient:
            assert go_on.wait(timeout=120)
            return RunClient(directory)

        app = make_preparing_app(directory.name, prepare)
        async with app.run_test(size=SIZE) as pilot:
            yield Case(app, pilot, directory, None, None, 0)
            go_on.set()
            await opened(pilot, app)
        return
    if state in ("attached", "detached"):
        holder = None
        if state == "attached":
            holder = subprocess.Popen(
                [sys.executable, "-c", HOLDER, str(directory)], stdout=subprocess.PIPE,
                text=True, env=os.environ | {"PYTHONPATH": os.getcwd()})
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        try:
            app = make_app(RunClient(directory))
            async with app.run_test(size=SIZE) as pilot:
                await opened(pilot, app)
                if holder is not None:
                    await until(pilot, lambda: app.live and app.state.status == "running")
                yield Case(app, pilot, directory, None, None, 0)
        finally:
            if holder is not None:
                holder.kill()
                holder.wait()
        return
    with Session.open(directory) as session:
        operator = Idle(exhausted=state == "finished")
        engine = Engine(session, operator, Evaluator(TARGET, worker, quick=True),
                        budgets=Budgets(max_steps=50))
        if state == "paused":
            from avo_tui.engine import Pause
            engine.submit(Pause())
        client = RunClient(directory, engine)
        app = make_app(client)
        async with app.run_test(size=SIZE) as pilot:
            await opened(pilot, app)
            wanted = {"running": "running", "paused": "paused", "stopping": "running",
                      "stopped": "stopped", "finished": "finished"}[state]
            if state == "stopped":
                await pilot.press("x", "s")
            await until(pilot, lambda: app.state.status == wanted
                        and app.live == (state in ("running", "paused", "stopping")))
            if state == "stopping":
                operator.held.set()
                await pilot.pause(0.1)  # let the step pass its last safe point
                await pilot.press("x", "s")
                assert client.stopping and client.live()
            yield Case(app, pilot, directory, session, operator, session.last_seq)
            operator.held.clear()
            if client.live():
                await pilot.press("q", "q")
            await until(pilot, lambda: not client.live())


# -- the controls ---------------------------------------------------------------------------

Control = Callable[[Case], Awaitable[None]]


async def confirm_if(case: Case, dialog: type, key: str) -> None:
    """Answer the dialog the control opened, if it opened one (else it said why not)."""
    await case.pilot.pause()
    if isinstance(case.app.screen, dialog):
        await case.pilot.press(key)


async def pause(case: Case) -> None:
    await case.pilot.press("p")


async def hint(case: Case) -> None:
    await case.pilot.press("h", *"try BLOCK_Q=32", "ctrl+s")


async def guidance(case: Case) -> None:
    await case.pilot.press("g", *"only BLOCK_Q", "ctrl+s")


async def stop(case: Case) -> None:
    await case.pilot.press("x")
    await confirm_if(case, ChoiceDialog, "s")


async def rollback(case: Case) -> None:
    tree = case.app.query_one(LineageTree)
    if case.app.opened:
        tree.reveal("v0")
        await case.pilot.pause()
    await case.pilot.press("r")
    await confirm_if(case, ChoiceDialog, "r")


async def edit(case: Case) -> None:
    await case.pilot.press("e")


async def approve(case: Case) -> None:
    await case.pilot.press("a")
    await confirm_if(case, SuspectsDialog, "a")


async def reject(case: Case) -> None:
    await case.pilot.press("a")
    await confirm_if(case, SuspectsDialog, "r")


# control -> (keys, how the app names the command, the command's class, the event it makes)
CONTROLS: dict[str, tuple[Control, str, str, EventKind]] = {
    "pause": (pause, "pause", "Pause", EventKind.PAUSE),
    "hint": (hint, "hint", "Hint", EventKind.HINT),
    "guidance": (guidance, "guidance", "Guidance", EventKind.GUIDANCE),
    "stop": (stop, "stop", "Stop", EventKind.STATUS),
    "rollback": (rollback, "rollback to v0", "Rollback", EventKind.ROLLBACK),
    "edit": (edit, "your edit", "OperatorEdit", EventKind.ATTEMPT),
    "approve": (approve, "approval of", "Approve", EventKind.SUSPECT),
    "reject": (reject, "rejection of", "Reject", EventKind.SUSPECT),
}


def said_since(app: AvoApp, text: str, since: frozenset[int] = frozenset()) -> bool:
    """Whether the app has said ``text``, in a notification other than those ``since``."""
    return any(text in n.message for n in app._notifications if id(n) not in since)


def inbox(directory: Path) -> list[str]:
    return [type(q.command).__name__ for q in queued(directory)]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("control", list(CONTROLS))
async def test_each_control_in_each_state_delivers_or_says_what_will_happen(
    template: Path, worker: Worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    control: str, state: str,
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nfor f in \"$@\"; do echo '// by a person' >> \"$f\"; done\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    directory = tmp_path / "promises"
    suspect = prepared_session(template, directory)
    act, what, command, kind = CONTROLS[control]
    if control in ("approve", "reject"):
        what = f"{what} {suspect}"
    if control == "pause" and state == "paused":
        what, command, kind = "resume", "Resume", EventKind.RESUME
    async with in_state(state, directory, worker) as case:
        app, pilot = case.app, case.pilot
        before = frozenset(id(n) for n in app._notifications)  # the setup's own

        def said(text: str) -> bool:
            return said_since(app, text, before)

        await act(case)
        if state == "preparing":
            await until(pilot, lambda: said("still being prepared: nothing was done"))
        elif control == "stop" and state in ("stopped", "finished", "detached"):
            await until(pilot, lambda: said("no run is live: there is nothing to stop"))
        elif control == "stop" and state == "stopping":
            await until(pilot, lambda: said("the run is already stopping"))
        elif state in ("running", "paused", "attached"):
            await until(pilot, lambda: said(f"{what} sent"))
        elif state == "stopping":
            await until(pilot, lambda: said(f"{what} queued: the run is stopping"))
        else:
            await until(pilot, lambda: said(f"{what} queued: no run is live"))
        assert not said(f"{what} sent") or state in ("running", "paused", "attached")
        session = case.session
        if state in ("running", "paused"):  # the engine took it and acted on it
            assert session is not None
            await until(pilot, lambda: not inbox(directory) and any(
                e.kind == kind for e in session.events(after=case.start)), timeout=120)
            if control == "stop":
                await until(pilot, lambda: session.state.get("reason") == "stopped from the app")
            return
    # what waits in the inbox once the app has gone (the stopping run has ended)
    if state == "preparing" or (control == "stop" and state != "attached"):
        assert inbox(directory) == []
    else:
        assert inbox(directory) == [command]
