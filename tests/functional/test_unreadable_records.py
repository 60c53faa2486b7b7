"""A session holding an event that does not parse, or a damaged run state, is still shown by
the headless paths (the console printer and output.log, fed by a live engine) and the CLI:
a generic line where a record does not read, and everything else as usual."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import make_session
from engine_helpers import TARGET
from rich.console import Console

from avo_tui.cli import main
from avo_tui.commands.run import _EventPrinter
from avo_tui.engine import Budgets, Engine, Evaluator
from avo_tui.evaluation import Worker
from avo_tui.operators import Operator
from avo_tui.operators.protocol import StepContext, StepResult
from avo_tui.store import EventKind, Session
from avo_tui.views.output_log import OutputLog


class WrongKeys:
    """Events a typed writer cannot make, as a damaged session or another version of avo
    leaves them (a plan under the wrong key, an error without its message, a kind this avo
    does not know), written raw in the middle of a step; then one good plan."""

    name = "tuner"

    def __init__(self, session: Session) -> None:
        self.session = session

    def step(self, ctx: StepContext) -> StepResult:
        self.session.append_event(EventKind.PLAN, txt="1. tile the loop")
        self.session.append_event(EventKind.ERROR, msg="it broke")
        self.session.append_event("lane_started", lane=2)
        ctx.plan("2. unroll it")
        return StepResult("wrote four events")

    def redirect(self, ctx: StepContext, reason: str) -> None:
        pass


def headless_step(session: Session, operator: Operator, worker: Worker,
                  width: int = 200) -> tuple[str, str]:
    """One step of ``operator`` on a live engine, wired as ``avo run --headless`` wires it
    (commands/run.py): what the console printer printed and what output.log holds."""
    engine = Engine(session, operator, Evaluator(TARGET, worker, quick=True),
                    budgets=Budgets(max_steps=1))
    output_log = OutputLog(session.directory, "GFLOP/s")
    console = Console(file=io.StringIO(), width=width, highlight=False, soft_wrap=True)
    engine.subscribe(output_log)
    engine.subscribe(_EventPrinter(console, "GFLOP/s"))
    with session:
        assert "step budget" in engine.run()
        output_log.close()
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    return printed, (session.directory / "output.log").read_text()


def test_the_headless_console_and_output_log_show_unreadable_events(
    tmp_path: Path, worker: Worker
) -> None:
    session = make_session(tmp_path / "s")
    printed, logged = headless_step(session, WrongKeys(session), worker)
    with Session.open(session.directory, writable=False) as reader:
        errors = [e.data for e in reader.events() if e.kind == EventKind.ERROR]
    for shown in (printed, logged):
        assert "plan     (unreadable event: PlanPayload: no 'text')" in shown
        assert "error    (unreadable event: ErrorPayload: no 'message')" in shown
        assert "lane_started (unreadable event: a kind this avo does not know)" in shown
        assert shown.index("no 'message'") < shown.index("plan     2. unroll it")
        assert "step 1 done: wrote four events" in shown
    assert errors == [{"msg": "it broke"}]  # no subscriber failed on any of them


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """A session whose state has fields of the wrong type, and whose log holds a plan under
    the wrong key."""
    root = tmp_path / "sessions"
    with make_session(root / "hurt") as session:
        wrong: dict[str, Any] = {  # every field of the wrong type, past set_state's types
            "status": ["paused"], "step": "three", "usage": "lots", "guidance": 5,
            "lanes": {"1": {"pending_hints": "try", "in_flight": {"base": 7}}}}
        session.set_state(announce=False, **wrong)
        session.append_event(EventKind.PLAN, txt="1. tile the loop")
    return root


def avo(root: Path, *argv: str) -> int:
    return main(["--sessions-dir", str(root), *argv])


def test_sessions_list_and_show_read_a_damaged_state(
    damaged: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    assert avo(damaged, "sessions", "list") == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "hurt" in line)
    assert "unknown" in row and "paused" not in row  # not taken for a status

    assert avo(damaged, "sessions", "show", "hurt") == 0
    out = capsys.readouterr().out
    assert "status unknown" in out and "head v0" in out
    assert ("state fields that did not read (shown as their defaults): guidance, lanes.1, "
            "status, step, usage") in out

    assert avo(damaged, "sessions", "show", "hurt", "--json") == 0
    assert json.loads(capsys.readouterr().out)["state"]["step"] == "three"  # the raw record


def test_sessions_show_reports_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    with make_session(tmp_path / "sessions" / "ok") as session:
        session.set_state(announce=False, status="paused", step=4, guidance="keep UNROLL=2",
                          lanes={"1": {"pending_hints": ["try BLOCK_Q=64"]}},
                          usage={"steps": 4, "seconds": 5400.0, "cost_usd": 1.5,
                                 "tokens": 120_000})
    assert avo(tmp_path / "sessions", "sessions", "show", "ok") == 0
    out = capsys.readouterr().out
    assert ("step 4   paused after 1.50 h of run time   $1.50, 120,000 tokens   1 pending hint"
            in out)
    assert "guidance: keep UNROLL=2" in out
    assert "did not read" not in out

