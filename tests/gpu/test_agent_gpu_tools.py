"""The agent's GPU tools on a real GPU: profile sections on the CUDA seed, compute-sanitizer on
the seed and on a kernel with a shared-memory race, and the device's measured facts.

Marked ``gpu``; skipped without CUDA. Where ncu or compute-sanitizer is missing, or the machine
will not let them read the GPU (seen under gVisor), the test skips with the tool's own reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from avo_tui.evaluation import (  # noqa: E402
    ProfileUnavailable,
    SanitizerUnavailable,
    get_target,
    smallest_config,
)
from avo_tui.evaluation.declarations.candidate import load_sources  # noqa: E402
from avo_tui.evaluation.diagnostics.profile import NCU_PLACES, find_tool, profile  # noqa: E402
from avo_tui.evaluation.diagnostics.sanitize import SANITIZER_PLACES, sanitize  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
ROOT = Path(__file__).parents[2]
SEED = ROOT / "kernels" / "cuda" / "attention_wgmma.cu"
RACY = ROOT / "tests" / "adversarial" / "cuda" / "shared_memory_race.cu"
SASS_LINE = re.compile(r"^\s+\d+\.\d%\s+\+0x[0-9a-f]{5}\s+\S+")


def hopper() -> bool:
    return bool(torch.cuda.get_device_capability(0)[0] == 9)


def run_sanitizer(path: Path, tools: tuple[str, ...]) -> str:
    if find_tool("compute-sanitizer", SANITIZER_PLACES) is None:
        pytest.skip("compute-sanitizer is not installed here")
    target = get_target("mha")
    try:
        report = sanitize("mha", target.entry, load_sources(path, "cuda"),
                          smallest_config(target), tools=tools)
    except SanitizerUnavailable as error:
        pytest.skip(f"compute-sanitizer cannot run here: {error}")
    print(report)
    return report


def test_profile_names_the_seeds_stall_reasons_and_its_stalled_sass_lines() -> None:
    if not hopper():
        pytest.skip("the seed needs sm_90a")
    if find_tool("ncu", NCU_PLACES) is None:
        pytest.skip("ncu is not installed here")
    target = get_target("mha")
    config = target.quick_configs[0].name
    try:
        text = profile("mha", target.entry, load_sources(SEED, "cuda"), config,
                       sections=("summary", "warp_state", "source"))
    except ProfileUnavailable as error:
        pytest.skip(f"ncu cannot read the counters on this machine: {error}")
    print(text)
    lines = text.splitlines()
    assert lines[0] == f"Nsight Compute, avo_attention_fwd on {config}:"
    stalls = lines.index(next(line for line in lines if line.startswith("warp stalls")))
    reasons = [line.split()[0] for line in lines[stalls + 1:] if re.match(r"^\s+\w+\s+\d", line)]
    assert len(reasons) >= 3, text
    sass = [line for line in lines if SASS_LINE.match(line)]
    assert len(sass) >= 5, text
    assert any(op in text for op in ("HGMMA", "SYNCS", "BAR", "WARPGROUP")), text


def test_the_seed_is_clean_under_synccheck_on_its_smallest_configuration() -> None:
    if not hopper():
        pytest.skip("the seed needs sm_90a")
    report = run_sanitizer(SEED, ("synccheck",))
    assert report.splitlines()[1].startswith("synccheck: clean"), report


def test_racecheck_reports_a_shared_memory_race_between_warps() -> None:
    report = run_sanitizer(RACY, ("racecheck",))
    line = report.splitlines()[1]
    assert line.startswith("racecheck: ") and "clean" not in line, report
    assert re.search(r"(write-read|read-write) race at avo_attention_fwd\+0x|(RAW|WAR) hazard",
                     report), report


def test_the_gpu_states_its_limits_and_a_measured_peak() -> None:
    from avo_tui.evaluation.devices.gpu import CudaDevice

    facts = CudaDevice(0).facts()
    print(facts)
    props = torch.cuda.get_device_properties(0)
    assert facts["gpu"] == props.name and facts["sms"] == props.multi_processor_count
    limits = {key: facts[key] for key in (
        "max_smem_per_block_optin_bytes", "max_smem_per_sm_bytes", "registers_per_sm",
        "registers_per_block", "max_threads_per_sm", "l2_bytes")}
    sizes = {key: value for key, value in limits.items() if isinstance(value, int) and value > 0}
    assert sizes == limits
    assert sizes["max_smem_per_block_optin_bytes"] <= sizes["max_smem_per_sm_bytes"]
    memory, peak = facts["memory_gib"], facts["peak_bf16_tflops"]
    assert isinstance(memory, float) and memory > 1
    assert isinstance(peak, float) and peak > 0
    if hopper():
        assert facts["arch"] == "sm_90a" and facts["compute_capability"] == "9.0"
        assert sizes["max_smem_per_block_optin_bytes"] == 232448
        assert peak > 100

