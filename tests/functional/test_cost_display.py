"""Cost you can see: the app's status bar and ``avo sessions show`` give the last step's cost
and the mean cost of a committed version beside the session's total, on a real session on
disk (the figures are the ones the engine stores: step events, versions' costs, the usage)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_app import status_text as shown_status
from tui_helpers import opened, until

from avo_tui.cli import main
from avo_tui.engine import Usage
from avo_tui.engine.client import RunClient
from avo_tui.store import Score, Session, StepPayload
from avo_tui.tui import make_app
from avo_tui.tui.widgets.status import StatusFacts, status_text

pytestmark = pytest.mark.anyio
SEED = {"kernel.c": "// seed\nint tile = 16;\n"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def spend(session: Session, step: int, cost_usd: float, tokens: int,
          commit: dict[str, str] | None = None) -> None:
    """What the engine stores for a step that cost this much: its ``step`` event, the usage,
    and, where it commits ``commit``, a version costing what was spent since the last one."""
    usage = Usage.from_doc(session.state.get("usage"))
    usage.steps = step
    usage.cost_usd, usage.tokens = usage.cost_usd + cost_usd, usage.tokens + tokens
    version = None
    if commit is not None:
        since_usd, since_tokens = usage.since_commit()
        usage = usage.committed()
        version = session.commit(commit, author="agent", message=f"step {step}",
                                 score=Score(float(step)), cost_usd=since_usd,
                                 tokens=since_tokens).id
    session.set_state(announce=False, step=step, usage=usage.to_doc())
    session.append(StepPayload(step, f"step {step}", version=version, cost_usd=cost_usd,
                               tokens=tokens, failed=step == 1))


def costly_session(directory: Path, agent: dict[str, object] | None = None) -> Session:
    """Four steps, $4.40 in all: a failed one ($1.25) and one ($2.00) that led to v1 ($3.25),
    one ($0.75) that committed v2 ($0.75), and one ($0.40) that committed nothing. ``agent``:
    the agent's settings as the session stores them."""
    session = Session.create(directory, target="cpu-attention", operator="agent",
                             seed_files=SEED, score=Score(1.0),
                             settings={"agent": agent} if agent else None)
    spend(session, 1, 1.25, 120_000)
    spend(session, 2, 2.00, 200_000, {"kernel.c": "// v1\nint tile = 32;\n"})
    spend(session, 3, 0.75, 75_000, {"kernel.c": "// v2\nint tile = 64;\n"})
    spend(session, 4, 0.40, 40_000)
    return session


async def test_the_status_bar_shows_the_last_steps_cost_and_a_versions_mean(
    tmp_path: Path,
) -> None:
    path = tmp_path / "costly"
    with costly_session(path) as session:
        app = make_app(RunClient(path))
        async with app.run_test(size=(160, 48)) as pilot:
            await opened(pilot, app)
            assert "0.43M tok $4.40 · $0.40/step · $2.00/ver" in shown_status(app)
            # the run goes on: a step costing $1.10 commits v3, which took $1.50
            spend(session, 5, 1.10, 110_000, {"kernel.c": "// v3\nint tile = 128;\n"})
            await until(pilot, lambda: "$1.10/step" in shown_status(app))
            assert "0.55M tok $5.50 · $1.10/step · $1.83/ver" in shown_status(app)


async def test_the_status_bar_shows_the_last_steps_cost_against_max_step_cost(
    tmp_path: Path,
) -> None:
    path = tmp_path / "capped"
    with costly_session(path, {"max_step_cost_usd": 2.0}):
        app = make_app(RunClient(path))
        async with app.run_test(size=(200, 48)) as pilot:
            await opened(pilot, app)
            assert "$0.40/step of $2.00 max" in shown_status(app)


def test_the_cost_figures_leave_the_status_bar_first_on_a_narrow_terminal() -> None:
    facts = StatusFacts(session="mha-1", target="mha", operator="agent", state="running",
                        step=42, seconds=3600.0, best="v7 612.3 TFLOP/s 1.082x",
                        tokens=2_500_000, cost_usd=12.4, device="NVIDIA H200", attached=False,
                        step_usd=0.83, version_usd=4.13)
    wide = status_text(facts).plain
    assert "2.50M tok $12.40 · $0.83/step · $4.13/ver · NVIDIA H200" in wide
    less = status_text(facts, len(wide) - 1).plain
    assert "/step" not in less and "$4.13/ver · NVIDIA H200" in less
    least = status_text(facts, len(less) - 1).plain
    assert "/ver" not in least and "$12.40 · NVIDIA H200" in least
    narrow = status_text(facts, 80).plain
    assert len(narrow) <= 80 and "step 42" in narrow and "best v7" in narrow


def cost_cells(out: str) -> dict[str, str]:
    """{version: its cost cell} from the table ``sessions show`` prints: the cell after the
    lines added and removed."""
    cells = {}
    for line in out.splitlines():
        row = line.split()
        ids = [cell for cell in row[:2] if re.fullmatch(r"v\d+", cell)]
        changed = [i for i, cell in enumerate(row) if re.fullmatch(r"\+\d+/-\d+", cell)]
        if ids and changed:
            cells[ids[0]] = row[changed[0] + 1]
    return cells


def test_sessions_show_prints_the_cost_per_step_and_per_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    costly_session(tmp_path / "costly").close()
    assert main(["--sessions-dir", str(tmp_path), "sessions", "show", "costly"]) == 0
    out = capsys.readouterr().out
    # the session was never run by an engine (its steps are written in): not "running"
    assert "step 4   new   $4.40, 435,000 tokens\n" in out
    assert "per step $1.10 mean, $0.40 last   per version $2.00   $0.40 since v2\n" in out
    header = next(line for line in out.splitlines() if line.split()[:1] == ["version"])
    assert header.split()[:8] == ["version", "parent", "author", "score", "ratio", "+/-",
                                  "cost", "created"]
    assert cost_cells(out) == {"v0": "-", "v1": "$3.25", "v2": "$0.75"}


def test_sessions_show_has_no_cost_column_or_line_where_nothing_was_spent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    with Session.create(tmp_path / "free", target="cpu-attention", operator="tuner",
                        seed_files=SEED, score=Score(1.0)) as session:
        session.commit({"kernel.c": "// v1\n"}, author="tuner", message="tuned",
                       score=Score(2.0))
    assert main(["--sessions-dir", str(tmp_path), "sessions", "show", "free"]) == 0
    out = capsys.readouterr().out
    assert "cost" not in out and "tuned" in out
