"""Checking a timed launch of a wide output (KernelBench's small_log on the CPU: 4 rows of 2M
values) is the worker's own work, and took longer than the target's silence limit on a
loaded 2-core machine: each checked launch now tells the worker's parent it is alive, and a
few long rows' column norms are summed a row at a time (torch reduces down the columns of 4
rows of 2M values twenty times slower than along them)."""

from __future__ import annotations

import pytest
import torch
from target_example import SEED_FILE, TARGET_FILE, example_folder

from avo_tui.evaluation import EvalRequest
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
