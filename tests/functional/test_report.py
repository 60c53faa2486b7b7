"""``avo report``: a real session, made by a short tuner run on the small CPU target with the
operator's hint, guidance and a rollback sent to the engine, drawn as one HTML page and opened
in headless Chromium (tests/browser.py): the figures are drawn, the lineage is there, and a
click on a version shows its diff. No network: the page loads nothing from outside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import plotly.graph_objects as go
import pytest
from browser import chromium, wait_for
from engine_helpers import (
    KERNEL,
    TENFOLD_CPU_ATTENTION,
    new_session,
    start,
    submitting,
    tenfold_seed,
)

from avo_tui.cli import main
from avo_tui.engine import Guidance, Hint, Rollback
from avo_tui.evaluation import Worker
from avo_tui.report import collect, render
from avo_tui.report.attempts import group_of
from avo_tui.store import HintPayload, Session

HINT, GUIDANCE = "try REPEAT 1", "keep the tiles as they are"


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory, worker: Worker) -> Path:
    """``sessions/week``: the tenfold seed (the tuner's one candidate is 12x faster, a gain no
    load hides, so it is committed as v1 on any machine), a hint and guidance before the first
    step, then a second run that begins with a rollback to v0."""
    root = tmp_path_factory.mktemp("report") / "sessions"
    with new_session(root / "week", worker, files=tenfold_seed(),
                     target=TENFOLD_CPU_ATTENTION) as session:
        first = start(session, worker, max_steps=2,
                      before=submitting(Hint(HINT), Guidance(GUIDANCE)))
        first.finish()
        assert "v1" in session.lineage, [a.detail for a in session.recent_attempts(4)]
        start(session, worker, max_steps=1, before=submitting(Rollback("v0"))).finish()
    return root


@pytest.fixture
def page(operated: Path, tmp_path: Path) -> Path:
    out = tmp_path / "week.html"
    assert main(["--sessions-dir", str(operated), "report", "week", "--out", str(out)]) == 0
    return out


def test_the_report_reads_the_operators_hand_and_the_gates_gain(operated: Path) -> None:
    with Session.open(operated / "week", writable=False) as session:
        data = collect(session)
    kinds = {kind: text for _, kind, text in data.marks}
    assert HINT in kinds["hint"] and GUIDANCE in kinds["guidance"]
    assert kinds["rollback"] == "rollback from v1 to v0"
    v1 = next(v for v in data.versions if v.id == "v1")
    # The gate's own reading: REPEAT 12 -> 1 is 12x less work, measured with its error
    assert v1.gain is not None and v1.gain > 1.2 and v1.gain_se is not None
    assert v1.beside == "v0" and "REPEAT" in v1.diff and v1.author == "tuner"
    assert {"score-time", "score-versions", "lineage", "attempts"} <= set(data.figures)
    lineage = data.figures["lineage"]
    rollback = next(t for t in lineage["data"] if t.get("name") == "rollback")
    assert [x for x in rollback["x"] if x is not None] == [1, 0]  # from v1 back to v0


def test_every_figure_is_one_plotly_reads(operated: Path) -> None:
    """The figures are plain documents (figures.py says why); plotly's own classes validate
    each property of each, so a misspelt one fails here rather than in a reader's browser."""
    with Session.open(operated / "week", writable=False) as session:
        data = collect(session)
    for name, figure in data.figures.items():
        assert go.Figure(figure).data, name


def test_a_record_that_does_not_read_is_left_out_and_said(operated: Path,
                                                          tmp_path: Path) -> None:
    copy = tmp_path / "damaged"
    shutil.copytree(operated / "week", copy)
    with Session.open(copy) as session:
        session.append_event("hint", action="whispered", text=7)  # no payload reads this
        session.append_event("a-kind-from-the-future", x=1)
    with Session.open(copy, writable=False) as session:
        html = render(collect(session))
    assert "2 events did not read" in html


def test_the_page_draws_offline_and_a_click_shows_a_versions_diff(page: Path,
                                                                  tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    html = page.read_text()
    assert "<script src" not in html and "<link" not in html  # everything is inside
    data = json.loads(html.split('id="avo-data">')[1].split("</script>")[0])
    with chromium(tmp_path / "profile") as driver:
        driver.get(page.as_uri())
        drawn = wait_for(driver, lambda d: d.execute_script(
            "return document.body.dataset.drawn"), "its figures drawn")
        assert int(drawn) == len(data["figures"])
        for figure in data["figures"]:  # each one an SVG drawn by plotly.js
            assert driver.find_elements(By.CSS_SELECTOR, f"#{figure} .main-svg"), figure
        assert driver.execute_script(
            "return performance.getEntriesByType('resource').length") == 0  # nothing fetched
        assert wait_for(driver, lambda d: d.find_element(By.ID, "version").get_attribute(
            "data-version"), "the best version's notes") == "v1"
        # v0 is the lineage's first point of the seed's trace: a real click on it
        seed = driver.find_element(By.CSS_SELECTOR, "#lineage .scatterlayer .trace .point")
        ActionChains(driver).move_to_element(seed).click().perform()
        wait_for(driver, lambda d: d.find_element(By.ID, "version").get_attribute(
            "data-version") == "v0", "v0's diff after a click on it")
        panel = driver.find_element(By.ID, "version").text
        assert "v0 by seed" in panel and KERNEL in panel and "#define REPEAT 12" in panel


def test_the_report_command_says_what_it_wrote_and_refuses_in_one_line(
    operated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--sessions-dir", str(operated), "report", "week"]) == 0
    out, err = capsys.readouterr()
    assert (tmp_path / "week.html").stat().st_size > 1_000_000  # plotly.js is inside
    assert "wrote week.html" in out and "no network" in out and "2 versions" in err
    assert main(["--sessions-dir", str(operated), "report", "nothing-here"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"avo: error: no session named 'nothing-here' in {operated}")
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "offline" in capsys.readouterr().out


@pytest.mark.parametrize(("outcome", "group"), [
    ("committed", "committed"), ("promising", "to the gate"), ("slower", "slower"),
    ("within_noise", "within noise"), ("unchanged", "unchanged"), ("incorrect", "incorrect"),
    ("compile", "failed otherwise"), ("interrupted", "other")])
def test_each_outcome_counts_in_its_group(outcome: str, group: str) -> None:
    assert group_of(outcome) == group


def test_a_session_with_no_version_yet_is_drawn_with_what_it_has(tmp_path: Path) -> None:
    """A target with no seed starts with no version until the agent's first commit."""
    with Session.create(tmp_path / "unseeded", target="cpu-attention", operator="agent",
                        seed_files=None) as session:
        session.append(HintPayload("received", "start from a naive loop"))
        data = collect(session)
        html = render(data)
    assert "No version yet" in html and "start from a naive loop" in html
    assert data.versions == [] and "lineage" not in data.figures
