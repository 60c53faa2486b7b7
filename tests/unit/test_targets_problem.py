"""A problem that is not attention runs through the real evaluator: the seam (problem.py) holds.

The problem here is an elementwise vector add, out = a + b, with a C kernel on the CPU target
kind. It is defined in this file alone, as a target file will define one: parameters, names,
work, draws, hostile inputs, references and a baseline. The evaluation is the real one, in
this process (the worker knows only the built-in targets): the system C compiler, the confined
runner process, correctness on every configuration and the drawn ones, timing beside the
baseline or the incumbent, checked timed launches.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping

import pytest
import torch

from avo_tui.evaluation import EvalRequest, EvalResult
from avo_tui.evaluation.measurement.blocks import CHECK_CHANCE, check_chance
from avo_tui.evaluation.measurement.checks import Check, never_twice_in_a_row
from avo_tui.evaluation.paired import MIN_CHECKED, MIN_SWEEPS, GatePlan
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.targets.problem import (
    BaselineCall,
    Config,
    Contract,
    InputSet,
    Numerics,
    Param,
    RowSample,
    Work,
    on_inputs,
)
from avo_tui.evaluation.targets.spec import FP32_TOLERANCE, IN_PROCESS, TargetSpec
from avo_tui.evaluation.toolchains.c import CToolchain

TILE = 64  # the kernels below work 64 elements at a time


def vector(n: int) -> Config:
    return Config(VECTOR_ADD, (("n", n),))


def _elements(config: Config) -> tuple[int, ...]:
    return (int(config["n"]),)


class VectorAdd:
    """out[i] = a[i] + b[i], float32."""

    name = "vector_add"
    parameters = (
        Param("a", "input", _elements),
        Param("b", "input", _elements),
        Param("out", "output", _elements),
        Param("n", "int"),
    )
    input_cases = ("normal", "huge")

    def check(self, config: Config) -> None:
        if [name for name, _ in config.dims] != ["n"] or int(config["n"]) < 1:
            raise ValueError(f"a vector add has one positive dimension n: {config.dims}")

    def config_name(self, config: Config) -> str:
        return f"n{config['n']}"

    def work(self, config: Config) -> Work:
        return Work(flops=float(config["n"]))

    def scalars(self, config: Config) -> dict[str, int | float]:
        return {"n": int(config["n"])}

    def launch_variables(self, config: Config) -> dict[str, object]:
        return {"N": int(config["n"])}

    def draw_configs(self, edges: tuple[Config, ...], size: int, rng: random.Random
                     ) -> list[tuple[Config, str]]:
        return [(vector(rng.randint(1, size * TILE)), case) for case in self.input_cases]

    def crosses_tiles(self, config: Config) -> bool:
        return int(config["n"]) > TILE

    def row_label(self, position: tuple[int, ...], output: str | None = None) -> str:
        return f"element {position[0]}"

    def numerics(self) -> Numerics:
        return NUMERICS

    def contract(self) -> Contract:
        return Contract(entry="avo_vector_add(a, b, out, n)", exact="every element added",
                        rows="Each element", drawn="none", work="n FLOPs",
                        precision={"float32": "float32"})


def torch_add(config: Config) -> BaselineCall:
    return on_inputs(lambda inputs: inputs["a"] + inputs["b"])


class VectorAddNumerics:
    baselines: Mapping[str, Callable[[Config], BaselineCall]] = {"torch-add": torch_add}

    def shape_case(self, config: Config, inputs: InputSet, generator: torch.Generator,
                   case: str) -> None:
        assert case == "huge", case
        inputs["a"].mul_(1e30)

    def references(self, config: Config, inputs: InputSet, emulate: torch.dtype,
                   output: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = inputs["a"], inputs["b"]
        return a.double() + b.double(), (a.to(emulate) + b.to(emulate)).double()

    def reference_rows(self, config: Config, inputs: InputSet, sample: RowSample,
                       emulate: torch.dtype | None = None, output: str | None = None,
                       exact: torch.Tensor | None = None) -> torch.Tensor:
        exact, honest = self.references(config, inputs, emulate or torch.float64)
        return sample.gather(honest if emulate is not None else exact)

    def baseline_missing(self, name: str) -> str | None:
        return None


VECTOR_ADD = VectorAdd()
NUMERICS = VectorAddNumerics()
SPEC = TargetSpec(
    name="vector-add",
    description="out = a + b, float32 (a test of the seam)",
    toolchain="c",
    device="cpu",
    problem=VECTOR_ADD,
    entry="avo_vector_add",
    # Launches of a millisecond or more: on a shared two-core machine, shorter ones vary too
    # much from launch to launch for the checked launches' rule (checks.check_consistent).
    configs=(vector(1_000_000), vector(2_000_000)),
    edge_configs=(vector(1), vector(37), vector(65)),
    quick_configs=(vector(1_500_000),),
    tolerance=FP32_TOLERANCE,
    baselines=("torch-add",),
    unit="GFLOP/s",
    time_budget_s=0.05,
    timeout_s=30.0,
    gate_cap_s=5.0,
    max_plausible_ratio=20.0,
)

HONEST = """
void avo_vector_add(const float *a, const float *b, float *out, int n) {
    for (int i = 0; i < n; ++i) {
        out[i] = a[i] + b[i];
    }
}
"""
# Another honest kernel: the incumbent the candidate is timed beside.
TILED = """
#define TILE 64  // avo:knob 16 64
void avo_vector_add(const float *a, const float *b, float *out, int n) {
    for (int start = 0; start < n; start += TILE)
        for (int i = start; i < n && i < start + TILE; ++i)
            out[i] = a[i] + b[i];
}
"""
DROPS_LAST = HONEST.replace("i < n;", "i < n - 1;")
WRITES_B = HONEST.replace("out[i] = a[i] + b[i];", "out[i] = a[i] + b[i]; ((float *)b)[i] = 0;")


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    try:
        CToolchain().version()
    except Exception as error:  # no C compiler on this machine
        pytest.skip(str(error))
    IN_PROCESS["vector-add"] = SPEC
    try:
        yield Pipeline("cpu")
    finally:
        del IN_PROCESS["vector-add"]


def evaluate(pipeline: Pipeline, source: str, **options: object) -> EvalResult:
    request = EvalRequest("vector-add", {"add.c": source}, seed=7)
    for key, value in options.items():
        setattr(request, key, value)
    return Evaluation(pipeline, request, lambda phase, detail: None).run()


def test_the_problem_names_and_counts_its_configurations() -> None:
    assert [c.name for c in SPEC.configs] == ["n1000000", "n2000000"]
    assert vector(5).as_dict() == {"n": 5, "dtype": "float32"}
    assert vector(5).work == Work(flops=5.0) and SPEC.work(vector(5)) == 5.0
    with pytest.raises(ValueError, match="one positive dimension"):
        vector(0)


def test_the_correctness_pass_never_launches_one_shape_twice_in_a_row() -> None:
    """One timed shape under three hostile cases, two edges between: each case's launch of the
    timed shape has an edge before it, where one is left; only the last can follow itself."""
    timed, edges = vector(1000), [vector(1), vector(37)]
    todo = [Check(timed, False, "normal")] + [Check(timed, True, case) for case in "abc"]
    todo += [Check(edge, True, "normal") for edge in edges]
    order = [(check.config.as_dict()["n"], check.case) for check in never_twice_in_a_row(todo)]
    assert order == [(1000, "normal"), (1, "normal"), (1000, "a"), (37, "normal"), (1000, "b"),
                     (1000, "c")]


def test_an_honest_kernel_is_checked_and_timed_beside_the_baseline(pipeline: Pipeline) -> None:
    result = evaluate(pipeline, HONEST, quick=False)
    assert result.correct, result.failure
    checked = [(c.name, c.case) for c in result.configs]
    assert checked[:7] == [("n1000000", "normal"), ("n2000000", "normal"),
                           ("n1000000", "huge"), ("n2000000", "huge"),  # timed, hostile
                           ("n1", "normal"), ("n37", "normal"), ("n65", "normal")]
    assert {c.case for c in result.configs[7:]} == {"normal", "huge"}  # drawn, one per case
    assert all(c.passed for c in result.configs)
    for entry in result.timed:
        assert entry.throughput > 0 and entry.verified > 0
        assert entry.baselines["torch-add"] > 0 and entry.ratio is not None
    assert result.geomean > 0 and result.ratio is not None


def test_an_honest_kernel_is_timed_beside_the_incumbent(pipeline: Pipeline) -> None:
    result = evaluate(pipeline, HONEST, quick=True, measure_baselines=False,
                      incumbent={"add.c": TILED})
    assert result.correct, result.failure
    assert not result.same_as_incumbent and result.incumbent_gain is not None
    assert result.beside["sweeps"] and result.timed[0].incumbent_timing is not None


def test_a_gate_on_one_configuration_has_its_checks_by_its_first_look(
    pipeline: Pipeline,
) -> None:
    """A gate that accepts at any gain (a floor of -100 in log) decides at its first look, three
    sweeps, when the candidate's checked launches reach MIN_CHECKED by then. On one timed
    configuration the candidate's launches are checked more often to see to that
    (blocks.check_chance): at the usual half a check a block it would have 2.5
    checks by then, and waited until 12 sweeps."""
    plan = GatePlan(cap_s=60.0, floor=-100.0)
    result = evaluate(pipeline, HONEST, quick=True, measure_baselines=False,
                      incumbent={"add.c": TILED}, gate=plan)
    assert result.correct, result.failure
    checked = sum(len(entry.checked_s) for entry in result.timed)
    assert (result.beside["decision"], result.beside["sweeps"]) == ("accept", MIN_SWEEPS), (
        result.beside, checked)
    assert checked >= MIN_CHECKED


def test_the_kernels_are_checked_more_often_only_where_configurations_are_few() -> None:
    assert check_chance(MIN_CHECKED, 1) > 3 * CHECK_CHANCE
    assert check_chance(MIN_CHECKED, 8) == CHECK_CHANCE  # mha: 8 by the first look
    assert check_chance(0, 1) == CHECK_CHANCE  # a first reading requires none


def test_a_kernel_that_drops_the_last_element_is_rejected_with_its_position(
    pipeline: Pipeline,
) -> None:
    result = evaluate(pipeline, DROPS_LAST, quick=True)
    assert result.failure is not None and result.failure.kind == "nonfinite", result.failure
    assert result.failure.message == "1 of 1500000 output values are NaN or Inf on drawn inputs"
    assert result.geomean == 0.0


def test_a_kernel_that_writes_an_input_is_rejected(pipeline: Pipeline) -> None:
    result = evaluate(pipeline, WRITES_B, quick=True)
    assert result.failure is not None and result.failure.kind == "inputs_modified"
    assert result.failure.message == "a or b changed during the launch"


def test_a_wrong_element_is_named_by_the_problem(pipeline: Pipeline) -> None:
    wrong = HONEST.replace("out[i] = a[i] + b[i];", "out[i] = a[i] + b[i] + (i == 41);")
    result = evaluate(pipeline, wrong, quick=True)
    assert result.failure is not None and result.failure.kind == "incorrect", result.failure
    assert result.failure.message.startswith("element 41: relative error"), result.failure


def test_the_baseline_is_a_torch_callable_on_the_launch_inputs() -> None:
    call = NUMERICS.baselines["torch-add"](vector(8))
    call.stage(InputSet({"a": torch.ones(8), "b": torch.ones(8)}))
    assert torch.equal(call.run(), torch.full((8,), 2.0))
