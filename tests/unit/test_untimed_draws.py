"""An evaluation that checks and times nothing (EvalRequest.timed False): what `avo targets
check` asks for a seed's further draws, which look for how close it comes to the tolerance.
It checks as a timed evaluation does, and fails a wrong kernel as one does."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from avo_tui.commands import targets as targets_command
from avo_tui.evaluation import EvalRequest
from avo_tui.evaluation.declarations.candidate import load_sources
from avo_tui.evaluation.isolation.worker import Worker
from avo_tui.evaluation.measurement.target_check import MARGIN_DRAWS
from avo_tui.evaluation.pipeline import Pipeline

SEED = Path(__file__).parents[2] / "kernels" / "cpu" / "attention.c"
SMALL = Path(__file__).parents[1] / "fixtures" / "targets" / "cpu_attention_small.py"
NORMALISE = "float inv = 1.0f / l[i];"


def untimed(source: str, stages: list[str]) -> Any:
    sources = load_sources(SEED, "c") | {SEED.name: source}
    request = EvalRequest(str(SMALL), sources, quick=True, seed=4, timed=False)
    return Pipeline("cpu").run(request, lambda stage, *_: stages.append(stage))


def test_an_untimed_evaluation_checks_every_configuration_and_times_none() -> None:
    stages: list[str] = []
    result = untimed(SEED.read_text(), stages)
    assert result.correct, result.failure
    assert result.configs and all(entry.passed for entry in result.configs)
    assert "check" in stages and "time" not in stages, sorted(set(stages))
    assert all(entry.timing is None for entry in result.configs)


def test_an_untimed_evaluation_fails_a_wrong_kernel() -> None:
    source = SEED.read_text()
    assert NORMALISE in source
    result = untimed(source.replace(NORMALISE, "float inv = 1.0f / (l[i] + 1.0f);"), [])
    assert result.failure is not None and result.failure.kind == "incorrect", result.failure


def test_targets_check_times_the_seeds_first_draw_only(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Every draw is checked; the first is the one scored and shown."""
    asked: list[bool] = []
    evaluate = Worker.evaluate

    def spy(self: Worker, request: EvalRequest, *args: Any, **kwargs: Any) -> Any:
        asked.append(request.timed)
        return evaluate(self, request, *args, **kwargs)

    monkeypatch.setattr(Worker, "evaluate", spy)
    assert targets_command.cmd_targets_check(argparse.Namespace(file=str(SMALL))) == 0
    assert asked == [True] + [False] * (MARGIN_DRAWS - 1)
    assert "ok  seed attention.c: PASS " in capsys.readouterr().out
