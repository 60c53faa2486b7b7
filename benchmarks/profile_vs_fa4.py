#!/usr/bin/env python3
"""Nsight Compute on our kernels and on FlashAttention-3 and -4, one configuration, side by side.

    python benchmarks/profile_vs_fa4.py                          # the mha seed, FA3 and FA4
    python benchmarks/profile_vs_fa4.py seed seed:NUM_WG=2,OVERLAP=1,PINGPONG=1 \\
        --target mha --config b8-h16-s4096-d128-full --sections summary warp_state pipes
    python benchmarks/profile_vs_fa4.py seed --baselines fa3     # FA3 alone beside the seed
    python benchmarks/profile_vs_fa4.py seed --sections summary --metrics lts__t_sectors.sum

Each kernel is launched once on the configuration's inputs, as `avo eval --profile` does (our
kernels through the evaluator's own compile and launch, FA3 and FA4 through their own packages
in their [B, S, H, D] layout, after a warm-up launch, which compiles FA4), under `ncu
--clock-control none`; the report per kernel is the agent's `profile` tool's text: duration,
throughput, issue slots, the top stall reasons (warp_state) and the pipes' load (pipes). Needs a
Hopper GPU and ncu; FA3 needs the fa3-fwd wheel (scripts/device_wheels) and FA4 flash-attn-4
(../shared/tools/fa4/README.md). A baseline that is not installed is reported as such.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

import common  # noqa: F401  (avo_tui and tests/ on sys.path)

from avo_tui.evaluation.diagnostics.profile import PROFILE_SECTIONS

# The baselines: display name, evaluator baseline, and the regular expression of the kernel ncu
# profiles. FA4's CuTe DSL names its kernel after FlashAttentionForwardSm90; FA3's is
# flash::FlashAttnFwdSm90 (a name with "fwd", which no copy or scheduler kernel of it has).
BASELINES = {
    "fa3": ("FlashAttention-3", "device_kernel"),
    "fa4": ("FlashAttention-4", "(?i)flash"),
}
# Launches a baseline twice on one configuration: the first compiles it (FA4's JIT); ncu
# profiles the first launch of a kernel matching its expression (a JIT compile launches none).
BASELINE_CHILD = """
import json, sys, torch
from avo_tui.evaluation import get_target
from avo_tui.evaluation.problems import attention_torch
from avo_tui.evaluation.measurement.tensors import make_inputs
doc = json.loads(sys.argv[1])
target = get_target(doc["target"])
config = {c.name: c for c in (*target.configs, *target.quick_configs)}[doc["config"]]
inputs = make_inputs(config, torch.Generator(device="cuda").manual_seed(0), "cuda")
call = getattr(attention_torch, doc["baseline"] + "_baseline")(config)
call.stage(inputs)
for _ in range(2):
    call.run()
torch.cuda.synchronize()
"""


def baseline_report(baseline: str, target: str, config: str, sections: list[str],
                    metrics: list[str]) -> str:
    from avo_tui.evaluation.diagnostics.profile import profile_child
    from avo_tui.evaluation.problems.attention_torch import baseline_missing

    missing = baseline_missing(baseline)
    if missing:
        return f"{BASELINES[baseline][0]}: {missing}"
    doc = {"target": target, "config": config, "baseline": baseline}
    child = [sys.executable, "-c", BASELINE_CHILD, json.dumps(doc)]
    return profile_child(child, BASELINES[baseline][1], config, sections=sections,
                         metrics=metrics)


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
    parser.add_argument("--metrics", nargs="+", default=[], metavar="METRIC",
                        help="raw ncu metrics reported beside the sections, by name "
                             "(e.g. lts__t_sectors_op_read.sum; `ncu --query-metrics` lists them)")
    parser.add_argument("--baselines", nargs="*", default=list(BASELINES), choices=BASELINES,
                        help="which FlashAttention kernels to profile beside ours (default: "
                             "fa3 fa4; none: ours alone)")
    args = parser.parse_args(argv)
    # Stopped from outside (an outer `timeout`, a job manager), exit through Python, so that the
    # ncu session running now is killed with us instead of keeping the GPU (run_bounded).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    from common.kernels import Kernel

    from avo_tui.evaluation import get_target
    from avo_tui.evaluation.diagnostics.profile import ProfileUnavailable, profile

    target = get_target(args.target)
    reports = []
    for text in args.kernels:
        kernel = Kernel.parse(text)
        try:
            report = profile(target.ref, target.entry, kernel.sources(target), args.config,
                             sections=args.sections, metrics=args.metrics)
        except ProfileUnavailable as error:
            report = f"cannot profile: {error}"
        reports.append((kernel.display(), report))
    for baseline in args.baselines:
        name = BASELINES[baseline][0]
        try:
            report = baseline_report(baseline, target.name, args.config, args.sections,
                                     args.metrics)
        except ProfileUnavailable as error:
            report = f"cannot profile: {error}"
        reports.append((name, report))
    for name, report in reports:
        print(f"\n=== {name}\n{report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
