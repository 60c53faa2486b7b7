#!/usr/bin/env python3
"""Throughput, SM clock and board power under sustained load: each kernel launched back to back
for a few seconds on one configuration, our kernels beside FlashAttention-3 and -4.

    python benchmarks/sustained_clock.py --target gqa --config b1-h32kv8-s32768-d128-full
    python benchmarks/sustained_clock.py seed seed:Q_RELEASE=0 --baselines fa4 --seconds 5

The evaluator's timing alternates kernels launch by launch, so each launch starts at the clock
its neighbour left (benchmarks/launch_order.py); this one runs one kernel at a time, long
enough for the GPU's power limit to settle (the first second of each is left out), and samples
NVML every 20 ms:

    TFLOP/s     the target's throughput of the mean time of a launch (CUDA events around the
                whole run, no flush between launches: the same inputs every time)
    MHz, W      the mean SM clock and board power over the run's samples
    TFLOP/kJ    work per energy: at a power limit, what decides the sustained rate

Kernels run in turn, rotated each round (--rounds). Needs a CUDA GPU and libnvidia-ml; a
baseline that is not installed is reported as such.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

if TYPE_CHECKING:
    from avo_tui.evaluation.devices.device import Kernel

SETTLE_S = 1.0  # left out of each run: the power limit's controller reacts within it
SAMPLE_S = 0.02


class Nvml:
    """The SM clock (MHz) and board power (W) of GPU 0, through libnvidia-ml."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL("libnvidia-ml.so.1")
        self.lib.nvmlInit_v2()
        self.handle = ctypes.c_void_p()
        self.lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(self.handle))

    def sample(self) -> tuple[float, float]:
        clock, milliwatts = ctypes.c_uint(), ctypes.c_uint()
        self.lib.nvmlDeviceGetClockInfo(self.handle, 1, ctypes.byref(clock))  # NVML_CLOCK_SM
        self.lib.nvmlDeviceGetPowerUsage(self.handle, ctypes.byref(milliwatts))
        return float(clock.value), milliwatts.value / 1000.0


def sustained(nvml: Nvml, run: Callable[[], object], seconds: float,
              throughput: Callable[[float], float]) -> dict[str, float]:
    """``run`` launched back to back for ``seconds`` (after SETTLE_S of the same), sampled;
    ``throughput`` turns the seconds of a launch into the target's figure."""
    import torch

    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(SAMPLE_S):
            samples.append(nvml.sample())

    settle_until = time.perf_counter() + SETTLE_S
    while time.perf_counter() < settle_until:
        run()
        torch.cuda.synchronize()
    thread = threading.Thread(target=sampler, daemon=True)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    thread.start()
    start.record()
    launches, until = 0, time.perf_counter() + seconds
    while time.perf_counter() < until:
        for _ in range(4):
            run()
        launches += 4
        torch.cuda.synchronize()  # keeps the host within a few launches of the GPU
    end.record()
    torch.cuda.synchronize()
    stop.set()
    thread.join()
    seconds_each = start.elapsed_time(end) / 1000.0 / launches
    mhz = statistics.fmean(s[0] for s in samples) if samples else 0.0
    watts = statistics.fmean(s[1] for s in samples) if samples else 0.0
    tflops = throughput(seconds_each)
    return {"tflops": tflops, "mhz": mhz, "watts": watts,
            "tflop_per_kj": tflops / watts * 1000.0 if watts else 0.0}


def our_runner(text: str, target_name: str, config_name: str
               ) -> tuple[Callable[[], object], Kernel]:
    """A kernel of ours built as an evaluation builds it, staged once on fixed inputs."""
    import torch
    from kernel_vs_baselines import Kernel

    from avo_tui.evaluation import EvalRequest, get_target
    from avo_tui.evaluation.measurement.tensors import empty_outputs, make_inputs
    from avo_tui.evaluation.pipeline import Pipeline, build_kernel

    target = get_target(target_name)
    config = {c.name: c for c in (*target.configs, *target.quick_configs)}[config_name]
    request = EvalRequest(target.ref, Kernel.parse(text).sources(target), measure_baselines=False)
    kernel = build_kernel(Pipeline("cuda"), request)
    inputs = make_inputs(config, torch.Generator(device="cuda").manual_seed(0), "cuda")
    outs = empty_outputs(config, "cuda")
    kernel.stage(config, inputs, outs)
    return kernel.fire, kernel


def baseline_runner(name: str, target_name: str, config_name: str) -> Callable[[], object] | str:
    """One of the target's baselines (cuDNN, FA2, FA3, FA4) on fixed inputs, or why it cannot
    run here."""
    import torch

    from avo_tui.evaluation import get_target
    from avo_tui.evaluation.measurement.tensors import make_inputs

    target = get_target(target_name)
    config = {c.name: c for c in (*target.configs, *target.quick_configs)}[config_name]
    numerics = config.problem.numerics()
    if name not in numerics.baselines:
        return f"{target_name} has no baseline {name!r} (it has {', '.join(numerics.baselines)})"
    missing = numerics.baseline_missing(name)
    if missing:
        return missing
    call = numerics.baselines[name](config)
    call.stage(make_inputs(config, torch.Generator(device="cuda").manual_seed(0), "cuda"))
    call.run()  # FA4 compiles on its first call
    torch.cuda.synchronize()
    run: Callable[[], object] = call.run
    return run


def baseline_runners(names: list[str], target_name: str, config_name: str
                     ) -> dict[str, Callable[[], object]]:
    """baseline_runner of each of ``names`` that can run here; each other one named, and why."""
    runners: dict[str, Callable[[], object]] = {}
    for name in names:
        runner = baseline_runner(name, target_name, config_name)
        if isinstance(runner, str):
            print(f"{name}: not run: {runner}")
        else:
            runners[name] = runner
    return runners


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kernels", nargs="*", default=["seed"], metavar="KERNEL",
                        help="as kernel_vs_baselines.py takes them (default: the seed)")
    parser.add_argument("--target", default="gqa")
    parser.add_argument("--config", default="b1-h32kv8-s32768-d128-full")
    parser.add_argument("--baselines", nargs="*", default=["fa3", "fa4"], metavar="NAME",
                        help="the target's baselines to run beside ours: cudnn, flash (FA2), "
                             "fa3, fa4 (default: fa3 fa4)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per kernel and round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    from avo_tui.evaluation import get_target

    if not torch.cuda.is_available():
        print("needs a CUDA GPU", file=sys.stderr)
        return 2
    target = get_target(args.target)
    config = {c.name: c for c in (*target.configs, *target.quick_configs)}[args.config]
    runners: dict[str, Callable[[], object]] = {}
    keep = []
    for text in args.kernels:
        run, kernel = our_runner(text, args.target, args.config)
        runners[text] = run
        keep.append(kernel)
    runners |= baseline_runners(args.baselines, args.target, args.config)
    nvml = Nvml()
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in runners}
    names = list(runners)
    for round_ in range(args.rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            rows[name].append(sustained(nvml, runners[name], args.seconds,
                                        lambda t: target.throughput(config, t)))
            time.sleep(2.0)  # the GPU cools a little between kernels, alike for each
            figures = rows[name][-1]
            print(f"round {round_ + 1} {name}: {figures['tflops']:.1f} TFLOP/s, "
                  f"{figures['mhz']:.0f} MHz, {figures['watts']:.0f} W", flush=True)
    print(f"\n{args.target} {args.config}, {args.seconds:g} s a run after {SETTLE_S:g} s, "
          f"medians of {args.rounds} rounds")
    print(f"{'kernel':<40}{'TFLOP/s':>10}{'MHz':>8}{'W':>8}{'TFLOP/kJ':>10}")
    for name, runs in rows.items():
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(f"{name:<40}{med['tflops']:>10.1f}{med['mhz']:>8.0f}{med['watts']:>8.0f}"
              f"{med['tflop_per_kj']:>10.2f}")
    for kernel in keep:
        kernel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
