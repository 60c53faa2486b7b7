"""``R`` with the engine in the app (``avo run`` without --headless): once the run has ended,
the app starts it again in its own process as ``avo run`` with the same options resumes it.
The real preparation of ``avo run`` (commands/run.py), a real cpu-attention session and the
tuner: ``--max-steps 1`` ends each run after one step, and the second counts its own step."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from engine_helpers import SHORT_GATE_CAP_S
from tui_helpers import opened, until

from avo_tui.commands.prepare import PreparedRun
from avo_tui.commands.run import app_preparation, run_args
from avo_tui.engine import RunSettings
from avo_tui.engine.client import OUTPUT_LOG
from avo_tui.store import Score, Session
from avo_tui.tui import make_preparing_app
from avo_tui.tui.screens.dialogs import ChoiceDialog

pytestmark = pytest.mark.anyio
SEED = Path(__file__).resolve().parents[2] / "kernels" / "cpu" / "attention.c"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_app_starts_its_ended_run_again_as_avo_run_resumes_it(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    Session.create(root / "again", target="cpu-attention", operator="tuner",
                   seed_files={"attention.c": SEED.read_text()}, score=Score(1e12),
                   settings=RunSettings(quick=True, gate_cap_s=SHORT_GATE_CAP_S).to_doc()).close()
    args = run_args("again", sessions_dir=root, max_steps=1)
    started: list[PreparedRun] = []
    with ExitStack() as held:
        app = make_preparing_app("again", app_preparation(args, held, started))
        async with app.run_test(size=(120, 36)) as pilot:
            await opened(pilot, app)
            client = app.client
            assert client is not None and client.engine is not None
            first = client.engine
            await until(pilot, lambda: not client.live() and app.state.status == "finished",
                        timeout=180)
            assert app.state.reason == "limit reached: 1 of 1 steps this run (--max-steps)"

            await pilot.press("R")
            await pilot.pause()
            assert isinstance(app.screen, ChoiceDialog)
            assert "in this app's process, as avo run resumes it" in str(app.screen.question)
            await pilot.press("s")
            await until(pilot, lambda: any(
                "the run started again in this process: resuming 'again' at v" in n.message
                and "with the tuner: step 1" in n.message
                and "this run stops after 1 step" in n.message for n in app._notifications))
            assert client.engine is not first
            await until(pilot, lambda: not client.live() and app.state.reason
                        == "limit reached: 1 of 1 steps this run (--max-steps); 2 in the session",
                        timeout=180)
            await pilot.press("q")
    with Session.open(root / "again", writable=False) as session:
        assert session.run_state.step == 2
    log = (root / "again" / OUTPUT_LOG).read_text()
    # both runs wrote the session's log
    assert log.count("limit reached: 1 of 1 steps this run") == 2, log
