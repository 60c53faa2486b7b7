"""Our kernels and the targets' baselines, each built once and staged on fixed inputs, as
callables that launch it: what the back-to-back readings time (sustained_clock.py,
launch_order.py, power_blocks.py, and kernel_vs_baselines.py --sustained)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from common.kernels import Kernel as SourceKernel

if TYPE_CHECKING:
    from avo_tui.evaluation.devices.device import Kernel


def our_runner(kernel: str | SourceKernel, target_name: str, config_name: str
               ) -> tuple[Callable[[], object], Kernel]:
    """A kernel of ours (a KERNEL as the scripts take it, or a parsed one) built as an
    evaluation builds it, staged once on fixed inputs."""
    import torch

    from avo_tui.evaluation import EvalRequest, get_target
    from avo_tui.evaluation.measurement.tensors import empty_outputs, make_inputs
    from avo_tui.evaluation.pipeline import Pipeline, build_kernel

    target = get_target(target_name)
    config = {c.name: c for c in (*target.configs, *target.quick_configs)}[config_name]
    source = SourceKernel.parse(kernel) if isinstance(kernel, str) else kernel
    request = EvalRequest(target.ref, source.sources(target), measure_baselines=False)
    built = build_kernel(Pipeline("cuda"), request)
    inputs = make_inputs(config, torch.Generator(device="cuda").manual_seed(0), "cuda")
    outs = empty_outputs(config, "cuda")
    built.stage(config, inputs, outs)
    return built.fire, built


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


def baseline_runners(names: list[str], target_name: str, config_name: str,
                     say: Callable[[str], object] = print) -> dict[str, Callable[[], object]]:
    """baseline_runner of each of ``names`` that can run here; each other one named to ``say``,
    and why."""
    runners: dict[str, Callable[[], object]] = {}
    for name in names:
        runner = baseline_runner(name, target_name, config_name)
        if isinstance(runner, str):
            say(f"{name}: not run: {runner}")
        else:
            runners[name] = runner
    return runners
