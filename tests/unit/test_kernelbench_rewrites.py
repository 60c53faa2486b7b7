"""What an import reads of a problem by running its forward for real is read once for each
sizes it is read at (issue 85): calibrating, the target file is written again at other timed
sizes (calibrate.py), and a ResNet-101's import on a busy machine ran every write's real
forwards and hostile probes again, past its limit. The launch times here are a modelled
machine's (import_problem's ``measure``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kernelbench_problems import copy_problem

from avo_tui.evaluation import get_target
from avo_tui.kernelbench import import_problem
from avo_tui.kernelbench.target import importer
from avo_tui.kernelbench.target.calibrate import CORRECTIONS
from avo_tui.kernelbench.target.exercise import exercised
from avo_tui.kernelbench.target.hostile import hostile_cases


def counted(calls: list[str], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return function(*args, **kwargs)
    return call


def test_a_file_written_again_reads_the_problem_once_for_each_sizes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A launch that takes a second at every size agrees with no rate: the file is written
    at CORRECTIONS + 1 timed shapes, then once more at the last. The forward's real runs
    that read its inputs' rules run once for each timed shape, and the hostile probes once
    (the small sizes they run at stay); the file states what they found."""
    calls: list[str] = []
    monkeypatch.setattr(importer, "exercised", counted(calls, "exercised", exercised))
    monkeypatch.setattr(importer, "hostile_cases", counted(calls, "hostile", hostile_cases))
    timed: list[str] = []

    def machine(target: Path) -> float:
        timed.append(get_target(str(target)).configs[0].name)
        return 1.0

    done = import_problem(copy_problem("level1_relu", tmp_path), measure=machine)
    assert len(timed) == CORRECTIONS + 1 and len(set(timed)) == len(timed), timed
    assert calls.count("exercised") == len(timed), calls
    assert calls.count("hostile") == 1, calls
    assert done.launch_measured and get_target(str(done.target)).configs[0].name == timed[-1]
