"""The GEMM targets of issue 41 (targets/gemm_bias_act.py and its CPU variant): on this machine
the CPU one passes ``avo targets check``, its seed is scored through the real evaluator (and a
kernel that applies ReLU, or forgets the bias, is refused), a headless tuner run records its
attempts; the GPU one passes the check short of a GPU, its seed compiled by NVRTC on every
architecture a shipped seed must build for. Its run on a GPU is tests/gpu/test_gemm_gpu.py.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from engine_helpers import SHORT_GATE_CAP_S
from gemm_knobs import OTHER_SHAPES
from target_example import avo

from avo_tui.evaluation import EvalRequest, EvalResult, get_target
from avo_tui.evaluation.declarations import contract
from avo_tui.evaluation.declarations.candidate import apply_knobs, load_sources
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.targets.archs import COMPILE_CHECKED
from avo_tui.evaluation.targets.spec import draw_edge_configs
from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain, ToolchainUnavailable
from avo_tui.store import Session

ROOT = Path(__file__).parents[2]
CPU_TARGET = ROOT / "targets" / "gemm_bias_act_cpu.py"
GPU_TARGET = ROOT / "targets" / "gemm_bias_act.py"
C_SEED = ROOT / "kernels" / "cpu" / "gemm_bias_act.c"
CUDA_SEED = ROOT / "kernels" / "cuda" / "gemm_bias_act.cu"


def test_both_targets_declare_a_linear_layer_and_keep_the_kernel_contract() -> None:
    for path, entry in ((CPU_TARGET, "gemm-bias-act-cpu"), (GPU_TARGET, "gemm-bias-act")):
        spec = get_target(str(path))
        assert spec.name == entry and spec.entry == "avo_gemm_bias_act"
        assert [p.name for p in spec.problem.parameters] == [
            "a", "w", "bias", "out", "m", "n", "k"]
        config = spec.configs[0]
        assert config.work.flops == 2 * config["m"] * config["n"] * config["k"]
        assert [p.shape_on(config) for p in spec.problem.parameters if p.is_tensor] == [
            (config["m"], config["k"]), (config["n"], config["k"]), (config["n"],),
            (config["m"], config["n"])]
        assert spec.problem.input_cases[0] == "normal" and len(spec.problem.input_cases) == 4
    gpu = get_target(str(GPU_TARGET))
    assert (gpu.unit, gpu.device, gpu.baselines) == (
        "TFLOP/s", "cuda", ("cublas", "cublaslt-gelu", "torch-compile"))
    assert [c.name for c in gpu.configs] == [
        "m8192-n11008-k4096", "m8192-n4096-k11008", "m4096-n14336-k4096",
        "m16384-n4096-k14336", "m8192-n8192-k8192"]
    # The CUDA kernel's contract: k a multiple of 8 (16-byte rows), on every configuration it
    # is ever given, drawn ones included; and the edges reach one row, one column, an odd n.
    drawn = [c for seed in range(20) for c, _ in draw_edge_configs(gpu, random.Random(seed))]
    every = [*gpu.configs, *gpu.edge_configs, *drawn]
    assert all(c["k"] % 8 == 0 and c["k"] >= 8 and c["m"] >= 1 and c["n"] >= 1 for c in every)
    assert {1} <= {c["m"] for c in gpu.edge_configs} and {1} <= {c["n"] for c in gpu.edge_configs}
    assert any(c["n"] % 2 for c in gpu.edge_configs)


@pytest.mark.usefixtures("c_compiler")
def test_targets_check_passes_the_cpu_target() -> None:
    done = avo("targets", "check", str(CPU_TARGET), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("gemm-bias-act-cpu: out = gelu_tanh(a @ w^T + bias)")
    assert "with drawn, unit, huge, zeros inputs" in lines[3]
    assert "baseline torch at " in lines[3]
    assert lines[4].startswith("  ok  seed gemm_bias_act.c: PASS ")
    assert lines[-1] == f"target ok: avo run --target {CPU_TARGET} --session NAME"


def evaluate(source: str) -> EvalResult:
    request = EvalRequest(str(CPU_TARGET), {"gemm_bias_act.c": source}, quick=True, seed=5,
                          measure_baselines=False)
    return Evaluation(Pipeline("cpu"), request, lambda phase, detail: None).run()


@pytest.mark.usefixtures("c_compiler")
def test_the_cpu_seed_is_scored_and_a_wrong_epilogue_refused() -> None:
    seed = C_SEED.read_text()
    result = evaluate(seed)
    assert result.correct, result.failure
    assert [c.name for c in result.timed] == ["m256-n512-k512"]
    assert result.timed[0].throughput > 0
    checked = {c.name for c in result.configs}
    assert {c.name for c in get_target(str(CPU_TARGET)).edge_configs} <= checked
    assert {c.case for c in result.configs} >= {"normal", "unit", "huge", "zeros"}
    # ReLU in place of GELU: equal but for pre-activations near zero, which "unit" makes common
    relu = seed.replace("return x / (1.0f + expf(-2.0f * u));", "(void)u; return x > 0 ? x : 0;")
    # the bias forgotten
    no_bias = seed.replace("gelu_tanh(sum + bias[j + c])", "gelu_tanh(sum)")
    for wrong in (relu, no_bias):
        assert wrong != seed
        failed = evaluate(wrong)
        assert failed.failure is not None and failed.failure.kind == "incorrect", failed.failure


@pytest.mark.usefixtures("c_compiler")
def test_a_headless_tuner_run_on_the_cpu_target_records_its_attempts(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    done = avo("--sessions-dir", str(sessions), "run", "--target", str(CPU_TARGET),
               "--session", "gemm", "--headless", "--operator", "tuner", "--max-steps", "2",
               "--quick", "--rng-seed", "3", "--gate-cap", str(SHORT_GATE_CAP_S), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "run ended: limit reached: 2 of 2 steps this run (--max-steps)" in done.stdout
    with Session.open(sessions / "gemm", writable=False) as session:
        assert session.meta["target"] == str(CPU_TARGET)
        assert session.run_state.step == 2
        assert session.attempt_count >= 2
        attempts = session.recent_attempts(session.attempt_count)
        assert all("gemm_bias_act.c" in a.files for a in attempts)
        assert session.version("v0").score is not None


def test_targets_check_passes_the_gpu_target_short_of_a_gpu() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: tests/gpu/test_gemm_gpu.py checks it on the GPU")
    try:
        CudaToolchain().version()
    except ToolchainUnavailable as error:
        pytest.skip(str(error))
    done = avo("targets", "check", str(GPU_TARGET), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "ok  numerics on cpu, m1-n4096-k4096, " in out
    assert "with drawn, unit, large_rows, zeros inputs" in out
    for name in ("cublas", "cublaslt-gelu", "torch-compile"):
        assert f"--  baseline {name} not checked: it runs on a CUDA GPU, and none is visible" in out
    assert "ok  seed gemm_bias_act.cu: compiles (not run: no GPU here)" in out


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> CompileCache:
    return CompileCache(tmp_path_factory.mktemp("gemm-cache"))


@pytest.mark.parametrize(("arch", "shape"), [(arch, "defaults") for arch in COMPILE_CHECKED]
                         + [("sm_90a", shape) for shape in sorted(OTHER_SHAPES)])
def test_the_cuda_seed_compiles_without_spills(cache: CompileCache, arch: str, shape: str) -> None:
    sources = apply_knobs(load_sources(CUDA_SEED, "cuda"), OTHER_SHAPES.get(shape, {}))
    contract.parse(sources[CUDA_SEED.name]).check_requirements()  # the tuner could choose it
    try:
        result = CudaToolchain(cache, arch=arch).compile(sources)
    except ToolchainUnavailable as error:
        pytest.skip(str(error))
    assert result.ok, result.log
    assert "C75" not in result.log, result.log
    resources = result.resources
    assert resources.get("spill_stores", 0) + resources.get("spill_loads", 0) == 0, resources
