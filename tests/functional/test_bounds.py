"""Bounds on every count a user can type (issue 53): an absurd value is refused in one line,
before anything is written, and no value, even one already stored by hand, leaves a session
that the next command cannot open or fix. Through the real ``avo`` command, as a user types it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_numbers import OPTIONS

from avo_tui.cli import main
from avo_tui.commands import NumberOption
from avo_tui.engine.lanes import LANES_PER_WORKER, most_lanes
from avo_tui.store import MOST_LANES, RunState, Session

AVO = [sys.executable, "-m", "avo_tui"]


def avo(sessions: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AVO, "--sessions-dir", str(sessions), *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize(("path", "option", "kind"), OPTIONS,
                         ids=[f"{' '.join(p)}{o}" for p, o, _ in OPTIONS])
def test_every_numeric_option_has_a_ceiling(
    path: list[str], option: str, kind: NumberOption, capsys: pytest.CaptureFixture[str]
) -> None:
    above = str(int(kind.most) + 1) if kind.kind is int else repr(kind.most * 10)
    with pytest.raises(SystemExit) as exit_:
        main([*path, f"{option}={above}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"avo: error: argument {option}: must be at most ") and (
        err.count("\n") == 1), err


def test_the_lane_bound_follows_the_workers() -> None:
    assert most_lanes(1) == LANES_PER_WORKER and most_lanes(2) == 2 * LANES_PER_WORKER
    assert most_lanes(1000) == MOST_LANES and most_lanes(None) == MOST_LANES


def test_a_state_of_absurd_lanes_reads_bounded() -> None:
    state = RunState.from_doc({"lane_count": 100_000, "lanes": {
        str(k): {"operator": "tuner"} for k in range(1, 100_001)} | {"9" * 5000: {}}})
    assert state.lane_count == MOST_LANES and len(state.lanes) == MOST_LANES
    assert any("lane_count (100,000" in d for d in state.damaged)


@pytest.fixture
def sessions(capped_template: Path, tmp_path: Path) -> Path:
    """A folder with one seeded cpu-attention session, ``s``."""
    shutil.copytree(capped_template, tmp_path / "sessions" / "s")
    return tmp_path / "sessions"


def files_of(session: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in session.iterdir() if p.is_file() and p.name != "lock"}


BAD = [
    (["--lanes", "100000"], "avo: error: argument --lanes: must be at most 64, got '100000' "
     "(see avo run --help)"),
    (["--lanes", "0"], "avo: error: argument --lanes: must be a positive number, got '0' "
     "(see avo run --help)"),
    (["--lanes=-3"], "avo: error: argument --lanes: must be a positive number, got '-3' "
     "(see avo run --help)"),
    (["--lanes", "9"], f"avo: error: --lanes 9: at most {LANES_PER_WORKER} here, "
     f"{LANES_PER_WORKER} per evaluation worker and this run has 1 (more lanes only queue; "
     "--gpus or --workers gives more workers)"),
    (["--max-steps", "99999999999999999999"], "avo: error: argument --max-steps: must be at "
     "most 10,000,000, got '99999999999999999999' (see avo run --help)"),
    (["--max-steps", "0"], "avo: error: argument --max-steps: must be a positive number, got "
     "'0' (see avo run --help)"),
    (["--workers", "100000"], "avo: error: argument --workers: must be at most 1,024, got "
     "'100000' (see avo run --help)"),
    (["--hours", "1e300"], "avo: error: argument --hours: must be at most 8,784, got '1e300' "
     "(see avo run --help)"),
]


def test_each_bad_count_is_one_line_and_the_session_goes_on(sessions: Path) -> None:
    before = files_of(sessions / "s")
    for options, line in BAD:
        done = avo(sessions, "run", "--session", "s", "--headless", *options)
        assert done.returncode != 0 and done.stderr == line + "\n", (options, done.stderr)
        assert files_of(sessions / "s") == before, options  # nothing was written
    done = avo(sessions, "send", "s", "budget", "steps=1e30")
    assert done.returncode == 1 and done.stderr == (
        "avo: error: budget steps: must be at most 10,000,000, got '1e30'\n")
    assert files_of(sessions / "s") == before
    done = avo(sessions, "run", "--session", "s", "--headless", "--max-steps", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "with the tuner: step" in done.stdout and "run ended" in done.stdout
    listed = avo(sessions, "sessions", "list")
    assert listed.returncode == 0 and "s " in listed.stdout


def test_a_session_holding_an_absurd_lane_count_opens_and_is_mended(sessions: Path) -> None:
    with Session.open(sessions / "s") as session:  # as avo run --lanes 100000 once left it
        lane = {"operator": "tuner", "status": "running", "steps": 0, "commits": 0}
        session.set_state(announce=False, lane_count=100_000,
                          lanes={str(k): dict(lane) for k in range(1, 100_001)})
    listed = avo(sessions, "sessions", "list")
    assert listed.returncode == 0 and "s " in listed.stdout
    done = avo(sessions, "run", "--session", "s", "--headless", "--max-steps", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    notes = [line for line in done.stderr.splitlines() if "lanes" in line]
    assert notes == [f"note: the session keeps 100,000 lanes, more than any run can have "
                     f"({MOST_LANES}); this run has {LANES_PER_WORKER} (--lanes N sets the count "
                     "kept)"]
    assert f"tuner in {LANES_PER_WORKER} lanes" in done.stdout and "run ended" in done.stdout
    with Session.open(sessions / "s", writable=False) as session:
        assert session.state["lane_count"] == LANES_PER_WORKER
        assert len(session.state["lanes"]) <= MOST_LANES  # the others were dropped on save
    again = avo(sessions, "run", "--session", "s", "--headless", "--max-steps", "1",
                "--lanes", "1")
    assert again.returncode == 0 and "lanes" not in again.stderr, again.stderr
