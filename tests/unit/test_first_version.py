"""The skeleton a step that writes v0 starts from (issue 56, operators/agent/first_version.py):
for every shipped target, of either kind, and the docs' example with integer and bool tensors
on either kind, one file named after the target in its kind's language, holding the entry
point with the target's parameters in order, which the target's real toolchain compiles
(NVRTC needs no GPU). It is a starting point, never a seed."""

from __future__ import annotations

from pathlib import Path

import pytest
from target_example import write_example

from avo_tui.evaluation import TargetSpec, get_target
from avo_tui.evaluation.targets.spec import known_names
from avo_tui.evaluation.toolchains import CompileCache, get_toolchain
from avo_tui.evaluation.toolchains.base import define_options
from avo_tui.operators.agent.first_version import skeleton

TARGETS = [get_target(name) for name in known_names()]
SUFFIX = {"cpu": ".c", "cuda": ".cu"}
INTEGERS = [('Input("x", rows_cols)', 'Input("x", rows_cols, dtype="int8")'),
            ('Input("r", rows_cols)', 'Input("r", rows_cols, dtype="bool")'),
            ('Output("out", rows_cols)', 'Output("out", rows_cols, dtype="int64")')]


def integer_example(folder: Path, kind: str) -> TargetSpec:
    """The docs' example with no seed, of ``kind``, its tensors int8, bool and int64."""
    edits = [('    seed="scaled_residual.c",\n', ""), ('kind="cpu"', f'kind="{kind}"'), *INTEGERS]
    return get_target(str(write_example(folder, edits).resolve()))


@pytest.mark.usefixtures("c_compiler")
@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_the_skeleton_is_the_entry_point_and_compiles(target: TargetSpec, tmp_path: Path) -> None:
    compiles(target, tmp_path)


@pytest.mark.usefixtures("c_compiler")
@pytest.mark.parametrize("kind", ["cpu", "cuda"])
def test_integer_and_bool_tensors_are_declared_in_a_skeleton_that_compiles(
    kind: str, tmp_path: Path,
) -> None:
    target = integer_example(tmp_path / "target", kind)
    text = compiles(target, tmp_path)
    assert "const int8_t *x, const bool *r, int64_t *out" in text if kind == "cpu" else \
        "const signed char *x, const bool *r, long long *out" in text


def compiles(target: TargetSpec, tmp_path: Path) -> str:
    """The target's skeleton, checked to be its entry point, empty, compiled; its text."""
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
    return text
