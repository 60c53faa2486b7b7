"""benchmarks/tui_scale.py's ruler: a key's frame is the first frame that painted the app's
answer to it, even when the app wrote that frame before the timing loop looked at the app.

The loop sees the answer only when the event loop next runs it; a frame the app wrote in
between was once missed, and the key then waited for the next frame anything else caused
(the next poll, up to 0.25 s later): the key-to-render outliers of about 230 ms."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from tui_helpers import opened, settled

from avo_tui.engine.client import RunClient
from avo_tui.store import Session
from avo_tui.tui import make_app
from avo_tui.tui.widgets.diff import DiffPane
from avo_tui.tui.widgets.lineage import LineageTree

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
WAIT_S = 30.0  # for a frame no more will come for: the ruler missed the one that came
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


async def test_a_frame_written_before_the_loop_looked_is_the_keys_frame(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    import tui_scale as bench

    directory = tmp_path / "scale"
    bench.build(directory, 12, 3, progress=False)
    with Session.open(directory, sync=False):  # the writer's, as in the benchmark
        app = make_app(RunClient(directory))
        async with app.run_test(size=(160, 48)) as pilot:
            bench.record_frames(app)
            await opened(pilot, app)
            tree, pane = app.query_one(LineageTree), app.query_one(DiffPane)
            for key in ("up", "m", "down"):
                before = (tree.cursor_line, app.diff_mode)
                seen = len(bench.FRAMES)
                app.simulate_key(key)
                await settled(pilot, app)  # the app answers, reads the diff and paints
                looked = time.perf_counter()
                answer = (tree.cursor_line, app.diff_mode)
                wanted = (tree.selected_version, app.diff_mode)
                assert answer != before and pane.key == wanted

                def shows(frame: bench.Frame, answer: tuple[int, str] = answer) -> bool:
                    return (frame.cursor, frame.mode) == answer

                def shows_diff(frame: bench.Frame, wanted: object = wanted) -> bool:
                    return frame.diff == wanted

                rendered = await asyncio.wait_for(bench.first_frame(seen, shows), WAIT_S)
                diffed = await asyncio.wait_for(bench.first_frame(seen, shows_diff), WAIT_S)
                assert rendered <= diffed < looked, key  # counted, though written earlier
                earlier = [f for f in bench.FRAMES[seen:] if f.at < rendered]
                assert all((f.cursor, f.mode) == before for f in earlier), key
