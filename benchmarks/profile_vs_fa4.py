#!/usr/bin/env python3
"""Nsight Compute on our kernels and on FlashAttention-4, one configuration, side by side.

    python benchmarks/profile_vs_fa4.py                          # the mha seed and FA4
    python benchmarks/profile_vs_fa4.py seed seed:NUM_WG=2,OVERLAP=1,PINGPONG=1 \\
        --target mha --config b8-h16-s4096-d128-full --sections summary warp_state pipes

Each kernel is launched once on the configuration's inputs, as `avo eval --profile` does (our
kernels through the evaluator's own compile and launch, FA4 through flash_attn.cute in its own
[B, S, H, D] layout, after a warm-up launch that compiles it), under `ncu --clock-control
none`; the report per kernel is the agent's `profile` tool's text: duration, throughput, issue
slots, the top stall reasons (warp_state) and the pipes' load (pipes). Needs a Hopper GPU, ncu,
and flash-attn-4 for the FA4 column (../shared/tools/fa4/README.md); without it, ours alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from avo_tui.evaluation.diagnostics.profile import PROFILE_SECTIONS  # noqa: E402

FA4_KERNEL = "(?i)flash"  # the CuTe DSL names its kernel after FlashAttentionForwardSm90
# Launches FA4 twice on one configuration: the first compiles it; ncu profiles the first
# launch of a kernel matching FA4_KERNEL (a JIT compile launches none).
FA4_CHILD = """
import json, sys, torch
from avo_tui.evaluation import get_target
from avo_tui.evaluation.problems.attention_torch import fa4_baseline
from avo_tui.evaluation.measurement.tensors import make_inputs
doc = json.loads(sys.argv[1])
target = get_target(doc["target"])
config = {c.name: c for c in (*target.configs, *target.quick_configs)}[doc["config"]]
inputs = make_inputs(config, torch.Generator(device="cuda").manual_seed(0), "cuda")
call = fa4_baseline(config)
call.stage(inputs)
for _ in range(2):
    call.run()
torch.cuda.synchronize()
"""


def fa4_report(target: str, config: str, sections: list[str]) -> str:
    from avo_tui.evaluation.diagnostics.profile import profile_child
    from avo_tui.evaluation.problems.attention_torch import baseline_missing

    missing = baseline_missing("fa4")
    if missing:
        return f"FA4: {missing}"
    child = [sys.executable, "-c", FA4_CHILD, json.dumps({"target": target, "config": config})]
    return profile_child(child, FA4_KERNEL, config, sections=sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kernels", nargs="*", default=["seed"], metavar="KERNEL",
                        help="FILE, FILE:KNOB=VALUE,... or seed (default: seed)")
    parser.add_argument("--target", default="mha")
    parser.add_argument("--config", default="b8-h16-s4096-d128-full",
                        help="a configuration of the target's grid")
    parser.add_argument("--sections", nargs="+", default=["summary", "warp_state", "pipes"],
                        choices=PROFILE_SECTIONS)
    parser.add_argument("--no-fa4", action="store_true", help="profile our kernels only")
    args = parser.parse_args(argv)

    from kernel_vs_baselines import Kernel

    from avo_tui.evaluation import get_target
    from avo_tui.evaluation.diagnostics.profile import ProfileUnavailable, profile

    target = get_target(args.target)
    reports = []
    for text in args.kernels:
        kernel = Kernel.parse(text)
        try:
            report = profile(target.ref, target.entry, kernel.sources(target), args.config,
                             sections=args.sections)
        except ProfileUnavailable as error:
            report = f"cannot profile: {error}"
        reports.append((kernel.display(), report))
    if not args.no_fa4:
        try:
            reports.append(("FlashAttention-4", fa4_report(target.name, args.config,
                                                           args.sections)))
        except ProfileUnavailable as error:
            reports.append(("FlashAttention-4", f"cannot profile: {error}"))
    for name, report in reports:
        print(f"\n=== {name}\n{report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
