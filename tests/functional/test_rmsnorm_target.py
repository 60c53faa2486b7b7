"""The shipped RMSNorm targets (targets/rmsnorm.py on the GPU, targets/rmsnorm_cpu.py on the
CPU): memory-bound, scored in GB/s. Both pass ``avo targets check`` through the real command
(the CUDA one as far as a machine without a GPU goes: its numerics on the CPU, its seed
compiled alone); the C seed passes the real evaluator on every configuration, edge shape and
drawn case, and a kernel without eps fails on the hostile cases; a headless tuner run on the
CPU target records its attempts in a session that names the target by its name. The GPU
side is tests/gpu/test_rmsnorm_gpu.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from target_example import avo, tuner_run

from avo_tui.engine.launch import seed_path
from avo_tui.evaluation import EvalRequest, EvalResult, get_target
from avo_tui.evaluation.declarations.candidate import (
    CandidateError,
    apply_knobs,
    infer_target,
    load_sources,
)
from avo_tui.evaluation.declarations.contract import parse
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.targets.problem import Work
from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain
from avo_tui.evaluation.toolchains.c import CToolchain
from avo_tui.store import Session

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def c_compiler() -> None:
    try:
        CToolchain().version()
    except Exception as error:  # no C compiler on this machine
        pytest.skip(str(error))


def test_the_targets_are_found_by_name_in_bytes() -> None:
    gpu, cpu = get_target("rmsnorm"), get_target("rmsnorm-cpu")
    assert (gpu.ref, gpu.device, gpu.unit, gpu.entry) == ("rmsnorm", "cuda", "GB/s", "avo_rmsnorm")
    assert (cpu.ref, cpu.device, cpu.unit, cpu.entry) == ("rmsnorm-cpu", "cpu", "GB/s",
                                                          "avo_rmsnorm")
    assert gpu.configs[0].dtype == "bfloat16" and cpu.configs[0].dtype == "float32"
    assert {c["hidden"] for c in gpu.configs} == {4096, 8192, 16384}
    assert {c["rows"] for c in gpu.configs} <= set(range(4096, 16385))
    # x and residual read, out written, the weight read: bf16 on the GPU, float32 on the CPU
    assert gpu.configs[0].work == Work(bytes=2.0 * (3 * 4096 * 4096 + 4096))
    assert cpu.configs[0].work == Work(bytes=4.0 * (3 * 256 * 4096 + 4096))
    edges = [(c["rows"], c["hidden"]) for c in gpu.edge_configs]
    assert (1, 1) in edges and any(h % 8 for _, h in edges) and any(r == 1 for r, _ in edges)
    assert gpu.problem.input_cases == ("normal", "huge", "mixed", "zeros")
    assert gpu.baselines == ("torch-compile", "torch-eager")  # the first, the ratio's reference
    assert seed_path(gpu) == ROOT / "kernels" / "cuda" / "rmsnorm.cu"
    assert seed_path(cpu) == ROOT / "kernels" / "cpu" / "rmsnorm.c"
    # the CPU twin is built on the GPU target's file: its cases, edges and reference
    assert cpu.problem.input_cases == gpu.problem.input_cases
    assert [c.name for c in cpu.edge_configs] == [c.name for c in gpu.edge_configs]


def test_a_kernel_file_alone_names_its_target_by_its_entry_point() -> None:
    kernels = ROOT / "kernels"
    assert infer_target(kernels / "cpu" / "rmsnorm.c").name == "rmsnorm-cpu"
    assert infer_target(kernels / "cpu" / "attention.c").name == "cpu-attention"
    assert infer_target(kernels / "cuda" / "rmsnorm.cu").name == "rmsnorm"
    with pytest.raises(CandidateError, match="name the target with --target"):
        infer_target(kernels / "cuda" / "attention_fwd.cu")  # mha, gqa, gqa-4 and mha-d64 alike


def test_avo_targets_check_passes_the_cpu_target(c_compiler: None, tmp_path: Path) -> None:
    done = avo("targets", "check", "rmsnorm-cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok  numerics on cpu" in done.stdout and "with drawn, huge, mixed, zeros" in done.stdout
    assert "ok  seed rmsnorm.c: PASS " in done.stdout and " GB/s geomean" in done.stdout
    assert done.stdout.splitlines()[-1] == "target ok: avo run --target rmsnorm-cpu --session NAME"


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU, tests/gpu checks it there")
def test_avo_targets_check_passes_the_gpu_target_as_far_as_a_cpu_goes(tmp_path: Path) -> None:
    done = avo("targets", "check", "rmsnorm", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith(f"({ROOT / 'targets' / 'rmsnorm.py'})")
    assert "ok  numerics on cpu" in done.stdout and "baseline torch-eager at " in done.stdout
    assert ("  --  baseline torch-compile not checked: torch.compile's baseline runs on a CUDA "
            "GPU (Triton), and none is here") in lines
    assert "  ok  seed rmsnorm.cu: compiles (not run: no GPU here)" in lines


@pytest.mark.parametrize("arch", ["sm_80", "sm_90a", "sm_100a"])
def test_the_cuda_seed_compiles_for_every_vector_width_without_spills(
    tmp_path: Path, arch: str,
) -> None:
    """sm_80 on: no instruction of a later architecture; every VEC the tuner may choose, with
    and without the cache hints."""
    toolchain = CudaToolchain(CompileCache(tmp_path), arch=arch)
    sources = load_sources(ROOT / "kernels" / "cuda" / "rmsnorm.cu", "cuda")
    for vec, block, unroll, hints in (("1", "1024", "1", "1"), ("2", "64", "4", "0"),
                                      ("4", "512", "2", "1"), ("8", "256", "4", "1")):
        knobs = {"VEC": vec, "BLOCK": block, "UNROLL": unroll, "CACHE_HINTS": hints}
        result = toolchain.compile(apply_knobs(sources, knobs))
        assert result.ok, result.log
        assert not result.resources.get("spill_stores", 0), result.resources


def test_the_launch_gives_every_row_a_block_and_the_row_its_shared_memory() -> None:
    declared = parse((ROOT / "kernels" / "cuda" / "rmsnorm.cu").read_text())
    gpu = get_target("rmsnorm")
    for config in (*gpu.configs, *gpu.edge_configs):
        env = declared.environment(gpu.problem.launch_variables(config))
        assert env.evaluate(declared.launch["grid"]) == (config["rows"],)
        smem = env.evaluate(declared.launch["smem"])
        assert isinstance(smem, int) and smem >= 2 * int(config["hidden"])


def evaluate(source: str) -> EvalResult:
    request = EvalRequest("rmsnorm-cpu", {"rmsnorm.c": source}, quick=True, seed=11,
                          measure_baselines=False)
    return Evaluation(Pipeline("cpu"), request, lambda phase, detail: None).run()


SEED = (ROOT / "kernels" / "cpu" / "rmsnorm.c").read_text()


def test_the_c_seed_passes_the_real_evaluator_on_every_case(c_compiler: None) -> None:
    result = evaluate(SEED)
    assert result.correct, result.failure
    assert result.unit == "GB/s" and result.geomean > 0
    assert {c.case for c in result.configs} == {"normal", "huge", "mixed", "zeros"}
    assert all(c.passed for c in result.configs)
    assert {c.name for c in result.configs if c.edge} >= {"rows1-hidden1", "rows3-hidden4097"}


def test_a_kernel_without_eps_fails_on_the_hostile_cases(c_compiler: None) -> None:
    no_eps = SEED.replace("sum / (float)hidden + eps", "sum / (float)hidden")
    assert no_eps != SEED
    result = evaluate(no_eps)
    assert result.failure is not None, "dropping eps must not pass"
    assert result.failure.kind in ("nonfinite", "incorrect"), result.failure
    failed = next(c for c in result.configs if c.passed is False)
    assert failed.case in ("mixed", "zeros"), failed.case


def test_a_headless_tuner_run_on_the_cpu_target_records_attempts(
    c_compiler: None, tmp_path: Path,
) -> None:
    sessions = tmp_path / "sessions"
    out = tuner_run("rmsnorm-cpu", sessions, "norm", tmp_path)
    assert "GB/s" in out
    with Session.open(sessions / "norm", writable=False) as session:
        assert session.meta["target"] == "rmsnorm-cpu"
        assert session.meta["target_file"]["shipped"] == "rmsnorm-cpu"
        assert "path" not in session.meta["target_file"]  # never a machine's path
        seed = session.version("v0")
        assert seed.score is not None and seed.score.unit == "GB/s"
        attempts = session.recent_attempts()
        assert attempts and all(a.author == "tuner" for a in attempts)
    listed = json.loads(avo("--sessions-dir", str(sessions), "sessions", "list", "--json",
                            cwd=tmp_path).stdout)
    assert listed[0]["target"] == "rmsnorm-cpu"
