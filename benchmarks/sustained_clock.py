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
baseline that is not installed is reported as such. The loop and the sampling are
avo_tui/evaluation/measurement/sustained.py's; `kernel_vs_baselines.py --sustained` runs them
over a target's whole grid, in random orders.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from common.runners import baseline_runners, our_runner

SETTLE_S = 1.0  # left out of each run: the power limit's controller reacts within it


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
    from avo_tui.evaluation.devices.power import CudaClock, Nvml, sampling
    from avo_tui.evaluation.measurement.sustained import Figures, back_to_back, figures, median

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
    clock = CudaClock()
    rows: dict[str, list[Figures]] = {name: [] for name in runners}
    names = list(runners)
    for round_ in range(args.rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            timed = back_to_back(runners[name], args.seconds, SETTLE_S, clock,
                                 lambda: sampling(nvml))
            rows[name].append(figures(timed, lambda t: target.throughput(config, t)))
            time.sleep(2.0)  # the GPU cools a little between kernels, alike for each
            last = rows[name][-1]
            print(f"round {round_ + 1} {name}: {last.rate:.1f} TFLOP/s, "
                  f"{last.mhz:.0f} MHz, {last.watts:.0f} W", flush=True)
    print(f"\n{args.target} {args.config}, {args.seconds:g} s a run after {SETTLE_S:g} s, "
          f"medians of {args.rounds} rounds")
    print(f"{'kernel':<40}{'TFLOP/s':>10}{'MHz':>8}{'W':>8}{'TFLOP/kJ':>10}")
    for name, runs in rows.items():
        med = median(runs)
        print(f"{name:<40}{med.rate:>10.1f}{med.mhz:>8.0f}{med.watts:>8.0f}{med.per_kj:>10.2f}")
    for kernel in keep:
        kernel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
