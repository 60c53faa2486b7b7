#!/usr/bin/env python3
"""How often the commit gate would accept a change that does nothing (an A/A test).

    python benchmarks/gate_noise.py --target mha --runs 8
    python benchmarks/gate_noise.py --target cpu-attention --runs 8 --json

The seed (or --kernel) is evaluated as the candidate with the incumbent being the same kernel
plus an unused global variable: different compiled code, the same work. Each run times both
side by side, interleaved, as the gate does, and reports the measured gain, its standard error
from the timing samples, the bar the gate sets (evaluation/score.py gain_threshold) and
whether the gate would have accepted. The bar is set for a false-accept rate of 1% per
decision; `accepted` counts them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avo_tui.evaluation import EvalRequest, Worker, get_target  # noqa: E402
from avo_tui.evaluation.candidate import load_sources  # noqa: E402
from avo_tui.evaluation.score import gain_threshold  # noqa: E402

MARKER = {
    "c": "int avo_gate_noise_marker = 1;\n",
    "cuda": "__device__ int avo_gate_noise_marker = 1;\n",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="cpu-attention")
    parser.add_argument("--kernel", type=Path, help="default: the target's seed")
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="the quick grid")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    target = get_target(args.target)
    kernel = args.kernel or ROOT / "kernels" / target.seed.kernel
    incumbent = load_sources(kernel, target.toolchain)
    main_file = next(iter(incumbent))
    candidate = dict(incumbent)
    candidate[main_file] = incumbent[main_file] + "\n" + MARKER[target.toolchain]
    rows = []
    with Worker(target.device) as worker:
        for run in range(args.runs):
            request = EvalRequest(target.name, candidate, quick=args.quick, incumbent=incumbent,
                                  measure_baselines=False)
            result = worker.evaluate(request)
            if not result.correct or result.incumbent_gain is None:
                print(f"run {run}: {result.summary()}", file=sys.stderr)
                return 1
            log_gain = math.log(result.incumbent_gain)
            bar = gain_threshold(result.incumbent_gain_se, result.incumbent_gain_dof)
            rows.append({
                "run": run,
                "gain_pct": round(100 * (result.incumbent_gain - 1), 3),
                "se_pct": round(100 * (result.incumbent_gain_se or 0), 3),
                "bar_pct": round(100 * (math.exp(bar) - 1), 3),
                "accepted": log_gain > bar,
                "seconds": round(result.seconds, 2),
            })
            if not args.json:
                print(json.dumps(rows[-1]), flush=True)
    gains = [r["gain_pct"] for r in rows]
    summary = {
        "target": target.name,
        "runs": len(rows),
        "accepted": sum(r["accepted"] for r in rows),
        "gain_spread_pct": round(max(gains) - min(gains), 3),
        "median_bar_pct": sorted(r["bar_pct"] for r in rows)[len(rows) // 2],
        "rows": rows,
    }
    print(json.dumps(summary, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
