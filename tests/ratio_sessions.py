"""Real sessions on mha whose run keeps the timings of several baselines, as the evaluator
stores them ({host key: {configuration: {baseline: timing}}}): what every place that shows a
ratio to the strongest baseline (views/ratios.py) is tested on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avo_tui.engine.evaluator import host_key
from avo_tui.evaluation import get_target
from avo_tui.evaluation.results import Timing
from avo_tui.store import Score, Session

TARGET = get_target("mha")
CONFIGS = [c.name for c in TARGET.configs]
CAUSAL = [name for name in CONFIGS if name.endswith("causal")]
HOST = {"device": "cuda", "gpu": "NVIDIA H200", "uuid": "GPU-8e5c1a2b", "driver": "570.86",
        "torch": "2.9.1", "cudnn": "91002"}
CUDNN, FLASH, FA4, FA3 = 500.0, 430.0, 560.0, 620.0  # TFLOP/s on every configuration
SEED, BETTER = 565.0, 600.0  # the versions' throughput on every configuration
# FA3 on the causal half only, and faster there: the strongest differs by configuration
MIXED = (BETTER / FA4 * BETTER / FA3) ** 0.5


def score(value: float) -> Score:
    return Score(value, dict.fromkeys(CONFIGS, value), ratio=value / CUDNN, baseline="cudnn",
                 unit="TFLOP/s")


def timings(**per_config: dict[str, float]) -> dict[str, Any]:
    """The run state's baselines, as the evaluator keeps them, from {baseline:
    {configuration: throughput}}."""
    flops = {c.name: TARGET.work(c) for c in TARGET.configs}
    stored: dict[str, dict[str, Any]] = {}
    for name, values in per_config.items():
        for config, value in values.items():
            median = flops[config] / (value * TARGET.unit_scale)
            stored.setdefault(config, {})[name] = Timing(median, 0.4, 24, median).as_dict()
    return {host_key(HOST): stored}


def everywhere(value: float) -> dict[str, float]:
    return dict.fromkeys(CONFIGS, value)


# The baselines a run has timed, as it times more of them.
CUDNN_ALONE = timings(cudnn=everywhere(CUDNN))
FA4_LEADS = timings(cudnn=everywhere(CUDNN), flash=everywhere(FLASH), fa4=everywhere(FA4))
BEST_DIFFERS = timings(cudnn=everywhere(CUDNN), fa4=everywhere(FA4),
                       fa3=dict.fromkeys(CAUSAL, FA3))


def mha_session(directory: Path, baselines: dict[str, Any]) -> Path:
    """v0 (the seed, 565 TFLOP/s) and v1 (600, the head and best), the run's stored
    ``baselines`` those of timings()."""
    files = {"attention_wgmma.cu": "// the seed\n"}
    with Session.create(directory, target="mha", operator="agent", seed_files=files,
                        score=score(SEED), host=HOST) as session:
        session.commit({"attention_wgmma.cu": "// BLOCK_N 176\n"}, author="agent",
                       message="BLOCK_N 176", score=score(BETTER))
        session.set_state(announce=False, baselines=baselines)
    return directory
