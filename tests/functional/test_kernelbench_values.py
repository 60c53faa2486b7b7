"""How an imported target draws its inputs (issue 68, items 4 and 7): as the problem makes them
(a tensor it fills positive stays positive whatever its size, its scale and mean kept, a
symmetric or triangular matrix kept so), except where the problem's own draw leaves an
operation idle (a ReLU or an abs of values in [0, 1), a cumulative product of long rows of
them): there both signs, or values near one; the problem's own draw stays one input case."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
from kernelbench_problems import (
    CONV_BN_RELU,
    RAND_CUMPROD,
    RAND_L1,
    RAND_RELU,
    SCALED,
    SHIFTED_RELU,
    SMALL_LOG,
    STRUCTURED,
    structured_problem,
)
from target_example import avo
from test_kernelbench_import import evaluate
from test_structured_values import MADE

from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement.tensors import make_inputs
from avo_tui.evaluation.targets.declared import DeclaredProblem
from avo_tui.evaluation.targets.problem import Config
from avo_tui.kernelbench import import_problem


def imported_target(tmp_path: Path, name: str, source: str) -> tuple[Path, Any]:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    imported = import_problem(path)
    return imported.target, get_target(str(imported.target))


def checks(target: Path) -> str:
    done = avo("targets", "check", target.name, cwd=target.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def drawn(config: Config, seed: int = 0, case: str = "normal") -> dict[str, torch.Tensor]:
    return make_inputs(config, torch.Generator().manual_seed(seed), "cpu", case).named


@pytest.mark.parametrize("name", ["conv_bn_relu", "small_log"])
def test_a_tensor_the_problem_fills_positive_stays_positive_whatever_its_size(
        name: str, tmp_path: Path) -> None:
    """A running variance of 32 values set to 0.5 + rand (under a square root), and 16
    values of rand + 0.1 (under a log): both drawn positive, so the reference is finite and
    the target passes check."""
    source, tensor = {"conv_bn_relu": (CONV_BN_RELU, "bn_running_var"),
                      "small_log": (SMALL_LOG, "weights")}[name]
    path, target = imported_target(tmp_path, name, source)
    text = path.read_text()
    rule = "Uniform(0.5, 1.5)" if name == "conv_bn_relu" else "Uniform(0.1, 1.1)"
    assert f'Input("{tensor}", {tensor}_shape, values={rule}),' in text
    for config in (*target.configs, *target.edge_configs):
        assert bool((drawn(config)[tensor] > 0).all())
    checks(path)


def test_inputs_keep_the_problems_scale_and_mean(tmp_path: Path) -> None:
    path, target = imported_target(tmp_path, "scaled", SCALED)
    assert 'Input("x", x_shape, values=Normal(4.0, 2.0)),' in path.read_text()
    x = drawn(target.configs[0])["x"]
    assert 3.8 < float(x.std()) < 4.2 and 1.8 < float(x.mean()) < 2.2


@pytest.mark.parametrize("structure", sorted(STRUCTURED))
def test_a_matrix_the_problem_builds_with_a_structure_keeps_it(structure: str,
                                                               tmp_path: Path) -> None:
    """A's rule is Structured: every draw of every checked shape is symmetric (or upper,
    lower triangular, or diagonal), values uniform as the problem's; B, plain, is not."""
    path, target = imported_target(tmp_path, structure, structured_problem(structure))
    assert f"values=Structured({structure!r}, Uniform(0.0, 1.0))" in path.read_text()
    made = MADE[structure]
    for config in (*target.configs, *target.edge_configs):
        if config["N"] == 1:
            continue
        for seed in range(2):
            inputs = drawn(config, seed)
            assert torch.equal(inputs["A"], made(inputs["A"])), config.name
            assert not torch.equal(inputs["B"], made(inputs["B"]))
            assert float(inputs["A"].min()) >= 0 and float(inputs["A"].max()) < 1


def test_relu_inputs_see_negative_values_and_a_copy_fails(c_compiler: None,
                                                          tmp_path: Path) -> None:
    """KernelBench's ReLU draws x from [0, 1), where a copy is a ReLU: x is drawn from
    [-1, 1), the import says why, and a seed that copies its input is rejected; the seed
    itself passes, on the drawn inputs and on the problem's own."""
    path = tmp_path / "relu.py"
    path.write_text(RAND_RELU)
    imported = import_problem(path)
    assert 'Input("x", x_shape, values=Uniform(-1.0, 1.0)),' in imported.target.read_text()
    assert any(note.startswith("x is drawn Uniform(-1.0, 1.0), not as the problem draws it "
                               "(Uniform(0.0, 1.0)): its relu sees under 5% of its values on "
                               "one side of its threshold") for note in imported.notes)
    assert imported.seed is not None
    seed = imported.seed.read_text()
    assert evaluate(imported.target, imported.seed).correct
    copy = seed.replace("fmaxf(x[idx], 0.0f)", "x[idx]")
    assert copy != seed
    wrong = evaluate(imported.target, imported.seed, copy)
    assert not wrong.correct and wrong.failure is not None
    assert wrong.failure.kind == "incorrect", wrong.failure


def test_an_l1_norms_abs_acts(tmp_path: Path) -> None:
    path, target = imported_target(tmp_path, "l1", RAND_L1)
    assert 'values=Uniform(-1.0, 1.0)' in path.read_text()
    x = drawn(target.edge_configs[-1])["x"]
    assert float(x.min()) < 0 < float(x.max())


def test_a_cumulative_product_of_long_rows_neither_collapses_nor_overflows(
        tmp_path: Path) -> None:
    """On the problem's own [0, 1) a product of 8192 terms is zero from its first few
    hundred on; the target draws values near one, so the reference's rows stay of order
    one to their ends, at the timed sizes and on the problem's own draw they do not."""
    _, target = imported_target(tmp_path, "cumprod", RAND_CUMPROD)
    config = target.configs[0]
    assert config["length"] == 8192 or config["length"] >= 1024
    numerics = config.problem.numerics()

    def zeros(case: str) -> float:
        inputs = make_inputs(config, torch.Generator().manual_seed(0), "cpu", case)
        exact, _ = numerics.references(config, inputs, torch.float32)
        assert bool(torch.isfinite(exact).all())
        return float((exact.abs() < 1e-30).double().mean())

    assert zeros("normal") == 0.0
    assert zeros("problem_draw") > 0.5


def test_the_problems_own_draw_is_an_input_case(tmp_path: Path) -> None:
    """The case problem_draw gives the inputs exactly as get_inputs() draws them (x in
    [0, 1) where the rule draws it in [-1, 1)), and the weights as the model initialises
    them, at every checked shape; check runs it."""
    path, target = imported_target(tmp_path, "relu", RAND_RELU)
    problem = target.problem
    assert isinstance(problem, DeclaredProblem)
    assert problem.input_cases == ("normal", "mirrored", "problem_draw")
    for config in target.edge_configs:
        own, rule = drawn(config, case="problem_draw")["x"], drawn(config)["x"]
        assert float(own.min()) >= 0 and float(own.max()) < 1
        assert float(rule.min()) < 0 or own.numel() < 8
    assert "with drawn, mirrored, problem_draw inputs" in checks(path)
    _, target = imported_target(tmp_path, "bn", CONV_BN_RELU)
    inputs = drawn(target.edge_configs[0], case="problem_draw")
    assert torch.equal(inputs["bn_weight"], torch.ones_like(inputs["bn_weight"]))
    assert float(inputs["bn_running_var"].min()) >= 0.5
    assert float(inputs["bn_running_var"].max()) < 1.5


def test_no_own_draw_case_where_the_sizes_cannot_be_read_off_the_inputs(
        tmp_path: Path) -> None:
    """x of [batch_size, dim1 * dim2]: a case given x cannot tell dim1 from dim2, so the
    target has none, and says so where it changed a rule."""
    source = RAND_RELU.replace("dim = 4096", "dim1 = 16\ndim2 = 32").replace(
        "torch.rand(batch_size, dim)", "torch.rand(batch_size, dim1 * dim2)")
    path, target = imported_target(tmp_path, "flat", source)
    assert target.problem.input_cases == ("normal", "mirrored")
    assert "the problem's own draw is no input case (its sizes cannot be read off its " \
        "inputs)" in " ".join(path.read_text().split())


def test_an_operation_that_acts_on_a_thin_band_is_widened_until_it_acts_on_more(
        c_compiler: None, tmp_path: Path) -> None:
    """relu(1.5 * (linear(x) - 2)): twice as wide, a value in a thousand is above zero, and
    such rows are differences of near-equal values that float32 keeps to a few digits; x is
    widened until the ReLU sees 5% of its values on each side, and the seed then passes
    check on every draw."""
    path, target = imported_target(tmp_path, "shifted_relu", SHIFTED_RELU)
    rule = re.search(r'Input\("x", x_shape, values=Uniform\(-([\d.]+), ([\d.]+)\)\)',
                     path.read_text())
    assert rule is not None and float(rule.group(2)) >= 4.0
    out = target.configs[0].problem.numerics().references(
        target.configs[0], make_inputs(target.configs[0], torch.Generator().manual_seed(0),
                                       "cpu"), torch.float32)[0]
    assert 0.05 <= float((out > 0).double().mean()) <= 0.95
    assert "  ok  seed shifted_relu_seed.c: PASS " in checks(path)
