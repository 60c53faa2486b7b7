"""Looking for a kernel as fast as another launch by launch that draws more power (issue 70,
item 2), on one GPU: rmsnorm's seed with every block held a count of SM cycles after its body
(heat_pad.cuh), asleep, or with n of its 8 warps issuing tensor-core MMAs (or FMAs). Each
variant, a tenth fewer cycles than a sleeping best, goes through the commit gate beside that
best with the back-to-back reading, and alone.

    python3 benchmarks/heat_pad.py [--warps 0 2 4 8] [--ffma]

Prints, per variant: the gate's decision beside the sleeping best, the variant's interleaved
rate alone, and its back-to-back rate, SM clock and power alone. Measured on an H200
(2026-11-27, RESULTS.md): with 2 or 3 warps the variant keeps its time and draws at most
330 W; with 4 or 8 it is slower at every reading, interleaved too, at a reported 1980 MHz."""

from __future__ import annotations

import argparse
import sys

import common

from attack_kernels import Seeded, around_entry, seeded

from avo_tui.evaluation import EvalRequest, Worker
from avo_tui.evaluation.paired import GatePlan

HEADER = common.ROOT / "benchmarks" / "heat_pad.cuh"
TARGET = "rmsnorm"
PAD_CYCLES = 262_144  # about 2 ms a launch of rmsnorm's quick configuration at 2 GHz
SHARE = 0.9  # the variant's cycles, of the best's


def padded(target: Seeded, cycles: int, warps: int, ffma: bool) -> dict[str, str]:
    return around_entry(target, HEADER, {"AVO_PAD_CYCLES": cycles, "AVO_PAD_HOT": warps,
                        "AVO_PAD_FFMA": int(ffma)}, "", "avo_pad();")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warps", type=int, nargs="+", default=[0, 2, 3, 4, 8],
                        help="busy warps of each block's 8, one variant each")
    parser.add_argument("--ffma", action="store_true", help="FMAs instead of MMAs")
    parser.add_argument("--seconds", type=float, default=0.5, help="each back-to-back stretch")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        parser.error("heat_pad.py needs a CUDA GPU; torch sees none here")
    target = seeded(TARGET)
    best = padded(target, PAD_CYCLES, 0, args.ffma)
    print(f"{'warps':>5} {'gate':>7} {'alone':>8} {'back to back':>13} {'MHz':>5} {'W':>4}")
    with Worker("cuda") as worker:
        for warps in args.warps:
            variant = padded(target, int(PAD_CYCLES * SHARE), warps, args.ffma)
            gated = worker.evaluate(EvalRequest(
                target.spec.ref, variant, quick=True, measure_baselines=False, seed=70,
                incumbent=best, gate=GatePlan(cap_s=target.spec.gate_cap_s)), timeout_s=600)
            alone = worker.evaluate(EvalRequest(
                target.spec.ref, variant, quick=True, measure_baselines=False, seed=71,
                sustained_s=args.seconds), timeout_s=600)
            if alone.failure is not None or gated.failure is not None:
                print(f"{warps:>5} failed: {gated.summary()} / {alone.summary()}")
                continue
            config = alone.timed[0]
            read = config.sustained["candidate"]
            print(f"{warps:>5} {gated.beside.get('decision', '-'):>7} {config.throughput:8.1f} "
                  f"{read['rate']:13.1f} {read['mhz']:5.0f} {read['watts']:4.0f}")
    print(f"({alone.unit}; the best sleeps {PAD_CYCLES} cycles a block, each variant "
          f"{SHARE:.0%} of them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
