"""The skeleton a step that writes v0 starts from (issue 56, operators/agent/first_version.py):
for every shipped target, of either kind, one file named after the target in its kind's
language, holding the entry point with the target's parameters in order, which the target's
real toolchain compiles (NVRTC needs no GPU). It is a starting point, never a seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.evaluation import TargetSpec, get_target
from avo_tui.evaluation.targets import known_names
from avo_tui.evaluation.toolchains import CompileCache, get_toolchain
from avo_tui.evaluation.toolchains.base import define_options
from avo_tui.operators.agent.first_version import skeleton

TARGETS = [get_target(name) for name in known_names()]
SUFFIX = {"cpu": ".c", "cuda": ".cu"}


@pytest.mark.usefixtures("c_compiler")
@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_the_skeleton_is_the_entry_point_and_compiles(target: TargetSpec, tmp_path: Path) -> None:
    [(name, text)] = skeleton(target).items()
    assert name == target.name.replace("-", "_") + SUFFIX[target.device]
    signature = text[text.index(f"void {target.entry}("):]
    names = [p.name for p in target.problem.parameters]
    declared = [piece.split()[-1].lstrip("*") for piece in
                signature[signature.index("(") + 1:signature.index(")")].split(", ")]
    assert declared == names
    assert signature.rstrip().endswith("{\n}")  # nothing written: the agent writes v0
    toolchain = get_toolchain(target.toolchain, CompileCache(tmp_path / "cache"))
    compiled = toolchain.compile({name: text}, define_options(target.defines))
    assert compiled.ok, compiled.log
