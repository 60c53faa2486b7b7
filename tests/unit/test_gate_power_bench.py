"""benchmarks/gate_power.py without a GPU: the seeds' extra-work hook makes a kernel slower by
real work and nothing else, and the benchmark runs the engine's full path on the CPU target.
Which gate decisions it reports depends on the machine; its plumbing does not."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from bench_scripts import load_benchmark
from engine_helpers import TARGET as SMALL

from avo_tui.engine import seed_files
from avo_tui.evaluation import EvalRequest, Worker, get_target
from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "benchmarks" / "gate_power.py"
CPU = get_target("cpu-attention")
# A dependent chain this long per key block takes several times the seed's own work on any
# CPU: structurally slower, whatever the load.
SLOW_UNITS = 200_000


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark(SCRIPT, "gate_power_bench")


def test_extra_work_is_a_slower_correct_kernel(bench: ModuleType, worker: Worker) -> None:
    seed = seed_files(CPU)
    slow = bench.Copies(seed).with_extra(SLOW_UNITS)
    assert bench.Copies(seed).with_extra(0) == seed
    request = EvalRequest(CPU.name, bench.marked(seed, "c", 1), quick=True, incumbent=slow,
                          measure_baselines=False)
    result = worker.evaluate(request)
    assert result.correct, result.failure
    assert result.kernel_id != result.incumbent_kernel_id
    assert result.incumbent_gain is not None and result.incumbent_gain > 2


def test_a_base_puts_the_chain_in_both_copies(bench: ModuleType) -> None:
    """With --base-units, the faster copy runs the chain too, and the slower one runs the base
    and the level's units: the difference is the level alone."""
    seed = seed_files(CPU)
    copies = bench.Copies(seed, base=16)
    main_file = next(iter(seed))
    assert copies.with_extra(0)[main_file].startswith("#define AVO_EXTRA_WORK 16\n")
    assert copies.with_extra(15)[main_file].startswith("#define AVO_EXTRA_WORK 31\n")
    assert copies.with_extra(15)[main_file].count("#define AVO_EXTRA_WORK") == 1 + seed[
        main_file].count("#define AVO_EXTRA_WORK")


@pytest.mark.parametrize("head_dim", [64, 128])
def test_the_wgmma_seed_compiles_with_extra_work_without_spills(
    bench: ModuleType, tmp_path: Path, head_dim: int
) -> None:
    nvrtc = CudaToolchain(CompileCache(tmp_path))
    target = get_target("mha" if head_dim == 128 else "mha-d64")
    sources = bench.Copies(seed_files(target)).with_extra(128)
    result = nvrtc.compile(sources, (f"-DAVO_HEAD_DIM={head_dim}",))
    assert result.ok, result.log
    assert "C75" not in result.log, result.log
    if "spill_stores" in result.resources:
        assert result.resources["spill_stores"] == result.resources["spill_loads"] == 0
    plain = nvrtc.compile(seed_files(target), (f"-DAVO_HEAD_DIM={head_dim}",))
    assert plain.artifact_sha256 != result.artifact_sha256


def test_the_benchmark_runs_the_full_path_and_reports_each_level(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "power.json"
    assert bench.main(["--target", SMALL.ref, "--quick", "--gains", "50,-40", "--trials",
                       "1", "--aa-trials", "0", "--calibrate", str(SLOW_UNITS),
                       "--calibration-s", "2", "--calibration-evals", "1", "--out",
                       str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["calibration"]["units"] == SLOW_UNITS
    assert report["calibration"]["gain_pct"] > 100  # several times the work
    faster, slower = report["levels"]
    assert faster["true_gain_pct"] == 50 and slower["true_gain_pct"] == -40
    assert abs(faster["calibrated_gain_pct"] - 50) < 5  # units rounded to whole FMAs
    assert 0 < faster["units"] < SLOW_UNITS
    # Each level's gain is measured, not assumed; the slower copy is the candidate's at -40%.
    assert faster["measured_gain_pct"] > 0 > slower["measured_gain_pct"]
    [row] = faster["rows"]
    assert row["first_reading"] in {"promising", "within_noise", "slower"}
    assert row["committed"] == (row["decision"] == "committed")
    # a committed version is stored above the v0 it beat and becomes the best
    assert row["best_after"] == ("v1" if row["committed"] else "v0")
    assert faster["became_best"] == row["committed"]
    if row["committed"]:
        assert row["version_score"] > row["v0_score"]
    # A candidate doing far more work is never committed. On a loaded machine its first
    # reading may be too rough to call it slower (seen under a full suite beside a spinner).
    [row] = slower["rows"]
    assert not row["committed"] and row["first_reading"] in {"slower", "inconclusive"}
    table = capsys.readouterr().out
    assert "calibration: 200000 units" in table and "+50.00%" in table and "-40.00%" in table


@pytest.mark.parametrize("argv", [["--gains", "0"], ["--gains", "nan"], ["--gains", "x"],
                                  ["--gains", "-60"], ["--trials", "-1"],
                                  ["--calibration-s", "inf"], ["--per-unit-pct", "0"],
                                  ["--base-units", "-1"]])
def test_bad_arguments_are_refused(bench: ModuleType, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench.main(argv)
    assert exit_.value.code == 2
