"""KernelBench as it is written (issue 68, item 7): a configuration's name says which size is
which where the problem's sizes end in a digit; BatchNorm in training mode, as KernelBench
builds its models, imports, and its target computes with batch statistics on read-only
inputs; an import that takes long says what it is doing on stderr and stops at a limit,
naming what was slow."""

from __future__ import annotations

from pathlib import Path

from kernelbench_problems import copy_problem

from avo_tui.evaluation import get_target
from avo_tui.kernelbench import import_problem


def test_a_size_whose_name_ends_in_a_digit_is_named_with_its_value_apart(
        tmp_path: Path) -> None:
    """dim1 = 1 beside dim2 = 11 would read dim11 and dim211: every size of such a target is
    name=value; a target of sizes that end in letters keeps its names (the sessions hold
    them)."""
    imported = import_problem(copy_problem("level1_sum_reduction", tmp_path))
    target = get_target(str(imported.target))
    names = [c.name for c in (*target.configs, *target.edge_configs)]
    assert names[1] == "batch_size=1-dim1=1-dim2=1", names
    assert all(name.count("=") == 3 for name in names)
    plain = import_problem(copy_problem("level1_softmax", tmp_path))
    assert get_target(str(plain.target)).edge_configs[0].name == "batch_size1-dim1"
