"""Resuming a session with ``avo run``: ``--max-steps`` counts the steps of this run, and
``--operator`` switches the session's variation operator (a session begun with the agent can
go on with the tuner). ``--max-steps`` once counted the whole session, and the operator a
session was created with could not be changed, while the error suggested a flag that did
not help."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import SHORT_GATE_CAP_S, TARGET

from avo_tui.cli import main
from avo_tui.engine import RunSettings
from avo_tui.engine.client import RunClient
from avo_tui.engine.run_status import RunStatus
from avo_tui.store import OperatorPayload, Score, Session, payload_of

SEED = Path(__file__).resolve().parents[2] / "kernels" / "cpu" / "attention.c"


def avo(root: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--sessions-dir", str(root), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def state(path: Path) -> tuple[int, dict[str, Any]]:
    with Session.open(path, writable=False) as s:
        return s.run_state.step, s.state


def quick_session(root: Path, name: str, operator: str = "tuner") -> Path:
    """A session on the tests' small cpu-attention (engine_helpers.TARGET), on its quick grid,
    its seed stored with a score nothing reaches. First readings are timed beside the seed, not
    against that score, so a step may still commit a real gain: what follows does not depend
    on which version is the head, nor on what the gate decides (its cap is
    engine_helpers.SHORT_GATE_CAP_S)."""
    Session.create(root / name, target=TARGET.ref, operator=operator,
                   seed_files={"attention.c": SEED.read_text()}, score=Score(1e12),
                   settings=RunSettings(operator=operator, quick=True,
                                        gate_cap_s=SHORT_GATE_CAP_S).to_doc()).close()
    return root / name


def test_max_steps_on_a_resume_counts_the_steps_of_that_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sessions"
    path = quick_session(root, "r")
    code, out, err = avo(root, capsys, "run", "--session", "r", "--headless", "--max-steps", "1")
    assert code == 0, out + err
    assert "run ended: limit reached: 1 of 1 steps this run (--max-steps)." in out
    assert state(path)[0] == 1

    code, out, err = avo(root, capsys, "run", "--session", "r", "--headless", "--max-steps", "2")
    assert code == 0, out + err
    assert re.search(r"resuming 'r' at v\d+ with the tuner: step 1", out), out
    assert "; this run stops after 2 steps" in out
    assert ("run ended: limit reached: 2 of 2 steps this run (--max-steps); 3 in the session."
            in out)
    step, doc = state(path)
    assert step == 3
    assert doc["budgets"]["max_steps"] is None  # a run's own limit is not kept
    assert "run_steps" not in doc["budgets"]

    code, out, err = avo(root, capsys, "run", "--session", "r", "--headless", "--max-steps", "1")
    assert code == 0, out + err
    assert state(path)[0] == 4
    # a view says the run's own limit, not a budget, and how to go on
    assert status_of(path) == RunStatus("limit-reached", "limit reached: 1 of 1 steps this run "
                                        "(--max-steps); 4 in the session; resume with avo run "
                                        "--session r")


def test_a_session_step_budget_still_counts_the_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sessions"
    quick_session(root, "b")
    assert avo(root, capsys, "send", "b", "budget", "steps=1")[0] == 0
    code, out, err = avo(root, capsys, "run", "--session", "b", "--headless", "--max-steps", "5")
    assert code == 0, out + err
    assert "run ended: step budget reached (1 of 1)." in out
    assert state(root / "b")[0] == 1
    assert status_of(root / "b") == RunStatus("budget-reached", "step budget reached (1 of 1)")


def status_of(path: Path) -> RunStatus:
    client = RunClient(path)
    try:
        return client.run_status()
    finally:
        client.close()


def test_a_run_killed_reads_as_killed_with_how_to_resume(tmp_path: Path) -> None:
    """kill -9 leaves the state saying running, with no process holding the session: not a
    clean stop, which would have said ``stopped``."""
    path = quick_session(tmp_path, "k")
    with Session.open(path) as session:
        session.set_state(announce=False, status="running")
    assert status_of(path) == RunStatus(
        "killed", "its process died without ending the run (killed, or the machine went "
        "down); resume with avo run --session k")
    with Session.open(path) as session:
        session.set_state(announce=False, status="stopped", reason="stopped from the app")
    assert status_of(path).name == "stopped"


@pytest.fixture
def agent_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A session begun with the agent, on a machine without an API key."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("AVO_SETTINGS", str(tmp_path / "no-settings.toml"))
    root = tmp_path / "sessions"
    quick_session(root, "a", operator="agent")
    return root


def test_without_a_key_the_error_gives_the_command_that_goes_on_with_the_tuner(
    agent_session: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(agent_session / "a")
    code, out, err = avo(agent_session, capsys, "run", "--session", "a", "--headless",
                         "--max-steps", "1")
    assert code == 1 and "resuming" not in out
    assert err.count("\n") == 1
    assert err.startswith("avo: error: the agent operator needs an API key")
    assert err.endswith("To go on with the tuner: avo run --session a --operator tuner (the "
                        "switch is kept for later runs)\n")
    assert state(agent_session / "a") == before  # nothing recorded


def test_operator_switches_on_a_resume_and_the_switch_is_kept(
    agent_session: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = agent_session / "a"
    code, out, err = avo(agent_session, capsys, "run", "--session", "a", "--headless",
                         "--max-steps", "1", "--operator", "tuner", "--rng-seed", "2")
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0] == ("operator switched from agent to tuner (kept for later runs; avo run "
                        "--session a --operator agent switches back)")
    assert lines[1].startswith("resuming 'a' at v0 with the tuner: step 0")
    assert "run ended: limit reached: 1 of 1 steps this run (--max-steps)." in out
    with Session.open(path, writable=False) as s:
        switches = [payload_of(e) for e in s.events() if e.kind == "operator"]
        authors = {s.attempt(f"a{n}").author for n in range(1, s.attempt_count + 1)}
        assert s.run_state.operator == "tuner" and s.run_state.step == 1
    assert switches == [OperatorPayload("agent", "tuner")]
    assert authors == {"tuner"}

    # later runs keep it, with no new switch; listings show it
    code, out, err = avo(agent_session, capsys, "run", "--session", "a", "--headless",
                         "--max-steps", "1")
    assert code == 0, out + err
    assert "operator switched" not in out and "with the tuner: step 1" in out
    with Session.open(path, writable=False) as s:
        assert len([e for e in s.events() if e.kind == "operator"]) == 1
        assert s.run_state.step == 2
    code, out, _ = avo(agent_session, capsys, "sessions", "list", "--json")
    assert code == 0 and [s["operator"] for s in json.loads(out)] == ["tuner"]
    code, out, _ = avo(agent_session, capsys, "sessions", "show", "a")
    header = " ".join(out.split("\nhead ")[0].split())  # the header line, however wrapped
    assert "operator tuner (switched from agent)" in header


def test_a_budget_change_during_a_run_keeps_the_run_s_own_limit() -> None:
    from avo_tui.engine import Budgets

    budgets = Budgets(hours=1.0).for_run(3, done=5)
    raised = budgets.override(max_cost_usd=40.0)  # avo send NAME budget cost=40, mid-run
    assert (raised.run_steps, raised.run_from, raised.max_cost_usd) == (3, 5, 40.0)
    assert raised.to_doc() == {"max_steps": None, "hours": 1.0, "max_cost_usd": 40.0,
                               "max_tokens": None}
    with pytest.raises(TypeError, match="not a budget: run_steps"):
        budgets.override(run_steps=1)


def test_the_app_shows_the_operator_a_resume_switched_to(
    agent_session: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from avo_tui.engine.client import RunClient
    from avo_tui.tui.reading import SessionReader

    code, out, err = avo(agent_session, capsys, "run", "--session", "a", "--headless",
                         "--max-steps", "1", "--operator", "tuner")
    assert code == 0, out + err
    client = RunClient(agent_session / "a")
    try:
        polled = SessionReader(client).poll(want_candidate=False)
    finally:
        client.close()
    assert polled.facts.operator == "tuner"
    assert "operator switched from agent to tuner" in polled.lines
