"""The honest computation's error is taken over the inputs as given and moved an ulp each way
(targets/backward.py). KernelBench level2/62 (a product, GroupNorm, LeakyReLU) under its
large_mean case: the bias's offset of 71 makes GroupNorm amplify the product's float32
rounding a hundredfold, a LeakyReLU leaves a column of five rows to one positive element, and
eight times one draw of the honest rounding there rejected the importer's own seed (the
product rounded once, statistics in double: as correct as torch) in 18 of 20 evaluations. A
GroupNorm whose variance is the float32 mean of squares less the squared mean is still
rejected on the same inputs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from test_target_dtypes import counting_problem

from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement.judge import Rejected, judge_output
from avo_tui.evaluation.measurement.tensors import make_inputs
from avo_tui.evaluation.results import ConfigResult
from avo_tui.evaluation.targets.backward import farthest, neighbours
from avo_tui.evaluation.targets.declared import configure
from avo_tui.evaluation.targets.problem import Config, InputSet, RowSample

GROUPNORM_TARGET = '''
"""out = 2 leaky_relu(group_norm(x w^T + b)), float32, on the CPU (KernelBench level2/62)."""

from avo_tui.evaluation import Input, Int, Output, Positive, Target, Uniform

WIDTH, GROUPS = 8192, 512


def forward(x, w, b, gamma, beta, **_):
    import torch

    v = torch.nn.functional.group_norm(torch.addmm(b, x, w.t()), GROUPS, gamma, beta, 1e-5)
    return 2 * torch.nn.functional.leaky_relu(v, 0.01)


def large_mean(inputs, generator):
    inputs["b"].add_(71.2)


target = Target(
    name="matmul-groupnorm",
    description="a product, GroupNorm and LeakyReLU",
    kind="cpu",
    entry="avo_matmul_groupnorm",
    dims=("rows", "k"),
    parameters=(Input("x", lambda c: (c["rows"], c["k"]), values=Uniform(0.0, 1.0)),
                Input("w", lambda c: (WIDTH, c["k"]), values=Uniform(-0.09, 0.09)),
                Input("b", lambda c: (WIDTH,), values=Uniform(-0.09, 0.09)),
                Input("gamma", lambda c: (WIDTH,), values=Positive(1.0)),
                Input("beta", lambda c: (WIDTH,)),
                Output("out", lambda c: (c["rows"], WIDTH)), Int("rows"), Int("k")),
    configs=({"rows": 16, "k": 16},),
    edge_configs=({"rows": 5, "k": 9},),
    cases={"large_mean": large_mean},
    reference=forward,
    honest=forward,
    flops=lambda c: 2 * c["rows"] * c["k"] * WIDTH,
    baselines={"torch": forward},
)
'''


def groupnorm(inputs: InputSet, one_pass: bool) -> torch.Tensor:
    """The importer's seed for the target, in torch: the product's exact sum rounded once to
    float32, the group's mean and variance in double over it (``one_pass``: the variance as
    the float32 mean of squares less the squared mean), LeakyReLU in float32."""
    x, w, b, gamma, beta = (inputs[name].double() for name in ("x", "w", "b", "gamma", "beta"))
    product = (x @ w.t() + b).float().double()
    groups = product.view(product.shape[0], 512, 16)
    mean = groups.mean(-1, keepdim=True)
    if one_pass:
        squares = groups.square().mean(-1, keepdim=True).float()
        variance = (squares - mean.float() * mean.float()).double()
    else:
        variance = (groups - mean).square().mean(-1, keepdim=True)
    normal = ((groups - mean) / (variance + 1e-5).sqrt()).view_as(product)
    out = (normal * gamma + beta).float()
    return 2 * torch.where(out > 0, out, 0.01 * out)


def judged(tmp_path: Path, one_pass: bool, draw: int) -> None:
    path = tmp_path / "matmul_groupnorm.py"
    path.write_text(GROUPNORM_TARGET)
    target = get_target(str(path))
    config: Config = target.edge_configs[0]
    inputs = make_inputs(config, torch.Generator().manual_seed(draw), "cpu", "large_mean")
    entry = ConfigResult(config, case="large_mean")
    judge_output(target.tolerance_for, inputs, groupnorm(inputs, one_pass), entry)


@pytest.mark.parametrize("draw", range(4))
def test_a_groupnorm_as_correct_as_torch_passes_its_large_mean_case(tmp_path: Path,
                                                                    draw: int) -> None:
    judged(tmp_path, one_pass=False, draw=draw)


@pytest.mark.parametrize("draw", range(2))
def test_a_one_pass_groupnorm_is_still_rejected_on_large_mean_inputs(tmp_path: Path,
                                                                     draw: int) -> None:
    with pytest.raises(Rejected, match="on large_mean inputs"):
        judged(tmp_path, one_pass=True, draw=draw)


def test_each_nonzero_float32_input_moves_one_ulp_each_way() -> None:
    given = {"x": torch.tensor([0.0, 1.0, -3.5, 71.2, torch.inf]),
             "n": torch.tensor([2, 0, -1]), "h": torch.tensor([1.5], dtype=torch.bfloat16)}
    copies = neighbours(given)
    assert len(copies) == 4
    signs = [(copy["x"] - given["x"])[1:4].sign() for copy in copies]
    for copy in copies:
        assert copy["n"] is given["n"] and copy["h"] is given["h"]
        moved = copy["x"][1:4]
        assert (moved != given["x"][1:4]).all()
        assert torch.equal(torch.nextafter(moved, given["x"][1:4]), given["x"][1:4])
        assert copy["x"][0] == 0 and copy["x"][4] == torch.inf
    # each pattern once as drawn and once reversed
    assert torch.equal(signs[0], -signs[1]) and torch.equal(signs[2], -signs[3])


def test_the_farthest_output_is_kept_elementwise_and_never_a_nonfinite_move() -> None:
    exact = torch.zeros(4, dtype=torch.float64)
    given = torch.tensor([1.0, -1.0, 1.0, 1.0], dtype=torch.float64)
    moved = [torch.tensor([2.0, 0.5, torch.nan, torch.inf], dtype=torch.float64),
             torch.tensor([-3.0, 0.0, 0.0, 0.0], dtype=torch.float64)]
    assert farthest(exact, given, moved).tolist() == [-3.0, -1.0, 1.0, 1.0]


def test_a_checked_launch_runs_the_reference_once_and_the_honest_computation_per_move(
        ) -> None:
    """judge_sample hands the exact rows it asked for over to the honest ones: a float32
    target's reference runs once per checked launch, its honest computation on the inputs as
    given and on each of the four moved copies (a bf16 one's once: test_target_dtypes.py)."""
    calls: list[str] = []
    problem = counting_problem(3, calls, "cpu", "k.c")
    config = configure(problem, {"n": 8})
    inputs = make_inputs(config, torch.Generator().manual_seed(1), "cpu")
    sample = RowSample.draw((4, 8), random.Random(1))
    numerics = problem.numerics()
    exact_rows = numerics.reference_rows(config, inputs, sample)
    honest_rows = numerics.reference_rows(config, inputs, sample, emulate=torch.float32,
                                          exact=exact_rows)
    assert calls == ["reference"] + ["honest"] * 5
    # a * 3 on the inputs as given lands anywhere within half an ulp of the exact value; of
    # each pair of moves one shifts it by 3/4 of an ulp or more, a quarter after rounding
    rounded = exact_rows.float().abs()
    ulp = (torch.nextafter(rounded, torch.full_like(rounded, torch.inf)) - rounded).double()
    assert bool(((honest_rows - exact_rows).abs() >= 0.25 * ulp).all())


@pytest.mark.parametrize("case", ["large_mean", "normal"])
def test_a_result_1_percent_off_is_rejected_where_the_bound_widened_most(tmp_path: Path,
                                                                         case: str
                                                                         ) -> None:
    """The moves widen the bound by the target's float32 sensitivity, no more: a GroupNorm
    1% off everywhere, as a kernel that skips 1% of a sum's terms would be, is rejected on
    the large_mean inputs (where the sensitivity is a hundredfold) and on the problem's own."""
    path = tmp_path / "matmul_groupnorm.py"
    path.write_text(GROUPNORM_TARGET)
    target = get_target(str(path))
    config: Config = target.edge_configs[0]
    for draw in range(3):
        inputs = make_inputs(config, torch.Generator().manual_seed(draw), "cpu", case)
        entry = ConfigResult(config, case=case)
        with pytest.raises(Rejected):
            judge_output(target.tolerance_for, inputs, 0.99 * groupnorm(inputs, False), entry)
