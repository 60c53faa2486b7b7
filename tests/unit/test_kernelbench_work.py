"""The work of an imported problem is measured, not guessed (issue 68, item 6): the FLOPs a
target file states are torch's FLOP counter's, at sizes other than those they were fitted at,
for a transposed convolution, a convolution before a pooling, a batched product and attention
written out; the timed shape is sized by them; and a product bound by its memory (a
matrix-vector product) is scored in GB/s."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from kernelbench_problems import (
    ATTENTION,
    BMM,
    CONV_POOL,
    CONV_TRANSPOSE,
    HALVING_STAGES,
    MATVEC,
    STAGES,
)
from torch.utils.flop_counter import FlopCounterMode

from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement.tensors import make_inputs
from avo_tui.evaluation.targets.declared import DeclaredProblem
from avo_tui.evaluation.targets.problem import Config
from avo_tui.kernelbench import import_problem
from avo_tui.kernelbench.problem.flop_fit import Polynomial
from avo_tui.kernelbench.problem.size_expr import SizeExpr
from avo_tui.kernelbench.target.configs import FIRST_DRAFT_RATES, TIMED_S

PROBLEMS = {"conv_transpose": CONV_TRANSPOSE, "conv_pool": CONV_POOL, "bmm": BMM,
            "attention": ATTENTION}


def target_module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"target_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def counted(module: Any, config: Config) -> int:
    """torch's FLOP counter on the target file's own forward at ``config``, on inputs the
    harness draws."""
    inputs = make_inputs(config, torch.Generator().manual_seed(0), "cpu")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module.forward(torch.float32, {**inputs.named, **dict(config.dims)})
    return int(counter.get_total_flops())


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_the_stated_flops_are_torchs_count_at_other_sizes(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.py"
    path.write_text(PROBLEMS[name])
    imported = import_problem(path)
    target = get_target(str(imported.target))
    assert target.unit == "GFLOP/s" and target.score_by == "flops"
    problem = target.problem
    assert isinstance(problem, DeclaredProblem)
    drawn = [config for seed in range(3) for config, _ in
             problem.draw_configs(target.edge_configs, 2, random.Random(seed))]
    configs = [*target.edge_configs, *drawn]
    assert len({c.name for c in configs}) >= 5
    module = target_module(imported.target)
    for config in configs:
        assert config.work.flops == counted(module, config), config.name
    # the timed shape is sized for a launch the file states: the seed's own estimate where
    # the importer writes one, or the FLOPs at a first draft's rate
    timed = target.configs[0]
    assert config.work.flops is not None and timed.work.flops is not None
    seconds = (imported.launch_s if imported.seed is not None
               else timed.work.flops / FIRST_DRAFT_RATES["flops"])
    assert seconds is not None and TIMED_S[0] / 2 <= seconds <= TIMED_S[1], (timed.name,
                                                                             seconds)


def test_a_matrix_vector_product_is_scored_by_the_bytes_it_moves(tmp_path: Path) -> None:
    """2 FLOPs for each 4-byte element of A read once: bound by memory, so GB/s; its FLOPs
    are still stated, and its timed shape is sized by the bytes (the slower of the two)."""
    path = tmp_path / "matvec.py"
    path.write_text(MATVEC)
    imported = import_problem(path)
    target = get_target(str(imported.target))
    assert target.unit == "GB/s" and target.score_by == "bytes"
    timed = target.configs[0]
    m, k = timed["M"], timed["K"]
    assert timed.work.flops == 2 * m * k
    assert timed.work.bytes == 4 * (m * k + k + m)
    assert "bound by its memory" in imported.target.read_text()


def test_stages_a_stride_floors_inside_are_counted_exactly(tmp_path: Path) -> None:
    """conv, pool, conv: the second convolution's FLOPs follow height // 2, which no input or
    output shows, so a polynomial of height fits only along steps of the pooling's stride;
    torch's formula of each convolution's recorded sizes, summed, is the count at every size,
    one of 3 rows too."""
    path = tmp_path / "stages.py"
    path.write_text(STAGES)
    imported = import_problem(path)
    target = get_target(str(imported.target))
    assert target.score_by == "flops"
    timed = target.configs[0]
    module = target_module(imported.target)
    for moves in ((0, 0), (1, 0), (0, 1), (1, 3), (5, 2), (-3, -7)):
        config = timed.with_dims(height=timed["height"] + moves[0],
                                 width=timed["width"] + moves[1])
        assert config.work.flops == counted(module, config), config.name
    assert config.with_dims(height=3).work.flops == counted(module, config.with_dims(height=3))
    assert '(c["height"] // 2)' in imported.target.read_text()


def test_halving_stages_are_counted_exactly_where_no_polynomial_fits(tmp_path: Path) -> None:
    """A ResNet in little (a stem, a pooling and three convolutions of stride 2): its FLOPs are
    a sum of terms floored by 2, 8, 16 and 32, which no polynomial of height and width fits
    within a tenth (it was scored in GB/s); torch's formula of each call's recorded sizes,
    summed, is its count at sizes across every floor, and it is scored in FLOP/s."""
    path = tmp_path / "halving.py"
    path.write_text(HALVING_STAGES)
    imported = import_problem(path, seeded=False)
    target = get_target(str(imported.target))
    assert target.score_by == "flops" and target.unit == "GFLOP/s"
    module = target_module(imported.target)
    for height, width in ((128, 96), (129, 97), (97, 33), (130, 75), (223, 161), (9, 250)):
        config = target.configs[0].with_dims(height=height, width=width, num_classes=13)
        assert config.work.flops == counted(module, config), config.name
    assert '((c["height"] + 31) // 32)' in imported.target.read_text()


def test_sums_of_products_of_sizes_collect_like_terms() -> None:
    """torch's formulas multiply and add a call's sizes; like terms are one, so two sums of
    the same sizes are equal (bmm's formula checks its operands' K agree) and a constant
    size is its number."""
    height, half = SizeExpr.of("height"), SizeExpr((("height", 1),), 1, 2)
    summed = Polynomial.of(height) * Polynomial.of(half) * 2 + 3 * Polynomial.of(half) \
        * Polynomial.of(height)
    assert summed == 5 * Polynomial.of(height) * Polynomial.of(half)
    assert summed.value({"height": 7}) == 5 * 7 * 4
    assert summed.render(str) == "5 * height * ((height + 1) // 2)"
    assert (Polynomial.of(SizeExpr.constant(4)) * Polynomial.of(height)).render(str) == \
        "4 * height"
    assert summed + (-5) * Polynomial.of(half) * Polynomial.of(height) == Polynomial(())
