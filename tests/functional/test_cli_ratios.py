"""The command line's ratios are to the strongest baseline measured in the run, named as the
app's lineage names it (views/ratios.py): ``avo sessions show``, ``avo sessions attempts``
and the headless run's summary, on a real mha session whose run keeps the timings of several
baselines, through ``avo_tui.cli.main`` at 80 columns, and a real headless run on the CPU."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import SHORT_GATE_CAP_S
from ratio_sessions import (
    BEST_DIFFERS,
    BETTER,
    CUDNN_ALONE,
    FA4,
    FA4_LEADS,
    MIXED,
    SEED,
    mha_session,
    score,
)

from avo_tui.cli import main
from avo_tui.commands.run import best_line
from avo_tui.store import Score, Session

SEED_MIXED = (SEED / FA4 * SEED / 620.0) ** 0.5  # v0 where FA3 leads on the causal half


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def row(out: str, first: str) -> list[str]:
    """The cells of the version table's line that starts with ``first`` after the marks."""
    return next(line.split() for line in out.splitlines()
                if re.match(rf"[ H][ *] {first} ", line))


@pytest.mark.parametrize(("baselines", "heading", "v0", "v1"), [
    (BEST_DIFFERS, "best", SEED_MIXED, MIXED),  # FA4 leads on the full half, FA3 the causal
    (FA4_LEADS, "fa4", SEED / FA4, BETTER / FA4),
    (CUDNN_ALONE, "cudnn", SEED / 500.0, BETTER / 500.0),  # one measured: the stored ratios
], ids=["best", "fa4", "cudnn-alone"])
def test_sessions_show_lists_the_ratio_to_the_strongest_baseline_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], baselines: dict[str, Any],
    heading: str, v0: float, v1: float,
) -> None:
    mha_session(tmp_path / "hopper", baselines)
    assert main(["--sessions-dir", str(tmp_path), "sessions", "show", "hopper"]) == 0
    out = capsys.readouterr().out
    assert row(out, "version")[:6] == ["version", "parent", "author", "score", "x", heading]
    assert f"{v0:.3f}x" in row(out, "v0") and f"{v1:.3f}x" in row(out, "v1"), out
    assert "BLOCK_N 176" in out  # the message keeps its room
    assert max(len(line) for line in out.splitlines()) <= 80


def test_a_suspect_held_for_review_shows_its_ratio_to_the_strongest_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = mha_session(tmp_path / "hopper", FA4_LEADS)
    with Session.open(directory) as session:
        session.hold_suspect({"attention_wgmma.cu": "// 700?\n"}, base="v1", author="agent",
                             message="skip the masked tiles", flags=("beyond the peak",),
                             score=score(700.0))
    assert main(["--sessions-dir", str(tmp_path), "sessions", "show", "hopper"]) == 0
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.strip().startswith("a1 from v1")]
    assert f"700 TFLOP/s {700 / FA4:.3f}x fa4 " in line, line  # not 1.400x, to cuDNN


def test_a_long_baseline_name_keeps_sessions_show_within_80_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CPU target times one baseline, torch-sdpa-cpu: each version's own ratio to it, and
    the column's heading, wider than its figures, takes its cells from the message."""
    with Session.create(tmp_path / "cpu", target="cpu-attention", operator="agent",
                        seed_files={"attention.c": "int x;\n"},
                        score=Score(32.8, {"a": 32.8}, 1.0, "torch-sdpa-cpu", "GFLOP/s")) as s:
        for i in range(1, 4):
            s.commit({"attention.c": f"int x = {i};\n"}, author="agent",
                     message=f"attempt {i}: move the K loop into shared memory and unroll by 4",
                     score=Score(32.8 + i, {"a": 32.8 + i}, 1.0 + i / 10, "torch-sdpa-cpu",
                                 "GFLOP/s"))
    assert main(["--sessions-dir", str(tmp_path), "sessions", "show", "cpu"]) == 0
    out = capsys.readouterr().out
    assert row(out, "version")[4:6] == ["x", "torch-sdpa-cpu"]
    assert "1.300x" in row(out, "v3") and "attempt" in row(out, "v3")
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.parametrize(("baselines", "heading", "against"), [
    (BEST_DIFFERS, "best", (590.0 / FA4 * 590.0 / 620.0) ** 0.5),
    (FA4_LEADS, "fa4", 590.0 / FA4),
    (CUDNN_ALONE, "cudnn", 590.0 / 500.0),
], ids=["best", "fa4", "cudnn-alone"])
def test_sessions_attempts_lists_and_shows_the_ratio_to_the_strongest_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], baselines: dict[str, Any],
    heading: str, against: float,
) -> None:
    directory = mha_session(tmp_path / "hopper", baselines)
    with Session.open(directory) as session:
        session.record_attempt({"attention_wgmma.cu": "// BLOCK_N 192\n"}, base="v1",
                               author="agent", outcome="slower", score=score(590.0),
                               detail="slower than v1 by 1.7%")
    root = str(tmp_path)
    assert main(["--sessions-dir", root, "sessions", "attempts", "hopper"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line.split() for line in lines if line.startswith("id "))
    # (at 80 columns the author leaves, for the detail)
    assert header[:6] == ["id", "base", "outcome", "score", "x", heading], out
    [a1] = [line for line in lines if line.startswith("a1 ")]
    assert f" {against:.3f}x " in a1 and "slower than v1" in a1, a1
    assert max(len(line) for line in lines) <= 80
    assert main(["--sessions-dir", root, "sessions", "attempts", "hopper", "a1"]) == 0
    record = capsys.readouterr().out.splitlines()[0]
    assert record.endswith(f"590 TFLOP/s   {against:.3f}x {heading}"), record


@pytest.mark.parametrize(("baselines", "ratio"), [
    (BEST_DIFFERS, f"{MIXED:.3f}x best"),
    (FA4_LEADS, f"{BETTER / FA4:.3f}x fa4"),
    (CUDNN_ALONE, f"{BETTER / 500.0:.3f}x cudnn"),
], ids=["best", "fa4", "cudnn-alone"])
def test_the_headless_runs_summary_gives_the_best_against_the_strongest_baseline(
    tmp_path: Path, baselines: dict[str, Any], ratio: str
) -> None:
    with Session.open(mha_session(tmp_path / "hopper", baselines), writable=False) as session:
        assert best_line(session, "TFLOP/s") == f"best: v1 600 TFLOP/s ({ratio})"


def test_a_headless_run_ends_naming_the_baseline_it_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CPU target times torch-sdpa-cpu alone: the summary names it (it said 'baseline')."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["--sessions-dir", str(tmp_path), "run", "--session", "cpu", "--target",
                 "cpu-attention", "--quick", "--headless", "--max-steps", "1",
                 "--operator", "tuner", "--rng-seed", "3",
                 "--gate-cap", str(SHORT_GATE_CAP_S)]) == 0  # which version is best is not checked
    out = capsys.readouterr().out
    with Session.open(tmp_path / "cpu", writable=False) as session:
        best = session.best()
        assert best is not None and best.score is not None and best.score.ratio
        expected = (f"best: {best.id} {best.score.gmean:.4g} GFLOP/s "
                    f"({best.score.ratio:.3f}x torch-sdpa-cpu)")
    assert expected in out.splitlines(), out
