"""The lineage's ratio column is to the strongest baseline measured in the run, as the agent's
bar is (views/ratios.py): the real app at 80x24 over a real session on mha whose run keeps the
timings of several baselines, as the evaluator stores them, growing while the app is open."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypeVar

import pytest
from ratio_sessions import (
    BEST_DIFFERS,
    BETTER,
    CUDNN,
    CUDNN_ALONE,
    FA3,
    FA4,
    FA4_LEADS,
    MIXED,
    mha_session,
    score,
)
from test_app_layout import content, screen_lines, shown_in
from textual.pilot import Pilot
from tui_helpers import opened, until

from avo_tui.engine.client import RunClient
from avo_tui.operators.agent.bar import ratio_column
from avo_tui.store import Score, Session
from avo_tui.tui import make_app
from avo_tui.tui.screens.attempts import AttemptDetail, AttemptsScreen
from avo_tui.tui.widgets.lineage import LineageTree
from avo_tui.tui.widgets.status import StatusBar
from avo_tui.views.attempts import attempt_cells

pytestmark = pytest.mark.anyio
SLOWER = 590.0  # an attempt's throughput on every configuration, below v1's
S = TypeVar("S", AttemptsScreen, AttemptDetail)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def session_dir(tmp_path: Path) -> Path:
    """v0 (the seed) and v1, the head and best; the run has timed cuDNN alone so far."""
    return mha_session(tmp_path / "hopper", CUDNN_ALONE)


async def test_the_lineage_shows_the_ratio_to_the_strongest_baseline_and_names_it(
    session_dir: Path,
) -> None:
    app = make_app(RunClient(session_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        tree = app.query_one(LineageTree)

        def shown() -> str:
            return shown_in(app, content(tree))

        def status() -> str:
            return shown_in(app, app.query_one(StatusBar).region)

        # cuDNN alone measured: each score's own ratio, to its first baseline.
        assert tree.border_title == "lineage · x cudnn"
        assert "v0 565 1.13x" in shown() and "v1 ◀★ 600 1.20x" in shown(), shown()
        assert "best v1 600 TFLOP/s 1.200x" in status() and "fa4" not in status()

        # The run times FlashAttention-2 and FA4: FA4 is the strongest everywhere.
        with Session.open(session_dir) as writer:
            writer.set_state(announce=False, baselines=FA4_LEADS)
        await until(pilot, lambda: tree.border_title == "lineage · x fa4")
        await until(pilot, lambda: "v1 ◀★ 600 1.07x" in shown())
        assert "v0 565 1.01x" in shown(), shown()
        assert "best v1 600 TFLOP/s 1.071x fa4" in status(), status()

        # FA3 on the causal configurations only, and faster there: the strongest differs by
        # configuration, and the ratio is the geometric mean of each one's.
        with Session.open(session_dir) as writer:
            writer.set_state(announce=False, baselines=BEST_DIFFERS)
        expected = MIXED  # the geometric mean over the grid, half of which is causal
        await until(pilot, lambda: tree.border_title == "lineage · x best")
        await until(pilot, lambda: f"v1 ◀★ 600 {expected:.2f}x" in shown())
        assert f"best v1 600 TFLOP/s {expected:.3f}x best" in status(), status()
        assert tree.border_title in shown_in(app, tree.region)  # the title is whole at 80x24


async def loaded(pilot: Pilot[None], key: str, kind: type[S]) -> S:
    """The screen ``key`` opens, once it has read what it shows."""
    await pilot.press(key)
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    await until(pilot, lambda: screen.loaded)
    return screen


@pytest.mark.parametrize(("baselines", "heading", "against"), [
    (BEST_DIFFERS, "x best", (SLOWER / FA4 * SLOWER / FA3) ** 0.5),
    (FA4_LEADS, "x fa4", SLOWER / FA4),
    (CUDNN_ALONE, "x cudnn", SLOWER / CUDNN),  # one measured: the attempt's own ratio
], ids=["best", "fa4", "cudnn-alone"])
async def test_the_attempts_show_the_ratio_to_the_strongest_baseline_and_name_it(
    tmp_path: Path, baselines: dict[str, Any], heading: str, against: float
) -> None:
    """The attempts (t) at 80x24: each line's ratio is the lineage's, the title names it, and
    an attempt opened names it beside its score; the line keeps its width (its time shows)."""
    directory = mha_session(tmp_path / "hopper", baselines)
    with Session.open(directory) as session:
        session.record_attempt({"attention_wgmma.cu": "// BLOCK_N 192\n"}, base="v1",
                               author="agent", outcome="slower", score=score(SLOWER),
                               detail="slower than v1 by 1.7%")
        attempt = session.attempt("a1")
    app = make_app(RunClient(directory))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        screen = await loaded(pilot, "t", AttemptsScreen)
        title = shown_in(app, screen.query_one("#attempts-title").region)
        assert f"1 attempts of 1, newest first · {heading} " in title, title
        [row] = [r for r in screen_lines(app) if " a1 " in r]
        assert f" {against:.3f}x " in row and attempt_cells(attempt).when in row, row
        if baselines is not CUDNN_ALONE:
            assert f"{SLOWER / CUDNN:.3f}x" not in row  # not the stored ratio, to cuDNN
        detail = await loaded(pilot, "enter", AttemptDetail)
        summary = shown_in(app, detail.query_one("#tab-summary Static").region)
        assert f"590 TFLOP/s ({against:.3f}x {heading[2:]})" in summary, summary


def test_the_column_falls_back_to_each_scores_own_ratio_when_one_baseline_was_measured() -> None:
    alone = ratio_column({"a": {"cudnn": CUDNN}}, "cudnn")
    assert alone.label == "cudnn" and not alone.bars
    assert alone.ratio(score(BETTER)) == pytest.approx(BETTER / CUDNN)
    assert ratio_column({}, "torch-sdpa-cpu").label == "torch-sdpa-cpu"
    # A baseline that never ran (no positive figure) is not one measured.
    assert not ratio_column({"a": {"cudnn": CUDNN, "fa4": 0.0}}, "cudnn").bars
    several = ratio_column({"a": {"cudnn": 1.0, "fa4": 2.0}, "b": {"cudnn": 1.0, "fa4": 4.0}},
                           "cudnn")
    assert several.label == "fa4"
    assert several.ratio(Score(4.0, {"a": 4.0, "b": 4.0})) == pytest.approx(math.sqrt(2.0))
    assert several.ratio(Score(4.0, {"c": 4.0})) is None  # no configuration in common


def test_a_score_that_timed_the_bar_beside_itself_is_read_against_that_timing() -> None:
    """A GPU times its baselines in every evaluation, beside the kernel: the ratio the score
    measured side by side stands, not its throughput over a baseline timed in another
    evaluation, in another GPU state (3% hotter beside the best, RESULTS.md)."""
    column = ratio_column({"a": {"cudnn": 1.0, "fa4": 2.0}, "b": {"cudnn": 1.0, "fa4": 4.0}},
                          "cudnn")
    paired = Score(4.0, {"a": 4.0, "b": 4.0},
                   ratios={"a": {"cudnn": 4.1, "fa4": 1.9}, "b": {"cudnn": 4.2, "fa4": 1.1}})
    assert column.ratio(paired) == pytest.approx(math.sqrt(1.9 * 1.1))
    # A configuration whose evaluation did not time the bar's baseline: the stored one.
    partly = Score(4.0, {"a": 4.0, "b": 4.0}, ratios={"a": {"cudnn": 4.1, "fa4": 1.9}})
    assert column.ratio(partly) == pytest.approx(math.sqrt(1.9 * 1.0))
    assert Score.from_doc(paired.to_doc()) == paired  # stored and read back whole
