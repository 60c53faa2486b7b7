"""SVG snapshots of the app on a session with a branched lineage, at 80x24 and 160x48.

A snapshot that differs fails and leaves the new SVG beside the old one (``*.new.svg``) to
compare in a browser; ``AVO_UPDATE_SNAPSHOTS=1`` accepts the new ones. The 160x48 one is the
README's screenshot.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tui_helpers import branched_session

from avo_tui.engine.client import RunClient
from avo_tui.tui import make_app
from avo_tui.tui.widgets.lineage import LineageTree

SNAPSHOTS = Path(__file__).parent / "snapshots"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def snapshot(directory: Path, size: tuple[int, int], reveal: str | None = None) -> str:
    app = make_app(RunClient(directory))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        if reveal:
            app.query_one(LineageTree).reveal(reveal)
            await pilot.pause()
        await pilot.pause(0.3)  # one poll of the session, as a live view would have done
        return app.export_screenshot(title="avo")


def check(name: str, svg: str) -> None:
    path = SNAPSHOTS / f"{name}.svg"
    fresh = path.with_suffix(".new.svg")
    if os.environ.get("AVO_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(svg)
        fresh.unlink(missing_ok=True)
        return
    if path.read_text() != svg:
        fresh.write_text(svg)
        pytest.fail(f"{path.name} changed: compare it with {fresh} (AVO_UPDATE_SNAPSHOTS=1 "
                    "accepts the new one)")
    fresh.unlink(missing_ok=True)


@pytest.mark.parametrize(("size", "reveal"), [((80, 24), None), ((160, 48), "v6")])
async def test_snapshot(tmp_path: Path, size: tuple[int, int], reveal: str | None) -> None:
    branched_session(tmp_path / "branched").close()
    check(f"app_{size[0]}x{size[1]}", await snapshot(tmp_path / "branched", size, reveal))
