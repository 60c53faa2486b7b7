"""avo eval --sustained (issue 70, item 1): the kernel and each baseline read back to back,
each alone, beside the interleaved reading; on the CPU without clock or power. The real CLI on
cpu-attention's seed and torch's SDPA; only that the reading is whole and shown is checked,
not which of the two is faster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import TENFOLD_CPU_ATTENTION, tenfold_seed
from target_example import avo

from avo_tui.store import Session


def avo_eval(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "avo_tui.cli", "eval", "--target",
                           "cpu-attention", "--quick", "--seed", "5", *args],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def test_the_json_holds_every_subjects_reading_and_the_ratios(tmp_path: Path) -> None:
    done = avo_eval("--sustained", "0.05", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    timed = [c for c in result["configs"] if not c["edge"] and c["throughput"]]
    assert timed
    for config in timed:
        read = config["sustained"]
        assert set(read) == {"candidate", "torch-sdpa-cpu"}
        for figures in read.values():
            assert figures["rate"] > 0 and figures["watts"] == 0
    ratio = result["sustained_ratios"]["torch-sdpa-cpu"]
    per_config = [c["sustained"]["candidate"]["rate"] / c["sustained"]["torch-sdpa-cpu"]["rate"]
                  for c in timed]
    assert min(per_config) <= ratio <= max(per_config)


def test_the_table_shows_both_readings(tmp_path: Path) -> None:
    done = avo_eval("--sustained", "0.05", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "back to back, each alone (medians of 3 rounds)" in done.stdout
    line = next(li for li in done.stdout.splitlines() if li.startswith("back to back, geomean"))
    assert "x torch-sdpa-cpu (interleaved " in line
    assert "MHz" not in done.stdout  # the CPU reports no clock or power


def test_help_says_what_the_reading_is() -> None:
    done = subprocess.run([sys.executable, "-m", "avo_tui.cli", "eval", "--help"],
                          capture_output=True, text=True, timeout=60)
    text = " ".join(done.stdout.split())
    assert "--sustained [S]" in text and "back to back" in text
    assert "The score stays the interleaved reading" in text


def test_a_run_reads_what_it_commits_back_to_back(tmp_path: Path) -> None:
    """avo run --sustained: the seed and each version the gate accepts get their ratios back
    to back in their score; first readings and refused candidates are not read (a run's
    other candidates cost nothing). The tuner's one candidate on the tenfold seed is 12x
    faster (engine_helpers.tenfold_seed), a gain no load hides: it is committed."""
    seed = tmp_path / "seed" / "attention.c"
    seed.parent.mkdir()
    seed.write_text(tenfold_seed()["attention.c"])
    done = avo("--sessions-dir", str(tmp_path), "run", "--target", TENFOLD_CPU_ATTENTION.ref,
               "--seed", str(seed), "--session", "power", "--headless", "--operator", "tuner",
               "--max-steps", "1", "--quick", "--rng-seed", "1", "--sustained", "0.05",
               cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "commit   v1 from v0 by tuner" in done.stdout, done.stdout
    with Session.open(tmp_path / "power", writable=False) as session:
        assert session.meta["settings"]["sustained_s"] == 0.05
        for ref in ("v0", "v1"):
            score = session.version(ref).score
            assert score is not None and score.sustained, ref
            assert all(ratio > 0 for ratio in score.sustained.values())
        first_looks = [a for a in session.recent_attempts() if a.outcome == "promising"]
        assert first_looks and all(a.score is None or not a.score.sustained
                                   for a in first_looks)


def test_the_slower_flag_knows_a_gpu_by_the_name_the_worker_gives_it() -> None:
    """The worker names a GPU "cuda:0"; its flag's floor is the GPU's, not the CPU's, and no
    name fails the evaluation (a KeyError on "cuda:0" failed every gate run with --sustained)."""
    from avo_tui.evaluation.measurement.back_to_back import (
        SLOWER_BACK_TO_BACK,
        slower_back_to_back,
    )

    assert slower_back_to_back("cuda:0") == slower_back_to_back("cuda:3") == \
        SLOWER_BACK_TO_BACK["cuda"] < SLOWER_BACK_TO_BACK["cpu"] == slower_back_to_back("cpu")


def test_a_baseline_back_to_back_takes_its_input_sets_in_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each baseline is staged once on each of SLOTS sets of inputs, and its launches back to
    back take them in turn, as the candidate's and the best's do: none finds its inputs in
    caches the others do not. torch's SDPA, its calls recorded, in a real evaluation of
    cpu-attention's seed."""
    import torch

    from avo_tui.engine.launch import seed_files
    from avo_tui.evaluation import EvalRequest, get_target
    from avo_tui.evaluation.measurement.back_to_back import SLOTS
    from avo_tui.evaluation.measurement.sustained import Figures
    from avo_tui.evaluation.pipeline import Evaluation, Pipeline
    from avo_tui.evaluation.problems import attention_torch
    from avo_tui.evaluation.targets.problem import BaselineCall, Config, InputSet

    name = "torch-sdpa-cpu"
    real = attention_torch.BASELINES[name]
    staged: dict[int, list[int]] = {}  # each baseline made: the inputs it was staged on
    readings: list[list[int]] = []  # per configuration's reading: the baseline each call ran

    class Recording(Evaluation):
        """Records the baselines made by the back-to-back reading alone."""

        def read_back_to_back(self, *args: Any, **kwargs: Any) -> dict[str, Figures]:
            monkeypatch.setitem(attention_torch.BASELINES, name, recorded)
            readings.append([])
            try:
                return super().read_back_to_back(*args, **kwargs)
            finally:
                monkeypatch.setitem(attention_torch.BASELINES, name, real)

    def recorded(config: Config) -> BaselineCall:
        baseline, made = real(config), len(staged)
        staged[made] = []

        def stage(inputs: InputSet) -> None:
            staged[made].append(id(inputs))
            baseline.stage(inputs)

        def run() -> torch.Tensor:
            readings[-1].append(made)
            return baseline.run()

        return BaselineCall(stage, run)

    target = get_target("cpu-attention")
    request = EvalRequest(target.ref, seed_files(target), quick=True, seed=5, sustained_s=0.05)
    result = Recording(Pipeline("cpu"), request, lambda phase, detail: None).run()
    assert result.correct and result.sustained_ratios[name] > 0, result.summary()
    assert staged and all(len(inputs) == 1 for inputs in staged.values()), staged
    for runs in readings:  # in every reading, SLOTS calls in a row on SLOTS sets of inputs
        inputs = [staged[made][0] for made in runs]
        assert any(len(set(inputs[i:i + SLOTS])) == SLOTS
                   for i in range(len(runs) - SLOTS + 1)), (staged, runs)
