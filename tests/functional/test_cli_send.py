"""``avo send`` checks what it can before anything is sent, says plainly when a command is
only queued (no run is live), and the next run announces the queued commands it applies.
It once queued ``rollback v99`` for a stopped session without a word, and a leftover
``pause`` made the next run sit there."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from avo_tui.cli import main
from avo_tui.engine import RunSettings
from avo_tui.engine.commands import Command, Pause, Stop
from avo_tui.engine.inbox import queued
from avo_tui.store import QueuedPayload, Score, Session, payload_of

AVO = [sys.executable, "-m", "avo_tui.cli"]
SEED = Path(__file__).resolve().parents[2] / "kernels" / "cpu" / "attention.c"


@pytest.fixture
def sessions(tmp_path: Path) -> Path:
    """``demo``: v0 <- v1, no run live, 12 steps and $2.50 spent."""
    root = tmp_path / "sessions"
    with Session.create(root / "demo", target="cpu-attention", operator="tuner",
                        seed_files={"k.c": "int x;\n"}, score=Score(1.0)) as s:
        s.commit({"k.c": "int y;\n"}, author="tuner", message="y", score=Score(2.0))
        s.set_state(announce=False, step=12,
                    usage={"steps": 12, "seconds": 7200.0, "cost_usd": 2.5, "tokens": 10_000})
    return root


def send(root: Path, capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    code = main(["--sessions-dir", str(root), "send", "demo", *words])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("words", "error"), [
    (["rollback", "v99"], "no version 'v99' in this session"),
    (["rollback", "v1", "v0"], "rollback needs one version: avo send NAME rollback v3"),
    (["rollback"], "rollback needs one version"),
    (["pause", "now"], "pause takes no text (got 'now')"),
    (["resume", "please"], "resume takes no text"),
    (["hint", " "], "a hint needs text"),
    (["hint", "x" * 4001], "a hint holds at most 4,000 characters, not 4,001; put longer notes "
                           "in a knowledge folder"),
    (["guide", "y" * 100_000], "a guidance holds at most 4,000 characters, not 100,000"),
    (["budget", "cost=-1"], "budget cost: must be a positive number, got '-1'"),
    (["budget", "cost=nan"], "budget cost: must be a finite number, got 'nan'"),
    (["budget", "hours=inf"], "budget hours: must be a finite number, got 'inf'"),
    (["budget", "cost=0"], "budget cost: must be a positive number, got '0'"),
    (["budget", "cost=lots"], "budget cost: must be a number, got 'lots'"),
    (["budget", "speed=2"], "KEY one of cost, tokens, steps, hours"),
    (["budget", "steps=2.5"], "steps counts whole steps; got 'steps=2.5'"),
    (["budget", "steps=12"], "the session has used 12 steps already; steps=12 would end or "
                             "pause its run at once: give more"),
    (["budget", "cost=2"], "the session has used $2.50 already"),
    (["budget", "hours=1.5"], "the session has used 2.00 h of running already"),
    (["budget"], "budget needs at least one limit"),
    (["approve", "a1"], "a1"),
    (["reject"], "reject needs one suspect's attempt id"),
    (["edit", "missing.c"], "missing.c does not exist"),
    (["edit", str(Path(__file__).parents[2] / "README.md")],
     "README.md is not a kernel source of the c toolchain (a .c/.h file, or a folder of them)"),
])
def test_what_cannot_apply_is_refused_at_once_and_nothing_is_queued(
    sessions: Path, capsys: pytest.CaptureFixture[str], words: list[str], error: str
) -> None:
    code, out, err = send(sessions, capsys, *words)
    assert code == 1 and out == ""
    assert err.startswith("avo: error: ") and error in err and err.count("\n") == 1, err
    assert queued(sessions / "demo") == []


def test_a_command_for_a_session_no_run_holds_is_said_to_be_queued(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = send(sessions, capsys, "rollback", "v0")
    assert code == 0
    assert out == ("queued rollback v0 for 'demo': no run is live, so it waits for the next one "
                   "(avo run --session demo), which announces it and applies it first\n")
    code, out, _ = send(sessions, capsys, "pause", "--queue")
    lines = out.splitlines()
    assert lines[0].startswith("queued pause for 'demo': no run is live")
    assert lines[1] == ("2 commands wait, in this order: rollback v0; pause "
                        "(avo send demo drop removes them)")
    assert lines[2] == ("note: with a pause queued, the next run starts paused; avo send demo "
                        "resume (or p in the app) lets it go on")

    assert main(["--sessions-dir", str(sessions), "sessions", "show", "demo"]) == 0
    assert ("queued for the next run: rollback v0; pause (avo send demo drop removes them)"
            in capsys.readouterr().out)

    code, out, _ = send(sessions, capsys, "drop")
    assert (code, out) == (0, "dropped from 'demo': rollback v0; pause\n")
    assert queued(sessions / "demo") == []
    assert send(sessions, capsys, "drop")[1] == "dropped from 'demo': nothing was queued\n"


@pytest.mark.parametrize(("words", "why", "command"), [
    (["stop"], "a stop queued now would end the next run as it starts",
     Stop("stopped by avo send")),
    (["stop", "done", "for", "today"], "a stop queued now would end the next run",
     Stop("done for today")),
    (["pause"], "a pause queued now would hold the next run paused from its start", Pause()),
    (["--lane", "1", "pause"], "a pause queued now would hold", Pause(lane=1)),
])
def test_a_stop_or_pause_with_no_run_live_is_refused_unless_queued_on_purpose(
    sessions: Path, capsys: pytest.CaptureFixture[str], words: list[str], why: str,
    command: Command,
) -> None:
    """Issue 71: ``avo send NAME stop`` with no run live queued a stop, and the next ``avo run
    --session NAME`` was stopped 2 s after it started (the app's x refuses this case)."""
    code, out, err = send(sessions, capsys, *words)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert err.startswith("avo: error: no run of 'demo' is live, and ") and why in err, err
    again = shlex.join(["avo", "send", "demo", *words, "--queue"])
    assert err.endswith(f"to queue it for the next run on purpose, add --queue: {again}\n"), err
    assert queued(sessions / "demo") == []

    code, out, _ = send(sessions, capsys, *words, "--queue")
    assert code == 0 and out.startswith("queued "), out
    assert [q.command for q in queued(sessions / "demo")] == [command]


def test_a_stop_to_a_live_run_needs_no_queue(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session.open(sessions / "demo"):  # this process holds the lock, as a run would
        code, out, _ = send(sessions, capsys, "stop")
    assert code == 0 and out.startswith("sent stop (stopped by avo send) to 'demo' (run by pid")
    assert [q.command for q in queued(sessions / "demo")] == [Stop("stopped by avo send")]


def test_best_and_head_are_sent_as_the_version_they_name_now(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert send(sessions, capsys, "rollback", "best")[0] == 0
    [waiting] = queued(sessions / "demo")
    assert waiting.command.version == "v1"  # type: ignore[union-attr]


def test_a_live_run_is_named_and_drop_is_refused(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session.open(sessions / "demo"):  # this process holds the lock, as a run would
        code, out, _ = send(sessions, capsys, "hint", "try", "BLOCK_Q=64")
        assert code == 0
        assert out.startswith("sent hint 'try BLOCK_Q=64' to 'demo' (run by pid ")
        assert out.endswith("it applies at the run's next safe point\n")
        code, _, err = send(sessions, capsys, "drop")
        assert code == 1 and "a run of 'demo' is live" in err


# -- the next run announces what it applies ----------------------------------------------------


def wait_until(predicate: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    backstop = time.monotonic() + 600  # only so that a run that never gets there fails
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"avo ended early:\n{proc.stdout.read() if proc.stdout else ''}")
        assert time.monotonic() < backstop, "the run never paused"
        time.sleep(0.05)


def test_the_next_run_announces_the_queued_commands_and_a_leftover_pause_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sessions"
    settings = RunSettings(quick=True).to_doc()
    Session.create(root / "demo", target="cpu-attention", operator="tuner",
                   seed_files={"attention.c": SEED.read_text()}, score=Score(1e-9),
                   settings=settings).close()
    for words in (["hint", "try UNROLL=2"], ["pause", "--queue"]):
        assert main(["--sessions-dir", str(root), "send", "demo", *words]) == 0
    capsys.readouterr()

    run = subprocess.Popen([*AVO, "--sessions-dir", str(root), "run", "--session", "demo",
                            "--headless"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    try:
        def paused() -> bool:
            with Session.open(root / "demo", writable=False) as s:
                return s.run_state.status == "paused"

        wait_until(paused, run)
        assert main(["--sessions-dir", str(root), "send", "demo", "stop"]) == 0
        out, _ = run.communicate(timeout=300)
    finally:
        run.kill()
    assert run.returncode == 0, out
    lines = out.splitlines()
    announced = [i for i, line in enumerate(lines) if line.startswith("queued   applying")]
    assert len(announced) == 1, out
    line = lines[announced[0]]
    assert line.startswith("queued   applying 2 commands sent while no run was live: "
                           "hint 'try UNROLL=2', sent "), line
    assert "; pause, sent " in line
    assert lines.index("paused") > announced[0]  # the pause follows its announcement
    assert "run ended: stopped by avo send." in lines

    with Session.open(root / "demo", writable=False) as s:
        events = s.events()
        assert s.run_state.step == 0  # paused from the start: no step ran
    kinds = [e.kind for e in events]
    assert kinds.index("queued") < kinds.index("hint") < kinds.index("pause")
    payload = payload_of(events[kinds.index("queued")])
    assert isinstance(payload, QueuedPayload)
    assert [c.split(", sent ")[0] for c in payload.commands] == ["hint 'try UNROLL=2'", "pause"]


@pytest.mark.parametrize(("text", "twin"), [("int y;\n", "v1 (the best)"),
                                            ("int x;\n", "v0 (the seed)")])
def test_an_edit_identical_to_a_version_is_refused_before_it_is_sent(
    sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, twin: str
) -> None:
    """Issue 87: `avo send NAME edit` said "sent" for the best's own files, which the run
    refused later."""
    (tmp_path / "k.c").write_text(text)
    code, out, err = send(sessions, capsys, "edit", str(tmp_path / "k.c"))
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert f"the edit is identical to {twin}: nothing new to evaluate" in err, err
    assert queued(sessions / "demo") == []
    (tmp_path / "k.c").write_text("int z;\n")
    code, out, _ = send(sessions, capsys, "edit", str(tmp_path / "k.c"))
    assert code == 0 and out.startswith("queued edit") and len(queued(sessions / "demo")) == 1
