"""Whether the backward targets' tolerance accepts the libraries everyone trusts: each baseline
of mha-bwd and gqa-bwd (cuDNN's and FlashAttention-2's backward through SDPA) judged alone, as
a kernel's outputs are, on every configuration of a group under every input case. `avo
targets check` stops at the first baseline that disagrees; this goes on, so a census shows
which cases reject which library, by how much and on how many rows. Needs a CUDA GPU: on a
CPU the SDPA baselines are not run, and each line says so.

    python3 benchmarks/bwd_tolerance_census.py --groups quick,edge --baselines flash,cudnn
    python3 benchmarks/bwd_tolerance_census.py --groups drawn --seconds 120

One line per (group, baseline, configuration, case): `ok` with the worst error over its bound
(1.0 is the bound), or the check's own one-line refusal.
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement import target_check
from avo_tui.evaluation.targets.api import TargetFileError
from avo_tui.evaluation.targets.problem import Config
from avo_tui.evaluation.targets.spec import TargetSpec, draw_edge_configs

GROUPS = ("quick", "edge", "drawn", "full")


def configurations(spec: TargetSpec, group: str) -> list[tuple[Config, tuple[str, ...]]]:
    """A group's configurations, each with the input cases it is judged on: every case, or
    for drawn ones the case drawn with it (three evaluations' draws)."""
    every = spec.problem.input_cases
    if group == "drawn":
        return [(config, (case,)) for seed in range(3)
                for config, case in draw_edge_configs(spec, random.Random(seed))]
    configs = {"quick": spec.quick_configs, "edge": spec.edge_configs, "full": spec.configs}
    return [(config, every) for config in configs[group]]


def judge_alone(spec: TargetSpec, config: Config, case: str, index: int, baseline: str,
                device: str) -> str:
    """``baseline`` alone (and the honest computation) judged on one configuration and case,
    the inputs drawn as `avo targets check` draws the index-th configuration's."""
    agreement = target_check.Agreement(cases=(case,))
    numerics = spec.problem.numerics()
    for name in spec.baselines:
        why = numerics.baseline_missing(name) if name in numerics.baselines else "not built in"
        if why or name != baseline:
            agreement.missing[name] = why or "judged in its own pass"
    generator = torch.Generator(device=device).manual_seed(index)
    try:
        # the check's own case, so that the census judges exactly as `avo targets check` does
        target_check._check_case(spec, config, case, generator, device, agreement)
    except TargetFileError as refusal:
        return f"FAIL {refusal}"
    if baseline in agreement.missing:
        return f"not run: {agreement.missing[baseline]}"
    if agreement.declined:
        return f"declined: {agreement.declined}"
    return f"ok {agreement.worst.get(f'baseline {baseline}', 0.0):.3f} of its bound"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="mha-bwd,gqa-bwd")
    parser.add_argument("--baselines", default="flash,cudnn")
    parser.add_argument("--groups", default="quick,edge",
                        help=f"comma-separated, of {', '.join(GROUPS)}")
    parser.add_argument("--seconds", type=float, default=600.0,
                        help="stop (saying so) after this long")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    groups = args.groups.split(",")
    if unknown := set(groups) - set(GROUPS):
        parser.error(f"unknown group(s) {', '.join(sorted(unknown))}; of {', '.join(GROUPS)}")
    end = time.monotonic() + args.seconds
    for target in args.targets.split(","):
        spec = get_target(target)
        print(f"== {target}", flush=True)
        for group in groups:
            for index, (config, cases) in enumerate(configurations(spec, group)):
                for case in cases:
                    for baseline in args.baselines.split(","):
                        if time.monotonic() > end:
                            print(f"stopped after {args.seconds:g} s")
                            return 0
                        verdict = judge_alone(spec, config, case, index, baseline, args.device)
                        print(f"{group:5} {baseline:6} {config.name:30} {case:10} {verdict}",
                              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
