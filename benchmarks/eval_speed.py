#!/usr/bin/env python3
"""How fast and how steady the evaluator is, on one target, with its seed kernel.

    python benchmarks/eval_speed.py --target cpu-attention --json
    python benchmarks/eval_speed.py --target cpu-attention --kernel my.c --runs 10

Everything runs through the real worker process, with a fresh compile cache so the first
compile is cold. Prints one JSON object (--json) or a table:

    compile_s          the cold compile of the kernel (the toolchain alone)
    eval_cold_s        spawning a worker, importing torch, compiling, checking and timing
    eval_warm_s        a second full evaluation on the warm worker, as later steps of a run do
                       it: the compile is cached, and on the CPU the baselines' timings are reused
    noise_spread_pct   over --runs separate evaluations of the same kernel on the warm worker
                       (the cold one is left out), (max - min) / median of the score, the
                       geometric mean over the grid: what the commit gate compares
    config_spread_max_pct  the same per configuration; the largest over configurations
    baseline_spread_pct the same for the first baseline, per configuration, the largest
    ratio_spread_pct   the same for the ratio to that baseline, measured beside the kernel
    ratio_geomean_spread_pct  the same for the geometric mean of those ratios over the grid:
                       the ratio the lineage shows
    nvrtc_vs_nvcc      (CUDA targets) the kernel's compile time through NVRTC over its compile
                       time through nvcc (-cubin, the same unit and defines), same run. The
                       earlier figures in RESULTS.md timed nvcc through torch's load_inline,
                       which also built a torch extension (about 28 s): not comparable.
    nvcc_compare       (CUDA targets) "ok", or "failed: <first error line>" when either
                       compiler is missing or refuses the kernel (then no ratio)
    lineage_spread_pct (--beside) the same for the score the lineage would store for each run:
                       its rate over the anchor's, timed beside it, on the first evaluation's
                       scale (engine/scores.py), as a version's stored score is
    per_run            (JSON only) each noise run's geomean and ratio, in order, and on a GPU
                       its SM clock, temperature and power draw read just after it: a drift
                       from run to run shows as a trend there
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported in main, after the cache folder is set
    from avo_tui.evaluation import EvalResult, Worker

ROOT = Path(__file__).resolve().parents[1]
TWIN = {"c": "\nint avo_eval_speed_twin = 1;\n",
        "cuda": "\n__device__ int avo_eval_speed_twin = 1;\n"}


def spread_pct(values: list[float]) -> float:
    median = statistics.median(values)
    return (max(values) - min(values)) / median * 100 if median else 0.0


def first_line(text: str) -> str:
    """The line that says what went wrong: the first error, else the first line of any kind."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return next((line for line in lines if "error" in line.lower()), lines[0] if lines else "")


def find_nvcc() -> str | None:
    """nvcc from the CUDA toolkit torch builds extensions with, else the one on PATH."""
    cuda_home: str | None
    try:
        from torch.utils.cpp_extension import CUDA_HOME as cuda_home
    except Exception:  # no torch, or torch without CUDA: fall back to PATH
        cuda_home = None
    if cuda_home and Path(cuda_home, "bin", "nvcc").exists():
        return str(Path(cuda_home, "bin", "nvcc"))
    return shutil.which("nvcc")


def device_arch() -> str:
    import torch

    major, minor = torch.cuda.get_device_capability()
    return f"sm_{major}{minor}" + ("a" if major in (9, 10, 12) else "")


def gpu_state() -> dict[str, str] | None:
    """The GPU's SM clock, temperature and power draw now (nvidia-smi), or None without it."""
    fields = ("clocks.sm", "temperature.gpu", "power.draw")
    try:
        done = subprocess.run(
            ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    first_gpu = done.stdout.partition("\n")[0]  # the device tool's machines: the one GPU
    return dict(zip(fields, (v.strip() for v in first_gpu.split(",")), strict=False))


def lineage_gmeans(first: EvalResult, runs: list[EvalResult]) -> list[float]:
    """Each run's score as the lineage would store it: its rate over the anchor's, on the
    scale of ``first`` (as the lineage's first version)."""
    from avo_tui.engine.scores import anchored_score, score_of

    scores = [anchored_score(run, score_of(first)) for run in runs]
    return [score.gmean for score in scores if score is not None]


def nvcc_command(nvcc: str, unit: str, arch: str, options: tuple[str, ...]) -> list[str]:
    """nvcc compiling the candidate exactly as NVRTC sees it: the same unit on its own (no
    headers put in front, such as the cuda.h torch's load_inline adds, whose CUtensorMap
    clashes with the one kernels declare for NVRTC), the same defines, one cubin out."""
    return [
        nvcc, "-cubin", f"-gencode=arch=compute_{arch[3:]},code={arch}", "-std=c++17",
        "-Xptxas=-v", "-I.", *options, "-o", "kernel.cubin", unit,
    ]


def compare_compilers(
    sources: dict[str, str],
    defines: dict[str, object],
    arch: str | None = None,
    nvcc: str | None = None,
    timeout_s: float = 600.0,
) -> dict[str, object]:
    """One cold compile of the same kernel through NVRTC and through nvcc.

    Never raises: ``nvcc_compare`` is "ok", or "failed: <the first error line>" (then the
    ratio is left out), so a compiler that is missing or refuses the kernel is reported in
    the table instead of ending the benchmark."""
    report: dict[str, object] = {}
    scratch: list[str] = []
    try:
        from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain

        arch = arch or device_arch()
        options = tuple(f"-D{k}={v}" for k, v in defines.items())
        units = [name for name in sources if name.endswith(".cu")]
        if len(units) != 1:
            raise ValueError(f"a CUDA kernel has one .cu file, not {units}")
        scratch.append(tempfile.mkdtemp(prefix="avo-bench-nvrtc-"))
        fresh = CompileCache(Path(scratch[-1]))
        start = time.perf_counter()
        result = CudaToolchain(fresh, arch).compile(sources, options)
        nvrtc_s = time.perf_counter() - start
        if not result.ok:
            # The log's first line is the command; the compiler's own words follow.
            raise RuntimeError(f"NVRTC: {first_line(result.log.partition(chr(10))[2])}")
        report["nvrtc_compile_s"] = round(nvrtc_s, 3)
        nvcc = nvcc or find_nvcc()
        if nvcc is None:
            raise RuntimeError("nvcc not found (no CUDA_HOME/bin/nvcc, none on PATH)")
        build = tempfile.mkdtemp(prefix="avo-bench-nvcc-")
        scratch.append(build)
        for name, text in sources.items():
            Path(build, name).write_text(text)
        command = nvcc_command(nvcc, units[0], arch, options)
        start = time.perf_counter()
        done = subprocess.run(
            command, cwd=build, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        nvcc_s = time.perf_counter() - start
        if done.returncode != 0 or not Path(build, "kernel.cubin").exists():
            detail = first_line(done.stderr + done.stdout) or f"exit status {done.returncode}"
            raise RuntimeError(f"nvcc: {detail}")
    except Exception as error:  # reported, never fatal: the evaluator's figures stand
        message = first_line(str(error)) or type(error).__name__
        report["nvcc_compare"] = f"failed: {message}"
        return report
    finally:
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)
    report |= {
        "nvcc_compare": "ok",
        "nvcc_compile_s": round(nvcc_s, 3),
        "nvrtc_vs_nvcc": round(nvrtc_s / nvcc_s, 4) if nvcc_s else None,
    }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="cpu-attention")
    parser.add_argument("--kernel", type=Path, help="kernel source (default: the target's seed)")
    parser.add_argument("--runs", type=int, default=5, help="evaluations for the noise figure")
    parser.add_argument("--quick", action="store_true", help="use the target's short grid")
    parser.add_argument("--beside", action="store_true",
                        help="time each evaluation beside the kernel itself as the best, as a "
                             "session's first readings are timed (default: beside the "
                             "baselines only, as a session's first evaluation)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    # A fresh cache, set before the worker starts, makes the first compile a cold one.
    os.environ["AVO_CACHE_DIR"] = tempfile.mkdtemp(prefix="avo-bench-cache-")
    from avo_tui.engine.launch import seed_path
    from avo_tui.evaluation import EvalRequest, Worker, get_target
    from avo_tui.evaluation.declarations.candidate import load_sources

    target = get_target(args.target)
    kernel = args.kernel or seed_path(target)
    sources = load_sources(kernel, target.toolchain)
    # Beside itself under another identity (an unused global), or it would not be timed.
    twin = {**sources, next(iter(sources)): next(iter(sources.values())) + TWIN[target.toolchain]}
    request = EvalRequest(target.ref, sources, quick=args.quick,
                          incumbent=twin if args.beside else None)

    def evaluate(worker: Worker, reuse_baselines: bool = True) -> tuple[float, EvalResult]:
        start = time.perf_counter()
        result = worker.evaluate(replace(request, reuse_baselines=reuse_baselines))
        if not result.correct:
            sys.exit(f"eval_speed: the kernel failed: {result.failure}")
        return time.perf_counter() - start, result

    start = time.perf_counter()
    with Worker(target.device) as worker:
        cold_s, first = evaluate(worker)
        cold_s = time.perf_counter() - start  # from the spawn, not from the request
        warm_s, _ = evaluate(worker)
        # The noise runs re-measure the baselines too, so their spread is seen beside ours.
        runs: list[EvalResult] = []
        states: list[dict[str, str] | None] = []
        for _ in range(args.runs):
            runs.append(evaluate(worker, reuse_baselines=False)[1])
            states.append(gpu_state() if target.device == "cuda" else None)
        host = worker.info

    names = [c.name for c in runs[0].timed]
    per_config = {
        name: [next(c for c in r.timed if c.name == name) for r in runs] for name in names
    }
    report = {
        "target": target.name,
        "kernel": str(kernel.relative_to(ROOT) if kernel.is_relative_to(ROOT) else kernel),
        "runs": args.runs,
        "beside": args.beside,
        "compile_s": round(first.compile.seconds, 3) if first.compile else None,
        "eval_cold_s": round(cold_s, 3),
        "eval_warm_s": round(warm_s, 3),
        "noise_spread_pct": round(spread_pct([r.geomean for r in runs]), 2),
        "config_spread_max_pct": round(
            max(spread_pct([c.throughput for c in cs]) for cs in per_config.values()), 2
        ),
        "baseline_spread_pct": round(
            max(spread_pct([c.baseline or 0.0 for c in cs]) for cs in per_config.values()), 2
        ),
        "ratio_spread_pct": round(
            max(spread_pct([c.ratio or 0.0 for c in cs]) for cs in per_config.values()), 2
        ),
        "ratio_geomean_spread_pct": round(spread_pct([r.ratio or 0.0 for r in runs]), 2),
        "geomean": round(statistics.median(r.geomean for r in runs), 4),
        "ratio": round(statistics.median(r.ratio or 0.0 for r in runs), 4),
        "unit": target.unit,
        "configs": {
            name: {
                "throughput_median": round(statistics.median(c.throughput for c in cs), 4),
                "spread_pct": round(spread_pct([c.throughput for c in cs]), 2),
                # every timed configuration of a correct result has its timing
                "timing_iqr_pct": round(statistics.median(
                    c.timing.spread_pct for c in cs if c.timing is not None), 2),
            }
            for name, cs in per_config.items()
        },
        "per_run": [
            {"geomean": round(r.geomean, 4), "ratio": round(r.ratio or 0.0, 4),
             **({"gpu": state} if state else {})}
            for r, state in zip(runs, states, strict=True)
        ],
        "host": host,
    }
    if args.beside:
        report["lineage_spread_pct"] = round(spread_pct(lineage_gmeans(first, runs)), 2)
    if target.toolchain == "cuda":
        report.update(compare_compilers(request.sources, target.defines))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(table(report, target.unit))
    return 0


TABLE_KEYS = (
    "compile_s", "eval_cold_s", "eval_warm_s", "noise_spread_pct", "lineage_spread_pct",
    "config_spread_max_pct",
    "baseline_spread_pct", "ratio_spread_pct", "ratio_geomean_spread_pct", "geomean", "ratio",
    "nvrtc_compile_s", "nvcc_compile_s", "nvrtc_vs_nvcc", "nvcc_compare",
)


def table(report: dict[str, Any], unit: str) -> str:
    lines = [f"{key:20} {report[key]}" for key in TABLE_KEYS if key in report]
    lines.append(f"\n{'config':28} {unit:>10} {'spread %':>9} {'IQR %':>7}")
    for name, figures in report.get("configs", {}).items():
        lines.append(
            f"{name:28} {figures['throughput_median']:>10.4g} {figures['spread_pct']:>9.2f} "
            f"{figures['timing_iqr_pct']:>7.2f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
