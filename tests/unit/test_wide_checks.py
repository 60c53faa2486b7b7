"""Checking a timed launch of a wide output (KernelBench's small_log on the CPU: 4 rows of 2M
values) is the worker's own work, and took longer than the target's silence limit on a
loaded 2-core machine: each checked launch now tells the worker's parent it is alive, and a
few long rows' column norms are summed a row at a time (torch reduces down the columns of 4
rows of 2M values twenty times slower than along them). Judging one launch whole is the
worker's own work too, and took longer than the limit by itself (KernelBench's embedding,
50M outputs, on a loaded 2-core machine): a heartbeat tells the parent meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import torch
from target_example import SEED_FILE, TARGET_FILE, example_folder

from avo_tui.evaluation import EvalRequest
from avo_tui.evaluation.measurement import checks, heartbeat
from avo_tui.evaluation.measurement.judge import FEW_ROWS, column_errors
from avo_tui.evaluation.pipeline import Evaluation, Pipeline


@pytest.mark.parametrize("rows", [2, FEW_ROWS - 1, FEW_ROWS, 3 * FEW_ROWS])
def test_column_norms_agree_with_torch_whatever_the_rows(rows: int) -> None:
    generator = torch.Generator().manual_seed(rows)
    exact = torch.randn(rows, 300, dtype=torch.float64, generator=generator)
    output = exact + 1e-3 * torch.randn(rows, 300, dtype=torch.float64, generator=generator)
    honest = exact + 1e-6 * torch.randn(rows, 300, dtype=torch.float64, generator=generator)
    columns = column_errors(output.float(), exact, honest)
    assert columns is not None
    for got, wanted in ((columns.error, output.float().double() - exact),
                        (columns.honest, honest - exact), (columns.norm, exact)):
        torch.testing.assert_close(got, torch.linalg.vector_norm(wanted, dim=0),
                                   rtol=1e-12, atol=0)


def test_a_nonfinite_column_stays_nonfinite() -> None:
    exact = torch.ones(3, 4, dtype=torch.float64)
    honest = exact.clone()
    honest[1, 2] = torch.nan
    columns = column_errors(exact.float(), exact, honest)
    assert columns is not None
    assert torch.isnan(columns.honest[2]) and bool((columns.honest[[0, 1, 3]] == 0).all())


def test_the_worker_hears_it_is_alive_after_every_checked_launch(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = example_folder(tmp_path_factory, "alive-checks")
    heard: list[str] = []
    request = EvalRequest(str(folder / TARGET_FILE),
                          {SEED_FILE: (folder / SEED_FILE).read_text()},
                          quick=True, seed=3, measure_baselines=False)
    result = Evaluation(Pipeline("cpu"), request, lambda phase, detail: None,
                        lambda: heard.append("alive")).run()
    assert result.correct, result.failure
    checked = sum(config.verified for config in result.configs if config.verified)
    assert checked >= 1
    assert len(heard) >= checked


@pytest.mark.parametrize("judging", ["judge_output", "judge_output_sampled", "judge_sample"])
def test_the_worker_hears_it_is_alive_while_a_launch_is_judged(
        judging: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each way a launch is judged (whole, a timed shape under a hostile case on sampled rows,
    a timed launch drawn for checking) goes on only once the parent has heard three beats
    since it began: without a heartbeat during the judging none comes, and it is failed."""
    monkeypatch.setattr(heartbeat, "BEAT_EVERY_S", 0.01)
    judging_now, beats, heard = threading.Event(), threading.Semaphore(0), list[bool]()
    judge: Callable[..., None] = getattr(checks, judging)

    def alive() -> None:
        if judging_now.is_set():  # the runner's and the checked launches' own are not it
            beats.release()

    def judged_once_beats_came(*args: Any) -> None:
        if not heard:
            judging_now.set()
            heard.append(all(beats.acquire(timeout=20) for _ in range(3)))
            judging_now.clear()
        judge(*args)

    monkeypatch.setattr(checks, judging, judged_once_beats_came)
    folder = example_folder(tmp_path_factory, "alive-judging")
    request = EvalRequest(str(folder / TARGET_FILE),
                          {SEED_FILE: (folder / SEED_FILE).read_text()},
                          quick=True, seed=3, measure_baselines=False, silence_s=30)
    result = Evaluation(Pipeline("cpu"), request, lambda phase, detail: None, alive).run()
    assert result.correct, result.failure
    assert heard == [True]


def test_the_heartbeat_stops_after_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A judging that runs on past JUDGING_SILENCES silence limits is taken for a hang: the
    beats stop, and the parent's limit ends it."""
    monkeypatch.setattr(heartbeat, "BEAT_EVERY_S", 1 / 1024)
    silence_s = 1 / 128  # binary fractions: the bound is a whole number of beats, 160
    bound = heartbeat.JUDGING_SILENCES * silence_s / heartbeat.BEAT_EVERY_S
    beats, reached = [0], threading.Event()

    def alive() -> None:
        beats[0] += 1
        if beats[0] == bound:
            reached.set()

    with heartbeat.heartbeat(alive, silence_s):
        assert reached.wait(timeout=60)
        threading.Event().wait(200 * heartbeat.BEAT_EVERY_S)  # room for beats past the bound
    assert beats[0] == bound
