"""benchmarks/eval_speed.py's NVRTC-against-nvcc comparison, without a GPU.

The comparison must compile the current CUDA seed as NVRTC sees it (the seed declares its own
CUtensorMap, which clashes with cuda.h), and a compiler that is missing or refuses the kernel is
a reported field, never a crash of the benchmark.
"""

from __future__ import annotations

import json
import math
import shutil
import stat
from pathlib import Path
from types import ModuleType

import pytest
from bench_scripts import load_benchmark

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "benchmarks" / "eval_speed.py"
SEED = ROOT / "kernels" / "cuda" / "attention_wgmma.cu"
DEFINES: dict[str, object] = {"AVO_HEAD_DIM": 128}
ARCH = "sm_90a"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark(SCRIPT, "eval_speed_bench")


@pytest.fixture(scope="module")
def seed() -> dict[str, str]:
    return {SEED.name: SEED.read_text()}


def _nvrtc_available() -> bool:
    try:
        from avo_tui.evaluation.toolchains import CudaToolchain, ToolchainUnavailable

        CudaToolchain().version()
    except (ImportError, ToolchainUnavailable):
        return False
    return True


needs_nvrtc = pytest.mark.skipif(not _nvrtc_available(), reason="NVRTC is not installed")


def fake_nvcc(tmp_path: Path, body: str) -> Path:
    """A stand-in nvcc: records its arguments, then runs ``body`` (shell)."""
    script = tmp_path / "nvcc"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {tmp_path / 'argv'}\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@needs_nvrtc
def test_a_missing_nvcc_is_reported_not_raised(
    bench: ModuleType, seed: dict[str, str], tmp_path: Path
) -> None:
    report = bench.compare_compilers(seed, DEFINES, ARCH, nvcc=str(tmp_path / "no-such-nvcc"))
    assert report["nvcc_compare"].startswith("failed: ")
    assert "no-such-nvcc" in report["nvcc_compare"]
    assert "nvrtc_vs_nvcc" not in report
    assert report["nvrtc_compile_s"] > 0  # the NVRTC half still ran
    json.dumps(report)  # it goes into --json as it is


@needs_nvrtc
def test_a_failing_nvcc_reports_its_first_error_line(
    bench: ModuleType, seed: dict[str, str], tmp_path: Path
) -> None:
    nvcc = fake_nvcc(
        tmp_path,
        "echo 'In file included from somewhere:' >&2\n"
        "echo 'k.cu(88): error: type \"CUtensorMap\" has already been defined' >&2\n"
        "echo '1 error detected' >&2\nexit 2",
    )
    report = bench.compare_compilers(seed, DEFINES, ARCH, nvcc=str(nvcc))
    assert report["nvcc_compare"] == (
        'failed: nvcc: k.cu(88): error: type "CUtensorMap" has already been defined'
    )
    assert "nvrtc_vs_nvcc" not in report


@needs_nvrtc
def test_nvcc_compiles_the_unit_as_nvrtc_does(
    bench: ModuleType, seed: dict[str, str], tmp_path: Path
) -> None:
    """The seed on its own, no headers put in front (load_inline's cuda.h clashed with the
    seed's CUtensorMap), the same defines and architecture, one cubin."""
    nvcc = fake_nvcc(
        tmp_path, f'touch kernel.cubin; cat "$(pwd)/attention_wgmma.cu" > {tmp_path / "unit"}'
    )
    report = bench.compare_compilers(seed, DEFINES, ARCH, nvcc=str(nvcc))
    assert report["nvcc_compare"] == "ok", report
    assert report["nvrtc_vs_nvcc"] > 0 and report["nvcc_compile_s"] > 0
    argv = (tmp_path / "argv").read_text().split()
    assert "-cubin" in argv and "-DAVO_HEAD_DIM=128" in argv
    assert "-gencode=arch=compute_90a,code=sm_90a" in argv
    assert argv[-1] == SEED.name
    assert (tmp_path / "unit").read_text() == seed[SEED.name]


def test_a_kernel_nvrtc_refuses_is_reported_too(bench: ModuleType, tmp_path: Path) -> None:
    """NVRTC failing (or missing) ends the comparison with a reported field as well."""
    broken = {"k.cu": 'extern "C" __global__ void k() { undeclared(); }\n'}
    report = bench.compare_compilers(broken, {}, ARCH, nvcc=str(tmp_path / "no-such-nvcc"))
    assert report["nvcc_compare"].startswith("failed: ")
    assert "nvrtc_vs_nvcc" not in report


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no nvcc on PATH")
@needs_nvrtc
def test_the_real_nvcc_compiles_the_current_seed(bench: ModuleType, seed: dict[str, str]) -> None:
    report = bench.compare_compilers(seed, DEFINES, ARCH, nvcc=shutil.which("nvcc"))
    assert report["nvcc_compare"] == "ok", report


def test_the_table_prints_a_failed_comparison(bench: ModuleType) -> None:
    report = {
        "compile_s": 0.2,
        "nvrtc_compile_s": 0.21,
        "nvcc_compare": "failed: nvcc: k.cu(88): error: boom",
        "configs": {"b1": {"throughput_median": 1.0, "spread_pct": 0.5, "timing_iqr_pct": 0.1}},
    }
    text = bench.table(report, "TFLOPS")
    assert "nvcc_compare         failed: nvcc: k.cu(88): error: boom" in text.splitlines()
    assert "nvrtc_vs_nvcc" not in text and "b1" in text


def test_the_lineage_spread_is_the_spread_over_the_anchor(bench: ModuleType) -> None:
    """Runs that read 3% apart on their own clock but the same rate over the anchor timed in
    their sweeps store scores that far apart: the lineage's spread is the anchor ratio's,
    not the clock's."""
    from avo_tui.evaluation import ConfigResult, EvalResult, get_target

    target = get_target("cpu-attention")
    configs = list(target.grid(True))

    def result(rate: float, over_anchor: float) -> EvalResult:
        made = EvalResult(target.name, target.toolchain, "cpu", target.unit, seed=1, quick=True)
        made.anchor = "torch-sdpa-cpu"
        made.configs = [ConfigResult(c, throughput=rate,
                                     anchor_blocks=[math.log(over_anchor)] * 3)
                        for c in configs]
        return made

    first = result(10.0, 1.0)
    gmeans = bench.lineage_gmeans(first, [result(9.7, 1.001), result(10.0, 1.001),
                                          result(9.9, 1.002)])
    assert gmeans == pytest.approx([10.01, 10.01, 10.02])
    assert bench.spread_pct(gmeans) == pytest.approx(0.0999, abs=1e-3)
