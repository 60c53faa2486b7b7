"""One bar, said the same everywhere (issue 54): the system prompt and the brief of every
shipped target, with and without FA3/FA4, on the full grid and the quick one, agree on the bar,
the grid and the measured numbers; a CPU target is never told of GPUs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import cast

import pytest
from agent_context import StandIn

from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import TargetSpec, get_target
from avo_tui.evaluation.targets.spec import shipped_names
from avo_tui.knowledge import KnowledgeBase, default_folders
from avo_tui.operators.agent import brief, instructions, stronger
from avo_tui.operators.agent.tool_schemas import schemas_for
from avo_tui.operators.protocol import StepContext
from avo_tui.store import Score, Session
from avo_tui.store.view import SessionView

REPO = Path(__file__).resolve().parents[2]
KNOWLEDGE = KnowledgeBase(default_folders())
FA = ("fa3", "fa4")
# What a run measured: nothing yet, its first baseline alone, everything but FA3 and FA4 (not
# installed), and every baseline the target lists.
INSTALLED = ("nothing", "first", "without-fa", "all")
GPU_WORDS = ("GPU", "Hopper", "Blackwell", "registers and spills", "profile", "SASS", "warp",
             "tensor map", "shared memory")


def measured(target: TargetSpec, which: str, quick: bool) -> dict[str, dict[str, float]]:
    names = {"nothing": (), "first": target.baselines[:1], "all": target.baselines,
             "without-fa": tuple(n for n in target.baselines if n not in FA)}[which]
    # The last listed is the strongest (FA3 on the attention targets), each a little apart.
    return {c.name: {n: 100.0 + 10 * i for i, n in enumerate(names)}
            for c in target.grid(quick)} if names else {}


def rendered(tmp_path: Path, name: str, which: str, quick: bool,
             capability: str = "9.0") -> tuple[str, str, dict[str, dict[str, float]]]:
    target = get_target(name)
    bars = measured(target, which, quick)
    per_config = {c.name: 105.0 for c in target.grid(quick)}
    first = target.baselines[0] if target.baselines else ""
    with Session.create(tmp_path / f"{name}-{which}-{quick}-{capability}", target=target.ref,
                        operator="agent", seed_files=seed_files(target), sync=False) as session:
        session.commit(session.read_files("v0"), author="agent", message="faster",
                       score=Score(105.0, per_config, ratio=1.05, baseline=first))
        facts: dict[str, object] = ({"compute_capability": capability}
                                    if target.device == "cuda" else {})
        ctx = cast(StepContext, StandIn(SessionView(session), target=target, bars=bars,
                                        facts=facts, quick=quick))
        return (instructions.system_prompt(ctx, KNOWLEDGE),
                brief.step_brief(ctx, hints=[], directions=None), bars)


@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
@pytest.mark.parametrize("which", INSTALLED)
def test_every_target_is_told_one_bar_and_the_grid_it_is_timed_on(
        tmp_path: Path, which: str, quick: bool) -> None:
    for name in shipped_names():
        target = get_target(name)
        system, text, bars = rendered(tmp_path, name, which, quick)
        where = f"{name}, {which}, {'quick' if quick else 'full'}"
        # The system prompt never says the bar is not a baseline the brief may name.
        for baseline in target.baselines:
            assert f"not {baseline}" not in system, where
        assert "strongest baseline measured in this run" in system or (
            f"its one baseline, {target.baselines[0]}" in system), where
        # The brief names the strongest baseline measured, the one the system prompt allows.
        named = re.search(r"the strongest baseline \(([\w-]+) on", text)
        if bars:
            assert named, where
            strongest = max(next(iter(bars.values())).items(), key=lambda kv: kv[1])[0]
            assert named.group(1) == strongest and strongest in system, where
        else:
            assert not named, where
        # The grid in the prompt is the grid being timed, and only it.
        grid = re.search(r"Timed grid: (.*?)(?: \(the quick grid|\.\n)", system)
        assert grid, where
        assert grid.group(1).split(", ") == [c.name for c in target.grid(quick)], where
        # A stronger baseline known but not installed is said, with its figure and source.
        expected = stronger.missing(name, target.baselines, {n for t in bars.values() for n in t},
                                    {"compute_capability": "9.0"})
        assert bool(expected) == (which in ("first", "without-fa")
                                  and any(k.target == name for k in stronger.KNOWN)), where
        for known in expected:
            assert known.sentence() in text, where
            assert "benchmarks/RESULTS.md" in known.sentence()
        if not expected:
            assert "Not installed here" not in text, where
        if target.device == "cpu":
            # What the target file says of itself ("runs without a GPU") is its own.
            said = (system.replace(" ".join(target.notes), "") + text
                    + instructions.review_system(target) + json.dumps(schemas_for("cpu")))
            for word in GPU_WORDS:
                assert word not in said, (where, word)


def test_a_gpu_that_cannot_run_fa3_or_fa4_is_not_told_of_them(tmp_path: Path) -> None:
    _, on_ampere, _ = rendered(tmp_path, "mha", "without-fa", False, capability="8.0")
    assert "Not installed here" not in on_ampere
    _, on_blackwell, _ = rendered(tmp_path, "mha", "without-fa", False, capability="10.0")
    assert "fa4: the seed measured" in on_blackwell and "fa3:" not in on_blackwell


def test_the_supervisor_is_told_of_gpus_and_profiles_on_a_gpu_target() -> None:
    assert "GPU kernels" in instructions.review_system(get_target("mha"))
    assert "latest profile" in instructions.review_system(get_target("mha"))
    assert "Hopper/Blackwell" in json.dumps(schemas_for("cuda"))


def results_column(section: str, column: str, row: str) -> str:
    """The cell of ``row`` under ``column`` in the first table of RESULTS.md's ``section``."""
    text = (REPO / stronger.RESULTS).read_text()
    body = text[text.index(f"## {section}"):]
    body = body[:body.index("\n## ", 1)]
    lines = [line for line in body.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        cells = [cell.strip().strip("*") for cell in line.strip("|").split("|")]
        if cells[0] == row:
            return cells[header.index(column)]
    raise AssertionError(f"{row} not in {section}")


def test_each_known_figure_is_the_one_results_md_records() -> None:
    for known in stronger.KNOWN:
        assert results_column(known.section, known.column, known.target) == \
            f"{known.ratio:.3f}", known
