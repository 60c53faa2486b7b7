#!/usr/bin/env python3
"""Does a kernel's time depend on which kernel ran just before it? Ours and the target's
baselines on one configuration, launched in turn in several orders, each launch timed alone.

    python benchmarks/launch_order.py --target gqa --config b1-h32kv8-s32768-d128-full
    python benchmarks/launch_order.py my.cu --target mha --config b8-h16-s4096-d128-causal

At its power limit a GPU's clock follows the power of what it has just run: a launch that comes
right after a low-power kernel (FlashAttention-2 runs at half the others' rate) starts at a
higher clock. The evaluator once launched the candidate and the baselines in one fixed cyclic
order, in which FA4 always followed FA2. Orders timed here, each for --cycles turns after two
untimed ones, the L2 cache flushed before every launch as the evaluator does:

    fixed           ours, then the baselines in the target's order (the evaluator's before
                    76035a2): ours follows the last baseline, from one turn to the next
    ours after X    the fixed order with ours traded for the kernel that follows X in it
    random          each turn in an order of its own (the evaluator's since 76035a2)

Each row gives every kernel's median time and ours' speed against each baseline (their time
over ours). Needs a CUDA GPU; a baseline that is not installed is left out and named.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Callable

import common  # noqa: F401  (avo_tui and tests/ on sys.path)

OURS = "ours"
FLUSH_BYTES = 512 * 2**20  # more than the L2 of any GPU we time on, as the evaluator's flush


def orders(names: list[str]) -> dict[str, list[str] | None]:
    """The orders to time, by label; None: a random order each turn. ``names`` is the fixed
    order, ours first; "ours after X" trades ours with the kernel that follows X in it (the
    last baseline is followed by ours already, from one turn to the next)."""
    chosen: dict[str, list[str] | None] = {"fixed": list(names)}
    for index, before in enumerate(names[1:-1], start=1):
        order = list(names)
        order[0], order[index + 1] = order[index + 1], order[0]
        chosen[f"ours after {before}"] = order
    chosen["random"] = None
    return chosen


def time_orders(runs: dict[str, Callable[[], object]], cycles: int, seed: int
                ) -> dict[str, dict[str, float]]:
    """Median milliseconds of each kernel in each order."""
    import torch

    flush = torch.empty(FLUSH_BYTES, dtype=torch.uint8, device="cuda")
    draws = random.Random(seed)
    medians: dict[str, dict[str, float]] = {}
    for label, order in orders(list(runs)).items():
        times: dict[str, list[float]] = {name: [] for name in runs}
        for cycle in range(cycles + 2):
            turn = order or draws.sample(list(runs), len(runs))
            events = []
            for name in turn:
                flush.zero_()
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                runs[name]()
                end.record()
                events.append((name, start, end))
            torch.cuda.synchronize()
            if cycle >= 2:  # the first two turns warm up
                for name, start, end in events:
                    times[name].append(start.elapsed_time(end))
        medians[label] = {name: statistics.median(ms) for name, ms in times.items()}
    return medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kernel", nargs="?", default="seed", metavar="KERNEL",
                        help="as kernel_vs_baselines.py takes it (default: the seed)")
    parser.add_argument("--target", default="gqa")
    parser.add_argument("--config", default="b1-h32kv8-s32768-d128-full")
    parser.add_argument("--baselines", nargs="*", default=["cudnn", "flash", "fa4", "fa3"],
                        metavar="NAME", help="the target's baselines, in the fixed order "
                        "(default: the attention targets' own: cudnn flash fa4 fa3)")
    parser.add_argument("--cycles", type=int, default=16, help="timed turns per order")
    parser.add_argument("--seed", type=int, default=0, help="for the random orders")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("needs a CUDA GPU", file=sys.stderr)
        return 2
    from common.runners import baseline_runners, our_runner

    run, kernel = our_runner(args.kernel, args.target, args.config)
    runs: dict[str, Callable[[], object]] = {OURS: run}
    runs |= baseline_runners(args.baselines, args.target, args.config)
    medians = time_orders(runs, args.cycles, args.seed)
    kernel.close()
    baselines = [n for n in runs if n != OURS]
    print(f"\n{args.target} {args.config}, {args.kernel}: median ms of {args.cycles} turns; "
          f"x NAME = NAME's time over ours")
    print(f"{'order':<22}" + "".join(f"{n:>9}" for n in runs)
          + "".join(f"{'x ' + n:>10}" for n in baselines))
    for label, row in medians.items():
        print(f"{label:<22}" + "".join(f"{row[n]:>9.3f}" for n in runs)
              + "".join(f"{row[n] / row[OURS]:>10.3f}" for n in baselines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
