"""The sustained reading on a real GPU (issue 70): the seed and cuDNN back to back on mha's quick
grid, briefly, through the function `kernel_vs_baselines.py --sustained` calls, and the command
itself. Marked ``gpu``; skipped without CUDA. Checks the reading is whole and consistent, not
how fast anything is."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from common.kernels import Kernel  # noqa: E402
from common.sustained import reading  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_the_seed_and_cudnn_back_to_back_on_every_configuration() -> None:
    got = reading([Kernel.parse("seed")], "mha", quick=True, baselines=("cudnn",),
                  strongest=("fa3", "fa4"), seconds=0.2, warmup=0.2, rounds=2,
                  rng=random.Random(0))
    assert got["unit"] == "TFLOP/s" and got["configs"]
    for config, subjects in got["configs"].items():
        assert set(subjects) == {"seed", "cudnn"}, config
        for name, figures in subjects.items():
            # NVML answered, the clock ran, and the work per energy follows from both
            assert figures["rate"] > 0 and figures["mhz"] > 0 and figures["watts"] > 0, name
            assert figures["per_kj"] == pytest.approx(
                figures["rate"] / figures["watts"] * 1000.0, rel=0.2), name
        assert all(sorted(order) == ["cudnn", "seed"] for order in got["orders"][config])
    assert got["ratios"]["seed"]["x_cudnn"] > 0
    assert got["config_ratios"]["seed"].keys() == got["configs"].keys()


def test_kernel_vs_baselines_prints_both_readings() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "kernel_vs_baselines.py"), "seed", "--targets", "mha",
         "--quick", "--sustained", "--seconds", "0.2", "--warmup", "0.2", "--rounds", "2",
         "--seed", "1"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "== mha, back to back at the power limit" in out.stdout
    assert "== interleaved / back to back" in out.stdout
    assert "x_cudnn" in out.stdout.split("== interleaved / back to back")[1]


def test_avo_eval_reads_the_seed_and_its_baselines_back_to_back_with_power() -> None:
    """The evaluator's own reading (avo eval --sustained): every timed configuration of mha's
    quick grid has the seed's and cuDNN's figures, with NVML's clock and power for the GPU the
    worker runs on, and the table shows them."""
    import json

    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "avo_tui.cli", "eval", "--target", "mha", "--quick", "--seed",
         "1", "--sustained", "0.2", "--json"], capture_output=True, text=True, timeout=900,
        cwd=root)
    assert done.stdout, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert done.returncode == 0, (result["failure"], result["flags"], done.stderr[-3000:])
    timed = [c for c in result["configs"] if not c["edge"] and c["throughput"]]
    assert timed and not [f for f in result["flags"] if "back to back" in f]
    for config in timed:
        read = config["sustained"]
        assert {"candidate", "cudnn"} <= set(read), config["name"]
        for figures in read.values():
            assert figures["rate"] > 0 and figures["mhz"] > 0 and figures["watts"] > 0
    assert result["sustained_ratios"]["cudnn"] > 0


def test_the_gate_reads_the_best_back_to_back_beside_what_it_accepts() -> None:
    """The gate's evaluation of the seed beside a best version doing 2.44x its work
    (lanes_run's slowed seed, its four shares at 1): accepted, and read back to back beside
    that best on the GPU too, the best's launches staged as the candidate's are."""
    from common.slowed_seed import slowed_seed

    from avo_tui.evaluation import EvalRequest, Worker, get_target
    from avo_tui.evaluation.declarations.candidate import apply_knobs
    from avo_tui.evaluation.paired import GatePlan

    target = get_target("mha")
    slow = slowed_seed(target, 4)
    fast = apply_knobs(slow, {f"AVO_SLOW_{k}": "0" for k in range(1, 5)})
    request = EvalRequest("mha", fast, quick=True, seed=3, measure_baselines=False,
                          incumbent=slow, gate=GatePlan(cap_s=target.gate_cap_s),
                          sustained_s=0.2)
    with Worker("cuda") as worker:
        result = worker.evaluate(request, timeout_s=900)
    assert result.correct and result.beside.get("decision") == "accept", result.summary()
    assert result.sustained_ratios["incumbent"] > 1.0  # 2.44x the work, by construction
    assert not [flag for flag in result.flags if flag.startswith("slower back to back")]
    for config in result.timed:
        assert config.sustained["incumbent"]["watts"] > 0, config.name
