#!/usr/bin/env python3
"""The A/A spread of the back-to-back reading beside the best (issue 70): how far apart two
versions of one speed read when the gate's best is read back to back beside the candidate,
which sets the flag "slower back to back"'s threshold (SLOWER_BACK_TO_BACK).

    python3 benchmarks/back_to_back_aa.py --readings 16

The two versions: mha's seed, and the seed inside lanes_run's slowdown wrapper with every share
at 0 (the same work, another kernel). Each reading is one evaluation with the best loaded and
the back-to-back reading asked for (EvalRequest(..., incumbent=..., sustained_s=...)), the two
taking turns as the candidate. Prints each candidate-over-best ratio, then their mean, spread
and how many fall under 1 - SLOWER_BACK_TO_BACK. Needs a CUDA GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import common  # noqa: F401  (avo_tui and tests/ on sys.path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=16, help="evaluations (default 16)")
    parser.add_argument("--seconds", type=float, default=0.5,
                        help="each back-to-back stretch (default 0.5, the evaluator's)")
    args = parser.parse_args(argv)
    if args.readings < 2:
        parser.error("--readings must be 2 or more")

    import torch

    if not torch.cuda.is_available():
        parser.error("back_to_back_aa.py needs a CUDA GPU; torch sees none here")
    from common.slowed_seed import slowed_seed

    from avo_tui.engine.launch import seed_files
    from avo_tui.evaluation import EvalRequest, Worker, get_target
    from avo_tui.evaluation.declarations.candidate import apply_knobs
    from avo_tui.evaluation.measurement.back_to_back import slower_back_to_back

    target = get_target("mha")
    wrapped = apply_knobs(slowed_seed(target, 4), {f"AVO_SLOW_{k}": "0" for k in range(1, 5)})
    plain = seed_files(target)
    floor = 1 - slower_back_to_back("cuda:0")
    ratios = []
    with Worker("cuda") as worker:
        for index in range(args.readings):
            candidate, best = (wrapped, plain) if index % 2 else (plain, wrapped)
            result = worker.evaluate(EvalRequest(
                target.ref, candidate, quick=True, measure_baselines=False, seed=900 + index,
                incumbent=best, sustained_s=args.seconds), timeout_s=600)
            ratio = result.sustained_ratios.get("incumbent")
            print(f"{index:>3} candidate {'wrapped' if index % 2 else 'seed':<8} "
                  f"{ratio if ratio is None else f'{ratio:.4f}'}  {result.summary()}", flush=True)
            if ratio:
                ratios.append(ratio)
    if len(ratios) < 2:
        print("fewer than two readings: no spread")
        return 1
    print(f"n {len(ratios)}  mean {statistics.mean(ratios):.4f}  "
          f"sd {statistics.stdev(ratios):.4f}  min {min(ratios):.4f}  "
          f"under {floor:.3f}: {sum(r < floor for r in ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
