"""Suspects: a result the evaluator flags as implausible is never committed automatically; the
gate holds it until the operator approves it (it becomes a version) or rejects it.

On the real parts: a TinyDB session on disk whose seed's stored score is implausibly low, so the
real CPU evaluator's jump rule flags every correct candidate (engine_helpers.flagged_session),
the real engine with the tuner or the agent (over the fake Messages API), ``avo run
--headless`` and ``avo send`` as processes, and the app driven by Pilot. No assertion depends on
which kernel is faster."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import commit_calls, edit, make_agent, use_fake
from engine_helpers import REPEAT_LINE, flagged_session, start, submitting
from fake_anthropic import FakeAnthropic, reply, text, tool_use
from rich.console import Console
from textual.widgets import Static
from tui_helpers import until

from avo_tui.cli import main
from avo_tui.engine import Approve, Budgets, Engine, Evaluator, Reject, Stop
from avo_tui.engine.client import RunClient
from avo_tui.engine.commands import Command
from avo_tui.evaluation import Worker, get_target
from avo_tui.operators import Tuner
from avo_tui.store import Score, Session, StoreError, Suspect

AVO = [sys.executable, "-m", "avo_tui.cli"]


@pytest.fixture
def flagged(template: Path, tmp_path: Path) -> Path:
    """A session (closed) in which every correct candidate comes back flagged."""
    path = tmp_path / "sessions" / "flagged"
    flagged_session(path, template).close()
    return path


def check_held(session: Session, suspect: Suspect) -> None:
    """A held suspect: a ``suspect`` attempt with the re-evaluation's score, log and flags,
    after a first evaluation that was ``promising``."""
    attempt = session.attempt(suspect.attempt)
    assert attempt.outcome == "suspect" and attempt.version is None
    assert attempt.score is not None and attempt.score.gmean == suspect.gmean > 0
    assert attempt.log is not None and attempt.base == suspect.base == "v0"
    assert suspect.flags and all(flag in attempt.detail for flag in suspect.flags)
    assert "held for the operator's review" in attempt.detail
    first = session.attempt(f"a{attempt.number - 1}")
    assert first.outcome == "promising" and first.files == attempt.files


# -- the store --------------------------------------------------------------------------------


def test_pending_suspects_are_typed_state_that_a_damaged_entry_does_not_break(
    tmp_path: Path,
) -> None:
    from conftest import make_session

    with make_session(tmp_path / "s") as session:
        held = session.hold_suspect(
            {"kernel.c": "// faster\n"}, base="v0", author="tuner", message="tuner: faster",
            flags=["too fast"], score=Score(9.0, ratio=3.0), detail="held",
        )
        assert session.attempt(held.attempt).outcome == "suspect"
        assert session.state["suspects"] == {held.attempt: held.to_doc()}
        assert session.events()[-1].data == {
            "action": "held", "attempt": held.attempt, "base": "v0", "author": "tuner",
            "gmean": 9.0, "unit": "TFLOP/s", "flags": ["too fast"], "_v": 1}
        damaged: dict[str, Any] = {  # a table set_state's types do not name, written anyway
            "suspects": {**session.state["suspects"], "a7": {"not": "a suspect"}}}
        session.set_state(announce=False, **damaged)
    with Session.open(tmp_path / "s", writable=False) as reader:
        assert reader.suspects() == [held]  # the damaged entry is left out, not fatal
        with pytest.raises(StoreError, match="no attempt 'a7'"):
            reader.suspect("a7")


# -- the engine -------------------------------------------------------------------------------


def test_a_flagged_result_is_held_then_approved_or_rejected_across_restarts(
    flagged: Path, worker: Worker
) -> None:
    with Session.open(flagged) as session:
        live = start(session, worker, max_steps=20)
        live.wait(lambda: len(session.suspects()) >= 2, timeout=300)
        live.engine.submit(Stop("two suspects held"))
        live.finish(120)
        assert [v.id for v in session.lineage] == ["v0"]  # nothing committed automatically
        held = [e for e in live.kinds("suspect") if e.data["action"] == "held"]
        assert [e.data["attempt"] for e in held] == [s.attempt for s in session.suspects()]
        assert all(e.data["flags"] for e in held)
        assert any("held as suspect" in e.data["summary"] for e in live.kinds("step"))

    with Session.open(flagged) as session:  # a restart: the suspects are still pending
        suspects = session.suspects()
        assert len(suspects) >= 2
        for suspect in suspects:
            check_held(session, suspect)
        approved, rejected = suspects[0], suspects[1]
        commands: list[Command] = [Approve(approved.attempt), Reject(rejected.attempt),
                                   Approve("a1"), Reject("a999"), Approve(approved.attempt)]
        live = start(session, worker, max_steps=session.state["step"],  # no further step
                     before=submitting(*commands))
        live.finish(120)
        errors = [e.data["message"] for e in live.kinds("error")]

    with Session.open(flagged, writable=False) as session:
        versions = [v for v in session.lineage if v.attempt == approved.attempt]
        assert len(versions) == 1  # approving twice commits once
        version = versions[0]
        assert session.version("head").id == version.id and version.parent == approved.base
        assert version.author == "tuner" and "approved by the operator" in version.message
        assert version.score == session.attempt(approved.attempt).score
        assert version.score and version.score.gmean == approved.gmean
        assert session.read_files(version) == {
            n: session.blobs.get_text(h)
            for n, h in session.attempt(approved.attempt).files.items()}
        assert not [v for v in session.lineage if v.attempt == rejected.attempt]
        pending = [s.attempt for s in session.suspects()]
        assert approved.attempt not in pending and rejected.attempt not in pending
        assert session.attempt(rejected.attempt).outcome == "suspect"  # attempts never change
        decided = {e.data["attempt"]: e.data for e in session.events()
                   if e.kind == "suspect" and e.data["action"] != "held"}
        assert decided[approved.attempt]["action"] == "approved"
        assert decided[approved.attempt]["version"] == version.id
        assert decided[rejected.attempt]["action"] == "rejected"
    assert errors[0].startswith("cannot approve a1: a1 is not a pending suspect")
    assert errors[1].startswith("cannot reject a999: no attempt 'a999'")
    assert errors[2].startswith(f"cannot approve {approved.attempt}: ")


# -- avo send on a headless run ---------------------------------------------------------------


def avo(sessions: Path, *args: str, timeout: float = 300) -> str:
    proc = subprocess.run([*AVO, "--sessions-dir", str(sessions), *args], capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_avo_send_approves_and_rejects_suspects_of_a_headless_run(
    flagged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = flagged.parent
    avo(sessions, "send", "flagged", "budget", "steps=3")  # the session's: later runs stop too
    out = avo(sessions, "run", "--session", "flagged", "--headless")
    with Session.open(flagged, writable=False) as session:
        suspects = session.suspects()
        assert len(suspects) >= 2 and len(session.lineage) == 1, out
    approved, rejected = suspects[0].attempt, suspects[1].attempt
    assert f"⚠ suspect {approved} held for the operator's review" in out
    assert f"⚠ held for your review: {approved}, {rejected}" in out  # the run's last words

    def send(*words: str) -> tuple[int, str, str]:
        code = main(["--sessions-dir", str(sessions), "send", "flagged", *words])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    for words, message in [(("approve", "a1"), "a1 is not a pending suspect"),
                           (("reject", "a99"), "no attempt 'a99'"),
                           (("approve",), "approve needs one suspect's attempt id")]:
        code, _, err = send(*words)
        assert code == 1 and message in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    assert not list((flagged / "inbox").glob("*.json"))  # nothing was sent
    assert send("approve", approved)[:2] == (
        0, f"queued approve {approved} for 'flagged': no run is live, so it waits for the next "
        "one (avo run --session flagged), which announces it and applies it first\n")
    assert send("reject", rejected)[0] == 0

    shown = avo(sessions, "sessions", "show", "flagged")  # the pending ones stand out
    assert f"⚠ {len(suspects)} suspects held for your review" in shown
    assert f"{approved} from v0 by tuner" in shown and f"{rejected} from v0 by tuner" in shown
    assert "flagged: " in shown

    out = avo(sessions, "run", "--session", "flagged", "--headless")  # steps spent: no step
    assert f"suspect  {approved} approved by the operator -> v1" in out
    assert f"suspect  {rejected} rejected by the operator" in out
    with Session.open(flagged, writable=False) as session:
        v1 = session.version("v1")
        assert v1.attempt == approved and session.version("head").id == "v1"
        assert v1.score == session.attempt(approved).score
        assert {approved, rejected}.isdisjoint(s.attempt for s in session.suspects())
        assert len(session.lineage) == 2
    shown = avo(sessions, "sessions", "show", "flagged")
    assert f"{approved} from v0" not in shown and f"{rejected} from v0" not in shown


# -- the app ----------------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


def plain(widget: Static) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


@pytest.mark.anyio
async def test_the_app_shows_a_held_suspect_and_approves_it(flagged: Path, worker: Worker) -> None:
    from avo_tui.tui import make_app
    from avo_tui.tui.screens.dialogs import SuspectsDialog
    from avo_tui.tui.widgets.lineage import LineageTree
    from avo_tui.tui.widgets.output import OutputPane
    from avo_tui.tui.widgets.suspects import SuspectBanner

    with Session.open(flagged) as session:
        target = get_target(session.meta["target"])
        engine = Engine(session, Tuner(1), Evaluator(target, worker, quick=True),
                        budgets=Budgets(max_steps=500))
        app = make_app(RunClient(session.directory, engine))
        async with app.run_test(size=(80, 24)) as pilot:
            banner = app.query_one(SuspectBanner)
            assert not banner.display  # nothing held yet
            # Shown, and laid out: on a loaded machine the layout comes a frame or more later.
            await until(pilot, lambda: banner.display and bool(banner.region), timeout=300)
            shown = plain(banner)
            assert "⚠" in shown and "suspect" in shown and "(a to review)" in shown
            assert banner.region.height == 1 and banner.region.bottom <= 24
            await pilot.press("p")  # a decision also applies while the run is paused
            await until(pilot, lambda: session.state.get("status") == "paused")
            first = session.suspects()[0]
            assert first.attempt in shown
            await pilot.press("a")
            assert isinstance(app.screen, SuspectsDialog)
            dialog = plain(app.screen.query_one("#suspect-detail", Static))
            assert first.flags[0][:40] in dialog
            await pilot.press("a")  # approve the highlighted (oldest) suspect
            assert not isinstance(app.screen, SuspectsDialog)
            await until(pilot, lambda: any(v.attempt == first.attempt for v in session.lineage))
            version = next(v for v in session.lineage if v.attempt == first.attempt)
            assert version.score and version.score.gmean == first.gmean
            tree = app.query_one(LineageTree)
            await until(pilot, lambda: tree.marks.head == version.id)
            await until(pilot, lambda: any(
                f"suspect  {first.attempt} approved by the operator -> {version.id}" in line
                for line in app.query_one(OutputPane).lines))
            await until(pilot, lambda: first.attempt not in plain(banner) or not banner.display)
            await pilot.press("q", "s")
            await until(pilot, lambda: not app.client.live(), timeout=120)


# -- the agent is told ------------------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        use_fake(monkeypatch, server)
        yield server


def test_the_agent_is_told_its_result_is_held_and_not_to_resubmit_it(
    flagged: Path, worker: Worker, fake: FakeAnthropic, tmp_path: Path
) -> None:
    knowledge = tmp_path / "kb"
    knowledge.mkdir()
    (knowledge / "cpu.md").write_text("# CPU attention\n\n## Threads\nUse every core.\n")
    fake.script(
        reply(tool_use(*edit(REPEAT_LINE, REPEAT_LINE.replace("REPEAT 8", "REPEAT 1"))),
              *commit_calls("run on every core")),
        reply(tool_use("commit", {"message": "run on every core, again"})),
        reply(text("Held for review; nothing else to try.")),
    )
    with Session.open(flagged) as session:
        live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
        live.finish(180)
        [suspect] = session.suspects()
        told = fake.requests[1].tool_results()[-1]
        again = fake.requests[2].tool_results()[-1]["content"]
        assert not told.get("is_error")
        content = told["content"]
        assert content.startswith(f"NOT committed: held for the operator's review as suspect "
                                  f"{suspect.attempt}")
        assert all(flag in content for flag in suspect.flags)
        assert "Do not try to re-submit this kernel" in content
        # re-submitted anyway: refused without another evaluation, and nothing committed
        assert f"identical to {suspect.attempt} (a suspect held" in again
        assert session.recent_attempts(1)[0].outcome == "unchanged"
        assert [v.id for v in session.lineage] == ["v0"]
