#!/usr/bin/env python3
"""How much of a kernel's launch fits on the GPU at once, per configuration: blocks per SM
and, for a launch in clusters, the clusters resident at once (cudaOccupancyMaxActiveClusters)
beside the clusters of its grid. A persistent kernel whose grid holds more clusters than fit
runs a second wave that waits for a whole share of the first (issue 70, item 3: rung 3a's
2-CTA clusters were 0.71x the seed).

    python3 benchmarks/cluster_residency.py --target gqa-4 --knobs MULTICAST=1,PERSISTENT=1

Needs a CUDA GPU.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import common  # noqa: F401  (avo_tui and tests/ on sys.path)

if TYPE_CHECKING:
    from avo_tui.evaluation.devices.gpu import CudaDevice, CudaKernel


def loaded_seed(target_name: str, knobs: dict[str, str]) -> tuple[CudaKernel, CudaDevice]:
    """The target's seed, ``knobs`` applied, compiled and loaded on this machine's GPU as the
    evaluator loads a candidate; and that GPU."""
    from avo_tui.engine.launch import seed_files
    from avo_tui.evaluation.declarations.candidate import apply_knobs
    from avo_tui.evaluation.devices.gpu import CudaDevice, CudaKernel
    from avo_tui.evaluation.pipeline import Evaluation, Pipeline
    from avo_tui.evaluation.results import EvalRequest
    from avo_tui.evaluation.targets.file import get_target

    target = get_target(target_name)
    sources = apply_knobs(seed_files(target), knobs)
    pipeline = Pipeline(target.device)
    evaluation = Evaluation(pipeline, EvalRequest(target.ref, sources, seed=0),
                            lambda phase, detail: None)
    kernel = evaluation.load(evaluation.compile(sources), evaluation.declarations(sources), [])
    assert isinstance(kernel, CudaKernel) and isinstance(pipeline.device, CudaDevice)
    return kernel, pipeline.device


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="gqa-4", help="a GPU target (default gqa-4)")
    parser.add_argument("--knobs", default="",
                        help="NAME=VALUE,... applied to the target's seed")
    args = parser.parse_args(argv)

    from avo_tui.evaluation.devices.residency import residency
    from avo_tui.evaluation.targets.file import get_target

    target = get_target(args.target)
    if target.device != "cuda":
        parser.error("cluster_residency.py reads a GPU target")
    import torch

    if not torch.cuda.is_available():
        parser.error("cluster_residency.py needs a CUDA GPU; torch sees none here")
    knobs = dict(item.split("=", 1) for item in args.knobs.split(",") if item)
    kernel, device = loaded_seed(target.name, knobs)
    print(f"{target.name} {args.knobs or '(the seed)'} on {device.num_sms} SMs")
    print(f"{'config':<34} {'blocks':>7} {'per SM':>6} {'clusters':>8} {'resident':>8}")
    for config in target.configs:
        fits = residency(kernel, config)
        print(f"{config.name:<34} {fits['blocks']:>7} {fits['blocks_per_sm']:>6} "
              f"{fits.get('clusters', '-'):>8} {fits.get('clusters_resident', '-'):>8}")
    kernel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
