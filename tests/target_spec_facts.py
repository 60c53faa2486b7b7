"""Everything observable about a target's TargetSpec, as plain JSON: what the attention targets'
stored facts (tests/fixtures/attention_target_specs.json) were taken with, from the code in
which the five attention targets were entries of the evaluator, and what
test_attention_target_files.py compares the shipped target files with.

Regenerate (only where a change to an attention target is meant):
``python tests/target_spec_facts.py``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "attention_target_specs.json"
ATTENTION_TARGETS = ("cpu-attention", "mha", "gqa", "gqa-4", "mha-d64")
# Every architecture seed_for is asked about: below sm_80, each family's, and unknown ones.
ARCHS = ("sm_75", "sm_80", "sm_86", "sm_87", "sm_89", "sm_90", "sm_90a", "sm_100a", "sm_103a",
         "sm_110a", "sm_120a", "sm_121a", None)
DRAW_SEEDS = (0, 1, 2)


def _config(spec: Any, config: Any) -> dict[str, Any]:
    work = config.work
    return {
        "name": config.name,
        "as_dict": config.as_dict(),
        "dtype": config.dtype,
        "flops": work.flops,
        "bytes": work.bytes,
        "scored_work": spec.work(config),
        "scalars": config.problem.scalars(config),
        "launch_variables": config.problem.launch_variables(config),
        "shapes": {p.name: list(p.shape_on(config)) for p in config.problem.parameters
                   if p.is_tensor},
        "crosses_tiles": config.problem.crosses_tiles(config),
    }


def _seed_for(spec: Any, arch: str | None) -> Any:
    try:
        seed = spec.seed_for(arch)
    except ValueError as error:  # UnsupportedGpu
        return {"raises": type(error).__name__, "message": str(error)}
    return None if seed is None else dataclasses.asdict(seed)


def facts(spec: Any) -> dict[str, Any]:
    """The spec's every field and answer, as JSON values."""
    from avo_tui.evaluation.targets.spec import draw_edge_configs
    from avo_tui.operators.agent import instructions

    problem = spec.problem
    jump = spec.max_plausible_jump
    return {
        "name": spec.name,
        "ref": spec.ref,
        "description": spec.description,
        "toolchain": spec.toolchain,
        "device": spec.device,
        "entry": spec.entry,
        "problem": {
            "name": problem.name,
            "parameters": [[p.name, p.kind] for p in problem.parameters],
            "input_cases": list(problem.input_cases),
            "contract": dataclasses.asdict(problem.contract()),
        },
        "configs": [_config(spec, c) for c in spec.configs],
        "edge_configs": [_config(spec, c) for c in spec.edge_configs],
        "quick_configs": [_config(spec, c) for c in spec.quick_configs],
        "row_labels": [problem.row_label((1, 2, 3)), problem.row_label((0, 0, 0))],
        "drawn": {str(seed): [[c.name, c.dtype, case] for c, case in
                              draw_edge_configs(spec, random.Random(seed))]
                  for seed in DRAW_SEEDS},
        "tolerance": dataclasses.asdict(spec.tolerance),
        "tolerance_note": spec.tolerance.note(),
        "baselines": list(spec.baselines),
        "unit": spec.unit,
        "unit_scale": spec.unit_scale,
        "score_by": spec.score_by,
        "time_budget_s": spec.time_budget_s,
        "timeout_s": spec.timeout_s,
        "gate_cap_s": spec.gate_cap_s,
        "max_plausible_ratio": spec.max_plausible_ratio,
        # a CPU target's scales with the cores of the machine it is read on
        "max_plausible_jump": jump / (os.cpu_count() or 1) if spec.device == "cpu" else jump,
        "drawn_max_tiles": spec.drawn_max_tiles,
        "seeds": [dataclasses.asdict(seed) for seed in spec.seeds],
        "seed": None if spec.seed is None else dataclasses.asdict(spec.seed),
        "seed_for": {str(arch): _seed_for(spec, arch) for arch in ARCHS},
        "defines": spec.defines,
        "notes": list(spec.notes),
        "rules": instructions.rules(spec),
        "commit_review_system": instructions.commit_review_system(spec),
    }


def all_facts() -> dict[str, Any]:
    from avo_tui.evaluation import get_target

    return {name: facts(get_target(name)) for name in ATTENTION_TARGETS}


def as_json(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    FIXTURE.write_text(as_json(all_facts()))
    print(f"wrote {FIXTURE}")
