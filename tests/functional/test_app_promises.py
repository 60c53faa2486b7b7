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

``R`` starts the run again (it sends no command); one parametrised test goes through it in
every state: it refuses, saying why, while the session is prepared, while a run is live
(this process's, stopping or not, or another process's), and starts the run again once it
has stopped or finished: a new engine in this process, or, with no process running the
session, ``avo run --session NAME --headless`` in a process of its own, which the view
follows and stops with ``x``.
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
from tui_helpers import opened, stop_and_leave, until

from avo_tui.commands.run import headless_restart
from avo_tui.engine import Budgets, Engine, Evaluator, SetBudgets
from avo_tui.engine.client import Restarted, RunClient
from avo_tui.engine.inbox import queued, send
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
        self.holding = threading.Event()  # set once the step has seen ``held``: no safe point
        self.exhausted = exhausted

    def step(self, ctx: StepContext) -> StepResult:
        if self.exhausted:
            return StepResult("nothing left to try", exhausted=True)
        while True:
            if self.held.is_set():
                self.holding.set()
            else:
                self.holding.clear()
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
                       message="by hand", score=session.version("head").score)
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
            restart = headless_restart(directory.parent, directory.name)
            app = make_app(RunClient(directory, restart=restart))
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

        def engine_of(operator: Idle) -> Engine:
            return Engine(session, operator, Evaluator(TARGET, worker, quick=True),
                          budgets=Budgets(max_steps=50))

        engine = engine_of(operator)
        if state == "paused":
            from avo_tui.engine import Pause
            engine.submit(Pause())
        client = RunClient(directory, engine, restart=lambda: Restarted(
            "again, as the test makes it", engine=engine_of(Idle(operator.exhausted))))
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
                await until(pilot, operator.holding.is_set)  # past its last safe point
                await pilot.press("x", "s")
                assert client.stopping and client.live()
            yield Case(app, pilot, directory, session, operator, session.last_seq)
            operator.held.clear()
            if client.live():
                await stop_and_leave(pilot, app)
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


@pytest.mark.parametrize("state", STATES)
async def test_restart_in_each_state_starts_the_run_or_says_why_not(
    template: Path, worker: Worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str,
) -> None:
    # the headless run is `python -m avo_tui`: this checkout's, wherever pytest runs from
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    directory = tmp_path / "promises"
    prepared_session(template, directory)
    refusals = {
        "preparing": "still being prepared: nothing was done",
        "running": "not started: the run is live in this process",
        "paused": "not started: the run is live in this process",
        "stopping": "not started: the run is stopping: start it again once it has ended",
        "attached": "not started: another process (pid ",
    }
    async with in_state(state, directory, worker) as case:
        app, pilot = case.app, case.pilot
        before = frozenset(id(n) for n in app._notifications)
        await pilot.press("R")
        await pilot.pause()
        if state in refusals:
            assert not isinstance(app.screen, ChoiceDialog)
            await until(pilot, lambda: said_since(app, refusals[state], before))
            assert not said_since(app, "started again", before)
            return
        assert isinstance(app.screen, ChoiceDialog)
        question = str(app.screen.question)
        assert question.startswith("Start the run of promises again, in ")
        await pilot.press("s")
        client = app.client
        assert client is not None
        last = Session.open(directory, writable=False)
        try:
            def running_again() -> bool:
                last.refresh()
                return any(e.kind == EventKind.STATUS and e.data.get("status") == "running"
                           for e in last.events(after=case.start))

            if state == "detached":
                assert "avo run --session promises --headless" in question
                launched = client.launched
                assert launched is not None and launched.process is not None
                process = launched.process
                try:
                    await until(pilot, lambda: said_since(
                        app, "the run started again: avo run --session promises --headless, "
                        f"in process {process.pid}; this view follows it", before))
                    await until(pilot, lambda: app.live and app.state.status == "running",
                                timeout=120)
                    assert running_again()
                    await pilot.press("R")  # once more: it is live now, in another process
                    await until(pilot, lambda: said_since(
                        app, f"not started: another process (pid {process.pid}) runs", before))
                    await pilot.press("x", "s")  # the view stops the run it started
                    await until(pilot, lambda: said_since(app, "stop sent", before))
                    await until(pilot, lambda: process.poll() is not None, timeout=120)
                    assert process.returncode == 0, launched.output
                    await until(pilot, lambda: said_since(
                        app, f"the headless run (pid {process.pid}) has ended", before))
                    await until(pilot, lambda: not app.live)
                finally:
                    if process.poll() is None:
                        process.kill()
                        process.wait()
                    if launched.output is not None:
                        launched.output.unlink(missing_ok=True)
                return
            assert "in this app's process" in question
            await until(pilot, lambda: said_since(
                app, "the run started again in this process: again, as the test makes it",
                before))
            await until(pilot, running_again)
            if state == "stopped":  # the Idle operator runs until stopped
                await until(pilot, lambda: app.live and app.state.status == "running")
            else:  # it has nothing left to try, again
                await until(pilot, lambda: not client.live()
                            and app.state.status == "finished")
        finally:
            last.close()


async def test_restart_waits_for_a_raise_of_a_spent_budget(template: Path, tmp_path: Path) -> None:
    """A session whose step budget is spent would end a run as it starts: R says so, until a
    raise of it waits in the inbox (the run takes it as it starts)."""
    directory = tmp_path / "spent"
    shutil.copytree(template, directory)
    with Session.open(directory) as session:
        session.set_state(status="finished", budgets=Budgets(max_steps=3).to_doc(),
                          usage={"steps": 3}, announce=False)
    app = make_app(RunClient(directory, restart=headless_restart(tmp_path, "spent")))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        assert any(c.title.startswith("Start the run again once it has stopped or finished")
                   and c.help == "key R" for c in app.get_system_commands(app.screen))
        await pilot.press("R")
        await until(pilot, lambda: said_since(
            app, "not started: the session's step budget reached (3 of 3), so a run would "
            "end as it starts: raise it first (avo send spent budget steps=N"))
        assert not isinstance(app.screen, ChoiceDialog)
        send(directory, SetBudgets({"max_steps": 5}))
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("escape")  # nothing is started
    assert app.client is not None and app.client.launched is None
