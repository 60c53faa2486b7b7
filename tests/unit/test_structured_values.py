"""A structured input (values.Structured): the harness draws each matrix of its last two
dimensions symmetric, upper or lower triangular, or diagonal, its values by the rule it
wraps, afresh for every launch; a shape that cannot hold the structure is one line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from avo_tui.evaluation import Input, Output, Structured, Target, Uniform
from avo_tui.evaluation.measurement.tensors import fill
from avo_tui.evaluation.targets.api import TargetFileError
from avo_tui.evaluation.targets.values import ValueRuleError

# Each structure, made of any tensor: a tensor has it where it is unchanged by this.
MADE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "symmetric": lambda a: a.mT, "upper": torch.triu, "lower": torch.tril,
    "diagonal": lambda a: torch.diag_embed(torch.diagonal(a, dim1=-2, dim2=-1))}


@pytest.mark.parametrize("structure", sorted(MADE))
def test_each_structure_is_drawn_afresh_with_its_values(structure: str) -> None:
    rule = Structured(structure, Uniform(2.0, 3.0))
    tensor = torch.empty(3, 5, 5)
    generator = torch.Generator().manual_seed(0)
    fill(tensor, rule, generator)
    first = tensor.clone()
    assert torch.equal(tensor, MADE[structure](tensor))
    free = tensor[tensor != 0]
    assert float(free.min()) >= 2.0 and float(free.max()) < 3.0
    fill(tensor, rule, generator)
    assert not torch.equal(first, tensor) and torch.equal(tensor, MADE[structure](tensor))
    assert not torch.equal(torch.randn(5, 5), MADE[structure](torch.randn(5, 5)))


def target(shape: tuple[int, int], structure: str) -> Target:
    return Target(name="t", description="d", kind="cpu", entry="k", dims=("n",),
                  parameters=(Input("a", lambda c: shape, values=Structured(structure)),
                              Output("out", lambda c: shape)),
                  configs=({"n": 4},), edge_configs=(), reference=lambda a: a,
                  honest=lambda a: a, bytes=lambda c: 4.0, baselines={"b": lambda a: a},
                  seed="k.c")


def test_a_shape_that_cannot_hold_its_structure_is_one_line() -> None:
    assert target((4, 6), "upper").parameters  # a triangle of any matrix
    with pytest.raises(TargetFileError) as refused:
        target((4, 6), "symmetric")
    assert str(refused.value) == ("configs[0]: a is symmetric, a matrix (or a batch of "
                                  "them), square, but shaped (4, 6)")
    with pytest.raises(TargetFileError, match="a is lower, a matrix"):
        Target(name="t", description="d", kind="cpu", entry="k", dims=("n",),
               parameters=(Input("a", lambda c: (c["n"],), values=Structured("lower")),
                           Output("out", lambda c: (c["n"],))),
               configs=({"n": 4},), edge_configs=(), reference=lambda a: a,
               honest=lambda a: a, bytes=lambda c: 4.0, baselines={"b": lambda a: a})
    with pytest.raises(ValueRuleError, match="not one of symmetric, upper, lower, diagonal"):
        Structured("banded")
