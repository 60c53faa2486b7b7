"""A target file's baseline that some machines lack (target_api.Baseline) says why where it
cannot run, as FA3 and FA4 do: the evaluation goes on without it and names it in its notes,
and ``avo targets check`` says it was not checked and why; a ``missing`` that raises counts as
missing, in its own words. Each file is the docs' example (docs/targets.md) with baselines
added, in a folder outside the checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from target_example import SEED_FILE, Edits, write_example

from avo_tui.cli import main
from avo_tui.evaluation import EvalRequest
from avo_tui.evaluation.pipeline import Evaluation, Pipeline

IMPORT = ("from avo_tui.evaluation import Float,",
          "from avo_tui.evaluation import Baseline, Float,")
BASELINES = 'baselines={"torch-add": torch_add},'


def with_baselines(*entries: str) -> Edits:
    return [IMPORT, (BASELINES, 'baselines={"torch-add": torch_add, ' + ", ".join(entries) + "},")]


ABSENT = '"absent": Baseline(torch_add, lambda: "its library is not installed here")'
BROKEN = '"broken": Baseline(torch_add, lambda: 1 / 0)'
PRESENT = '"present": Baseline(scaled_add, lambda: None)'


pytestmark = pytest.mark.usefixtures("c_compiler")


def test_a_missing_baseline_is_left_out_of_the_evaluation_and_named(tmp_path: Path) -> None:
    path = write_example(tmp_path, with_baselines(ABSENT, BROKEN, PRESENT))
    request = EvalRequest(str(path), {SEED_FILE: (tmp_path / SEED_FILE).read_text()},
                          quick=True, seed=1)
    result = Evaluation(Pipeline("cpu"), request, lambda phase, detail: None).run()
    assert result.correct, result.failure
    assert set(result.timed[0].baselines) == {"torch-add", "present"}
    assert "absent not measured: its library is not installed here" in result.notes
    assert ("broken not measured: its missing() raised ZeroDivisionError: division by zero"
            in result.notes)


def test_targets_check_says_which_baselines_it_did_not_check_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_example(tmp_path, with_baselines(ABSENT, PRESENT))
    assert main(["targets", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "baseline torch-add at " in out and "baseline present at " in out
    assert "  --  baseline absent not checked: its library is not installed here\n" in out
    assert "baseline absent at" not in out


def test_a_baseline_whose_missing_is_not_a_function_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_example(tmp_path, with_baselines('"odd": Baseline(torch_add, "never")'))
    assert main(["targets", "check", str(path)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"avo: error: target file {path.resolve()}: the missing of baseline 'odd' is str, not "
        "a function")
