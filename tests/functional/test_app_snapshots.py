"""SVG snapshots of the app on a session with a branched lineage, at 80x24 and 160x48.

A snapshot that differs fails and leaves the new SVG beside the old one (``*.new.svg``) to
compare in a browser; ``AVO_UPDATE_SNAPSHOTS=1`` accepts the new ones (and skips, since a test
that writes its own expectation proves nothing). A missing snapshot fails: in CI (``CI`` set,
as .ci/run runs) it is an error in the checkout; elsewhere the new one is written for you to
look at and commit. The 160x48 one is the README's screenshot.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tui_helpers import branched_session, opened, settled

from avo_tui.engine.client import RunClient
from avo_tui.tui import make_app
from avo_tui.tui.widgets.lineage import LineageTree

SNAPSHOTS = Path(__file__).parents[1] / "snapshots"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def snapshot(directory: Path, size: tuple[int, int], reveal: str | None = None) -> str:
    app = make_app(RunClient(directory))
    async with app.run_test(size=size) as pilot:
        await opened(pilot, app)
        if reveal:
            app.query_one(LineageTree).reveal(reveal)
            await settled(pilot, app)  # the revealed version's diff
        return app.export_screenshot(title="avo")


def check(name: str, svg: str) -> None:
    path = SNAPSHOTS / f"{name}.svg"
    fresh = path.with_suffix(".new.svg")
    in_ci = bool(os.environ.get("CI"))
    if not path.exists() and in_ci:
        pytest.fail(f"{path} is missing: run the snapshot tests outside CI to write it, look "
                    "at it, and commit it")
    if os.environ.get("AVO_UPDATE_SNAPSHOTS") == "1" and not in_ci:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(svg)
        fresh.unlink(missing_ok=True)
        pytest.skip(f"{path.name} written (AVO_UPDATE_SNAPSHOTS=1): look at it, then run again")
    if not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(svg)
        pytest.fail(f"{path.name} was missing and has been written: look at it, commit it, "
                    "and run again")
    if path.read_text() != svg:
        fresh.write_text(svg)
        pytest.fail(f"{path.name} changed: compare it with {fresh} (AVO_UPDATE_SNAPSHOTS=1 "
                    "accepts the new one)")
    fresh.unlink(missing_ok=True)


@pytest.mark.parametrize(("size", "reveal"), [((80, 24), None), ((160, 48), "v6")])
async def test_snapshot(tmp_path: Path, size: tuple[int, int], reveal: str | None) -> None:
    branched_session(tmp_path / "branched").close()
    check(f"app_{size[0]}x{size[1]}", await snapshot(tmp_path / "branched", size, reveal))
